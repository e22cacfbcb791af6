/**
 * Maskinporten adapter: metadata discovery (cached) and the jwt-bearer token request, with retries
 * of transient failures only, each with a fresh grant (Maskinporten refuses a reused jti).
 */
import { BrokerError, ErrorCode } from "../errors.js";
import { maskinportenUrlProblem, metadataUrlOf } from "../config/environments.js";
import { DEFAULT_RETRY_POLICY, parseRetryAfter, withRetry, type RetryHooks, type RetryPolicy } from "../retry.js";
import { MaskinportenError, rejectionError } from "./errors.js";
import { parseTokenResponse, type IssuedToken } from "./token-response.js";
import { describeFetchFailure } from "../fetch-failure.js";

export type { IssuedToken } from "./token-response.js";
export { MaskinportenError } from "./errors.js";

export const JWT_BEARER_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer";

export interface MaskinportenEndpoint {
  /** The grant's `aud`: the issuer, exactly. */
  audience: string;
  tokenEndpoint: string;
}

export interface MaskinportenClientOptions {
  /**
   * Discover audience and token endpoint from the issuer's metadata (Maskinporten:
   * `<issuer>.well-known/oauth-authorization-server`; Skyporten: `<issuer>/.well-known/openid-configuration`).
   */
  issuer?: string;
  /** Or give both explicitly, as the seed tool's `audience` and `token.endpoint` do. */
  audience?: string;
  tokenEndpoint?: string;
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  metadataMaxAgeMs?: number;
  now?: () => number;
  sleep?: RetryHooks["sleep"];
  random?: RetryHooks["random"];
  onRetry?: RetryHooks["onRetry"];
  /** After each token request's answer (or its absence): for the Maskinporten request metrics. */
  onTokenRequest?: (observed: { status?: number; error?: string; durationMs: number }) => void;
}

