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
import { trackHttpActivity, type HttpActivity } from "./harness/http-activity.js";
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

/** The options with their defaults applied, and the simulated day they describe. */
interface SoakSettings {
  seed: number;
  durationMs: number;
  lifetimeS: number;
  lifetimeMs: number;
  schedule: string;
  requestIntervalMs: number;
  timeoutMs: number;
  meanOutageGapMs: number;
  maxOutageMs: number;
  random: () => number;
  startMs: number;
  endMs: number;
}

/** What the simulation drives and watches: the stand-ins, the broker, its HTTP and its log. */
interface Rig {
  world: World;
  runtime: Runtime;
  activity: HttpActivity;
  scanner: LeakScanner;
  logLines: string[];
  profiles: string[];
}

/** What the run observed, filled in as events happen. */
interface Tally {
  results: Array<{ at: number; profile: string; status: number }>;
  unexpected: Record<string, number>;
  served: number;
  expiredServed: number;
  tooClose: number;
  refusedWhileValid: number;
  refusedWithoutValid: number;
  ticks: number;
  violations: string[];
  /**
   * When every profile's held token became valid (true) or stopped being valid (false): the
   * recovery figures come from these, sampled after every step of the simulation.
   */
  heldValidChanges: Array<{ at: number; valid: boolean }>;
}

/** What changes as the events play out: the outages in force and each profile's caller token. */
interface RunState {
  active: Set<Outage>;
  callers: Map<string, string>;
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const realStart = performance.now();
  const settings = resolveSettings(options);
  const world: World = await startWorld({
    startMs: settings.startMs,
    tokenLifetimeSeconds: settings.lifetimeS,
    settings: { RENEW_SCHEDULE: settings.schedule },
  });
  const activity = trackHttpActivity();
  const logLines: string[] = [];
  const scanner = new LeakScanner();
  try {
    const rig = startBroker(world, activity, logLines, scanner, settings, options.brokerMinServeRemainingMs);
    const outages = planOutages(
      settings.random,
      settings.startMs,
      settings.durationMs,
      settings.lifetimeMs,
      settings.meanOutageGapMs,
      settings.maxOutageMs,
    );
    const events = scheduleEvents(settings, rig.profiles, outages);
    const tally = emptyTally();
    await playEvents(rig, settings, events, tally, options.onProgress);
    await activity.settle();
    const windows = judgeOutageWindows(outages, tally, settings);
    const leaks = scanRunForLeaks(rig, tally);
    return assembleReport(rig, settings, tally, outages, windows, leaks, realStart);
  } finally {
    activity.stop();
    await world.close();
  }
}

function resolveSettings(options: SoakOptions): SoakSettings {
  const durationMs = options.durationMs ?? 24 * HOUR_MS;
  const lifetimeS = options.tokenLifetimeSeconds ?? 600;
  const lifetimeMs = lifetimeS * 1000;
  const random = seededRandom(options.seed);
  // The day starts at the next midnight UTC, so the report's times read as times of day.
  const startMs = Math.ceil(Date.now() / 86_400_000) * 86_400_000;
  return {
    seed: options.seed,
    durationMs,
    lifetimeS,
    lifetimeMs,
    schedule: options.renewSchedule ?? DEFAULT_RENEW_SCHEDULE,
    requestIntervalMs: options.requestIntervalMs ?? 10_000,
    // Real time: long enough that a slow (50 ms) answer never times out under load, short enough
    // that a timeout outage costs little real time.
    timeoutMs: options.maskinportenTimeoutMs ?? 300,
    meanOutageGapMs: options.meanOutageGapMs ?? 100 * MINUTE_MS,
    maxOutageMs: options.maxOutageMs ?? 2.5 * lifetimeMs,
    random,
    startMs,
    endMs: startMs + durationMs,
  };
}

/** The broker as Azure would create it, logging into `logLines`. */
function startBroker(
  world: World,
  activity: HttpActivity,
  logLines: string[],
  scanner: LeakScanner,
  settings: SoakSettings,
  brokerMinServeRemainingMs: number | undefined,
): Rig {
  const runtime: Runtime = world.runtime({
    logger: jsonLogger((line) => logLines.push(line)),
    timeoutMs: settings.timeoutMs,
    ...(brokerMinServeRemainingMs !== undefined ? { minServeRemainingMs: brokerMinServeRemainingMs } : {}),
  });
  return { world, runtime, activity, scanner, logLines, profiles: world.profiles.map((p) => p.name) };
}

