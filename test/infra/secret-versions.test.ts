import { describe, expect, it } from "vitest";
import { secretVersionsPerDay, type VersionScenario } from "./secret-versions.js";

// The numbers README.md ("How many secret versions pile up") quotes, from the real renewal code.
const everyMinute = { scheduleSeconds: 60, ratio: 0.5 };
const fast = { latencyMs: 300 }; // Maskinporten answers within the second the timer fired
const slow = { latencyMs: 1_500 }; // the answer lands in the next second

describe("token secret versions per day at the default RENEW_SCHEDULE (every minute), renew at half the lifetime", () => {
  it.each<[string, VersionScenario, number]>([
    ["120 s token, timer only", { lifetimeSeconds: 120, ...everyMinute, ...fast }, 1440],
    ["120 s token, callers every 10 s", { lifetimeSeconds: 120, ...everyMinute, ...fast, requestEverySeconds: 10 }, 1440],
    [
      "120 s token, timer every 5 minutes (too slow: expired most of the time)",
      { lifetimeSeconds: 120, scheduleSeconds: 300, ratio: 0.5, ...fast },
      288,
    ],
    ["600 s token, fast answer", { lifetimeSeconds: 600, ...everyMinute, ...fast }, 288],
    ["600 s token, answer in the next second", { lifetimeSeconds: 600, ...everyMinute, ...slow }, 240],
    ["1800 s token", { lifetimeSeconds: 1800, ...everyMinute, ...fast }, 96],
    ["3600 s token, fast answer", { lifetimeSeconds: 3600, ...everyMinute, ...fast }, 48],
    ["3600 s token, answer in the next second", { lifetimeSeconds: 3600, ...everyMinute, ...slow }, 46],
    ["3600 s token, callers every 10 s", { lifetimeSeconds: 3600, ...everyMinute, ...fast, requestEverySeconds: 10 }, 48],
    ["7200 s token", { lifetimeSeconds: 7200, ...everyMinute, ...fast }, 24],
  ])("%s: %i versions", async (_name, scenario, expected) => {
    expect(await secretVersionsPerDay(scenario)).toBe(expected);
  });

  it("writes fewer versions when renewing later (RENEW_BEFORE_EXPIRY_RATIO 0.25)", async () => {
    expect(await secretVersionsPerDay({ lifetimeSeconds: 3600, scheduleSeconds: 60, ratio: 0.25, latencyMs: 300 })).toBe(32);
  });
});
