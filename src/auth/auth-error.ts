import { BrokerError, ErrorCode } from "../errors.js";

/**
 * Why a caller was turned away. For logs and metrics only: the HTTP layer answers every
 * authentication failure with the same `invalid_token`, so a forger learns nothing from it.
 */
export type AuthFailureReason =
  | "missing_credentials"
  | "malformed_header"
  | "token_too_large"
  | "encrypted_token"
  | "malformed_token"
  | "unsupported_algorithm"
  | "critical_header"
  | "missing_key_id"
  | "unknown_key"
  | "key_set_unavailable"
  | "invalid_signature"
  | "expired"
  | "not_yet_valid"
  | "invalid_issuer"
  | "invalid_audience"
  | "invalid_tenant"
  | "invalid_claims"
  | "delegated_token"
  | "unsupported_token_version"
  | "invalid_principal_header"
  | "missing_role";

/**
 * `code` is ERR_UNAUTHENTICATED (401) or ERR_FORBIDDEN (403); `reason` says which check failed.
 * Messages never contain the token. `key_set_unavailable` is an outage of Entra's key endpoint,
 * not the caller's fault: the HTTP layer may prefer 503 for it.
 */
export class CallerAuthError extends BrokerError {
  readonly reason: AuthFailureReason;

  constructor(
    code: typeof ErrorCode.Unauthenticated | typeof ErrorCode.Forbidden,
    reason: AuthFailureReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.reason = reason;
  }
}

export function unauthenticated(reason: AuthFailureReason, detail?: string, cause?: unknown): CallerAuthError {
  const message = detail ? `Caller not authenticated (${reason}): ${detail}` : `Caller not authenticated (${reason})`;
  return new CallerAuthError(ErrorCode.Unauthenticated, reason, message, cause === undefined ? undefined : { cause });
}

/** Raised by a key set when it cannot be fetched: an outage of Entra's key endpoint, not a bad token. */
export class KeySetUnavailableError extends BrokerError {
  constructor(options?: { cause?: unknown }) {
    super(ErrorCode.KeySetUnavailable, "Entra signing keys could not be fetched", options);
  }
}

export function isCallerAuthError(error: unknown): error is CallerAuthError {
  return error instanceof CallerAuthError;
}
