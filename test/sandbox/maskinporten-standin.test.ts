/**
 * The Maskinporten stand-in against grants crafted by hand: jose where it will sign what we want,
 * hand-assembled JWS where it refuses (alg none, x5c as a string, duplicate claims). Real HTTP
 * to 127.0.0.1 on a random port.
 */
import { createHmac, generateKeyPairSync, randomUUID, sign, type KeyObject } from "node:crypto";
import { connect } from "node:net";
import { once } from "node:events";
import { createLocalJWKSet, jwtVerify, SignJWT, type JWTPayload } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { generateRsaKeyPair, issueCertificate, issueEnterpriseCertificate, type IssuedCertificate } from "../../sandbox/pki.js";
import { registeredCertificateKid, startMaskinportenStandIn, type MaskinportenStandIn } from "../../sandbox/maskinporten/index.js";

const ORG = "910000001";
const OTHER_ORG = "910000009";
const DELEGATING_ORG = "920000002";
const RESOURCE = "https://api.example.no/";
const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const TRACE_ID_SUFFIX = / \(trace_id: [0-9a-f]{32}\)$/;

let standIn: MaskinportenStandIn;
let enterprise: ReturnType<typeof issueEnterpriseCertificate>;
let kidKey: { privateKey: KeyObject; publicKey: KeyObject };

beforeAll(async () => {
  enterprise = issueEnterpriseCertificate({ organisationNumber: ORG });
  kidKey = generateRsaKeyPair();
  standIn = await startMaskinportenStandIn({ trustedRoots: [enterprise.root.certificateDer] });
  standIn.registerClient({
    clientId: "x5c-client",
    organisationNumber: ORG,
    scopes: ["test:read", "test:write"],
    tokenLifetimeSeconds: 599,
    allowedResources: [RESOURCE],
    consumerOrgs: [DELEGATING_ORG],
  });
  standIn.registerClient({ clientId: "kid-client", organisationNumber: ORG, scopes: ["test:read"], keys: { "key-1": kidKey.publicKey } });
  standIn.registerClient({ clientId: "opaque-client", organisationNumber: ORG, scopes: ["test:read"], tokenFormat: "opaque" });
});
afterAll(async () => {
  await standIn.close();
});
afterEach(() => {
  standIn.clearFaults();
});

// ---------------------------------------------------------------------------------------------
// Grant crafting

type Claims = Record<string, unknown>;

/** A valid claim set for `clientId` at `nowMs`; an override of `undefined` removes the claim. */
function claimsFor(clientId: string, overrides: Claims = {}, nowMs = Date.now()): Claims {
  const iat = Math.floor(nowMs / 1000);
  const claims: Claims = { aud: standIn.issuer, iss: clientId, scope: "test:read", iat, exp: iat + 60, jti: randomUUID() };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) delete claims[name];
    else claims[name] = value;
  }
  return claims;
}

function x5cOf(...certificates: IssuedCertificate[]): string[] {
  return certificates.map((c) => c.certificateDer.toString("base64"));
}

/** The usual enterprise-certificate grant, signed by jose. */
function x5cGrant(claims: Claims, options: { alg?: string; key?: KeyObject; x5c?: unknown } = {}): Promise<string> {
  return new SignJWT(claims as JWTPayload)
    .setProtectedHeader({ alg: options.alg ?? "RS256", x5c: (options.x5c ?? x5cOf(enterprise.leaf, enterprise.intermediate)) as string[] })
    .sign(options.key ?? enterprise.leaf.privateKey);
}

function kidGrant(claims: Claims, kid = "key-1", key = kidKey.privateKey): Promise<string> {
  return new SignJWT(claims as JWTPayload).setProtectedHeader({ alg: "RS256", kid }).sign(key);
}

/** A JWS assembled from raw JSON text, for what jose will not produce. */
function handAssembled(headerJson: string, payloadJson: string, signer: (input: Buffer) => Buffer = () => Buffer.alloc(0)): string {
  const input = `${Buffer.from(headerJson).toString("base64url")}.${Buffer.from(payloadJson).toString("base64url")}`;
  return `${input}.${signer(Buffer.from(input)).toString("base64url")}`;
}

const rs256 = (key: KeyObject) => (input: Buffer) => sign("sha256", input, key);

async function postGrant(assertion: string, init: { contentType?: string; grantType?: string; body?: string } = {}) {
  const body = init.body ?? new URLSearchParams({ grant_type: init.grantType ?? JWT_BEARER, assertion }).toString();
  const response = await fetch(standIn.tokenEndpoint, {
    method: "POST",
    headers: { "content-type": init.contentType ?? "application/x-www-form-urlencoded" },
    body,
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: parseObject(text) };
}

function parseObject(text: string): Record<string, unknown> {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return {};
  }
}

