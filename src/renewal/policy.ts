/**
 * When to renew and whether a token may be served. Pure: time is a parameter, so timer pauses,
 * clock jumps and a simulated day are all just different `nowMs` values.
 */
import type { StoredToken } from "../token-store/stored-token.js";

export interface RenewalPolicy {
  /** Renew when less than this share of the token's lifetime is left (0 < r < 1). */
  renewWhenRemainingRatio: number;
  /** A token with less than this left is not handed out: the caller could not use it. */
  minServeRemainingMs: number;
}

export const DEFAULT_MIN_SERVE_REMAINING_MS = 15_000;

/** fresh: serve it. due: serve it, but renew now. unusable: missing or too close to expiry. */
export type TokenState = "fresh" | "due" | "unusable";

export function tokenState(token: StoredToken | undefined, nowMs: number, policy: RenewalPolicy): TokenState {
  if (!token) return "unusable";
  const remaining = token.expiresAt.getTime() - nowMs;
  if (remaining <= policy.minServeRemainingMs) return "unusable";
  return nowMs >= renewDueAtMs(token, policy) ? "due" : "fresh";
}

export function renewDueAtMs(token: StoredToken, policy: RenewalPolicy): number {
  const issued = token.issuedAt.getTime();
  const lifetime = token.expiresAt.getTime() - issued;
  return issued + lifetime * (1 - policy.renewWhenRemainingRatio);
}

/**
 * Which of two tokens to hold for a profile whose settings have `fingerprint`: a token issued for
 * other settings is never the answer, however late it expires; of two that match, the
 * later-expiring, so what we hold only ever moves forward.
 */
export function laterToken(a: StoredToken | undefined, b: StoredToken | undefined, fingerprint: string): StoredToken | undefined {
  const matching = (token: StoredToken | undefined) => (token?.fingerprint === fingerprint ? token : undefined);
  const [x, y] = [matching(a), matching(b)];
  if (!x) return y;
  if (!y) return x;
  return y.expiresAt > x.expiresAt ? y : x;
}

/** Wait before the next on-demand attempt after `failures` failures in a row: 5 s doubling to 5 min. */
export function failureBackoffMs(failures: number): number {
  if (failures <= 0) return 0;
  return Math.min(300_000, 5_000 * 2 ** (failures - 1));
}

/**
 * A timer firing every `intervalMs` can only keep a token valid if it ticks at least once in the
 * window between "due" and "expired" (lifetime × ratio).
 */
export function scheduleTooSlow(token: StoredToken, policy: RenewalPolicy, intervalMs: number): boolean {
  const lifetime = token.expiresAt.getTime() - token.issuedAt.getTime();
  return intervalMs > lifetime * policy.renewWhenRemainingRatio;
}
