/**
 * Serving one customer's token once the caller is authenticated and the profile found: role
 * check, then the customer cache, then the answer (README "Per-customer tokens").
 */
import type { Caller } from "../auth/index.js";
import type { TokenProfile } from "../config/domain.js";
import { CustomerDeniedError, type CustomerRequest } from "../customers/index.js";
import { errorCodeOf } from "../errors.js";
import { NoTokenError } from "../renewal/profile-tokens.js";
import type { StoredToken } from "../token-store/stored-token.js";
import type { BrokerPort } from "./broker-port.js";
import { checkCustomerRequest } from "./customer-request.js";
import { errorResult, jsonResult, unavailable, type HttpResult } from "./responses.js";

export type Audit = (result: HttpResult, fields: Record<string, unknown>) => HttpResult;

/**
 * Synchronous when the customer's token is held (fresh or due); a promise when it must be had
 * first. A token is answered by `answer` (the 200 and its audit line, made in token-endpoint.ts
 * as for a profile's token); refusals are audited here.
 */
export function serveCustomerToken(
  caller: Caller,
  profile: TokenProfile,
  request: CustomerRequest,
  deps: CustomerDependencies,
  audit: Audit,
  answer: (token: StoredToken) => HttpResult,
): HttpResult | Promise<HttpResult> {
  const fields: CustomerAuditFields = {
    callerAppId: caller.appId,
    callerObjectId: caller.objectId ?? null,
    profile: profile.name,
    customer: request.customer,
    externalRef: request.externalRef !== undefined,
  };
  const refusal = checkCustomerRequest(caller, profile, request);
  if (refusal) {
    const result =
      refusal.status === 403
        ? errorResult(403, "insufficient_scope", refusal.description, { "www-authenticate": 'Bearer error="insufficient_scope"' })
        : errorResult(400, "invalid_request", refusal.description);
    return audit(result, { ...fields, reason: refusal.reason });
  }
  const held = deps.broker.customerServableFromMemory(profile.name, request);
  return held === undefined ? serveWhenHad(profile, request, fields, deps, audit, answer) : answer(held);
}

type CustomerDependencies = { broker: BrokerPort; now: () => number };
type CustomerAuditFields = {
  callerAppId: string;
  callerObjectId: string | null;
  profile: string;
  customer: string;
  externalRef: boolean;
};

async function serveWhenHad(
  profile: TokenProfile,
  request: CustomerRequest,
  fields: CustomerAuditFields,
  deps: CustomerDependencies,
  audit: Audit,
  answer: (token: StoredToken) => HttpResult,
): Promise<HttpResult> {
  let token: StoredToken;
  try {
    token = await deps.broker.serveCustomer(profile.name, request);
  } catch (error) {
    if (error instanceof CustomerDeniedError) {
      const body: Record<string, unknown> = { error: "access_denied", error_description: error.errorDescription };
      if (error.errorUri) body.error_uri = error.errorUri;
      if (error.traceId) body.trace_id = error.traceId;
      body.maskinporten_error = error.error;
      return audit(jsonResult(403, body), { ...fields, reason: "maskinporten_denied", traceId: error.traceId ?? null });
    }
    if (error instanceof NoTokenError) {
      return audit(unavailable("No token for this customer can be had right now; retry later.", error.retryAfterSeconds), {
        ...fields,
        reason: "no_token",
      });
    }
    return audit(errorResult(500, "server_error", "The broker failed to serve the token."), { ...fields, reason: errorCodeOf(error) });
  }
  return answer(token);
}
