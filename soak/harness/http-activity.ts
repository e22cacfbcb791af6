/**
 * Knows when no HTTP request of this process is in flight, through Node's diagnostics channels
 * (node:http clients, which the Azure SDK uses, and fetch, which the Maskinporten client and jose
 * use). The simulation waits for quiet before moving the clock, so a renewal started in the
 * background by one request completes at the simulated time it began, as it would in real life
 * where it takes milliseconds.
 */
import diagnostics from "node:diagnostics_channel";
import { setImmediate as nextTurn, setTimeout as sleep } from "node:timers/promises";

const STARTS = ["http.client.request.created", "undici:request:create"] as const;
const ENDS = ["http.client.response.finish", "http.client.request.error", "undici:request:trailers", "undici:request:error"] as const;

export interface HttpActivity {
  /** Requests started since the tracker was created. */
  readonly started: number;
  readonly inFlight: number;
  /**
   * Resolves once no request is in flight and none started for a while. Cheap when nothing
   * started since the last settle (a couple of event-loop turns); otherwise it also waits out
   * `quietMs` of real time with nothing new, which covers the Azure SDK's short retry delays.
   */
  settle(): Promise<void>;
  /** How many settle() calls gave up waiting (a stuck request); should stay 0. */
  readonly gaveUp: number;
  stop(): void;
}

export function trackHttpActivity(options: { quietMs?: number; maxWaitMs?: number } = {}): HttpActivity {
  const quietMs = options.quietMs ?? 5;
  const maxWaitMs = options.maxWaitMs ?? 30_000;
  const inFlight = new Set<object>();
  let started = 0;
  let settledAt = 0;
  let gaveUp = 0;
  const onStart = (message: unknown) => {
    started++;
    inFlight.add((message as { request: object }).request);
  };
  const onEnd = (message: unknown) => {
    inFlight.delete((message as { request: object }).request);
  };
  for (const name of STARTS) diagnostics.subscribe(name, onStart);
  for (const name of ENDS) diagnostics.subscribe(name, onEnd);

  return {
    get started() {
      return started;
    },
    get inFlight() {
      return inFlight.size;
    },
    get gaveUp() {
      return gaveUp;
    },
    async settle() {
      // Work started by the last step creates its first request within a turn or two.
      await nextTurn();
      await nextTurn();
      if (started === settledAt && inFlight.size === 0) return;
      const deadline = Date.now() + maxWaitMs;
      for (;;) {
        if (Date.now() > deadline) {
          gaveUp++;
          inFlight.clear();
          break;
        }
        const seen = started;
        await sleep(inFlight.size > 0 ? 1 : quietMs);
        if (inFlight.size === 0 && started === seen) break;
      }
      settledAt = started;
    },
    stop() {
      for (const name of STARTS) diagnostics.unsubscribe(name, onStart);
      for (const name of ENDS) diagnostics.unsubscribe(name, onEnd);
    },
  };
}
