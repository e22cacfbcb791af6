import { createHash, X509Certificate } from "node:crypto";
import { Agent, request as httpRequest } from "node:http";
import { createLocalJWKSet, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEntraStandIn, type EntraStandIn } from "../../sandbox/entra/standin.js";
import { decodeJson, segments } from "../auth/helpers.js";

const CLIENT = { clientId: "3f2a9c1e-5b7d-4e8f-a0b1-c2d3e4f5a6b7", clientSecret: "s3cret~value.with-chars" };
const ROLE = "Token.Read.default";

let standIn: EntraStandIn;

beforeAll(async () => {
  standIn = await startEntraStandIn();
  standIn.registerClient({ ...CLIENT, roles: { [standIn.audienceUris[0]!]: [ROLE] } });
});
afterAll(async () => {
  await standIn.close();
});

async function postToken(fields: Record<string, string>, headers: Record<string, string> = {}) {
  const response = await fetch(standIn.tokenUrl, { method: "POST", body: new URLSearchParams(fields), headers });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function jwks() {
  return (await (await fetch(standIn.jwksUri)).json()) as { keys: Array<Record<string, unknown> & { kid: string }> };
}

describe("discovery", () => {
  it("serves v2.0 metadata whose issuer and endpoints are the stand-in's own", async () => {
    const before = standIn.metadataRequests;
    const response = await fetch(standIn.metadataUrl);
    const metadata = (await response.json()) as Record<string, unknown>;
    expect(response.status).toBe(200);
    expect(standIn.issuer).toBe(`${standIn.authorityHost}/${standIn.tenantId}/v2.0`);
    expect(standIn.authorityHost).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(metadata).toMatchObject({
      issuer: standIn.issuer,
      jwks_uri: `${standIn.authorityHost}/${standIn.tenantId}/discovery/v2.0/keys`,
      token_endpoint: `${standIn.authorityHost}/${standIn.tenantId}/oauth2/v2.0/token`,
      id_token_signing_alg_values_supported: ["RS256"],
    });
    expect(standIn.metadataRequests).toBe(before + 1);
  });

  it("publishes RSA signing keys with kid = x5t = SHA-1 thumbprint of the x5c certificate", async () => {
    const before = standIn.jwksRequests;
    const { keys } = await jwks();
    expect(standIn.jwksRequests).toBe(before + 1);
    expect(keys.length).toBeGreaterThanOrEqual(1);
    for (const key of keys) {
      expect(key).toMatchObject({ kty: "RSA", use: "sig", e: "AQAB", issuer: standIn.issuer });
      const der = Buffer.from((key["x5c"] as string[])[0]!, "base64");
      expect(key["x5t"]).toBe(createHash("sha1").update(der).digest("base64url"));
      expect(key.kid).toBe(key["x5t"]);
      // The certificate holds the same public key as n/e.
      const fromCertificate = new X509Certificate(der).publicKey.export({ format: "jwk" });
      expect(fromCertificate.n).toBe(key["n"]);
    }
  });

  it("answers unknown tenants with Entra's AADSTS90002 error", async () => {
    const response = await fetch(`${standIn.authorityHost}/00000000-0000-4000-8000-000000000000/discovery/v2.0/keys`);
    const body = (await response.json()) as Record<string, unknown>;
    expect(response.status).toBe(400);
    expect(body["error"]).toBe("invalid_tenant");
    expect(body["error_description"]).toMatch(/^AADSTS90002: /);
    expect(body["error_codes"]).toEqual([90002]);
  });
});

describe("client credentials token endpoint", () => {
  it("issues a v2.0 app-only access token with the claims Entra puts in one", async () => {
    const before = standIn.tokensIssued;
    const { status, body } = await postToken({
      grant_type: "client_credentials",
      client_id: CLIENT.clientId,
      client_secret: CLIENT.clientSecret,
      scope: `${standIn.audienceUris[0]}/.default`,
    });
    expect(status).toBe(200);
    expect(body).toMatchObject({ token_type: "Bearer", expires_in: 3600 });
    expect(standIn.tokensIssued).toBe(before + 1);

    const token = body["access_token"] as string;
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(await jwks()), {
      algorithms: ["RS256"],
      issuer: standIn.issuer,
      audience: standIn.audience,
    });
    expect(protectedHeader).toEqual({ typ: "JWT", alg: "RS256", kid: standIn.currentKid });
    expect(payload).toMatchObject({
      aud: standIn.audience, // the app id, even when the scope named the app id URI
      iss: standIn.issuer,
      tid: standIn.tenantId,
      azp: CLIENT.clientId,
      azpacr: "1",
      idtyp: "app",
      roles: [ROLE],
      ver: "2.0",
    });
    expect(payload.exp! - payload.iat!).toBe(3600);
    expect(payload.nbf).toBe(payload.iat);
    expect(payload.sub).toBe(payload["oid"]);
    expect(typeof payload["uti"]).toBe("string");
  });

  it("accepts client_secret_basic and the app id as resource; leaves roles out when none are assigned", async () => {
    const bare = standIn.registerClient({ clientSecret: "other-secret" });
    const basic = Buffer.from(`${encodeURIComponent(bare.clientId)}:${encodeURIComponent("other-secret")}`).toString("base64");
    const { status, body } = await postToken(
      { grant_type: "client_credentials", scope: `${standIn.audience}/.default` },
      { authorization: `Basic ${basic}` },
    );
    expect(status).toBe(200);
    const payload = decodeJson(segments(body["access_token"] as string)[1]);
    expect(payload["azp"]).toBe(bare.clientId);
    expect(payload["oid"]).toBe(bare.objectId);
    expect(payload).not.toHaveProperty("roles");
  });

  it.each([
    [
      "wrong secret",
      { client_id: CLIENT.clientId, client_secret: "wrong", scope: "api://x/.default" },
      401,
      "invalid_client",
      7000215,
    ],
    ["no secret", { client_id: CLIENT.clientId, scope: "api://x/.default" }, 401, "invalid_client", 7000218],
    ["unknown client", { client_id: "nobody", client_secret: "x", scope: "api://x/.default" }, 400, "unauthorized_client", 700016],
    ["no client_id", { client_secret: "x", scope: "api://x/.default" }, 400, "invalid_request", 900144],
    ["no scope", { client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret }, 400, "invalid_request", 900144],
  ])("refuses %s with Entra's error shape", async (_name, fields, status, error, code) => {
    const result = await postToken({ grant_type: "client_credentials", ...fields });
    expect(result.status).toBe(status);
    expect(result.body["error"]).toBe(error);
    expect(result.body["error_description"]).toMatch(new RegExp(`^AADSTS${code}: .*\\r\\nTrace ID: [0-9a-f-]{36}\\r\\nCorrelation ID: `, "s"));
    expect(result.body["error_codes"]).toEqual([code]);
    expect(result.body).toHaveProperty("trace_id");
    expect(JSON.stringify(result.body)).not.toContain(CLIENT.clientSecret);
  });

  it("refuses scopes that are not exactly one <resource>/.default, and unknown resources", async () => {
    const base = { grant_type: "client_credentials", client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret };
    const notDefault = await postToken({ ...base, scope: `${standIn.audienceUris[0]}/Token.Read` });
    expect(notDefault.status).toBe(400);
    expect(notDefault.body["error"]).toBe("invalid_scope");
    const unknown = await postToken({ ...base, scope: "api://somebody-else/.default" });
    expect(unknown.status).toBe(400);
    expect(unknown.body["error"]).toBe("invalid_resource");
    expect(unknown.body["error_codes"]).toEqual([500011]);
  });

  it("refuses other grant types and GET", async () => {
    const grant = await postToken({ grant_type: "password", client_id: CLIENT.clientId });
    expect(grant.status).toBe(400);
    expect(grant.body["error"]).toBe("unsupported_grant_type");
    const get = await fetch(standIn.tokenUrl);
    expect(get.status).toBe(405);
  });
});

