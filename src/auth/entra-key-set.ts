import { createRemoteJWKSet, customFetch, errors, type FetchImplementation, type JWTVerifyGetKey } from "jose";
import { KeySetUnavailableError } from "./auth-error.js";

export { KeySetUnavailableError };

export interface EntraKeySetOptions {
  /** How long a fetched key set is used before it is fetched again (ms). */
  cacheMaxAgeMs: number;
  /** Minimum time between fetches caused by an unknown `kid` (ms): a flood of forged kids costs one fetch. */
  cooldownMs: number;
  /** Timeout of one key set fetch (ms). */
  timeoutMs: number;
  /** How the key set is fetched; global fetch unless given (test-only: the sandbox trusts its own CA). */
  fetch?: FetchImplementation;
  /** Clock for the failure cooldown (epoch ms); the verifier passes its own. Default Date.now. */
  now?: () => number;
}

/**
 * The adapter to Entra's JWKS endpoint: jose's remote key set (cached for `cacheMaxAgeMs`,
 * refetched on an unknown kid at most once per `cooldownMs`), plus a failure cooldown so that
 * while the endpoint is down and the cache is stale, requests fail fast instead of each one
 * trying a fetch.
 */
export function createEntraKeySet(jwksUri: URL, options: EntraKeySetOptions): JWTVerifyGetKey {
  const remote = createRemoteJWKSet(jwksUri, {
    cacheMaxAge: options.cacheMaxAgeMs,
    cooldownDuration: options.cooldownMs,
    timeoutDuration: options.timeoutMs,
    ...(options.fetch ? { [customFetch]: options.fetch } : {}),
  });
  const now = options.now ?? Date.now;
  let lastFailureAt: number | undefined;

  return async (protectedHeader, token) => {
    if (!remote.fresh && lastFailureAt !== undefined && now() < lastFailureAt + options.cooldownMs) {
      throw new KeySetUnavailableError();
    }
    // One immediate retry: a reset on a stale keep-alive socket should not shut new callers out
    // for a whole cooldown.
    for (let attempt = 1; ; attempt++) {
      try {
        return await remote(protectedHeader, token);
      } catch (error) {
        // These describe the token's kid, not the endpoint; anything else is a failed fetch.
        if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) throw error;
        if (error instanceof errors.JOSENotSupported) throw error;
        if (attempt < 2) continue;
        lastFailureAt = now();
        throw new KeySetUnavailableError({ cause: error });
      }
    }
  };
}
