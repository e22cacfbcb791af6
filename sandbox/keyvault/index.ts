/** The Key Vault stand-in; see server.ts. */
export {
  startKeyVaultStandIn,
  DEFAULT_TENANT_ID,
  KEY_VAULT_RESOURCE,
  type KeyVaultStandIn,
  type KeyVaultStandInOptions,
  type ImportCertificateOptions,
  type ImportedCertificate,
  type SecretVersionSnapshot,
  type TokenVerdict,
} from "./server.js";
export {
  BUILT_IN_KEY_VAULT_ROLES,
  findRole,
  type RoleAssignment,
  type RoleAssignmentInput,
  type RoleDefinition,
  type VaultCaller,
} from "./rbac.js";
export type { Fault, FaultAction, FaultHandle } from "./faults.js";
export { COUNTER_NAMES, OPERATION_KINDS, type CounterName, type Counters, type OperationKind } from "./operations.js";
export { DIGEST_SIGNING_ALGORITHMS, type DigestSigningAlgorithm } from "./digest-signing.js";