/** Asserts a Digdir-shaped rejection and returns its description without the trace id. */
async function expectRejected(
  assertion: string | Promise<string>,
  status: number,
  error: string,
  init?: Parameters<typeof postGrant>[1],
): Promise<string> {
  const answer = await postGrant(await assertion, init);
  expect(answer.body).toMatchObject({ error });
  expect(answer.status).toBe(status);
  const description = answer.body.error_description as string;
  expect(description).toMatch(TRACE_ID_SUFFIX);
  return description.replace(TRACE_ID_SUFFIX, "");
}

/** The stand-in's own (precise) reason for the last rejection, to pin down *why* it refused. */
function lastReason(): string | undefined {
  return standIn.grants.at(-1)?.reason;
}

// ---------------------------------------------------------------------------------------------

describe("metadata", () => {
  it("serves the RFC 8414 document Maskinporten serves, with its own issuer (trailing slash kept)", async () => {
    const response = await fetch(standIn.metadataUrl);
    expect(response.status).toBe(200);
    expect(standIn.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(standIn.metadataUrl).toBe(`${standIn.issuer}.well-known/oauth-authorization-server`);
    expect(await response.json()).toEqual({
      issuer: standIn.issuer,
      token_endpoint: `${standIn.issuer}token`,
      jwks_uri: `${standIn.issuer}jwk`,
      token_endpoint_auth_methods_supported: ["private_key_jwt"],
      grant_types_supported: [JWT_BEARER],
      token_endpoint_auth_signing_alg_values_supported: ["RS256", "RS384", "RS512"],
      authorization_details_types_supported: ["urn:altinn:systemuser", "urn:altinn:consent"],
    });
  });

  it("publishes the public key that signs issued tokens, and only the public part", async () => {
    const { keys } = (await (await fetch(standIn.jwksUri)).json()) as { keys: Array<Record<string, unknown>> };
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ kty: "RSA", use: "sig", alg: "RS256", kid: standIn.signingJwk.kid });
    expect(keys[0]).not.toHaveProperty("d");
  });
});

