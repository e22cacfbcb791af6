/**
 * The simulated day: one broker (createRuntime, as in Azure) against the three stand-ins on a fake
 * clock. Timer ticks follow RENEW_SCHEDULE (croner, UTC), callers ask for every profile's token at
 * a steady rate through the token endpoint, and seeded random outages take Maskinporten and Key
 * Vault down and bring them back. Real HTTP flows to the stand-ins on 127.0.0.1; only the clock is
 * fake, and the simulation waits for the broker's HTTP to go quiet before moving it (so a
 * background renewal completes at the simulated time it started, as it would in milliseconds).
 *
 * "Refused while a valid token existed" is a refusal (any non-200) at simulated time t for profile
 * p while either the broker held a token for p with more than minServeRemainingMs left
 * (broker.health(): what the instance keeps in memory), or the token secret's current version held
 * such a token while Key Vault was answering reads. A token Maskinporten issued but that never
 * reached the broker (an answer after the client's timeout) does not count: nothing could serve it.
 */
import { Cron } from "croner";
import type { Runtime } from "../src/app/runtime.js";
import { DEFAULT_RENEW_SCHEDULE } from "../src/config/settings.js";
import { handleTokenRequest } from "../src/http/token-endpoint.js";
import { jsonLogger } from "../src/logging.js";
import { DEFAULT_MIN_SERVE_REMAINING_MS } from "../src/renewal/policy.js";
import type { Fault as KeyVaultFault } from "../sandbox/keyvault/index.js";
import type { Fault as MaskinportenFault } from "../sandbox/maskinporten/index.js";
import { LeakScanner } from "../test/support/leak-scan.js";
import { trackHttpActivity } from "./harness/http-activity.js";
import { seededRandom } from "./harness/prng.js";
import { startWorld, type World } from "./harness/world.js";

export interface SoakOptions {
  seed: number;
  /** Simulated duration; 24 h for the day. */
  durationMs?: number;
  tokenLifetimeSeconds?: number;
  renewSchedule?: string;
  /** Each profile gets a request this often (±20 % jitter). */
  requestIntervalMs?: number;
  /** Mean simulated time between the start of one outage of a dependency and the next. */
  meanOutageGapMs?: number;
  /** Longest random outage; one outage of twice the token lifetime is always included. */
  maxOutageMs?: number;
  /** Maskinporten client timeout (real ms; the stand-in's injected delays are real). */
  maskinportenTimeoutMs?: number;
  onProgress?: (fraction: number) => void;
  /**
   * Misconfigures the broker's minServeRemainingMs (the checks keep the default): for the test that
   * shows the invariant checks do catch a broker that refuses or serves wrongly.
   */
  brokerMinServeRemainingMs?: number;
}

export type Dependency = "maskinporten" | "key-vault";

export interface Outage {
  dependency: Dependency;
  kind: string;
  startMs: number;
  endMs: number;
  /** A slowdown rather than an outage: excluded from the outage figures. */
  degradation: boolean;
  /** Key Vault reads fail during it (decides whether the stored token was reachable). */
  blocksSecretReads: boolean;
  /** No new token can be had during it (everything but failing secret writes and slowdowns). */
  blocksRenewal: boolean;
}

/**
 * A stretch of time with at least one dependency down (overlapping outages of Maskinporten and Key
 * Vault merged): what "an outage" means for the figures, since the broker needs both to renew.
 */
export interface OutageWindow {
  startMs: number;
  endMs: number;
  outages: Outage[];
  /** Requests refused during the window. */
  refusals: number;
  /** Requests refused after the window ended (before the next window). */
  refusalsAfter: number;
  /** Of those, refused more than RECOVERY_TARGET_MS after the end: each is a violation. */
  refusalsLate: number;
  /**
   * From the end of the window until the broker holds a valid token for every profile again
   * (0 when it held one at the end); undefined when it did not before the next window.
   */
  recoveryMs: number | undefined;
  /** The run went on for at least RECOVERY_TARGET_MS after the window, before another one began. */
  judged: boolean;
}

