/**
 * The public half of the Key Vault key version a profile signs with, as a JWK: what key registration
 * posts to Digdir. Only public members ever leave the vault (the private key is non-exportable).
 */
import { X509Certificate, createPublicKey } from "node:crypto";
import { CertificateClient } from "@azure/keyvault-certificates";
import { KeyClient } from "@azure/keyvault-keys";
import { BrokerError, ErrorCode } from "../errors.js";
import type { SigningSource } from "../config/domain.js";
import type { VaultPublicKey } from "../keys/ports.js";
import type { KeyVaultConnection } from "./connection.js";
import { keyVaultError, signingCertificate } from "./signer.js";

/** A reader that keeps one SDK client per kind (each new client starts with a bearer challenge). */
export function createVaultPublicKeyReader(connection: KeyVaultConnection): (source: SigningSource) => Promise<VaultPublicKey> {
  let certificates: CertificateClient | undefined;
  let keys: KeyClient | undefined;
  const clientOptions = connection.clientOptions ?? {};
  return (source) =>
    readVaultPublicKey(source, {
      certificates: () => (certificates ??= new CertificateClient(connection.vaultUrl, connection.credential, clientOptions)),
      keys: () => (keys ??= new KeyClient(connection.vaultUrl, connection.credential, clientOptions)),
    });
}

async function readVaultPublicKey(
  source: SigningSource,
  clients: { certificates(): CertificateClient; keys(): KeyClient },
): Promise<VaultPublicKey> {
  if (source.kind === "certificate") {
    const certificate = await signingCertificate(clients.certificates(), source);
    const publicKey = new X509Certificate(Buffer.from(certificate.cer)).publicKey;
    return fromJwk(certificate.keyId, publicKey.export({ format: "jwk" }), `certificate "${source.certificateName}"`);
  }
  let key;
  try {
    const client = clients.keys();
    key = source.keyVersion ? await client.getKey(source.keyName, { version: source.keyVersion }) : await client.getKey(source.keyName);
  } catch (error) {
    throw keyVaultError(`Key Vault key "${source.keyName}" could not be read`, error);
  }
  if (!key.id || !key.key?.n || !key.key.e)
    throw new BrokerError(ErrorCode.KeyVault, `Key Vault key "${source.keyName}" has no RSA public key`);
  return fromJwk(
    key.id,
    { kty: "RSA", n: Buffer.from(key.key.n).toString("base64url"), e: Buffer.from(key.key.e).toString("base64url") },
    `key "${source.keyName}"`,
  );
}

function fromJwk(keyId: string, jwk: { kty?: string; n?: string; e?: string }, what: string): VaultPublicKey {
  if (jwk.kty !== "RSA" || !jwk.n || !jwk.e) throw new BrokerError(ErrorCode.KeyVault, `Key Vault ${what} is not an RSA key`);
  const bits = createPublicKey({ key: { kty: "RSA", n: jwk.n, e: jwk.e }, format: "jwk" }).asymmetricKeyDetails?.modulusLength ?? 0;
  return { keyId, jwk: { kty: "RSA", n: jwk.n, e: jwk.e }, bits };
}
