/**
 * Maps what can go wrong while verifying a caller token (jose's errors, our own checks, a key set
 * outage) to the one failure the verifier throws: CallerAuthError(ERR_UNAUTHENTICATED) with a
 * reason for the audit line. The token itself never reaches a message.
 */
import { errors } from "jose";
import { ErrorCode } from "../errors.js";
import { CallerAuthError, KeySetUnavailableError, unauthenticated } from "./auth-error.js";

export function fromVerificationError(error: unknown): CallerAuthError {
  if (error instanceof CallerAuthError) return error;
  if (error instanceof KeySetUnavailableError) return unauthenticated("key_set_unavailable", undefined, error);
  if (error instanceof errors.JWTExpired) return unauthenticated("expired", undefined, error);
  if (error instanceof errors.JWTClaimValidationFailed) {
    const reason =
      error.claim === "nbf"
        ? "not_yet_valid"
        : error.claim === "iss"
          ? "invalid_issuer"
          : error.claim === "aud"
            ? "invalid_audience"
            : "invalid_claims";
    return unauthenticated(reason, error.message, error);
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return unauthenticated("invalid_signature", undefined, error);
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
    return unauthenticated("unknown_key", "kid not in the tenant's key set", error);
  }
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
    return unauthenticated("unsupported_algorithm", undefined, error);
  }
  return unauthenticated("malformed_token", undefined, error);
}

/** The single exit for failures: every error becomes CallerAuthError(ERR_UNAUTHENTICATED). */
export function asUnauthenticated(error: unknown): CallerAuthError {
  if (error instanceof CallerAuthError && error.code === ErrorCode.Unauthenticated) return error;
  return unauthenticated("malformed_token", undefined, error);
}
