/**
 * What the Functions host does on either side of a handler, for everything here that hosts the
 * broker's handlers outside Azure (the sandbox, the tests' host, the bench), so that none of them
 * hands a handler different headers or sends a different answer than Azure would.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import functions, { type HttpRequest, type HttpResponseInit } from "@azure/functions";

/**
 * The request's headers as the host hands them on: one string per lower-case name, repeated
 * headers joined with ", " (Node's own `headers` keeps only the first Authorization). One pass
 * over the raw headers; a null-prototype record, so that no header name can reach a prototype.
 */
export function hostHeaders(request: IncomingMessage): Record<string, string> {
  const headers = Object.create(null) as Record<string, string>;
  const raw = request.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const known = headers[name];
    headers[name] = known === undefined ? raw[i + 1]! : `${known}, ${raw[i + 1]!}`;
  }
  return headers;
}

/** The HttpRequest the host hands a handler for this GET, with the route's parameters. */
export function hostHttpRequest(request: IncomingMessage, params: Record<string, string> = {}): HttpRequest {
  return new functions.HttpRequest({ method: "GET", url: `http://127.0.0.1${request.url ?? "/"}`, headers: hostHeaders(request), params });
}

/**
 * A handler's HttpResponseInit onto the wire, as the worker sends it (@azure/functions
 * HttpResponse): `jsonBody` serialised, with content-type application/json unless the handler set
 * one; a string `body` as it is.
 */
export function writeFunctionResponse(response: ServerResponse, result: HttpResponseInit): void {
  const headers = (result.headers as Record<string, string> | undefined) ?? {};
  if (result.jsonBody !== undefined) {
    const hasContentType = Object.keys(headers).some((name) => name.toLowerCase() === "content-type");
    response.writeHead(result.status ?? 200, hasContentType ? headers : { ...headers, "content-type": "application/json" });
    response.end(JSON.stringify(result.jsonBody));
    return;
  }
  if (result.body !== undefined && result.body !== null && typeof result.body !== "string") {
    throw new TypeError("writeFunctionResponse: only string bodies and jsonBody are served here");
  }
  response.writeHead(result.status ?? 200, headers);
  response.end(result.body ?? "");
}
