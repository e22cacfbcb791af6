/**
 * A histogram kept outside the OpenTelemetry SDK and handed to each metric reader as a
 * MetricProducer, for the one histogram recorded on every served request (HTTP request duration).
 * The SDK's Histogram.record() hashes its attributes on every call (sorts the keys and
 * JSON-stringifies them to find the series): on the token hot path that was a third of the
 * handler's own time (`npm run bench`). Here a series is looked up once per attribute set and a
 * recording is a bucket search and four number updates.
 *
 * What the readers get is what the SDK's explicit-bucket histogram would have given them: the same
 * instrument name, unit, description, boundaries (inclusive upper bounds, one overflow bucket),
 * sum, count, min and max, per attribute set, in the temporality each reader asks for (delta for
 * Application Insights, cumulative for the sandbox's Prometheus page).
 */
import type { Attributes, HrTime } from "@opentelemetry/api";
import { ValueType } from "@opentelemetry/api";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AggregationTemporality,
  DataPointType,
  InstrumentType,
  type CollectionResult,
  type DataPoint,
  type Histogram,
  type HistogramMetricData,
  type IMetricReader,
  type MetricProducer,
} from "@opentelemetry/sdk-metrics";

export interface HistogramDescriptor {
  /** The meter (instrumentation scope) it belongs to. */
  meterName: string;
  name: string;
  description: string;
  unit: string;
  /** Finite bucket boundaries, ascending (inclusive upper bounds, as the SDK's). */
  boundaries: readonly number[];
}

/**
 * One attribute set's recordings, kept per reader (a delta reader's are reset at each of its
 * collections, a cumulative reader's never): each reader's figures are summed from zero over its
 * own interval, as the SDK's are, so that even the floating-point sums agree. record() is the hot path.
 */
export class HistogramSeries {
  /** Reader r's bucket counts are counts[r * buckets … (r + 1) * buckets - 1]. */
  readonly counts: Float64Array;
  readonly count: Float64Array;
  readonly sum: Float64Array;
  readonly min: Float64Array;
  readonly max: Float64Array;
  readonly #buckets: number;

  constructor(
    readonly attributes: Attributes,
    private readonly boundaries: readonly number[],
    readers: number,
  ) {
    this.#buckets = boundaries.length + 1;
    this.counts = new Float64Array(readers * this.#buckets);
    this.count = new Float64Array(readers);
    this.sum = new Float64Array(readers);
    this.min = new Float64Array(readers).fill(Number.POSITIVE_INFINITY);
    this.max = new Float64Array(readers).fill(Number.NEGATIVE_INFINITY);
  }

  record(value: number): void {
    // As the SDK's Histogram: negative values and NaN are not recorded (+Infinity overflows).
    if (!(value >= 0)) return;
    const boundaries = this.boundaries;
    let bucket = 0;
    while (bucket < boundaries.length && value > boundaries[bucket]!) bucket++;
    for (let reader = 0; reader < this.count.length; reader++) {
      this.counts[reader * this.#buckets + bucket]!++;
      this.count[reader]!++;
      this.sum[reader]! += value;
      if (value < this.min[reader]!) this.min[reader] = value;
      if (value > this.max[reader]!) this.max[reader] = value;
    }
  }

  /** Reader r's figures as a data point value. */
  value(reader: number, boundaries: number[]): Histogram {
    const count = this.count[reader]!;
    return {
      buckets: { boundaries, counts: Array.from(this.counts.subarray(reader * this.#buckets, (reader + 1) * this.#buckets)) },
      count,
      sum: this.sum[reader]!,
      ...(count > 0 ? { min: this.min[reader]!, max: this.max[reader]! } : {}),
    };
  }

  /** Starts reader r's next interval (delta readers). */
  reset(reader: number): void {
    this.counts.fill(0, reader * this.#buckets, (reader + 1) * this.#buckets);
    this.count[reader] = 0;
    this.sum[reader] = 0;
    this.min[reader] = Number.POSITIVE_INFINITY;
    this.max[reader] = Number.NEGATIVE_INFINITY;
  }
}

export class PreAggregatedHistogram {
  readonly #series: HistogramSeries[] = [];
  #readers = 0;
  #sealed = false;

  constructor(
    private readonly descriptor: HistogramDescriptor,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * A producer for one reader, to pass in its `metricProducers`; then bind() it to that reader,
   * which says which temporality it wants. All producers must exist before the first series.
   */
  producer(): { producer: MetricProducer; bind(reader: IMetricReader): void } {
    if (this.#sealed) throw new Error("PreAggregatedHistogram: producers must be made before the first series");
    const index = this.#readers++;
    const startMs = this.now();
    let temporality = AggregationTemporality.CUMULATIVE;
    let intervalStartMs = startMs;
    const producer: MetricProducer = {
      collect: () => {
        const nowMs = this.now();
        const delta = temporality === AggregationTemporality.DELTA;
        const dataPoints: DataPoint<Histogram>[] = [];
        for (const series of this.#series) {
          // As the SDK: an attribute set with nothing recorded (in the interval, for delta) has no point.
          if (series.count[index] === 0) continue;
          dataPoints.push({
            attributes: series.attributes,
            startTime: hrTime(delta ? intervalStartMs : startMs),
            endTime: hrTime(nowMs),
            value: series.value(index, [...this.descriptor.boundaries]),
          });
          if (delta) series.reset(index);
        }
        if (delta) intervalStartMs = nowMs;
        return Promise.resolve(this.#result(temporality, dataPoints));
      },
    };
    return {
      producer,
      bind: (reader) => {
        temporality = reader.selectAggregationTemporality?.(InstrumentType.HISTOGRAM) ?? AggregationTemporality.CUMULATIVE;
      },
    };
  }

  /** The series for one attribute set: make it once per set and keep it (the lookup is the caller's). */
  series(attributes: Attributes): HistogramSeries {
    this.#sealed = true;
    const series = new HistogramSeries(attributes, this.descriptor.boundaries, this.#readers);
    this.#series.push(series);
    return series;
  }

  #result(temporality: AggregationTemporality, dataPoints: DataPoint<Histogram>[]): CollectionResult {
    const metric: HistogramMetricData = {
      descriptor: {
        name: this.descriptor.name,
        description: this.descriptor.description,
        unit: this.descriptor.unit,
        valueType: ValueType.DOUBLE,
      },
      aggregationTemporality: temporality,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints,
    };
    return {
      // The reader keeps the SDK's resource and drops this one (MetricReader.collect).
      resourceMetrics: {
        resource: EMPTY_RESOURCE,
        scopeMetrics: dataPoints.length > 0 ? [{ scope: { name: this.descriptor.meterName }, metrics: [metric] }] : [],
      },
      errors: [],
    };
  }
}

const EMPTY_RESOURCE = resourceFromAttributes({});

function hrTime(epochMs: number): HrTime {
  const seconds = Math.floor(epochMs / 1000);
  return [seconds, Math.round((epochMs - seconds * 1000) * 1e6)];
}
