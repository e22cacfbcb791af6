import { createServer } from "node:net";
import { decodeJwt } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseBrokerConfig } from "../../src/config/settings.js";
import { BrokerError, ErrorCode } from "../../src/errors.js";
import { createGrant } from "../../src/grant/grant.js";
import { createMaskinportenClient, MaskinportenError, type MaskinportenClientOptions } from "../../src/maskinporten/client.js";
import { startMaskinportenStandIn, type MaskinportenStandIn } from "../../sandbox/maskinporten/index.js";
import { issueEnterpriseCertificate } from "../../sandbox/pki.js";
import { inProcessSigner } from "../support/in-process-signer.js";

const ORG = "991825827";
const pki = issueEnterpriseCertificate({ organisationNumber: ORG });
const signer = inProcessSigner(pki.leaf.privateKey, {
  x5c: [pki.leaf.certificateDer.toString("base64"), pki.intermediate.certificateDer.toString("base64")],
});
let mp: MaskinportenStandIn;
const noSleep = { sleep: async () => {}, random: () => 0.5 };

beforeAll(async () => {
  mp = await startMaskinportenStandIn({ trustedRoots: [pki.root.certificateDer] });
  mp.registerClient({ clientId: "client-1", organisationNumber: ORG, scopes: ["sdir:read", "sdir:write"], tokenLifetimeSeconds: 599 });
});
afterAll(() => mp?.close());
afterEach(() => {
  mp.clearFaults();
  mp.resetCounters();
});

function client(options: Partial<MaskinportenClientOptions> = {}) {
  return createMaskinportenClient({ issuer: mp.issuer, ...noSleep, ...options });
}
const grantFor =
  (scopes = ["sdir:read"], clientId = "client-1") =>
  (audience: string) =>
    createGrant({ audience, clientId, scopes }, signer);

