/**
 * The in-memory vault: secrets, keys and certificates with their versions, in creation order.
 * Pure state and rules (names, versions, enabled/nbf/exp); no HTTP. Like Key Vault, names are
 * case-insensitive and a certificate owns a key and a secret of the same name and version.
 */
import { createPublicKey, randomBytes, X509Certificate, type KeyObject } from "node:crypto";
import { badParameter, notFound, operationNotAllowed, VaultError } from "./vault-error.js";

/** Seconds since the epoch, as Key Vault's attribute timestamps are. */
export type EpochSeconds = number;

export interface Attributes {
  enabled: boolean;
  notBefore?: EpochSeconds;
  expires?: EpochSeconds;
  created: EpochSeconds;
  updated: EpochSeconds;
}

export interface SecretVersion {
  name: string;
  version: string;
  value: string;
  contentType?: string;
  tags?: Record<string, string>;
  attributes: Attributes;
  /** Set for the secret backing a certificate: Key Vault marks it managed and links its key. */
  managed?: boolean;
  keyId?: string;
}

export interface KeyVersion {
  name: string;
  version: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  keyOps: string[];
  tags?: Record<string, string>;
  attributes: Attributes;
  managed?: boolean;
}

export interface CertificateVersion {
  kind?: "issued";
  name: string;
  version: string;
  der: Buffer;
  chainDer: Buffer[];
  x509: X509Certificate;
  exportable: boolean;
  secretContentType: string;
  tags?: Record<string, string>;
  attributes: Attributes;
}

/**
 * A version created with issuer "Unknown": its key exists (made here, never exported), its
 * certificate does not yet. Key Vault shows it disabled, without cer/kid/sid, until the merge.
 */
export interface PendingCertificateVersion {
  kind: "pending";
  name: string;
  version: string;
  /** The policy as requested (REST field names), echoed by GET …/policy and the bundle. */
  policy: Record<string, unknown>;
  csrDer: Buffer;
  exportable: boolean;
  secretContentType: string;
  tags?: Record<string, string>;
  attributes: Attributes;
}

export type AnyCertificateVersion = CertificateVersion | PendingCertificateVersion;

export function isPendingCertificate(certificate: AnyCertificateVersion): certificate is PendingCertificateVersion {
  return certificate.kind === "pending";
}

/** What a certificate key may do; Key Vault derives this from key usage digitalSignature+keyEncipherment. */
const RSA_KEY_OPS = ["sign", "verify", "wrapKey", "unwrapKey", "encrypt", "decrypt"];
const NAME_PATTERN = /^[0-9a-zA-Z-]{1,127}$/;

export function newVersionId(): string {
  return randomBytes(16).toString("hex");
}

export function assertValidName(name: string): void {
  if (!NAME_PATTERN.test(name)) {
    throw badParameter(`The request URI contains an invalid name: ${name.slice(0, 130)}`);
  }
}

class VersionedCollection<T extends { name: string; version: string }> {
  private readonly byName = new Map<string, T[]>();

  add(item: T): void {
    const key = item.name.toLowerCase();
    const versions = this.byName.get(key) ?? [];
    versions.push(item);
    this.byName.set(key, versions);
  }

  /** All versions, oldest first; empty when the name is unknown. */
  versions(name: string): T[] {
    return this.byName.get(name.toLowerCase()) ?? [];
  }

  /** The given version, or the latest when `version` is empty. */
  find(name: string, version: string | undefined): T | undefined {
    const versions = this.versions(name);
    if (!version) return versions.at(-1);
    return versions.find((v) => v.version === version.toLowerCase());
  }

  /** Replaces the version with the same name and version id (a pending certificate merged). */
  replace(item: T): void {
    const versions = this.versions(item.name);
    const index = versions.findIndex((v) => v.version === item.version);
    if (index < 0) throw new Error(`no version ${item.version} of ${item.name}`);
    versions[index] = item;
  }

  /** Removes one version; the name disappears with its last version. */
  remove(name: string, version: string): void {
    const key = name.toLowerCase();
    const remaining = this.versions(name).filter((v) => v.version !== version);
    if (remaining.length === 0) this.byName.delete(key);
    else this.byName.set(key, remaining);
  }

  has(name: string): boolean {
    return this.versions(name).length > 0;
  }

  names(): string[] {
    return [...this.byName.values()].map((versions) => versions[0]!.name);
  }
}

