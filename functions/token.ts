import functions, { type HttpRequest, type HttpResponseInit } from "@azure/functions";
import { handleTokenRequest, type TokenRequest } from "../src/http/token-endpoint.js";
import { withRuntime, type RequestRoute } from "./with-runtime.js";

const DEFAULT_PROFILE_ROUTE: RequestRoute = Object.freeze({ route: "token" });

/** Synchronous for a repeat caller of a held token (see token-endpoint.ts); the worker awaits either. */
export function tokenHandler(request: HttpRequest): HttpResponseInit | Promise<HttpResponseInit> {
  const profile = request.params.profile;
  const tokenRequest: TokenRequest = profile
    ? { headers: request.headers, query: request.query, profile }
    : { headers: request.headers, query: request.query };
  return withRuntime(handleTokenRequest, tokenRequest, profile ? { route: "token", profile } : DEFAULT_PROFILE_ROUTE);
}

// @azure/functions is CommonJS without detectable named exports: take `app` from the default export.
functions.app.http("token", { route: "token/{profile?}", methods: ["GET"], authLevel: "anonymous", handler: tokenHandler });