describe("Maskinporten client against the stand-in", () => {
  it("discovers the endpoint, exchanges a grant and parses the token", async () => {
    const before = Date.now();
    const token = await client().requestToken(grantFor(), ["sdir:read"]);
    expect(token.tokenType).toBe("Bearer");
    expect(token.expiresIn).toBe(599);
    expect(token.scope).toBe("sdir:read");
    expect(mp.verifyAccessToken(token.accessToken)).toMatchObject({ client_id: "client-1", scope: "sdir:read" });
    expect(token.expiresAt.getTime() - token.issuedAt.getTime()).toBe(599_000);
    expect(token.issuedAt.getTime()).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(token.issuedAt.getTime() % 1000).toBe(0);
  });

  it("caches metadata across requests", async () => {
    const c = client();
    await c.requestToken(grantFor());
    await c.requestToken(grantFor());
    expect(mp.counters.metadataRequests).toBe(1);
    expect(mp.counters.tokenRequests).toBe(2);
  });

  it("accepts an explicit audience and token endpoint without discovery (seed tool behaviour)", async () => {
    await createMaskinportenClient({ audience: mp.issuer, tokenEndpoint: mp.tokenEndpoint }).requestToken(grantFor());
    expect(mp.counters.metadataRequests).toBe(0);
  });

  it("refuses metadata whose issuer differs from the configured one", async () => {
    const withoutSlash = mp.issuer.replace(/\/$/, "/x/../");
    const error = await createMaskinportenClient({ issuer: withoutSlash })
      .requestToken(grantFor())
      .catch((e: unknown) => e);
    // A setting to fix, not a Maskinporten failure: MaskinportenError carries only Maskinporten codes.
    expect(error).toBeInstanceOf(BrokerError);
    expect(error).not.toBeInstanceOf(MaskinportenError);
    expect(error).toMatchObject({ code: ErrorCode.Config });
  });

  it.each([
    ["invalid_scope", () => grantFor(["sdir:admin"])],
    ["invalid_grant", () => grantFor(["sdir:read"], "unknown-client")],
  ])("surfaces %s with its description and trace id, without retrying", async (expected, grant) => {
    const error = (await client()
      .requestToken(grant())
      .catch((e: unknown) => e)) as MaskinportenError;
    expect(error).toBeInstanceOf(MaskinportenError);
    expect(error.code).toBe(ErrorCode.MaskinportenRejected);
    expect(error.error).toBe(expected);
    expect(error.status).toBe(400);
    expect(error.traceId).toMatch(/^[0-9a-f]{8,}$/);
    expect(error.errorDescription).toContain(`(trace_id: ${error.traceId})`);
    expect(error.message).toContain(error.errorDescription!);
    expect(error.transient).toBe(false);
    expect(mp.counters.tokenRequests).toBe(1);
  });

  it("surfaces an injected Maskinporten error exactly", async () => {
    mp.injectFault({ kind: "error", error: "invalid_request", description: "Missing assertion (trace_id: feedbeef)" });
    const error = (await client()
      .requestToken(grantFor())
      .catch((e: unknown) => e)) as MaskinportenError;
    expect(error).toMatchObject({
      error: "invalid_request",
      errorDescription: "Missing assertion (trace_id: feedbeef)",
      traceId: "feedbeef",
    });
  });

  it.each([
    ["a 503", { kind: "status", status: 503 }],
    ["a 429", { kind: "status", status: 429, headers: { "retry-after": "0" } }],
    ["a connection reset", { kind: "reset" }],
    ["truncated JSON", { kind: "truncated-json" }],
    ["malformed JSON", { kind: "malformed-json" }],
  ] as const)("retries %s with a fresh grant (new jti) and succeeds", async (_name, fault) => {
    mp.injectFault(fault, { times: 2 });
    const retries: number[] = [];
    const token = await client({ retry: { maxAttempts: 3 }, onRetry: ({ attempt }) => retries.push(attempt) }).requestToken(grantFor());
    expect(token.accessToken).toBeTruthy();
    expect(retries).toEqual([1, 2]);
    expect(mp.counters.tokenRequests).toBe(3);
    const jtis = mp.grants.map((g) => g.claims?.jti).filter(Boolean);
    expect(new Set(jtis).size).toBe(jtis.length);
  });

  it("times out a slow answer and retries it", async () => {
    mp.injectFault({ kind: "delay", ms: 2_000 });
    const token = await client({ timeoutMs: 300 }).requestToken(grantFor());
    expect(token.accessToken).toBeTruthy();
    expect(mp.counters.tokenRequests).toBe(2);
  });

  it("gives up after maxAttempts with a transient error that says why", async () => {
    mp.injectFault({ kind: "status", status: 502 }, { times: Infinity });
    const error = (await client({ retry: { maxAttempts: 2 } })
      .requestToken(grantFor())
      .catch((e: unknown) => e)) as MaskinportenError;
    expect(error.code).toBe(ErrorCode.MaskinportenUnavailable);
    expect(error.transient).toBe(true);
    expect(error.message).toContain("HTTP 502");
    expect(mp.counters.tokenRequests).toBe(2);
  });

  it("reports an unreachable Maskinporten as unavailable", async () => {
    const port = await closedPort();
    const error = (await createMaskinportenClient({ issuer: `http://127.0.0.1:${port}/`, ...noSleep, retry: { maxAttempts: 1 } })
      .requestToken(grantFor())
      .catch((e: unknown) => e)) as MaskinportenError;
    expect(error.code).toBe(ErrorCode.MaskinportenUnavailable);
    expect(error.message).toContain("ECONNREFUSED");
  });

  it("keeps Maskinporten's error_uri on the error and in its message", async () => {
    const error = (await client()
      .requestToken(grantFor(["sdir:admin"]))
      .catch((e: unknown) => e)) as MaskinportenError;
    expect(error.error).toBe("invalid_scope");
    expect(error.errorUri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/errors\/MP-\d+$/);
    expect(error.message).toContain(`(error_uri: ${error.errorUri})`);
    expect(error.message).toContain(`trace_id: ${error.traceId}`);
  });

  it("uses an issuer without a trailing slash (Skyporten's form) exactly: discovery, aud and the token's iss", async () => {
    const sky = await startMaskinportenStandIn({ trustedRoots: [pki.root.certificateDer], issuerWithoutTrailingSlash: true });
    try {
      sky.registerClient({ clientId: "client-1", organisationNumber: ORG, scopes: ["sdir:read"] });
      expect(sky.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const config = parseBrokerConfig({
        KEY_VAULT_URL: "https://kv.vault.azure.net/",
        MASKINPORTEN_ENVIRONMENT: sky.issuer,
        TOKEN_PROFILES: "sky",
        SIGNING_CERTIFICATE_NAME: "cert",
        PROFILE_SKY_CLIENT_ID: "client-1",
        PROFILE_SKY_SCOPES: "sdir:read",
      });
      const issuer = config.profiles[0]!.issuer;
      expect(issuer).toBe(sky.issuer);
      const token = await createMaskinportenClient({ issuer, ...noSleep }).requestToken(grantFor());
      expect(sky.grants.at(-1)?.claims?.aud).toBe(sky.issuer);
      expect(sky.verifyAccessToken(token.accessToken)?.iss).toBe(sky.issuer);
      // The same server named with a slash is another issuer: refused, not normalised.
      const withSlash = await createMaskinportenClient({ issuer: `${sky.issuer}/`, ...noSleep })
        .requestToken(grantFor())
        .catch((e: unknown) => e);
      expect(withSlash).toMatchObject({ code: ErrorCode.Config });
    } finally {
      await sky.close();
    }
  });

  it("never puts the grant in an error", async () => {
    let grant = "";
    mp.injectFault({ kind: "status", status: 500, body: "oops" }, { times: Infinity });
    const error = (await client({ retry: { maxAttempts: 1 } })
      .requestToken(async (aud) => (grant = await createGrant({ audience: aud, clientId: "client-1", scopes: ["sdir:read"] }, signer)))
      .catch((e: unknown) => e)) as Error;
    expect(grant).not.toBe("");
    expect(JSON.stringify({ message: error.message, stack: error.stack })).not.toContain(grant.split(".")[2]);
    expect(decodeJwt(grant).jti).toBeTruthy();
  });
});

/** A loopback port nobody listens on: bind one, then close it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
