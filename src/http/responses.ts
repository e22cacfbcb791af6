/** HTTP answers as plain data; function files turn them into HttpResponseInit. */
import type { StoredToken } from "../token-store/stored-token.js";

export interface HttpResult {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

const NO_STORE: Readonly<Record<string, string>> = Object.freeze({
  "cache-control": "no-store",
  pragma: "no-cache",
  "content-type": "application/json",
});

export function jsonResult(status: number, body: Record<string, unknown>, headers?: Record<string, string>): HttpResult {
  // Without extra headers every answer shares one frozen record (the hot path: no copy per request).
  return { status, headers: headers === undefined ? (NO_STORE as Record<string, string>) : { ...NO_STORE, ...headers }, body };
}

export function errorResult(status: number, error: string, description: string, headers?: Record<string, string>): HttpResult {
  return jsonResult(status, { error, error_description: description }, headers);
}

/** RFC 6750 §3: the challenge names the error; the description stays generic. */
export function unauthorized(): HttpResult {
  return errorResult(401, "invalid_token", "A valid Microsoft Entra ID access token for this API is required.", {
    "www-authenticate": 'Bearer error="invalid_token"',
  });
}

export function forbidden(): HttpResult {
  return errorResult(403, "insufficient_scope", "The caller lacks the app role for this token profile.", {
    "www-authenticate": 'Bearer error="insufficient_scope"',
  });
}

export function unavailable(description: string, retryAfterSeconds: number): HttpResult {
  return errorResult(503, "temporarily_unavailable", description, { "retry-after": String(retryAfterSeconds) });
}

// A held token is served thousands of times: format its expiry once (toISOString is ~1 µs).
const expiryTexts = new WeakMap<StoredToken, string>();
export function isoExpiry(token: StoredToken): string {
  let text = expiryTexts.get(token);
  if (text === undefined) {
    text = token.expiresAt.toISOString();
    expiryTexts.set(token, text);
  }
  return text;
}