export interface SecretInput {
  value: string;
  contentType?: string;
  tags?: Record<string, string>;
  enabled?: boolean;
  notBefore?: EpochSeconds;
  expires?: EpochSeconds;
}

export interface CertificateInput {
  privateKey: KeyObject;
  certificateDer: Buffer;
  chainDer?: Buffer[];
  exportable?: boolean;
  tags?: Record<string, string>;
}

export class VaultState {
  readonly secrets = new VersionedCollection<SecretVersion>();
  readonly keys = new VersionedCollection<KeyVersion>();
  readonly certificates = new VersionedCollection<AnyCertificateVersion>();

  constructor(
    private readonly nowMs: () => number,
    /** Builds `https://host:port/{collection}/{name}/{version}` ids. */
    readonly vaultUrl: string,
  ) {}

  nowSeconds(): EpochSeconds {
    return Math.floor(this.nowMs() / 1000);
  }

  id(collection: "secrets" | "keys" | "certificates", name: string, version?: string): string {
    return `${this.vaultUrl}/${collection}/${name}${version ? `/${version}` : ""}`;
  }

  setSecret(name: string, input: SecretInput): SecretVersion {
    assertValidName(name);
    if (this.certificates.has(name)) {
      // Unverified against the real service: the certificate owns this secret name.
      throw new VaultError(409, "Conflict", `Secret ${name} is managed by a certificate and cannot be set.`);
    }
    const now = this.nowSeconds();
    const version: SecretVersion = {
      name: this.secrets.versions(name)[0]?.name ?? name,
      version: newVersionId(),
      value: input.value,
      ...(input.contentType !== undefined ? { contentType: input.contentType } : {}),
      ...(input.tags !== undefined ? { tags: { ...input.tags } } : {}),
      attributes: {
        enabled: input.enabled ?? true,
        ...(input.notBefore !== undefined ? { notBefore: input.notBefore } : {}),
        ...(input.expires !== undefined ? { expires: input.expires } : {}),
        created: now,
        updated: now,
      },
    };
    this.secrets.add(version);
    return version;
  }

  /**
   * Key Vault returns expired and not-yet-valid secrets (nbf/exp are informational for secrets),
   * but refuses a disabled one with 403 Forbidden / SecretDisabled.
   */
  getSecret(name: string, version: string | undefined): SecretVersion {
    const found = this.secrets.find(name, version);
    if (!found) throw notFound("secret", version ? `${name}/${version}` : name);
    if (!found.attributes.enabled) throw operationNotAllowed("get", "disabled", "secret");
    return found;
  }

  updateSecret(name: string, version: string, patch: Partial<Omit<SecretInput, "value">>): SecretVersion {
    const found = this.secrets.find(name, version);
    if (!found || !version) throw notFound("secret", `${name}/${version}`);
    if (patch.contentType !== undefined) found.contentType = patch.contentType;
    if (patch.tags !== undefined) found.tags = { ...patch.tags };
    if (patch.enabled !== undefined) found.attributes.enabled = patch.enabled;
    if (patch.notBefore !== undefined) found.attributes.notBefore = patch.notBefore;
    if (patch.expires !== undefined) found.attributes.expires = patch.expires;
    found.attributes.updated = this.nowSeconds();
    return found;
  }

  importKey(
    name: string,
    privateKey: KeyObject,
    options: { version?: string; tags?: Record<string, string>; notBefore?: EpochSeconds; expires?: EpochSeconds; managed?: boolean } = {},
  ): KeyVersion {
    assertValidName(name);
    if (privateKey.type !== "private" || privateKey.asymmetricKeyType !== "rsa") {
      throw new TypeError("importKey needs an RSA private key");
    }
    const now = this.nowSeconds();
    const key: KeyVersion = {
      name: this.keys.versions(name)[0]?.name ?? name,
      version: options.version ?? newVersionId(),
      privateKey,
      publicKey: createPublicKey(privateKey),
      keyOps: [...RSA_KEY_OPS],
      ...(options.tags !== undefined ? { tags: { ...options.tags } } : {}),
      attributes: {
        enabled: true,
        ...(options.notBefore !== undefined ? { notBefore: options.notBefore } : {}),
        ...(options.expires !== undefined ? { expires: options.expires } : {}),
        created: now,
        updated: now,
      },
      ...(options.managed ? { managed: true } : {}),
    };
    this.keys.add(key);
    return key;
  }

