/**
 * Child-process entry: drives one HTTP load with autocannon and prints one JSON result line.
 * It runs in its own process so that generating load never steals the server's event loop.
 *
 * argv[2]: JSON LoadSpec. Authorization values come from a file (one per line) rather than argv,
 * because a unique-token run needs thousands of them.
 *
 * Every request is pre-built (autocannon's static `requests`): a per-request `setupRequest` makes
 * autocannon rebuild each request and halves its rate, and the generator must not be the limit.
 * - duration runs (repeat callers): one instance, `connections` connections, each cycling through
 *   every identity;
 * - amount runs (unique tokens): one single-connection instance per connection, each with its own
 *   slice of the tokens, so that no token is sent twice.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";
import type { LoadResult, LoadSpec } from "./load.js";

interface AutocannonResult {
  errors: number;
  timeouts: number;
  non2xx: number;
  "2xx": number;
}
interface AutocannonInstance {
  on(event: "response", listener: (client: unknown, statusCode: number, bytes: number, responseTimeMs: number) => void): void;
}
type Autocannon = (
  options: Record<string, unknown>,
  callback: (error: Error | null, result: AutocannonResult) => void,
) => AutocannonInstance;

// autocannon is CommonJS without type declarations: load it through require with a narrow type.
const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon;

const spec = JSON.parse(process.argv[2] ?? "{}") as LoadSpec;
const authorizations = readFileSync(spec.authorizationFile, "utf8").split("\n").filter(Boolean);

// Latencies are kept here at full resolution: autocannon's histogram rounds to whole ms, too
// coarse for loopback answers. Throughput is taken over the steady middle of the run (from the
// 10th to the 90th percentile of answer times): building requests, opening connections and the
// tail where connections finish one by one would otherwise dilute it.
const latencies: number[] = [];
const answeredAt: number[] = [];

function start(options: Record<string, unknown>): Promise<AutocannonResult> {
  return new Promise((resolve, reject) => {
    const instance = autocannon({ url: spec.url, ...options }, (error, result) => (error ? reject(error) : resolve(result)));
    instance.on("response", (_client, statusCode, _bytes, responseTimeMs) => {
      answeredAt.push(performance.now());
      // Refusals are counted by autocannon as non2xx; only served requests have a latency that matters.
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTimeMs);
    });
  });
}

const requestsFor = (values: readonly string[]) => values.map((authorization) => ({ method: "GET", headers: { authorization } }));

let results: AutocannonResult[];
let sent: number;
if (spec.amount === undefined) {
  results = [await start({ connections: spec.connections, duration: spec.durationSeconds ?? 5, requests: requestsFor(authorizations) })];
  sent = Number.NaN;
} else {
  const perConnection = Math.floor(spec.amount / spec.connections);
  if (perConnection * spec.connections > authorizations.length) throw new Error("fewer authorizations than requests");
  results = await Promise.all(
    Array.from({ length: spec.connections }, (_, c) =>
      start({
        connections: 1,
        amount: perConnection,
        requests: requestsFor(authorizations.slice(c * perConnection, (c + 1) * perConnection)),
      }),
    ),
  );
  sent = perConnection * spec.connections;
}

const sum = (pick: (r: AutocannonResult) => number) => results.reduce((total, r) => total + pick(r), 0);
const served = sum((r) => r["2xx"]);
const from = Math.floor(answeredAt.length * 0.1);
const to = Math.floor(answeredAt.length * 0.9);
const steadySeconds = ((answeredAt[to] ?? 0) - (answeredAt[from] ?? 0)) / 1000;
latencies.sort((a, b) => a - b);
const output: LoadResult = {
  requests: served,
  seconds: ((answeredAt.at(-1) ?? 0) - (answeredAt[0] ?? 0)) / 1000,
  requestsPerSecond: (to - from) / steadySeconds,
  p50Ms: percentile(latencies, 0.5),
  p99Ms: percentile(latencies, 0.99),
  errors: sum((r) => r.errors + r.timeouts),
  non2xx: sum((r) => r.non2xx),
  distinctAuthorizationsSent: spec.amount === undefined ? authorizations.length : sent,
};
process.stdout.write(JSON.stringify(output) + "\n");

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}
