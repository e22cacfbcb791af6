/**
 * Bounded resources: floods of unique bad requests through the token endpoint (the handler the
 * function runs, with the real caller verifier) do not grow the heap, the verified-token cache or
 * the load on Entra's key endpoint. Heap is measured after full garbage collections (gc exposed
 * in this worker through V8 flags), before and after the flood.
 */
import { randomBytes } from "node:crypto";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Runtime } from "../../src/app/runtime.js";
import type { Logger } from "../../src/logging.js";
import { startWorld, type World } from "../../soak/harness/world.js";
import { leakScan } from "../support/leak-scan.js";
import { requestToken } from "./helpers.js";

const FLOOD = 50_000;
const CHUNK = 5_000;
/** A leak that kept even a tenth of each ~700-byte token would exceed this many times over. */
const MAX_GROWTH_BYTES = 4 * 1024 * 1024;

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

let world: World;
let runtime: Runtime;
// Audit lines are dropped here (50,000 of them would be the growth we are measuring); the
// endpoint still formats and hands each one to the logger.
const droppingLogger: Logger = { log() {} };

beforeAll(async () => {
  world = await startWorld({ tokenLifetimeSeconds: 600 });
  runtime = world.runtime({ logger: droppingLogger });
});
afterAll(async () => {
  await world?.close();
});

function heapUsedAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** Each call a different bad token, of one of three kinds that fail at different depths. */
function uniqueBadToken(i: number): string {
  switch (i % 3) {
    case 0: // not a JWS at all: refused by the bearer parser
      return randomBytes(48).toString("base64url");
    case 1: // real kid, forged signature: refused after an RSA verification
      return `${b64({ typ: "JWT", alg: "RS256", kid: world.entra.currentKid })}.${b64({ jti: randomBytes(12).toString("hex"), roles: ["Token.skatt"] })}.${randomBytes(256).toString("base64url")}`;
    default: // a kid nobody published: may make the key set refetch, within its cooldown
      return `${b64({ typ: "JWT", alg: "RS256", kid: randomBytes(20).toString("base64url") })}.${b64({ jti: i })}.${randomBytes(256).toString("base64url")}`;
  }
}

/**
 * Runs `count` requests in chunks. The leak scan checks each chunk (error messages, HTTP bodies
 * against the forged tokens) and then forgets it: otherwise the scanner's own records would be the
 * growth measured here.
 */
async function flood(count: number, request: (i: number) => Promise<number>): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  const known = leakScan.checkpoint();
  for (let start = 0; start < count; start += CHUNK) {
    const results = await Promise.all(Array.from({ length: Math.min(CHUNK, count - start) }, (_, k) => request(start + k)));
    for (const status of results) statuses.set(status, (statuses.get(status) ?? 0) + 1);
    expect(leakScan.scan()).toEqual([]);
    leakScan.forgetTexts();
    leakScan.forgetSecretsSince(known);
  }
  return statuses;
}

describe("bounded resources under a flood of unique bad tokens", () => {
  it(`${FLOOD.toLocaleString("en")} unique forged tokens: all refused, heap and caches do not grow`, async () => {
    const jwksBefore = world.entra.jwksRequests;
    await flood(2_000, async (i) => (await requestToken(runtime, uniqueBadToken(i), "skatt")).status); // warm-up
    const cacheBefore = runtime.verifier!.cacheStats();
    const before = heapUsedAfterGc();

    const statuses = await flood(FLOOD, async (i) => (await requestToken(runtime, uniqueBadToken(i), "skatt")).status);

    const after = heapUsedAfterGc();
    const cacheAfter = runtime.verifier!.cacheStats();
    const jwksFetches = world.entra.jwksRequests - jwksBefore;
    console.info(
      `bounded-resources: ${FLOOD} forged tokens; heap after gc ${(before / 2 ** 20).toFixed(1)} MiB → ${(after / 2 ** 20).toFixed(1)} MiB ` +
        `(${((after - before) / 2 ** 20).toFixed(2)} MiB); verified-token cache size ${cacheBefore.size} → ${cacheAfter.size}; JWKS fetches ${jwksFetches}`,
    );

    expect(Object.fromEntries(statuses)).toEqual({ 401: FLOOD });
    expect(after - before).toBeLessThan(MAX_GROWTH_BYTES);
    // Only successful verifications are cached.
    expect(cacheAfter.size).toBe(cacheBefore.size);
    // Unknown kids refetch the key set at most once per cooldown (30 s), not once per token.
    expect(jwksFetches).toBeLessThanOrEqual(5);
  }, 120_000);

  it(`${FLOOD.toLocaleString("en")} requests for unique unknown profiles with a valid caller token: 404s, no growth`, async () => {
    const caller = world.callerToken([world.roleOf("skatt")]);
    await flood(2_000, async (i) => (await requestToken(runtime, caller, `warm-${i}`)).status);
    const before = heapUsedAfterGc();
    const statuses = await flood(
      FLOOD,
      async (i) => (await requestToken(runtime, caller, `no-such-${i}-${randomBytes(8).toString("hex")}`)).status,
    );
    const after = heapUsedAfterGc();
    console.info(
      `bounded-resources: ${FLOOD} unknown profiles; heap after gc ${(before / 2 ** 20).toFixed(1)} MiB → ${(after / 2 ** 20).toFixed(1)} MiB (${((after - before) / 2 ** 20).toFixed(2)} MiB)`,
    );
    expect(Object.fromEntries(statuses)).toEqual({ 404: FLOOD });
    expect(after - before).toBeLessThan(MAX_GROWTH_BYTES);
    // The one valid caller token is the one cache entry.
    expect(runtime.verifier!.cacheStats().size).toBe(1);
  }, 120_000);

  it("the verified-token cache is an LRU with a hard limit: more valid callers than entries evict the oldest", async () => {
    const { createCallerVerifier } = await import("../../src/auth/verifier.js");
    const verifier = createCallerVerifier({
      tenantId: world.entra.tenantId,
      audiences: [world.entra.audience],
      authorityHost: world.entra.authorityHost,
      keySetFetch: world.entra.fetch,
      now: world.clock.now,
      verifiedTokenCacheEntries: 50,
    });
    for (let i = 0; i < 200; i++) await verifier.verify(`Bearer ${world.entra.mintToken({ roles: ["R"], jti: `caller-${i}` })}`);
    expect(verifier.cacheStats()).toMatchObject({ size: 50, evictions: 150 });
  });
});
