/**
 * The failure contract of the token-endpoint port (src/renewal/issue-token.ts's TokenEndpoint):
 * core code inspects it (the per-customer refusal rule), so it lives in the core; the Maskinporten
 * client (src/maskinporten/) parses answers into it.
 */
import { BrokerError, ErrorCode, type ErrorLogFields } from "./errors.js";

/** The codes a Maskinporten failure can carry; a bad setting is an ERR_CONFIG BrokerError, not one of these. */
export type MaskinportenErrorCode =
  typeof ErrorCode.MaskinportenRejected | typeof ErrorCode.MaskinportenUnavailable | typeof ErrorCode.MaskinportenBadResponse;

/** What Maskinporten said, as the client parsed it. */
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
