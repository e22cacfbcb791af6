import type { HttpResponseInit } from "@azure/functions";
import type { Runtime } from "../src/app/runtime.js";
import { loadedRuntime, loadRuntime } from "../src/app/load-runtime.js";
import { errorLogFields } from "../src/errors.js";
import { errorResult, type HttpResult } from "../src/http/responses.js";
import { jsonLogger } from "../src/logging.js";
import type { HttpRoute } from "../src/metrics.js";

/** Which route a request took, for the HTTP metrics; `profile` is the route's segment (only a configured name is reported). */
export interface RequestRoute {
  route: HttpRoute;
  profile?: string;
}

/**
 * Runs an HTTP handler with the process runtime (loaded on first use) and maps its result. A broken configuration is an
 * operator problem: it is logged in full and the caller is told only that. Synchronous when the runtime is loaded and
 * the handler answers synchronously (a served token: see token-endpoint.ts); the Functions worker awaits either
 * (@azure/functions InvocationModel.invokeFunction: `await Promise.resolve(handler(...inputs, context))`).
 */
export function withRuntime<Input>(
  handle: (input: Input, runtime: Runtime) => HttpResult | Promise<HttpResult>,
  input: Input,
  request?: RequestRoute,
): HttpResponseInit | Promise<HttpResponseInit> {
  const startedMs = performance.now();
  let runtime: Runtime | undefined;
  try {
    runtime = loadedRuntime();
  } catch (error) {
    return misconfigured(error);
  }
  if (runtime === undefined) return loadThenHandle(handle, input, request, startedMs);
  const result = handle(input, runtime);
  return result instanceof Promise
    ? result.then((settled) => answer(runtime, settled, request, startedMs))
    : answer(runtime, result, request, startedMs);
}

async function loadThenHandle<Input>(
  handle: (input: Input, runtime: Runtime) => HttpResult | Promise<HttpResult>,
  input: Input,
  request: RequestRoute | undefined,
  startedMs: number,
): Promise<HttpResponseInit> {
  let runtime: Runtime;
  try {
    runtime = await loadRuntime();
  } catch (error) {
    return misconfigured(error);
  }
  return answer(runtime, await handle(input, runtime), request, startedMs);
}

function misconfigured(error: unknown): HttpResponseInit {
  jsonLogger().log("error", "runtime-unavailable", errorLogFields(error));
  return toResponse(errorResult(500, "server_error", "The broker is misconfigured; see its logs."));
}

function answer(runtime: Runtime, result: HttpResult, request: RequestRoute | undefined, startedMs: number): HttpResponseInit {
  if (request) {
    const profile = request.route === "token" ? runtime.broker.profile(request.profile)?.name : undefined;
    runtime.metrics.httpRequest({
      route: request.route,
      status: result.status,
      ...(profile ? { profile } : {}),
      durationMs: performance.now() - startedMs,
    });
  }
  return toResponse(result);
}

/** A pre-serialised body (responses.ts, servedTokenResult) goes out as it is; the worker serialises any other. */
function toResponse(result: HttpResult): HttpResponseInit {
  return result.text === undefined
    ? { status: result.status, headers: result.headers, jsonBody: result.body }
    : { status: result.status, headers: result.headers, body: result.text };
}
