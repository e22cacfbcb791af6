/**
 * Key Vault's Azure RBAC data plane: role assignments (principal, role definition, scope) and the
 * data action each request needs on the object it touches. A request is allowed when one of the
 * caller's assignments, at the vault or at that very object, has a role whose data actions cover
 * the action; otherwise Key Vault answers 403 Forbidden / ForbiddenByRbac, whether or not the
 * object exists. Lists need their action on the vault itself. No deny assignments, no conditions.
 */
import { VaultError } from "./vault-error.js";

export interface RoleDefinition {
  id: string;
  name: string;
  dataActions: readonly string[];
}

/**
 * The built-in Key Vault data-plane roles, with the data actions Azure defines for them
 * (learn.microsoft.com/azure/role-based-access-control/built-in-roles/security).
 */
export const BUILT_IN_KEY_VAULT_ROLES: readonly RoleDefinition[] = [
  { id: "00482a5a-887f-4fb3-b363-3b7fe8e74483", name: "Key Vault Administrator", dataActions: ["Microsoft.KeyVault/vaults/*"] },
  {
    id: "a4417e6f-fecd-4de8-b567-7b0420556985",
    name: "Key Vault Certificates Officer",
    dataActions: [
      "Microsoft.KeyVault/vaults/certificatecas/*",
      "Microsoft.KeyVault/vaults/certificates/*",
      "Microsoft.KeyVault/vaults/certificatecontacts/write",
    ],
  },
  {
    id: "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba",
    name: "Key Vault Certificate User",
    dataActions: [
      "Microsoft.KeyVault/vaults/certificates/read",
      "Microsoft.KeyVault/vaults/secrets/getSecret/action",
      "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
      "Microsoft.KeyVault/vaults/keys/read",
    ],
  },
  {
    id: "14b46e9e-c2b7-41b4-b07b-48a6ebf60603",
    name: "Key Vault Crypto Officer",
    dataActions: ["Microsoft.KeyVault/vaults/keys/*", "Microsoft.KeyVault/vaults/keyrotationpolicies/*"],
  },
  {
    id: "12338af0-0e69-4776-bea7-57ae8d297424",
    name: "Key Vault Crypto User",
    dataActions: [
      "Microsoft.KeyVault/vaults/keys/read",
      "Microsoft.KeyVault/vaults/keys/update/action",
      "Microsoft.KeyVault/vaults/keys/backup/action",
      "Microsoft.KeyVault/vaults/keys/encrypt/action",
      "Microsoft.KeyVault/vaults/keys/decrypt/action",
      "Microsoft.KeyVault/vaults/keys/wrap/action",
      "Microsoft.KeyVault/vaults/keys/unwrap/action",
      "Microsoft.KeyVault/vaults/keys/sign/action",
      "Microsoft.KeyVault/vaults/keys/verify/action",
    ],
  },
  {
    id: "e147488a-f6f5-4113-8e2d-b22465e65bf6",
    name: "Key Vault Crypto Service Encryption User",
    dataActions: [
      "Microsoft.KeyVault/vaults/keys/read",
      "Microsoft.KeyVault/vaults/keys/wrap/action",
      "Microsoft.KeyVault/vaults/keys/unwrap/action",
    ],
  },
  {
    id: "08bbd89e-9f13-488c-ac41-acfcb10c90ab",
    name: "Key Vault Crypto Service Release User",
    dataActions: ["Microsoft.KeyVault/vaults/keys/release/action"],
  },
  {
    id: "21090545-7ca7-4776-b22c-e363652d74d2",
    name: "Key Vault Reader",
    dataActions: ["Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/secrets/readMetadata/action"],
  },
  { id: "b86a8fe4-44ce-4948-aee5-eccb2c155cd7", name: "Key Vault Secrets Officer", dataActions: ["Microsoft.KeyVault/vaults/secrets/*"] },
  {
    id: "4633458b-17de-408a-b874-0445c86b69e6",
    name: "Key Vault Secrets User",
    dataActions: ["Microsoft.KeyVault/vaults/secrets/getSecret/action", "Microsoft.KeyVault/vaults/secrets/readMetadata/action"],
  },
];

