/**
 * The sandbox's GET /metrics: the broker's OpenTelemetry instruments (the same ones production sends
 * to Application Insights) in the Prometheus text format, read on demand, for people and for curl.
 * Names follow Prometheus' OpenTelemetry mapping: dots become underscores, counters end in _total,
 * units become suffixes (_seconds, _days).
 */
import { DataPointType, MetricReader, type CollectionResult, type MetricData } from "@opentelemetry/sdk-metrics";

/** A reader that exports nothing by itself: each GET /metrics collects. Cumulative, as Prometheus expects. */
export class PullMetricReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

const UNIT_SUFFIX: Record<string, string> = { s: "seconds", d: "days" };

export function prometheusName(metric: MetricData): string {
  let name = metric.descriptor.name.replace(/[^a-zA-Z0-9_:]/g, "_");
  const suffix = UNIT_SUFFIX[metric.descriptor.unit];
  if (suffix && !name.endsWith(`_${suffix}`)) name += `_${suffix}`;
  if (metric.dataPointType === DataPointType.SUM && metric.isMonotonic) name += "_total";
  return name;
}

function labels(attributes: Record<string, unknown>, extra: Record<string, string> = {}): string {
  const pairs = Object.entries({ ...attributes, ...extra }).map(
    ([key, value]) =>
      `${key.replace(/[^a-zA-Z0-9_]/g, "_")}="${String(value).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`,
  );
  return pairs.length > 0 ? `{${pairs.join(",")}}` : "";
}

export function prometheusText(collection: CollectionResult): string {
  const lines: string[] = [];
  for (const scope of collection.resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      const name = prometheusName(metric);
      const type =
        metric.dataPointType === DataPointType.HISTOGRAM
          ? "histogram"
          : metric.dataPointType === DataPointType.SUM && metric.isMonotonic
            ? "counter"
            : "gauge";
      if (metric.descriptor.description) lines.push(`# HELP ${name} ${metric.descriptor.description.replace(/\n/g, " ")}`);
      lines.push(`# TYPE ${name} ${type}`);
      if (metric.dataPointType === DataPointType.HISTOGRAM) {
        const base = name;
        for (const point of metric.dataPoints) {
          const { buckets, sum, count } = point.value;
          let cumulative = 0;
          buckets.boundaries.forEach((bound, i) => {
            cumulative += buckets.counts[i] ?? 0;
            lines.push(`${base}_bucket${labels(point.attributes, { le: String(bound) })} ${cumulative}`);
          });
          lines.push(`${base}_bucket${labels(point.attributes, { le: "+Inf" })} ${count}`);
          lines.push(`${base}_sum${labels(point.attributes)} ${sum ?? 0}`);
          lines.push(`${base}_count${labels(point.attributes)} ${count}`);
        }
      } else if (metric.dataPointType === DataPointType.SUM || metric.dataPointType === DataPointType.GAUGE) {
        for (const point of metric.dataPoints) lines.push(`${name}${labels(point.attributes)} ${point.value}`);
      }
    }
  }
  return lines.join("\n") + "\n";
}
