/**
 * The broker's real JSON logger with the line thrown away after it is made, so a benchmark pays
 * the full cost of each log line (formatting, scrubbing) without flooding stdout.
 */
import { jsonLogger, type Logger } from "../src/logging.js";

export interface CountingLogger extends Logger {
  readonly lines: number;
  readonly bytes: number;
  /** Lines of an event, e.g. "token-request". */
  count(event: string): number;
}

export function countingLogger(): CountingLogger {
  let lines = 0;
  let bytes = 0;
  const byEvent = new Map<string, number>();
  const inner = jsonLogger((line) => {
    lines++;
    bytes += line.length;
  });
  return {
    log(level, event, fields) {
      byEvent.set(event, (byEvent.get(event) ?? 0) + 1);
      inner.log(level, event, fields);
    },
    get lines() {
      return lines;
    },
    get bytes() {
      return bytes;
    },
    count: (event) => byEvent.get(event) ?? 0,
  };
}
