/**
 * Adapter for Digdir's self-service API ("Selvbetjening som API"), the clients' `jwks` resource:
 * `GET|POST <base>/api/v1/clients/{client_id}/jwks`, body `{"keys":[…]}`, the whole set replaced on
 * every write; an empty set is removed with `DELETE` (okdata-maskinporten-api does so: Digdir
 * refuses to POST an empty `keys`). Bearer: a Maskinporten token of the admin client carrying
 * `idporten:dcr.*` scopes. Fetch is injected (a port), so tests and the CLI use the same code.
 *
 * Digdir's error body is not documented for this resource; we keep what comes: RFC 7591-style
 * `error`/`error_description`, Spring-style `message`, else the first 500 characters of the text,
 * scrubbed of anything JWT-shaped. The bearer token is never part of an error or a log line.
 */
import { ErrorCode } from "../errors.js";
import { scrubSecrets } from "../logging.js";
import { SelfServiceError, type SelfServiceClient } from "./ports.js";
import { parseRegisteredKeySet, type RegisteredKeySet } from "./registered-keys.js";
import { describeFetchFailure } from "../fetch-failure.js";

export type FetchPort = (url: string, init: RequestInit) => Promise<Response>;

export interface SelfServiceClientOptions {
  /** API base, e.g. https://api.test.samarbeid.digdir.no (`/api/v1` is added unless present). */
  baseUrl: string;
  /** The admin client's Maskinporten access token for these scopes. */
  accessToken(): Promise<string>;
  fetch?: FetchPort;
  timeoutMs?: number;
}

export function apiV1Base(baseUrl: string): string {
  const trimmed = baseUrl.replace(/\/+$/, "");
  return trimmed.endsWith("/api/v1") ? trimmed : `${trimmed}/api/v1`;
}

export function createSelfServiceClient(options: SelfServiceClientOptions): SelfServiceClient {
  const base = apiV1Base(options.baseUrl);
  const doFetch: FetchPort = options.fetch ?? ((url, init) => fetch(url, init));
  const timeoutMs = options.timeoutMs ?? 15_000;

  async function call(method: "GET" | "POST" | "DELETE", clientId: string, body?: unknown): Promise<RegisteredKeySet> {
    const url = `${base}/clients/${encodeURIComponent(clientId)}/jwks`;
    const what = `${method} /clients/{client_id}/jwks for client ${clientId}`;
    const token = await options.accessToken();
    let response: Response;
    let text: string;
    try {
      response = await doFetch(url, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          accept: "application/json",
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        redirect: "error",
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      const { detail } = describeFetchFailure(error, timeoutMs);
      throw new SelfServiceError(
        ErrorCode.SelfServiceUnavailable,
        `Digdir's self-service API could not be reached at ${new URL(url).origin} (${what}): ${detail}`,
        { transient: true },
        { cause: error },
      );
    }
    if (response.status >= 300) throw rejection(response.status, text, what);
    if (method === "DELETE" || text.trim() === "") return { keys: [] };
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new SelfServiceError(
        ErrorCode.SelfServiceBadResponse,
        `Digdir's self-service API answered ${what} with HTTP ${response.status} and a body that is not JSON`,
        { status: response.status, transient: true },
      );
    }
    const set = parseRegisteredKeySet(parsed);
    if ("problem" in set) {
      throw new SelfServiceError(
        ErrorCode.SelfServiceBadResponse,
        `Digdir's self-service API answered ${what} with an unexpected key set: ${set.problem}`,
        { status: response.status, transient: true },
      );
    }
    return set;
  }

  return {
    getJwks: (clientId) => call("GET", clientId),
    putJwks: (clientId, keys) => (keys.length === 0 ? call("DELETE", clientId) : call("POST", clientId, { keys })),
  };
}

function rejection(status: number, text: string, what: string): SelfServiceError {
  let fields: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) fields = parsed as Record<string, unknown>;
  } catch {
    // not JSON: kept as text below
  }
  const str = (value: unknown) => (typeof value === "string" && value.length > 0 ? scrubSecrets(value.slice(0, 1000)) : undefined);
  const error = str(fields.error);
  const description = str(fields.error_description) ?? str(fields.message) ?? str(fields.detail);
  const body = error || description ? undefined : scrubSecrets(text.slice(0, 500)).trim() || undefined;
  const transient = status >= 500 || status === 429 || status === 408;
  const said = [error, description].filter(Boolean).join(": ") || (body ? `body: ${body}` : "no error body");
  const hint =
    status === 401 || status === 403
      ? " (does the admin client hold the idporten:dcr scopes, and does the client belong to its organisation?)"
      : "";
  return new SelfServiceError(
    transient ? ErrorCode.SelfServiceUnavailable : ErrorCode.SelfServiceRejected,
    `Digdir's self-service API ${transient ? "is unavailable" : "refused"} ${what} (HTTP ${status}, ${said})${hint}`,
    { status, transient, ...(error ? { error } : {}), ...(description ? { description } : {}), ...(body ? { body } : {}) },
  );
}
