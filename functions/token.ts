import functions, { type HttpRequest, type HttpResponseInit } from "@azure/functions";
import { getRuntime } from "../src/app/runtime.js";
import { handleTokenRequest } from "../src/http/token-endpoint.js";
import { configFailure, toResponse } from "./http-result.js";

export async function tokenHandler(request: HttpRequest): Promise<HttpResponseInit> {
  let runtime;
  try {
    runtime = getRuntime();
  } catch (error) {
    return configFailure(error);
  }
  const profile = request.params.profile;
  return toResponse(await handleTokenRequest({ headers: request.headers, ...(profile ? { profile } : {}) }, runtime));
}

// @azure/functions is CommonJS without detectable named exports: take `app` from the default export.
functions.app.http("token", { route: "token/{profile?}", methods: ["GET"], authLevel: "anonymous", handler: tokenHandler });
