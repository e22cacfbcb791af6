/**
 * The real @azure/keyvault-* clients and the real ManagedIdentityCredential against Lowkey Vault,
 * an emulator we did not write: the operations our Key Vault adapters rely on, checked against a
 * second opinion of the Key Vault protocol. Signatures are verified with node:crypto, not by the
 * emulator.
 */
import { createHash, randomUUID, verify, X509Certificate, type KeyObject } from "node:crypto";
import { ManagedIdentityCredential } from "@azure/identity";
import { CertificateClient } from "@azure/keyvault-certificates";
import { CryptographyClient, KeyClient, type SignatureAlgorithm } from "@azure/keyvault-keys";
import { SecretClient } from "@azure/keyvault-secrets";
import forge from "node-forge";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { issueCertificate } from "../../sandbox/pki.js";
import { LOWKEY_KEY_VAULT_API_VERSION } from "../support/lowkey-vault.js";
import type { LowkeyVaultProvided } from "../support/lowkey-vault-setup.js";

const provided: LowkeyVaultProvided = inject("lowkeyVault");
const skipReason = provided.available ? undefined : provided.reason;
const connection = provided.available ? provided.connection : undefined;

/** Managed identity sources MSAL would pick before IMDS; a developer's shell may have one set. */
const COMPETING_IDENTITY_VARIABLES = [
  "IDENTITY_ENDPOINT",
  "IDENTITY_HEADER",
  "IDENTITY_SERVER_THUMBPRINT",
  "IMDS_ENDPOINT",
  "MSI_ENDPOINT",
  "MSI_SECRET",
  "AZURE_FEDERATED_TOKEN_FILE",
];

const DIGESTS: Record<"RS256" | "RS384" | "RS512", "sha256" | "sha384" | "sha512"> = {
  RS256: "sha256",
  RS384: "sha384",
  RS512: "sha512",
};

