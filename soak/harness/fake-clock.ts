/**
 * A clock the broker and every stand-in share (`now` options), moved only by the simulation: real
 * HTTP still flows, but hours pass in seconds. `sleep` advances it instead of waiting, so the
 * broker's retry backoff costs simulated time, not real time.
 */
export class FakeClock {
  #nowMs: number;

  constructor(startMs: number) {
    this.#nowMs = startMs;
  }

  readonly now = (): number => this.#nowMs;

  /** Moves to `ms`; never backwards (a retry's sleep may already have carried the clock past it). */
  advanceTo(ms: number): void {
    if (ms > this.#nowMs) this.#nowMs = ms;
  }

  advance(ms: number): void {
    this.#nowMs += Math.max(0, ms);
  }

  /** For `maskinporten.sleep`: the wait happens on the fake clock, at once. */
  readonly sleep = async (ms: number): Promise<void> => {
    this.advance(ms);
  };
}
