/**
 * Each fault class of Maskinporten and Key Vault, injected into the stand-ins, against a real
 * broker (createRuntime: config, Key Vault SDK clients, Maskinporten client, caller verifier) on a
 * fake clock. What a user relies on, for every class:
 *   - the token held keeps being served while it is valid;
 *   - the failure is logged with its cause (code, message, Maskinporten's status and trace id);
 *   - once the fault clears the broker recovers: a new token is served and stored in the secret;
 *   - no secret version ever expires earlier than the one before it.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Runtime } from "../../src/app/runtime.js";
import { ErrorCode } from "../../src/errors.js";
import type { Fault as KeyVaultFault } from "../../sandbox/keyvault/index.js";
import type { Fault as MaskinportenFault } from "../../sandbox/maskinporten/index.js";
import { regressions, secretExpiries, startWorld, type World } from "../../soak/harness/world.js";
import { captureLog, requestToken, type CapturedLog, type LogEntry } from "./helpers.js";

const LIFETIME_S = 120;
const PROFILE = "skatt";
/** Renewal is due after half the lifetime; 70 s in, the token is due but has 50 s left. */
const INTO_DUE_MS = 70_000;
const ALWAYS = 1_000_000;

let world: World;

beforeAll(async () => {
  world = await startWorld({
    tokenLifetimeSeconds: LIFETIME_S,
    profiles: [{ name: PROFILE, clientId: "skatt-client", scope: "skatteetaten:testnorge" }],
  });
});
afterAll(async () => {
  await world?.close();
});
beforeEach(() => {
  // Every test starts an hour later: whatever earlier tests stored has long expired.
  world.clock.advance(3_600_000);
});
afterEach(() => {
  world.maskinporten.clearFaults();
  world.keyVault.clearFaults();
  // Whatever happened, the token secret never went backwards.
  expect(regressions(secretExpiries(world.keyVault, world.secretName(PROFILE)))).toEqual([]);
});

interface Scenario {
  runtime: Runtime;
  log: CapturedLog;
  caller: string;
  /** Expiry of the token held when the fault starts. */
  heldExpiresAt: number;
}

/** A broker that renewed once and is now past the renewal point, its token still valid. */
async function brokerWithDueToken(overrides: Parameters<World["runtime"]>[0] = {}): Promise<Scenario> {
  const log = captureLog();
  const runtime = world.runtime({ logger: log.logger, ...overrides });
  const [first] = await runtime.broker.renewAll("timer");
  expect(first).toMatchObject({ outcome: "renewed" });
  world.clock.advance(INTO_DUE_MS);
  return { runtime, log, caller: world.callerToken([world.roleOf(PROFILE)]), heldExpiresAt: first!.expiresAt!.getTime() };
}

async function served(s: Scenario): Promise<{ expiresAt: number; accessToken: string }> {
  const response = await requestToken(s.runtime, s.caller, PROFILE);
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  const expiresAt = Date.parse(String(response.body.expires_at));
  // Never an expired token, and never one Maskinporten did not issue.
  expect(expiresAt).toBeGreaterThan(world.clock.now());
  expect(world.maskinporten.verifyAccessToken(String(response.body.access_token))).toBeDefined();
  return { expiresAt, accessToken: String(response.body.access_token) };
}

/** During the fault: the held token is served, the renewal fails, and the failure is logged with its cause. */
async function expectSurvivesFault(
  s: Scenario,
  expected: { code: string; message: RegExp; stage?: "issue" | "store-write" },
): Promise<LogEntry> {
  expect((await served(s)).expiresAt).toBe(s.heldExpiresAt);
  const [outcome] = await s.runtime.broker.renewAll("timer");
  expect(outcome).toMatchObject({ outcome: "failed", error: { code: expected.code } });
  expect((await served(s)).expiresAt).toBe(s.heldExpiresAt);

  const failures = s.log.find("renewal", { outcome: "failed" });
  expect(failures.length).toBeGreaterThan(0);
  const failure = failures.at(-1)!;
  expect(failure).toMatchObject({
    level: "error",
    profile: PROFILE,
    code: expected.code,
    stage: expected.stage ?? "issue",
    keptTokenExpiresAt: new Date(s.heldExpiresAt).toISOString(),
  });
  expect(String(failure.message)).toMatch(expected.message);
  return failure;
}

