import { createPublicKey, sign, verify } from "node:crypto";
import { calculateJwkThumbprint } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exportPublicJwk, formatJwk, parseArguments, publicJwkFromKeyVaultKey, vaultUrlOf } from "../../scripts/azure/export-public-jwk.js";
import { startKeyVaultStandIn, type KeyVaultStandIn } from "../../sandbox/keyvault/index.js";
import { generateRsaKeyPair, issueEnterpriseCertificate } from "../../sandbox/pki.js";
import { staticCredential } from "../support/credentials.js";

let kv: KeyVaultStandIn;
const connection = () => ({
  vaultUrl: kv.url,
  credential: staticCredential(),
  clientOptions: { disableChallengeResourceVerification: true, tlsOptions: { ca: kv.caPem } },
});

beforeAll(async () => {
  kv = await startKeyVaultStandIn();
});
afterAll(() => kv?.close());

/** n and e as Key Vault sends them: big-endian bytes. */
function keyVaultJwk(publicKey: ReturnType<typeof generateRsaKeyPair>["publicKey"], leadingZero = false) {
  const jwk = publicKey.export({ format: "jwk" });
  const n = Buffer.from(jwk.n!, "base64url");
  return { kty: "RSA" as const, n: leadingZero ? Buffer.concat([Buffer.from([0]), n]) : n, e: Buffer.from(jwk.e!, "base64url") };
}

describe("export-public-jwk against the Key Vault stand-in", () => {
  it("exports the certificate's key as a JWK that verifies the signer's signatures", async () => {
    const { leaf } = issueEnterpriseCertificate({ organisationNumber: "991825827" });
    const imported = kv.importCertificate("maskinporten-signing", {
      privateKey: leaf.privateKey,
      certificateDer: leaf.certificateDer,
      exportable: false,
    });

    const { jwk, keyId, certificateVersion } = await exportPublicJwk({ ...connection(), certificateName: "maskinporten-signing" });

    expect(certificateVersion).toBe(imported.version);
    expect(keyId).toContain("/keys/maskinporten-signing/");
    expect(jwk).toMatchObject({ kty: "RSA", use: "sig", alg: "RS256" });
    expect(jwk.x5c).toBeUndefined();
    expect(jwk.kid).toBe(await calculateJwkThumbprint({ kty: "RSA", n: jwk.n, e: jwk.e }, "sha256"));
    const data = Buffer.from("header.payload");
    const signature = sign("sha256", data, leaf.privateKey);
    expect(verify("sha256", data, createPublicKey({ key: { ...jwk }, format: "jwk" }), signature)).toBe(true);
  });

  it("pins the version asked for, and adds the certificate as x5c on request", async () => {
    const first = issueEnterpriseCertificate({ organisationNumber: "991825827" }).leaf;
    const second = issueEnterpriseCertificate({ organisationNumber: "991825827" }).leaf;
    const old = kv.importCertificate("renewed", { privateKey: first.privateKey, certificateDer: first.certificateDer });
    kv.importCertificate("renewed", { privateKey: second.privateKey, certificateDer: second.certificateDer });

    const current = await exportPublicJwk({ ...connection(), certificateName: "renewed", includeX5c: true, kid: "mine-2025" });
    const pinned = await exportPublicJwk({ ...connection(), certificateName: "renewed", version: old.version });

    expect(current.jwk.kid).toBe("mine-2025");
    expect(current.jwk.x5c).toEqual([second.certificateDer.toString("base64")]);
    expect(current.jwk.n).toBe(second.publicKey.export({ format: "jwk" }).n);
    expect(pinned.certificateVersion).toBe(old.version);
    expect(pinned.jwk.n).toBe(first.publicKey.export({ format: "jwk" }).n);
  });

  it("exports the current version of a plain key (kid flow without a certificate)", async () => {
    const older = generateRsaKeyPair();
    const current = generateRsaKeyPair();
    kv.importKey("plain-key", older.privateKey);
    kv.importKey("plain-key", current.privateKey);
    const { jwk } = await exportPublicJwk({ ...connection(), keyName: "plain-key", alg: "RS512" });
    expect(jwk.alg).toBe("RS512");
    expect(jwk.n).toBe(current.publicKey.export({ format: "jwk" }).n);
    expect(jwk.n).not.toBe(older.publicKey.export({ format: "jwk" }).n);
  });

  it("fails plainly when the certificate is not there", async () => {
    await expect(exportPublicJwk({ ...connection(), certificateName: "never-imported" })).rejects.toMatchObject({ statusCode: 404 });
  });
});

describe("publicJwkFromKeyVaultKey", () => {
  it("drops the leading zero byte Key Vault may put in front of n", async () => {
    const { publicKey } = generateRsaKeyPair();
    const jwk = await publicJwkFromKeyVaultKey(keyVaultJwk(publicKey, true));
    expect(jwk.n).toBe(publicKey.export({ format: "jwk" }).n);
  });

  it("refuses a key that is not the certificate's", async () => {
    const { leaf } = issueEnterpriseCertificate({ organisationNumber: "991825827" });
    const other = generateRsaKeyPair().publicKey;
    await expect(publicJwkFromKeyVaultKey(keyVaultJwk(other), { certificateDer: leaf.certificateDer })).rejects.toThrow(
      "the key does not match the certificate",
    );
  });

  it("refuses keys Maskinporten would not take", async () => {
    await expect(publicJwkFromKeyVaultKey(keyVaultJwk(generateRsaKeyPair(1024).publicKey))).rejects.toThrow("1024 bits");
    await expect(publicJwkFromKeyVaultKey({ kty: "EC", x: new Uint8Array(32), y: new Uint8Array(32) })).rejects.toThrow("RSA key");
  });
});

describe("export-public-jwk command line", () => {
  it("parses its options and formats for the portal, the API or as one key", async () => {
    expect(parseArguments(["--vault", "kv-abc", "--certificate", "maskinporten-signing", "--x5c", "--format", "jwks"])).toEqual({
      vault: "kv-abc",
      certificateName: "maskinporten-signing",
      alg: "RS256",
      includeX5c: true,
      format: "jwks",
    });
    expect(() => parseArguments(["--vault", "kv"])).toThrow("exactly one of --certificate and --key");
    expect(() => parseArguments(["--vault", "kv", "--key", "k", "--alg", "ES256"])).toThrow("--alg must be one of");
    expect(vaultUrlOf("kv-abc")).toBe("https://kv-abc.vault.azure.net/");
    expect(vaultUrlOf("https://kv-abc.vault.azure.net")).toBe("https://kv-abc.vault.azure.net/");
    expect(() => vaultUrlOf("https://kv-abc.vault.azure.net/keys/k")).toThrow("--vault has a path, query or credentials");

    const jwk = await publicJwkFromKeyVaultKey(keyVaultJwk(generateRsaKeyPair().publicKey), { kid: "k1" });
    expect(JSON.parse(formatJwk(jwk, "portal"))).toEqual([jwk]);
    expect(JSON.parse(formatJwk(jwk, "jwks"))).toEqual({ keys: [jwk] });
    expect(JSON.parse(formatJwk(jwk, "jwk"))).toEqual(jwk);
  });
});
