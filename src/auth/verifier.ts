import {
  decodeProtectedHeader,
  UnsecuredJWT,
  type CompactJWSHeaderParameters,
  type FetchImplementation,
  type JWTPayload,
  type JWTVerifyGetKey,
} from "jose";
import { isHttpsOrLoopback } from "../rules.js";
import { BrokerError, ErrorCode } from "../errors.js";
import { APP_SERVICE_PRINCIPAL_HEADER, callerFromPrincipalHeader } from "./app-service-principal.js";
import { unauthenticated } from "./auth-error.js";
import { asUnauthenticated, fromVerificationError } from "./verification-errors.js";
import { DEFAULT_MAX_AUTHORIZATION_LENGTH, parseBearerToken } from "./bearer.js";
import type { Caller } from "./caller.js";
import { callerFromClaims, type EntraTokenVersion } from "./caller-claims.js";
import { hasValidRs256Signature, rsaVerificationKey } from "./rs256.js";
import { createEntraKeySet } from "./entra-key-set.js";
import {
  entraJwksUri,
  entraV1Issuer,
  entraV2Issuer,
  isGuid,
  normaliseAuthorityHost,
  PUBLIC_CLOUD_AUTHORITY_HOST,
} from "./entra-issuers.js";
import { DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES, VerifiedTokenCache, type VerifiedTokenCacheStats } from "./verified-token-cache.js";

export interface CallerVerifierOptions {
  /** The broker's Entra tenant (GUID). Tokens from any other tenant are refused. */
  tenantId: string;
  /** Accepted `aud` values: the broker's app id (GUID, what v2 tokens carry) and/or app id URI (`api://…`). */
  audiences: string[];
  /** `https://login.microsoftonline.com` unless given (sovereign cloud, or the Entra stand-in). */
  authorityHost?: string;
  /**
   * Recognise the v1.0 issuer (`https://sts.windows.net/{tid}/`). Default true, so that a v1.0
   * token is refused with reason `unsupported_token_version` (callers need v2.0, see
   * caller-claims.ts) rather than as a foreign issuer.
   */
  acceptV1Tokens?: boolean;
  /** The v1.0 issuer, when the authority host is not the public cloud's. See entraV1Issuer(). */
  v1Issuer?: string;
  /** Allowed clock skew for `exp`/`nbf`. Default 60 s (Entra and our hosts keep NTP time). */
  clockToleranceSeconds?: number;
  /** Clock for token lifetimes and the verified-token cache (epoch ms). Default Date.now. */
  now?: () => number;
  /** How long fetched signing keys are trusted before a refetch. Default 1 h. */
  jwksCacheMaxAgeMs?: number;
  /** Minimum time between key refetches triggered by an unknown kid. Default 30 s. */
  jwksCooldownMs?: number;
  /** Timeout of one key set fetch. Default 5 s. */
  jwksTimeoutMs?: number;
  /** Longest Authorization header accepted. Default 16 KiB. */
  maxAuthorizationLength?: number;
  /** Verified-token cache size (LRU). Default 10,000; 0 turns the cache off. */
  verifiedTokenCacheEntries?: number;
  /**
   * Trust App Service Authentication's `X-MS-CLIENT-PRINCIPAL` header instead of verifying a token.
   * Default false. Only safe behind App Service Authentication that requires authentication: see
   * app-service-principal.ts.
   */
  trustAppServicePrincipalHeader?: boolean;
  /**
   * The signing keys by kid. Default: Entra's key set for the tenant (entra-key-set.ts, cached,
   * refetched on an unknown kid, failing fast while the endpoint is down). Tests inject their own.
   */
  keySet?: JWTVerifyGetKey;
  /** How the default key set is fetched; global fetch unless given. Test-only: the sandbox's HTTPS stand-in has its own CA. */
  keySetFetch?: FetchImplementation;
  /** Called at each verified-token cache lookup (hit or miss): for the cache metrics. */
  onCacheLookup?: (hit: boolean) => void;
}