describe("valid grants get a token", () => {
  it("x5c grant: 200 with the registered lifetime and a JWT that verifies against the JWKS", async () => {
    const claims = claimsFor("x5c-client", { scope: "test:read test:write" });
    const answer = await postGrant(await x5cGrant(claims));

    expect(answer.status).toBe(200);
    expect(answer.headers.get("cache-control")).toBe("no-store");
    expect(Object.keys(answer.body).sort()).toEqual(["access_token", "expires_in", "scope", "token_type"]);
    // The grant lived 60 s; the client registration says 599.
    expect(answer.body).toMatchObject({ token_type: "Bearer", expires_in: 599, scope: "test:read test:write" });

    const jwks = createLocalJWKSet((await (await fetch(standIn.jwksUri)).json()) as { keys: [] });
    const { payload, protectedHeader } = await jwtVerify(answer.body.access_token as string, jwks, { issuer: standIn.issuer });
    expect(protectedHeader).toEqual({ kid: standIn.signingJwk.kid, alg: "RS256" });
    expect(payload).toMatchObject({
      iss: standIn.issuer,
      client_amr: "virksomhetssertifikat",
      token_type: "Bearer",
      aud: "unspecified",
      scope: "test:read test:write",
      client_id: "x5c-client",
      consumer: { authority: "iso6523-actorid-upis", ID: `0192:${ORG}` },
    });
    expect(payload.exp! - payload.iat!).toBe(599);
    expect(payload.jti).toEqual(expect.any(String));
    expect(standIn.verifyAccessToken(answer.body.access_token as string)).toEqual(payload);

    const issued = standIn.issuedTokens.at(-1)!;
    expect(issued).toMatchObject({ access_token: answer.body.access_token, client: "x5c-client", format: "jwt" });
    expect(issued.expires_at.getTime()).toBe(payload.exp! * 1000);
    expect(standIn.grants.at(-1)).toMatchObject({ outcome: "accepted", claims: { jti: claims.jti }, header: { alg: "RS256" } });
  });

  it.each(["RS384", "RS512"])("x5c grant signed %s", async (alg) => {
    const answer = await postGrant(await x5cGrant(claimsFor("x5c-client"), { alg }));
    expect(answer.status).toBe(200);
  });

  it("kid grant: the registered key authenticates the client (client_amr private_key_jwt)", async () => {
    const answer = await postGrant(await kidGrant(claimsFor("kid-client")));
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ expires_in: 120, scope: "test:read" });
    expect(standIn.verifyAccessToken(answer.body.access_token as string)).toMatchObject({
      client_amr: "private_key_jwt",
      client_id: "kid-client",
    });
  });

  it("x5c together with a kid is accepted when the kid names the certificate's registered key", async () => {
    standIn.registerClient({
      clientId: "cert-key-client",
      organisationNumber: ORG,
      scopes: ["test:read"],
      keys: { "cert-key": enterprise.leaf.publicKey },
    });
    const grant = new SignJWT(claimsFor("cert-key-client") as JWTPayload)
      .setProtectedHeader({ alg: "RS256", kid: "cert-key", x5c: x5cOf(enterprise.leaf) })
      .sign(enterprise.leaf.privateKey);
    expect((await postGrant(await grant)).status).toBe(200);
  });

  it("a client locked to a certificate must name it by kid (Digdir): x5c alone is refused, kid with or without x5c accepted", async () => {
    const unregistered = issueCertificate({ commonName: "Another", organisationNumber: ORG, issuer: enterprise.intermediate });
    standIn.registerClient({
      clientId: "pinned-client",
      organisationNumber: ORG,
      scopes: ["test:read"],
      certificates: [enterprise.leaf.certificateDer],
    });
    const kid = registeredCertificateKid(enterprise.leaf.certificateDer);
    const withKid = (x5c: boolean, key = enterprise.leaf.privateKey, leaf = enterprise.leaf) =>
      new SignJWT(claimsFor("pinned-client") as JWTPayload)
        .setProtectedHeader({ alg: "RS256", kid, ...(x5c ? { x5c: x5cOf(leaf) } : {}) })
        .sign(key);
    expect((await postGrant(await withKid(false))).status).toBe(200);
    expect((await postGrant(await withKid(true))).status).toBe(200);
    const description = await expectRejected(x5cGrant(claimsFor("pinned-client"), { x5c: x5cOf(enterprise.leaf) }), 400, "invalid_grant");
    expect(description).toMatch(/no key identifier \(kid\) provided/);
    await expectRejected(withKid(true, unregistered.privateKey, unregistered), 400, "invalid_grant");
    const unknown = await expectRejected(
      new SignJWT(claimsFor("pinned-client") as JWTPayload)
        .setProtectedHeader({ alg: "RS256", kid: registeredCertificateKid(unregistered.certificateDer) })
        .sign(unregistered.privateKey),
      400,
      "invalid_grant",
    );
    expect(unknown).toBe("Invalid assertion. Client authentication failed. Unknown key identifier (kid) for client.");
  });

  it("opaque tokens: a reference string, still known to verifyAccessToken", async () => {
    const answer = await postGrant(await x5cGrant(claimsFor("opaque-client")));
    expect(answer.status).toBe(200);
    const token = answer.body.access_token as string;
    expect(token).not.toContain(".");
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}=$/);
    expect(standIn.verifyAccessToken(token)).toMatchObject({ client_id: "opaque-client", scope: "test:read" });
    expect(standIn.issuedTokens.at(-1)).toMatchObject({ access_token: token, format: "opaque" });
  });

  it("resource: an allowed one becomes the token's aud", async () => {
    const answer = await postGrant(await x5cGrant(claimsFor("x5c-client", { resource: [RESOURCE] })));
    expect(answer.status).toBe(200);
    expect(standIn.verifyAccessToken(answer.body.access_token as string)).toMatchObject({ aud: RESOURCE });
  });

  it("consumer_org of a delegating organisation: the token names consumer and supplier", async () => {
    const answer = await postGrant(await x5cGrant(claimsFor("x5c-client", { consumer_org: DELEGATING_ORG })));
    expect(answer.status).toBe(200);
    expect(standIn.verifyAccessToken(answer.body.access_token as string)).toMatchObject({
      consumer: { authority: "iso6523-actorid-upis", ID: `0192:${DELEGATING_ORG}` },
      supplier: { authority: "iso6523-actorid-upis", ID: `0192:${ORG}` },
    });
  });

  it("system user authorization_details: the token carries the system user", async () => {
    const detail = { type: "urn:altinn:systemuser", systemuser_org: { authority: "iso6523-actorid-upis", ID: "0192:313367002" } };
    const answer = await postGrant(await x5cGrant(claimsFor("x5c-client", { authorization_details: [detail] })));
    expect(answer.status).toBe(200);
    const claims = standIn.verifyAccessToken(answer.body.access_token as string)!;
    expect(claims.authorization_details).toEqual([
      expect.objectContaining({ ...detail, systemuser_id: [expect.stringMatching(/^[0-9a-f-]{36}$/)], system_id: `${ORG}_x5c-client` }),
    ]);
  });

  it("verifyAccessToken knows nothing of tokens it did not issue", async () => {
    const answer = await postGrant(await x5cGrant(claimsFor("x5c-client")));
    const token = answer.body.access_token as string;
    const [header, payload, signature] = token.split(".") as [string, string, string];
    const forged = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(payload, "base64url").toString()), scope: "test:write" }),
    ).toString("base64url");
    expect(standIn.verifyAccessToken(`${header}.${forged}.${signature}`)).toBeUndefined();
    expect(standIn.verifyAccessToken("IxC0B76vlWl3fiQhAwZUmD0hr_PPwC9hSIXRdoUslPU=")).toBeUndefined();
  });
});