describe.skipIf(skipReason)(skipReason ? `Lowkey Vault (skipped: ${skipReason})` : "Lowkey Vault", () => {
  let credential: ManagedIdentityCredential;
  let clientOptions: {
    serviceVersion: typeof LOWKEY_KEY_VAULT_API_VERSION;
    disableChallengeResourceVerification: true;
    tlsOptions: { ca: string };
  };
  let vaultUrl: string;

  beforeAll(() => {
    if (!connection) throw new Error("no Lowkey Vault connection although the suite is not skipped");
    vaultUrl = connection.vaultUrl;
    // Each test file runs in its own worker, so changing its environment touches no other file.
    for (const name of COMPETING_IDENTITY_VARIABLES) delete process.env[name];
    Object.assign(process.env, connection.identityEnv);
    credential = new ManagedIdentityCredential();
    clientOptions = {
      serviceVersion: LOWKEY_KEY_VAULT_API_VERSION,
      // The emulator's challenge names its own URL as the resource, not https://vault.azure.net.
      disableChallengeResourceVerification: true,
      tlsOptions: { ca: connection.caPem },
    };
  });

  const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

  it("gets a managed identity token from the emulator's IMDS endpoint", async () => {
    const token = await credential.getToken(`${vaultUrl}/.default`);
    expect(token.token.length).toBeGreaterThan(0);
    expect(token.expiresOnTimestamp).toBeGreaterThan(Date.now());
  });

  it("creates a non-exportable self-signed RSA certificate whose key version signs RS256/384/512", async () => {
    const certificates = new CertificateClient(vaultUrl, credential, clientOptions);
    const name = unique("lowkey-created");
    const poller = await certificates.beginCreateCertificate(
      name,
      {
        issuerName: "Self",
        subject: "CN=maskinporten-broker lowkey test",
        keyType: "RSA",
        keySize: 2048,
        exportable: false,
        reuseKey: false,
        contentType: "application/x-pkcs12",
        validityInMonths: 12,
      },
      { intervalInMs: 200 },
    );
    await poller.pollUntilDone();

    const certificate = await certificates.getCertificate(name);
    expect(certificate.policy?.exportable).toBe(false);
    const version = certificate.properties.version;
    expect(version).toBeTruthy();
    expect(certificate.keyId).toBe(`${vaultUrl}/keys/${name}/${version}`);
    expect(certificate.cer).toBeDefined();
    const x509 = new X509Certificate(Buffer.from(certificate.cer!));
    expect(x509.subject).toContain("CN=maskinporten-broker lowkey test");

    await expectKeyMatches(name, version!, x509.publicKey);
    await expectSignsVerifiably(certificate.keyId!, x509.publicKey);
  });

  it("imports a certificate with its key as non-exportable and signs with the imported key", async () => {
    const issued = issueCertificate({ commonName: "Lowkey Import AS", organisationNumber: "999888777" });
    const password = randomUUID();
    const pfx = forge.pkcs12.toPkcs12Asn1(
      forge.pki.privateKeyFromPem(issued.privateKey.export({ type: "pkcs1", format: "pem" }).toString()),
      [forge.pki.certificateFromPem(issued.certificatePem)],
      password,
      { algorithm: "3des" },
    );
    const pfxBytes = Buffer.from(forge.asn1.toDer(pfx).getBytes(), "binary");

    const certificates = new CertificateClient(vaultUrl, credential, clientOptions);
    const name = unique("lowkey-imported");
    const imported = await certificates.importCertificate(name, pfxBytes, {
      password,
      policy: { exportable: false, contentType: "application/x-pkcs12" },
    });
    expect(Buffer.from(imported.cer!).equals(issued.certificateDer)).toBe(true);

    const fetched = await certificates.getCertificate(name);
    expect(fetched.policy?.exportable).toBe(false);
    expect(Buffer.from(fetched.cer!).equals(issued.certificateDer)).toBe(true);
    const version = fetched.properties.version!;
    expect(fetched.keyId).toBe(`${vaultUrl}/keys/${name}/${version}`);
    const sameVersion = await certificates.getCertificateVersion(name, version);
    expect(Buffer.from(sameVersion.cer!).equals(issued.certificateDer)).toBe(true);

    await expectKeyMatches(name, version, issued.publicKey);
    await expectSignsVerifiably(fetched.keyId!, issued.publicKey);
  });

  it("stores a token secret with content type, tags and validity, and reads it back latest and by version", async () => {
    const secrets = new SecretClient(vaultUrl, credential, clientOptions);
    const name = unique("lowkey-token");
    const issuedAt = new Date(Math.floor(Date.now() / 1000) * 1000);
    const firstExpiry = new Date(issuedAt.getTime() + 120_000);
    const secondExpiry = new Date(issuedAt.getTime() + 600_000);
    const tagsFor = (expiresOn: Date) => ({
      profile: "default",
      scope: "digdir:dokumentasjon",
      expires_at: expiresOn.toISOString(),
      issued_at: issuedAt.toISOString(),
      token_type: "Bearer",
    });

    const first = await secrets.setSecret(name, "opaque-token-1", {
      contentType: "text/plain",
      tags: tagsFor(firstExpiry),
      notBefore: issuedAt,
      expiresOn: firstExpiry,
    });
    const second = await secrets.setSecret(name, "opaque-token-2", {
      contentType: "application/jwt",
      tags: tagsFor(secondExpiry),
      notBefore: issuedAt,
      expiresOn: secondExpiry,
    });
    expect(first.properties.version).toBeTruthy();
    expect(second.properties.version).not.toBe(first.properties.version);

    const latest = await secrets.getSecret(name);
    expect(latest.value).toBe("opaque-token-2");
    expect(latest.properties.version).toBe(second.properties.version);
    expect(latest.properties.contentType).toBe("application/jwt");
    expect(latest.properties.tags).toEqual(tagsFor(secondExpiry));
    expect(latest.properties.notBefore?.getTime()).toBe(issuedAt.getTime());
    expect(latest.properties.expiresOn?.getTime()).toBe(secondExpiry.getTime());

    const older = await secrets.getSecret(name, { version: first.properties.version! });
    expect(older.value).toBe("opaque-token-1");
    expect(older.properties.contentType).toBe("text/plain");
    expect(older.properties.expiresOn?.getTime()).toBe(firstExpiry.getTime());

    const versions: string[] = [];
    for await (const properties of secrets.listPropertiesOfSecretVersions(name)) {
      if (properties.version) versions.push(properties.version);
    }
    expect(versions.sort()).toEqual([first.properties.version, second.properties.version].sort());
  });

  it("answers 404 SecretNotFound for a secret that was never set", async () => {
    const secrets = new SecretClient(vaultUrl, credential, clientOptions);
    const error = await secrets.getSecret(unique("lowkey-missing")).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toMatchObject({ statusCode: 404, code: "SecretNotFound" });
  });

  /** The key behind the certificate version is the certificate's public key. */
  async function expectKeyMatches(name: string, version: string, publicKey: KeyObject): Promise<void> {
    const keys = new KeyClient(vaultUrl, credential, clientOptions);
    const key = await keys.getKey(name, { version });
    expect(key.properties.version).toBe(version);
    expect(key.key?.kty).toMatch(/^RSA/);
    const expected = publicKey.export({ format: "jwk" });
    expect(Buffer.from(key.key!.n!).toString("base64url")).toBe(expected.n);
    expect(Buffer.from(key.key!.e!).toString("base64url")).toBe(expected.e);
  }

  /** Key Vault signs the digest; node:crypto verifies over the original input. */
  async function expectSignsVerifiably(keyId: string, publicKey: KeyObject): Promise<void> {
    const crypto = new CryptographyClient(keyId, credential, clientOptions);
    const signingInput = Buffer.from(`header.payload-${randomUUID()}`, "ascii");
    for (const [alg, hash] of Object.entries(DIGESTS) as [SignatureAlgorithm & keyof typeof DIGESTS, string][]) {
      const digest = createHash(hash).update(signingInput).digest();
      const signed = await crypto.sign(alg, digest);
      expect(signed.keyID).toBe(keyId);
      expect(verify(hash, signingInput, publicKey, Buffer.from(signed.result))).toBe(true);
      // A signature over other bytes must not verify: the check above can fail.
      expect(verify(hash, Buffer.from("other input"), publicKey, Buffer.from(signed.result))).toBe(false);
    }
  }
});
