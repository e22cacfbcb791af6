/**
 * Strict parsing of Maskinporten's token response. The access token itself is opaque to us: we
 * never parse it to decide anything, we only carry it.
 */
import { ErrorCode } from "../errors.js";
import type { IssuedToken } from "../token-store/stored-token.js";
import { MaskinportenError } from "./errors.js";

export type { IssuedToken };

/** 1 s … 1 day: Maskinporten lifetimes are 120 s by default and at most a few hours. */
const MAX_EXPIRES_IN = 86_400;

function badResponse(reason: string, status: number): MaskinportenError {
  // Treated as transient: a truncated or garbled body is usually a proxy or network fault, and a
  // retry costs one fresh grant.
  return new MaskinportenError(
    ErrorCode.MaskinportenBadResponse,
    `Maskinporten sent an invalid token response (HTTP ${status}): ${reason}`,
    {
      status,
      transient: true,
    },
  );
}

export function parseTokenResponse(
  bodyText: string,
  status: number,
  receivedAtMs: number,
  requestedScopes: readonly string[],
): IssuedToken {
  let body: unknown;
  try {
    body = JSON.parse(bodyText);
  } catch {
    throw badResponse(`the body is not JSON (${bodyText.length} bytes)`, status);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw badResponse("the body is not a JSON object", status);
  const fields = body as Record<string, unknown>;
  const accessToken = fields.access_token;
  if (typeof accessToken !== "string" || accessToken.length === 0) throw badResponse("access_token is missing or not a string", status);
  if (/\s/.test(accessToken)) throw badResponse("access_token contains white space", status);
  const expiresIn = fields.expires_in;
  if (typeof expiresIn !== "number" || !Number.isFinite(expiresIn) || expiresIn < 1 || expiresIn > MAX_EXPIRES_IN) {
    throw badResponse("expires_in is missing or not a number of seconds between 1 and 86400", status);
  }
  const tokenType = fields.token_type === undefined ? "Bearer" : fields.token_type;
  if (typeof tokenType !== "string" || tokenType.length === 0) throw badResponse("token_type is not a string", status);
  const scope = fields.scope === undefined ? requestedScopes.join(" ") : fields.scope;
  if (typeof scope !== "string") throw badResponse("scope is not a string", status);
  // Whole seconds, rounded down: Key Vault keeps secret attributes in seconds, so the secret's
  // `expires` and its `expires_at` tag agree, and we never claim a token lives longer than it does.
  const issuedAtMs = Math.floor(receivedAtMs / 1000) * 1000;
  return {
    accessToken,
    tokenType,
    expiresIn,
    scope,
    issuedAt: new Date(issuedAtMs),
    expiresAt: new Date(issuedAtMs + Math.floor(expiresIn) * 1000),
    raw: fields,
  };
}
