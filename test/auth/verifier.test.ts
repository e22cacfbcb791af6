import { CompactEncrypt, importJWK, type JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/errors.js";
import { authorize, CallerAuthError, createCallerVerifier, type AuthFailureReason } from "../../src/auth/index.js";
import { startEntraStandIn, type EntraStandIn } from "../../sandbox/entra/standin.js";
import {
  clientCredentialsToken,
  encodeJson,
  expectUnauthenticated,
  hs256WithPublicKey,
  mintOverHttp,
  OTHER_PROFILE_ROLE,
  OTHER_TENANT,
  PROFILE_ROLE,
  segments,
  validClaims,
  verifierFor,
} from "./helpers.js";

const CLIENT = { clientId: "6a1b2c3d-4e5f-4a7b-8c9d-0e1f2a3b4c5d", clientSecret: "client-secret-value" };

let standIn: EntraStandIn;
const nowSeconds = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  standIn = await startEntraStandIn();
  standIn.registerClient({ ...CLIENT, roles: { [standIn.audience]: [PROFILE_ROLE] } });
});
afterAll(async () => {
  await standIn.close();
});

describe("valid callers", () => {
  it("turns a client-credentials token from the token endpoint into a Caller", async () => {
    const token = await clientCredentialsToken(standIn, CLIENT);
    const caller = await verifierFor(standIn).verify(`Bearer ${token}`);
    expect(caller).toMatchObject({
      appId: CLIENT.clientId,
      tenantId: standIn.tenantId,
      roles: [PROFILE_ROLE],
      authenticatedBy: "bearer",
    });
    expect(caller.objectId).toMatch(/^[0-9a-f-]{36}$/);
    expect(caller.tokenExpiresAt.getTime()).toBeGreaterThan(Date.now());
    expect(() => authorize(caller, PROFILE_ROLE)).not.toThrow();
  });

  it("accepts a lower-case scheme and extra spaces, a minted token, and the app id URI as audience", async () => {
    const token = await mintOverHttp(standIn, { aud: standIn.audienceUris[0], roles: [PROFILE_ROLE] });
    const caller = await verifierFor(standIn).verify(`bearer   ${token}`);
    expect(caller.appId).toBe(standIn.defaultCallerAppId);
  });

  it("refuses v1.0 tokens (appid, {authorityHost}/{tid}/ issuer): the broker's app asks for v2.0", async () => {
    const token = standIn.mintToken({
      iss: `${standIn.authorityHost}/${standIn.tenantId}/`,
      ver: "1.0",
      azp: null,
      appid: "v1-client",
      roles: [PROFILE_ROLE],
    });
    await expectUnauthenticated(verifierFor(standIn).verify(`Bearer ${token}`), "unsupported_token_version");
    await expectUnauthenticated(verifierFor(standIn, { acceptV1Tokens: false }).verify(`Bearer ${token}`), "invalid_issuer");
    // A v2.0 issuer with ver 1.0 (or no ver) is no better.
    await expectUnauthenticated(
      verifierFor(standIn).verify(`Bearer ${standIn.mintToken({ ver: "1.0", roles: [PROFILE_ROLE] })}`),
      "unsupported_token_version",
    );
    await expectUnauthenticated(
      verifierFor(standIn).verify(`Bearer ${standIn.mintToken({ ver: null, roles: [PROFILE_ROLE] })}`),
      "unsupported_token_version",
    );
  });

  it.each([
    ["scp (a user signed in to an app)", { scp: "user_impersonation" }],
    ["idtyp user", { idtyp: "user" }],
    ["scp and idtyp user", { scp: "access_as_user", idtyp: "user" }],
  ])("refuses delegated tokens that carry the role: %s", async (_name, claims) => {
    const token = standIn.mintToken({ roles: [PROFILE_ROLE], ...claims });
    await expectUnauthenticated(verifierFor(standIn).verify(`Bearer ${token}`), "delegated_token");
  });

  it("accepts an app token that says so (idtyp app)", async () => {
    const token = standIn.mintToken({ roles: [PROFILE_ROLE], idtyp: "app" });
    expect((await verifierFor(standIn).verify(`Bearer ${token}`)).roles).toEqual([PROFILE_ROLE]);
  });

  it("tolerates small clock skew on exp and nbf", async () => {
    const now = nowSeconds();
    const verifier = verifierFor(standIn);
    await verifier.verify(`Bearer ${standIn.mintToken({ exp: now - 30 })}`);
    await verifier.verify(`Bearer ${standIn.mintToken({ nbf: now + 30 })}`);
  });
});