/** Anything with `get(name)` (the Fetch `Headers` of an Azure Functions HttpRequest, or a Map). */
export interface HeaderSource {
  get(name: string): string | null | undefined;
}

export interface CallerVerifier {
  /** Verifies an `Authorization` header value. Throws CallerAuthError(ERR_UNAUTHENTICATED). */
  verify(authorizationHeaderValue: string | null | undefined): Promise<Caller>;
  /** Like verify(), reading the headers itself; honours `trustAppServicePrincipalHeader`. */
  verifyRequest(headers: HeaderSource): Promise<Caller>;
  /**
   * The caller verifyRequest() would give, when the verified-token cache holds the request's exact
   * Authorization value (counted as a hit), else undefined: then call verifyRequest(). No await on
   * the path nearly every request takes.
   */
  cachedCaller(headers: HeaderSource): Caller | undefined;
  cacheStats(): VerifiedTokenCacheStats;
}

const DEFAULTS = {
  clockToleranceSeconds: 60,
  jwksCacheMaxAgeMs: 60 * 60_000,
  jwksCooldownMs: 30_000,
  jwksTimeoutMs: 5_000,
};
/** Entra access tokens live 60–90 minutes; a policy can stretch that to one day, never beyond. */
const MAX_TOKEN_LIFETIME_SECONDS = 24 * 60 * 60;
const MAX_KID_LENGTH = 256;

export function createCallerVerifier(options: CallerVerifierOptions): CallerVerifier {
  const settings = validateOptions(options);
  const keySet =
    options.keySet ??
    createEntraKeySet(new URL(entraJwksUri(settings.authorityHost, settings.tenantId)), {
      cacheMaxAgeMs: settings.jwksCacheMaxAgeMs,
      cooldownMs: settings.jwksCooldownMs,
      timeoutMs: settings.jwksTimeoutMs,
      now: settings.now,
      ...(options.keySetFetch ? { fetch: options.keySetFetch } : {}),
    });
  const cache = new VerifiedTokenCache(settings.verifiedTokenCacheEntries);
  const cacheEnabled = settings.verifiedTokenCacheEntries > 0;

  async function verify(authorizationHeaderValue: string | null | undefined): Promise<Caller> {
    try {
      return await verifyBearer(authorizationHeaderValue);
    } catch (error) {
      throw asUnauthenticated(error);
    }
  }

  /**
   * The header value itself is the cache key: a repeat caller's value is looked up before any
   * parsing (it was parsed and verified when it was stored; a hit is the byte-identical value).
   */
  function fromCache(authorizationHeaderValue: unknown, nowMs: number): Caller | undefined {
    if (!cacheEnabled || typeof authorizationHeaderValue !== "string" || authorizationHeaderValue.length > settings.maxAuthorizationLength)
      return undefined;
    const cached = cache.get(authorizationHeaderValue, nowMs);
    if (cached !== undefined) options.onCacheLookup?.(true);
    return cached;
  }

  async function verifyBearer(authorizationHeaderValue: unknown): Promise<Caller> {
    const nowMs = settings.now();
    const cached = fromCache(authorizationHeaderValue, nowMs);
    if (cached !== undefined) return cached;
    const token = parseBearerToken(authorizationHeaderValue, settings.maxAuthorizationLength);
    if (cacheEnabled) {
      cache.countMiss();
      options.onCacheLookup?.(false);
    }

    const header = checkProtectedHeader(token);
    const { payload, version } = await verifySignedToken(token, header, keySet, settings, nowMs);
    checkLifetime(payload, nowMs, settings.clockToleranceSeconds);
    const caller = callerFromClaims(payload, version, settings.tenantId);

    if (cacheEnabled) {
      const toleranceMs = settings.clockToleranceSeconds * 1000;
      const usableFrom = typeof payload.nbf === "number" ? payload.nbf * 1000 - toleranceMs : Number.NEGATIVE_INFINITY;
      // Never past exp; and never longer than the key set itself is trusted, so a key Entra
      // withdraws stops being honoured from the cache no later than from the key set.
      const usableUntil = Math.min(caller.tokenExpiresAt.getTime(), nowMs + settings.jwksCacheMaxAgeMs);
      if (nowMs < usableUntil) cache.set(authorizationHeaderValue as string, caller, usableFrom, usableUntil);
    }
    return caller;
  }

  async function verifyRequest(headers: HeaderSource): Promise<Caller> {
    if (settings.trustAppServicePrincipalHeader) {
      const principal = headers.get(APP_SERVICE_PRINCIPAL_HEADER);
      if (principal !== null && principal !== undefined) {
        try {
          return callerFromPrincipalHeader(principal, settings, settings.now());
        } catch (error) {
          throw asUnauthenticated(error);
        }
      }
    }
    return verify(headers.get("authorization"));
  }

  function cachedCaller(headers: HeaderSource): Caller | undefined {
    if (!cacheEnabled) return undefined;
    // The App Service principal header, when trusted and present, decides instead: not from here.
    if (settings.trustAppServicePrincipalHeader) {
      const principal = headers.get(APP_SERVICE_PRINCIPAL_HEADER);
      if (principal !== null && principal !== undefined) return undefined;
    }
    return fromCache(headers.get("authorization"), settings.now());
  }

  return { verify, verifyRequest, cachedCaller, cacheStats: () => cache.stats() };
}