describe("sandbox mint endpoint", () => {
  it("fills in the claims of a valid caller token, and nothing else", async () => {
    const response = await fetch(standIn.mintUrl, { method: "POST", body: "{}" });
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(["access_token"]);
    const token = body["access_token"] as string;
    const { payload } = await jwtVerify(token, createLocalJWKSet(await jwks()), {
      algorithms: ["RS256"],
      issuer: standIn.issuer,
      audience: standIn.audience,
    });
    expect(Object.keys(payload).sort()).toEqual(["aud", "azp", "exp", "iat", "iss", "nbf", "tid", "ver"]);
    expect(payload).toMatchObject({ tid: standIn.tenantId, azp: standIn.defaultCallerAppId, ver: "2.0" });
    expect(payload.exp! - payload.iat!).toBe(3600);
  });

  it("keeps given claims, drops claims given as null, and derives nbf/exp from a given iat", async () => {
    const token = standIn.mintToken({ roles: ["A", "B"], azp: "my-app", nbf: null, iat: 1_000_000, custom: { x: 1 } });
    const payload = decodeJson(segments(token)[1]);
    expect(payload).toMatchObject({ roles: ["A", "B"], azp: "my-app", iat: 1_000_000, exp: 1_003_600, custom: { x: 1 } });
    expect(payload).not.toHaveProperty("nbf");
  });

  it("lets the reserved _header member change what the header says, not how it is signed", async () => {
    const response = await fetch(standIn.mintUrl, {
      method: "POST",
      body: JSON.stringify({ _header: { kid: "forged-kid", typ: null, crit: ["exp"] }, roles: ["R"] }),
    });
    const token = ((await response.json()) as { access_token: string }).access_token;
    const [header, payload] = segments(token).map((segment, index) => (index < 2 ? decodeJson(segment) : segment));
    expect(header).toEqual({ alg: "RS256", kid: "forged-kid", crit: ["exp"] });
    expect(payload).not.toHaveProperty("_header");
  });

  it("refuses a body that is not a JSON object", async () => {
    for (const body of ["[1]", "not json", "null", JSON.stringify({ _header: "x" })]) {
      const response = await fetch(standIn.mintUrl, { method: "POST", body });
      expect(response.status).toBe(400);
    }
  });

  it("uses the injected clock", async () => {
    const clockStandIn = await startEntraStandIn({ now: () => Date.UTC(2030, 0, 1) });
    try {
      const payload = decodeJson(segments(clockStandIn.mintToken({}))[1]);
      expect(payload["iat"]).toBe(Date.UTC(2030, 0, 1) / 1000);
    } finally {
      await clockStandIn.close();
    }
  });
});

describe("key rotation", () => {
  it("signs with the new key and keeps the old one published until retired", async () => {
    const rotating = await startEntraStandIn();
    try {
      const oldKid = rotating.currentKid;
      const newKid = rotating.rotateKeys();
      expect(newKid).not.toBe(oldKid);
      expect(rotating.currentKid).toBe(newKid);
      const published = async () =>
        ((await (await fetch(rotating.jwksUri)).json()) as { keys: Array<{ kid: string }> }).keys.map((key) => key.kid);
      expect(await published()).toEqual([newKid, oldKid]);
      expect(decodeJson(segments(rotating.mintToken({}))[0])["kid"]).toBe(newKid);
      rotating.retireOldKeys();
      expect(await published()).toEqual([newKid]);
    } finally {
      await rotating.close();
    }
  });
});

describe("close", () => {
  it("resolves with a keep-alive connection still open", async () => {
    const closing = await startEntraStandIn();
    const agent = new Agent({ keepAlive: true });
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest(closing.jwksUri, { agent }, (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        });
        req.on("error", reject);
        req.end();
      });
      expect(status).toBe(200);
      await closing.close();
      await expect(fetch(closing.jwksUri)).rejects.toThrow();
    } finally {
      agent.destroy();
    }
  });
});
