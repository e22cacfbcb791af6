/**
 * Key registration end to end over HTTP: the broker registers the Key Vault key version it signs
 * with on the client through the self-service stand-in, and the Maskinporten stand-in accepts kid
 * grants only for keys registered there (after propagation, before expiry), on one fake clock.
 */
import { generateKeyPairSync } from "node:crypto";
import functions from "@azure/functions";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { renewHandler } from "../../functions/renew.js";
import { createRuntime, setRuntimeFactory } from "../../src/app/runtime.js";
import { ErrorCode } from "../../src/errors.js";
import { createBroker } from "../../src/broker.js";
import { parseBrokerConfig } from "../../src/config/settings.js";
import { noMetrics } from "../../src/metrics.js";
import { versionedKid } from "../../src/keys/registered-keys.js";
import { BASE_KID, DAY, HOUR, KID_CLIENT, kidGrants, startHarness, type Harness } from "./harness.js";

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h?.close();
});

function foreignJwk(kid: string): Record<string, unknown> {
  const { n, e } = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ format: "jwk" });
  return { kty: "RSA", kid, use: "sig", alg: "RS256", n, e };
}
const registeredKids = () =>
  h.ss
    .registeredKeys(KID_CLIENT)
    .map((k) => k.kid)
    .sort();
const posts = () => h.ss.requests.filter((r) => r.method === "POST");