/** After the fault: a new token is served, and the secret holds it. */
async function expectRecovers(s: Scenario): Promise<void> {
  world.maskinporten.clearFaults();
  world.keyVault.clearFaults();
  // Past the on-demand backoff after one failure (5 s).
  world.clock.advance(6_000);
  await s.runtime.broker.renewAll("timer");
  const now = await served(s);
  expect(now.expiresAt).toBeGreaterThan(s.heldExpiresAt);
  const versions = world.keyVault.getSecretVersions(world.secretName(PROFILE));
  expect(versions.at(-1)!.value === now.accessToken, "the secret holds the token being served").toBe(true);
  expect((await s.runtime.broker.health())[0]!.consecutiveFailures).toBe(0);
}

function injectMaskinporten(fault: MaskinportenFault, times = Infinity): void {
  world.maskinporten.injectFault(fault, { times });
}
function injectKeyVault(fault: KeyVaultFault): void {
  world.keyVault.injectFault(fault);
}

describe("Maskinporten faults", () => {
  it("5xx (503 with an OAuth body): token kept, failure logged with status and trace id, recovery", async () => {
    const s = await brokerWithDueToken();
    const requestsBefore = world.maskinporten.counters.tokenRequests;
    injectMaskinporten({ kind: "error", status: 503, error: "server_error", description: "Service temporarily unavailable" });
    const failure = await expectSurvivesFault(s, { code: ErrorCode.MaskinportenUnavailable, message: /HTTP 503.*server_error/ });
    expect(failure.status).toBe(503);
    expect(failure.traceId).toMatch(/^[0-9a-f]{32}$/);
    // Transient: retried with fresh grants, within the retry budget (3 attempts per renewal).
    expect(world.maskinporten.counters.tokenRequests - requestsBefore).toBeGreaterThanOrEqual(3);
    expect(s.log.find("maskinporten-retry").length).toBeGreaterThan(0);
    await expectRecovers(s);
  });

  it("5xx without a body (bare 500 from a proxy)", async () => {
    const s = await brokerWithDueToken();
    injectMaskinporten({ kind: "status", status: 500, body: "<html>Internal Server Error</html>" });
    await expectSurvivesFault(s, { code: ErrorCode.MaskinportenUnavailable, message: /HTTP 500, no OAuth error body/ });
    await expectRecovers(s);
  });

  it("429 with Retry-After: the wait is honoured between attempts", async () => {
    const s = await brokerWithDueToken();
    injectMaskinporten({
      kind: "status",
      status: 429,
      headers: { "retry-after": "3" },
      body: { error: "slow_down", error_description: "Too many requests" },
    });
    await expectSurvivesFault(s, { code: ErrorCode.MaskinportenUnavailable, message: /HTTP 429/ });
    const retries = s.log.find("maskinporten-retry");
    expect(retries.length).toBeGreaterThan(0);
    for (const retry of retries) expect(retry.delayMs).toBeGreaterThanOrEqual(3_000);
    await expectRecovers(s);
  });

  it("a single 503 is absorbed by a retry with a fresh grant: no failure at all", async () => {
    const s = await brokerWithDueToken();
    injectMaskinporten({ kind: "status", status: 503 }, 1);
    const [outcome] = await s.runtime.broker.renewAll("timer");
    expect(outcome).toMatchObject({ outcome: "renewed" });
    expect(s.log.find("maskinporten-retry")).toHaveLength(1);
    const jtis = world.maskinporten.grants.slice(-2).map((g) => g.claims?.jti);
    expect(new Set(jtis).size).toBe(2);
    expect((await served(s)).expiresAt).toBeGreaterThan(s.heldExpiresAt);
  });

  it("400 invalid_grant is not retried (no hammering) and is logged with Maskinporten's words and trace id", async () => {
    const s = await brokerWithDueToken();
    const requestsBefore = world.maskinporten.counters.tokenRequests;
    injectMaskinporten({
      kind: "error",
      status: 400,
      error: "invalid_grant",
      description: "Invalid assertion. Client authentication failed.",
    });
    const failure = await expectSurvivesFault(s, { code: ErrorCode.MaskinportenRejected, message: /invalid_grant: Invalid assertion/ });
    expect(failure).toMatchObject({ status: 400, maskinportenError: "invalid_grant" });
    expect(failure.traceId).toMatch(/^[0-9a-f]{32}$/);
    // One request per renewal attempt: the background one the request started and the timer's.
    expect(world.maskinporten.counters.tokenRequests - requestsBefore).toBeLessThanOrEqual(2);
    await expectRecovers(s);
  });

  it("timeouts (no answer within the client's timeout)", async () => {
    const s = await brokerWithDueToken({ timeoutMs: 100 });
    injectMaskinporten({ kind: "delay", ms: 400 });
    await expectSurvivesFault(s, { code: ErrorCode.MaskinportenUnavailable, message: /no answer within 100 ms/ });
    await expectRecovers(s);
  });

  it("connection resets", async () => {
    const s = await brokerWithDueToken();
    injectMaskinporten({ kind: "reset" });
    await expectSurvivesFault(s, { code: ErrorCode.MaskinportenUnavailable, message: /could not be reached/ });
    await expectRecovers(s);
  });

  it("malformed JSON in a 200 answer", async () => {
    const s = await brokerWithDueToken();
    injectMaskinporten({ kind: "malformed-json" });
    await expectSurvivesFault(s, { code: ErrorCode.MaskinportenBadResponse, message: /not JSON/ });
    await expectRecovers(s);
  });

  it("truncated JSON in a 200 answer", async () => {
    const s = await brokerWithDueToken();
    injectMaskinporten({ kind: "truncated-json" });
    await expectSurvivesFault(s, { code: ErrorCode.MaskinportenBadResponse, message: /not JSON/ });
    await expectRecovers(s);
  });

  it("slow answers within the timeout: renewal succeeds, nothing is logged as failed", async () => {
    const s = await brokerWithDueToken({ timeoutMs: 5_000 });
    injectMaskinporten({ kind: "delay", ms: 200 });
    const [outcome] = await s.runtime.broker.renewAll("timer");
    expect(outcome).toMatchObject({ outcome: "renewed" });
    expect(s.log.find("renewal", { outcome: "failed" })).toEqual([]);
    expect((await served(s)).expiresAt).toBeGreaterThan(s.heldExpiresAt);
  });

  it("metadata endpoint down for a new instance with a stored token: the stored token is served", async () => {
    const first = await brokerWithDueToken();
    // A second instance starts while Maskinporten's metadata is failing; it never needs it to serve.
    injectMaskinporten({ kind: "status", status: 503 }, Infinity);
    world.maskinporten.injectFault({ kind: "status", status: 502 }, { times: Infinity, target: "metadata" });
    const log = captureLog();
    const second: Scenario = { ...first, runtime: world.runtime({ logger: log.logger }), log };
    await expectSurvivesFault(second, { code: ErrorCode.MaskinportenUnavailable, message: /metadata.*HTTP 502/ });
    await expectRecovers(second);
  });
});

