import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { planRegistration, type RegistrationPlanInput } from "../../src/keys/plan.js";
import { parseRegisteredKeySet, versionedKid, versionOfKid, type PublicJwk, type RegisteredKey } from "../../src/keys/registered-keys.js";

const DAY = 86_400_000;
const NOW = Date.parse("2026-06-01T00:00:00Z");
const BASE = "acme-skatt";
const V1 = "a".repeat(32);
const V2 = "b".repeat(32);

function jwk(kid: string): PublicJwk {
  const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const { n, e } = publicKey.export({ format: "jwk" });
  return { kty: "RSA", kid, use: "sig", alg: "RS256", n: n!, e: e! };
}
const current = jwk(versionedKid(BASE, V2));
const registered = (key: PublicJwk, daysLeft: number | undefined): RegisteredKey => ({
  jwk: key,
  ...(daysLeft !== undefined ? { expiresAt: new Date(NOW + daysLeft * DAY) } : {}),
});
const input = (over: Partial<RegistrationPlanInput>): RegistrationPlanInput => ({
  registered: [],
  current,
  baseKid: BASE,
  nowMs: NOW,
  renewBeforeMs: 30 * DAY,
  retireAfterMs: 2 * 3600_000,
  replaceForeign: false,
  lastInUse: new Map(),
  ...over,
});

describe("registration plan", () => {
  it("registers the current key on an empty client, with use sig", () => {
    const plan = planRegistration(input({}));
    expect(plan.action).toBe("post");
    if (plan.action !== "post") return;
    expect(plan.keys).toEqual([current]);
    expect(plan.reasons.join()).toContain("registers");
  });

  it("does nothing while the registration has more than the margin left", () => {
    expect(planRegistration(input({ registered: [registered(current, 31)] })).action).toBe("none");
  });

  it("re-posts inside the margin, and when Digdir says nothing of the expiry", () => {
    expect(planRegistration(input({ registered: [registered(current, 30)] })).action).toBe("post");
    expect(planRegistration(input({ registered: [registered(current, undefined)] })).action).toBe("post");
  });

  it("keeps foreign keys (adding use where missing) and never drops them unless told", () => {
    const { use: _use, ...foreignWithoutUse } = jwk("someone-elses-key");
    const plan = planRegistration(input({ registered: [registered(foreignWithoutUse as PublicJwk, 200)] }));
    expect(plan.action).toBe("post");
    if (plan.action !== "post") return;
    expect(plan.keys.map((k) => k.kid)).toEqual([current.kid, "someone-elses-key"]);
    expect(plan.keys[1]!.use).toBe("sig");
    const replacing = planRegistration(input({ registered: [registered(foreignWithoutUse as PublicJwk, 200)], replaceForeign: true }));
    expect(replacing.action === "post" && replacing.keys.map((k) => k.kid)).toEqual([current.kid]);
  });

  it("refuses to exceed five keys, naming the way out, and posts nothing", () => {
    const foreign = [1, 2, 3, 4, 5].map((i) => registered(jwk(`foreign-${i}`), 200));
    const plan = planRegistration(input({ registered: foreign }));
    expect(plan.action).toBe("refuse");
    expect(plan.action === "refuse" && plan.problem).toContain("KEY_REGISTRATION_REPLACE_FOREIGN=true");
    // Four foreign keys and ours fit.
    expect(planRegistration(input({ registered: foreign.slice(0, 4) })).action).toBe("post");
  });

  it("keeps the previous key of ours while it may still sign, drops it once no token signed with it can be in use", () => {
    const previous = registered(jwk(versionedKid(BASE, V1)), 300);
    const both = [previous, registered(current, 365)];
    // Still signing with the old key, or nothing known of it: nothing to change.
    expect(planRegistration(input({ registered: both, lastInUse: new Map([[previous.jwk.kid, NOW]]) })).action).toBe("none");
    expect(planRegistration(input({ registered: both })).action).toBe("none");
    // Last used an hour ago: the old key stays (tokens signed with it may live two hours).
    expect(planRegistration(input({ registered: both, lastInUse: new Map([[previous.jwk.kid, NOW - 3600_000]]) })).action).toBe("none");
    const retire = planRegistration(input({ registered: both, lastInUse: new Map([[previous.jwk.kid, NOW - 3 * 3600_000]]) }));
    expect(retire.action === "post" && retire.keys.map((k) => k.kid)).toEqual([current.kid]);
  });

  it("registers a new version next to the previous one (overlap)", () => {
    const previous = registered(jwk(versionedKid(BASE, V1)), 300);
    const plan = planRegistration(input({ registered: [previous] }));
    expect(plan.action === "post" && plan.keys.map((k) => k.kid)).toEqual([current.kid, previous.jwk.kid]);
  });

  it("drops a key whose registration already expired rather than bring it back", () => {
    const plan = planRegistration(input({ registered: [registered(jwk("lapsed"), -1), registered(current, 200)] }));
    expect(plan.action === "post" && plan.keys.map((k) => k.kid)).toEqual([current.kid]);
  });
});

describe("Digdir's key set answer", () => {
  it("reads each key's exp (epoch seconds) and the set's dates, and strips exp from the JWK", () => {
    const set = parseRegisteredKeySet({
      keys: [{ kid: "k", kty: "RSA", alg: "RS256", n: "nn", e: "AQAB", exp: 1663324457 }],
      last_updated: "2021-09-16T12:34:17.099+02:00",
      created: "2021-09-16T12:34:17.099+02:00",
    });
    expect("problem" in set).toBe(false);
    if ("problem" in set) return;
    expect(set.keys[0]!.expiresAt!.toISOString()).toBe("2022-09-16T10:34:17.000Z");
    expect(set.keys[0]!.jwk).not.toHaveProperty("exp");
    expect(set.lastUpdated!.toISOString()).toBe("2021-09-16T10:34:17.099Z");
  });

  it("falls back to last_updated + one year without exp, and says what is wrong with a bad shape", () => {
    const set = parseRegisteredKeySet({ keys: [{ kid: "k", kty: "RSA" }], last_updated: "2026-01-01T00:00:00Z" });
    expect("problem" in set ? undefined : set.keys[0]!.expiresAt!.toISOString()).toBe("2027-01-01T00:00:00.000Z");
    expect(parseRegisteredKeySet({ keys: {} })).toEqual({ problem: '"keys" is not an array' });
  });

  it("tells the broker's kids from others by the version suffix", () => {
    expect(versionOfKid(BASE, versionedKid(BASE, V1))).toBe(V1);
    expect(versionOfKid(BASE, BASE)).toBeUndefined();
    expect(versionOfKid(BASE, `${BASE}.not-a-version`)).toBeUndefined();
  });
});