/** Timer ticks, callers' requests, outage starts and ends, caller-token remints: in the order they play. */
function scheduleEvents(settings: SoakSettings, profiles: string[], outages: Outage[]): Event[] {
  const { startMs, endMs, requestIntervalMs, random } = settings;
  const events: Event[] = [];
  let order = 0;
  const cron = new Cron(settings.schedule, { paused: true, timezone: "UTC" });
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
  return events;
}

function emptyTally(): Tally {
  return {
    results: [],
    unexpected: {},
    served: 0,
    expiredServed: 0,
    tooClose: 0,
    refusedWhileValid: 0,
    refusedWithoutValid: 0,
    ticks: 0,
    violations: [],
    heldValidChanges: [],
  };
}

/** The simulated day: every event at its time, the broker's own timers in between, quiet HTTP after each step. */
async function playEvents(
  rig: Rig,
  settings: SoakSettings,
  events: Event[],
  tally: Tally,
  onProgress: ((fraction: number) => void) | undefined,
): Promise<void> {
  const { world, activity } = rig;
  const state: RunState = { active: new Set(), callers: new Map() };
  let lastProgress = 0;
  for (const event of events) {
    await runBrokerTimersUntil(rig, tally, event.at);
    world.clock.advanceTo(event.at);
    await playEvent(rig, settings, state, tally, event);
    await activity.settle();
    await sampleHeld(rig, tally);
    const fraction = (event.at - settings.startMs) / settings.durationMs;
    if (onProgress && fraction - lastProgress >= 0.05) {
      lastProgress = fraction;
      onProgress(fraction);
    }
  }
}

/** The broker's own timers (background recovery) fire at their simulated time, before the next event. */
async function runBrokerTimersUntil(rig: Rig, tally: Tally, until: number): Promise<void> {
  const { clock } = rig.world;
  for (let due = clock.nextTimerAt(); due !== undefined && due <= until; due = clock.nextTimerAt()) {
    clock.advanceTo(due);
    clock.runDueTimers();
    await rig.activity.settle();
    await sampleHeld(rig, tally);
  }
}

async function playEvent(rig: Rig, settings: SoakSettings, state: RunState, tally: Tally, event: Event): Promise<void> {
  switch (event.type) {
    case "remint":
      remintCallerTokens(rig, state);
      break;
    case "outage-start":
      state.active.add(event.outage);
      applyFaults(rig.world, state.active, event.outage.dependency, settings.timeoutMs);
      break;
    case "outage-end":
      state.active.delete(event.outage);
      applyFaults(rig.world, state.active, event.outage.dependency, settings.timeoutMs);
      break;
    case "tick":
      tally.ticks++;
      await rig.runtime.broker.renewAll("timer");
      break;
    case "request":
      await callTokenEndpoint(rig, state, tally, event.profile);
      break;
  }
}

/** Fresh caller tokens for every profile (each one known to the leak scanner). */
function remintCallerTokens(rig: Rig, state: RunState): void {
  for (const profile of rig.profiles) {
    const token = rig.world.callerToken([rig.world.roleOf(profile)]);
    rig.scanner.addToken(token, "caller-token");
    state.callers.set(profile, token);
  }
}

/** Sets each stand-in's faults to those of the outages in force for `dependency`. */
function applyFaults(world: World, active: Set<Outage>, dependency: Dependency, timeoutMs: number): void {
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
}

/** One caller asks for `profile`'s token; the answer is checked against the invariants. */
async function callTokenEndpoint(rig: Rig, state: RunState, tally: Tally, profile: string): Promise<void> {
  const headers = new Headers({ authorization: `Bearer ${state.callers.get(profile)}` });
  const result = await handleTokenRequest({ headers, profile }, rig.runtime);
  const at = rig.world.clock.now();
  tally.results.push({ at, profile, status: result.status });
  if (result.status === 200) checkServedToken(rig, tally, profile, at, result.body);
  else await checkRefusal(rig, state, tally, profile, at, result.status, result.body);
}

