/**
 * What a failed `fetch` says about itself, in words safe for logs: a timeout, or the network error
 * underneath undici's "fetch failed" (ECONNRESET, ENOTFOUND, a TLS failure). Shared by every HTTP
 * adapter (Maskinporten, Altinn, Digdir's self-service API) so they describe outages alike.
 */
export interface FetchFailure {
  /** The abort signal's timeout (or abort) fired. */
  timedOut: boolean;
  /** undici's underlying error where it gives one, else the error itself. */
  cause: unknown;
  /** e.g. "no answer within 5000 ms", "ECONNRESET". */
  detail: string;
}

export function describeFetchFailure(error: unknown, timeoutMs: number): FetchFailure {
  const timedOut = error instanceof DOMException && (error.name === "TimeoutError" || error.name === "AbortError");
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  const detail = timedOut
    ? `no answer within ${timeoutMs} ms`
    : cause instanceof Error
      ? ((cause as NodeJS.ErrnoException).code ?? cause.message)
      : String(cause);
  return { timedOut, cause, detail };
}