export interface SoakReport {
  seed: number;
  startIso: string;
  simulatedMs: number;
  realMs: number;
  config: {
    profiles: string[];
    tokenLifetimeSeconds: number;
    renewSchedule: string;
    renewWhenRemainingRatio: number;
    requestIntervalMs: number;
    minServeRemainingMs: number;
  };
  requests: number;
  served: number;
  refused: number;
  /** Answers other than 200 and 503 (401, 500…): never expected. */
  unexpectedStatuses: Record<string, number>;
  expiredServed: number;
  servedTooCloseToExpiry: number;
  refusedWhileValidTokenExisted: number;
  refusalsWithoutValidToken: number;
  timerTicks: number;
  /** The plan, slowdowns and write-only outages included. */
  outages: Outage[];
  /** Windows of outages that block renewal, overlapping ones merged: the outage figures come from these. */
  windows: OutageWindow[];
  longestOutageSurvivedMs: number;
  longestOutageSurvived: OutageWindow | undefined;
  recoveriesAfterOutagesLongerThanLifetimeMs: number[];
  /** The longest recovery over every judged window (Infinity when one never recovered). */
  maxRecoveryMs: number | undefined;
  recoveryTargetMs: number;
  secretVersions: number;
  /** Tokens Maskinporten issued, including answers that came after the client had timed out. */
  tokensIssued: number;
  /** Tokens the broker received (renewals that got a token, whether or not the write succeeded). */
  tokensReceived: number;
  secretVersionsPerTokenIssued: number;
  secretVersionsPerTokenReceived: number;
  maskinportenTokenRequests: number;
  maxMaskinportenRequestsPerHour: number;
  renewalFailuresLogged: number;
  leaks: number;
  logLines: number;
  quiescenceGaveUp: number;
  /** Every refusal: simulated time (ISO) and profile. */
  refusals: Array<{ at: string; profile: string; status: number }>;
  violations: string[];
}

/** The broker holds a valid token again within this of an outage's end; no refusal after it. */
export const RECOVERY_TARGET_MS = 15_000;
const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;

const MASKINPORTEN_FAULTS: Array<{ kind: string; fault: (timeoutMs: number) => MaskinportenFault }> = [
  { kind: "503 server_error", fault: () => ({ kind: "error", status: 503, error: "server_error", description: "Service unavailable" }) },
  { kind: "500 without body", fault: () => ({ kind: "status", status: 500, body: "Internal Server Error" }) },
  {
    kind: "429 Retry-After 2",
    fault: () => ({ kind: "status", status: 429, headers: { "retry-after": "2" }, body: { error: "slow_down" } }),
  },
  { kind: "connection reset", fault: () => ({ kind: "reset" }) },
  { kind: "timeout", fault: (timeoutMs) => ({ kind: "delay", ms: timeoutMs * 2 }) },
  { kind: "malformed JSON", fault: () => ({ kind: "malformed-json" }) },
  { kind: "truncated JSON", fault: () => ({ kind: "truncated-json" }) },
];
const KEY_VAULT_FAULTS: Array<{ kind: string; fault: Omit<KeyVaultFault, "times">; blocksSecretReads: boolean }> = [
  { kind: "503 on everything", fault: { match: "any", action: { type: "status", status: 503 } }, blocksSecretReads: true },
  // Retry-After 0: the SDK honours it in real time, and the simulation must not wait for real.
  {
    kind: "429 on everything",
    fault: { match: "any", action: { type: "status", status: 429, retryAfterSeconds: 0 } },
    blocksSecretReads: true,
  },
  { kind: "connection resets", fault: { match: "any", action: { type: "reset" } }, blocksSecretReads: true },
  { kind: "failed sign", fault: { match: "sign", action: { type: "status", status: 500 } }, blocksSecretReads: false },
  { kind: "failed secret write", fault: { match: "secretSet", action: { type: "status", status: 500 } }, blocksSecretReads: false },
];
const DEGRADATIONS: Array<{ dependency: Dependency; kind: string }> = [
  { dependency: "maskinporten", kind: "slow answers (50 ms)" },
  { dependency: "key-vault", kind: "latency (30 ms per operation)" },
];