export interface VerifierSettings {
  tenantId: string;
  audiences: string[];
  authorityHost: string;
  issuers: Map<string, EntraTokenVersion>;
  clockToleranceSeconds: number;
  now: () => number;
  jwksCacheMaxAgeMs: number;
  jwksCooldownMs: number;
  jwksTimeoutMs: number;
  maxAuthorizationLength: number;
  verifiedTokenCacheEntries: number;
  trustAppServicePrincipalHeader: boolean;
}

function validateOptions(options: CallerVerifierOptions): VerifierSettings {
  const configError = (message: string) => new BrokerError(ErrorCode.Config, `Caller verification: ${message}`);
  if (typeof options.tenantId !== "string" || !isGuid(options.tenantId)) throw configError("tenantId must be the tenant GUID");
  const tenantId = options.tenantId.toLowerCase();

  const audiences = options.audiences;
  if (!Array.isArray(audiences) || audiences.length === 0 || audiences.some((a) => typeof a !== "string" || a.trim() === "")) {
    throw configError("audiences must list the broker's app id and/or app id URI");
  }

  const authorityHost = normaliseAuthorityHost(options.authorityHost ?? PUBLIC_CLOUD_AUTHORITY_HOST);
  let authorityUrl: URL;
  try {
    authorityUrl = new URL(authorityHost);
  } catch (cause) {
    throw new BrokerError(ErrorCode.Config, "Caller verification: authorityHost is not a URL", { cause });
  }
  if (!isHttpsOrLoopback(authorityUrl)) {
    throw configError("authorityHost must be https (plain http only on loopback, for the stand-in)");
  }

  const issuers = new Map<string, EntraTokenVersion>([[entraV2Issuer(authorityHost, tenantId), "2.0"]]);
  if (options.acceptV1Tokens ?? true) issuers.set(options.v1Issuer ?? entraV1Issuer(authorityHost, tenantId), "1.0");

  const clockToleranceSeconds = options.clockToleranceSeconds ?? DEFAULTS.clockToleranceSeconds;
  if (!Number.isFinite(clockToleranceSeconds) || clockToleranceSeconds < 0 || clockToleranceSeconds > 300) {
    throw configError("clockToleranceSeconds must be between 0 and 300");
  }
  const nonNegativeInteger = (value: number | undefined, fallback: number, name: string): number => {
    const result = value ?? fallback;
    if (!Number.isInteger(result) || result < 0) throw configError(`${name} must be a non-negative integer`);
    return result;
  };

  return {
    tenantId,
    audiences: [...audiences],
    authorityHost,
    issuers,
    clockToleranceSeconds,
    now: options.now ?? Date.now,
    jwksCacheMaxAgeMs: nonNegativeInteger(options.jwksCacheMaxAgeMs, DEFAULTS.jwksCacheMaxAgeMs, "jwksCacheMaxAgeMs"),
    jwksCooldownMs: nonNegativeInteger(options.jwksCooldownMs, DEFAULTS.jwksCooldownMs, "jwksCooldownMs"),
    jwksTimeoutMs: nonNegativeInteger(options.jwksTimeoutMs, DEFAULTS.jwksTimeoutMs, "jwksTimeoutMs"),
    maxAuthorizationLength: nonNegativeInteger(options.maxAuthorizationLength, DEFAULT_MAX_AUTHORIZATION_LENGTH, "maxAuthorizationLength"),
    verifiedTokenCacheEntries: nonNegativeInteger(
      options.verifiedTokenCacheEntries,
      DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES,
      "verifiedTokenCacheEntries",
    ),
    trustAppServicePrincipalHeader: options.trustAppServicePrincipalHeader ?? false,
  };
}

