/** Errors of the per-customer path. Their codes are in src/errors.ts's ErrorCode. */
import { BrokerError, ErrorCode, type ErrorLogFields } from "../errors.js";
import type { MaskinportenError } from "../maskinporten-error.js";

export const CustomerErrorCode = {
  /** Maskinporten refused this customer (no delegation, no system user, wrong externalRef). */
  Denied: ErrorCode.CustomerDenied,
} as const;

/** Maskinporten's refusal of one customer, with its words, error_uri and trace id for the caller. */
export class CustomerDeniedError extends BrokerError {
  readonly error: string;
  readonly errorDescription: string;
  readonly errorUri?: string;
  readonly traceId?: string;

  constructor(
    readonly profile: string,
    readonly customer: string,
    cause: MaskinportenError,
  ) {
    super(CustomerErrorCode.Denied, `Maskinporten refused a token for customer ${customer} of profile "${profile}": ${cause.message}`, {
      cause,
    });
    this.error = cause.error ?? "access_denied";
    this.errorDescription = cause.errorDescription ?? cause.message;
    if (cause.errorUri) this.errorUri = cause.errorUri;
    if (cause.traceId) this.traceId = cause.traceId;
  }

  override logFields(): ErrorLogFields {
    return {
      ...super.logFields(),
      maskinportenError: this.error,
      ...(this.errorUri ? { errorUri: this.errorUri } : {}),
      ...(this.traceId ? { traceId: this.traceId } : {}),
    };
  }
}

/**
 * Whether a Maskinporten rejection is about this customer rather than the profile: Digdir answers
 * a missing delegation with `forbidden` (MP-251) and a missing or mismatched system user with
 * `invalid_altinn_customer_configuration` (MP-303). Anything else (a bad certificate, an unknown
 * client) would fail for every customer alike and is a profile failure.
 */
const CUSTOMER_REFUSALS = new Set(["forbidden", "access_denied", "invalid_altinn_customer_configuration", "invalid_authorization_details"]);
const CUSTOMER_ERROR_URIS = /\/MP-(251|303)$/;

export function isCustomerRefusal(error: MaskinportenError): boolean {
  if (error.transient) return false;
  if (error.error !== undefined && CUSTOMER_REFUSALS.has(error.error)) return true;
  return error.errorUri !== undefined && CUSTOMER_ERROR_URIS.test(error.errorUri);
}
