import { describe, expect, it } from "vitest";
import type { TokenProfile } from "../../src/config/domain.js";
import { profileFingerprint } from "../../src/grant/fingerprint.js";
import { ErrorCode } from "../../src/errors.js";
import type { LogLevel } from "../../src/logging.js";
import { MaskinportenError, rejectionError } from "../../src/maskinporten/errors.js";
import { NoTokenError, ProfileTokens, RECOVERY_INTERVAL_MS, type RecoveryScheduler } from "../../src/renewal/profile-tokens.js";
import type { StoredToken } from "../../src/token-store/stored-token.js";
import { MemoryTokenStore } from "../support/memory-token-store.js";

const profile: TokenProfile = {
  name: "skatt",
  clientId: "c",
  scopes: ["s"],
  issuer: "https://test.maskinporten.no/",
  secretName: "maskinporten-skatt",
  role: "Token.skatt",
  signing: { kind: "certificate", certificateName: "cert", alg: "RS256", chain: [] },
};
const fingerprint = profileFingerprint(profile);

/** Timers on the test's clock: fired by runDue(), never by real time. */
function manualScheduler(now: () => number) {
  const timers = new Map<number, { at: number; callback: () => void }>();
  let id = 0;
  const scheduler: RecoveryScheduler = {
    setTimeout: (callback, ms) => (timers.set(++id, { at: now() + ms, callback }), id),
    clearTimeout: (handle) => timers.delete(handle as number),
  };
  return {
    scheduler,
    pending: () => [...timers.values()].map((t) => t.at - now()),
    runDue: async () => {
      for (const [key, timer] of [...timers]) {
        if (timer.at > now()) continue;
        timers.delete(key);
        timer.callback();
      }
      await new Promise((resolve) => setTimeout(resolve, 0));
    },
  };
}

function setup(lifetimeS = 120, forProfile: TokenProfile = profile) {
  let nowMs = 1_700_000_000_000;
  const timers = manualScheduler(() => nowMs);
  const attempts: Array<{ maxAttempts?: number } | undefined> = [];
  const store = new MemoryTokenStore();
  const logs: { level: LogLevel; event: string; fields: Record<string, unknown> }[] = [];
  const issued: StoredToken[] = [];
  let failure: unknown;
  let gate: Promise<void> | undefined;
  const keeper = new ProfileTokens({
    profile: forProfile,
    store,
    policy: { renewWhenRemainingRatio: 0.5, minServeRemainingMs: 15_000 },
    logger: { log: (level, event, fields = {}) => logs.push({ level, event, fields }) },
    now: () => nowMs,
    scheduler: timers.scheduler,
    issue: async (_profile, options) => {
      attempts.push(options);
      await gate;
      if (failure) throw failure;
      const token = {
        accessToken: `token-${issued.length + 1}`,
        tokenType: "Bearer",
        scope: "s",
        issuedAt: new Date(nowMs),
        expiresAt: new Date(nowMs + lifetimeS * 1000),
        fingerprint: profileFingerprint(forProfile),
      };
      issued.push(token);
      return token;
    },
  });
  return {
    keeper,
    store,
    logs,
    issued,
    timers,
    attempts,
    advance: (ms: number) => (nowMs += ms),
    failWith: (error: unknown) => (failure = error),
    hold: () => {
      let release!: () => void;
      gate = new Promise((resolve) => (release = resolve));
      return () => {
        gate = undefined;
        release();
      };
    },
  };
}

