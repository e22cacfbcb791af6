import functions, { type HttpRequest, type HttpResponseInit } from "@azure/functions";
import { getRuntime } from "../src/app/runtime.js";
import { handleHealthRequest } from "../src/http/health-endpoint.js";
import { configFailure, toResponse } from "./http-result.js";

export async function healthHandler(request: HttpRequest): Promise<HttpResponseInit> {
  let runtime;
  try {
    runtime = getRuntime();
  } catch (error) {
    return configFailure(error);
  }
  return toResponse(await handleHealthRequest(request.headers, runtime));
}

// @azure/functions is CommonJS without detectable named exports: take `app` from the default export.
functions.app.http("health", { route: "health", methods: ["GET"], authLevel: "anonymous", handler: healthHandler });
