/**
 * Retry with capped exponential backoff and full jitter. Only failures the caller marks transient
 * are retried; a 4xx from Maskinporten is a configuration problem and retrying it only hammers.
 */
export interface RetryPolicy {
  /** Total attempts including the first. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 3, baseDelayMs: 250, maxDelayMs: 4_000 };

export interface RetryHooks {
  isTransient(error: unknown): boolean;
  /** A server-given wait (Retry-After) that the delay must not undercut. */
  retryAfterMs?(error: unknown): number | undefined;
  sleep?(ms: number): Promise<void>;
  random?(): number;
  onRetry?(info: { attempt: number; delayMs: number; error: unknown }): void;
}

export function backoffDelayMs(attempt: number, policy: RetryPolicy, random: () => number, retryAfterMs?: number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  const jittered = Math.floor(random() * ceiling);
  return retryAfterMs === undefined ? jittered : Math.min(Math.max(jittered, retryAfterMs), policy.maxDelayMs * 4);
}

export const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function withRetry<T>(operation: (attempt: number) => Promise<T>, policy: RetryPolicy, hooks: RetryHooks): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (attempt >= policy.maxAttempts || !hooks.isTransient(error)) throw error;
      const delayMs = backoffDelayMs(attempt, policy, hooks.random ?? Math.random, hooks.retryAfterMs?.(error));
      hooks.onRetry?.({ attempt, delayMs, error });
      await (hooks.sleep ?? realSleep)(delayMs);
    }
  }
}

/** `Retry-After` as delta-seconds or an HTTP date → milliseconds from now. */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}