describe("hostile callers are refused with ERR_UNAUTHENTICATED", () => {
  const now = nowSeconds();
  const cases: Array<[string, () => Promise<string | null | undefined>, AuthFailureReason]> = [
    ["no header", async () => undefined, "missing_credentials"],
    ["null header", async () => null, "missing_credentials"],
    ["empty header", async () => "", "missing_credentials"],
    ["Basic scheme", async () => "Basic dXNlcjpwYXNz", "malformed_header"],
    ["scheme only", async () => "Bearer", "malformed_header"],
    ["token without scheme", async () => standIn.mintToken({}), "malformed_header"],
    ["two tokens", async () => `Bearer ${standIn.mintToken({})} ${standIn.mintToken({})}`, "malformed_header"],
    ["two Authorization headers joined", async () => `Bearer ${standIn.mintToken({})}, Bearer x.y.z`, "malformed_header"],
    ["non-JWT garbage", async () => "Bearer hello-world", "malformed_token"],
    ["garbled base64", async () => "Bearer abc.def.ghi", "malformed_token"],
    ["standard base64 characters", async () => `Bearer ${standIn.mintToken({}).replace(/-/g, "+")}+/`, "malformed_header"],
    ["oversize header", async () => `Bearer ${"a".repeat(20_000)}.b.c`, "token_too_large"],
    ["oversize signed token", async () => `Bearer ${standIn.mintToken({ padding: "x".repeat(17_000) })}`, "token_too_large"],
    ["expired", async () => `Bearer ${standIn.mintToken({ exp: now - 3600 })}`, "expired"],
    ["not yet valid", async () => `Bearer ${standIn.mintToken({ nbf: now + 3600 })}`, "not_yet_valid"],
    ["exp a week ahead", async () => `Bearer ${standIn.mintToken({ exp: now + 7 * 86_400 })}`, "invalid_claims"],
    ["no exp", async () => `Bearer ${standIn.mintToken({ exp: null })}`, "invalid_claims"],
    [
      "public-cloud issuer",
      async () => `Bearer ${standIn.mintToken({ iss: `https://login.microsoftonline.com/${standIn.tenantId}/v2.0` })}`,
      "invalid_issuer",
    ],
    ["no issuer", async () => `Bearer ${standIn.mintToken({ iss: null })}`, "invalid_issuer"],
    [
      "another tenant's issuer",
      async () => `Bearer ${standIn.mintToken({ iss: `${standIn.authorityHost}/${OTHER_TENANT}/v2.0`, tid: OTHER_TENANT })}`,
      "invalid_issuer",
    ],
    ["another tenant's tid", async () => `Bearer ${standIn.mintToken({ tid: OTHER_TENANT })}`, "invalid_tenant"],
    ["no tid", async () => `Bearer ${standIn.mintToken({ tid: null })}`, "invalid_claims"],
    ["wrong audience", async () => `Bearer ${standIn.mintToken({ aud: "api://someone-else" })}`, "invalid_audience"],
    ["no azp (an ID token)", async () => `Bearer ${standIn.mintToken({ azp: null })}`, "invalid_claims"],
    ["roles not an array", async () => `Bearer ${standIn.mintToken({ roles: PROFILE_ROLE })}`, "invalid_claims"],
    ["unknown kid", async () => `Bearer ${standIn.mintToken({ _header: { kid: "not-a-published-kid" } })}`, "unknown_key"],
    ["missing kid", async () => `Bearer ${standIn.mintToken({ _header: { kid: null } })}`, "missing_key_id"],
    ["crit header", async () => `Bearer ${standIn.mintToken({ _header: { crit: ["exp"] } })}`, "critical_header"],
    ["crit b64", async () => `Bearer ${standIn.mintToken({ _header: { crit: ["b64"], b64: true } })}`, "critical_header"],
    ["header says RS512", async () => `Bearer ${standIn.mintToken({ _header: { alg: "RS512" } })}`, "unsupported_algorithm"],
    ["header says PS256", async () => `Bearer ${standIn.mintToken({ _header: { alg: "PS256" } })}`, "unsupported_algorithm"],
    [
      "alg none, empty signature",
      async () => `Bearer ${encodeJson({ alg: "none", typ: "JWT" })}.${encodeJson(validClaims(standIn, now))}.`,
      "malformed_token",
    ],
    [
      "alg none, some signature",
      async () => `Bearer ${encodeJson({ alg: "none", kid: standIn.currentKid })}.${encodeJson(validClaims(standIn, now))}.AAAA`,
      "unsupported_algorithm",
    ],
    [
      "HS256 keyed with the public key",
      async () => `Bearer ${await hs256WithPublicKey(standIn, validClaims(standIn, now))}`,
      "unsupported_algorithm",
    ],
    [
      "tampered payload (role added)",
      async () => {
        const [header, , signature] = segments(standIn.mintToken({}));
        return `Bearer ${header}.${encodeJson(validClaims(standIn, now))}.${signature}`;
      },
      "invalid_signature",
    ],
    [
      "tampered signature",
      async () => {
        const [header, payload, signature] = segments(standIn.mintToken({ roles: [PROFILE_ROLE] }));
        const middle = Math.floor(signature.length / 2);
        const flipped = signature[middle] === "A" ? "B" : "A";
        return `Bearer ${header}.${payload}.${signature.slice(0, middle)}${flipped}${signature.slice(middle + 1)}`;
      },
      "invalid_signature",
    ],
    [
      "signature from another token",
      async () => {
        const [header, payload] = segments(standIn.mintToken({ roles: [PROFILE_ROLE] }));
        return `Bearer ${header}.${payload}.${segments(standIn.mintToken({}))[2]}`;
      },
      "invalid_signature",
    ],
    [
      "JWE encrypted to the signing key",
      async () => {
        const jwks = (await (await standIn.fetch(standIn.jwksUri)).json()) as { keys: JWK[] };
        const key = await importJWK({ ...jwks.keys[0]!, use: "enc" }, "RSA-OAEP-256");
        const jwe = await new CompactEncrypt(Buffer.from(JSON.stringify(validClaims(standIn, now))))
          .setProtectedHeader({ alg: "RSA-OAEP-256", enc: "A256GCM" })
          .encrypt(key);
        return `Bearer ${jwe}`;
      },
      "encrypted_token",
    ],
  ];

  it.each(cases)("%s", async (_name, makeHeader, reason) => {
    const header = await makeHeader();
    const error = await expectUnauthenticated(verifierFor(standIn).verify(header), reason);
    // The reason is for logs; the message never repeats the token.
    const token = header?.split(" ").at(-1) ?? "";
    if (token.length > 20) expect(error.message).not.toContain(token.slice(-20));
  });

  it("refuses a token signed by a key the tenant does not publish", async () => {
    const stranger = await startEntraStandIn({ tenantId: standIn.tenantId });
    try {
      const forged = stranger.mintToken({ iss: standIn.issuer, roles: [PROFILE_ROLE] });
      await expectUnauthenticated(verifierFor(standIn).verify(`Bearer ${forged}`), "unknown_key");
      // Same kid as a published key, different private key.
      const sameKid = stranger.mintToken({ iss: standIn.issuer, _header: { kid: standIn.currentKid } });
      await expectUnauthenticated(verifierFor(standIn).verify(`Bearer ${sameKid}`), "invalid_signature");
    } finally {
      await stranger.close();
    }
  });
});

