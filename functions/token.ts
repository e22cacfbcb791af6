import functions, { type HttpRequest, type HttpResponseInit } from "@azure/functions";
import { handleTokenRequest } from "../src/http/token-endpoint.js";
import { withRuntime } from "./with-runtime.js";

export function tokenHandler(request: HttpRequest): Promise<HttpResponseInit> {
  const profile = request.params.profile;
  return withRuntime(
    (runtime) => handleTokenRequest({ headers: request.headers, query: request.query, ...(profile ? { profile } : {}) }, runtime),
    { route: "token", ...(profile ? { profile } : {}) },
  );
}

// @azure/functions is CommonJS without detectable named exports: take `app` from the default export.
functions.app.http("token", { route: "token/{profile?}", methods: ["GET"], authLevel: "anonymous", handler: tokenHandler });