describe("Key Vault faults", () => {
  it("429 with Retry-After once on the secret write: the SDK waits and retries, the renewal succeeds", async () => {
    const s = await brokerWithDueToken();
    const throttledBefore = world.keyVault.counters.throttled;
    injectKeyVault({ match: "secretSet", action: { type: "status", status: 429, retryAfterSeconds: 1 }, times: 1 });
    const [outcome] = await s.runtime.broker.renewAll("timer");
    expect(outcome).toMatchObject({ outcome: "renewed" });
    expect(world.keyVault.counters.throttled - throttledBefore).toBe(1);
    const now = await served(s);
    expect(world.keyVault.getSecretVersions(world.secretName(PROFILE)).at(-1)!.value === now.accessToken).toBe(true);
  });

  it("429 with Retry-After on every sign: token kept, throttling logged, recovery", async () => {
    const s = await brokerWithDueToken();
    injectKeyVault({ match: "sign", action: { type: "status", status: 429, retryAfterSeconds: 1 }, times: ALWAYS });
    await expectSurvivesFault(s, { code: ErrorCode.KeyVault, message: /HTTP 429, Throttled/ });
    await expectRecovers(s);
  });

  it("503 on every operation: token kept, failure logged, recovery", async () => {
    const s = await brokerWithDueToken();
    injectKeyVault({ match: "any", action: { type: "status", status: 503 }, times: ALWAYS });
    await expectSurvivesFault(s, { code: ErrorCode.KeyVault, message: /HTTP 503/ });
    expect(s.log.find("token-store-read-failed").length).toBeGreaterThan(0);
    await expectRecovers(s);
  });

  it("failed sign (500 on keys/sign): token kept, failure logged, recovery", async () => {
    const s = await brokerWithDueToken();
    injectKeyVault({ match: "sign", action: { type: "status", status: 500 }, times: ALWAYS });
    await expectSurvivesFault(s, { code: ErrorCode.KeyVault, message: /HTTP 500/ });
    await expectRecovers(s);
  });

  it("failed secret write: the new token is served from memory and reaches the secret once Key Vault is back", async () => {
    const s = await brokerWithDueToken();
    injectKeyVault({ match: "secretSet", action: { type: "status", status: 500 }, times: ALWAYS });
    const [outcome] = await s.runtime.broker.renewAll("timer");
    expect(outcome).toMatchObject({ outcome: "failed", error: { code: ErrorCode.KeyVault } });
    const failure = s.log.find("renewal", { outcome: "failed" }).at(-1)!;
    expect(failure).toMatchObject({ stage: "store-write", code: ErrorCode.KeyVault });
    expect(String(failure.message)).toMatch(/could not be written: HTTP 500/);
    // Maskinporten answered: that token is served even though the shared copy could not be updated.
    const during = await served(s);
    expect(during.expiresAt).toBeGreaterThan(s.heldExpiresAt);
    expect(world.keyVault.getSecretVersions(world.secretName(PROFILE)).at(-1)!.value === during.accessToken).toBe(false);
    await expectRecovers(s);
  });

  it("latency on every operation: renewal is slower but succeeds", async () => {
    const s = await brokerWithDueToken();
    injectKeyVault({ match: "any", action: { type: "delay", ms: 150 }, times: ALWAYS });
    const [outcome] = await s.runtime.broker.renewAll("timer");
    expect(outcome).toMatchObject({ outcome: "renewed" });
    expect((await served(s)).expiresAt).toBeGreaterThan(s.heldExpiresAt);
  });

  it("connection resets on secret reads: a new instance with empty memory still serves (renews on demand)", async () => {
    await brokerWithDueToken();
    injectKeyVault({ match: "secretGet", action: { type: "reset" }, times: ALWAYS });
    const log = captureLog();
    const runtime = world.runtime({ logger: log.logger });
    const fresh: Scenario = { runtime, log, caller: world.callerToken([world.roleOf(PROFILE)]), heldExpiresAt: 0 };
    const token = await served(fresh);
    // A token issued now (Maskinporten's lifetime counts from the whole second it was issued in).
    expect(token.expiresAt).toBeGreaterThan(world.clock.now() + LIFETIME_S * 1000 - 1000);
    expect(log.find("token-store-read-failed").length).toBeGreaterThan(0);
    // On demand the new token stays in memory; only the timer writes the secret.
    expect(log.find("renewal", { outcome: "renewed", stored: false }).length).toBeGreaterThan(0);
  });
});
