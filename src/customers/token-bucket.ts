/**
 * Token buckets for the two limits a burst of new customers must not trip: Maskinporten's (per
 * profile) and the vault's sign rate (shared by all profiles of this instance). Pure: time is a
 * parameter. A reservation may go into debt up to `maxWaitMs` of refill, so short bursts queue
 * briefly instead of failing, and longer ones are refused with the wait they would need.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAtMs: number;

  constructor(
    /** Tokens added per second. */
    readonly ratePerSecond: number,
    /** Most tokens held (the burst a quiet period allows). */
    readonly capacity: number,
    nowMs: number,
  ) {
    this.tokens = capacity;
    this.updatedAtMs = nowMs;
  }

  /** Milliseconds until one token is available (0 = now). */
  waitMs(nowMs: number): number {
    this.refill(nowMs);
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.ratePerSecond) * 1000);
  }

  take(nowMs: number): void {
    this.refill(nowMs);
    this.tokens -= 1;
  }

  private refill(nowMs: number): void {
    const elapsed = Math.max(0, nowMs - this.updatedAtMs);
    this.tokens = Math.min(this.capacity, this.tokens + (elapsed / 1000) * this.ratePerSecond);
    this.updatedAtMs = nowMs;
  }
}

export type Reservation = { granted: true; waitMs: number } | { granted: false; retryAfterMs: number };

/**
 * One token from every bucket, or none: a grant costs a Maskinporten request and a Key Vault sign
 * together. Granted when the longest wait is at most `maxWaitMs` (the caller sleeps that long).
 */
export function reserve(buckets: readonly TokenBucket[], nowMs: number, maxWaitMs: number): Reservation {
  const waitMs = Math.max(0, ...buckets.map((bucket) => bucket.waitMs(nowMs)));
  if (waitMs > maxWaitMs) return { granted: false, retryAfterMs: waitMs };
  for (const bucket of buckets) bucket.take(nowMs);
  return { granted: true, waitMs };
}
