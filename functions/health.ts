import functions, { type HttpRequest, type HttpResponseInit } from "@azure/functions";
import { handleHealthRequest } from "../src/http/health-endpoint.js";
import { withRuntime, type RequestRoute } from "./with-runtime.js";

const HEALTH_ROUTE: RequestRoute = Object.freeze({ route: "health" });

export function healthHandler(request: HttpRequest): HttpResponseInit | Promise<HttpResponseInit> {
  return withRuntime(handleHealthRequest, request.headers, HEALTH_ROUTE);
}

// @azure/functions is CommonJS without detectable named exports: take `app` from the default export.
functions.app.http("health", { route: "health", methods: ["GET"], authLevel: "anonymous", handler: healthHandler });