/**
 * Checks the JOSE header before any key lookup, so that junk never triggers a key set refetch:
 * RS256 only (this also shuts out `none` and HS256-keyed-with-the-public-key), a `kid` (Entra
 * always sends one), and no `crit` (jose would honour `b64`; we understand no extensions).
 */
function checkProtectedHeader(token: string): CompactJWSHeaderParameters {
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(token) as Record<string, unknown>;
  } catch (cause) {
    throw unauthenticated("malformed_token", "header is not base64url JSON", cause);
  }
  if (Object.hasOwn(header, "crit")) throw unauthenticated("critical_header", "crit header parameter present");
  if (header["alg"] !== "RS256") throw unauthenticated("unsupported_algorithm", "only RS256 is accepted");
  const kid = header["kid"];
  if (typeof kid !== "string" || kid === "" || kid.length > MAX_KID_LENGTH) throw unauthenticated("missing_key_id");
  return header as CompactJWSHeaderParameters;
}

/** The unsecured header that hands a payload whose signature was checked here to jose's claim checks. */
const VERIFIED_ELSEWHERE_HEADER = Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url");

/**
 * The key from Entra's key set (by kid; jose's remote key set), the RS256 signature with node:crypto
 * (rs256.ts says why not jose's WebCrypto), then jose's standard claim checks on the payload: the
 * same checks jwtVerify makes, run through UnsecuredJWT.decode only once the signature holds.
 */
async function verifySignedToken(
  token: string,
  header: CompactJWSHeaderParameters,
  keySet: JWTVerifyGetKey,
  settings: VerifierSettings,
  nowMs: number,
): Promise<{ payload: JWTPayload; version: EntraTokenVersion }> {
  const [, encodedPayload, signature] = token.split(".") as [string, string, string];
  let payload: JWTPayload;
  try {
    const key = rsaVerificationKey(await keySet(header, { payload: encodedPayload, signature }));
    if (key === undefined) throw unauthenticated("unsupported_algorithm", "the kid's key is not an RSA key of 2048 bits or more");
    if (!hasValidRs256Signature(token, key)) throw unauthenticated("invalid_signature");
    ({ payload } = UnsecuredJWT.decode(`${VERIFIED_ELSEWHERE_HEADER}.${encodedPayload}.`, {
      issuer: [...settings.issuers.keys()],
      audience: settings.audiences,
      clockTolerance: settings.clockToleranceSeconds,
      currentDate: new Date(nowMs),
      requiredClaims: ["exp", "tid"],
    }));
  } catch (error) {
    throw fromVerificationError(error);
  }
  const version = settings.issuers.get(payload.iss ?? "");
  if (version === undefined) throw unauthenticated("invalid_issuer");
  return { payload, version };
}

function checkLifetime(payload: JWTPayload, nowMs: number, toleranceSeconds: number): void {
  const exp = payload.exp ?? 0;
  if (exp - nowMs / 1000 > MAX_TOKEN_LIFETIME_SECONDS + toleranceSeconds) {
    throw unauthenticated("invalid_claims", "exp is further ahead than any Entra token lives");
  }
}