describe("bad grants are rejected the way Maskinporten rejects them", () => {
  it("aud of another environment", async () => {
    expect(await expectRejected(x5cGrant(claimsFor("x5c-client", { aud: "https://test.maskinporten.no/" })), 400, "invalid_grant")).toBe(
      "Invalid assertion. Client authentication failed. Invalid JWT claim aud.",
    );
  });

  it("aud without the trailing slash", async () => {
    const answer = await postGrant(await x5cGrant(claimsFor("x5c-client", { aud: standIn.issuer.slice(0, -1) })));
    expect(answer.status).toBe(400);
    expect(answer.body.error_description).toMatch(
      /^Invalid assertion\. Client authentication failed\. Invalid JWT claim aud\. \(trace_id: [0-9a-f]{32}\)$/,
    );
    expect(answer.body.error_uri).toBe(`${standIn.issuer}errors/MP-110`);
  });

  it("aud as the token endpoint", async () => {
    await expectRejected(x5cGrant(claimsFor("x5c-client", { aud: standIn.tokenEndpoint })), 400, "invalid_grant");
  });

  it("expired grant", async () => {
    const iat = Math.floor(Date.now() / 1000) - 100;
    expect(await expectRejected(x5cGrant(claimsFor("x5c-client", { iat, exp: iat + 95 })), 400, "invalid_grant")).toBe(
      "Invalid assertion. Client authentication failed. JWT is expired.",
    );
  });

  it("exp − iat over 120 s", async () => {
    const iat = Math.floor(Date.now() / 1000);
    expect(await expectRejected(x5cGrant(claimsFor("x5c-client", { iat, exp: iat + 121 })), 400, "invalid_grant")).toMatch(/exp - iat/);
  });

  it("exp − iat of exactly 120 s is fine", async () => {
    const iat = Math.floor(Date.now() / 1000);
    expect((await postGrant(await x5cGrant(claimsFor("x5c-client", { iat, exp: iat + 120 })))).status).toBe(200);
  });

  it("iat more than 10 s in the future", async () => {
    const iat = Math.floor(Date.now() / 1000) + 30;
    expect(await expectRejected(x5cGrant(claimsFor("x5c-client", { iat, exp: iat + 60 })), 400, "invalid_grant")).toBe(
      "Invalid assertion. Client authentication failed. Issue time is after now.",
    );
  });

  it("iat more than 10 s in the past", async () => {
    const iat = Math.floor(Date.now() / 1000) - 30;
    await expectRejected(x5cGrant(claimsFor("x5c-client", { iat, exp: iat + 90 })), 400, "invalid_grant");
    expect(lastReason()).toMatch(/iat is .* behind/);
  });

  it("iat or exp missing or not numeric", async () => {
    await expectRejected(x5cGrant(claimsFor("x5c-client", { iat: undefined })), 400, "invalid_grant");
    await expectRejected(x5cGrant(claimsFor("x5c-client", { exp: String(Math.floor(Date.now() / 1000) + 60) })), 400, "invalid_grant");
  });

  it("reused jti", async () => {
    const grant = await x5cGrant(claimsFor("x5c-client"));
    expect((await postGrant(grant)).status).toBe(200);
    expect(await expectRejected(grant, 400, "invalid_grant")).toBe("Invalid assertion. Grant is used before.");
    // Another grant with the same jti is refused too: the id is what counts, not the bytes.
    const sameJti = claimsFor("x5c-client", { jti: (standIn.grants.at(-1)!.claims as Claims).jti });
    await expectRejected(x5cGrant(sameJti), 400, "invalid_grant");
  });

  it("missing jti", async () => {
    await expectRejected(x5cGrant(claimsFor("x5c-client", { jti: undefined })), 400, "invalid_grant");
    expect(lastReason()).toMatch(/jti is missing/);
  });

  it("bad signature: signed by another key than the x5c leaf's", async () => {
    expect(await expectRejected(x5cGrant(claimsFor("x5c-client"), { key: generateRsaKeyPair().privateKey }), 400, "invalid_grant")).toBe(
      "Invalid assertion. Client authentication failed. Invalid JWT signature.",
    );
  });

  it("bad signature: claims changed after signing", async () => {
    const [header, , signature] = (await x5cGrant(claimsFor("x5c-client"))).split(".");
    const payload = Buffer.from(JSON.stringify(claimsFor("x5c-client", { scope: "test:write" }))).toString("base64url");
    await expectRejected(`${header}.${payload}.${signature}`, 400, "invalid_grant");
  });

  it("x5c as a string instead of an array", async () => {
    const header = JSON.stringify({ alg: "RS256", x5c: enterprise.leaf.certificateDer.toString("base64") });
    const grant = handAssembled(header, JSON.stringify(claimsFor("x5c-client")), rs256(enterprise.leaf.privateKey));
    expect(await expectRejected(grant, 400, "invalid_grant")).toBe(
      "Invalid assertion. Client authentication failed. Invalid JWT header x5c.",
    );
  });

  it("x5c in base64url rather than standard base64", async () => {
    const x5c = [enterprise.leaf.certificateDer.toString("base64url"), enterprise.intermediate.certificateDer.toString("base64url")];
    await expectRejected(x5cGrant(claimsFor("x5c-client"), { x5c }), 400, "invalid_grant");
    expect(lastReason()).toMatch(/not standard base64/);
  });

  it("x5c leaf of another organisation (same trusted CA)", async () => {
    const other = issueCertificate({ commonName: "Other AS", organisationNumber: OTHER_ORG, issuer: enterprise.intermediate });
    const description = await expectRejected(
      x5cGrant(claimsFor("x5c-client"), { key: other.privateKey, x5c: x5cOf(other, enterprise.intermediate) }),
      400,
      "invalid_grant",
    );
    expect(description).toBe(
      "Invalid assertion. Client authentication failed. Invalid JWT. Invalid organization number for client. Does not match certificate orgno.",
    );
  });

  it("certificate from an untrusted CA", async () => {
    const untrusted = issueEnterpriseCertificate({ organisationNumber: ORG });
    const description = await expectRejected(
      x5cGrant(claimsFor("x5c-client"), {
        key: untrusted.leaf.privateKey,
        x5c: x5cOf(untrusted.leaf, untrusted.intermediate, untrusted.root),
      }),
      400,
      "invalid_grant",
    );
    expect(description).toBe("Invalid assertion. Client authentication failed. The JWT is signed with an invalid certificate.");
  });

  it("chain without the intermediate", async () => {
    await expectRejected(x5cGrant(claimsFor("x5c-client"), { x5c: x5cOf(enterprise.leaf) }), 400, "invalid_grant");
    expect(lastReason()).toMatch(/not issued by a trusted root/);
  });

  it("expired certificate", async () => {
    const day = 86_400_000;
    const expired = issueCertificate({
      commonName: "Expired AS",
      organisationNumber: ORG,
      issuer: enterprise.intermediate,
      notBefore: new Date(Date.now() - 400 * day),
      notAfter: new Date(Date.now() - day),
    });
    const description = await expectRejected(
      x5cGrant(claimsFor("x5c-client"), { key: expired.privateKey, x5c: x5cOf(expired, enterprise.intermediate) }),
      400,
      "invalid_grant",
    );
    expect(description).toBe("Invalid assertion. Client authentication failed. The JWT is signed with an invalid certificate.");
  });

  it("unknown kid", async () => {
    expect(await expectRejected(kidGrant(claimsFor("kid-client"), "key-2"), 400, "invalid_grant")).toBe(
      "Invalid assertion. Client authentication failed. Unknown key identifier (kid) for client.",
    );
  });

  it("kid grant signed with another key", async () => {
    await expectRejected(kidGrant(claimsFor("kid-client"), "key-1", generateRsaKeyPair().privateKey), 400, "invalid_grant");
    expect(lastReason()).toMatch(/signature does not verify/);
  });

  it("x5c to a client with pre-registered keys only", async () => {
    expect(await expectRejected(x5cGrant(claimsFor("kid-client")), 400, "invalid_grant")).toBe(
      "Invalid assertion. Client authentication failed. Invalid JWT. The client requires pre-registered jwk and no key identifier (kid) provided.",
    );
  });

  it("x5c and a kid naming a different key", async () => {
    const grant = new SignJWT(claimsFor("kid-client") as JWTPayload)
      .setProtectedHeader({ alg: "RS256", kid: "key-1", x5c: x5cOf(enterprise.leaf, enterprise.intermediate) })
      .sign(kidKey.privateKey);
    await expectRejected(grant, 400, "invalid_grant");
    expect(lastReason()).toMatch(/not the key registered under kid/);
  });

  it("neither x5c nor kid", async () => {
    const grant = new SignJWT(claimsFor("x5c-client") as JWTPayload).setProtectedHeader({ alg: "RS256" }).sign(enterprise.leaf.privateKey);
    await expectRejected(grant, 400, "invalid_grant");
    expect(lastReason()).toMatch(/neither x5c nor kid/);
  });

  it("unknown client", async () => {
    const answer = await postGrant(await x5cGrant(claimsFor("no-such-client")));
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: "invalid_grant", error_uri: `${standIn.issuer}errors/MP-100` });
    expect(answer.body.error_description).toMatch(/^Invalid assertion\. Client authentication failed\. \(trace_id: [0-9a-f]{32}\)$/);
  });

  it.each([["foo"], ["nbf"], ["client_id"]])("undocumented claim %s", async (claim) => {
    const description = await expectRejected(
      x5cGrant(claimsFor("x5c-client", { [claim]: claim === "nbf" ? 1 : "x" })),
      400,
      "invalid_request",
    );
    expect(description).toBe("Invalid assertion. Invalid parameter value.");
  });

  it("sub is accepted only as the client id", async () => {
    expect((await postGrant(await x5cGrant(claimsFor("x5c-client", { sub: "x5c-client" })))).status).toBe(200);
    await expectRejected(x5cGrant(claimsFor("x5c-client", { sub: "someone-else" })), 400, "invalid_request");
  });

  it("duplicate claims (a second aud after a valid one)", async () => {
    const claims = claimsFor("x5c-client");
    const payload = JSON.stringify(claims).replace(/}$/, `,"aud":"https://evil.example/"}`);
    const header = JSON.stringify({ alg: "RS256", x5c: x5cOf(enterprise.leaf, enterprise.intermediate) });
    await expectRejected(handAssembled(header, payload, rs256(enterprise.leaf.privateKey)), 400, "invalid_request");
    expect(lastReason()).toMatch(/duplicate member "aud"/);
  });

  it("not a compact JWS", async () => {
    await expectRejected("not-a-jwt", 400, "invalid_request");
    await expectRejected("a.b.c.d", 400, "invalid_request");
  });

  it("scope not registered on the client", async () => {
    const description = await expectRejected(x5cGrant(claimsFor("x5c-client", { scope: "test:read test:admin" })), 400, "invalid_scope");
    expect(description).toBe("Token request contains invalid scopes for client, test:admin");
  });

  it("scope missing", async () => {
    await expectRejected(x5cGrant(claimsFor("x5c-client", { scope: undefined })), 400, "invalid_scope");
  });

  it("resource not allowed for the client", async () => {
    await expectRejected(x5cGrant(claimsFor("x5c-client", { resource: ["https://other.example.no/"] })), 400, "invalid_target");
    await expectRejected(x5cGrant(claimsFor("x5c-client", { resource: [RESOURCE, "https://other.example.no/"] })), 400, "invalid_target");
  });

  it('resource as a single string, even an allowed one (Digdir: "currently only array supported")', async () => {
    await expectRejected(x5cGrant(claimsFor("x5c-client", { resource: RESOURCE })), 400, "invalid_request");
    expect(lastReason()).toMatch(/a single string is not supported/);
  });

  it("consumer_org together with iss_onbehalfof", async () => {
    await expectRejected(x5cGrant(claimsFor("x5c-client", { consumer_org: "920000002", iss_onbehalfof: "unit" })), 400, "invalid_request");
    expect(lastReason()).toMatch(/mutually exclusive/);
  });

  it("consumer_org that is not 9 digits", async () => {
    await expectRejected(x5cGrant(claimsFor("x5c-client", { consumer_org: "92000000" })), 400, "invalid_request");
    await expectRejected(x5cGrant(claimsFor("x5c-client", { consumer_org: 920000002 })), 400, "invalid_request");
  });

  it("consumer_org that has not delegated to the client", async () => {
    const description = await expectRejected(x5cGrant(claimsFor("x5c-client", { consumer_org: "930000003" })), 403, "forbidden");
    expect(description).toBe(`Consumer 930000003 has not delegated access to the scope test:read to supplier ${ORG}.`);
  });

  it("consumer_org equal to the client's own organisation", async () => {
    expect(await expectRejected(x5cGrant(claimsFor("x5c-client", { consumer_org: ORG })), 400, "invalid_request")).toBe(
      "Validation of JWT claim failed: The combination consumer_org in claim and delegation scope on client is invalid.",
    );
  });

  it("authorization_details of an unknown type", async () => {
    const description = await expectRejected(
      x5cGrant(claimsFor("x5c-client", { authorization_details: [{ type: "urn:example:other" }] })),
      400,
      "invalid_authorization_details",
    );
    expect(description).toBe("Unknown authorization details type.");
  });

  it("alg none", async () => {
    const header = JSON.stringify({ alg: "none", x5c: x5cOf(enterprise.leaf, enterprise.intermediate) });
    await expectRejected(handAssembled(header, JSON.stringify(claimsFor("x5c-client"))), 400, "invalid_grant");
    expect(lastReason()).toMatch(/alg "none"/);
  });

  it("alg HS256 (keyed with the certificate, the classic confusion attack)", async () => {
    const header = JSON.stringify({ alg: "HS256", x5c: x5cOf(enterprise.leaf, enterprise.intermediate) });
    const grant = handAssembled(header, JSON.stringify(claimsFor("x5c-client")), (input) =>
      createHmac("sha256", enterprise.leaf.certificatePem).update(input).digest(),
    );
    await expectRejected(grant, 400, "invalid_grant");
    expect(lastReason()).toMatch(/alg "HS256"/);
  });

  it("alg PS256 with the right RSA key", async () => {
    await expectRejected(x5cGrant(claimsFor("x5c-client"), { alg: "PS256" }), 400, "invalid_grant");
    expect(lastReason()).toMatch(/alg "PS256"/);
  });

  it("alg ES256", async () => {
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
    await expectRejected(x5cGrant(claimsFor("x5c-client"), { alg: "ES256", key: ec.privateKey }), 400, "invalid_grant");
    expect(lastReason()).toMatch(/alg "ES256"/);
  });

  it("wrong content type", async () => {
    const grant = await x5cGrant(claimsFor("x5c-client"));
    await expectRejected(grant, 400, "invalid_request", {
      contentType: "application/json",
      body: JSON.stringify({ grant_type: JWT_BEARER, assertion: grant }),
    });
    // A form body under another media type is still refused.
    await expectRejected(grant, 400, "invalid_request", { contentType: "text/plain" });
  });

  it("form content type with a charset is fine", async () => {
    const answer = await postGrant(await x5cGrant(claimsFor("x5c-client")), {
      contentType: "application/x-www-form-urlencoded; charset=UTF-8",
    });
    expect(answer.status).toBe(200);
  });

  it("wrong grant_type", async () => {
    await expectRejected(x5cGrant(claimsFor("x5c-client")), 400, "unsupported_grant_type", { grantType: "client_credentials" });
  });

  it("missing assertion", async () => {
    await expectRejected("", 400, "invalid_request", { body: `grant_type=${encodeURIComponent(JWT_BEARER)}` });
  });

  it("rejections are recorded with the reason, and logged without the grant", async () => {
    const lines: string[] = [];
    const logged = await startMaskinportenStandIn({ trustedRoots: [enterprise.root.certificateDer], log: (line) => lines.push(line) });
    try {
      logged.registerClient({ clientId: "x5c-client", organisationNumber: ORG, scopes: ["test:read"] });
      const grant = await x5cGrant({ ...claimsFor("x5c-client"), aud: logged.issuer, scope: "test:write" });
      const response = await fetch(logged.tokenEndpoint, {
        method: "POST",
        body: new URLSearchParams({ grant_type: JWT_BEARER, assertion: grant }),
      });
      expect(response.status).toBe(400);
      expect(logged.grants).toEqual([
        expect.objectContaining({
          outcome: "rejected",
          error: "invalid_scope",
          reason: expect.stringContaining("test:write"),
          header: expect.any(Object),
        }),
      ]);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain("invalid_scope");
      expect(lines[0]).toContain(logged.grants[0]!.traceId);
      expect(lines[0]).not.toContain(grant.split(".")[2]!);
    } finally {
      await logged.close();
    }
  });
});

