/**
 * GET /api/health against the stand-ins, with the Key Vault stand-in counting requests: anonymous
 * health answers from memory (no Key Vault request, even while the certificate read fails), the
 * signer backs off after a failed read, certificate expiry comes from the timer, and a token that
 * does not authenticate (or a caller without a profile's role) gets the anonymous answer and leaves
 * an audit line.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Runtime } from "../../src/app/runtime.js";
import { handleHealthRequest } from "../../src/http/health-endpoint.js";
import { createKeyVaultSigner, readFailureBackoffMs } from "../../src/keyvault/signer.js";
import { startWorld, type World } from "../../soak/harness/world.js";
import { staticCredential } from "../support/credentials.js";
import { captureLog, type CapturedLog } from "../reliability/helpers.js";

const MISSING_CERTIFICATE = "not-imported-yet";
let world: World;
let log: CapturedLog;

beforeAll(async () => {
  world = await startWorld({ tokenLifetimeSeconds: 600 });
  log = captureLog();
});
afterAll(async () => {
  await world?.close();
});

const keyVaultRequests = () => Object.values(world.keyVault.counters).reduce((sum, n) => sum + n, 0);
const health = (runtime: Runtime, authorization?: string) =>
  handleHealthRequest(new Headers(authorization === undefined ? {} : { authorization }), runtime);
const runtimeWith = (settings: Record<string, string> = {}): Runtime => {
  const saved = { ...world.settings };
  Object.assign(world.settings, settings);
  try {
    return world.runtime({ logger: log.logger });
  } finally {
    Object.assign(world.settings, saved);
  }
};

describe("anonymous health", () => {
  it("makes no Key Vault request, even while the certificate read fails: 100 GETs, 0 requests", async () => {
    const runtime = runtimeWith({ SIGNING_CERTIFICATE_NAME: MISSING_CERTIFICATE });
    await runtime.broker.renewAll("timer"); // fails: the certificate is not there
    world.keyVault.resetCounters();
    for (let i = 0; i < 100; i++) {
      const answer = await health(runtime);
      expect(answer.status).toBe(503);
      expect(answer.body).toEqual({ status: "unhealthy" });
    }
    expect(keyVaultRequests()).toBe(0);
  });

  it("reports certificate expiry computed by the timer, without reading Key Vault itself", async () => {
    const runtime = runtimeWith();
    await runtime.broker.renewAll("timer");
    world.clock.advance(2 * 3_600_000); // past the hourly certificate refresh
    const caller = `Bearer ${world.callerToken([world.roleOf("skatt")])}`;
    await runtime.verifier!.verify(caller); // Entra's keys fetched before counting
    world.keyVault.resetCounters();
    const answer = await health(runtime, caller);
    expect(answer.body).toMatchObject({ profiles: [{ profile: "skatt", certificateDaysLeft: expect.any(Number) }] });
    expect(world.keyVault.counters.certificateGet ?? 0).toBe(0);
    await runtime.broker.renewAll("timer");
    expect(keyVaultRequests()).toBeGreaterThan(0);
  });
});

describe("the signer after a failed certificate read", () => {
  it("answers from the remembered failure during the backoff, then reads again", async () => {
    const signer = createKeyVaultSigner({
      vaultUrl: world.keyVault.url,
      credential: staticCredential(),
      clientOptions: {
        disableChallengeResourceVerification: true,
        tlsOptions: { ca: world.keyVault.caPem },
        retryOptions: { maxRetries: 0 },
      },
      source: { kind: "certificate", certificateName: MISSING_CERTIFICATE, alg: "RS256", chain: [] },
      now: world.clock.now,
    });
    world.keyVault.resetCounters();
    for (let i = 0; i < 20; i++) await expect(signer.currentKey()).rejects.toThrow(/could not be read/);
    const afterFirst = keyVaultRequests();
    expect(afterFirst).toBeGreaterThan(0);
    expect(afterFirst).toBeLessThanOrEqual(2); // the challenge and the one GET
    expect(signer.knownKey()).toBeUndefined();

    world.clock.advance(readFailureBackoffMs(1));
    await expect(signer.currentKey()).rejects.toThrow(/could not be read/);
    expect(keyVaultRequests()).toBeGreaterThan(afterFirst);
    expect(readFailureBackoffMs(10)).toBe(60_000);
  });
});

describe("health with a token that does not let the caller see details", () => {
  it.each([
    ["garbage", () => "Bearer not-a-token"],
    ["a forged token", () => `Bearer ${world.callerToken([world.roleOf("skatt")]).slice(0, -4)}AAAA`],
    ["a valid token without roles", () => `Bearer ${world.entra.mintToken({})}`],
  ])("%s: the anonymous answer, and an audit line", async (_name, authorization) => {
    const runtime = runtimeWith();
    await runtime.broker.renewAll("timer");
    const anonymous = await health(runtime);
    log.clear();
    const answer = await health(runtime, authorization());
    expect(answer.status).toBe(anonymous.status);
    expect(answer.body).toEqual(anonymous.body);
    expect(log.find("health-request")).toEqual([expect.objectContaining({ outcome: "anonymous-answer", reason: expect.any(String) })]);
  });
});