describe("authorisation (403-class)", () => {
  it("forbids a valid caller without any roles claim", async () => {
    const caller = await verifierFor(standIn).verify(`Bearer ${standIn.mintToken({})}`);
    expect(caller.roles).toEqual([]);
    expect(() => authorize(caller, PROFILE_ROLE)).toThrow(expect.objectContaining({ code: ErrorCode.Forbidden, reason: "missing_role" }));
  });

  it("forbids a caller holding another profile's role, and role names differing in case", async () => {
    const caller = await verifierFor(standIn).verify(
      `Bearer ${standIn.mintToken({ roles: [OTHER_PROFILE_ROLE, PROFILE_ROLE.toLowerCase()] })}`,
    );
    let thrown: unknown;
    try {
      authorize(caller, PROFILE_ROLE);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(CallerAuthError);
    expect((thrown as CallerAuthError).code).toBe(ErrorCode.Forbidden);
    expect(() => authorize(caller, OTHER_PROFILE_ROLE)).not.toThrow();
    expect(() => authorize(caller, "")).toThrow(CallerAuthError);
  });

  it("forbids a client registered without the role, through the real token endpoint", async () => {
    const roleless = standIn.registerClient({ clientSecret: "roleless-secret", roles: { [standIn.audience]: [OTHER_PROFILE_ROLE] } });
    const token = await clientCredentialsToken(standIn, { clientId: roleless.clientId, clientSecret: "roleless-secret" });
    const caller = await verifierFor(standIn).verify(`Bearer ${token}`);
    expect(() => authorize(caller, PROFILE_ROLE)).toThrow(expect.objectContaining({ code: ErrorCode.Forbidden }));
  });
});

describe("signing keys", () => {
  it("fetches a rotated key on demand when a token names a new kid", async () => {
    const rotating = await startEntraStandIn();
    try {
      const verifier = verifierFor(rotating, { jwksCooldownMs: 0 });
      await verifier.verify(`Bearer ${rotating.mintToken({})}`);
      expect(rotating.jwksRequests).toBe(1);

      const oldKeyToken = rotating.mintToken({ uti: "old" });
      rotating.rotateKeys();
      const caller = await verifier.verify(`Bearer ${rotating.mintToken({ roles: ["R"] })}`);
      expect(caller.roles).toEqual(["R"]);
      expect(rotating.jwksRequests).toBe(2);
      // The old key is still published during the rollover.
      await verifier.verify(`Bearer ${oldKeyToken}`);
      expect(rotating.jwksRequests).toBe(2);
    } finally {
      await rotating.close();
    }
  });

  it("stops trusting a retired key once the key set is refetched", async () => {
    const rotating = await startEntraStandIn();
    try {
      const verifier = verifierFor(rotating, { jwksCacheMaxAgeMs: 0, verifiedTokenCacheEntries: 0 });
      const oldKeyToken = rotating.mintToken({});
      await verifier.verify(`Bearer ${oldKeyToken}`);
      rotating.rotateKeys();
      rotating.retireOldKeys();
      await expectUnauthenticated(verifier.verify(`Bearer ${oldKeyToken}`), "unknown_key");
    } finally {
      await rotating.close();
    }
  });

  it("fetches the key set once, and forged kids do not trigger refetches within the cooldown", async () => {
    const counting = await startEntraStandIn();
    try {
      const verifier = verifierFor(counting);
      for (let i = 0; i < 5; i++) await verifier.verify(`Bearer ${counting.mintToken({ uti: `t${i}` })}`);
      expect(counting.jwksRequests).toBe(1);
      for (let i = 0; i < 20; i++) {
        await expectUnauthenticated(verifier.verify(`Bearer ${counting.mintToken({ _header: { kid: `forged-${i}` } })}`), "unknown_key");
      }
      expect(counting.jwksRequests).toBe(1);
    } finally {
      await counting.close();
    }
  });

  it("reports an unreachable key endpoint as key_set_unavailable (an outage, not a bad token)", async () => {
    const gone = await startEntraStandIn();
    const token = gone.mintToken({});
    const verifier = verifierFor(gone);
    await gone.close();
    await expectUnauthenticated(verifier.verify(`Bearer ${token}`), "key_set_unavailable");
    await expectUnauthenticated(verifier.verify(`Bearer ${token}`), "key_set_unavailable");
  });
});

describe("verified-token cache", () => {
  it("answers a repeat token from the cache without verifying or fetching again", async () => {
    const counting = await startEntraStandIn();
    try {
      const verifier = verifierFor(counting);
      const header = `Bearer ${counting.mintToken({ roles: [PROFILE_ROLE] })}`;
      const first = await verifier.verify(header);
      const fetches = counting.jwksRequests;
      const second = await verifier.verify(header);
      expect(second).toBe(first);
      expect(Object.isFrozen(second)).toBe(true);
      expect(verifier.cacheStats()).toMatchObject({ size: 1, hits: 1 });
      expect(counting.jwksRequests).toBe(fetches);
    } finally {
      await counting.close();
    }
  });

  it("cachedCaller answers only for the exact value verified before, without verifying", async () => {
    const verifier = verifierFor(standIn);
    const header = `Bearer ${standIn.mintToken({ roles: [PROFILE_ROLE], uti: "cached-caller" })}`;
    const request = (authorization: string) => new Map([["authorization", authorization]]);
    expect(verifier.cachedCaller(request(header))).toBeUndefined(); // never verified: nothing to answer
    const verified = await verifier.verify(header);
    expect(verifier.cachedCaller(request(Buffer.from(header, "latin1").toString("latin1")))).toBe(verified);
    expect(verifier.cacheStats()).toMatchObject({ hits: 1, misses: 1 });
    const [h, p, sig] = header.slice("Bearer ".length).split(".") as [string, string, string];
    const forged = encodeJson({ ...JSON.parse(Buffer.from(p, "base64url").toString()), roles: ["Other.Role"] });
    expect(verifier.cachedCaller(request(`Bearer ${h}.${forged}.${sig}`))).toBeUndefined();
    await expectUnauthenticated(verifier.verify(`Bearer ${h}.${forged}.${sig}`), "invalid_signature");
    // Trusted and present, the App Service principal header decides: never the cache.
    const trusting = verifierFor(standIn, { trustAppServicePrincipalHeader: true });
    await trusting.verify(header);
    const both = new Map([
      ["authorization", header],
      ["x-ms-client-principal", "e30"],
    ]);
    expect(trusting.cachedCaller(both)).toBeUndefined();
    expect(trusting.cachedCaller(request(header))).toBeDefined();
  });

  it("never answers from the cache once the token has expired", async () => {
    let clock = Date.now();
    const verifier = verifierFor(standIn, { now: () => clock, clockToleranceSeconds: 0 });
    const exp = Math.floor(clock / 1000) + 120;
    const header = `Bearer ${standIn.mintToken({ exp })}`;
    await verifier.verify(header);
    await verifier.verify(header);
    expect(verifier.cacheStats().hits).toBe(1);

    clock = exp * 1000;
    await expectUnauthenticated(verifier.verify(header), "expired");
    expect(verifier.cacheStats()).toMatchObject({ hits: 1, size: 0 });
  });

  it("caches a token accepted within the clock tolerance only until its exp", async () => {
    let clock = Date.now();
    const verifier = verifierFor(standIn, { now: () => clock, clockToleranceSeconds: 60 });
    const exp = Math.floor(clock / 1000) + 10;
    const header = `Bearer ${standIn.mintToken({ exp })}`;
    await verifier.verify(header);
    clock = exp * 1000 + 30_000; // past exp, inside the tolerance: verified again, not from the cache
    await verifier.verify(header);
    expect(verifier.cacheStats()).toMatchObject({ hits: 0, size: 0 });
    clock = exp * 1000 + 61_000;
    await expectUnauthenticated(verifier.verify(header), "expired");
  });

  it("stays within its bound, evicting the least recently used", async () => {
    const verifier = verifierFor(standIn, { verifiedTokenCacheEntries: 3 });
    const headers = Array.from({ length: 5 }, (_, i) => `Bearer ${standIn.mintToken({ uti: `bounded-${i}` })}`);
    for (const header of headers) await verifier.verify(header);
    expect(verifier.cacheStats()).toMatchObject({ size: 3, evictions: 2 });
    await verifier.verify(headers[4]!);
    expect(verifier.cacheStats().hits).toBe(1);
    await verifier.verify(headers[0]!); // evicted: verified again
    expect(verifier.cacheStats().hits).toBe(1);
  });

  it("does not grow with a flood of unique bad tokens", async () => {
    const verifier = verifierFor(standIn);
    const [header, payload, signature] = segments(standIn.mintToken({}));
    for (let i = 0; i < 300; i++) {
      const forgedPayload = encodeJson({ ...JSON.parse(Buffer.from(payload, "base64url").toString()), uti: `flood-${i}` });
      await expectUnauthenticated(verifier.verify(`Bearer ${header}.${forgedPayload}.${signature}`), "invalid_signature");
    }
    expect(verifier.cacheStats().size).toBe(0);
  });

  it("is keyed by the whole token: a token differing in one byte is verified on its own", async () => {
    const verifier = verifierFor(standIn);
    const token = standIn.mintToken({ roles: [PROFILE_ROLE] });
    await verifier.verify(`Bearer ${token}`);
    const [header, payload, signature] = segments(token);
    const other = signature.startsWith("A") ? `B${signature.slice(1)}` : `A${signature.slice(1)}`;
    await expectUnauthenticated(verifier.verify(`Bearer ${header}.${payload}.${other}`), "invalid_signature");
  });
});

describe("configuration", () => {
  it.each([
    [{ tenantId: "contoso.onmicrosoft.com" }],
    [{ audiences: [] }],
    [{ authorityHost: "http://login.example.com" }],
    [{ authorityHost: "not a url" }],
    [{ clockToleranceSeconds: 3600 }],
  ])("refuses %j with ERR_CONFIG", (override) => {
    expect(() =>
      createCallerVerifier({
        tenantId: "5b1a8e3c-7d24-4f6a-9c0e-2f8d6b4a1e70",
        audiences: ["api://broker"],
        ...override,
      }),
    ).toThrow(expect.objectContaining({ code: ErrorCode.Config }));
  });
});
