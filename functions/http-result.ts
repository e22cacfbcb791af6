import type { HttpResponseInit } from "@azure/functions";
import { BrokerError } from "../src/errors.js";
import { errorResult, type HttpResult } from "../src/http/responses.js";
import type { Logger } from "../src/logging.js";
import { jsonLogger } from "../src/logging.js";

export function toResponse(result: HttpResult): HttpResponseInit {
  return { status: result.status, headers: result.headers, jsonBody: result.body };
}

/** A broken configuration is an operator problem: log it in full, tell the caller only that. */
export function configFailure(error: unknown, logger: Logger = jsonLogger()): HttpResponseInit {
  logger.log("error", "runtime-unavailable", {
    code: error instanceof BrokerError ? error.code : "ERR_UNEXPECTED",
    message: error instanceof Error ? error.message : String(error),
  });
  return toResponse(errorResult(500, "server_error", "The broker is misconfigured; see its logs."));
}