describe("counters and clock", () => {
  it("counts metadata requests, token requests, issued tokens and rejections; resetCounters starts over", async () => {
    standIn.resetCounters();
    expect(standIn.grants).toEqual([]);
    await fetch(standIn.metadataUrl);
    await postGrant(await x5cGrant(claimsFor("x5c-client")));
    await postGrant(await x5cGrant(claimsFor("x5c-client", { scope: "nope" })));
    expect(standIn.counters).toEqual({ metadataRequests: 1, tokenRequests: 2, tokensIssued: 1, rejected: 1, faultsApplied: 0 });
    expect(standIn.grants.map((g) => g.outcome)).toEqual(["accepted", "rejected"]);
    expect(standIn.issuedTokens).toHaveLength(1);
  });

  it("follows an injected clock, for grants and certificates alike", async () => {
    let nowMs = Date.now() + 30 * 86_400_000;
    const shifted = await startMaskinportenStandIn({ trustedRoots: [enterprise.root.certificateDer], now: () => nowMs });
    try {
      shifted.registerClient({ clientId: "x5c-client", organisationNumber: ORG, scopes: ["test:read"] });
      const post = async (claims: Claims) =>
        fetch(shifted.tokenEndpoint, {
          method: "POST",
          body: new URLSearchParams({ grant_type: JWT_BEARER, assertion: await x5cGrant(claims) }),
        });
      const at = (ms: number) => ({ ...claimsFor("x5c-client", {}, ms), aud: shifted.issuer });

      // A grant made on the real clock is 30 days old to the stand-in.
      expect((await post(at(Date.now()))).status).toBe(400);
      const answer = await post(at(nowMs));
      expect(answer.status).toBe(200);
      const token = ((await answer.json()) as { access_token: string }).access_token;
      expect(shifted.verifyAccessToken(token)!.iat).toBe(Math.floor(nowMs / 1000));

      // Two years on, the enterprise certificate (valid one year) has expired.
      nowMs += 2 * 365 * 86_400_000;
      const late = await post(at(nowMs));
      expect(late.status).toBe(400);
      expect(((await late.json()) as { error_description: string }).error_description).toMatch(/invalid certificate/);
    } finally {
      await shifted.close();
    }
  });
});