/** A served token must be unexpired (by its answer and its claims) and have more than minServe left. */
function checkServedToken(rig: Rig, tally: Tally, profile: string, at: number, body: Record<string, unknown>): void {
  tally.served++;
  const expiresAt = Date.parse(String(body.expires_at));
  const claims = rig.world.maskinporten.verifyAccessToken(String(body.access_token));
  if (!(expiresAt > at) || !claims || claims.exp * 1000 <= at) {
    tally.expiredServed++;
    tally.violations.push(`expired token served for ${profile} at ${iso(at)}`);
  } else if (expiresAt - at <= DEFAULT_MIN_SERVE_REMAINING_MS) {
    tally.tooClose++;
    tally.violations.push(`token with ${(expiresAt - at) / 1000} s left served for ${profile} at ${iso(at)}`);
  }
}

/** A refusal is a violation while the broker held, or Key Vault readably stored, a valid token. */
async function checkRefusal(
  rig: Rig,
  state: RunState,
  tally: Tally,
  profile: string,
  at: number,
  status: number,
  body: unknown,
): Promise<void> {
  const minServe = DEFAULT_MIN_SERVE_REMAINING_MS;
  rig.scanner.record("http-body", JSON.stringify(body));
  if (status !== 503) tally.unexpected[status] = (tally.unexpected[status] ?? 0) + 1;
  const held = (await rig.runtime.broker.health()).find((h) => h.profile === profile)?.expiresAt?.getTime() ?? 0;
  const secretReadable = ![...state.active].some((o) => o.blocksSecretReads);
  const stored = secretReadable ? latestStoredExpiry(rig.world, profile) : 0;
  if (held - at > minServe || stored - at > minServe) {
    tally.refusedWhileValid++;
    tally.violations.push(
      `refused ${profile} at ${iso(at)} (HTTP ${status}) while a valid token existed: held until ${iso(held)}, stored until ${iso(stored)}`,
    );
  } else {
    tally.refusedWithoutValid++;
  }
}

function latestStoredExpiry(world: World, profile: string): number {
  const versions = world.keyVault.getSecretVersions(world.secretName(profile));
  const latest = versions.at(-1);
  return latest ? Date.parse(latest.tags?.expires_at ?? "") || 0 : 0;
}

/** Notes when "the broker holds a valid token for every profile" changes. */
async function sampleHeld(rig: Rig, tally: Tally): Promise<void> {
  const at = rig.world.clock.now();
  const health = await rig.runtime.broker.health();
  const valid = rig.profiles.every(
    (p) => (health.find((h) => h.profile === p)?.expiresAt?.getTime() ?? 0) - at > DEFAULT_MIN_SERVE_REMAINING_MS,
  );
  if (tally.heldValidChanges.at(-1)?.valid !== valid) tally.heldValidChanges.push({ at, valid });
}

