import { CertificateClient } from "@azure/keyvault-certificates";
import { CryptographyClient, KeyClient } from "@azure/keyvault-keys";
import { SecretClient } from "@azure/keyvault-secrets";
import { RestError } from "@azure/core-rest-pipeline";
import { constants, createHash, verify, X509Certificate, type KeyObject } from "node:crypto";
import { request } from "node:https";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { issueEnterpriseCertificate, generateRsaKeyPair, type IssuedCertificate } from "../../sandbox/pki.js";
import { startKeyVaultStandIn, type KeyVaultStandIn } from "../../sandbox/keyvault/index.js";
import { staticCredential, type RecordingCredential } from "../support/credentials.js";

const TENANT = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9";
const TOKEN = "token-for-the-stand-in";

let kv: KeyVaultStandIn;
let credential: RecordingCredential;
let leaf: IssuedCertificate;
let intermediate: IssuedCertificate;
const seenBearers: string[] = [];

/** Fast retries so fault tests do not wait for the SDK's default back-off. */
function clientOptions() {
  return {
    disableChallengeResourceVerification: true,
    tlsOptions: { ca: kv.caPem },
    retryOptions: { retryDelayInMs: 5, maxRetryDelayInMs: 20, maxRetries: 3 },
  } as const;
}
const secretClient = () => new SecretClient(kv.url, credential, clientOptions());
const certificateClient = () => new CertificateClient(kv.url, credential, clientOptions());

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A plain HTTPS request, outside the SDK, to see exactly what goes over the wire. */
function raw(method: string, path: string, options: { token?: string; body?: unknown } = {}): Promise<RawResponse> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, kv.url),
      {
        method,
        ca: kv.caPem,
        headers: {
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
          ...(payload ? { "content-type": "application/json" } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

function verifyDigestSignature(alg: string, message: Buffer, publicKey: KeyObject, signature: Uint8Array): boolean {
  const hash = `sha${alg.slice(2)}`;
  if (alg.startsWith("RS")) return verify(hash, message, publicKey, signature);
  return verify(
    hash,
    message,
    { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(alg.slice(2)) / 8 },
    signature,
  );
}

beforeAll(async () => {
  kv = await startKeyVaultStandIn({
    tenantId: TENANT,
    acceptToken: (bearer) => {
      seenBearers.push(bearer);
      return bearer === TOKEN;
    },
  });
  ({ leaf, intermediate } = issueEnterpriseCertificate({ organisationNumber: "991825827" }));
});

afterAll(async () => {
  await kv.close();
});

beforeEach(() => {
  credential = staticCredential(TOKEN);
  kv.clearFaults();
  kv.resetCounters();
});

describe("Key Vault stand-in: authentication challenge", () => {
  it("answers a request without a token with Key Vault's exact 401 challenge", async () => {
    const response = await raw("GET", "/secrets/anything?api-version=7.5");
    expect(response.status).toBe(401);
    expect(response.headers["www-authenticate"]).toBe(
      `Bearer authorization="https://login.microsoftonline.com/${TENANT}", resource="https://vault.azure.net"`,
    );
    expect(JSON.parse(response.body)).toMatchObject({ error: { code: "Unauthorized" } });
    expect(kv.counters.challenge).toBe(1);
    expect(kv.counters.secretGet).toBe(0);
  });

  it("challenges a token that acceptToken rejects", async () => {
    const response = await raw("GET", "/secrets/anything?api-version=7.5", { token: "forged" });
    expect(response.status).toBe(401);
    expect(response.headers["www-authenticate"]).toContain(`login.microsoftonline.com/${TENANT}`);
  });

  it("lets the SDK complete the challenge flow, asking for the tenant and the vault scope", async () => {
    const client = secretClient();
    await client.setSecret("challenge-flow", "v1");
    expect(credential.requests).toEqual([{ scopes: ["https://vault.azure.net/.default"], tenantId: TENANT, claims: undefined }]);
    // The first (body-less) PUT was challenged; the retry carried the token and the body.
    expect(kv.counters).toMatchObject({ challenge: 1, secretSet: 1 });
    expect(kv.getSecretVersions("challenge-flow").map((v) => v.value)).toEqual(["v1"]);
  });
});

describe("Key Vault stand-in: protocol errors", () => {
  it("refuses a request without api-version with 400 BadParameter", async () => {
    kv.setSecret("no-api-version", "x");
    const response = await raw("GET", "/secrets/no-api-version", { token: TOKEN });
    expect(response.status).toBe(400);
    expect(JSON.parse(response.body)).toMatchObject({ error: { code: "BadParameter" } });
  });

  it("surfaces a missing secret as RestError 404 SecretNotFound", async () => {
    const error = await secretClient()
      .getSecret("does-not-exist")
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RestError);
    expect(error).toMatchObject({ statusCode: 404, code: "SecretNotFound" });
  });

  it("surfaces a missing certificate and key as CertificateNotFound / KeyNotFound", async () => {
    await expect(certificateClient().getCertificate("no-such-cert")).rejects.toMatchObject({
      statusCode: 404,
      code: "CertificateNotFound",
    });
    const keys = new KeyClient(kv.url, credential, clientOptions());
    await expect(keys.getKey("no-such-key")).rejects.toMatchObject({ statusCode: 404, code: "KeyNotFound" });
  });

  it("rejects a sign request whose digest length does not match the algorithm", async () => {
    const { keyId } = kv.importKey("short-digest", generateRsaKeyPair().privateKey);
    const path = `${new URL(keyId).pathname}/sign?api-version=7.5`;
    const response = await raw("POST", path, { token: TOKEN, body: { alg: "RS256", value: Buffer.alloc(20).toString("base64url") } });
    expect(response.status).toBe(400);
    expect(JSON.parse(response.body)).toMatchObject({ error: { code: "BadParameter" } });

    const unknownAlg = await raw("POST", path, { token: TOKEN, body: { alg: "HS256", value: Buffer.alloc(32).toString("base64url") } });
    expect(unknownAlg.status).toBe(400);
  });
});

describe("Key Vault stand-in: certificates and remote signing", () => {
  it("serves an imported certificate: cer is the leaf DER and keyId names the key version", async () => {
    const imported = kv.importCertificate("enterprise", {
      privateKey: leaf.privateKey,
      certificateDer: leaf.certificateDer,
      chainDer: [intermediate.certificateDer],
      tags: { purpose: "maskinporten" },
    });
    const certificate = await certificateClient().getCertificate("enterprise");

    expect(Buffer.from(certificate.cer!)).toEqual(leaf.certificateDer);
    expect(certificate.keyId).toBe(imported.keyId);
    expect(certificate.keyId).toBe(`${kv.vaultUrl}/keys/enterprise/${imported.version}`);
    expect(certificate.properties.version).toBe(imported.version);
    expect(certificate.properties.tags).toEqual({ purpose: "maskinporten" });
    expect(certificate.policy?.exportable).toBe(false);
    expect(certificate.properties.expiresOn?.getTime()).toBe(Math.floor(Date.parse(leaf.x509.validTo) / 1000) * 1000);
    expect(certificate.properties.x509ThumbprintString).toBe(createHash("sha1").update(leaf.certificateDer).digest("hex"));
    expect(kv.counters.certificateGet).toBe(1);
  });

  it("creates a new certificate and key version on re-import, and serves each version", async () => {
    const first = kv.importCertificate("renewed", { privateKey: leaf.privateKey, certificateDer: leaf.certificateDer });
    const { leaf: next } = issueEnterpriseCertificate({ organisationNumber: "991825827" });
    const second = kv.importCertificate("renewed", { privateKey: next.privateKey, certificateDer: next.certificateDer });
    expect(second.version).not.toBe(first.version);

    const client = certificateClient();
    expect((await client.getCertificate("renewed")).keyId).toBe(second.keyId);
    const old = await client.getCertificateVersion("renewed", first.version);
    expect(Buffer.from(old.cer!)).toEqual(leaf.certificateDer);
    expect(old.keyId).toBe(first.keyId);
  });

  it.each(["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"] as const)(
    "signs a %s digest with the certificate's key through CryptographyClient",
    async (alg) => {
      const imported = kv.importCertificate("signing", { privateKey: leaf.privateKey, certificateDer: leaf.certificateDer });
      const crypto = new CryptographyClient(imported.keyId, credential, clientOptions());
      const message = Buffer.from("eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ0ZXN0In0");
      const digest = createHash(`sha${alg.slice(2)}`)
        .update(message)
        .digest();

      const result = await crypto.sign(alg, digest);

      expect(result.keyID).toBe(imported.keyId);
      expect(verifyDigestSignature(alg, message, leaf.publicKey, result.result)).toBe(true);
      expect(verifyDigestSignature(alg, Buffer.from("tampered"), leaf.publicKey, result.result)).toBe(false);
      // The SDK reads the key once, then signs remotely.
      expect(kv.counters).toMatchObject({ keyGet: 1, sign: 1 });
    },
  );

  it("signs with a plain imported key (kid mode) and serves its public JWK", async () => {
    const { privateKey, publicKey } = generateRsaKeyPair();
    const imported = kv.importKey("plain", privateKey);
    const key = await new KeyClient(kv.url, credential, clientOptions()).getKey("plain");
    expect(key.id).toBe(imported.keyId);
    expect(Buffer.from(key.key!.n!).toString("base64url")).toBe(publicKey.export({ format: "jwk" }).n);

    const digest = createHash("sha256").update("payload").digest();
    const result = await new CryptographyClient(imported.keyId, credential, clientOptions()).sign("RS256", digest);
    expect(verify("sha256", Buffer.from("payload"), publicKey, result.result)).toBe(true);
  });

  it("never reveals a non-exportable certificate's private key over HTTP", async () => {
    const imported = kv.importCertificate("locked", {
      privateKey: leaf.privateKey,
      certificateDer: leaf.certificateDer,
      chainDer: [intermediate.certificateDer],
      exportable: false,
    });
    const privateJwk = leaf.privateKey.export({ format: "jwk" });
    const secretParts = [privateJwk.d, privateJwk.p, privateJwk.q, privateJwk.dp, privateJwk.dq, privateJwk.qi] as string[];
    const privateDer = leaf.privateKey.export({ type: "pkcs8", format: "der" });
    const leaks = (text: string) =>
      /PRIVATE KEY/.test(text) ||
      text.includes(privateDer.toString("base64").slice(64, 128)) ||
      secretParts.some((part) => text.includes(part) || text.includes(Buffer.from(part, "base64url").toString("base64")));

    const paths = [
      "/certificates/locked",
      `/certificates/locked/${imported.version}`,
      "/certificates/locked/policy",
      "/keys/locked",
      `/keys/locked/${imported.version}`,
      "/secrets/locked",
      `/secrets/locked/${imported.version}`,
      "/secrets/locked/versions",
      "/secrets",
    ];
    for (const path of paths) {
      const response = await raw("GET", `${path}?api-version=7.5`, { token: TOKEN });
      expect(response.status, path).toBe(200);
      expect(leaks(response.body), path).toBe(false);
    }

    // The certificate's secret holds only the public chain, marked managed and linked to the key.
    const secret = await secretClient().getSecret("locked");
    expect(secret.properties.managed).toBe(true);
    expect(secret.properties.certificateKeyId).toBe(imported.keyId);
    const certificates = secret.value!.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
    expect(certificates.map((pem) => new X509Certificate(pem).raw)).toEqual([leaf.certificateDer, intermediate.certificateDer]);
  });
});

describe("Key Vault stand-in: secrets", () => {
  it("stores contentType, tags and attributes, and returns them on get", async () => {
    const client = secretClient();
    const expiresOn = new Date(Math.floor(Date.now() / 1000) * 1000 + 600_000);
    const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000);
    const set = await client.setSecret("token-default", "opaque-token-1", {
      contentType: "text/plain",
      tags: { profile: "default", scope: "a:b" },
      expiresOn,
      notBefore,
    });
    const got = await client.getSecret("token-default");

    expect(got.value).toBe("opaque-token-1");
    expect(got.properties).toMatchObject({
      version: set.properties.version,
      contentType: "text/plain",
      tags: { profile: "default", scope: "a:b" },
      expiresOn,
      notBefore,
      enabled: true,
    });
    expect(got.properties.id).toBe(`${kv.vaultUrl}/secrets/token-default/${set.properties.version}`);
    expect(kv.counters).toMatchObject({ secretSet: 1, secretGet: 1 });
  });

  it("creates a new version per set, gets any version and lists all of them across pages", async () => {
    const client = secretClient();
    const versions: string[] = [];
    for (let i = 0; i < 27; i++) versions.push((await client.setSecret("many", `value-${i}`)).properties.version!);

    expect((await client.getSecret("many")).value).toBe("value-26");
    expect((await client.getSecret("many", { version: versions[3]! })).value).toBe("value-3");

    kv.resetCounters();
    const listed: string[] = [];
    for await (const properties of client.listPropertiesOfSecretVersions("many")) listed.push(properties.version!);
    expect(listed.sort()).toEqual([...versions].sort());
    expect(kv.counters.secretList).toBe(2); // 25 + 2, following nextLink
    expect(kv.getSecretVersions("many").map((v) => v.value)).toEqual(versions.map((_, i) => `value-${i}`));
  });

  it("lists secrets without their values", async () => {
    kv.setSecret("listed-a", "a");
    const response = await raw("GET", "/secrets?api-version=7.5", { token: TOKEN });
    const body = JSON.parse(response.body) as { value: Array<{ id: string; value?: string }> };
    expect(body.value.map((item) => item.id)).toContain(`${kv.vaultUrl}/secrets/listed-a`);
    expect(body.value.every((item) => item.value === undefined)).toBe(true);
  });

  it("returns expired secrets as Key Vault does, but refuses a disabled one with 403 SecretDisabled", async () => {
    const client = secretClient();
    await client.setSecret("expired", "old", { expiresOn: new Date(Date.now() - 3_600_000) });
    expect((await client.getSecret("expired")).value).toBe("old");

    const disabled = await client.setSecret("disabled", "hidden", { enabled: false });
    const error = await client.getSecret("disabled").catch((e: unknown) => e);
    expect(error).toMatchObject({ statusCode: 403, code: "Forbidden" });
    expect((error as Error).message).not.toContain("hidden");

    await client.updateSecretProperties("disabled", disabled.properties.version!, { enabled: true });
    expect((await client.getSecret("disabled")).value).toBe("hidden");
  });

  it("stamps attributes with the injected clock", async () => {
    const fixed = Date.parse("2030-01-02T03:04:05Z");
    const clocked = await startKeyVaultStandIn({ now: () => fixed });
    try {
      const client = new SecretClient(clocked.url, staticCredential(), {
        disableChallengeResourceVerification: true,
        tlsOptions: { ca: clocked.caPem },
      });
      const set = await client.setSecret("clocked", "v");
      expect(set.properties.createdOn).toEqual(new Date(fixed));
      expect(clocked.getSecretVersions("clocked")[0]?.updated).toEqual(new Date(fixed));
    } finally {
      await clocked.close();
    }
  });
});

describe("Key Vault stand-in: clock and logging", () => {
  it("refuses to sign with a certificate key once the injected clock is past the certificate's expiry", async () => {
    let nowMs = Date.now();
    const clocked = await startKeyVaultStandIn({ now: () => nowMs });
    try {
      const imported = clocked.importCertificate("expiring", { privateKey: leaf.privateKey, certificateDer: leaf.certificateDer });
      const crypto = new CryptographyClient(imported.keyId, staticCredential(), {
        disableChallengeResourceVerification: true,
        tlsOptions: { ca: clocked.caPem },
      });
      const digest = createHash("sha256").update("x").digest();
      await expect(crypto.sign("RS256", digest)).resolves.toBeDefined();

      nowMs = Date.parse(leaf.x509.validTo) + 1000;
      const error = await crypto.sign("RS256", digest).catch((e: unknown) => e);
      expect(error).toMatchObject({ statusCode: 403, code: "Forbidden" });
    } finally {
      await clocked.close();
    }
  });

  it("logs one line per request without tokens or secret values", async () => {
    const lines: string[] = [];
    const logged = await startKeyVaultStandIn({ log: (line) => lines.push(line) });
    try {
      const client = new SecretClient(logged.url, staticCredential("very-secret-bearer"), {
        disableChallengeResourceVerification: true,
        tlsOptions: { ca: logged.caPem },
      });
      await client.setSecret("logged", "very-secret-value");
      await client.getSecret("logged");
      expect(lines).toHaveLength(3); // challenge, set, get
      expect(lines.join("\n")).not.toMatch(/very-secret/);
    } finally {
      await logged.close();
    }
  });
});

describe("Key Vault stand-in: faults and counters", () => {
  it("retries an injected 429 with Retry-After, then succeeds", async () => {
    kv.setSecret("throttled", "value");
    const client = secretClient();
    await client.getSecret("throttled"); // complete the challenge first
    kv.resetCounters();
    const fault = kv.injectFault({ match: "secretGet", action: { type: "status", status: 429 } });

    const secret = await client.getSecret("throttled");

    expect(secret.value).toBe("value");
    expect(fault.fired).toBe(1);
    expect(kv.counters).toMatchObject({ throttled: 1, secretGet: 1, challenge: 0 });
  });

  it("sends Retry-After and Throttled on an injected 429", async () => {
    kv.injectFault({ match: "any", action: { type: "status", status: 429, retryAfterSeconds: 7 } });
    const response = await raw("GET", "/secrets/whatever?api-version=7.5", { token: TOKEN });
    expect(response.status).toBe(429);
    expect(response.headers["retry-after"]).toBe("7");
    expect(JSON.parse(response.body)).toMatchObject({ error: { code: "Throttled" } });
  });

  it("recovers from one connection reset, and fails when resets persist", async () => {
    kv.setSecret("flaky", "value");
    const client = secretClient();
    await client.getSecret("flaky");
    kv.resetCounters();

    kv.injectFault({ match: "secretGet", action: { type: "reset" } });
    expect((await client.getSecret("flaky")).value).toBe("value");
    expect(kv.counters).toMatchObject({ reset: 1, secretGet: 1 });

    kv.injectFault({ match: "secretGet", action: { type: "reset" }, times: 10 });
    await expect(client.getSecret("flaky")).rejects.toThrow();
    expect(kv.counters.reset).toBe(1 + 4); // first attempt + maxRetries 3
  });

  it("scopes a fault to one name and to a number of times", async () => {
    kv.setSecret("target", "t");
    kv.setSecret("bystander", "b");
    kv.injectFault({ match: "secretGet", name: "TARGET", action: { type: "status", status: 503, code: "ServiceUnavailable" }, times: 2 });

    const get = (name: string) => raw("GET", `/secrets/${name}?api-version=7.5`, { token: TOKEN });
    expect((await get("bystander")).status).toBe(200);
    expect((await get("target")).status).toBe(503);
    expect((await get("target")).status).toBe(503);
    expect((await get("target")).status).toBe(200);
    expect(kv.counters).toMatchObject({ faulted: 2, secretGet: 2 });
  });

  it("delays a request and then handles it normally", async () => {
    kv.setSecret("slow", "s");
    const fault = kv.injectFault({ match: "secretGet", action: { type: "delay", ms: 50 } });
    const response = await raw("GET", "/secrets/slow?api-version=7.5", { token: TOKEN });
    expect(response.status).toBe(200);
    expect(fault.fired).toBe(1);
    expect(kv.counters.secretGet).toBe(1);
  });

  it("closes promptly with keep-alive connections open and a delayed request pending", async () => {
    const other = await startKeyVaultStandIn();
    other.setSecret("s", "v");
    const client = new SecretClient(other.url, staticCredential(), {
      disableChallengeResourceVerification: true,
      tlsOptions: { ca: other.caPem },
      retryOptions: { maxRetries: 0 },
    });
    await client.getSecret("s"); // leaves a keep-alive connection behind
    other.injectFault({ match: "secretGet", action: { type: "delay", ms: 60_000 } });
    const pending = client.getSecret("s").catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 20));

    await other.close();

    expect(await pending).toBeInstanceOf(Error);
  });
});