export interface MaskinportenClient {
  endpoint(): Promise<MaskinportenEndpoint>;
  /**
   * Asks for a token. `makeGrant` is called once per attempt with the audience, so every retry
   * sends a new grant with a new jti.
   */
  requestToken(
    makeGrant: (audience: string) => Promise<string>,
    requestedScopes?: readonly string[],
    options?: { maxAttempts?: number },
  ): Promise<IssuedToken>;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_METADATA_MAX_AGE_MS = 24 * 3600_000;

export function createMaskinportenClient(options: MaskinportenClientOptions): MaskinportenClient {
  const now = options.now ?? Date.now;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  const explicit = resolveExplicitEndpoint(options);
  const metadataMaxAgeMs = options.metadataMaxAgeMs ?? DEFAULT_METADATA_MAX_AGE_MS;
  let cached: { endpoint: Promise<MaskinportenEndpoint>; fetchedAt: number } | undefined;

  async function endpoint(): Promise<MaskinportenEndpoint> {
    if (explicit) return explicit;
    if (!cached || now() - cached.fetchedAt > metadataMaxAgeMs) {
      const entry = { endpoint: discover(options.issuer!, timeoutMs), fetchedAt: now() };
      cached = entry;
      // A failed discovery must not stick: the next call tries again.
      entry.endpoint.catch(() => {
        if (cached === entry) cached = undefined;
      });
    }
    return cached.endpoint;
  }

  async function attempt(makeGrant: (audience: string) => Promise<string>, scopes: readonly string[]): Promise<IssuedToken> {
    const { audience, tokenEndpoint } = await endpoint();
    const assertion = await makeGrant(audience);
    const body = new URLSearchParams({ grant_type: JWT_BEARER_GRANT_TYPE, assertion });
    const startedMs = performance.now();
    const observe = (status?: number, error?: string) =>
      options.onTokenRequest?.({
        ...(status !== undefined ? { status } : {}),
        ...(error ? { error } : {}),
        durationMs: performance.now() - startedMs,
      });
    let response: Response;
    let text: string;
    try {
      response = await send(
        tokenEndpoint,
        {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
          body: body.toString(),
        },
        timeoutMs,
      );
      text = await readBody(response, timeoutMs);
    } catch (error) {
      observe();
      throw error;
    }
    if (response.status !== 200) {
      const rejection = rejectionError(
        response.status,
        parseJsonOrUndefined(text),
        parseRetryAfter(response.headers.get("retry-after"), now()),
      );
      observe(response.status, rejection.error);
      throw rejection;
    }
    observe(200);
    return parseTokenResponse(text, response.status, now(), scopes);
  }

  return {
    endpoint,
    requestToken(makeGrant, requestedScopes = [], requestOptions = {}) {
      const attempts = requestOptions.maxAttempts
        ? { ...policy, maxAttempts: Math.min(policy.maxAttempts, requestOptions.maxAttempts) }
        : policy;
      return withRetry(() => attempt(makeGrant, requestedScopes), attempts, {
        isTransient: (error) => error instanceof MaskinportenError && error.transient,
        retryAfterMs: (error) => (error instanceof MaskinportenError ? error.retryAfterMs : undefined),
        ...(options.sleep ? { sleep: options.sleep } : {}),
        ...(options.random ? { random: options.random } : {}),
        ...(options.onRetry ? { onRetry: options.onRetry } : {}),
      });
    },
  };
}

function resolveExplicitEndpoint(options: MaskinportenClientOptions): MaskinportenEndpoint | undefined {
  const problems: string[] = [];
  for (const [name, value] of [
    ["issuer", options.issuer],
    ["audience", options.audience],
    ["tokenEndpoint", options.tokenEndpoint],
  ] as const) {
    const problem = value === undefined ? undefined : maskinportenUrlProblem(value);
    if (problem) problems.push(`${name}: ${problem}`);
  }
  if (problems.length > 0) throw configError(problems.join("; "));
  if (options.audience !== undefined && options.tokenEndpoint !== undefined) {
    return { audience: options.audience, tokenEndpoint: options.tokenEndpoint };
  }
  if (options.issuer === undefined) throw configError("give either an issuer (for metadata discovery) or both audience and tokenEndpoint");
  return undefined;
}

function configError(message: string): BrokerError {
  return new BrokerError(ErrorCode.Config, `Maskinporten client: ${message}`);
}

async function discover(issuer: string, timeoutMs: number): Promise<MaskinportenEndpoint> {
  const url = metadataUrlOf(issuer);
  const response = await send(url, { headers: { accept: "application/json" } }, timeoutMs);
  const text = await readBody(response, timeoutMs);
  if (response.status !== 200) {
    const error = rejectionError(response.status, parseJsonOrUndefined(text), undefined);
    throw new MaskinportenError(error.code, `Maskinporten metadata at ${url}: ${error.message}`, error, { cause: error });
  }
  const metadata = parseJsonOrUndefined(text) as Record<string, unknown> | undefined;
  const invalid = (reason: string) =>
    new MaskinportenError(ErrorCode.MaskinportenBadResponse, `Maskinporten metadata at ${url} is invalid: ${reason}`, {
      status: response.status,
      transient: true,
    });
  if (!metadata || typeof metadata !== "object") throw invalid("not a JSON object");
  // RFC 8414 §3.3: the document's issuer must be the one we asked, exactly (no normalising: a
  // trailing slash is part of Maskinporten's issuer and absent from Skyporten's).
  if (metadata.issuer !== issuer) {
    throw new BrokerError(
      ErrorCode.Config,
      `Maskinporten metadata at ${url} names issuer ${JSON.stringify(metadata.issuer)}, not ${issuer}; set the environment to exactly that issuer (trailing slash included or not, as the metadata says)`,
    );
  }
  const tokenEndpoint = metadata.token_endpoint;
  if (typeof tokenEndpoint !== "string") throw invalid("token_endpoint is missing");
  const problem = maskinportenUrlProblem(tokenEndpoint);
  if (problem) throw invalid(`token_endpoint: ${problem}`);
  return { audience: issuer, tokenEndpoint };
}

async function send(url: string, init: RequestInit, timeoutMs: number): Promise<Response> {
  try {
    // Never follow redirects: the body carries a signed grant.
    return await fetch(url, { ...init, redirect: "error", signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    throw networkError(url, error, timeoutMs);
  }
}

async function readBody(response: Response, timeoutMs: number): Promise<string> {
  try {
    return await response.text();
  } catch (error) {
    throw networkError(response.url, error, timeoutMs);
  }
}

function networkError(url: string, error: unknown, timeoutMs: number): MaskinportenError {
  const { detail } = describeFetchFailure(error, timeoutMs);
  return new MaskinportenError(
    ErrorCode.MaskinportenUnavailable,
    `Maskinporten could not be reached at ${new URL(url).origin}: ${detail}`,
    {
      transient: true,
    },
    { cause: error },
  );
}

function parseJsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
