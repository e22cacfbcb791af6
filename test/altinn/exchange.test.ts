/**
 * The Altinn exchange adapter against the Altinn stand-in, which verifies real Maskinporten
 * stand-in tokens over HTTP: success (both answer shapes), Altinn's refusals (expired, opaque,
 * foreign issuer, wrong scope), transient failures retried, 4xx not.
 */
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAltinnExchange, AltinnExchangeError, type FetchPort } from "../../src/altinn/exchange.js";
import { parseAltinnAnswer } from "../../src/altinn/altinn-token.js";
import { summariseAltinnBody } from "../../src/altinn/errors.js";
import { resolveAltinnExchange } from "../../src/config/altinn-target.js";
import type { AltinnExchangeTarget } from "../../src/config/domain.js";
import { ErrorCode } from "../../src/errors.js";
import { createGrant } from "../../src/grant/grant.js";
import { createMaskinportenClient } from "../../src/maskinporten/client.js";
import { createLocalKeySigner } from "../../src/signing/local-key-signer.js";
import { startAltinnStandIn, type AltinnStandIn } from "../../sandbox/altinn/standin.js";
import { startMaskinportenStandIn, type MaskinportenStandIn } from "../../sandbox/maskinporten/index.js";
import { generateRsaKeyPair } from "../../sandbox/pki.js";

const DIGDIR = "991825827";
const key = generateRsaKeyPair();
const signer = createLocalKeySigner({ privateKey: key.privateKey, kid: "k1" });
let mp: MaskinportenStandIn;
let other: MaskinportenStandIn;
let altinn: AltinnStandIn;
let gated: AltinnStandIn;
let nowMs = Date.now();

const noSleep = { retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1 }, sleep: async () => {} };

beforeAll(async () => {
  [mp, other] = await Promise.all([startMaskinportenStandIn({ now: () => nowMs }), startMaskinportenStandIn()]);
  for (const standIn of [mp, other]) {
    standIn.registerClient({
      clientId: "so",
      organisationNumber: DIGDIR,
      scopes: ["altinn:serviceowner/instances.read", "skatteetaten:x"],
      keys: { k1: key.publicKey },
      tokenLifetimeSeconds: 120,
    });
    standIn.registerClient({
      clientId: "opaque",
      organisationNumber: DIGDIR,
      scopes: ["altinn:serviceowner/instances.read"],
      keys: { k1: key.publicKey },
      tokenFormat: "opaque",
    });
  }
  [altinn, gated] = await Promise.all([
    startAltinnStandIn({ maskinportenIssuer: mp.issuer, now: () => nowMs }),
    startAltinnStandIn({
      maskinportenIssuer: mp.issuer,
      now: () => nowMs,
      acceptScopes: (scopes) => scopes.some((s) => s.startsWith("altinn:")),
    }),
  ]);
});
afterAll(async () => {
  await Promise.all([mp?.close(), other?.close(), altinn?.close(), gated?.close()]);
});

async function maskinportenToken(
  standIn: MaskinportenStandIn,
  clientId = "so",
  scope = "altinn:serviceowner/instances.read",
): Promise<string> {
  const client = createMaskinportenClient({ issuer: standIn.issuer });
  const token = await client.requestToken(
    (audience) => createGrant({ audience, clientId, scopes: [scope] }, signer, { now: () => nowMs }),
    [scope],
  );
  return token.accessToken;
}

const target = (standIn: AltinnStandIn, testOrg = false): AltinnExchangeTarget => {
  const resolved = resolveAltinnExchange(standIn.baseUrl, testOrg, undefined);
  if ("problem" in resolved) throw new Error(resolved.problem);
  return resolved.target;
};