/** Seeded outage plan: per dependency, outages one after another with random gaps, never overlapping. */
export function planOutages(
  random: () => number,
  startMs: number,
  durationMs: number,
  lifetimeMs: number,
  meanGapMs: number,
  maxOutageMs: number,
): Outage[] {
  const outages: Outage[] = [];
  const duration = () => Math.round(30_000 * (maxOutageMs / 30_000) ** random()); // log-uniform 30 s … max
  for (const dependency of ["maskinporten", "key-vault"] as const) {
    let t = startMs + Math.round(meanGapMs * random());
    while (t < startMs + durationMs) {
      const degradation = random() < 0.15;
      const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
      const length = duration();
      if (degradation) {
        const kind = DEGRADATIONS.find((d) => d.dependency === dependency)!.kind;
        outages.push({
          dependency,
          kind,
          startMs: t,
          endMs: t + length,
          degradation: true,
          blocksSecretReads: false,
          blocksRenewal: false,
        });
      } else if (dependency === "maskinporten") {
        outages.push({
          dependency,
          kind: pick(MASKINPORTEN_FAULTS).kind,
          startMs: t,
          endMs: t + length,
          degradation: false,
          blocksSecretReads: false,
          blocksRenewal: true,
        });
      } else {
        const chosen = pick(KEY_VAULT_FAULTS);
        const blocksRenewal = chosen.kind !== "failed secret write";
        outages.push({
          dependency,
          kind: chosen.kind,
          startMs: t,
          endMs: t + length,
          degradation: false,
          blocksSecretReads: chosen.blocksSecretReads,
          blocksRenewal,
        });
      }
      t += length + Math.round(-meanGapMs * Math.log(1 - random() * 0.999));
    }
  }
  // Always one Maskinporten outage longer than the token lifetime, to measure recovery; placed in a
  // gap between the random ones.
  const long = 2 * lifetimeMs;
  const mp = outages.filter((o) => o.dependency === "maskinporten").sort((a, b) => a.startMs - b.startMs);
  let at = startMs + Math.round(durationMs / 3);
  for (const o of mp) {
    if (o.endMs + MINUTE_MS <= at) continue;
    if (o.startMs >= at + long + MINUTE_MS) break;
    at = o.endMs + MINUTE_MS;
  }
  if (at + long < startMs + durationMs) {
    outages.push({
      dependency: "maskinporten",
      kind: "503 server_error (forced, 2 × token lifetime)",
      startMs: at,
      endMs: at + long,
      degradation: false,
      blocksSecretReads: false,
      blocksRenewal: true,
    });
  }
  return outages.sort((a, b) => a.startMs - b.startMs);
}

