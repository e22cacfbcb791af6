/**
 * The customer-token cache on its own, with Maskinporten behind the `issue` port answered in
 * process (the HTTP tests use the real stand-in): bounds, LRU, renewal of keys in use only,
 * the shared sign budget, and 5,000 distinct customers through one profile.
 */
import { describe, expect, it } from "vitest";
import type { TokenProfile } from "../../src/config/domain.js";
import { CustomerTokens, signBucketFor, type CustomerPolicy } from "../../src/customers/index.js";
import { TokenBucket } from "../../src/customers/token-bucket.js";
import { silentLogger } from "../../src/logging.js";
import { MaskinportenError } from "../../src/maskinporten/errors.js";
import { NoTokenError } from "../../src/renewal/profile-tokens.js";
import type { StoredToken } from "../../src/token-store/stored-token.js";

const LIFETIME_MS = 120_000;
const policy = { renewWhenRemainingRatio: 0.5, minServeRemainingMs: 15_000 };

function setup(
  customers: Partial<CustomerPolicy> = {},
  opts: { refuse?: Set<string>; signBucket?: TokenBucket; sleepAdvancesClock?: boolean } = {},
) {
  const clock = { now: 1_750_000_000_000 };
  const issuedAt: number[] = [];
  const profile = {
    name: "p",
    clientId: "c",
    scopes: ["s"],
    issuer: "https://test.maskinporten.no/",
    secretName: "maskinporten-p",
    role: "Token.p",
    signing: { kind: "key", keyName: "k", kid: "k", alg: "RS256" },
    customers: {
      allowed: "*",
      claim: "consumer_org",
      maxCustomers: 1000,
      requestsPerSecond: 10,
      deniedCacheMs: 60_000,
      storeTokens: false,
      ...customers,
    },
  } as TokenProfile & { customers: CustomerPolicy };
  const issue = async (variant: TokenProfile): Promise<StoredToken> => {
    issuedAt.push(clock.now);
    const detail = variant.authorizationDetails?.[0] as { systemuser_org: { ID: string } } | undefined;
    const customer = variant.consumerOrg ?? detail!.systemuser_org.ID.slice(5);
    if (opts.refuse?.has(customer)) {
      throw new MaskinportenError("ERR_MASKINPORTEN_REJECTED", "refused", {
        status: 403,
        error: "forbidden",
        errorDescription: "no (trace_id: abc)",
        traceId: "abc",
        transient: false,
      });
    }
    return {
      accessToken: `token-${customer}-${clock.now}`,
      tokenType: "Bearer",
      scope: "s",
      issuedAt: new Date(clock.now),
      expiresAt: new Date(clock.now + LIFETIME_MS),
      fingerprint: `fp-${customer}`,
    };
  };
  const cache = new CustomerTokens({
    profile,
    issue,
    policy,
    signBucket: opts.signBucket ?? new TokenBucket(1e6, 1e6, clock.now),
    logger: silentLogger,
    now: () => clock.now,
    sleep: async (ms) => {
      if (opts.sleepAdvancesClock !== false) clock.now += ms;
    },
  });
  return { clock, cache, issuedAt };
}

const org = (i: number) => String(300_000_000 + i);

/** Most grants in any window of `windowMs` (issue times are sorted). */
function maxInWindow(times: number[], windowMs: number): number {
  let max = 0;
  for (let start = 0, end = 0; end < times.length; end++) {
    while (times[end]! - times[start]! >= windowMs) start++;
    max = Math.max(max, end - start + 1);
  }
  return max;
}

describe("bounds", () => {
  it("5,000 distinct customers through one profile: at most MAX_CUSTOMERS held, Maskinporten rate within its budget", async () => {
    // 50 new customers arrive every second (five times the profile's rate), concurrently. Waiting
    // requests keep their reservation, so grants are counted at reservation time (sleep is a no-op).
    const { clock, cache, issuedAt } = setup({ maxCustomers: 1000, requestsPerSecond: 10 }, { sleepAdvancesClock: false });
    const start = clock.now;
    const heapBefore = process.memoryUsage().heapUsed;
    let served = 0;
    let refused = 0;
    let maxPerSecond = 0;
    for (let second = 0; second < 100; second++) {
      const before = issuedAt.length;
      const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => cache.serve({ customer: org(second * 50 + i) })));
      for (const result of results) {
        if (result.status === "fulfilled") served++;
        else {
          expect(result.reason).toBeInstanceOf(NoTokenError);
          refused++;
        }
      }
      maxPerSecond = Math.max(maxPerSecond, issuedAt.length - before);
      expect(cache.stats().held).toBeLessThanOrEqual(1000);
      clock.now += 1000;
    }
    const heapGrowthMb = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
    const stats = cache.stats();
    const seconds = (clock.now - start) / 1000;
    // A full bucket (2 s worth) plus 2 s of queue, then 10 a second.
    expect(maxPerSecond).toBeLessThanOrEqual(40);
    expect(issuedAt.length).toBeLessThanOrEqual(20 + 20 + seconds * 10);
    expect(issuedAt.length).toBeGreaterThanOrEqual(seconds * 10 - 10);
    expect(stats.held).toBeLessThanOrEqual(1000);
    expect(served + refused).toBe(5000);
    expect(refused).toBe(5000 - served);
    // Refused newcomers take no place: only served customers beyond the limit evicted anyone.
    expect(stats.evicted).toBe(served - stats.held);
    console.log(
      `5,000 customers at 50/s for ${seconds} s: served ${served}, refused 503 ${refused}, grants ${issuedAt.length} ` +
        `(max ${maxPerSecond} in one second), held ${stats.held} (+${stats.evicted} evicted, limit 1000), heap growth ${heapGrowthMb.toFixed(1)} MB`,
    );
  });

  it("memory: 5,000 customers served at a rate that fits keep at most MAX_CUSTOMERS entries", async () => {
    const { clock, cache, issuedAt } = setup({ maxCustomers: 1000, requestsPerSecond: 100 });
    for (let i = 0; i < 5000; i++) {
      clock.now += 20;
      await cache.serve({ customer: org(i) });
    }
    expect(issuedAt.length).toBe(5000);
    expect(cache.stats()).toMatchObject({ held: 1000, evicted: 4000 });
  });

  it("LRU: the most recently used customers stay, the least recently used go", async () => {
    const { clock, cache, issuedAt } = setup({ maxCustomers: 3, requestsPerSecond: 100 });
    for (const i of [1, 2, 3]) await cache.serve({ customer: org(i) });
    clock.now += 1000;
    await cache.serve({ customer: org(1) }); // 1 is now the most recent
    await cache.serve({ customer: org(4) }); // evicts 2
    const grants = issuedAt.length;
    await cache.serve({ customer: org(1) });
    await cache.serve({ customer: org(3) });
    expect(issuedAt.length).toBe(grants);
    await cache.serve({ customer: org(2) });
    expect(issuedAt.length).toBe(grants + 1);
    expect(cache.stats()).toMatchObject({ held: 3, evicted: 2 });
  });

  it("the cache key names every grant-shaping input: externalRef makes its own entry", async () => {
    const { cache, issuedAt } = setup({ claim: "systemuser" });
    const plain = await cache.serve({ customer: org(1) });
    const a = await cache.serve({ customer: org(1), externalRef: "a" });
    const b = await cache.serve({ customer: org(1), externalRef: "b" });
    await cache.serve({ customer: org(1), externalRef: "a" });
    expect(issuedAt.length).toBe(3);
    expect(cache.stats().held).toBe(3);
    expect(new Set([plain, a, b]).size).toBe(3);
  });
});