  getKey(name: string, version: string | undefined): KeyVersion {
    const found = this.keys.find(name, version);
    if (!found) throw notFound("key", version ? `${name}/${version}` : name);
    return found;
  }

  /** A key that may sign now: enabled and inside its nbf/exp window (on the injected clock). */
  usableKey(name: string, version: string | undefined, operation: string): KeyVersion {
    const key = this.getKey(name, version);
    const now = this.nowSeconds();
    if (!key.attributes.enabled) throw operationNotAllowed(operation, "disabled", "key");
    if (key.attributes.notBefore !== undefined && now < key.attributes.notBefore) {
      throw operationNotAllowed(operation, "not yet valid", "key");
    }
    if (key.attributes.expires !== undefined && now >= key.attributes.expires) {
      throw operationNotAllowed(operation, "expired", "key");
    }
    if (!key.keyOps.includes(operation)) {
      throw new VaultError(403, "Forbidden", `Operation ${operation} is not allowed by the key's key_ops.`);
    }
    return key;
  }

  /**
   * A certificate import (or renewal): new certificate, key and secret versions, all sharing one
   * version id, with nbf/exp taken from the certificate's validity as Key Vault does.
   */
  importCertificate(name: string, input: CertificateInput): CertificateVersion {
    assertValidName(name);
    if (!this.certificates.has(name) && (this.secrets.has(name) || this.keys.has(name))) {
      throw new VaultError(409, "Conflict", `A secret or key named ${name} exists and is not managed by a certificate.`);
    }
    const latest = this.certificates.versions(name).at(-1);
    if (latest && isPendingCertificate(latest)) {
      // Key Vault's answer while a pending request is inProgress (create-certificate-scenarios).
      throw new VaultError(
        409,
        "Forbidden",
        "A new key vault certificate can not be created or imported while a pending key vault certificate's status is inProgress.",
      );
    }
    const x509 = new X509Certificate(input.certificateDer);
    if (!x509.checkPrivateKey(input.privateKey)) {
      throw new TypeError("the private key does not belong to the certificate");
    }
    const notBefore = Math.floor(Date.parse(x509.validFrom) / 1000);
    const expires = Math.floor(Date.parse(x509.validTo) / 1000);
    const version = newVersionId();
    const displayName = this.certificates.versions(name)[0]?.name ?? name;
    const now = this.nowSeconds();
    const exportable = input.exportable ?? false;

    const key = this.importKey(displayName, input.privateKey, { version, notBefore, expires, managed: true });
    const certificate: CertificateVersion = {
      name: displayName,
      version,
      der: Buffer.from(input.certificateDer),
      chainDer: (input.chainDer ?? []).map((der) => Buffer.from(der)),
      x509,
      exportable,
      secretContentType: "application/x-pem-file",
      ...(input.tags !== undefined ? { tags: { ...input.tags } } : {}),
      attributes: { enabled: true, notBefore, expires, created: now, updated: now },
    };
    this.certificates.add(certificate);
    this.secrets.add({
      name: displayName,
      version,
      value: certificateSecretValue(certificate, exportable ? input.privateKey : undefined),
      contentType: certificate.secretContentType,
      ...(input.tags !== undefined ? { tags: { ...input.tags } } : {}),
      attributes: { enabled: true, notBefore, expires, created: now, updated: now },
      managed: true,
      keyId: this.id("keys", displayName, key.version),
    });
    return certificate;
  }

  getCertificate(name: string, version: string | undefined): AnyCertificateVersion {
    const found = this.certificates.find(name, version);
    if (!found) throw notFound("certificate", version ? `${name}/${version}` : name);
    return found;
  }
}

/**
 * The certificate's addressable secret as PEM: the chain, plus the private key only when the
 * key is exportable. A non-exportable certificate's private key never leaves the vault.
 */
export function certificateSecretValue(certificate: CertificateVersion, exportablePrivateKey: KeyObject | undefined): string {
  const pemBlocks = [certificate.der, ...certificate.chainDer].map(
    (der) => `-----BEGIN CERTIFICATE-----\n${der.toString("base64").replace(/.{1,64}/g, "$&\n")}-----END CERTIFICATE-----\n`,
  );
  const keyPem = exportablePrivateKey ? [exportablePrivateKey.export({ type: "pkcs8", format: "pem" }).toString()] : [];
  return [...keyPem, ...pemBlocks].join("");
}
