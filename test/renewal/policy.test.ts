import { describe, expect, it } from "vitest";
import { failureBackoffMs, laterToken, renewDueAtMs, scheduleTooSlow, tokenState } from "../../src/renewal/policy.js";
import type { StoredToken } from "../../src/token-store/stored-token.js";

const policy = { renewWhenRemainingRatio: 0.5, minServeRemainingMs: 15_000 };
const token = (issuedAtMs: number, lifetimeS: number, fingerprint = "v1.current"): StoredToken => ({
  accessToken: "t",
  tokenType: "Bearer",
  scope: "s",
  issuedAt: new Date(issuedAtMs),
  expiresAt: new Date(issuedAtMs + lifetimeS * 1000),
  fingerprint,
});

describe("renewal policy", () => {
  const t = token(1_000_000, 120);

  it("is fresh before half the lifetime, due after, unusable in the last 15 s and when missing", () => {
    expect(tokenState(t, 1_000_000 + 59_000, policy)).toBe("fresh");
    expect(renewDueAtMs(t, policy)).toBe(1_000_000 + 60_000);
    expect(tokenState(t, 1_000_000 + 60_000, policy)).toBe("due");
    expect(tokenState(t, 1_000_000 + 104_999, policy)).toBe("due");
    expect(tokenState(t, 1_000_000 + 105_000, policy)).toBe("unusable");
    expect(tokenState(undefined, 0, policy)).toBe("unusable");
  });

  it("copes with a timer that paused past expiry: the token is unusable, not fresh", () => {
    expect(tokenState(t, 1_000_000 + 3_600_000, policy)).toBe("unusable");
  });

  it("honours the configured ratio", () => {
    expect(tokenState(t, 1_000_000 + 80_000, { ...policy, renewWhenRemainingRatio: 0.25 })).toBe("fresh");
    expect(tokenState(t, 1_000_000 + 91_000, { ...policy, renewWhenRemainingRatio: 0.25 })).toBe("due");
  });

  it("keeps the later-expiring token", () => {
    const later = token(1_000_500, 120);
    expect(laterToken(t, later, "v1.current")).toBe(later);
    expect(laterToken(later, t, "v1.current")).toBe(later);
    expect(laterToken(undefined, t, "v1.current")).toBe(t);
  });

  it("never prefers a token issued for other settings, however late it expires", () => {
    const otherSettings = token(1_000_500, 3600, "v1.old");
    expect(laterToken(t, otherSettings, "v1.current")).toBe(t);
    expect(laterToken(otherSettings, t, "v1.current")).toBe(t);
    expect(laterToken(otherSettings, undefined, "v1.current")).toBeUndefined();
    expect(laterToken(undefined, token(0, 120, ""), "v1.current")).toBeUndefined();
  });

  it("backs off 5 s doubling to 5 minutes", () => {
    expect([0, 1, 2, 3, 7, 8, 20].map(failureBackoffMs)).toEqual([0, 5_000, 10_000, 20_000, 300_000, 300_000, 300_000]);
  });

  it("knows when a timer interval cannot keep the token valid", () => {
    expect(scheduleTooSlow(t, policy, 60_000)).toBe(false);
    expect(scheduleTooSlow(t, policy, 61_000)).toBe(true);
    expect(scheduleTooSlow(t, policy, 300_000)).toBe(true);
  });
});
