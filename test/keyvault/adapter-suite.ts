/**
 * The Key Vault adapter tests, written once and run against every Key Vault we can reach here:
 * our stand-in.
 */
import { createPublicKey, verify, X509Certificate, type KeyObject } from "node:crypto";
import type { TokenCredential } from "@azure/identity";
import { SecretClient } from "@azure/keyvault-secrets";
import { compactVerify, decodeProtectedHeader } from "jose";
import { describe, expect, it } from "vitest";
import type { SigningSource } from "../../src/config/domain.js";
import { ErrorCode } from "../../src/errors.js";
import { createGrant } from "../../src/grant/grant.js";
import type { KeyVaultClientOptions } from "../../src/keyvault/connection.js";
import { createKeyVaultSigner } from "../../src/keyvault/signer.js";
import { createKeyVaultTokenStore } from "../../src/keyvault/token-store.js";
import type { StoredToken } from "../../src/token-store/stored-token.js";

export interface KeyVaultTarget {
  vaultUrl: string;
  credential: TokenCredential;
  clientOptions: KeyVaultClientOptions;
  /** Puts a non-exportable certificate (new version if it exists) into the vault; returns its leaf. */
  provisionCertificate(name: string): Promise<{ leafDer: Buffer; version: string }>;
  /** Puts a plain RSA key into the vault; returns its public key. */
  provisionKey(name: string): Promise<{ publicKey: KeyObject; version: string }>;
}

