/**
 * A simulated year and more of operation on a fake clock, in the renewal timer's order (renew,
 * then key registration behind its daily gate): two key rotations early on, then a key that stays
 * registered longer than a year must be re-posted, with the self-service API down for days just
 * when it is due. No registration may expire and no grant may fail.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { BASE_KID, HOUR, KID_CLIENT, kidGrants, startHarness, type Harness } from "./harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

it(
  "430 days, two rotations, a yearly re-post through an outage: zero expired registrations, zero failed grants",
  { timeout: 180_000 },
  async () => {
    const broker = h.broker();
    // Day 0: the first registration, then its propagation.
    expect((await broker.syncKeysIfDue())?.[0]).toMatchObject({ outcome: "posted" });
    h.clock.advance(5 * 60_000);
    const rotations = new Set([30, 60]);
    const renewals: string[] = [];
    const reasons: string[] = [];
    let failedSyncs = 0;
    for (let day = 0; day < 430; day++) {
      if (rotations.has(day)) h.rotateKey();
      // Day 60's key is due for its re-post from day 395 (30 days' margin): Digdir is down until 398.
      if (day === 394) h.ss.injectFault({ kind: "status", status: 503 }, Infinity);
      if (day === 398) h.ss.clearFaults();
      for (let tick = 0; tick < 3; tick++) {
        const [outcome] = await broker.renewAll("timer");
        renewals.push(outcome!.outcome);
        const synced = await broker.syncKeysIfDue();
        if (synced?.[0]?.outcome === "posted") reasons.push(...synced[0].reasons!);
        if (synced?.[0]?.outcome === "failed") failedSyncs++;
        h.clock.advance(8 * HOUR);
      }
    }
    expect(h.ss.expiredRegistrations()).toEqual([]);
    expect(kidGrants(h.mp).filter((g) => g.outcome !== "accepted")).toEqual([]);
    expect(renewals.every((outcome) => outcome === "renewed")).toBe(true);
    expect(reasons.filter((r) => r.startsWith("registers"))).toHaveLength(2);
    expect(reasons.filter((r) => r.startsWith("drops"))).toHaveLength(2);
    expect(reasons.filter((r) => r.startsWith("re-posts"))).toHaveLength(1);
    // The outage cost a few hourly retries, not the registration.
    expect(failedSyncs).toBeGreaterThan(0);
    const registered = h.ss.registeredKeys(KID_CLIENT);
    expect(registered).toHaveLength(1);
    expect(registered[0]!.kid.startsWith(`${BASE_KID}.`)).toBe(true);
    expect(new Set(kidGrants(h.mp).map((g) => g.kid)).size).toBe(3);
  },
);
