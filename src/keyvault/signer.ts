/**
 * Key Vault signing adapter: the enterprise certificate's private key is non-exportable, so we hash
 * the JWS signing input here and Key Vault signs the digest. The key version is pinned to the
 * certificate version whose DER goes into x5c.
 */
import { createHash, X509Certificate } from "node:crypto";
import { CertificateClient, type KeyVaultCertificate } from "@azure/keyvault-certificates";
import { CryptographyClient, KeyClient } from "@azure/keyvault-keys";
import { BrokerError, ErrorCode } from "../errors.js";
import type { SigningSource } from "../config/domain.js";
import type { GrantSigner, SigningAlgorithm, SigningKey } from "../signing/signer.js";
import type { KeyVaultConnection } from "./connection.js";
import { latestIssuedCertificate } from "./issued-certificate.js";
import type { KeyChoice } from "../keys/rotation.js";

const DIGEST: Record<SigningAlgorithm, "sha256" | "sha384" | "sha512"> = { RS256: "sha256", RS384: "sha384", RS512: "sha512" };
/** How long a resolved certificate is trusted before we look for a renewed version. */
export const DEFAULT_KEY_REFRESH_MS = 3600_000;

export interface KeyVaultSignerOptions extends KeyVaultConnection {
  source: SigningSource;
  refreshAfterMs?: number;
  now?: () => number;
  /** Told when a refresh fails and the previous key stays in use. */
  onRefreshError?: (error: BrokerError) => void;
  /**
   * Key registration (src/keys/rotation.ts): picks the version to sign with and its kid, so a new
   * version signs only once Maskinporten knows it. Unset: the newest version, SIGNING_KID.
   */
  keyChoice?: KeyChoice;
}

export interface KeyVaultSigner extends GrantSigner {
  /** The key resolved last, without any I/O (health answers from this); undefined before the first read. */
  knownKey(): SigningKey | undefined;
}

/**
 * After a failed first read (certificate not imported yet, roles not propagated, vault throttling)
 * the signer answers with that failure, without asking Key Vault, for 5 s doubling to 1 min.
 */
export function readFailureBackoffMs(failures: number): number {
  return failures <= 0 ? 0 : Math.min(60_000, 5_000 * 2 ** (failures - 1));
}

interface Snapshot {
  key: SigningKey;
  keyId: string;
  resolvedAt: number;
  certificateNotAfter?: Date;
}