describe("renewal by the timer", () => {
  it("renews due tokens of customers requested within two lifetimes, drops the rest when expired", async () => {
    const { clock, cache, issuedAt } = setup();
    await cache.serve({ customer: org(1) });
    await cache.serve({ customer: org(2) });
    for (let t = 0; t < 20; t++) {
      clock.now += 30_000;
      if (t < 3) await cache.serve({ customer: org(1) }); // org 1 is used for the first 90 s only
      await cache.serve({ customer: org(2) }); // org 2 all along
      await cache.renewDue();
    }
    // 600 s later: org 2 renewed all along; org 1 renewed while in use (last request + two
    // lifetimes = 330 s), then left to expire and dropped.
    expect(cache.stats().held).toBe(1);
    const before = issuedAt.length;
    await cache.serve({ customer: org(2) });
    expect(issuedAt.length).toBe(before);
    await cache.serve({ customer: org(1) });
    expect(issuedAt.length).toBe(before + 1);
  });

  it("the timer never waits for rate budget: what does not fit is deferred", async () => {
    const { clock, cache } = setup({ requestsPerSecond: 1 });
    for (let i = 0; i < 2; i++) await cache.serve({ customer: org(i) });
    clock.now += 10_000;
    for (let i = 2; i < 12; i++) {
      await cache.serve({ customer: org(i) });
      clock.now += 1000;
    }
    clock.now += 55_000; // all due, none expired
    for (let i = 0; i < 12; i++) await cache.serve({ customer: org(i) }).catch(() => undefined);
    const summary = await cache.renewDue();
    expect(summary.deferred).toBeGreaterThan(0);
  });
});

describe("refusals", () => {
  it("a refused customer is remembered for deniedCacheMs, then asked again", async () => {
    const { clock, cache, issuedAt } = setup({ deniedCacheMs: 5_000 }, { refuse: new Set([org(9)]) });
    await expect(cache.serve({ customer: org(9) })).rejects.toMatchObject({ code: "ERR_CUSTOMER_DENIED", traceId: "abc" });
    await expect(cache.serve({ customer: org(9) })).rejects.toMatchObject({ code: "ERR_CUSTOMER_DENIED" });
    expect(issuedAt.length).toBe(1);
    clock.now += 5_001;
    await expect(cache.serve({ customer: org(9) })).rejects.toMatchObject({ code: "ERR_CUSTOMER_DENIED" });
    expect(issuedAt.length).toBe(2);
  });
});

describe("the Key Vault sign budget", () => {
  it("is shared by profiles and never exceeded in any 10 s window", async () => {
    const clock0 = 1_750_000_000_000;
    const signBucket = signBucketFor({ vaultSignsPer10s: 250, share: 0.5 }, clock0); // RSA-4096 HSM, half for us
    const a = setup({ requestsPerSecond: 1000 }, { signBucket });
    const b = setup({ requestsPerSecond: 1000 }, { signBucket });
    b.clock.now = a.clock.now = clock0;
    const issued: number[] = [];
    for (let step = 0; step < 3000; step++) {
      a.clock.now += 10;
      b.clock.now = a.clock.now;
      await a.cache.serve({ customer: org(step) }).catch(() => undefined);
      await b.cache.serve({ customer: org(step) }).catch(() => undefined);
    }
    issued.push(...a.issuedAt, ...b.issuedAt);
    issued.sort((x, y) => x - y);
    expect(maxInWindow(issued, 10_000)).toBeLessThanOrEqual(125);
    expect(issued.length).toBeGreaterThan(300); // 30 s at ~11 signs/s
  });
});