describe("key registration through Digdir's self-service API", () => {
  it("registers the key from empty; kid grants work once it has propagated", async () => {
    const broker = h.broker();
    const [outcome] = await broker.syncKeys();
    expect(outcome).toMatchObject({ profile: "kidp", outcome: "posted" });
    const [kid] = registeredKids();
    expect(kid).toMatch(new RegExp(`^${BASE_KID}\\.[0-9a-f]{32}$`));

    h.clock.advance(3 * 60_000); // past the broker's 2-minute window and the stand-in's 1 minute
    const [renewal] = await broker.renewAll("timer");
    expect(renewal).toMatchObject({ outcome: "renewed" });
    expect(kidGrants(h.mp).at(-1)).toEqual({ kid, outcome: "accepted" });

    const health = (await broker.health())[0]!.keyRegistration!;
    expect(health.keys).toEqual([expect.objectContaining({ kid, role: "current", daysLeft: 364 })]);
    expect(health.registeredAt).toBeInstanceOf(Date);
    // Once registered, a second sync changes nothing.
    expect((await broker.syncKeys())[0]).toMatchObject({ outcome: "unchanged" });
    expect(posts()).toHaveLength(1);
  });

  it("reports the days left of the key it signs with as the key.remaining_days gauge after a sync", async () => {
    const gauge: Array<[string, number]> = [];
    const metrics = { ...noMetrics, registeredKeyDaysLeft: (profile: string, days: number) => void gauge.push([profile, days]) };
    h.ss.seed(KID_CLIENT, [foreignJwk("someone-elses")]);
    const broker = createBroker({ config: parseBrokerConfig(h.settings()), ...h.brokerOptions(), metrics });
    await broker.syncKeys();
    expect(gauge).toEqual([["kidp", 364]]);
    h.clock.advance(100 * DAY);
    await broker.syncKeys();
    expect(gauge.at(-1)).toEqual(["kidp", 264]);
  });

  it("merges with keys someone else registered and keeps them", async () => {
    h.ss.seed(KID_CLIENT, [foreignJwk("registered-by-hand")]);
    const broker = h.broker();
    await broker.syncKeys();
    expect(registeredKids()).toContain("registered-by-hand");
    expect(registeredKids()).toHaveLength(2);
    const roles = (await broker.health())[0]!.keyRegistration!.keys.map((k) => k.role).sort();
    expect(roles).toEqual(["current", "foreign"]);
  });

  it("at the five-key cap posts nothing and says how to fix it; told to, replaces the foreign keys", async () => {
    h.ss.seed(
      KID_CLIENT,
      [1, 2, 3, 4, 5].map((i) => foreignJwk(`by-hand-${i}`)),
    );
    const [refused] = await h.broker().syncKeys();
    expect(refused).toMatchObject({ outcome: "failed" });
    expect(refused!.error!.code).toBe(ErrorCode.KeyRegistration);
    expect(refused!.error!.message).toContain("KEY_REGISTRATION_REPLACE_FOREIGN=true");
    expect(posts()).toHaveLength(0);
    expect(h.logs.find((l) => l.event === "key-registration-failed")).toMatchObject({ code: ErrorCode.KeyRegistration, profile: "kidp" });

    const [replaced] = await h.broker({ KEY_REGISTRATION_REPLACE_FOREIGN: "true" }).syncKeys();
    expect(replaced).toMatchObject({ outcome: "posted" });
    expect(registeredKids()).toEqual([expect.stringMatching(new RegExp(`^${BASE_KID}\\.`))]);
  });

  it("re-posts before the one-year expiry, by the margin, on a fake clock", async () => {
    const broker = h.broker();
    await broker.syncKeys();
    const firstExpiry = h.ss.registeredKeys(KID_CLIENT)[0]!.expiresAt.getTime();
    h.clock.advance(334 * DAY);
    expect((await broker.syncKeys())[0]).toMatchObject({ outcome: "unchanged" });
    h.clock.advance(2 * DAY); // 29 days left: inside the 30-day margin
    expect((await broker.syncKeys())[0]).toMatchObject({ outcome: "posted" });
    expect(h.ss.registeredKeys(KID_CLIENT)[0]!.expiresAt.getTime()).toBe(firstExpiry + 336 * DAY);
    expect(h.ss.expiredRegistrations()).toEqual([]);
  });

  it("rotates with overlap: a new version is registered first, signs after propagation, the old one goes after the token lifetime; no grant fails", async () => {
    const broker = h.broker();
    await broker.syncKeys();
    h.clock.advance(3 * 60_000);
    await broker.renewAll("timer");
    const [oldKid] = registeredKids();

    const newVersion = h.rotateKey();
    const newKid = versionedKid(BASE_KID, newVersion);
    // The signer looks for a newer version after an hour; until it is registered, the old one signs.
    for (let i = 0; i < 3; i++) {
      h.clock.advance(HOUR);
      expect((await broker.renewAll("timer"))[0]).toMatchObject({ outcome: "renewed" });
    }
    expect(kidGrants(h.mp).at(-1)!.kid).toBe(oldKid);

    expect((await broker.syncKeys())[0]).toMatchObject({ outcome: "posted" });
    expect(registeredKids()).toEqual([oldKid, newKid].sort());
    // Inside the propagation window: still the old key.
    h.clock.advance(61_000);
    await broker.renewAll("timer");
    expect(kidGrants(h.mp).at(-1)!.kid).toBe(oldKid);
    h.clock.advance(61_000);
    await broker.renewAll("timer");
    expect(kidGrants(h.mp).at(-1)!.kid).toBe(newKid);

    // Tokens signed with the old key may live two hours: it stays until then.
    h.clock.advance(HOUR);
    await broker.syncKeys();
    expect(registeredKids()).toEqual([oldKid, newKid].sort());
    h.clock.advance(2 * HOUR);
    expect((await broker.syncKeys())[0]).toMatchObject({ outcome: "posted" });
    expect(registeredKids()).toEqual([newKid]);
    h.clock.advance(2 * 60_000);
    expect((await broker.renewAll("timer"))[0]).toMatchObject({ outcome: "renewed" });

    expect(kidGrants(h.mp).filter((g) => g.outcome !== "accepted")).toEqual([]);
  });

  it("with the self-service API down, renewal goes on; the failure is logged with Digdir's error and retried an hour later", async () => {
    const broker = h.broker();
    await broker.syncKeys();
    h.clock.advance(3 * 60_000);
    h.ss.injectFault(
      { kind: "status", status: 503, body: { error: "server_error", error_description: "Selvbetjening er nede" } },
      Infinity,
    );
    h.clock.advance(DAY);

    expect((await broker.renewAll("timer"))[0]).toMatchObject({ outcome: "renewed" });
    const outcomes = await broker.syncKeysIfDue();
    expect(outcomes?.[0]).toMatchObject({ outcome: "failed" });
    expect(outcomes![0]!.error!.code).toBe(ErrorCode.SelfServiceUnavailable);
    const logged = h.logs.filter((l) => l.event === "key-registration-failed").at(-1)!;
    expect(logged).toMatchObject({ status: 503, error: "server_error", errorDescription: "Selvbetjening er nede" });
    const health = (await broker.health())[0]!;
    expect(health.keyRegistration!.lastError).toMatchObject({ code: ErrorCode.SelfServiceUnavailable, status: 503 });
    expect(health.keyRegistration!.keys[0]!.daysLeft).toBe(363);

    // Within the hour: no new attempt; the token keeps renewing.
    const requests = h.ss.requests.length;
    h.clock.advance(30 * 60_000);
    expect(await broker.syncKeysIfDue()).toBeUndefined();
    expect((await broker.renewAll("timer"))[0]).toMatchObject({ outcome: "renewed" });
    expect(h.ss.requests.length).toBe(requests);

    h.ss.clearFaults();
    h.clock.advance(31 * 60_000);
    expect((await broker.syncKeysIfDue())?.[0]).toMatchObject({ outcome: "unchanged" });
    expect(kidGrants(h.mp).filter((g) => g.outcome !== "accepted").length).toBe(0);
  });

  it("a refused write keeps Digdir's error body and never the admin token", async () => {
    h.ss.injectFault({ kind: "status", status: 400, body: { error: "invalid_request", error_description: "kid er allerede i bruk" } });
    const [outcome] = await h.broker().syncKeys();
    expect(outcome!.error!.code).toBe(ErrorCode.SelfServiceRejected);
    expect(outcome!.error!.message).toContain("kid er allerede i bruk");
    expect(outcome!.error!.message).not.toMatch(/eyJ/);
  });

  it("warns 30 days before a registration expires and logs an error 7 days before, while re-posting keeps failing", async () => {
    const broker = h.broker();
    await broker.syncKeys();
    h.ss.injectFault({ kind: "status", status: 500 }, Infinity);
    h.clock.advance(340 * DAY);
    await broker.syncKeysIfDue();
    expect(h.logs.filter((l) => l.event === "key-registration-expiry").at(-1)).toMatchObject({
      level: "warn",
      daysLeft: 24,
      role: "current",
    });
    h.clock.advance(20 * DAY);
    await broker.syncKeysIfDue();
    expect(h.logs.filter((l) => l.event === "key-registration-expiry").at(-1)).toMatchObject({ level: "error", daysLeft: 4 });
  });

  it("a restarted broker learns the registration before it signs, also halfway through a rotation", async () => {
    const first = h.broker();
    await first.syncKeys();
    h.clock.advance(3 * 60_000);
    await first.renewAll("timer");
    const [oldKid] = registeredKids();
    const newKid = versionedKid(BASE_KID, h.rotateKey());
    h.clock.advance(61 * 60_000);
    await first.renewAll("timer");
    await first.syncKeys(); // registers the new version next to the old, re-posting the old
    h.clock.advance(30_000);

    // Renews a token with 75% of its life left, so the restarted broker signs at once.
    const restarted = h.broker({ RENEW_BEFORE_EXPIRY_RATIO: "0.9" });
    expect((await restarted.renewAll("timer"))[0]).toMatchObject({ outcome: "renewed" });
    expect(kidGrants(h.mp).at(-1)).toEqual({ kid: oldKid, outcome: "accepted" });
    h.clock.advance(3 * 60_000);
    expect((await restarted.renewAll("timer"))[0]).toMatchObject({ outcome: "renewed" });
    expect(kidGrants(h.mp).at(-1)).toEqual({ kid: newKid, outcome: "accepted" });
    expect(kidGrants(h.mp).filter((g) => g.outcome !== "accepted")).toEqual([]);
  });

  it("the renewal timer renews first and syncs after; a sync failure never fails the tick", async () => {
    setRuntimeFactory(() => createRuntime({ settings: h.settings(), ...h.brokerOptions() }));
    const tick = () =>
      renewHandler(
        { isPastDue: false, schedule: { adjustForDST: false }, scheduleStatus: { last: "", next: "", lastUpdated: "" } },
        new functions.InvocationContext({ invocationId: "t", functionName: "renew" }),
      );
    // First tick of the process: learns (registers) before signing, then renews with the key.
    await tick();
    h.clock.advance(3 * 60_000);
    expect((await tick())[0]).toMatchObject({ outcome: "renewed" });
    h.ss.injectFault({ kind: "reset" }, Infinity);
    h.clock.advance(DAY);
    expect((await tick())[0]).toMatchObject({ outcome: "renewed" });
    expect(h.logs.filter((l) => l.event === "key-registration-failed").at(-1)).toMatchObject({ code: ErrorCode.SelfServiceUnavailable });
  });
});