type Event =
  | { at: number; order: number; type: "tick" }
  | { at: number; order: number; type: "request"; profile: string }
  | { at: number; order: number; type: "outage-start" | "outage-end"; outage: Outage }
  | { at: number; order: number; type: "remint" };

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const realStart = performance.now();
  const durationMs = options.durationMs ?? 24 * HOUR_MS;
  const lifetimeS = options.tokenLifetimeSeconds ?? 600;
  const lifetimeMs = lifetimeS * 1000;
  const schedule = options.renewSchedule ?? DEFAULT_RENEW_SCHEDULE;
  const requestIntervalMs = options.requestIntervalMs ?? 10_000;
  // Real time: long enough that a slow (50 ms) answer never times out under load, short enough
  // that a timeout outage costs little real time.
  const timeoutMs = options.maskinportenTimeoutMs ?? 300;
  const random = seededRandom(options.seed);
  // The day starts at the next midnight UTC, so the report's times read as times of day.
  const startMs = Math.ceil(Date.now() / 86_400_000) * 86_400_000;

  const world: World = await startWorld({ startMs, tokenLifetimeSeconds: lifetimeS, settings: { RENEW_SCHEDULE: schedule } });
  const activity = trackHttpActivity();
  const logLines: string[] = [];
  const scanner = new LeakScanner();
  try {
    const runtime: Runtime = world.runtime({
      logger: jsonLogger((line) => logLines.push(line)),
      timeoutMs,
      ...(options.brokerMinServeRemainingMs !== undefined ? { minServeRemainingMs: options.brokerMinServeRemainingMs } : {}),
    });
    const ratio = runtime.config.renewal.renewWhenRemainingRatio;
    const profiles = world.profiles.map((p) => p.name);
    const minServe = DEFAULT_MIN_SERVE_REMAINING_MS;
    const endMs = startMs + durationMs;

    // ------------------------------------------------------------ the plan
    const outages = planOutages(
      random,
      startMs,
      durationMs,
      lifetimeMs,
      options.meanOutageGapMs ?? 100 * MINUTE_MS,
      options.maxOutageMs ?? 2.5 * lifetimeMs,
    );
    const events: Event[] = [];
    let order = 0;
    const cron = new Cron(schedule, { paused: true, timezone: "UTC" });
    for (let next = cron.nextRun(new Date(startMs - 1)); next && next.getTime() < endMs; next = cron.nextRun(next)) {
      events.push({ at: next.getTime(), order: order++, type: "tick" });
    }
    for (const profile of profiles) {
      for (
        let t = startMs + Math.round(random() * requestIntervalMs);
        t < endMs;
        t += Math.round(requestIntervalMs * (0.8 + 0.4 * random()))
      ) {
        events.push({ at: t, order: order++, type: "request", profile });
      }
    }
    for (const outage of outages) {
      events.push({ at: outage.startMs, order: order++, type: "outage-start", outage });
      events.push({ at: Math.min(outage.endMs, endMs), order: order++, type: "outage-end", outage });
    }
    for (let t = startMs; t < endMs; t += 30 * MINUTE_MS) events.push({ at: t, order: order++, type: "remint" });
    // At equal times: remint, then outage changes, then the timer, then callers.
    const rank = { remint: 0, "outage-end": 1, "outage-start": 2, tick: 3, request: 4 } as const;
    events.sort((a, b) => a.at - b.at || rank[a.type] - rank[b.type] || a.order - b.order);

    // ------------------------------------------------------------ the run
    const active = new Set<Outage>();
    const callers = new Map<string, string>();
    const results: Array<{ at: number; profile: string; status: number }> = [];
    const unexpected: Record<string, number> = {};
    let served = 0;
    let expiredServed = 0;
    let tooClose = 0;
    let refusedWhileValid = 0;
    let refusedWithoutValid = 0;
    let ticks = 0;
    const violations: string[] = [];

    const applyFaults = (dependency: Dependency) => {
      // One outage per dependency at a time (the plan never overlaps them).
      if (dependency === "maskinporten") world.maskinporten.clearFaults();
      else world.keyVault.clearFaults();
      for (const outage of active) {
        if (outage.dependency !== dependency) continue;
        if (outage.degradation) {
          if (dependency === "maskinporten") world.maskinporten.injectFault({ kind: "delay", ms: 50 }, { times: Infinity });
          else world.keyVault.injectFault({ match: "any", action: { type: "delay", ms: 30 }, times: Number.MAX_SAFE_INTEGER });
        } else if (dependency === "maskinporten") {
          const fault = MASKINPORTEN_FAULTS.find((f) => outage.kind.startsWith(f.kind))!.fault(timeoutMs);
          world.maskinporten.injectFault(fault, { times: Infinity });
          // A real outage takes the metadata document down too.
          world.maskinporten.injectFault({ kind: "status", status: 503 }, { times: Infinity, target: "metadata" });
        } else {
          const chosen = KEY_VAULT_FAULTS.find((f) => f.kind === outage.kind)!;
          world.keyVault.injectFault({ ...chosen.fault, times: Number.MAX_SAFE_INTEGER });
        }
      }
    };

    const secretReadable = () => ![...active].some((o) => o.blocksSecretReads);
    const latestStoredExpiry = (profile: string): number => {
      const versions = world.keyVault.getSecretVersions(world.secretName(profile));
      const latest = versions.at(-1);
      return latest ? Date.parse(latest.tags?.expires_at ?? "") || 0 : 0;
    };

    // When every profile's held token became valid (true) or stopped being valid (false): the
    // recovery figures come from these, sampled after every step of the simulation.
    const heldValidChanges: Array<{ at: number; valid: boolean }> = [];
    const sampleHeld = async () => {
      const at = world.clock.now();
      const health = await runtime.broker.health();
      const valid = profiles.every((p) => (health.find((h) => h.profile === p)?.expiresAt?.getTime() ?? 0) - at > minServe);
      if (heldValidChanges.at(-1)?.valid !== valid) heldValidChanges.push({ at, valid });
    };

    let lastProgress = 0;
    for (const event of events) {
      // The broker's own timers (background recovery) fire at their simulated time, before the event.
      for (let due = world.clock.nextTimerAt(); due !== undefined && due <= event.at; due = world.clock.nextTimerAt()) {
        world.clock.advanceTo(due);
        world.clock.runDueTimers();
        await activity.settle();
        await sampleHeld();
      }
      world.clock.advanceTo(event.at);
      switch (event.type) {
        case "remint":
          for (const profile of profiles) {
            const token = world.callerToken([world.roleOf(profile)]);
            scanner.addToken(token, "caller-token");
            callers.set(profile, token);
          }
          break;
        case "outage-start":
          active.add(event.outage);
          applyFaults(event.outage.dependency);
          break;
        case "outage-end":
          active.delete(event.outage);
          applyFaults(event.outage.dependency);
          break;
        case "tick":
          ticks++;
          await runtime.broker.renewAll("timer");
          break;
        case "request": {
          const headers = new Headers({ authorization: `Bearer ${callers.get(event.profile)}` });
          const result = await handleTokenRequest({ headers, profile: event.profile }, runtime);
          const at = world.clock.now();
          results.push({ at, profile: event.profile, status: result.status });
          if (result.status === 200) {
            served++;
            const expiresAt = Date.parse(String(result.body.expires_at));
            const claims = world.maskinporten.verifyAccessToken(String(result.body.access_token));
            if (!(expiresAt > at) || !claims || claims.exp * 1000 <= at) {
              expiredServed++;
              violations.push(`expired token served for ${event.profile} at ${iso(at)}`);
            } else if (expiresAt - at <= minServe) {
              tooClose++;
              violations.push(`token with ${(expiresAt - at) / 1000} s left served for ${event.profile} at ${iso(at)}`);
            }
          } else {
            scanner.record("http-body", JSON.stringify(result.body));
            if (result.status !== 503) unexpected[result.status] = (unexpected[result.status] ?? 0) + 1;
            const held = (await runtime.broker.health()).find((h) => h.profile === event.profile)?.expiresAt?.getTime() ?? 0;
            const stored = secretReadable() ? latestStoredExpiry(event.profile) : 0;
            if (held - at > minServe || stored - at > minServe) {
              refusedWhileValid++;
              violations.push(
                `refused ${event.profile} at ${iso(at)} (HTTP ${result.status}) while a valid token existed: held until ${iso(held)}, stored until ${iso(stored)}`,
              );
            } else {
              refusedWithoutValid++;
            }
          }
          break;
        }
      }
      await activity.settle();
      await sampleHeld();
      const fraction = (event.at - startMs) / durationMs;
      if (options.onProgress && fraction - lastProgress >= 0.05) {
        lastProgress = fraction;
        options.onProgress(fraction);
      }
    }
    await activity.settle();

    // ------------------------------------------------------------ figures
    // Outages less than the recovery target apart are one window: between them the broker had no
    // chance to recover, so they are judged together (back-to-back outages).
    const merged = mergeOutages(
      outages.filter((o) => o.blocksRenewal),
      endMs,
      RECOVERY_TARGET_MS,
    );
    const windows: OutageWindow[] = merged.map((w, i) => {
      const nextStart = merged[i + 1]?.startMs ?? endMs;
      const refusals = results.filter((r) => r.status !== 200 && r.at >= w.startMs && r.at <= w.endMs).length;
      const after = results.filter((r) => r.at > w.endMs && r.at < nextStart);
      // Recovery: from the window's end until every profile's held token is valid again.
      const validAtEnd = heldValidChanges.filter((c) => c.at <= w.endMs).at(-1)?.valid ?? false;
      const regained = heldValidChanges.find((c) => c.at > w.endMs && c.at < nextStart && c.valid)?.at;
      const recoveryMs = validAtEnd ? 0 : regained !== undefined ? regained - w.endMs : undefined;
      const late = after.filter((r) => r.status !== 200 && r.at > w.endMs + RECOVERY_TARGET_MS);
      const judged = w.endMs + RECOVERY_TARGET_MS <= Math.min(nextStart, endMs);
      if (judged && (recoveryMs === undefined || recoveryMs > RECOVERY_TARGET_MS)) {
        violations.push(
          `no valid token held within ${RECOVERY_TARGET_MS / 1000} s of the outage that ended at ${iso(w.endMs)} (${recoveryMs === undefined ? "not recovered" : `${recoveryMs / 1000} s`})`,
        );
      }
      for (const r of late)
        violations.push(
          `refused ${r.profile} at ${iso(r.at)}, more than ${RECOVERY_TARGET_MS / 1000} s after the outage ended at ${iso(w.endMs)}`,
        );
      return { ...w, refusals, refusalsAfter: after.filter((r) => r.status !== 200).length, refusalsLate: late.length, recoveryMs, judged };
    });
    const judgedRecoveries = windows.filter((w) => w.judged).map((w) => w.recoveryMs ?? Number.POSITIVE_INFINITY);
    const survived = windows.filter((w) => w.refusals + w.refusalsAfter === 0).sort((a, b) => b.endMs - b.startMs - (a.endMs - a.startMs));
    const longOnes = windows.filter((w) => w.endMs - w.startMs > lifetimeMs && w.judged);
    // Tokens the broker received, told apart by profile and expiry: a renewal that stored its token
    // logs it as `expiresAt`, one whose write failed logs it as `keptTokenExpiresAt`.
    const received = new Set<string>();
    for (const line of logLines) {
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (entry.event !== "renewal") continue;
      if (entry.outcome === "renewed") received.add(`${String(entry.profile)} ${String(entry.expiresAt)}`);
      if (entry.outcome === "failed" && entry.stage === "store-write" && entry.keptTokenExpiresAt)
        received.add(`${String(entry.profile)} ${String(entry.keptTokenExpiresAt)}`);
    }
    const tokensReceived = received.size;

    const secretVersions = profiles.reduce((sum, p) => sum + world.keyVault.getSecretVersions(world.secretName(p)).length, 0);
    const issued = world.maskinporten.issuedTokens;
    const grants = world.maskinporten.grants;
    const perHour = new Map<number, number>();
    for (const g of grants)
      perHour.set(Math.floor(g.receivedAt.getTime() / HOUR_MS), (perHour.get(Math.floor(g.receivedAt.getTime() / HOUR_MS)) ?? 0) + 1);

    for (const token of issued) scanner.addToken(token.access_token, "maskinporten-token");
    for (const line of logLines) scanner.record("log-line", line);
    const leaks = scanner.scan();
    for (const leak of leaks) violations.push(`leak of a ${leak.kind} in ${leak.channel}: ${leak.context}`);
    if (activity.gaveUp > 0) violations.push(`the simulation gave up waiting for HTTP to go quiet ${activity.gaveUp} times`);
    const unexpectedCount = Object.values(unexpected).reduce((a, b) => a + b, 0);
    if (unexpectedCount > 0) violations.push(`unexpected statuses: ${JSON.stringify(unexpected)}`);

    return {
      seed: options.seed,
      startIso: iso(startMs),
      simulatedMs: durationMs,
      realMs: Math.round(performance.now() - realStart),
      config: {
        profiles,
        tokenLifetimeSeconds: lifetimeS,
        renewSchedule: schedule,
        renewWhenRemainingRatio: ratio,
        requestIntervalMs,
        minServeRemainingMs: minServe,
      },
      requests: results.length,
      served,
      refused: results.length - served,
      unexpectedStatuses: unexpected,
      expiredServed,
      servedTooCloseToExpiry: tooClose,
      refusedWhileValidTokenExisted: refusedWhileValid,
      refusalsWithoutValidToken: refusedWithoutValid,
      timerTicks: ticks,
      outages,
      windows,
      longestOutageSurvivedMs: survived[0] ? survived[0].endMs - survived[0].startMs : 0,
      longestOutageSurvived: survived[0],
      recoveriesAfterOutagesLongerThanLifetimeMs: longOnes.map((o) => o.recoveryMs ?? Number.POSITIVE_INFINITY),
      maxRecoveryMs: judgedRecoveries.length === 0 ? undefined : Math.max(...judgedRecoveries),
      recoveryTargetMs: RECOVERY_TARGET_MS,
      secretVersions,
      tokensIssued: issued.length,
      tokensReceived,
      secretVersionsPerTokenIssued: issued.length === 0 ? 0 : secretVersions / issued.length,
      secretVersionsPerTokenReceived: tokensReceived === 0 ? 0 : secretVersions / tokensReceived,
      maskinportenTokenRequests: world.maskinporten.counters.tokenRequests,
      maxMaskinportenRequestsPerHour: Math.max(0, ...perHour.values()),
      renewalFailuresLogged: logLines.filter((l) => l.includes('"event":"renewal"') && l.includes('"outcome":"failed"')).length,
      leaks: leaks.length,
      logLines: logLines.length,
      quiescenceGaveUp: activity.gaveUp,
      refusals: results.filter((r) => r.status !== 200).map((r) => ({ at: iso(r.at), profile: r.profile, status: r.status })),
      violations,
    };
  } finally {
    activity.stop();
    await world.close();
  }
}

/** Overlapping outages, or ones less than `gapMs` apart, become one window; windows are cut at the end of the run. */
function mergeOutages(outages: Outage[], endMs: number, gapMs: number): Array<{ startMs: number; endMs: number; outages: Outage[] }> {
  const windows: Array<{ startMs: number; endMs: number; outages: Outage[] }> = [];
  for (const outage of [...outages].sort((a, b) => a.startMs - b.startMs)) {
    const last = windows.at(-1);
    const end = Math.min(outage.endMs, endMs);
    if (last && outage.startMs < last.endMs + gapMs) {
      last.endMs = Math.max(last.endMs, end);
      last.outages.push(outage);
    } else {
      windows.push({ startMs: outage.startMs, endMs: end, outages: [outage] });
    }
  }
  return windows;
}

function iso(ms: number): string {
  return ms > 0 ? new Date(ms).toISOString() : "never";
}
