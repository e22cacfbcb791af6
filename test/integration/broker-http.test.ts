/**
 * The token endpoint over a real broker (stand-ins for Key Vault, Maskinporten and Entra ID):
 * single-flight on a cold cache, 503 with Retry-After when nothing valid can be had, and a failed
 * renewal that keeps serving the token already held.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createRuntime, type Runtime } from "../../src/app/runtime.js";
import { handleHealthRequest } from "../../src/http/health-endpoint.js";
import type { HttpResult } from "../../src/http/responses.js";
import { handleTokenRequest } from "../../src/http/token-endpoint.js";
import { formatLogLine, type Logger } from "../../src/logging.js";
import { startEntraStandIn, type EntraStandIn } from "../../sandbox/entra/standin.js";
import { startKeyVaultStandIn, type KeyVaultStandIn } from "../../sandbox/keyvault/index.js";
import { startMaskinportenStandIn, type MaskinportenStandIn } from "../../sandbox/maskinporten/index.js";
import { issueEnterpriseCertificate } from "../../sandbox/pki.js";
import { standInRuntimeOptions, standInSettings } from "../support/stand-in-runtime.js";

const ORG = "991825827";
const pki = issueEnterpriseCertificate({ organisationNumber: ORG });
let kv: KeyVaultStandIn;
let mp: MaskinportenStandIn;
let entra: EntraStandIn;
let nowMs = Date.now();
const logs: string[] = [];
const logger: Logger = { log: (level, event, fields) => logs.push(formatLogLine(level, event, fields)) };

beforeAll(async () => {
  [kv, mp, entra] = await Promise.all([
    startKeyVaultStandIn({ now: () => nowMs }),
    startMaskinportenStandIn({ trustedRoots: [pki.root.certificateDer], now: () => nowMs }),
    startEntraStandIn({ now: () => nowMs }),
  ]);
  kv.importCertificate("cert", { privateKey: pki.leaf.privateKey, certificateDer: pki.leaf.certificateDer });
  mp.registerClient({ clientId: "c", organisationNumber: ORG, scopes: ["s:read"], tokenLifetimeSeconds: 300 });
});
afterAll(async () => {
  await Promise.all([kv?.close(), mp?.close(), entra?.close()]);
});

let secretCounter = 0;
function newRuntime(secretName = `token-${++secretCounter}`): Runtime {
  return createRuntime({
    settings: {
      ...standInSettings({ kv, mp, entra, pki }),
      TOKEN_PROFILES: "p",
      PROFILE_P_CLIENT_ID: "c",
      PROFILE_P_SCOPES: "s:read",
      PROFILE_P_SECRET_NAME: secretName,
    },
    ...standInRuntimeOptions({ kv, entra }),
    logger,
    now: () => nowMs,
    maskinporten: { sleep: async () => {}, retry: { maxAttempts: 2 } },
  });
}

const request = (runtime: Runtime, token: string) =>
  handleTokenRequest({ headers: new Headers({ authorization: `Bearer ${token}` }), profile: "p" }, runtime);

beforeEach(() => {
  nowMs = Date.now();
  mp.clearFaults();
  kv.clearFaults();
});

describe("token endpoint over a real broker", () => {
  it("single-flight: 50 concurrent requests on a cold instance make one secret read and no renewal when the secret is fresh", async () => {
    const runtime = newRuntime("shared-token");
    const caller = entra.mintToken({ roles: ["Token.p"] });
    await request(runtime, caller);
    await runtime.broker.renewAll("timer"); // another instance's timer has published a fresh token
    const fresh = newRuntime("shared-token");
    kv.resetCounters();
    mp.resetCounters();
    const results = await Promise.all(Array.from({ length: 50 }, async () => request(fresh, caller)));
    expect(results.map((r) => r.status)).toEqual(Array(50).fill(200));
    expect(new Set(results.map((r) => r.body.access_token)).size).toBe(1);
    expect(kv.counters.secretGet).toBe(1);
    expect(kv.counters.secretSet).toBe(0);
    expect(mp.counters.tokenRequests).toBe(0); // the first broker had stored a fresh token: adopted, not renewed
  });

  it("answers a repeat caller of a held token synchronously, one shared answer per second, one audit line per request", async () => {
    const runtime = newRuntime();
    const [alice, bob] = ["00000000-0000-4000-8000-00000000a11c", "00000000-0000-4000-8000-000000000b0b"].map((azp) =>
      entra.mintToken({ roles: ["Token.p"], azp }),
    );
    // A caller token seen for the first time is verified: that path awaits (keys, signature).
    const first = request(runtime, alice!);
    expect(first).toBeInstanceOf(Promise);
    expect((await first).status).toBe(200);
    await request(runtime, bob!);

    const linesBefore = logs.length;
    const repeat = request(runtime, alice!);
    expect(repeat).not.toBeInstanceOf(Promise);
    const served = repeat as HttpResult;
    expect(served.status).toBe(200);
    // Every caller of the profile in the same second gets the same answer, serialised once.
    expect(request(runtime, bob!)).toBe(served);
    expect(JSON.parse(served.text!)).toEqual(served.body);
    expect(Object.keys(served.body)).toEqual(["access_token", "token_type", "expires_in", "expires_at", "scope", "profile"]);
    nowMs += 1_000;
    const later = request(runtime, alice!) as HttpResult;
    expect(later.body.expires_in).toBe((served.body.expires_in as number) - 1);
    expect(JSON.parse(later.text!)).toEqual(later.body);

    const lines = logs.slice(linesBefore).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((line) => [line.event, line.status, line.callerAppId])).toEqual([
      ["token-request", 200, "00000000-0000-4000-8000-00000000a11c"],
      ["token-request", 200, "00000000-0000-4000-8000-000000000b0b"],
      ["token-request", 200, "00000000-0000-4000-8000-00000000a11c"],
    ]);
    expect(logs.slice(linesBefore).join("\n")).not.toContain(served.body.access_token as string);
  });

  it("single-flight with nothing stored: at most one renewal for 50 concurrent requests", async () => {
    const runtime = newRuntime();
    const caller = entra.mintToken({ roles: ["Token.p"] });
    mp.resetCounters();
    const results = await Promise.all(Array.from({ length: 50 }, async () => request(runtime, caller)));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(mp.counters.tokenRequests).toBe(1);
  });

  it("answers 503 with Retry-After when no valid token exists and Maskinporten fails", async () => {
    const runtime = newRuntime();
    mp.injectFault({ kind: "status", status: 503 }, { times: Infinity });
    const response = await request(runtime, entra.mintToken({ roles: ["Token.p"] }));
    expect(response.status).toBe(503);
    expect(Number(response.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(response.body).toEqual({ error: "temporarily_unavailable", error_description: expect.any(String) });
    const failure = logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.event === "renewal" && l.outcome === "failed");
    expect(failure).toMatchObject({ code: "ERR_MASKINPORTEN_UNAVAILABLE", status: 503 });
  });

  it("keeps serving the token it holds while renewal fails, and recovers after", async () => {
    const runtime = newRuntime();
    const caller = entra.mintToken({ roles: ["Token.p"], exp: Math.floor(nowMs / 1000) + 3600 });
    const first = await request(runtime, caller);
    expect(first.status).toBe(200);
    mp.injectFault(
      { kind: "error", error: "invalid_grant", description: "Invalid assertion. Client authentication failed. (trace_id: 5e1f)" },
      { times: Infinity },
    );
    nowMs += 200_000; // past half the 300 s lifetime: due
    const outcomes = await runtime.broker.renewAll("timer");
    expect(outcomes[0]).toMatchObject({ outcome: "failed", error: { traceId: "5e1f", maskinportenError: "invalid_grant" } });
    const during = await request(runtime, caller);
    expect(during.status).toBe(200);
    expect(during.body.access_token).toBe(first.body.access_token);
    mp.clearFaults();
    nowMs += 10_000; // past the 5 s on-demand backoff
    expect((await runtime.broker.renewAll("timer"))[0]?.outcome).toBe("renewed");
    const after = await request(runtime, caller);
    expect(after.body.access_token).not.toBe(first.body.access_token);
  });

  it("keeps Maskinporten's error_uri with the trace id in the failure log and in health details", async () => {
    const runtime = createRuntime({
      settings: {
        ...standInSettings({ kv, mp, entra, pki }),
        TOKEN_PROFILES: "p",
        PROFILE_P_CLIENT_ID: "c",
        PROFILE_P_SCOPES: "s:not-registered",
        PROFILE_P_SECRET_NAME: `token-${++secretCounter}`,
      },
      ...standInRuntimeOptions({ kv, entra }),
      logger,
      now: () => nowMs,
    });
    const [outcome] = await runtime.broker.renewAll("timer");
    const errorUri = outcome?.error?.errorUri;
    expect(errorUri).toMatch(/\/errors\/MP-\d+$/);
    const logged = logs
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.event === "renewal" && l.outcome === "failed")
      .at(-1);
    expect(logged).toMatchObject({ errorUri, traceId: outcome?.error?.traceId });
    const health = await handleHealthRequest(new Headers({ authorization: `Bearer ${entra.mintToken({ roles: ["Token.p"] })}` }), runtime);
    expect((health.body as { profiles: { lastError: Record<string, unknown> }[] }).profiles[0]?.lastError).toMatchObject({
      errorUri,
      traceId: outcome?.error?.traceId,
    });
  });

  it("warns once a day when the timer is too slow for the token lifetime", async () => {
    const runtime = newRuntime();
    const tooSlow = () => logs.filter((l) => l.includes('"event":"renewal-schedule-too-slow"'));
    const before = tooSlow().length;
    await runtime.broker.renewAll("timer", { intervalMs: 60_000 }); // 300 s token, due at 150 s: fits
    expect(tooSlow().length).toBe(before);
    await runtime.broker.renewAll("timer", { intervalMs: 300_000 });
    await runtime.broker.renewAll("timer", { intervalMs: 300_000 });
    expect(
      tooSlow()
        .slice(before)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    ).toEqual([expect.objectContaining({ level: "warn", profile: "p", tokenLifetimeSeconds: 300, scheduleIntervalSeconds: 300 })]);
  });

  it("logs certificate-expiry with daysLeft once a day when the signing certificate expires within 30 days", async () => {
    const soon = issueEnterpriseCertificate({ organisationNumber: ORG, notAfter: new Date(nowMs + 12.5 * 86_400_000) });
    kv.importCertificate("expiring", { privateKey: soon.leaf.privateKey, certificateDer: soon.leaf.certificateDer });
    const runtime = createRuntime({
      settings: {
        KEY_VAULT_URL: kv.url,
        MASKINPORTEN_ENVIRONMENT: mp.issuer,
        TOKEN_PROFILES: "p",
        SIGNING_CERTIFICATE_NAME: "expiring",
        PROFILE_P_CLIENT_ID: "c",
        PROFILE_P_SCOPES: "s:read",
      },
      ...standInRuntimeOptions({ kv, entra }),
      logger,
      now: () => nowMs,
    });
    const expiring = () =>
      logs
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l.event === "certificate-expiry" && l.certificate === "expiring");
    await runtime.broker.renewAll("timer");
    await runtime.broker.renewAll("timer");
    expect(expiring()).toEqual([expect.objectContaining({ level: "warn", daysLeft: 12 })]);
    nowMs += 86_400_000 + 1;
    await runtime.broker.renewAll("timer");
    expect(expiring().map((l) => l.daysLeft)).toEqual([12, 11]);
  });
});
