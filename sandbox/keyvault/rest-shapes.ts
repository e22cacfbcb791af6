/**
 * The JSON bodies Key Vault returns, field for field as the SDK's generated deserializers read
 * them (`x5t`, `cer`, `key_ops`, `key_props`, …). Timestamps are epoch seconds.
 */
import { createHash } from "node:crypto";
import {
  isPendingCertificate,
  type AnyCertificateVersion,
  type Attributes,
  type KeyVersion,
  type PendingCertificateVersion,
  type SecretVersion,
  type VaultState,
} from "./vault-state.js";

/** What a soft-delete-enabled vault reports (the default for new vaults). */
const RECOVERY = { recoveryLevel: "Recoverable+Purgeable", recoverableDays: 90 } as const;

function attributesJson(attributes: Attributes): Record<string, unknown> {
  return {
    enabled: attributes.enabled,
    ...(attributes.notBefore !== undefined ? { nbf: attributes.notBefore } : {}),
    ...(attributes.expires !== undefined ? { exp: attributes.expires } : {}),
    created: attributes.created,
    updated: attributes.updated,
    ...RECOVERY,
  };
}

export function secretBundle(vault: VaultState, secret: SecretVersion): Record<string, unknown> {
  return {
    value: secret.value,
    ...secretItemFields(vault, secret, secret.version),
    ...(secret.keyId ? { kid: secret.keyId } : {}),
  };
}

/** List entries never carry the value. `version` is absent in the list of secrets (latest only). */
export function secretItem(vault: VaultState, secret: SecretVersion, version: string | undefined): Record<string, unknown> {
  return secretItemFields(vault, secret, version);
}

function secretItemFields(vault: VaultState, secret: SecretVersion, version: string | undefined): Record<string, unknown> {
  return {
    id: vault.id("secrets", secret.name, version),
    ...(secret.contentType !== undefined ? { contentType: secret.contentType } : {}),
    attributes: attributesJson(secret.attributes),
    ...(secret.tags !== undefined ? { tags: secret.tags } : {}),
    ...(secret.managed ? { managed: true } : {}),
  };
}

export function keyBundle(vault: VaultState, key: KeyVersion): Record<string, unknown> {
  const jwk = key.publicKey.export({ format: "jwk" });
  return {
    key: {
      kid: vault.id("keys", key.name, key.version),
      kty: "RSA",
      key_ops: key.keyOps,
      n: jwk.n,
      e: jwk.e,
    },
    attributes: { ...attributesJson(key.attributes), exportable: false },
    ...(key.tags !== undefined ? { tags: key.tags } : {}),
    ...(key.managed ? { managed: true } : {}),
  };
}

export function certificateBundle(
  vault: VaultState,
  certificate: AnyCertificateVersion,
  options: { withPolicy: boolean },
): Record<string, unknown> {
  if (isPendingCertificate(certificate)) return pendingCertificateBundle(vault, certificate, options);
  const { name, version } = certificate;
  return {
    id: vault.id("certificates", name, version),
    kid: vault.id("keys", name, version),
    sid: vault.id("secrets", name, version),
    x5t: createHash("sha1").update(certificate.der).digest("base64url"),
    cer: certificate.der.toString("base64"),
    contentType: certificate.secretContentType,
    attributes: attributesJson(certificate.attributes),
    ...(certificate.tags !== undefined ? { tags: certificate.tags } : {}),
    ...(options.withPolicy ? { policy: certificatePolicy(vault, certificate) } : {}),
  };
}

/**
 * A version still waiting for its merge, as Key Vault shows it (recorded in the Azure SDK's test
 * recordings): disabled, no kid/sid/x5t/cer, and a link to the pending operation.
 */
function pendingCertificateBundle(
  vault: VaultState,
  certificate: PendingCertificateVersion,
  options: { withPolicy: boolean },
): Record<string, unknown> {
  return {
    id: vault.id("certificates", certificate.name, certificate.version),
    attributes: attributesJson(certificate.attributes),
    ...(certificate.tags !== undefined ? { tags: certificate.tags } : {}),
    ...(options.withPolicy ? { policy: certificatePolicy(vault, certificate) } : {}),
    pending: { id: `${vault.id("certificates", certificate.name)}/pending` },
  };
}

/** The policy Key Vault records for an imported certificate (issuer "Unknown", email before expiry). */
export function certificatePolicy(vault: VaultState, certificate: AnyCertificateVersion): Record<string, unknown> {
  if (isPendingCertificate(certificate)) {
    return { id: `${vault.id("certificates", certificate.name)}/policy`, ...certificate.policy };
  }
  const x509 = certificate.x509;
  const keyBits = x509.publicKey.asymmetricKeyDetails?.modulusLength;
  const validityMonths = Math.max(1, Math.round((Date.parse(x509.validTo) - Date.parse(x509.validFrom)) / (30.44 * 86_400_000)));
  return {
    id: `${vault.id("certificates", certificate.name)}/policy`,
    key_props: { exportable: certificate.exportable, kty: "RSA", ...(keyBits ? { key_size: keyBits } : {}), reuse_key: false },
    secret_props: { contentType: certificate.secretContentType },
    x509_props: {
      subject: x509.subject.split("\n").reverse().join(", "),
      ...(x509.keyUsage ? { ekus: x509.keyUsage } : {}),
      key_usage: ["digitalSignature", "keyEncipherment"],
      validity_months: validityMonths,
      basic_constraints: { ca: x509.ca },
    },
    lifetime_actions: [{ trigger: { lifetime_percentage: 80 }, action: { action_type: "EmailContacts" } }],
    issuer: { name: "Unknown" },
    attributes: { enabled: true, created: certificate.attributes.created, updated: certificate.attributes.updated },
  };
}
