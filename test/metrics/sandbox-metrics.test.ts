/**
 * The broker's metrics after a scripted sequence over the sandbox's stand-ins (renewal, failure,
 * serve, refusal), read from an OpenTelemetry InMemoryMetricExporter beside the sandbox's own
 * GET /metrics, which must show the same figures.
 */
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  PeriodicExportingMetricReader,
  type MetricData,
} from "@opentelemetry/sdk-metrics";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { METRIC_NAMES } from "../../src/app/otel-metrics.js";
import { formatLogLine, type Logger } from "../../src/logging.js";
import { startSandbox, type Sandbox } from "../../sandbox/sandbox.js";
import { sandboxCallerToken } from "../support/sandbox-caller.js";

const YEARLY = "0 0 0 1 1 *"; // the timer runs only when the test ticks it

let sandbox: Sandbox;
const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
let reader: PeriodicExportingMetricReader;
const logLines: string[] = [];
const logger: Logger = { log: (level, event, fields) => logLines.push(formatLogLine(level, event, fields)) };
let metrics: MetricData[];
let prometheus: string;
let callerClientId: string;

beforeAll(async () => {
  // Due 1.2 s after issue (120 s tokens): the second tick renews, and fails at Maskinporten.
  sandbox = await startSandbox({
    port: 0,
    logger,
    renewSchedule: YEARLY,
    metricReaders: [
      (producers) => (reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000, ...producers })),
    ],
    settingsOverrides: { RENEW_BEFORE_EXPIRY_RATIO: "0.99" },
  });
  const { env } = sandbox;
  callerClientId = env.caller.clientId;
  // 1. renewal: the start-up tick has renewed every profile. 2. failure: Maskinporten refuses the client.
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  sandbox.maskinporten.injectFault(
    { kind: "error", status: 400, error: "invalid_client", description: "Client not found" },
    { times: Infinity },
  );
  await sandbox.tick();
  sandbox.maskinporten.clearFaults();
  // 3. serve (the held token is still valid), then 4. refusals: no token, an unknown profile.
  const caller = await callerToken();
  const get = (path: string, token?: string) =>
    fetch(`${env.brokerUrl}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  expect((await get("/api/token/skatt", caller)).status).toBe(200);
  expect((await get("/api/token/skatt")).status).toBe(401);
  expect((await get("/api/token/caller-typed-name", caller)).status).toBe(404);

  await reader.forceFlush();
  metrics = exporter
    .getMetrics()
    .at(-1)!
    .scopeMetrics.flatMap((scope) => scope.metrics);
  prometheus = await (await fetch(`${env.brokerUrl}/metrics`)).text();
}, 60_000);
afterAll(() => sandbox?.close());

const callerToken = () => sandboxCallerToken(sandbox);

function metric(name: string): MetricData {
  const found = metrics.find((m) => m.descriptor.name === name);
  expect(found, `metric ${name}`).toBeDefined();
  return found!;
}

/** Data points whose attributes include `match` (exactly those keys and values; others may be present). */
function points(name: string, match: Record<string, unknown>) {
  return metric(name).dataPoints.filter((p) => Object.entries(match).every(([key, value]) => p.attributes[key] === value));
}

function sum(name: string, match: Record<string, unknown>): number {
  const data = metric(name);
  return points(name, match).reduce((total, p) => {
    if (data.dataPointType === DataPointType.HISTOGRAM) return total + (p.value as { count: number }).count;
    return total + (p.value as number);
  }, 0);
}

describe("metrics after renewal, failure, serve and refusal", () => {
  it("counts the start-up renewal and the failed one per profile, with the failed stage", () => {
    expect(sum(METRIC_NAMES.renewals, { profile: "skatt", outcome: "renewed", trigger: "timer" })).toBe(1);
    expect(sum(METRIC_NAMES.renewals, { profile: "skatt", outcome: "failed", trigger: "timer", stage: "issue" })).toBe(1);
    expect(sum(METRIC_NAMES.renewalDuration, { profile: "skatt", outcome: "failed" })).toBe(1);
    const failedLines = logLines.filter((line) => line.includes('"event":"renewal"') && line.includes('"outcome":"failed"'));
    expect(sum(METRIC_NAMES.renewals, { outcome: "failed" })).toBe(failedLines.length);
  });

  it("times each Maskinporten token request with its status class and OAuth error", () => {
    const refused = sum(METRIC_NAMES.maskinportenRequestDuration, { status_class: "4xx", error: "invalid_client" });
    // Each failed renewal was one refused request (invalid_client is not retried).
    expect(refused).toBe(sum(METRIC_NAMES.renewals, { outcome: "failed", stage: "issue" }));
    expect(refused).toBeGreaterThan(0);
    expect(sum(METRIC_NAMES.maskinportenRequestDuration, { status_class: "2xx" })).toBeGreaterThanOrEqual(
      sum(METRIC_NAMES.renewals, { outcome: "renewed", trigger: "timer" }),
    );
  });

  it("counts HTTP requests by status, with a profile only when it is a configured one", () => {
    expect(
      sum(METRIC_NAMES.httpRequests, { route: "token", "http.response.status_code": 200, status_class: "2xx", profile: "skatt" }),
    ).toBe(1);
    expect(sum(METRIC_NAMES.httpRequests, { route: "token", "http.response.status_code": 401, profile: "skatt" })).toBe(1);
    const notFound = points(METRIC_NAMES.httpRequests, { "http.response.status_code": 404 });
    expect(notFound.map((p) => p.attributes)).toEqual([{ route: "token", status_class: "4xx", "http.response.status_code": 404 }]);
    expect(sum(METRIC_NAMES.httpRequestDuration, { route: "token" })).toBe(3);
  });

  it("counts verified-token cache misses and hits (the second request reuses the caller token)", () => {
    expect(sum(METRIC_NAMES.callerTokenCacheLookups, { result: "miss" })).toBe(1);
    expect(sum(METRIC_NAMES.callerTokenCacheLookups, { result: "hit" })).toBe(1);
  });

  it("counts Key Vault operations by kind", () => {
    for (const kind of ["secret-set", "key-sign", "certificate-get"]) {
      expect(sum(METRIC_NAMES.keyVaultOperations, { kind, status_class: "2xx" }), kind).toBeGreaterThan(0);
    }
    // Every grant sent to Maskinporten was signed by Key Vault (a background renewal may have signed one not yet sent).
    expect(sum(METRIC_NAMES.keyVaultOperations, { kind: "key-sign" })).toBeGreaterThanOrEqual(
      sum(METRIC_NAMES.maskinportenRequestDuration, {}),
    );
  });

  it("reports each profile's held token lifetime and the certificate's days left", () => {
    const [lifetime] = points(METRIC_NAMES.tokenRemainingLifetime, { profile: "skatt" });
    expect(lifetime?.value).toBeGreaterThan(60);
    expect(lifetime?.value).toBeLessThanOrEqual(120);
    const [days] = points(METRIC_NAMES.certificateDaysLeft, { profile: "skatt" });
    expect(days?.value).toBeGreaterThan(0);
  });

  it("carries no caller id, customer or token in any attribute", () => {
    const attributeKeys = new Set(metrics.flatMap((m) => m.dataPoints.flatMap((p) => Object.keys(p.attributes))));
    expect([...attributeKeys].sort()).toEqual(
      ["error", "http.response.status_code", "kind", "outcome", "profile", "result", "route", "stage", "status_class", "trigger"].filter(
        (k) => attributeKeys.has(k),
      ),
    );
    for (const forbidden of ["caller", "callerAppId", "customer", "external_ref", "token"])
      expect(attributeKeys.has(forbidden)).toBe(false);
    const text = JSON.stringify(metrics);
    expect(text).not.toContain(callerClientId);
    expect(text).not.toContain("caller-typed-name");
  });

  it("GET /metrics shows the same figures as Prometheus text", () => {
    expect(prometheus).toContain("# TYPE maskinporten_broker_renewals_total counter");
    expect(prometheus).toMatch(/^maskinporten_broker_renewals_total\{profile="skatt",outcome="renewed",trigger="timer"\} 1$/m);
    expect(prometheus).toMatch(/^maskinporten_broker_renewals_total\{profile="skatt",outcome="failed",trigger="timer",stage="issue"\} 1$/m);
    expect(prometheus).toMatch(
      /^maskinporten_broker_http_requests_total\{route="token",status_class="2xx",profile="skatt",http_response_status_code="200"\} 1$/m,
    );
    expect(prometheus).toMatch(
      /^maskinporten_broker_maskinporten_request_duration_seconds_bucket\{status_class="4xx",error="invalid_client",le="\+Inf"\} \d+$/m,
    );
    expect(prometheus).toMatch(/^maskinporten_broker_token_remaining_lifetime_seconds\{profile="skatt"\} \d+$/m);
    expect(prometheus).toMatch(/^maskinporten_broker_certificate_remaining_days\{profile="skatt"\} \d+$/m);
  });
});
