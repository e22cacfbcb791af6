/**
 * Altinn's exchange answer → the token and its expiry. Unlike a Maskinporten token, which is opaque
 * to its client, the Altinn platform token is a JWT whose lifetime Altinn sets on its own (its
 * authentication service signs `exp = now + JwtValidityMinutes`, not the Maskinporten token's
 * expiry), so the broker reads `exp` from it: that is the only place the lifetime is stated. The
 * signature is not checked here (the token came over TLS from the configured Altinn; the APIs that
 * receive it verify it).
 */
import { ErrorCode } from "../errors.js";
import { AltinnExchangeError } from "./errors.js";

export interface AltinnToken {
  accessToken: string;
  /** When we received it (our clock, whole seconds). */
  issuedAt: Date;
  /** The token's own `exp`. */
  expiresAt: Date;
}

const JWT = /^[A-Za-z0-9_-]+\.([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]+$/;
/** Altinn issues 30-minute tokens; a day is far beyond anything it documents. */
const MAX_LIFETIME_MS = 86_400_000;

function badAnswer(reason: string, status: number): AltinnExchangeError {
  // Like a garbled Maskinporten answer: usually a proxy or network fault, worth one more try.
  return new AltinnExchangeError(ErrorCode.AltinnBadResponse, `Altinn sent an invalid token exchange answer (HTTP ${status}): ${reason}`, {
    status,
    transient: true,
  });
}

/**
 * Altinn answers `200` with the token as text; through ASP.NET content negotiation an
 * `Accept: application/json` request (what Altinn's .NET client sends) gets it as a JSON string.
 * Both are accepted.
 */
export function parseAltinnAnswer(bodyText: string, status: number, receivedAtMs: number): AltinnToken {
  let token = bodyText.trim();
  if (token.startsWith('"')) {
    try {
      token = JSON.parse(token) as string;
    } catch {
      throw badAnswer(`the body is neither a JWT nor a JSON string (${bodyText.length} bytes)`, status);
    }
    if (typeof token !== "string") throw badAnswer("the body is not a JSON string", status);
  }
  const match = JWT.exec(token);
  if (!match) throw badAnswer(`the body is not a JWT (${bodyText.length} bytes)`, status);
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(match[1]!, "base64url").toString("utf8"));
  } catch {
    throw badAnswer("the JWT's payload is not JSON", status);
  }
  const exp = typeof claims === "object" && claims !== null ? (claims as Record<string, unknown>).exp : undefined;
  if (typeof exp !== "number" || !Number.isFinite(exp)) throw badAnswer("the JWT has no numeric exp", status);
  const issuedAtMs = Math.floor(receivedAtMs / 1000) * 1000;
  const expiresAtMs = Math.floor(exp) * 1000;
  if (expiresAtMs <= issuedAtMs) throw badAnswer("the token has already expired by our clock (clock skew?)", status);
  if (expiresAtMs - issuedAtMs > MAX_LIFETIME_MS) throw badAnswer("the token claims to live longer than a day", status);
  return { accessToken: token, issuedAt: new Date(issuedAtMs), expiresAt: new Date(expiresAtMs) };
}
