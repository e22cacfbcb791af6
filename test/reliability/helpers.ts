/** Small helpers the reliability tests share: captured JSON logs and token requests through the HTTP handler. */
import type { Runtime } from "../../src/app/runtime.js";
import { handleTokenRequest } from "../../src/http/token-endpoint.js";
import type { HttpResult } from "../../src/http/responses.js";
import { jsonLogger, type Logger } from "../../src/logging.js";

export interface LogEntry {
  level: string;
  event: string;
  [field: string]: unknown;
}

export interface CapturedLog {
  logger: Logger;
  readonly entries: LogEntry[];
  /** Entries of one event, optionally narrowed by field values. */
  find(event: string, fields?: Record<string, unknown>): LogEntry[];
  clear(): void;
}

/** A real jsonLogger whose lines are kept (and parsed back) instead of printed. */
export function captureLog(): CapturedLog {
  const entries: LogEntry[] = [];
  return {
    logger: jsonLogger((line) => entries.push(JSON.parse(line) as LogEntry)),
    entries,
    find: (event, fields = {}) =>
      entries.filter((e) => e.event === event && Object.entries(fields).every(([name, value]) => e[name] === value)),
    clear: () => {
      entries.length = 0;
    },
  };
}

/** GET /api/token/{profile} through the handler the function app runs, with a caller token. */
export async function requestToken(runtime: Runtime, callerToken: string | undefined, profile?: string): Promise<HttpResult> {
  const headers = new Headers(callerToken === undefined ? {} : { authorization: `Bearer ${callerToken}` });
  return handleTokenRequest({ headers, ...(profile !== undefined ? { profile } : {}) }, runtime);
}
