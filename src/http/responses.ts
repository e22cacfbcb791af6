/** HTTP answers as plain data; function files turn them into HttpResponseInit. */
import type { StoredToken } from "../token-store/stored-token.js";

export interface HttpResult {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
  /** `body` already serialised as JSON, when it is (a served token's answer, shared by its callers). */
  text?: string;
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

/**
 * The 200 answer for a profile's token, or a customer's (then the body ends with `customer`).
 * Every caller of a token within the same second gets the same answer, so it is made and
 * serialised once per token and second and then shared (frozen): a served request costs neither a
 * body object nor a JSON.stringify of a 1 KB token.
 */
const servedResults = new WeakMap<StoredToken, { profile: string; customer: string | undefined; expiresIn: number; result: HttpResult }>();
export function servedTokenResult(token: StoredToken, profileName: string, nowMs: number, customer?: string): HttpResult {
  const expiresIn = Math.max(0, Math.floor((token.expiresAt.getTime() - nowMs) / 1000));
  const known = servedResults.get(token);
  if (known !== undefined && known.expiresIn === expiresIn && known.profile === profileName && known.customer === customer)
    return known.result;
  const tokenFields = {
    access_token: token.accessToken,
    token_type: token.tokenType,
    expires_in: expiresIn,
    expires_at: isoExpiry(token),
    scope: token.scope,
    profile: profileName,
  };
  const body = Object.freeze(customer === undefined ? tokenFields : { ...tokenFields, customer });
  const result: HttpResult = Object.freeze({ ...jsonResult(200, body), text: JSON.stringify(body) });
  servedResults.set(token, { profile: profileName, customer, expiresIn, result });
  return result;
}
