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
 * operator problem: it is logged in full and the caller is told only that.
 */
export async function withRuntime(handle: (runtime: Runtime) => Promise<HttpResult>, request?: RequestRoute): Promise<HttpResponseInit> {
  const startedMs = performance.now();
  let runtime: Runtime;
  try {
    runtime = loadedRuntime() ?? (await loadRuntime());
  } catch (error) {
    jsonLogger().log("error", "runtime-unavailable", errorLogFields(error));
    return toResponse(errorResult(500, "server_error", "The broker is misconfigured; see its logs."));
  }
  const result = await handle(runtime);
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

function toResponse(result: HttpResult): HttpResponseInit {
  return { status: result.status, headers: result.headers, jsonBody: result.body };
}