describe("fault injection", () => {
  it("status: answers as told, once by default, then real behaviour resumes", async () => {
    standIn.resetCounters();
    standIn.injectFault({ kind: "status", status: 503, body: { message: "maintenance" }, headers: { "retry-after": "5" } });
    const grant = await x5cGrant(claimsFor("x5c-client"));
    const faulted = await fetch(standIn.tokenEndpoint, {
      method: "POST",
      body: new URLSearchParams({ grant_type: JWT_BEARER, assertion: grant }),
    });
    expect(faulted.status).toBe(503);
    expect(faulted.headers.get("retry-after")).toBe("5");
    expect(await faulted.json()).toEqual({ message: "maintenance" });
    // The fault answered before validation, so the same grant (same jti) is still good.
    expect((await postGrant(grant)).status).toBe(200);
    expect(standIn.counters).toMatchObject({ tokenRequests: 2, faultsApplied: 1, rejected: 0, tokensIssued: 1 });
  });

  it("times: applies to exactly that many requests, in injection order", async () => {
    standIn.injectFault({ kind: "status", status: 502 }, { times: 2 });
    standIn.injectFault({ kind: "error", error: "temporarily_unavailable", description: "Try later", status: 503 });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++)
      statuses.push((await postGrant(await x5cGrant(claimsFor("x5c-client"))).catch(() => ({ status: -1 }))).status);
    expect(statuses).toEqual([502, 502, 503, 200]);
  });

  it("error: a Digdir-shaped OAuth error with a trace id", async () => {
    standIn.injectFault({
      kind: "error",
      error: "invalid_grant",
      description: "Invalid assertion. Client authentication failed. Expired key.",
    });
    const description = await expectRejected(x5cGrant(claimsFor("x5c-client")), 400, "invalid_grant");
    expect(description).toBe("Invalid assertion. Client authentication failed. Expired key.");
  });

  it("malformed-json: 200, JSON content type, unparseable body", async () => {
    standIn.injectFault({ kind: "malformed-json" });
    const response = await fetch(standIn.tokenEndpoint, {
      method: "POST",
      body: new URLSearchParams({ grant_type: JWT_BEARER, assertion: await x5cGrant(claimsFor("x5c-client")) }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    const text = await response.text();
    expect(() => JSON.parse(text)).toThrow(SyntaxError);
  });

  it("truncated-json: the start of a token response, cut off", async () => {
    standIn.injectFault({ kind: "truncated-json" });
    const response = await fetch(standIn.tokenEndpoint, {
      method: "POST",
      body: new URLSearchParams({ grant_type: JWT_BEARER, assertion: await x5cGrant(claimsFor("x5c-client")) }),
    });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text.startsWith('{"access_token":"')).toBe(true);
    expect(() => JSON.parse(text)).toThrow(SyntaxError);
  });

  it("reset: the connection is torn down without an answer", async () => {
    standIn.injectFault({ kind: "reset" });
    const grant = await x5cGrant(claimsFor("x5c-client"));
    await expect(postGrant(grant)).rejects.toThrow(TypeError);
    expect((await postGrant(grant)).status).toBe(200);
  });

  it("delay: the request is answered normally afterwards", async () => {
    standIn.injectFault({ kind: "delay", ms: 20 });
    expect((await postGrant(await x5cGrant(claimsFor("x5c-client")))).status).toBe(200);
  });

  it("metadata target: faults the well-known document, not the token endpoint", async () => {
    standIn.injectFault({ kind: "status", status: 503 }, { target: "metadata" });
    expect((await postGrant(await x5cGrant(claimsFor("x5c-client")))).status).toBe(200);
    expect((await fetch(standIn.metadataUrl)).status).toBe(503);
    expect((await fetch(standIn.metadataUrl)).status).toBe(200);
  });

  it("clearFaults drops what is queued", async () => {
    standIn.injectFault({ kind: "status", status: 500 }, { times: Infinity });
    standIn.clearFaults();
    expect((await postGrant(await x5cGrant(claimsFor("x5c-client")))).status).toBe(200);
  });

  it("refuses a nonsensical fault", () => {
    expect(() => standIn.injectFault({ kind: "status", status: 503 }, { times: 0 })).toThrow(TypeError);
    expect(() => standIn.injectFault({ kind: "status", status: 42 })).toThrow(TypeError);
  });
});

describe("close", () => {
  it("ends delayed, stalled and keep-alive connections instead of waiting for them", async () => {
    const closing = await startMaskinportenStandIn({ trustedRoots: [enterprise.root.certificateDer] });
    closing.registerClient({ clientId: "x5c-client", organisationNumber: ORG, scopes: ["test:read"] });
    // An idle keep-alive connection, as a pooled client leaves behind.
    const socket = connect(closing.port, "127.0.0.1");
    await once(socket, "connect");
    socket.write(`GET /jwk HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n`);
    await once(socket, "data");
    const socketClosed = once(socket, "close");
    // A request whose body is still arriving, as from a stalled client.
    const stalled = connect(closing.port, "127.0.0.1");
    await once(stalled, "connect");
    stalled.write(
      `POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\ngrant_type=`,
    );
    const stalledClosed = once(stalled, "close");

    // A request held for a minute by a delay fault.
    closing.injectFault({ kind: "delay", ms: 60_000 });
    let settled = false;
    const delayed = fetch(closing.tokenEndpoint, {
      method: "POST",
      body: new URLSearchParams({ grant_type: JWT_BEARER, assertion: await x5cGrant({ ...claimsFor("x5c-client"), aud: closing.issuer }) }),
    }).finally(() => {
      settled = true;
    });
    // Another request goes through while the first one waits.
    expect((await fetch(closing.metadataUrl)).status).toBe(200);
    expect(settled).toBe(false);

    await closing.close();
    await expect(delayed).rejects.toThrow(TypeError);
    await socketClosed;
    await stalledClosed;
    await expect(fetch(closing.metadataUrl)).rejects.toThrow(TypeError);
  });
});