export function createKeyVaultSigner(options: KeyVaultSignerOptions): KeyVaultSigner {
  const now = options.now ?? Date.now;
  const refreshAfterMs = options.refreshAfterMs ?? DEFAULT_KEY_REFRESH_MS;
  const clientOptions = options.clientOptions ?? {};
  let current: Snapshot | undefined;
  let pending: Promise<Snapshot> | undefined;
  let lastFailure: { error: BrokerError; failures: number; retryAtMs: number } | undefined;
  // One certificate/key client for the signer's life: each new SDK client starts with a bearer challenge.
  let certificateClient: CertificateClient | undefined;
  let keyClient: KeyClient | undefined;
  // One CryptographyClient per key version: it GETs the key once when first used.
  const cryptoClients = new Map<string, CryptographyClient>();

  function cryptoClientFor(keyId: string): CryptographyClient {
    let client = cryptoClients.get(keyId);
    if (!client) {
      client = new CryptographyClient(keyId, options.credential, clientOptions);
      cryptoClients.clear();
      cryptoClients.set(keyId, client);
    }
    return client;
  }

  function snapshotFor(keyId: string, identification: SigningKey["identification"], certificateNotAfter?: Date): Snapshot {
    const { alg } = options.source;
    const client = cryptoClientFor(keyId);
    const key: SigningKey = {
      alg,
      identification,
      ...(certificateNotAfter ? { certificateNotAfter } : {}),
      async sign(signingInput) {
        const digest = createHash(DIGEST[alg]).update(signingInput).digest();
        try {
          const result = await client.sign(alg, digest);
          return result.result;
        } catch (error) {
          throw keyVaultError(`Key Vault could not sign with ${describeKeyId(keyId)}`, error);
        }
      },
    };
    return { key, keyId, resolvedAt: now(), ...(certificateNotAfter ? { certificateNotAfter } : {}) };
  }

  // The chosen snapshot (another version or kid than the newest), rebuilt only when the choice moves.
  let chosen: Snapshot | undefined;
  function applyChoice(latest: Snapshot): Snapshot {
    if (!options.keyChoice) return latest;
    const choice = options.keyChoice.choose(latest.keyId);
    if (choice.keyId === latest.keyId && latest.key.identification.kid === choice.kid) return latest;
    if (chosen?.keyId !== choice.keyId || chosen.key.identification.kid !== choice.kid) {
      chosen = snapshotFor(choice.keyId, { kid: choice.kid }, latest.certificateNotAfter);
    }
    return chosen;
  }

  async function resolve(): Promise<Snapshot> {
    const source = options.source;
    if (source.kind === "certificate") {
      const client = (certificateClient ??= new CertificateClient(options.vaultUrl, options.credential, clientOptions));
      const certificate = await signingCertificate(client, source);
      const leaf = Buffer.from(certificate.cer);
      const notAfter = new Date(new X509Certificate(leaf).validTo);
      const identification = source.kid ? { kid: source.kid } : { x5c: [leaf.toString("base64"), ...source.chain] };
      // keyId from the certificate bundle carries the version created with this certificate.
      return snapshotFor(certificate.keyId, identification, notAfter);
    }
    let keyId = `${options.vaultUrl.replace(/\/$/, "")}/keys/${source.keyName}/${source.keyVersion ?? ""}`;
    if (!source.keyVersion) {
      try {
        const key = await (keyClient ??= new KeyClient(options.vaultUrl, options.credential, clientOptions)).getKey(source.keyName);
        if (!key.id) throw new Error("the key has no id");
        keyId = key.id;
      } catch (error) {
        throw keyVaultError(`Key Vault key "${source.keyName}" could not be read`, error);
      }
    }
    return snapshotFor(keyId, { kid: source.kid });
  }

  async function refresh(): Promise<Snapshot> {
    pending ??= resolve().finally(() => {
      pending = undefined;
    });
    return pending;
  }

  async function currentSnapshot(): Promise<Snapshot> {
    if (!current) {
      if (lastFailure && now() < lastFailure.retryAtMs) throw lastFailure.error;
      try {
        current = await refresh();
      } catch (error) {
        const failure = error instanceof BrokerError ? error : keyVaultError("Key Vault read failed", error);
        const failures = (lastFailure?.failures ?? 0) + 1;
        lastFailure = { error: failure, failures, retryAtMs: now() + readFailureBackoffMs(failures) };
        throw failure;
      }
      lastFailure = undefined;
      return current;
    }
    if (now() - current.resolvedAt > refreshAfterMs) {
      try {
        current = await refresh();
      } catch (error) {
        // Keep signing with the key we have: a renewed certificate can wait, a token cannot.
        options.onRefreshError?.(error instanceof BrokerError ? error : keyVaultError("Key Vault refresh failed", error));
        current = { ...current, resolvedAt: now() };
      }
    }
    return current;
  }

  return {
    async currentKey() {
      return applyChoice(await currentSnapshot()).key;
    },
    knownKey: () => current?.key,
  };
}

function describeKeyId(keyId: string): string {
  const match = /\/keys\/([^/]+)\/([^/?]*)/.exec(keyId);
  return match ? `key "${match[1]}" version ${match[2] || "(latest)"}` : "the key";
}

/** Wraps an SDK failure, keeping its status and code in the message (they carry no secrets). */
/**
 * The certificate version a profile signs with: the pinned version, else the newest issued one
 * (issued-certificate.ts: a renewal waiting for its merge is not it). The signer and the public-key
 * reader of key registration both read it here, so they always mean the same key.
 */
export async function signingCertificate(
  client: CertificateClient,
  source: { certificateName: string; certificateVersion?: string | undefined },
): Promise<KeyVaultCertificate & { cer: Uint8Array; keyId: string }> {
  let certificate: KeyVaultCertificate;
  try {
    certificate = source.certificateVersion
      ? await client.getCertificateVersion(source.certificateName, source.certificateVersion)
      : await latestIssuedCertificate(client, source.certificateName);
  } catch (error) {
    throw keyVaultError(`Key Vault certificate "${source.certificateName}" could not be read`, error);
  }
  const { cer, keyId } = certificate;
  if (!cer || !keyId) {
    throw new BrokerError(
      ErrorCode.KeyVault,
      `Key Vault certificate "${source.certificateName}" has no certificate or key yet (is it still pending?)`,
    );
  }
  return { ...certificate, cer, keyId };
}

export function keyVaultError(context: string, error: unknown): BrokerError {
  if (error instanceof BrokerError) return error;
  const rest = error as { statusCode?: number; code?: string; message?: string };
  const detail = [rest.statusCode !== undefined ? `HTTP ${rest.statusCode}` : undefined, rest.code, firstLine(rest.message)]
    .filter(Boolean)
    .join(", ");
  return new BrokerError(ErrorCode.KeyVault, `${context}: ${detail || String(error)}`, { cause: error });
}

function firstLine(message: string | undefined): string | undefined {
  return message?.split("\n")[0]?.slice(0, 300);
}
