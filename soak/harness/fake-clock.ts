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
}
