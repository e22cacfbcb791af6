/**
 * Operation kinds and per-kind request counters. Every request the stand-in receives is counted
 * exactly once: by its operation kind when the vault handled it (whatever the outcome), or by
 * what stopped it first (`challenge` 401, injected `throttled` 429, other injected `faulted`
 * status, injected connection `reset`, RBAC `forbidden` 403), or as `unknown` when no route matches.
 */
export const OPERATION_KINDS = [
  "certificateGet",
  "keyGet",
  "sign",
  "secretSet",
  "secretGet",
  "secretUpdate",
  "secretList",
  // Certificates whose key is made in the vault (issuer "Unknown"): see pending-certificates.ts.
  "certificateCreate",
  "certificateOperation",
  "certificateMerge",
  "certificateList",
] as const;
export type OperationKind = (typeof OPERATION_KINDS)[number];

export const COUNTER_NAMES = [...OPERATION_KINDS, "challenge", "throttled", "faulted", "reset", "forbidden", "unknown"] as const;
export type CounterName = (typeof COUNTER_NAMES)[number];
export type Counters = Readonly<Record<CounterName, number>>;

export class RequestCounters {
  private counts = RequestCounters.zero();

  private static zero(): Record<CounterName, number> {
    return Object.fromEntries(COUNTER_NAMES.map((name) => [name, 0])) as Record<CounterName, number>;
  }

  increment(name: CounterName): void {
    this.counts[name] += 1;
  }

  /** A frozen copy, so a benchmark can diff two snapshots. */
  snapshot(): Counters {
    return Object.freeze({ ...this.counts });
  }

  reset(): void {
    this.counts = RequestCounters.zero();
  }
}