/** The data action a request needs and the scope it is judged on (`/` = the vault). */
export interface DataActionRequest {
  dataAction: string;
  /** `/`, or `/{secrets|keys|certificates}/{name}`. */
  scope: string;
}

export interface RoleAssignmentInput {
  /** The principal's object id: what its tokens carry in `oid`. */
  principalId: string;
  /** A built-in role's definition id (GUID) or name ("Key Vault Secrets User"). */
  role: string;
  /** `/` for the whole vault, or `/secrets/{name}`, `/keys/{name}`, `/certificates/{name}`. */
  scope: string;
}

export interface RoleAssignment {
  principalId: string;
  roleDefinitionId: string;
  roleName: string;
  scope: string;
}

/** Who is calling, as Key Vault names the caller in its refusals. */
export interface VaultCaller {
  objectId: string;
  appId?: string;
  issuer?: string;
}

const SCOPE = /^\/(?:(secrets|keys|certificates)\/([0-9A-Za-z-]{1,127}))?$/;

export class VaultRbac {
  readonly #assignments: RoleAssignment[] = [];

  assign(input: RoleAssignmentInput): RoleAssignment {
    const role = findRole(input.role);
    if (role === undefined) throw new Error(`Unknown Key Vault role "${input.role}": use a built-in role's name or definition id`);
    if (!SCOPE.test(input.scope))
      throw new Error(`Role assignment scope "${input.scope}" must be "/" or "/{secrets|keys|certificates}/{name}"`);
    const assignment = { principalId: input.principalId.toLowerCase(), roleDefinitionId: role.id, roleName: role.name, scope: input.scope };
    this.#assignments.push(assignment);
    return { ...assignment };
  }

  list(): RoleAssignment[] {
    return this.#assignments.map((assignment) => ({ ...assignment }));
  }

  permits(principalId: string, request: DataActionRequest): boolean {
    const principal = principalId.toLowerCase();
    return this.#assignments.some(
      (assignment) =>
        assignment.principalId === principal &&
        covers(assignment.scope, request.scope) &&
        findRole(assignment.roleDefinitionId)!.dataActions.some((action) => actionMatches(action, request.dataAction)),
    );
  }
}

export function findRole(idOrName: string): RoleDefinition | undefined {
  const wanted = idOrName.toLowerCase();
  return BUILT_IN_KEY_VAULT_ROLES.find((role) => role.id === wanted || role.name.toLowerCase() === wanted);
}

/** A vault-wide assignment covers every object; an object's covers that object (names are case-insensitive). */
function covers(assignmentScope: string, requestScope: string): boolean {
  return assignmentScope === "/" || assignmentScope.toLowerCase() === requestScope.toLowerCase();
}

/** Azure's action wildcards: `*` stands for any run of characters; comparison ignores case. */
export function actionMatches(pattern: string, action: string): boolean {
  const regex = new RegExp(`^${pattern.split("*").map(escapeRegExp).join(".*")}$`, "i");
  return regex.test(action);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/**
 * Key Vault's refusal, worded as the service words it (the `Resource` line names the sandbox
 * vault under a made-up subscription and resource group).
 */
export function forbiddenByRbac(caller: VaultCaller, request: DataActionRequest, vaultName: string): VaultError {
  const resource = `/subscriptions/6c1f4d2e-8a3b-4c5d-9e7f-0a1b2c3d4e5f/resourcegroups/rg-sandbox/providers/microsoft.keyvault/vaults/${vaultName}${request.scope === "/" ? "" : request.scope.toLowerCase()}`;
  const callerLine = [
    caller.appId ? `appid=${caller.appId}` : undefined,
    `oid=${caller.objectId}`,
    caller.issuer ? `iss=${caller.issuer}` : undefined,
  ]
    .filter(Boolean)
    .join(";");
  const message = [
    "Caller is not authorized to perform action on resource.",
    "If role assignments, deny assignments or role definitions were changed recently, please observe propagation time.",
    `Caller: ${callerLine}`,
    `Action: '${request.dataAction}'`,
    `Resource: '${resource}'`,
    "Assignment: (not found)",
    "DenyAssignmentId: null",
    "DecisionReason: null ",
    `Vault: ${vaultName};location=norwayeast`,
    "",
  ].join("\r\n");
  return new VaultError(403, "Forbidden", message, { innerCode: "ForbiddenByRbac" });
}
