import { createHash, X509Certificate } from "node:crypto";
import { Agent, request as httpsRequest } from "node:https";
import { createLocalJWKSet, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEntraAccessTokenCheck } from "../../sandbox/entra/access-token-check.js";
import type { EnabledManagedIdentity } from "../../sandbox/entra/managed-identity.js";
import { startEntraStandIn, type EntraStandIn } from "../../sandbox/entra/standin.js";
import { decodeJson, segments, verifierFor } from "../auth/helpers.js";

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
  const response = await standIn.fetch(standIn.tokenUrl, { method: "POST", body: new URLSearchParams(fields), headers });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function jwks() {
  return (await (await standIn.fetch(standIn.jwksUri)).json()) as { keys: Array<Record<string, unknown> & { kid: string }> };
}

describe("discovery", () => {
  it("serves v2.0 metadata whose issuer and endpoints are the stand-in's own", async () => {
    const before = standIn.metadataRequests;
    const response = await standIn.fetch(standIn.metadataUrl);
    const metadata = (await response.json()) as Record<string, unknown>;
    expect(response.status).toBe(200);
    expect(standIn.issuer).toBe(`${standIn.authorityHost}/${standIn.tenantId}/v2.0`);
    expect(standIn.authorityHost).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
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
    const response = await standIn.fetch(`${standIn.authorityHost}/00000000-0000-4000-8000-000000000000/discovery/v2.0/keys`);
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
    ["wrong secret", { client_id: CLIENT.clientId, client_secret: "wrong", scope: "api://x/.default" }, 401, "invalid_client", 7000215],
    ["no secret", { client_id: CLIENT.clientId, scope: "api://x/.default" }, 401, "invalid_client", 7000218],
    ["unknown client", { client_id: "nobody", client_secret: "x", scope: "api://x/.default" }, 400, "unauthorized_client", 700016],
    ["no client_id", { client_secret: "x", scope: "api://x/.default" }, 400, "invalid_request", 900144],
    ["no scope", { client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret }, 400, "invalid_request", 900144],
  ])("refuses %s with Entra's error shape", async (_name, fields, status, error, code) => {
    const result = await postToken({ grant_type: "client_credentials", ...fields });
    expect(result.status).toBe(status);
    expect(result.body["error"]).toBe(error);
    expect(result.body["error_description"]).toMatch(
      new RegExp(`^AADSTS${code}: .*\\r\\nTrace ID: [0-9a-f-]{36}\\r\\nCorrelation ID: `, "s"),
    );
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

  it("ignores the OIDC scopes MSAL for Java and Go add beside one /.default, as Entra does", async () => {
    const base = { grant_type: "client_credentials", client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret };
    const withOidc = await postToken({ ...base, scope: `openid ${standIn.audienceUris[0]}/.default profile offline_access` });
    expect(withOidc.status).toBe(200);
    expect(decodeJson(segments(String(withOidc.body["access_token"]))[1])).toMatchObject({ aud: standIn.audience, roles: [ROLE] });
    // They do not stand in for the /.default, nor make room for a second resource.
    const onlyOidc = await postToken({ ...base, scope: "openid profile offline_access" });
    expect(onlyOidc.body["error"]).toBe("invalid_scope");
    const two = await postToken({ ...base, scope: `${standIn.audienceUris[0]}/.default https://vault.azure.net/.default openid` });
    expect(two.body["error"]).toBe("invalid_scope");
  });

  it("serves TLS with a certificate for 127.0.0.1 that chains to caPem, and nothing over plain HTTP", async () => {
    const certificate = await new Promise<X509Certificate>((resolve, reject) => {
      const req = httpsRequest(standIn.jwksUri, { ca: standIn.caPem, agent: false }, (res) => {
        res.resume();
        resolve(new X509Certificate((res.socket as import("node:tls").TLSSocket).getPeerCertificate().raw));
      });
      req.on("error", reject);
      req.end();
    });
    expect(certificate.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(certificate.verify(new X509Certificate(standIn.caPem).publicKey)).toBe(true);
    // Not trusted without the CA: a client must be told (tlsOptions.ca), nothing is trusted globally.
    await expect(fetch(standIn.jwksUri)).rejects.toThrow();
    await expect(fetch(standIn.jwksUri.replace("https:", "http:"))).rejects.toThrow();
  });

  it("refuses other grant types and GET", async () => {
    const grant = await postToken({ grant_type: "password", client_id: CLIENT.clientId });
    expect(grant.status).toBe(400);
    expect(grant.body["error"]).toBe("unsupported_grant_type");
    const get = await standIn.fetch(standIn.tokenUrl);
    expect(get.status).toBe(405);
  });
});

describe("sandbox mint endpoint", () => {
  it("fills in the claims of a valid caller token, and nothing else", async () => {
    const response = await standIn.fetch(standIn.mintUrl, { method: "POST", body: "{}" });
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
    const response = await standIn.fetch(standIn.mintUrl, {
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
      const response = await standIn.fetch(standIn.mintUrl, { method: "POST", body });
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
        ((await (await rotating.fetch(rotating.jwksUri)).json()) as { keys: Array<{ kid: string }> }).keys.map((key) => key.kid);
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
        const req = httpsRequest(closing.jwksUri, { agent, ca: closing.caPem }, (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        });
        req.on("error", reject);
        req.end();
      });
      expect(status).toBe(200);
      await closing.close();
      await expect(closing.fetch(closing.jwksUri)).rejects.toThrow();
    } finally {
      agent.destroy();
    }
  });
});

const KEY_VAULT = "https://vault.azure.net";
const KEY_VAULT_APP_ID = "cfa8b339-82a2-471a-a3c9-0fc0be7a4093";

describe("App Service managed identity endpoint", () => {
  let system: EnabledManagedIdentity;
  let user: EnabledManagedIdentity;

  beforeAll(() => {
    standIn.registerResource({ appId: KEY_VAULT_APP_ID, identifierUris: [KEY_VAULT] });
    system = standIn.enableManagedIdentity();
    user = standIn.enableManagedIdentity({ userAssigned: true, name: "id-workload", roles: { [standIn.audience]: [ROLE] } });
  });

  /** A request as MSAL's App Service source sends it; `query` members set to null are left out. */
  async function requestToken(query: Record<string, string | null>, header: string | null = system.env.IDENTITY_HEADER, method = "GET") {
    const url = new URL(system.env.IDENTITY_ENDPOINT);
    for (const [name, value] of Object.entries({ "api-version": "2019-08-01", resource: KEY_VAULT, ...query })) {
      if (value !== null) url.searchParams.set(name, value);
    }
    const response = await fetch(url, { method, headers: header === null ? {} : { "X-IDENTITY-HEADER": header } });
    return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
  }

  it("gives every identity of the app the same IDENTITY_ENDPOINT and IDENTITY_HEADER", () => {
    // Plain HTTP on a port of its own, as App Service serves it on the instance.
    expect(system.env.IDENTITY_ENDPOINT).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/msi\/token$/);
    expect(system.env.IDENTITY_ENDPOINT.startsWith(standIn.authorityHost)).toBe(false);
    expect(standIn.managedIdentityEndpoint).toBe(system.env.IDENTITY_ENDPOINT);
    expect(system.env.IDENTITY_HEADER).toMatch(/^[0-9a-f-]{36}$/);
    expect(user.env).toEqual(system.env);
    expect(system.kind).toBe("system-assigned");
    expect(user.kind).toBe("user-assigned");
  });

  it("issues the system-assigned identity's v1.0 token when the request names no identity", async () => {
    const before = { all: standIn.managedIdentityTokensIssued, system: standIn.managedIdentityTokensIssuedFor(system.clientId) };
    const { status, headers, body } = await requestToken({});
    expect(status).toBe(200);
    expect(headers.get("content-type")).toMatch(/^application\/json/);
    expect(Object.keys(body).sort()).toEqual(["access_token", "client_id", "expires_on", "resource", "token_type"]);
    expect(body).toMatchObject({ resource: KEY_VAULT, token_type: "Bearer", client_id: system.clientId });
    expect(body["expires_on"]).toMatch(/^\d+$/); // epoch seconds, as a string

    const { payload, protectedHeader } = await jwtVerify(body["access_token"] as string, createLocalJWKSet(await jwks()), {
      algorithms: ["RS256"],
      issuer: standIn.v1Issuer,
      audience: KEY_VAULT,
    });
    expect(protectedHeader).toEqual({ typ: "JWT", alg: "RS256", kid: standIn.currentKid });
    expect(Object.keys(payload).sort()).toEqual([
      "aio",
      "appid",
      "appidacr",
      "aud",
      "exp",
      "iat",
      "idp",
      "idtyp",
      "iss",
      "nbf",
      "oid",
      "rh",
      "sub",
      "tid",
      "uti",
      "ver",
      "xms_mirid",
    ]);
    expect(payload).toMatchObject({
      iss: `${standIn.authorityHost}/${standIn.tenantId}/`,
      idp: standIn.v1Issuer,
      appid: system.clientId,
      appidacr: "2",
      idtyp: "app",
      oid: system.objectId,
      sub: system.objectId,
      tid: standIn.tenantId,
      ver: "1.0",
      xms_mirid: system.resourceId,
    });
    expect(system.resourceId).toMatch(/^\/subscriptions\/[0-9a-f-]{36}\/resourcegroups\/[^/]+\/providers\/Microsoft\.Web\/sites\/[^/]+$/);
    expect(payload.exp).toBe(Number(body["expires_on"]));
    expect(payload.nbf).toBe(payload.iat);
    expect(payload.exp! - payload.iat!).toBe(86_400 + 300);
    expect(standIn.managedIdentityTokensIssued).toBe(before.all + 1);
    expect(standIn.managedIdentityTokensIssuedFor(system.clientId)).toBe(before.system + 1);
  });

  it.each([
    ["client_id", () => user.clientId.toUpperCase()],
    ["object_id", () => user.objectId],
    ["principal_id", () => user.objectId],
    ["mi_res_id", () => user.resourceId],
  ])("issues a user-assigned identity's token when the request names it by %s", async (selector, value) => {
    const { status, body } = await requestToken({ [selector]: value() });
    expect(status).toBe(200);
    expect(body["client_id"]).toBe(user.clientId);
    const payload = decodeJson(segments(body["access_token"] as string)[1]);
    expect(payload).toMatchObject({ appid: user.clientId, oid: user.objectId, xms_mirid: user.resourceId });
    expect(user.resourceId).toMatch(/\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/id-workload$/);
    expect(payload).not.toHaveProperty("roles"); // its roles are on the broker's API, not on Key Vault
  });

  it("puts the identity's app roles on the resource it asked for in the token, which the broker's caller verifier takes", async () => {
    const { status, body } = await requestToken({ resource: standIn.audienceUris[0]!, client_id: user.clientId });
    expect(status).toBe(200);
    expect(body["resource"]).toBe(standIn.audienceUris[0]);
    const token = body["access_token"] as string;
    expect(decodeJson(segments(token)[1])).toMatchObject({ aud: standIn.audienceUris[0], roles: [ROLE] });
    // A workload's managed identity calling the broker's HTTP API is a real caller.
    const caller = await verifierFor(standIn).verify(`Bearer ${token}`);
    expect(caller).toMatchObject({ appId: user.clientId, objectId: user.objectId, roles: [ROLE] });
  });

  it("keeps a trailing slash of the resource in aud, as Entra does (and Key Vault then refuses the token)", async () => {
    const { status, body } = await requestToken({ resource: `${KEY_VAULT}/` });
    expect(status).toBe(200);
    expect(body["resource"]).toBe(`${KEY_VAULT}/`);
    const token = body["access_token"] as string;
    expect(decodeJson(segments(token)[1])["aud"]).toBe(`${KEY_VAULT}/`);
    expect(await createEntraAccessTokenCheck(standIn, { audiences: [KEY_VAULT, KEY_VAULT_APP_ID] })(token)).toBe(false);
  });

  it.each([
    ["no X-IDENTITY-HEADER", {}, null, 401, /X-IDENTITY-HEADER/],
    ["a wrong X-IDENTITY-HEADER", {}, "5e29463d-71da-4fe0-8e69-999b57db23b0", 401, /X-IDENTITY-HEADER/],
    ["no api-version", { "api-version": null }, undefined, 400, /api-version/],
    ["api-version 2017-09-01 (the old protocol)", { "api-version": "2017-09-01" }, undefined, 400, /2017-09-01/],
    ["no resource", { resource: null }, undefined, 400, /resource/],
    [
      "an unknown resource",
      { resource: "https://storage.azure.com" },
      undefined,
      400,
      /^AADSTS500011: The resource principal named https:\/\/storage\.azure\.com /,
    ],
    [
      "an unknown user-assigned client id",
      { client_id: "00000000-0000-4000-8000-000000000000" },
      undefined,
      400,
      /^Unable to load the proper Managed Identity\.$/,
    ],
    ["two identity selectors", { client_id: "a", object_id: "b" }, undefined, 400, /client_id and object_id/],
  ] as const)("refuses %s in the token endpoint's error shape", async (_name, query, header, status, message) => {
    const before = { issued: standIn.managedIdentityTokensIssued, refused: standIn.managedIdentityRequestsRefused };
    const result = await requestToken(query, header === undefined ? system.env.IDENTITY_HEADER : header);
    expect(result.status).toBe(status);
    expect(Object.keys(result.body).sort()).toEqual(["correlationId", "message", "statusCode"]);
    expect(result.body["statusCode"]).toBe(status);
    expect(result.body["message"]).toMatch(message);
    expect(result.body["correlationId"]).toBe(result.headers.get("x-correlation-id"));
    expect(JSON.stringify(result.body)).not.toContain(system.env.IDENTITY_HEADER);
    expect(standIn.managedIdentityRequestsRefused).toBe(before.refused + 1);
    expect(standIn.managedIdentityTokensIssued).toBe(before.issued);
  });

  it("answers only GET", async () => {
    const result = await requestToken({}, system.env.IDENTITY_HEADER, "POST");
    expect(result.status).toBe(405);
    expect(result.body["statusCode"]).toBe(405);
  });

  it("allows one system-assigned identity per app and one identity per client id", () => {
    expect(() => standIn.enableManagedIdentity()).toThrow(/already has a system-assigned identity/);
    expect(() => standIn.enableManagedIdentity({ userAssigned: true, clientId: user.clientId })).toThrow(/already enabled/);
  });

  it("refuses a request that names no identity when the app has only user-assigned ones", async () => {
    const userOnly = await startEntraStandIn();
    try {
      const identity = userOnly.enableManagedIdentity({ userAssigned: true });
      userOnly.registerResource({ appId: KEY_VAULT_APP_ID, identifierUris: [KEY_VAULT] });
      const url = `${identity.env.IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=${encodeURIComponent(KEY_VAULT)}`;
      const headers = { "X-IDENTITY-HEADER": identity.env.IDENTITY_HEADER };
      const unnamed = await fetch(url, { headers });
      expect(unnamed.status).toBe(400);
      expect(((await unnamed.json()) as Record<string, unknown>)["message"]).toBe("Unable to load the proper Managed Identity.");
      const named = await fetch(`${url}&client_id=${identity.clientId}`, { headers });
      expect(named.status).toBe(200);
    } finally {
      await userOnly.close();
    }
  });

  it("dates iat/nbf five minutes back and expires a day after issue, on the injected clock", async () => {
    const issuedAtMs = Date.UTC(2030, 0, 1);
    const clocked = await startEntraStandIn({ now: () => issuedAtMs });
    try {
      const identity = clocked.enableManagedIdentity();
      clocked.registerResource({ appId: KEY_VAULT_APP_ID, identifierUris: [KEY_VAULT] });
      const response = await fetch(`${identity.env.IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=${encodeURIComponent(KEY_VAULT)}`, {
        headers: { "X-IDENTITY-HEADER": identity.env.IDENTITY_HEADER },
      });
      const body = (await response.json()) as Record<string, unknown>;
      const issuedAt = issuedAtMs / 1000;
      expect(body["expires_on"]).toBe(String(issuedAt + 86_400));
      expect(decodeJson(segments(body["access_token"] as string)[1])).toMatchObject({
        iat: issuedAt - 300,
        nbf: issuedAt - 300,
        exp: issuedAt + 86_400,
      });
    } finally {
      await clocked.close();
    }
  });
});

describe("createEntraAccessTokenCheck (what Key Vault checks)", () => {
  const audiences = [KEY_VAULT, KEY_VAULT_APP_ID];
  const check = (token: string) => createEntraAccessTokenCheck(standIn, { audiences })(token);
  const nowSeconds = () => Math.floor(Date.now() / 1000);

  it("accepts a v1.0 token for https://vault.azure.net and a v2.0 client-credentials token for Key Vault's app id", async () => {
    expect(await check(standIn.mintToken({ iss: standIn.v1Issuer, ver: "1.0", aud: KEY_VAULT, appid: CLIENT.clientId }))).toBe(true);
    const { status, body } = await postToken({
      grant_type: "client_credentials",
      client_id: CLIENT.clientId,
      client_secret: CLIENT.clientSecret,
      scope: `${KEY_VAULT}/.default`,
    });
    expect(status).toBe(200);
    const token = body["access_token"] as string;
    expect(decodeJson(segments(token)[1])["aud"]).toBe(KEY_VAULT_APP_ID);
    expect(await check(token)).toBe(true);
  });

  it.each([
    ["another audience", () => standIn.mintToken({ aud: standIn.audience })],
    ["an audience that differs only by a trailing slash", () => standIn.mintToken({ aud: `${KEY_VAULT}/` })],
    [
      "an expired token (beyond 5 min skew)",
      () => standIn.mintToken({ aud: KEY_VAULT, iat: nowSeconds() - 7200, exp: nowSeconds() - 301 }),
    ],
    ["a token not valid yet", () => standIn.mintToken({ aud: KEY_VAULT, nbf: nowSeconds() + 3600 })],
    ["no exp", () => standIn.mintToken({ aud: KEY_VAULT, exp: null })],
    ["another tenant's tid", () => standIn.mintToken({ aud: KEY_VAULT, tid: "9d3c5b1a-0e2f-4a6b-8c7d-1e2f3a4b5c6d" })],
    ["no tid", () => standIn.mintToken({ aud: KEY_VAULT, tid: null })],
    ["another issuer", () => standIn.mintToken({ aud: KEY_VAULT, iss: "https://sts.windows.net/" + standIn.tenantId + "/" })],
    ["a header that lies about its algorithm", () => standIn.mintToken({ aud: KEY_VAULT, _header: { alg: "RS512" } })],
    ["an unknown kid", () => standIn.mintToken({ aud: KEY_VAULT, _header: { kid: "nope" } })],
    [
      "an unsigned token",
      () => `${Buffer.from('{"alg":"none"}').toString("base64url")}.${segments(standIn.mintToken({ aud: KEY_VAULT }))[1]}.`,
    ],
    ["not a JWT at all", () => "sandbox-access-token"],
  ])("refuses %s", async (_name, token) => {
    expect(await check(token())).toBe(false);
  });

  it("refuses a token signed by another stand-in for the same tenant", async () => {
    const impostor = await startEntraStandIn({ tenantId: standIn.tenantId });
    try {
      expect(await check(impostor.mintToken({ iss: standIn.issuer, aud: KEY_VAULT }))).toBe(false);
    } finally {
      await impostor.close();
    }
  });

  it("uses the injected clock", async () => {
    const token = standIn.mintToken({ aud: KEY_VAULT });
    const later = createEntraAccessTokenCheck(standIn, { audiences, now: () => Date.now() + 2 * 3600_000 });
    expect(await later(token)).toBe(false);
  });

  it("throws, rather than answering no, when the key set cannot be fetched", async () => {
    const gone = await startEntraStandIn();
    const token = gone.mintToken({ aud: KEY_VAULT });
    const goneCheck = createEntraAccessTokenCheck(gone, { audiences });
    await gone.close();
    await expect(goneCheck(token)).rejects.toThrow();
  });
});
