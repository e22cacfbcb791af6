/**
 * Production's metrics path end to end against an HTTPS stand-in of Application Insights' ingestion
 * endpoint (Breeze, POST /v2.1/track): the stock exporter authenticates with the broker's credential
 * (Entra ID, scope https://monitor.azure.com/.default: the resource has local auth off, so no key
 * would be accepted) and sends the broker's instruments with their low-cardinality dimensions.
 */
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAzureMonitorMetrics } from "../../src/app/azure-monitor-metrics.js";
import { METRIC_NAMES, type OtelMetrics } from "../../src/app/otel-metrics.js";
import { standInTls } from "../../sandbox/pki.js";
import { staticCredential } from "../support/credentials.js";

interface Received {
  path: string;
  authorization: string | undefined;
  envelopes: Array<{
    name: string;
    iKey?: string;
    data: {
      baseType: string;
      baseData: { metrics: Array<{ name: string; value: number; count?: number }>; properties?: Record<string, string> };
    };
  }>;
}

const ENTRA_TOKEN = "entra-access-token-for-azure-monitor-0123456789";
const tls = standInTls();
const received: Received[] = [];
let server: Server;
let telemetry: OtelMetrics;
const credential = staticCredential(ENTRA_TOKEN);

beforeAll(async () => {
  // The exporter's own usage statistics go to Microsoft, not to the resource: not part of this test.
  process.env.APPLICATIONINSIGHTS_STATSBEAT_DISABLED = "true";
  server = createServer({ key: tls.key, cert: tls.cert }, (request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const raw = Buffer.concat(chunks);
      const body = request.headers["content-encoding"] === "gzip" ? gunzipSync(raw) : raw;
      const envelopes = JSON.parse(body.toString("utf8")) as Received["envelopes"];
      received.push({ path: request.url ?? "", authorization: request.headers.authorization, envelopes });
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ itemsReceived: envelopes.length, itemsAccepted: envelopes.length, errors: [] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  telemetry = startAzureMonitorMetrics({
    // The shape infra/ sets (applicationInsights.properties.ConnectionString); the key alone sends nothing here.
    connectionString: `InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:${port}/`,
    credential,
    settings: { WEBSITE_SITE_NAME: "func-broker-test", WEBSITE_INSTANCE_ID: "instance-1" },
    tlsOptions: { ca: tls.caPem },
  });
  const { metrics } = telemetry;
  metrics.renewal({ profile: "skatt", outcome: "failed", trigger: "timer", stage: "issue", durationMs: 42 });
  metrics.maskinportenRequest({ status: 400, error: "invalid_client", durationMs: 30 });
  metrics.httpRequest({ route: "token", status: 200, profile: "skatt", durationMs: 1.5 });
  metrics.certificateDaysLeft("skatt", 200);
  metrics.observeHeldTokens(() => [{ profile: "skatt", expiresAt: new Date(Date.now() + 90_000) }]);
  await telemetry.provider.forceFlush();
}, 30_000);

afterAll(async () => {
  await telemetry?.provider.shutdown();
  await new Promise((resolve) => server?.close(resolve));
});

describe("metrics to Application Insights", () => {
  it("authenticates with the broker's Entra credential for Azure Monitor, not with a key", () => {
    expect(received.length).toBeGreaterThan(0);
    expect(received.every((r) => r.path.startsWith("/v2.1/track"))).toBe(true);
    expect(received.every((r) => r.authorization === `Bearer ${ENTRA_TOKEN}`)).toBe(true);
    expect(credential.requests.map((r) => r.scopes)).toContainEqual(["https://monitor.azure.com/.default"]);
  });

  it("sends the broker's instruments with their dimensions", () => {
    const metrics = received.flatMap((r) => r.envelopes).filter((e) => e.data.baseType === "MetricData");
    const find = (name: string) => metrics.find((e) => e.data.baseData.metrics[0]?.name === name)?.data.baseData;
    expect(find(METRIC_NAMES.renewals)).toMatchObject({
      metrics: [{ value: 1 }],
      properties: { profile: "skatt", outcome: "failed", trigger: "timer", stage: "issue" },
    });
    expect(find(METRIC_NAMES.maskinportenRequestDuration)).toMatchObject({
      metrics: [{ value: 0.03, count: 1 }],
      properties: { status_class: "4xx", error: "invalid_client" },
    });
    expect(find(METRIC_NAMES.httpRequests)?.properties).toMatchObject({
      route: "token",
      profile: "skatt",
      status_class: "2xx",
      "http.response.status_code": "200",
    });
    expect(find(METRIC_NAMES.certificateDaysLeft)).toMatchObject({ metrics: [{ value: 200 }], properties: { profile: "skatt" } });
    const lifetime = find(METRIC_NAMES.tokenRemainingLifetime)!;
    expect(lifetime.properties).toEqual({ profile: "skatt" });
    expect(lifetime.metrics[0]!.value).toBeGreaterThan(80);
  });
});
