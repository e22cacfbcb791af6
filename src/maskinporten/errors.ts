import { BrokerError, ErrorCode, type ErrorLogFields } from "../errors.js";

/** The codes a Maskinporten failure can carry; a bad setting is a ConfigError, not one of these. */
export type MaskinportenErrorCode =
  | typeof ErrorCode.MaskinportenRejected
  | typeof ErrorCode.MaskinportenUnavailable
  | typeof ErrorCode.MaskinportenBadResponse;

export interface MaskinportenErrorDetails {
  /** HTTP status, when Maskinporten answered. */
  status?: number;
  /** OAuth `error`, e.g. `invalid_grant`. */
  error?: string;
  /** `error_description` exactly as Maskinporten sent it (it ends with the trace id). */
  errorDescription?: string;
  /** Digdir's trace id, which their support asks for. */
  traceId?: string;
  /** `error_uri`: Digdir's page for the error (e.g. `…/errors/MP-100`), when given. */
  errorUri?: string;
  /** Worth retrying with a fresh grant: 5xx, 429, timeouts, resets, garbled answers. */
  transient: boolean;
  /** From `Retry-After`, when given. */
  retryAfterMs?: number;
}

/**
 * Anything that went wrong talking to Maskinporten. The message is safe to log: it holds
 * Maskinporten's own words and trace id, never the grant or a token.
 */
export class MaskinportenError extends BrokerError {
  declare readonly code: MaskinportenErrorCode;
  readonly status?: number;
  readonly error?: string;
  readonly errorDescription?: string;
  readonly traceId?: string;
  readonly errorUri?: string;
  readonly transient: boolean;
  readonly retryAfterMs?: number;

  constructor(code: MaskinportenErrorCode, message: string, details: MaskinportenErrorDetails, options?: { cause?: unknown }) {
    super(code, message, options);
    this.transient = details.transient;
    if (details.status !== undefined) this.status = details.status;
    if (details.error !== undefined) this.error = details.error;
    if (details.errorDescription !== undefined) this.errorDescription = details.errorDescription;
    if (details.traceId !== undefined) this.traceId = details.traceId;
    if (details.errorUri !== undefined) this.errorUri = details.errorUri;
    if (details.retryAfterMs !== undefined) this.retryAfterMs = details.retryAfterMs;
  }

  override logFields(): ErrorLogFields {
    return {
      ...super.logFields(),
      ...(this.traceId ? { traceId: this.traceId } : {}),
      ...(this.error ? { maskinportenError: this.error } : {}),
      ...(this.errorUri ? { errorUri: this.errorUri } : {}),
      ...(this.status !== undefined ? { status: this.status } : {}),
    };
  }
}

const TRACE_ID = /\(trace_id:\s*([^)\s]+)\s*\)/i;

export function extractTraceId(description: string | undefined): string | undefined {
  return description?.match(TRACE_ID)?.[1];
}

/** An OAuth error answer (`{"error","error_description"}`) or an unparseable failure status. */
export function rejectionError(status: number, body: unknown, retryAfterMs: number | undefined): MaskinportenError {
  const fields = typeof body === "object" && body !== null ? (body as Record<string, unknown>) : {};
  const error = typeof fields.error === "string" ? fields.error : undefined;
  const errorDescription = typeof fields.error_description === "string" ? fields.error_description : undefined;
  const traceId = extractTraceId(errorDescription);
  const errorUri = typeof fields.error_uri === "string" && fields.error_uri.length <= 2048 ? fields.error_uri : undefined;
  const transient = status >= 500 || status === 429 || status === 408;
  const what = error ? `${error}${errorDescription ? `: ${errorDescription}` : ""}` : "no OAuth error body";
  const message = transient
    ? `Maskinporten is unavailable (HTTP ${status}, ${what})`
    : `Maskinporten rejected the token request (HTTP ${status}, ${what})`;
  const withTrace = traceId && !message.includes(traceId) ? `${message} (trace_id: ${traceId})` : message;
  return new MaskinportenError(
    transient ? ErrorCode.MaskinportenUnavailable : ErrorCode.MaskinportenRejected,
    // error_uri names the documented cause (MP-xxx): it stays with the description wherever the message goes.
    errorUri ? `${withTrace} (error_uri: ${errorUri})` : withTrace,
    {
      status,
      transient,
      ...(error !== undefined ? { error } : {}),
      ...(errorDescription !== undefined ? { errorDescription } : {}),
      ...(traceId !== undefined ? { traceId } : {}),
      ...(errorUri !== undefined ? { errorUri } : {}),
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    },
  );
}
