/**
 * Deterministic fault injection: a fault matches an operation kind (optionally one object name)
 * and fires for the next `times` matching requests, in the order faults were injected.
 */
import type { OperationKind } from "./operations.js";

export type FaultAction =
  /** Answer with this status and a Key Vault error body; 429 gets `Retry-After` (default 1 s). */
  | { type: "status"; status: number; code?: string; message?: string; retryAfterSeconds?: number }
  /** Wait, then handle the request normally. */
  | { type: "delay"; ms: number }
  /** Drop the connection without an answer (the client sees a reset / socket hang up). */
  | { type: "reset" };

export interface Fault {
  match: OperationKind | "any";
  /** Only requests for this secret/key/certificate name (case-insensitive). */
  name?: string;
  action: FaultAction;
  /** How many matching requests it affects; 1 unless given. */
  times?: number;
}

export interface FaultHandle {
  /** How many requests it has affected so far. */
  readonly fired: number;
  readonly remaining: number;
}

interface ActiveFault {
  fault: Fault;
  fired: number;
  remaining: number;
}

export class FaultPlan {
  private active: ActiveFault[] = [];

  add(fault: Fault): FaultHandle {
    const times = fault.times ?? 1;
    if (!Number.isInteger(times) || times < 1) throw new RangeError("fault.times must be a positive integer");
    if (fault.action.type === "delay" && !(fault.action.ms >= 0)) throw new RangeError("delay ms must be >= 0");
    const entry: ActiveFault = { fault, fired: 0, remaining: times };
    this.active.push(entry);
    return {
      get fired() {
        return entry.fired;
      },
      get remaining() {
        return entry.remaining;
      },
    };
  }

  /** Consumes and returns the first fault matching this request, if any. */
  take(kind: OperationKind | undefined, name: string | undefined): FaultAction | undefined {
    const entry = this.active.find(
      ({ fault, remaining }) =>
        remaining > 0 &&
        (fault.match === "any" || fault.match === kind) &&
        (fault.name === undefined || fault.name.toLowerCase() === name?.toLowerCase()),
    );
    if (!entry) return undefined;
    entry.fired += 1;
    entry.remaining -= 1;
    if (entry.remaining === 0) this.active = this.active.filter((e) => e !== entry);
    return entry.fault.action;
  }

  clear(): void {
    for (const entry of this.active) entry.remaining = 0;
    this.active = [];
  }
}