/** The outage windows with their refusals and recovery; a slow recovery or a late refusal is a violation. */
function judgeOutageWindows(outages: Outage[], tally: Tally, settings: SoakSettings): OutageWindow[] {
  const { endMs } = settings;
  const { results, heldValidChanges, violations } = tally;
  // Outages less than the recovery target apart are one window: between them the broker had no
  // chance to recover, so they are judged together (back-to-back outages).
  const merged = mergeOutages(
    outages.filter((o) => o.blocksRenewal),
    endMs,
    RECOVERY_TARGET_MS,
  );
  return merged.map((w, i) => {
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
}

/**
 * Scans logs and refusal bodies for caller and Maskinporten tokens, and turns leaks, stuck HTTP and
 * unexpected statuses into violations; returns the leaks.
 */
function scanRunForLeaks(rig: Rig, tally: Tally): ReturnType<LeakScanner["scan"]> {
  const { scanner, activity, logLines } = rig;
  for (const token of rig.world.maskinporten.issuedTokens) scanner.addToken(token.access_token, "maskinporten-token");
  for (const line of logLines) scanner.record("log-line", line);
  const leaks = scanner.scan();
  for (const leak of leaks) tally.violations.push(`leak of a ${leak.kind} in ${leak.channel}: ${leak.context}`);
  if (activity.gaveUp > 0) tally.violations.push(`the simulation gave up waiting for HTTP to go quiet ${activity.gaveUp} times`);
  const unexpectedCount = Object.values(tally.unexpected).reduce((a, b) => a + b, 0);
  if (unexpectedCount > 0) tally.violations.push(`unexpected statuses: ${JSON.stringify(tally.unexpected)}`);
  return leaks;
}

/**
 * Tokens the broker received, told apart by profile and expiry: a renewal that stored its token
 * logs it as `expiresAt`, one whose write failed logs it as `keptTokenExpiresAt`.
 */
function countTokensReceived(logLines: string[]): number {
  const received = new Set<string>();
  for (const line of logLines) {
    const entry = JSON.parse(line) as Record<string, unknown>;
    if (entry.event !== "renewal") continue;
    if (entry.outcome === "renewed") received.add(`${String(entry.profile)} ${String(entry.expiresAt)}`);
    if (entry.outcome === "failed" && entry.stage === "store-write" && entry.keptTokenExpiresAt)
      received.add(`${String(entry.profile)} ${String(entry.keptTokenExpiresAt)}`);
  }
  return received.size;
}

/** The most token requests (grants) Maskinporten received in one clock hour. */
function maxGrantsPerHour(grants: ReadonlyArray<{ receivedAt: Date }>): number {
  const perHour = new Map<number, number>();
  for (const g of grants)
    perHour.set(Math.floor(g.receivedAt.getTime() / HOUR_MS), (perHour.get(Math.floor(g.receivedAt.getTime() / HOUR_MS)) ?? 0) + 1);
  return Math.max(0, ...perHour.values());
}

function assembleReport(
  rig: Rig,
  settings: SoakSettings,
  tally: Tally,
  outages: Outage[],
  windows: OutageWindow[],
  leaks: unknown[],
  realStart: number,
): SoakReport {
  const { world, runtime, profiles, logLines, activity } = rig;
  const { results } = tally;
  const judgedRecoveries = windows.filter((w) => w.judged).map((w) => w.recoveryMs ?? Number.POSITIVE_INFINITY);
  const survived = windows.filter((w) => w.refusals + w.refusalsAfter === 0).sort((a, b) => b.endMs - b.startMs - (a.endMs - a.startMs));
  const longOnes = windows.filter((w) => w.endMs - w.startMs > settings.lifetimeMs && w.judged);
  const tokensReceived = countTokensReceived(logLines);
  const secretVersions = profiles.reduce((sum, p) => sum + world.keyVault.getSecretVersions(world.secretName(p)).length, 0);
  const issued = world.maskinporten.issuedTokens;
  return {
    seed: settings.seed,
    startIso: iso(settings.startMs),
    simulatedMs: settings.durationMs,
    realMs: Math.round(performance.now() - realStart),
    config: {
      profiles,
      tokenLifetimeSeconds: settings.lifetimeS,
      renewSchedule: settings.schedule,
      renewWhenRemainingRatio: runtime.config.renewal.renewWhenRemainingRatio,
      requestIntervalMs: settings.requestIntervalMs,
      minServeRemainingMs: DEFAULT_MIN_SERVE_REMAINING_MS,
    },
    requests: results.length,
    served: tally.served,
    refused: results.length - tally.served,
    unexpectedStatuses: tally.unexpected,
    expiredServed: tally.expiredServed,
    servedTooCloseToExpiry: tally.tooClose,
    refusedWhileValidTokenExisted: tally.refusedWhileValid,
    refusalsWithoutValidToken: tally.refusedWithoutValid,
    timerTicks: tally.ticks,
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
    maxMaskinportenRequestsPerHour: maxGrantsPerHour(world.maskinporten.grants),
    renewalFailuresLogged: logLines.filter((l) => l.includes('"event":"renewal"') && l.includes('"outcome":"failed"')).length,
    leaks: leaks.length,
    logLines: logLines.length,
    quiescenceGaveUp: activity.gaveUp,
    refusals: results.filter((r) => r.status !== 200).map((r) => ({ at: iso(r.at), profile: r.profile, status: r.status })),
    violations: tally.violations,
  };
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
