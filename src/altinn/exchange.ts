/**
 * Altinn token exchange adapter: `GET <exchange url>` with the Maskinporten token as bearer → the
 * Altinn token. Transient failures (5xx, 408, 429, timeouts, resets, garbled answers) are retried
 * with backoff; 4xx are not (a token Altinn cannot verify stays unverifiable).
 */
import { ErrorCode } from "../errors.js";
import { DEFAULT_RETRY_POLICY, parseRetryAfter, withRetry, type RetryHooks, type RetryPolicy } from "../retry.js";
import { parseAltinnAnswer, type AltinnToken } from "./altinn-token.js";
import { AltinnExchangeError, altinnRejection } from "./errors.js";
import type { AltinnExchangeTarget } from "../config/domain.js";
import { describeFetchFailure } from "../fetch-failure.js";

export type { AltinnToken } from "./altinn-token.js";
export { AltinnExchangeError } from "./errors.js";

/** The part of `fetch` the adapter uses: injected so tests and the sandbox can pass their own. */
export type FetchPort = (url: string, init: RequestInit) => Promise<Response>;

export interface AltinnExchangeOptions {
  fetch?: FetchPort;
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  now?: () => number;
  sleep?: RetryHooks["sleep"];
  random?: RetryHooks["random"];
  onRetry?: RetryHooks["onRetry"];
}

export type AltinnExchange = (target: AltinnExchangeTarget, maskinportenToken: string) => Promise<AltinnToken>;

const DEFAULT_TIMEOUT_MS = 10_000;

export function createAltinnExchange(options: AltinnExchangeOptions = {}): AltinnExchange {
  const fetchPort: FetchPort = options.fetch ?? ((url, init) => fetch(url, init));
  const now = options.now ?? Date.now;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry };

  async function attempt(target: AltinnExchangeTarget, maskinportenToken: string): Promise<AltinnToken> {
    let response: Response;
    let text: string;
    try {
      response = await fetchPort(target.url, {
        method: "GET",
        // What Altinn's own client sends; the answer is then the token as a JSON string.
        headers: { authorization: `Bearer ${maskinportenToken}`, accept: "application/json" },
        // Never follow a redirect: it would carry the bearer token somewhere else.
        redirect: "error",
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      throw networkError(target.url, error, timeoutMs);
    }
    if (response.status !== 200) {
      throw altinnRejection(response.status, text, target.url, parseRetryAfter(response.headers.get("retry-after"), now()));
    }
    return parseAltinnAnswer(text, response.status, now());
  }

  return (target, maskinportenToken) =>
    withRetry(() => attempt(target, maskinportenToken), policy, {
      isTransient: (error) => error instanceof AltinnExchangeError && error.transient,
      retryAfterMs: (error) => (error instanceof AltinnExchangeError ? error.retryAfterMs : undefined),
      ...(options.sleep ? { sleep: options.sleep } : {}),
      ...(options.random ? { random: options.random } : {}),
      ...(options.onRetry ? { onRetry: options.onRetry } : {}),
    });
}

function networkError(url: string, error: unknown, timeoutMs: number): AltinnExchangeError {
  const { cause, detail } = describeFetchFailure(error, timeoutMs);
  if (cause instanceof Error && /redirect/i.test(cause.message)) {
    // Not transient: the URL is wrong (a portal page, a moved host), and following would hand the token on.
    return new AltinnExchangeError(
      ErrorCode.AltinnRejected,
      `Altinn token exchange at ${new URL(url).origin} answered with a redirect, which is never followed; check the exchange setting (tt02, prod or the platform base URL)`,
      { transient: false },
      { cause: error },
    );
  }
  return new AltinnExchangeError(
    ErrorCode.AltinnUnavailable,
    `Altinn token exchange could not be reached at ${new URL(url).origin}: ${detail}`,
    {
      transient: true,
    },
    { cause: error },
  );
}
