/**
 * GET /api/token/{profile?} as README "HTTP API" says: authenticate, then look up the profile (404 only
 * after authentication), then authorise by app role, then serve. One audit line per request.
 */
import { authorize, isCallerAuthError, type Caller, type CallerVerifier, type HeaderSource } from "../auth/index.js";
import { isProfileName } from "../config/profile.js";
import { errorCodeOf } from "../errors.js";
import type { Logger } from "../logging.js";
import { NoTokenError } from "../renewal/profile-tokens.js";
import type { BrokerPort } from "./broker-port.js";
import { serveCustomerToken } from "./customer-endpoint.js";
import { parseCustomerQuery, type QuerySource } from "./customer-request.js";
import { errorResult, forbidden, jsonResult, unauthorized, isoExpiry, unavailable, type HttpResult } from "./responses.js";

export interface TokenRequest {
  headers: HeaderSource;
  /** The `{profile?}` route segment; undefined for GET /api/token. */
  profile?: string;
  /** The query string; `customer` and `external_ref` ask for a customer's token. */
  query?: QuerySource;
}

export interface EndpointDependencies {
  broker: BrokerPort;
  /** Undefined when caller authentication is not configured: then nobody is let in. */
  verifier?: CallerVerifier;
  logger: Logger;
  now?: () => number;
}

const KEY_SET_RETRY_SECONDS = 5;

export async function handleTokenRequest(request: TokenRequest, deps: EndpointDependencies): Promise<HttpResult> {
  const now = deps.now ?? Date.now;
  const audit = (result: HttpResult, fields: Record<string, unknown>): HttpResult => {
    deps.logger.log(result.status === 200 ? "info" : "warn", "token-request", {
      status: result.status,
      outcome: result.status === 200 ? "served" : "refused",
      ...requestedProfileFields(request.profile),
      ...fields,
    });
    return result;
  };

  // A repeat caller comes from the verified-token cache without an await; anyone else is verified.
  let caller = deps.verifier?.cachedCaller(request.headers);
  if (caller === undefined) {
    const authenticated = await authenticate(request.headers, deps.verifier);
    if (!("caller" in authenticated)) return audit(authenticated.result, { reason: authenticated.reason });
    caller = authenticated.caller;
  }
  const who = { callerAppId: caller.appId, callerObjectId: caller.objectId ?? null };

  const profile = deps.broker.profile(request.profile);
  if (!profile) {
    return audit(errorResult(404, "not_found", "No such token profile."), { ...who, reason: "unknown_profile" });
  }
  const customerQuery = parseCustomerQuery(request.query);
  if (customerQuery.kind === "invalid") {
    return audit(errorResult(400, "invalid_request", customerQuery.description), {
      ...who,
      profile: profile.name,
      reason: "invalid_customer_query",
    });
  }
  if (customerQuery.kind === "customer") {
    return serveCustomerToken(caller, profile, customerQuery.request, { broker: deps.broker, now }, audit);
  }
  try {
    authorize(caller, profile.role);
  } catch {
    return audit(forbidden(), { ...who, profile: profile.name, reason: "missing_role" });
  }

  try {
    const token = await deps.broker.serve(profile.name);
    const expiresIn = Math.max(0, Math.floor((token.expiresAt.getTime() - now()) / 1000));
    const expiresAt = isoExpiry(token);
    // The hot path: its audit line is built in one literal (same fields, same order as audit()
    // makes) instead of three spreads; `npm run bench` showed the handler as a third of a request.
    deps.logger.log("info", "token-request", {
      status: 200,
      outcome: "served",
      requestedProfile: request.profile ?? null,
      callerAppId: caller.appId,
      callerObjectId: caller.objectId ?? null,
      profile: profile.name,
      tokenExpiresAt: expiresAt,
    });
    return jsonResult(200, {
      access_token: token.accessToken,
      token_type: token.tokenType,
      expires_in: expiresIn,
      expires_at: expiresAt,
      scope: token.scope,
      profile: profile.name,
    });
  } catch (error) {
    if (error instanceof NoTokenError) {
      return audit(unavailable("No valid token is available right now; renewal is failing.", error.retryAfterSeconds), {
        ...who,
        profile: profile.name,
        reason: "no_token",
      });
    }
    return audit(errorResult(500, "server_error", "The broker failed to serve the token."), {
      ...who,
      profile: profile.name,
      reason: errorCodeOf(error),
    });
  }
}

/**
 * The route segment as the audit line may carry it: the name when it is well formed, else only
 * its length. It arrives before authentication, so it is the anonymous caller's text.
 */
function requestedProfileFields(profile: string | undefined): Record<string, unknown> {
  if (profile === undefined) return { requestedProfile: null };
  if (isProfileName(profile)) return { requestedProfile: profile };
  return { requestedProfile: null, requestedProfileMalformedLength: profile.length };
}

type Authentication = { caller: Caller } | { result: HttpResult; reason: string };

export async function authenticate(headers: HeaderSource, verifier: CallerVerifier | undefined): Promise<Authentication> {
  if (!verifier) return { result: unauthorized(), reason: "caller_auth_not_configured" };
  try {
    return { caller: await verifier.verifyRequest(headers) };
  } catch (error) {
    if (isCallerAuthError(error)) {
      // Entra's key endpoint being down is our outage, not a bad caller.
      if (error.reason === "key_set_unavailable") {
        return { result: unavailable("Caller keys cannot be fetched right now.", KEY_SET_RETRY_SECONDS), reason: error.reason };
      }
      return { result: unauthorized(), reason: error.reason };
    }
    return { result: unauthorized(), reason: "unexpected_auth_error" };
  }
}
