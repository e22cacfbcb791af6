import functions, { type HttpRequest, type HttpResponseInit } from "@azure/functions";
import { handleHealthRequest } from "../src/http/health-endpoint.js";
import { withRuntime } from "./with-runtime.js";

export function healthHandler(request: HttpRequest): Promise<HttpResponseInit> {
  return withRuntime((runtime) => handleHealthRequest(request.headers, runtime), { route: "health" });
}

// @azure/functions is CommonJS without detectable named exports: take `app` from the default export.
functions.app.http("health", { route: "health", methods: ["GET"], authLevel: "anonymous", handler: healthHandler });
