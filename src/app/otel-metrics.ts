/**
 * The OpenTelemetry adapter of the metrics port (src/metrics.ts): one instrument per measurement,
 * named as the README's "Metrics" table says. These names are a contract: the workbook, the metric
 * alerts (infra/app/) and operators' own queries read them; rename only with all three.
 */
import type { Attributes, Meter } from "@opentelemetry/api";
import type { Resource } from "@opentelemetry/resources";
import { MeterProvider, type IMetricReader, type MetricProducer } from "@opentelemetry/sdk-metrics";
import { PreAggregatedHistogram, type HistogramSeries } from "./pre-aggregated-histogram.js";
import { statusClassOf, type HeldToken, type HttpRoute, type Metrics } from "../metrics.js";

export const METRIC_NAMES = {
  renewals: "maskinporten_broker.renewals",
  renewalDuration: "maskinporten_broker.renewal.duration",
  maskinportenRequestDuration: "maskinporten_broker.maskinporten.request.duration",
  tokenRemainingLifetime: "maskinporten_broker.token.remaining_lifetime",
  httpRequests: "maskinporten_broker.http.requests",
  httpRequestDuration: "maskinporten_broker.http.request.duration",
  callerTokenCacheLookups: "maskinporten_broker.caller_token_cache.lookups",
  keyVaultOperations: "maskinporten_broker.keyvault.operations",
  keyVaultOperationDuration: "maskinporten_broker.keyvault.operation.duration",
  certificateDaysLeft: "maskinporten_broker.certificate.remaining_days",
  /** Reserved for self-service key registration (branch keys). */
  keyDaysLeft: "maskinporten_broker.key.remaining_days",
} as const;

export const METER_NAME = "maskinporten-broker";

// Seconds: from a token served from memory (well under a millisecond) to a Maskinporten timeout (10 s).
const HIT: Attributes = { result: "hit" };
const MISS: Attributes = { result: "miss" };

const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The HTTP request duration histogram, recorded outside the SDK (see pre-aggregated-histogram.ts). */
export function httpDurationHistogram(now: () => number = Date.now): PreAggregatedHistogram {
  return new PreAggregatedHistogram(
    {
      meterName: METER_NAME,
      name: METRIC_NAMES.httpRequestDuration,
      unit: "s",
      description: "HTTP request handling time by route, status class and profile",
      boundaries: DURATION_BUCKETS,
    },
    now,
  );
}

