/**
 * Three broker instances (three runtimes: own memory, own single-flight, own SDK clients) sharing
 * one Key Vault stand-in and one Maskinporten stand-in, under concurrent caller load that forces
 * on-demand renewals, window after window. Key Vault answers with jitter so writes interleave, and
 * the shared clock runs 10× real time so racing renewals get different issue times (faster, and a
 * grant that takes a second of real time under load would arrive more than Maskinporten's 10 s late).
 *
 * Invariants:
 *   - every caller gets a valid token;
 *   - the token secret never regresses: each version expires no earlier than the one before;
 *   - Maskinporten sees no burst: per renewal window at most one grant per profile per instance.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Runtime } from "../../src/app/runtime.js";
import { seededRandom } from "../../soak/harness/prng.js";
import { trackHttpActivity, type HttpActivity } from "../../soak/harness/http-activity.js";
import { regressions, secretExpiries, startWorld, type World } from "../../soak/harness/world.js";
import { requestToken } from "./helpers.js";

const LIFETIME_S = 120;
const INSTANCES = 3;
const WINDOWS = 12;
const REQUESTS_PER_WINDOW = 90;
const SEED = 20_261_124;

let world: World;
let brokers: Runtime[];
let activity: HttpActivity;

beforeAll(async () => {
  world = await startWorld({ tokenLifetimeSeconds: LIFETIME_S, realTimeFactor: 10 });
  brokers = Array.from({ length: INSTANCES }, () => world.runtime());
  activity = trackHttpActivity();
});
afterAll(async () => {
  activity?.stop();
  await world?.close();
});

interface Window {
  startMs: number;
  endMs: number;
}

interface ProfileFigures {
  profile: string;
  versions: number;
  /** Versions that expire earlier than the version before them. */
  regressions: ReturnType<typeof regressions>;
  /** Windows that ended with the secret holding an earlier token than one already written. */
  windowsEndingRegressed: number;
  grantsPerWindow: number[];
}

const served: Array<{ status: number; expiresAt: number; at: number }> = [];
let figures: ProfileFigures[] = [];

/** The load: WINDOWS renewal windows, each a burst of concurrent requests spread over the three instances. */
async function runLoad(): Promise<void> {
  const random = seededRandom(SEED);
  const callers = new Map(world.profiles.map((p) => [p.name, world.callerToken([world.roleOf(p.name)])]));
  const windows: Window[] = [];
  const endedRegressed = new Map(world.profiles.map((p) => [p.name, 0]));

  for (let w = 0; w < WINDOWS; w++) {
    // Alternate: into the renewal window of the current token (due, still valid), or past its expiry.
    world.clock.advance(w % 2 === 0 ? 65_000 : 125_000);
    const startMs = world.clock.now();
    // Jitter on Key Vault reads and writes (0-40 ms real = 0-0.4 s on this clock: a slow or throttled
    // vault), so that the instances' read-check-write sequences interleave.
    for (let i = 0; i < 12; i++) {
      world.keyVault.injectFault({
        match: random() < 0.5 ? "secretGet" : "secretSet",
        action: { type: "delay", ms: Math.floor(random() * 40) },
      });
    }
    const requests = Array.from({ length: REQUESTS_PER_WINDOW }, async (_, i) => {
      // Spread the burst over a few real milliseconds so some requests land mid-renewal.
      await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 30)));
      const broker = brokers[Math.floor(random() * INSTANCES)]!;
      const profile = world.profiles[i % world.profiles.length]!.name;
      const response = await requestToken(broker, callers.get(profile), profile);
      served.push({ status: response.status, expiresAt: Date.parse(String(response.body.expires_at)), at: world.clock.now() });
    });
    // The timer is a singleton across instances: one of them runs it, now and then.
    if (random() < 0.5) requests.push(brokers[Math.floor(random() * INSTANCES)]!.broker.renewAll("timer").then(() => undefined));
    await Promise.all(requests);
    await activity.settle(); // background renewals finish inside their window
    world.keyVault.clearFaults();
    windows.push({ startMs, endMs: world.clock.now() });
    for (const p of world.profiles) {
      const expiries = secretExpiries(world.keyVault, world.secretName(p.name));
      if (expiries.at(-1)! < Math.max(...expiries)) endedRegressed.set(p.name, endedRegressed.get(p.name)! + 1);
    }
  }

  figures = world.profiles.map((profile) => {
    const expiries = secretExpiries(world.keyVault, world.secretName(profile.name));
    const grantsPerWindow = windows.map(
      (window) =>
        world.maskinporten.grants.filter(
          (g) => g.claims?.iss === profile.clientId && g.receivedAt.getTime() >= window.startMs && g.receivedAt.getTime() <= window.endMs,
        ).length,
    );
    return {
      profile: profile.name,
      versions: expiries.length,
      regressions: regressions(expiries),
      windowsEndingRegressed: endedRegressed.get(profile.name)!,
      grantsPerWindow,
    };
  });
  // The figures, for the report.
  console.info(
    `multi-instance figures: ${JSON.stringify(
      figures.map((f) => ({
        ...f,
        regressions: f.regressions.length,
        regressedBySeconds: f.regressions.map((r) => (r.previous - r.next) / 1000),
      })),
    )}`,
  );
}

describe("three broker instances sharing one vault, under concurrent load with on-demand renewals", () => {
  beforeAll(runLoad, 60_000);

  it("serve every caller a token that is valid when served", () => {
    expect(served).toHaveLength(WINDOWS * REQUESTS_PER_WINDOW);
    expect(served.filter((s) => s.status !== 200)).toEqual([]);
    expect(served.filter((s) => !(s.expiresAt > s.at))).toEqual([]);
  });

  it("send Maskinporten no burst: at most one grant per profile per instance per renewal window, all accepted", () => {
    for (const f of figures) {
      expect(Math.max(...f.grantsPerWindow), `${f.profile}: grants per window ${f.grantsPerWindow.join(",")}`).toBeLessThanOrEqual(
        INSTANCES,
      );
      expect(
        f.grantsPerWindow.every((n) => n >= 1),
        "each window renewed",
      ).toBe(true);
      // Only the timer (a singleton across instances) writes the secret.
      expect(f.versions).toBeGreaterThanOrEqual(1);
    }
    // Racing never made Maskinporten refuse a grant (e.g. a reused jti).
    expect(world.maskinporten.grants.filter((g) => g.outcome !== "accepted").map((g) => g.reason)).toEqual([]);
  });

  // Key Vault has no conditional write, so racing writers could leave an earlier-expiring token on
  // top. Only the timer writes the secret, and the Functions host runs it on one instance at a time;
  // on-demand renewals stay in the instance's memory until the timer publishes them.
  it("never regress the token secret (each version expires no earlier than the one before)", () => {
    for (const f of figures) {
      expect(f.regressions, `${f.profile}: secret versions going backwards`).toEqual([]);
      expect(f.windowsEndingRegressed, `${f.profile}: windows ending on an earlier token`).toBe(0);
    }
  });
});
