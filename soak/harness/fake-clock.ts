/**
 * A clock the broker and every stand-in share (`now` options), moved only by the simulation: real
 * HTTP still flows, but hours pass in seconds. `sleep` advances it instead of waiting, so the
 * broker's retry backoff costs simulated time, not real time.
 *
 * With `realTimeFactor` the clock also runs on its own, that many times faster than real time, so
 * that concurrent work (several broker instances renewing at once) sees time pass between its steps.
 */
export class FakeClock {
  #baseMs: number;
  readonly #realStart = performance.now();
  readonly #factor: number;

  constructor(startMs: number, options: { realTimeFactor?: number } = {}) {
    this.#baseMs = startMs;
    this.#factor = options.realTimeFactor ?? 0;
  }

  readonly now = (): number => Math.floor(this.#baseMs + (performance.now() - this.#realStart) * this.#factor);

  /** Moves to `ms`; never backwards (a retry's sleep may already have carried the clock past it). */
  advanceTo(ms: number): void {
    const now = this.now();
    if (ms > now) this.#baseMs += ms - now;
  }

  advance(ms: number): void {
    this.#baseMs += Math.max(0, ms);
  }

  /** For `maskinporten.sleep`: the wait happens on the fake clock, at once. */
  readonly sleep = async (ms: number): Promise<void> => {
    this.advance(ms);
  };

  // Timers on the fake clock (the broker's background recovery): they fire only when the
  // simulation calls runDueTimers(), at their simulated time, in order.
  readonly #timers = new Map<number, { atMs: number; callback: () => void }>();
  #nextTimerId = 1;

  readonly setTimeout = (callback: () => void, ms: number): unknown => {
    const id = this.#nextTimerId++;
    this.#timers.set(id, { atMs: this.now() + Math.max(0, ms), callback });
    return id;
  };

  readonly clearTimeout = (handle: unknown): void => {
    this.#timers.delete(handle as number);
  };

  /** When the earliest pending timer is due, if any. */
  nextTimerAt(): number | undefined {
    let earliest: number | undefined;
    for (const timer of this.#timers.values()) if (earliest === undefined || timer.atMs < earliest) earliest = timer.atMs;
    return earliest;
  }

  /** Fires every timer due by now (earliest first); returns how many fired. */
  runDueTimers(): number {
    const due = [...this.#timers.entries()].filter(([, t]) => t.atMs <= this.now()).sort((a, b) => a[1].atMs - b[1].atMs || a[0] - b[0]);
    for (const [id, timer] of due) {
      this.#timers.delete(id);
      timer.callback();
    }
    return due.length;
  }
}