describe("ProfileTokens", () => {
  it("renews on a cold start, then serves from memory without touching the store", async () => {
    const { keeper, store, issued } = setup();
    const first = await keeper.serve();
    expect(first.accessToken).toBe("token-1");
    const readsAfterFirst = store.reads;
    for (let i = 0; i < 100; i++) expect((await keeper.serve()).accessToken).toBe("token-1");
    expect(store.reads).toBe(readsAfterFirst);
    expect(issued).toHaveLength(1);
    // On demand the token is held in memory only: the timer is the single writer of the store.
    expect(store.writes).toBe(0);
    await keeper.renewIfDue("timer");
    expect(store.writes).toBe(1);
    expect(issued).toHaveLength(1);
    await keeper.renewIfDue("timer");
    expect(store.writes).toBe(1);
  });

  it("only the timer writes the store; on-demand renewals are published by the next tick", async () => {
    const { keeper, store, issued, advance } = setup();
    await keeper.renewIfDue("timer");
    expect(store.writes).toBe(1);
    advance(110_000); // unusable: a caller renews on demand
    expect((await keeper.serve()).accessToken).toBe("token-2");
    expect(store.writes).toBe(1);
    expect((await keeper.renewIfDue("timer")).outcome).toBe("fresh");
    expect(store.versions.get("maskinporten-skatt")!.map((t) => t.accessToken)).toEqual(["token-1", "token-2"]);
    expect(issued).toHaveLength(2);
  });

  it("single-flight: many concurrent cold requests make one store read and one renewal", async () => {
    const { keeper, store, issued, hold } = setup();
    const release = hold();
    const requests = Array.from({ length: 50 }, () => keeper.serve());
    release();
    const tokens = await Promise.all(requests);
    expect(new Set(tokens.map((t) => t.accessToken))).toEqual(new Set(["token-1"]));
    expect(issued).toHaveLength(1);
    // One read from the cold serve path, one inside the renewal (another broker may have renewed).
    expect(store.reads).toBeLessThanOrEqual(3);
  });

  it("adopts a token another broker stored instead of asking Maskinporten", async () => {
    const { keeper, store, issued } = setup();
    const other = {
      accessToken: "from-other-broker",
      tokenType: "Bearer",
      scope: "s",
      issuedAt: new Date(1_700_000_000_000),
      expiresAt: new Date(1_700_000_120_000),
      fingerprint,
    };
    await store.write("skatt", "maskinporten-skatt", other);
    expect((await keeper.serve()).accessToken).toBe("from-other-broker");
    expect(issued).toHaveLength(0);
  });

  it("serves a due token at once and renews it in the background", async () => {
    const { keeper, issued, advance } = setup();
    await keeper.serve();
    advance(70_000);
    expect((await keeper.serve()).accessToken).toBe("token-1");
    await new Promise((resolve) => setImmediate(resolve));
    await keeper.renewIfDue("timer");
    expect(issued).toHaveLength(2);
    expect((await keeper.serve()).accessToken).toBe("token-2");
  });

  it("a failed renewal keeps the current token and logs Maskinporten's description and trace id", async () => {
    const { keeper, logs, advance, failWith } = setup();
    await keeper.serve();
    advance(70_000);
    const errorUri = "https://test.maskinporten.no/errors/MP-026";
    failWith(
      rejectionError(
        400,
        { error: "invalid_grant", error_description: "Invalid assertion. (trace_id: 0123abcd)", error_uri: errorUri },
        undefined,
      ),
    );
    const outcome = await keeper.renewIfDue("timer");
    expect(outcome).toMatchObject({
      outcome: "failed",
      error: { maskinportenError: "invalid_grant", traceId: "0123abcd", status: 400, errorUri },
    });
    expect(keeper.status().lastError?.errorUri).toBe(errorUri);
    expect((await keeper.serve()).accessToken).toBe("token-1");
    const failure = logs.find((l) => l.event === "renewal" && l.fields.outcome === "failed");
    expect(failure?.level).toBe("error");
    expect(String(failure?.fields.message)).toContain("Invalid assertion. (trace_id: 0123abcd)");
    expect(failure?.fields.traceId).toBe("0123abcd");
    expect(failure?.fields.errorUri).toBe(errorUri);
    expect(String(failure?.fields.message)).toContain(`(error_uri: ${errorUri})`);
  });

  it("answers NoTokenError with Retry-After once nothing valid exists and backs off on demand", async () => {
    const { keeper, issued, failWith } = setup();
    failWith(new MaskinportenError(ErrorCode.MaskinportenUnavailable, "down", { transient: true, status: 503 }));
    const error = await keeper.serve().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoTokenError);
    expect((error as NoTokenError).retryAfterSeconds).toBe(5);
    // Within the backoff window callers are refused without another attempt.
    const again = await keeper.serve().catch((e: unknown) => e);
    expect(again).toBeInstanceOf(NoTokenError);
    expect(issued).toHaveLength(0);
    expect(keeper.status()).toMatchObject({ consecutiveFailures: 1, lastError: { code: ErrorCode.MaskinportenUnavailable } });
  });

  it("retries in the background every 10 s while callers wait and nothing valid is held, then stops", async () => {
    const { keeper, issued, failWith, advance, timers, attempts } = setup();
    failWith(new MaskinportenError(ErrorCode.MaskinportenUnavailable, "down", { transient: true, status: 503 }));
    await keeper.serve().catch(() => undefined);
    // A long outage: the on-demand backoff would grow to 5 min; the background retry keeps 10 s.
    for (let i = 0; i < 12; i++) {
      expect(timers.pending()).toHaveLength(1);
      expect(timers.pending()[0]).toBeLessThanOrEqual(RECOVERY_INTERVAL_MS);
      advance(timers.pending()[0]!);
      await timers.runDue();
      if (i % 3 === 0) expect(await keeper.serve().catch((e: unknown) => e)).toBeInstanceOf(NoTokenError);
    }
    // Bounded: one single-attempt renewal per firing (and the caller's first full one), not a storm.
    expect(attempts).toHaveLength(13);
    expect(attempts.slice(1).every((a) => a?.maxAttempts === 1)).toBe(true);
    expect(keeper.status().consecutiveFailures).toBe(13);

    // Maskinporten is back: the next firing gets a token; nothing more is scheduled.
    failWith(undefined);
    advance(timers.pending()[0]!);
    await timers.runDue();
    expect(issued).toHaveLength(1);
    expect(timers.pending()).toHaveLength(0);
    expect((await keeper.serve()).accessToken).toBe("token-1");
  });

  it("does nothing in the background while a valid token is held, or when nobody asked recently", async () => {
    const { keeper, failWith, advance, timers, attempts } = setup(600);
    await keeper.renewIfDue("timer");
    failWith(new MaskinportenError(ErrorCode.MaskinportenUnavailable, "down", { transient: true, status: 503 }));
    advance(400_000); // due, still valid: the timer's renewal fails
    await keeper.renewIfDue("timer");
    expect((await keeper.serve()).accessToken).toBe("token-1");
    expect(timers.pending()).toHaveLength(0);

    // Expired, nobody asking: the timer's failures schedule nothing extra.
    advance(300_000);
    const before = attempts.length;
    await keeper.renewIfDue("timer");
    expect(attempts.length).toBe(before + 1);
    expect(timers.pending()).toHaveLength(0);
  });

  it("a failed store write still serves the new token from memory", async () => {
    const { keeper, store } = setup();
    store.failWrites = true;
    const outcome = await keeper.renewIfDue("timer");
    expect(outcome.outcome).toBe("failed");
    expect((await keeper.serve()).accessToken).toBe("token-1");
  });

  it("one profile in memory never moves backwards", async () => {
    const { keeper, store, advance } = setup();
    await keeper.renewIfDue("timer");
    advance(70_000);
    // A racing broker wrote an older token version last.
    const older = {
      accessToken: "older",
      tokenType: "Bearer",
      scope: "s",
      issuedAt: new Date(1_699_999_990_000),
      expiresAt: new Date(1_700_000_110_000),
      fingerprint,
    };
    store.versions.get("maskinporten-skatt")!.push(older);
    await keeper.renewIfDue("timer");
    expect((await keeper.serve()).accessToken).toBe("token-2");
  });

  describe("token identity (fingerprint)", () => {
    const newScopes: TokenProfile = { ...profile, scopes: ["s", "t"] };

    it("gives every setting that shapes the grant its own fingerprint, and none to signing or order", () => {
      const variants: Partial<TokenProfile>[] = [
        { issuer: "https://maskinporten.no/" },
        { clientId: "other" },
        { scopes: ["s", "t"] },
        { resource: ["https://api.example.no"] },
        { consumerOrg: "991825827" },
        { pid: "01017012345" },
        { issOnBehalfOf: "sub-unit" },
        {
          authorizationDetails: [
            { type: "urn:altinn:systemuser", systemuser_org: { authority: "iso6523-actorid-upis", ID: "0192:991825827" } },
          ],
        },
      ];
      const fingerprints = new Set([fingerprint, ...variants.map((change) => profileFingerprint({ ...profile, ...change }))]);
      expect(fingerprints.size).toBe(variants.length + 1);
      expect(profileFingerprint({ ...profile, signing: { kind: "key", keyName: "k", kid: "kid", alg: "RS512" } })).toBe(fingerprint);
      expect(profileFingerprint({ ...profile, scopes: ["t", "s", "s"] })).toBe(profileFingerprint(newScopes));
      expect(fingerprint).toMatch(/^v1\.[A-Za-z0-9_-]{43}$/);
    });

    it("after a settings change never serves or adopts the later-expiring stored token of the old settings", async () => {
      const before = setup(3600);
      await before.keeper.renewIfDue("timer");
      const old = before.store.versions.get("maskinporten-skatt")!.at(-1)!;

      // A new runtime with new scopes on the same store; its tokens expire much earlier.
      const after = setup(120, newScopes);
      for (const token of before.store.versions.get("maskinporten-skatt")!) after.store.versions.set("maskinporten-skatt", [token]);
      const served = await after.keeper.serve();
      expect(served).not.toEqual(old);
      expect(served.fingerprint).toBe(profileFingerprint(newScopes));
      expect(served.expiresAt.getTime()).toBeLessThan(old.expiresAt.getTime());
      expect(after.issued).toHaveLength(1);
      expect(after.keeper.heldToken()).toBe(served);
      // The first timer run overwrites the stored old-settings token although it expires later.
      expect((await after.keeper.renewIfDue("timer")).outcome).toBe("fresh");
      expect(after.store.versions.get("maskinporten-skatt")!.at(-1)).toBe(served);
    });

    it("the first timer run after a settings change renews and overwrites the old-settings token", async () => {
      const before = setup(3600);
      await before.keeper.renewIfDue("timer");
      const after = setup(120, newScopes);
      after.store.versions.set("maskinporten-skatt", [...before.store.versions.get("maskinporten-skatt")!]);
      expect((await after.keeper.renewIfDue("timer")).outcome).toBe("renewed");
      expect(after.store.versions.get("maskinporten-skatt")!.at(-1)!.fingerprint).toBe(profileFingerprint(newScopes));
      expect(after.logs.some((l) => l.event === "renewal" && l.fields.outcome === "adopted")).toBe(false);
    });

    it("a racing writer of the old settings is never adopted over the held token", async () => {
      const { keeper, store, advance } = setup();
      await keeper.renewIfDue("timer");
      const held = keeper.heldToken()!;
      advance(70_000);
      store.versions
        .get("maskinporten-skatt")!
        .push({ ...held, accessToken: "old-settings", expiresAt: new Date(held.expiresAt.getTime() + 3_600_000), fingerprint: "v1.old" });
      await keeper.renewIfDue("timer");
      expect((await keeper.serve()).accessToken).toBe("token-2");
      expect(store.versions.get("maskinporten-skatt")!.at(-1)!.accessToken).toBe("token-2");
    });
  });
});
