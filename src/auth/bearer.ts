import { unauthenticated } from "./auth-error.js";

/** Entra access tokens are 1–3 KB; 16 KiB leaves room for large `roles` claims and stops abuse early. */
export const DEFAULT_MAX_AUTHORIZATION_LENGTH = 16 * 1024;

const BASE64URL_SEGMENT = /^[A-Za-z0-9_-]+$/;
/** What nearly every request carries; it implies every check below, so it may skip them. */
const WELL_FORMED_BEARER = /^[Bb][Ee][Aa][Rr][Ee][Rr] [A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * Extracts the compact JWS from an `Authorization` header value: exactly `Bearer <token>`
 * (scheme case-insensitive, RFC 6750 `1*SP` between), one token, base64url segments only.
 * A JWE (five segments) and an unsecured JWT (empty signature) are refused here, before any
 * decoding. Several Authorization headers joined by a comma fail the charset check.
 * Throws CallerAuthError(ERR_UNAUTHENTICATED); never echoes the value.
 */
export function parseBearerToken(headerValue: unknown, maxLength: number = DEFAULT_MAX_AUTHORIZATION_LENGTH): string {
  if (headerValue === undefined || headerValue === null) throw unauthenticated("missing_credentials");
  if (typeof headerValue !== "string") throw unauthenticated("malformed_header", "not a string");
  // Length first, so an oversize value costs nothing more than this comparison.
  if (headerValue.length > maxLength) throw unauthenticated("token_too_large", `longer than ${maxLength} characters`);
  // Fast path (one linear scan, no intermediate strings): the checks below would return exactly this.
  if (WELL_FORMED_BEARER.test(headerValue)) return headerValue.slice("Bearer ".length);

  // HTTP strips optional whitespace around field values; do the same for values from other sources.
  const value = headerValue.replace(/^[ \t]+|[ \t]+$/g, "");
  if (value === "") throw unauthenticated("missing_credentials");

  const space = value.indexOf(" ");
  if (space < 0) throw unauthenticated("malformed_header", "expected 'Bearer <token>'");
  if (value.slice(0, space).toLowerCase() !== "bearer") throw unauthenticated("malformed_header", "scheme is not Bearer");

  const token = value.slice(space).replace(/^ +/, "");
  if (token === "") throw unauthenticated("malformed_header", "no token after Bearer");

  const segments = token.split(".");
  if (!segments.every((segment) => segment === "" || BASE64URL_SEGMENT.test(segment))) {
    throw unauthenticated("malformed_header", "token is not one compact JWS");
  }
  if (segments.length === 5) throw unauthenticated("encrypted_token", "JWE is not accepted");
  if (segments.length !== 3) throw unauthenticated("malformed_token", "not a three-segment compact JWS");
  if (segments.some((segment) => segment === "")) throw unauthenticated("malformed_token", "empty JWS segment");
  return token;
}