describe("Altinn token exchange", () => {
  it("exchanges a Maskinporten token for a signed Altinn token whose own exp sets the expiry", async () => {
    const exchange = createAltinnExchange({ now: () => nowMs });
    const token = await exchange(target(altinn), await maskinportenToken(mp));
    const claims = await altinn.verifyAltinnToken(token.accessToken);
    expect(claims).toMatchObject({
      iss: altinn.issuer,
      "urn:altinn:orgNumber": DIGDIR,
      "urn:altinn:org": "digdir",
      "urn:altinn:authenticatemethod": "maskinporten",
      "urn:altinn:authlevel": 3,
      scope: "altinn:serviceowner/instances.read",
      consumer: { authority: "iso6523-actorid-upis", ID: `0192:${DIGDIR}` },
    });
    expect(claims).not.toHaveProperty("aud");
    expect(claims).not.toHaveProperty("client_amr");
    // 30 minutes from Altinn, although the Maskinporten token lived 120 s.
    expect(token.expiresAt.getTime()).toBe(claims!.exp! * 1000);
    expect(token.expiresAt.getTime() - token.issuedAt.getTime()).toBeGreaterThanOrEqual(1799_000);
  });

  it("asks for the TTD test organisation with ?test=true", async () => {
    const exchange = createAltinnExchange({ now: () => nowMs });
    const resolved = target(altinn, true);
    expect(resolved.url).toBe(`${altinn.exchangeUrl}?test=true`);
    const token = await exchange(resolved, await maskinportenToken(mp));
    expect(decodeJwt(token.accessToken)["urn:altinn:org"]).toBe("ttd");
    expect(altinn.exchanges.at(-1)).toMatchObject({ outcome: "issued", testOrg: true });
  });

  it("exchanges a system user token, keeping its authorization_details", async () => {
    const client = createMaskinportenClient({ issuer: mp.issuer });
    const systemUser = [{ type: "urn:altinn:systemuser", systemuser_org: { authority: "iso6523-actorid-upis", ID: "0192:310000001" } }];
    const scope = "skatteetaten:x";
    const mpToken = await client.requestToken(
      (audience) =>
        createGrant({ audience, clientId: "so", scopes: [scope], authorizationDetails: systemUser }, signer, { now: () => nowMs }),
      [scope],
    );
    const token = await createAltinnExchange({ now: () => nowMs })(target(altinn), mpToken.accessToken);
    expect(decodeJwt(token.accessToken)).toMatchObject({
      authorization_details: [
        expect.objectContaining({
          type: "urn:altinn:systemuser",
          systemuser_org: { authority: "iso6523-actorid-upis", ID: "0192:310000001" },
        }),
      ],
      "urn:altinn:orgNumber": DIGDIR,
    });
  });

  it("takes the answer as plain text too (no Accept header negotiation)", () => {
    const jwt = `${Buffer.from('{"alg":"RS256"}').toString("base64url")}.${Buffer.from(`{"exp":${Math.floor(nowMs / 1000) + 1800}}`).toString("base64url")}.c2ln`;
    expect(parseAltinnAnswer(jwt, 200, nowMs).accessToken).toBe(jwt);
    expect(parseAltinnAnswer(JSON.stringify(jwt), 200, nowMs).accessToken).toBe(jwt);
    expect(() => parseAltinnAnswer("<html>gateway</html>", 200, nowMs)).toThrow(/not a JWT/);
    const expired = `${jwt.split(".")[0]}.${Buffer.from(`{"exp":${Math.floor(nowMs / 1000) - 5}}`).toString("base64url")}.c2ln`;
    expect(() => parseAltinnAnswer(expired, 200, nowMs)).toThrow(/already expired/);
  });

  it("refuses an expired Maskinporten token with Altinn's 401, without retrying", async () => {
    const mpToken = await maskinportenToken(mp);
    nowMs += 121_000 + 10_000; // past exp and Altinn's 10 s clock skew
    let calls = 0;
    const counting: FetchPort = (url, init) => {
      calls++;
      return fetch(url, init);
    };
    try {
      const error = await createAltinnExchange({ fetch: counting, now: () => nowMs, ...noSleep })(target(altinn), mpToken).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(AltinnExchangeError);
      expect(error).toMatchObject({ code: ErrorCode.AltinnRejected, status: 401, transient: false, bodySummary: "Unauthorized" });
      expect((error as AltinnExchangeError).traceId).toMatch(/^00-[0-9a-f]{32}-/);
      expect((error as Error).message).not.toContain(mpToken);
      expect(calls).toBe(1);
      expect(altinn.exchanges.at(-1)?.reason).toMatch(/EXPIRED/);
    } finally {
      nowMs = Date.now();
    }
  });

  it("refuses opaque tokens and tokens from another Maskinporten (signature, issuer)", async () => {
    const exchange = createAltinnExchange({ now: () => nowMs, ...noSleep });
    for (const token of [await maskinportenToken(mp, "opaque"), await maskinportenToken(other)]) {
      await expect(exchange(target(altinn), token)).rejects.toMatchObject({ status: 401, transient: false });
    }
    expect(altinn.exchanges.slice(-2).map((e) => e.reason)).toEqual([
      expect.stringMatching(/not a JWT/),
      expect.stringMatching(/token not valid/),
    ]);
  });

  it("refuses a token without the scope a gate wants with 403 (wrong scope)", async () => {
    const exchange = createAltinnExchange({ now: () => nowMs, ...noSleep });
    await expect(exchange(target(gated), await maskinportenToken(mp, "so", "skatteetaten:x"))).rejects.toMatchObject({
      code: ErrorCode.AltinnRejected,
      status: 403,
      bodySummary: "Forbidden",
    });
    await expect(exchange(target(gated), await maskinportenToken(mp))).resolves.toMatchObject({ accessToken: expect.any(String) });
  });

  it("retries 5xx and resets with backoff, then succeeds", async () => {
    const retries: number[] = [];
    const exchange = createAltinnExchange({ now: () => nowMs, ...noSleep, onRetry: ({ attempt }) => retries.push(attempt) });
    altinn.injectFault({ kind: "status", status: 503, body: "Service Unavailable" });
    altinn.injectFault({ kind: "reset" });
    await expect(exchange(target(altinn), await maskinportenToken(mp))).resolves.toMatchObject({ accessToken: expect.any(String) });
    expect(retries).toEqual([1, 2]);
  });

  it("gives up after the last attempt with a transient ERR_ALTINN_UNAVAILABLE", async () => {
    const exchange = createAltinnExchange({ now: () => nowMs, ...noSleep });
    altinn.injectFault({ kind: "status", status: 502, body: { title: "Bad Gateway", traceId: "00-abc-def-00" } }, { times: 3 });
    await expect(exchange(target(altinn), await maskinportenToken(mp))).rejects.toMatchObject({
      code: ErrorCode.AltinnUnavailable,
      status: 502,
      transient: true,
      traceId: "00-abc-def-00",
    });
  });

  it("times out a hanging exchange and says so", async () => {
    const exchange = createAltinnExchange({ now: () => nowMs, timeoutMs: 100, retry: { maxAttempts: 1 } });
    altinn.injectFault({ kind: "delay", ms: 1_000 });
    await expect(exchange(target(altinn), await maskinportenToken(mp))).rejects.toMatchObject({
      code: ErrorCode.AltinnUnavailable,
      message: expect.stringMatching(/no answer within 100 ms/),
    });
  });

  it("never follows a redirect with the bearer token", async () => {
    const exchange = createAltinnExchange({ now: () => nowMs, ...noSleep });
    altinn.injectFault({ kind: "status", status: 302, headers: { location: "http://127.0.0.1:1/elsewhere" } }, { times: 3 });
    await expect(exchange(target(altinn), await maskinportenToken(mp))).rejects.toMatchObject({
      code: ErrorCode.AltinnRejected,
      transient: false,
    });
    altinn.clearFaults();
  });

  it("summarises error bodies without echoing anything token-shaped", () => {
    const jwtLike = `eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.${"s".repeat(40)}`;
    expect(summariseAltinnBody(`bad token ${jwtLike}`).summary).not.toContain(jwtLike);
    expect(summariseAltinnBody(`opaque ${"A".repeat(80)} refused`).summary).toBe("opaque [redacted] refused");
    expect(summariseAltinnBody('{"title":"Unauthorized","status":401,"traceId":"00-1-2-00"}')).toEqual({
      summary: "Unauthorized",
      traceId: "00-1-2-00",
    });
    expect(summariseAltinnBody("")).toEqual({});
  });
});
