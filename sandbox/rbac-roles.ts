/**
 * infra/rbac-roles.json, the one list of which identity gets which Key Vault role on which object:
 * rbac.bicep assigns it in Azure, and the sandbox gives its Key Vault stand-in exactly the same
 * assignments, so a broker code path that needs a right infra does not grant fails here too.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BrokerConfig } from "../src/config/domain.js";
import type { KeyVaultStandIn } from "./keyvault/index.js";

export type RbacPrincipal = "broker" | "tokenReader" | "deployer";
export type RbacObject = "signingCertificate" | "signingKey" | "tokenSecret" | "vault";

export interface RbacRoles {
  roleDefinitionIds: Record<string, string>;
  keyVault: Partial<Record<RbacPrincipal, Partial<Record<RbacObject, string>>>>;
}

/** Reads infra/rbac-roles.json from the repository (found upwards from here: works from sandbox/ and dist/sandbox/). */
export function loadRbacRoles(): RbacRoles {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, "infra", "rbac-roles.json");
    if (existsSync(candidate)) return JSON.parse(readFileSync(candidate, "utf8")) as RbacRoles;
    const parent = dirname(dir);
    if (parent === dir) throw new Error("infra/rbac-roles.json not found above sandbox/");
    dir = parent;
  }
}

/** The Key Vault objects of each kind a broker configuration touches, named as main.bicep derives them. */
export function keyVaultObjects(config: BrokerConfig): Record<RbacObject, string[]> {
  const certificates = new Set<string>();
  const keys = new Set<string>();
  for (const profile of config.profiles) {
    if (profile.signing.kind === "certificate") {
      certificates.add(profile.signing.certificateName);
      keys.add(profile.signing.certificateName); // a certificate's key has its name
    } else {
      keys.add(profile.signing.keyName);
    }
  }
  return {
    signingCertificate: [...certificates].map((name) => `/certificates/${name}`),
    signingKey: [...keys].map((name) => `/keys/${name}`),
    tokenSecret: config.profiles.map((profile) => `/secrets/${profile.secretName}`),
    vault: ["/"],
  };
}

/**
 * Assigns `principal`'s roles from rbac-roles.json on every object of each kind it names, as
 * rbac.bicep does. Returns the assignments made, e.g. for env.json or a test.
 */
export function assignKeyVaultRoles(
  keyVault: KeyVaultStandIn,
  roles: RbacRoles,
  principal: RbacPrincipal,
  principalId: string,
  objects: Record<RbacObject, string[]>,
): { role: string; scope: string }[] {
  const made: { role: string; scope: string }[] = [];
  for (const [object, roleKey] of Object.entries(roles.keyVault[principal] ?? {}) as [RbacObject, string][]) {
    const roleId = roles.roleDefinitionIds[roleKey];
    if (roleId === undefined)
      throw new Error(`infra/rbac-roles.json: keyVault.${principal}.${object} names "${roleKey}", which roleDefinitionIds lacks`);
    const scopes = objects[object];
    if (scopes === undefined)
      throw new Error(`infra/rbac-roles.json: keyVault.${principal} names object kind "${object}", which the sandbox does not know`);
    for (const scope of scopes) {
      const assignment = keyVault.assignRole({ principalId, role: roleId, scope });
      made.push({ role: assignment.roleName, scope });
    }
  }
  return made;
}
