/**
 * Errors in the shape login.microsoftonline.com answers with: `error`, an `error_description`
 * that starts with the AADSTS code and ends with trace and correlation ids, `error_codes`,
 * `timestamp`, `trace_id`, `correlation_id`, `error_uri`.
 */
import { randomUUID } from "node:crypto";

export interface EntraErrorBody {
  error: string;
  error_description: string;
  error_codes: number[];
  timestamp: string;
  trace_id: string;
  correlation_id: string;
  error_uri: string;
}

export class EntraProtocolError extends Error {
  readonly status: number;
  readonly error: string;
  readonly aadsts: number;

  constructor(status: number, error: string, aadsts: number, description: string) {
    super(`AADSTS${aadsts}: ${description}`);
    this.name = "EntraProtocolError";
    this.status = status;
    this.error = error;
    this.aadsts = aadsts;
  }

  body(authorityHost: string, nowMs: number): EntraErrorBody {
    // Entra's timestamp format: "2023-05-06 06:03:00Z".
    const timestamp = new Date(nowMs)
      .toISOString()
      .replace("T", " ")
      .replace(/\.\d{3}Z$/, "Z");
    const traceId = randomUUID();
    const correlationId = randomUUID();
    return {
      error: this.error,
      error_description: `${this.message}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`,
      error_codes: [this.aadsts],
      timestamp,
      trace_id: traceId,
      correlation_id: correlationId,
      error_uri: `${authorityHost}/error?code=${this.aadsts}`,
    };
  }
}

export const missingParameter = (name: string) =>
  new EntraProtocolError(400, "invalid_request", 900144, `The request body must contain the following parameter: '${name}'.`);
