import { describe, expect, it } from "vitest";
import type { Caller } from "../../src/auth/caller.js";
import { VerifiedTokenCache } from "../../src/auth/verified-token-cache.js";

const caller = (appId: string): Caller =>
  Object.freeze({ appId, tenantId: "t", roles: [], tokenExpiresAt: new Date(0), authenticatedBy: "bearer" as const });

describe("VerifiedTokenCache", () => {
  it("keys by SHA-256 of the whole token and never stores the token", () => {
    const key = VerifiedTokenCache.keyOf("a.b.c");
    expect(key).toBe(VerifiedTokenCache.keyOf("a.b.c"));
    expect(key).not.toBe(VerifiedTokenCache.keyOf("a.b.d"));
    expect(key).not.toContain("a.b.c");
    expect(Buffer.from(key, "base64")).toHaveLength(32);
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
