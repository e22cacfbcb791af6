/**
 * infra/rbac-roles.json is the one source of Key Vault roles: rbac.bicep must take every Key Vault
 * role from it (no role id written into a Key Vault assignment by hand), every entry in it must be
 * assigned by rbac.bicep on the kind of object and to the principal it names, and its role ids must
 * be the built-in roles the sandbox's Key Vault stand-in enforces, with the same data actions the
 * infra contract check uses. So the sandbox's assignments (read from the same file) are infra's.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { BUILT_IN_KEY_VAULT_ROLES } from "../../sandbox/keyvault/index.js";
import { ROLE_DATA_ACTIONS, roleAssignments, type RbacRoles } from "./contract.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const read = (path: string) => readFileSync(join(root, path), "utf8");

/** How rbac.bicep names each principal and which existing-resource loops hold each object kind. */
const PRINCIPALS: Record<string, string> = {
  broker: "identityPrincipalId",
  tokenReader: "reader.principalId",
  deployer: "deployerPrincipalId",
};
const OBJECT_TYPES: Record<string, string> = {
  signingCertificate: "Microsoft.KeyVault/vaults/certificates",
  signingKey: "Microsoft.KeyVault/vaults/keys",
  tokenSecret: "Microsoft.KeyVault/vaults/secrets",
  vault: "Microsoft.KeyVault/vaults",
};

function checkRbacRolesSource(rbacBicep: string, rbacRolesJson: string): string[] {
  const problems: string[] = [];
  const roles = JSON.parse(rbacRolesJson) as RbacRoles;
  const assignments = roleAssignments(rbacBicep, rbacRolesJson);
  if (!/var\s+rbacRoles\s*=\s*loadJsonContent\('\.\.\/rbac-roles\.json'\)/.test(rbacBicep)) {
    problems.push("rbac.bicep does not load ../rbac-roles.json");
  }
  for (const a of assignments) {
    const keyVaultScope = a.scope !== undefined && /^Microsoft\.KeyVault\/vaults(\/|@)/.test(a.scope.type);
    if (keyVaultScope && a.fromJson === undefined) {
      problems.push(
        `rbac.bicep ${a.symbol}: a Key Vault role not taken from rbac-roles.json (use roleIds[keyVaultRoles.<principal>.<object>])`,
      );
    }
    if (a.fromJson === undefined) continue;
    const { principal, object } = a.fromJson;
    if (a.principal !== PRINCIPALS[principal])
      problems.push(
        `rbac.bicep ${a.symbol}: assigns keyVault.${principal}.${object} to ${a.principal}, not ${PRINCIPALS[principal] ?? "a known principal"}`,
      );
    if (a.scope?.type.split("@")[0] !== OBJECT_TYPES[object])
      problems.push(`rbac.bicep ${a.symbol}: assigns keyVault.${principal}.${object} on ${a.scope?.type ?? a.scopeSymbol}`);
  }
  for (const [principal, objects] of Object.entries(roles.keyVault)) {
    for (const [object, role] of Object.entries(objects)) {
      if (!assignments.some((a) => a.fromJson?.principal === principal && a.fromJson.object === object)) {
        problems.push(`rbac-roles.json keyVault.${principal}.${object} (${role}) is assigned by no resource in rbac.bicep`);
      }
      const id = roles.roleDefinitionIds[role];
      const builtIn = BUILT_IN_KEY_VAULT_ROLES.find((r) => r.id === id);
      if (builtIn === undefined)
        problems.push(
          `rbac-roles.json keyVault.${principal}.${object}: ${role} (${id}) is not a built-in Key Vault role the sandbox knows`,
        );
    }
  }
  return problems;
}

describe("infra/rbac-roles.json, the one source of Key Vault roles", () => {
  const bicep = read("infra/app/rbac.bicep");
  const json = read("infra/rbac-roles.json");

  it("holds for the shipped rbac.bicep and rbac-roles.json", () => {
    expect(checkRbacRolesSource(bicep, json)).toEqual([]);
  });

  it("reports a Key Vault role written into rbac.bicep by hand", () => {
    const handWritten = bicep.replaceAll("roleIds[keyVaultRoles.broker.signingKey]", "roleIds.keyVaultCryptoUser");
    expect(handWritten).not.toBe(bicep);
    expect(checkRbacRolesSource(handWritten, json)).toEqual([
      "rbac.bicep cryptoUser: a Key Vault role not taken from rbac-roles.json (use roleIds[keyVaultRoles.<principal>.<object>])",
      "rbac-roles.json keyVault.broker.signingKey (keyVaultCryptoUser) is assigned by no resource in rbac.bicep",
    ]);
  });

  it("reports an entry that rbac.bicep does not assign (the sandbox would grant more than Azure)", () => {
    const roles = JSON.parse(json) as RbacRoles;
    roles.keyVault["broker"]!["vault"] = "keyVaultReader";
    expect(checkRbacRolesSource(bicep, JSON.stringify(roles))).toEqual([
      "rbac-roles.json keyVault.broker.vault (keyVaultReader) is assigned by no resource in rbac.bicep",
    ]);
  });

  it("reports an entry assigned on the wrong kind of object", () => {
    const swapped = bicep.replace("scope: signingKeys[i]", "scope: signingCertificates[i]");
    expect(checkRbacRolesSource(swapped, json)).toEqual([
      "rbac.bicep cryptoUser: assigns keyVault.broker.signingKey on Microsoft.KeyVault/vaults/certificates@2023-07-01",
    ]);
  });

  it("names only roles whose data actions the sandbox knows", () => {
    const roles = JSON.parse(read("infra/rbac-roles.json")) as RbacRoles;
    for (const roleKey of new Set(Object.values(roles.keyVault).flatMap((objects) => Object.values(objects ?? {})))) {
      const id = roles.roleDefinitionIds[roleKey];
      expect(id && ROLE_DATA_ACTIONS[id], roleKey).toBeTruthy();
    }
  });
});
