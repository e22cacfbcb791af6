/**
 * Key Vault adapter for certificates whose key is born in the vault: create with issuer
 * "Unknown" (Key Vault makes the key and a CSR), read the pending operation, merge the issued
 * chain, delete the operation. Only the Azure SDK calls live here; the decisions are in the
 * pure modules next to it.
 */
import { CertificateClient, type CertificateOperation } from "@azure/keyvault-certificates";
import { KeyClient } from "@azure/keyvault-keys";
import { BrokerError, ErrorCode } from "../errors.js";
import type { KeyVaultConnection } from "../keyvault/connection.js";
import { latestIssuedCertificate } from "../keyvault/issued-certificate.js";
import { keyVaultError } from "../keyvault/signer.js";
import type { EnterpriseCertificatePolicy } from "./policy.js";

export interface PendingOperation {
  status: string;
  statusDetails: string | undefined;
  requestId: string | undefined;
  cancellationRequested: boolean;
  issuerName: string | undefined;
  /** DER of the CSR. */
  csrDer: Buffer | undefined;
  error: { code: string | undefined; message: string | undefined } | undefined;
}

export interface MergedCertificate {
  version: string | undefined;
  /** What the merged certificate's policy says: false is the only acceptable answer. */
  policyExportable: boolean | undefined;
  /** The key's own attribute, when the caller may read keys (Certificates Officer may not). */
  keyExportable: boolean | undefined | "unreadable";
  /** Whether the key as read carried private material (it never may). */
  keyHasPrivateParts: boolean;
}

function client(connection: KeyVaultConnection): CertificateClient {
  return new CertificateClient(connection.vaultUrl, connection.credential, connection.clientOptions ?? {});
}

export async function createPendingCertificate(
  connection: KeyVaultConnection,
  name: string,
  policy: EnterpriseCertificatePolicy,
): Promise<PendingOperation> {
  try {
    // Started, never polled to the end: an "Unknown" issuer stays inProgress until the merge,
    // which can be weeks away.
    await client(connection).beginCreateCertificate(name, { ...policy, lifetimeActions: [...policy.lifetimeActions] });
  } catch (error) {
    // 409 (code "Forbidden", oddly): a pending request is in progress. A 403 Forbidden is RBAC.
    if (restStatus(error) === 409) {
      throw new BrokerError(
        ErrorCode.Certificate,
        `Key Vault certificate "${name}" already has a pending request: merge its certificate (certificate merge) or drop it (certificate cancel) first`,
        { cause: error },
      );
    }
    throw keyVaultError(`Key Vault could not create the pending certificate "${name}"`, error);
  }
  const operation = await getPendingOperation(connection, name);
  if (!operation) throw new BrokerError(ErrorCode.KeyVault, `Key Vault created "${name}" but shows no pending operation`);
  return operation;
}

/** The pending operation, or undefined when there is none. */
export async function getPendingOperation(connection: KeyVaultConnection, name: string): Promise<PendingOperation | undefined> {
  try {
    const poller = await client(connection).getCertificateOperation(name);
    const operation = poller.getOperationState().certificateOperation;
    return operation ? toPendingOperation(operation) : undefined;
  } catch (error) {
    if (restStatus(error) === 404) return undefined;
    throw keyVaultError(`Key Vault could not read the pending operation of "${name}"`, error);
  }
}

/** DER of the newest version that has a certificate (what the broker signs with now), if any. */
export async function currentIssuedCertificate(connection: KeyVaultConnection, name: string): Promise<Buffer | undefined> {
  try {
    const certificate = await latestIssuedCertificate(client(connection), name);
    return certificate.cer ? Buffer.from(certificate.cer) : undefined;
  } catch {
    return undefined; // only used for a warning
  }
}

/** Whether the certificate's policy lets the key out (checked before a merge: it must not). */
export async function policyExportable(connection: KeyVaultConnection, name: string): Promise<boolean | undefined> {
  try {
    return (await client(connection).getCertificatePolicy(name)).exportable;
  } catch (error) {
    throw keyVaultError(`Key Vault could not read the policy of "${name}"`, error);
  }
}

export async function mergeIssuedCertificate(
  connection: KeyVaultConnection,
  name: string,
  chainDer: readonly Buffer[],
): Promise<MergedCertificate> {
  let merged;
  try {
    merged = await client(connection).mergeCertificate(
      name,
      chainDer.map((der) => new Uint8Array(der)),
    );
  } catch (error) {
    throw keyVaultError(`Key Vault refused to merge the certificate into "${name}"`, error);
  }
  const version = merged.properties.version;
  let keyExportable: MergedCertificate["keyExportable"] = "unreadable";
  let keyHasPrivateParts = false;
  if (merged.keyId) {
    try {
      const key = await new KeyClient(connection.vaultUrl, connection.credential, connection.clientOptions ?? {}).getKey(
        name,
        version ? { version } : {},
      );
      keyExportable = key.properties.exportable;
      const jwk = key.key as Record<string, unknown> | undefined;
      keyHasPrivateParts = ["d", "p", "q", "dp", "dq", "qi"].some((part) => jwk?.[part] !== undefined);
    } catch {
      // Certificates Officer cannot read keys; the policy answer below is the one that counts.
    }
  }
  return { version, policyExportable: merged.policy?.exportable, keyExportable, keyHasPrivateParts };
}

/** Drops the pending operation (and with it the pending version and its key). */
export async function deletePendingOperation(connection: KeyVaultConnection, name: string): Promise<PendingOperation | undefined> {
  try {
    return toPendingOperation(await client(connection).deleteCertificateOperation(name));
  } catch (error) {
    if (restStatus(error) === 404) return undefined;
    throw keyVaultError(`Key Vault could not delete the pending operation of "${name}"`, error);
  }
}

function toPendingOperation(operation: CertificateOperation): PendingOperation {
  return {
    status: operation.status ?? "unknown",
    statusDetails: operation.statusDetails,
    requestId: operation.requestId,
    cancellationRequested: operation.cancellationRequested ?? false,
    issuerName: operation.issuerName,
    csrDer: operation.csr ? Buffer.from(operation.csr) : undefined,
    error: operation.error ? { code: operation.error.code, message: operation.error.message } : undefined,
  };
}

function restStatus(error: unknown): number | undefined {
  return (error as { statusCode?: number } | undefined)?.statusCode;
}