const HASH = { RS256: "sha256", RS384: "sha384", RS512: "sha512" } as const;
let counter = 0;
const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${counter++}`;

const grantInput = { audience: "https://test.maskinporten.no/", clientId: "client", scopes: ["a:b"] };

export function defineKeyVaultAdapterTests(name: string, target: () => KeyVaultTarget): void {
  describe(`Key Vault adapters against ${name}`, () => {
    const connection = () => ({ vaultUrl: target().vaultUrl, credential: target().credential, clientOptions: target().clientOptions });
    const certificateSource = (
      certificateName: string,
      extra: Partial<Extract<SigningSource, { kind: "certificate" }>> = {},
    ): SigningSource => ({
      kind: "certificate",
      certificateName,
      alg: "RS256",
      chain: [],
      ...extra,
    });

    it.each(["RS256", "RS384", "RS512"] as const)("signs a grant remotely with the certificate's key (%s), x5c = the leaf", async (alg) => {
      const certName = unique("cert");
      const { leafDer } = await target().provisionCertificate(certName);
      const signer = createKeyVaultSigner({ ...connection(), source: certificateSource(certName, { alg }) });
      const grant = await createGrant(grantInput, signer);
      const header = decodeProtectedHeader(grant);
      expect(header.alg).toBe(alg);
      expect(header.x5c).toEqual([leafDer.toString("base64")]);
      const publicKey = new X509Certificate(leafDer).publicKey;
      await expect(compactVerify(grant, publicKey, { algorithms: [alg] })).resolves.toBeDefined();
      const [h, p, s] = grant.split(".");
      expect(verify(HASH[alg], Buffer.from(`${h}.${p}`), publicKey, Buffer.from(s!, "base64url"))).toBe(true);
    });

    it("pins the key version to the certificate version and follows a renewed certificate on refresh", async () => {
      const certName = unique("rotating");
      const first = await target().provisionCertificate(certName);
      let nowMs = Date.now();
      const signer = createKeyVaultSigner({
        ...connection(),
        source: certificateSource(certName),
        now: () => nowMs,
        refreshAfterMs: 60_000,
      });
      // The first read resolves the certificate and its key version, before the renewal below.
      expect((await signer.currentKey()).identification).toEqual({ x5c: [first.leafDer.toString("base64")] });
      const second = await target().provisionCertificate(certName);
      // Not yet refreshed: still the first certificate and its key, consistently (the grant verifies
      // with the first certificate's public key, so the key version is the certificate's).
      let grant = await createGrant(grantInput, signer);
      expect(decodeProtectedHeader(grant).x5c).toEqual([first.leafDer.toString("base64")]);
      await expect(compactVerify(grant, new X509Certificate(first.leafDer).publicKey)).resolves.toBeDefined();
      nowMs += 61_000;
      grant = await createGrant(grantInput, signer);
      expect(decodeProtectedHeader(grant).x5c).toEqual([second.leafDer.toString("base64")]);
      await expect(compactVerify(grant, new X509Certificate(second.leafDer).publicKey)).resolves.toBeDefined();
    });

    it("keeps using an explicitly pinned certificate version after a renewal", async () => {
      const certName = unique("pinned");
      const first = await target().provisionCertificate(certName);
      await target().provisionCertificate(certName);
      const signer = createKeyVaultSigner({ ...connection(), source: certificateSource(certName, { certificateVersion: first.version }) });
      const grant = await createGrant(grantInput, signer);
      expect(decodeProtectedHeader(grant).x5c).toEqual([first.leafDer.toString("base64")]);
      await expect(compactVerify(grant, new X509Certificate(first.leafDer).publicKey)).resolves.toBeDefined();
    });

    it("names the key by kid when configured, for a certificate or a plain key", async () => {
      const keyName = unique("key");
      const { publicKey } = await target().provisionKey(keyName);
      const signer = createKeyVaultSigner({ ...connection(), source: { kind: "key", keyName, kid: "registered-kid", alg: "RS256" } });
      const grant = await createGrant(grantInput, signer);
      expect(decodeProtectedHeader(grant)).toEqual({ alg: "RS256", kid: "registered-kid" });
      await expect(compactVerify(grant, publicKey)).resolves.toBeDefined();
    });

    it("reports a missing certificate as ERR_KEY_VAULT naming the certificate and the status", async () => {
      const signer = createKeyVaultSigner({ ...connection(), source: certificateSource(unique("missing")) });
      const error = await signer.currentKey().catch((e: unknown) => e);
      expect(error).toMatchObject({ code: ErrorCode.KeyVault });
      expect((error as Error).message).toMatch(/certificate "missing-.*" could not be read: HTTP 404/);
    });

    describe("token store", () => {
      const token = (accessToken: string, issuedAtMs: number, lifetimeS = 120, fingerprint = "v1.settings-a"): StoredToken => ({
        accessToken,
        tokenType: "Bearer",
        scope: "a:b c:d",
        issuedAt: new Date(Math.floor(issuedAtMs / 1000) * 1000),
        expiresAt: new Date(Math.floor(issuedAtMs / 1000) * 1000 + lifetimeS * 1000),
        fingerprint,
      });

      it("returns nothing for a secret never written", async () => {
        const store = createKeyVaultTokenStore(connection());
        await expect(store.read("p", unique("never"))).resolves.toBeUndefined();
      });

      it("writes the documented secret format and reads it back", async () => {
        const store = createKeyVaultTokenStore(connection());
        const secretName = unique("tok");
        const jwtLike = "eyJhbGciOiJSUzI1NiJ9.eyJzY29wZSI6ImE6YiJ9.c2lnbmF0dXJl";
        const stored = token(jwtLike, Date.now());
        expect(await store.write("skatt", secretName, stored)).toEqual({ current: stored, written: true });
        expect(await store.read("skatt", secretName)).toEqual(stored);

        const raw = await new SecretClient(target().vaultUrl, target().credential, target().clientOptions).getSecret(secretName);
        expect(raw.value).toBe(jwtLike);
        expect(raw.properties.contentType).toBe("application/jwt");
        expect(raw.properties.expiresOn?.getTime()).toBe(stored.expiresAt.getTime());
        expect(raw.properties.notBefore?.getTime()).toBe(stored.issuedAt.getTime());
        expect(raw.properties.tags).toEqual({
          profile: "skatt",
          scope: "a:b c:d",
          expires_at: stored.expiresAt.toISOString(),
          issued_at: stored.issuedAt.toISOString(),
          token_type: "Bearer",
          fingerprint: "v1.settings-a",
        });

        const opaque = token("opaque-reference-token", Date.now() + 5_000);
        await store.write("skatt", secretName, opaque);
        const rawOpaque = await new SecretClient(target().vaultUrl, target().credential, target().clientOptions).getSecret(secretName);
        expect(rawOpaque.properties.contentType).toBe("text/plain");
      });

      it("never replaces a token with one that expires earlier", async () => {
        const store = createKeyVaultTokenStore(connection());
        const secretName = unique("order");
        const newer = token("newer", Date.now() + 10_000);
        const older = token("older", Date.now());
        await store.write("p", secretName, newer);
        expect(await store.write("p", secretName, older)).toEqual({ current: newer, written: false });
        expect((await store.read("p", secretName))?.accessToken).toBe("newer");
      });

      it("replaces a later-expiring token issued for other settings (fingerprint) with the first new one", async () => {
        const store = createKeyVaultTokenStore(connection());
        const secretName = unique("settings");
        const oldSettings = token("old-settings", Date.now() + 60_000, 3600, "v1.settings-a");
        await store.write("p", secretName, oldSettings);
        const newSettings = token("new-settings", Date.now(), 120, "v1.settings-b");
        expect(await store.write("p", secretName, newSettings)).toEqual({ current: newSettings, written: true });
        expect(await store.read("p", secretName)).toEqual(newSettings);
        // From then on the never-regress rule holds among tokens for the new settings.
        const earlier = token("earlier", Date.now() - 5_000, 120, "v1.settings-b");
        expect(await store.write("p", secretName, earlier)).toEqual({ current: newSettings, written: false });
      });

      it("reads a secret written before fingerprints existed as a token for no settings", async () => {
        const secretName = unique("legacy");
        const client = new SecretClient(target().vaultUrl, target().credential, target().clientOptions);
        const now = new Date(Math.floor(Date.now() / 1000) * 1000);
        await client.setSecret(secretName, "legacy-token", {
          tags: {
            profile: "p",
            scope: "a:b",
            expires_at: new Date(now.getTime() + 3_600_000).toISOString(),
            issued_at: now.toISOString(),
            token_type: "Bearer",
          },
        });
        const store = createKeyVaultTokenStore(connection());
        expect((await store.read("p", secretName))?.fingerprint).toBe("");
        expect((await store.write("p", secretName, token("fresh", Date.now()))).written).toBe(true);
      });

      it("ignores a secret that is not one of ours (placeholder, other profile)", async () => {
        const secretName = unique("foreign");
        const client = new SecretClient(target().vaultUrl, target().credential, target().clientOptions);
        await client.setSecret(secretName, "placeholder");
        const store = createKeyVaultTokenStore(connection());
        await expect(store.read("p", secretName)).resolves.toBeUndefined();
        await store.write("other", secretName, token("x", Date.now()));
        await expect(store.read("p", secretName)).resolves.toBeUndefined();
      });
    });
  });
}

export function publicKeyOf(der: Buffer): KeyObject {
  return createPublicKey(new X509Certificate(der).publicKey.export({ type: "spki", format: "pem" }));
}