export function otelMetrics(meter: Meter, httpDuration: PreAggregatedHistogram, now: () => number = Date.now): Metrics {
  const seconds = (description: string) => ({ unit: "s", description, advice: { explicitBucketBoundaries: DURATION_BUCKETS } });
  const renewals = meter.createCounter(METRIC_NAMES.renewals, {
    description: "Token renewals by profile, outcome (renewed, adopted, fresh, failed), trigger and failed stage",
  });
  const renewalDuration = meter.createHistogram(
    METRIC_NAMES.renewalDuration,
    seconds("Duration of one renewal (store look-up, grant, Maskinporten, Altinn, store write)"),
  );
  const maskinportenDuration = meter.createHistogram(
    METRIC_NAMES.maskinportenRequestDuration,
    seconds("One token request to Maskinporten, by status class and OAuth error"),
  );
  // The two per-request counters are totals kept here and observed at each collection: a counter's
  // add() hashes its attributes every call, which was most of the metrics' cost per request
  // (`npm run bench`). Same data points (monotonic sums), same attributes.
  // The duration histogram is kept the same way, beside its count (pre-aggregated-histogram.ts).
  // Found by route, profile ("" for none) and status: keys the request already has, so no key string is built per request.
  interface RequestTotal {
    attributes: Attributes;
    count: number;
    duration: HistogramSeries;
  }
  const requestTotals: Record<HttpRoute, Map<string, Map<number, RequestTotal>>> = { token: new Map(), health: new Map() };
  meter
    .createObservableCounter(METRIC_NAMES.httpRequests, { description: "HTTP requests by route, status code, status class and profile" })
    .addCallback((result) => {
      for (const byProfile of Object.values(requestTotals))
        for (const byStatus of byProfile.values()) for (const { attributes, count } of byStatus.values()) result.observe(count, attributes);
    });
  const cacheTotals = { hit: 0, miss: 0 };
  meter
    .createObservableCounter(METRIC_NAMES.callerTokenCacheLookups, {
      description: "Verified caller-token cache lookups by result (hit, miss)",
    })
    .addCallback((result) => {
      if (cacheTotals.hit > 0) result.observe(cacheTotals.hit, HIT);
      if (cacheTotals.miss > 0) result.observe(cacheTotals.miss, MISS);
    });
  const keyVaultOperations = meter.createCounter(METRIC_NAMES.keyVaultOperations, {
    description: "Key Vault operations by kind and status class",
  });
  const keyVaultDuration = meter.createHistogram(
    METRIC_NAMES.keyVaultOperationDuration,
    seconds("Key Vault operation time by kind and status class"),
  );

  let heldTokens: () => Iterable<HeldToken> = () => [];
  meter
    .createObservableGauge(METRIC_NAMES.tokenRemainingLifetime, {
      unit: "s",
      description: "Seconds left on the token this instance holds, per profile (0 when expired)",
    })
    .addCallback((result) => {
      const nowMs = now();
      for (const token of heldTokens())
        result.observe(Math.max(0, Math.floor((token.expiresAt.getTime() - nowMs) / 1000)), { profile: token.profile });
    });
  const lastValueGauge = (name: string, description: string) => {
    const values = new Map<string, number>();
    meter.createObservableGauge(name, { unit: "d", description }).addCallback((result) => {
      for (const [profile, days] of values) result.observe(days, { profile });
    });
    return values;
  };
  const certificateDays = lastValueGauge(
    METRIC_NAMES.certificateDaysLeft,
    "Days until the profile's signing certificate expires, as last read from Key Vault",
  );
  const keyDays = lastValueGauge(METRIC_NAMES.keyDaysLeft, "Days until the key registered at Maskinporten for the profile expires");

  return {
    renewal({ profile, outcome, trigger, stage, durationMs }) {
      const attributes: Attributes = { profile, outcome, trigger, ...(stage ? { stage } : {}) };
      renewals.add(1, attributes);
      renewalDuration.record(durationMs / 1000, { profile, outcome });
    },
    maskinportenRequest({ status, error, durationMs }) {
      maskinportenDuration.record(durationMs / 1000, { status_class: statusClassOf(status), ...(error ? { error } : {}) });
    },
    httpRequest({ route, status, profile, durationMs }) {
      const byProfile = requestTotals[route];
      let byStatus = byProfile.get(profile ?? "");
      if (byStatus === undefined) byProfile.set(profile ?? "", (byStatus = new Map()));
      let total = byStatus.get(status);
      if (total === undefined) {
        const common: Attributes = { route, status_class: statusClassOf(status), ...(profile ? { profile } : {}) };
        total = { attributes: { ...common, "http.response.status_code": status }, count: 0, duration: httpDuration.series(common) };
        byStatus.set(status, total);
      }
      total.count++;
      total.duration.record(durationMs / 1000);
    },
    callerTokenCache(hit) {
      if (hit) cacheTotals.hit++;
      else cacheTotals.miss++;
    },
    keyVaultOperation({ kind, status, durationMs }) {
      const attributes: Attributes = { kind, status_class: statusClassOf(status) };
      keyVaultOperations.add(1, attributes);
      keyVaultDuration.record(durationMs / 1000, attributes);
    },
    certificateDaysLeft(profile, days) {
      certificateDays.set(profile, days);
    },
    registeredKeyDaysLeft(profile, days) {
      keyDays.set(profile, days);
    },
    observeHeldTokens(source) {
      heldTokens = source;
    },
  };
}

export interface OtelMetrics {
  metrics: Metrics;
  provider: MeterProvider;
  /** The readers the factories made, in their order. */
  readers: IMetricReader[];
}

/**
 * Makes one metric reader, given what it must read besides the SDK's instruments (pass them as its
 * `metricProducers` option): the HTTP duration histogram, kept outside the SDK.
 */
export type MetricReaderFactory = (options: { metricProducers: MetricProducer[] }) => IMetricReader;

/** A meter provider reading into the readers the factories make, and the broker's metrics on it. */
export function createOtelMetrics(options: { readers: MetricReaderFactory[]; now?: () => number; resource?: Resource }): OtelMetrics {
  const httpDuration = httpDurationHistogram(options.now);
  const readers = options.readers.map((makeReader) => {
    const { producer, bind } = httpDuration.producer();
    const reader = makeReader({ metricProducers: [producer] });
    bind(reader);
    return reader;
  });
  const provider = new MeterProvider({ readers, ...(options.resource ? { resource: options.resource } : {}) });
  return { metrics: otelMetrics(provider.getMeter(METER_NAME), httpDuration, options.now), provider, readers };
}
