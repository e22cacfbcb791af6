import { describe, expect, it } from "vitest";
import type { Caller } from "../../src/auth/caller.js";
import { VerifiedTokenCache } from "../../src/auth/verified-token-cache.js";

const caller = (appId: string): Caller =>
  Object.freeze({ appId, tenantId: "t", roles: [], tokenExpiresAt: new Date(0), authenticatedBy: "bearer" as const });

describe("VerifiedTokenCache", () => {
  it("answers only for the byte-identical header value", () => {
    const cache = new VerifiedTokenCache(10);
    const value = `Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.${"s".repeat(342)}`;
    cache.set(value, caller("x"), 0, 10);
    // A copy of the value (a different string object, as every request brings) hits.
    expect(cache.get(Buffer.from(value, "latin1").toString("latin1"), 1)?.appId).toBe("x");
    // One changed byte anywhere misses: in the header, the payload, or the scheme's case.
    for (const changed of [
      value.replace("eyJhbGci", "eyJhbGcj"),
      value.replace("eyJzdWIi", "eyJzdWIj"),
      value.replace("Bearer", "bearer"),
      `${value}x`,
    ]) {
      expect(cache.get(changed, 1)).toBeUndefined();
    }
    // The same last characters (the Map's key) with a different value: a miss, and the entry stays.
    const sameTail = `Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ5In0.${"s".repeat(342)}`;
    expect(cache.get(sameTail, 1)).toBeUndefined();
    expect(cache.get(value, 1)?.appId).toBe("x");
    expect(cache.stats()).toMatchObject({ size: 1, hits: 2, characters: value.length });
  });

  it("a value with the same last characters replaces the entry rather than answering for it", () => {
    const cache = new VerifiedTokenCache(10);
    const tail = "t".repeat(43);
    cache.set(`Bearer a.b.${tail}`, caller("a"), 0, 10);
    cache.set(`Bearer c.d.${tail}`, caller("c"), 0, 10);
    expect(cache.get(`Bearer a.b.${tail}`, 1)).toBeUndefined();
    expect(cache.get(`Bearer c.d.${tail}`, 1)?.appId).toBe("c");
    expect(cache.stats()).toMatchObject({ size: 1, characters: `Bearer c.d.${tail}`.length });
  });

  it("stays within its character budget, evicting the least recently used", () => {
    const cache = new VerifiedTokenCache(100, 10_000);
    const value = (i: number) => `Bearer ${"x".repeat(3_000)}.${String(i).padStart(4, "0")}`;
    for (let i = 0; i < 5; i++) cache.set(value(i), caller(String(i)), 0, 10);
    expect(cache.stats()).toMatchObject({ size: 3, evictions: 2 });
    expect(cache.stats().characters).toBeLessThanOrEqual(10_000);
    expect(cache.get(value(1), 1)).toBeUndefined();
    expect(cache.get(value(4), 1)?.appId).toBe("4");
    // A value larger than the whole budget is not stored (and evicts nothing).
    cache.set(`Bearer ${"y".repeat(10_000)}`, caller("big"), 0, 10);
    expect(cache.stats().size).toBe(3);
  });

  it("answers only inside [usableFrom, usableUntil)", () => {
    const cache = new VerifiedTokenCache(10);
    cache.set("k", caller("x"), 1_000, 2_000);
    expect(cache.get("k", 999)).toBeUndefined();
    expect(cache.get("k", 1_000)?.appId).toBe("x");
    expect(cache.get("k", 1_999)?.appId).toBe("x");
    expect(cache.get("k", 2_000)).toBeUndefined();
    expect(cache.stats().size).toBe(0); // the expired entry is dropped on sight
  });

  it("evicts the least recently used beyond its bound", () => {
    const cache = new VerifiedTokenCache(2);
    cache.set("a", caller("a"), 0, 10);
    cache.set("b", caller("b"), 0, 10);
    cache.get("a", 1); // a is now the most recent
    cache.set("c", caller("c"), 0, 10);
    expect(cache.get("b", 1)).toBeUndefined();
    expect(cache.get("a", 1)?.appId).toBe("a");
    expect(cache.get("c", 1)?.appId).toBe("c");
    expect(cache.stats()).toMatchObject({ size: 2, evictions: 1 });
  });

  it("stays bounded under many inserts, and a zero bound stores nothing", () => {
    const cache = new VerifiedTokenCache(100);
    for (let i = 0; i < 10_000; i++) cache.set(`k${i}`, caller("x"), 0, 10);
    expect(cache.stats().size).toBe(100);
    const off = new VerifiedTokenCache(0);
    off.set("k", caller("x"), 0, 10);
    expect(off.stats().size).toBe(0);
  });

  it("ignores entries with an empty window", () => {
    const cache = new VerifiedTokenCache(10);
    cache.set("k", caller("x"), 10, 10);
    expect(cache.stats().size).toBe(0);
  });
});
