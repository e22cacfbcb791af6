/**
 * The HTTP duration histogram is kept outside the OpenTelemetry SDK (src/app/pre-aggregated-histogram.ts).
 * Readers must not be able to tell: the same values recorded into the SDK's own explicit-bucket
 * histogram and into ours give the same data points (buckets, count, sum, min, max, attributes),
 * for a cumulative and a delta reader side by side, collection after collection.
 */
import fc from "fast-check";
import {
  AggregationTemporality,
  DataPointType,
  MeterProvider,
  MetricReader,
  type HistogramMetricData,
  type MetricProducer,
} from "@opentelemetry/sdk-metrics";
import { describe, expect, it } from "vitest";
import { PreAggregatedHistogram } from "../../src/app/pre-aggregated-histogram.js";

const BOUNDARIES = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

class TestReader extends MetricReader {
  constructor(
    private readonly temporality: AggregationTemporality,
    metricProducers: MetricProducer[] = [],
  ) {
    super({ aggregationTemporalitySelector: () => temporality, metricProducers });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

function histogramPoints(result: Awaited<ReturnType<MetricReader["collect"]>>, name: string) {
  const metric = result.resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics).find((m) => m.descriptor.name === name);
  if (metric === undefined) return [];
  expect(metric.dataPointType).toBe(DataPointType.HISTOGRAM);
  return (metric as HistogramMetricData).dataPoints
    .map((point) => ({ attributes: point.attributes, ...point.value }))
    .sort((a, b) => JSON.stringify(a.attributes).localeCompare(JSON.stringify(b.attributes)));
}

function rig() {
  const ours = new PreAggregatedHistogram({ meterName: "test", name: "ours", unit: "s", description: "d", boundaries: BOUNDARIES });
  const readers = [AggregationTemporality.CUMULATIVE, AggregationTemporality.DELTA].map((temporality) => {
    const { producer, bind } = ours.producer();
    const reader = new TestReader(temporality, [producer]);
    bind(reader);
    return reader;
  });
  const provider = new MeterProvider({ readers });
  const sdk = provider
    .getMeter("test")
    .createHistogram("sdk", { unit: "s", description: "d", advice: { explicitBucketBoundaries: BOUNDARIES } });
  return { ours, readers, sdk, provider };
}

const closeEnough = (a: number, b: number) => a === b || Math.abs(a - b) <= 1e-12 * Math.max(Math.abs(a), Math.abs(b));

const attributeSets = [
  { route: "token", status_class: "2xx", profile: "skatt" },
  { route: "token", status_class: "4xx" },
  { route: "health", status_class: "2xx" },
];

describe("the pre-aggregated HTTP duration histogram", () => {
  it("gives every reader what the SDK's histogram gives it, in its temporality, over several collections", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.array(
            fc.tuple(
              fc.integer({ min: 0, max: attributeSets.length - 1 }),
              fc.oneof(
                fc.constantFrom(...BOUNDARIES, 0, 1e-9, 100),
                fc.double({ min: 0, max: 50, noNaN: true }),
                // Not NaN: the SDK leaves an empty point for a set that saw only NaN, we leave none (a duration is never NaN).
                fc.constantFrom(-1, Number.POSITIVE_INFINITY),
              ),
            ),
            { maxLength: 40 },
          ),
          { minLength: 1, maxLength: 4 },
        ),
        async (intervals) => {
          const { ours, readers, sdk, provider } = rig();
          const series = attributeSets.map((attributes) => ours.series(attributes));
          for (const interval of intervals) {
            for (const [set, value] of interval) {
              sdk.record(value, attributeSets[set]);
              series[set]!.record(value);
            }
            for (const reader of readers) {
              const collected = await reader.collect();
              const [ours, theirs] = [histogramPoints(collected, "ours"), histogramPoints(collected, "sdk")];
              // Sums agree up to the order of additions (the SDK adds per-collection subtotals).
              expect(ours.map(({ sum: _sum, ...rest }) => rest)).toEqual(theirs.map(({ sum: _sum, ...rest }) => rest));
              ours.forEach((point, i) =>
                expect(closeEnough(point.sum!, theirs[i]!.sum!), `sum ${point.sum} vs ${theirs[i]!.sum}`).toBe(true),
              );
            }
          }
          await provider.shutdown();
        },
      ),
      { numRuns: 60 },
    );
  });

  it("refuses a producer made after the first series (its min and max would have no slot)", () => {
    const histogram = new PreAggregatedHistogram({ meterName: "m", name: "n", unit: "s", description: "d", boundaries: [1] });
    histogram.producer();
    histogram.series({});
    expect(() => histogram.producer()).toThrow(/before the first series/);
  });
});
