/**
 * GET /api/token/{profile?} as README "HTTP API" says: authenticate, then look up the profile (404 only
 * after authentication), then authorise by app role, then serve. One audit line per request.
 *
 * The path nearly every request takes (a repeat caller, a held token) is synchronous from start to
 * answer: the caller comes from the verified-token cache and the token from memory, and neither
 * step awaits. Anything that needs I/O (a new caller token, a token to read or renew) goes async
 * from the step that needs it and rejoins the same code after.
 */
import { authorize, isCallerAuthError, type Caller, type CallerVerifier, type HeaderSource } from "../auth/index.js";
import type { TokenProfile } from "../config/domain.js";
import { isProfileName } from "../config/profile.js";
import { errorCodeOf } from "../errors.js";
import type { Logger } from "../logging.js";
import { NoTokenError } from "../renewal/profile-tokens.js";
import type { StoredToken } from "../token-store/stored-token.js";
import type { BrokerPort } from "./broker-port.js";
import { serveCustomerToken } from "./customer-endpoint.js";
import { parseCustomerQuery, type QuerySource } from "./customer-request.js";
import type { CustomerRequest } from "../customers/index.js";
import { errorResult, forbidden, unauthorized, isoExpiry, unavailable, servedTokenResult, type HttpResult } from "./responses.js";

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

/** Synchronous when the caller is cached and the token held (the usual case); a promise otherwise. */
export function handleTokenRequest(request: TokenRequest, deps: EndpointDependencies): HttpResult | Promise<HttpResult> {
  const caller = deps.verifier?.cachedCaller(request.headers);
  return caller === undefined ? authenticateThenHandle(request, deps) : handleAuthenticated(request, caller, deps);
}

async function authenticateThenHandle(request: TokenRequest, deps: EndpointDependencies): Promise<HttpResult> {
  const authenticated = await authenticate(request.headers, deps.verifier);
  if (!("caller" in authenticated)) return audit(request, deps, authenticated.result, { reason: authenticated.reason });
  return handleAuthenticated(request, authenticated.caller, deps);
}

function handleAuthenticated(request: TokenRequest, caller: Caller, deps: EndpointDependencies): HttpResult | Promise<HttpResult> {
  const profile = deps.broker.profile(request.profile);
  if (!profile) {
    return audit(request, deps, errorResult(404, "not_found", "No such token profile."), { ...who(caller), reason: "unknown_profile" });
  }
  const customerQuery = parseCustomerQuery(request.query);
  if (customerQuery.kind === "invalid") {
    return audit(request, deps, errorResult(400, "invalid_request", customerQuery.description), {
      ...who(caller),
      profile: profile.name,
      reason: "invalid_customer_query",
    });
  }
  if (customerQuery.kind === "customer") {
    const customer = customerQuery.request;
    return serveCustomerToken(
      caller,
      profile,
      customer,
      { broker: deps.broker, now: deps.now ?? Date.now },
      (result, fields) => audit(request, deps, result, fields),
      (token) => served(request, caller, profile, token, deps, customer),
    );
  }
  try {
    authorize(caller, profile.role);
  } catch {
    return audit(request, deps, forbidden(), { ...who(caller), profile: profile.name, reason: "missing_role" });
  }
  const held = deps.broker.servableFromMemory(profile.name);
  return held === undefined ? serveFromStore(request, caller, profile, deps) : served(request, caller, profile, held, deps);
}

async function serveFromStore(
  request: TokenRequest,
  caller: Caller,
  profile: TokenProfile,
  deps: EndpointDependencies,
): Promise<HttpResult> {
  let token: StoredToken;
  try {
    token = await deps.broker.serve(profile.name);
  } catch (error) {
    if (error instanceof NoTokenError) {
      return audit(request, deps, unavailable("No valid token is available right now; renewal is failing.", error.retryAfterSeconds), {
        ...who(caller),
        profile: profile.name,
        reason: "no_token",
      });
    }
    return audit(request, deps, errorResult(500, "server_error", "The broker failed to serve the token."), {
      ...who(caller),
      profile: profile.name,
      reason: errorCodeOf(error),
    });
  }
  return served(request, caller, profile, token, deps);
}

/** The 200 answer and its audit line, for a profile's token or (with `customer`) a customer's. */
function served(
  request: TokenRequest,
  caller: Caller,
  profile: TokenProfile,
  token: StoredToken,
  deps: EndpointDependencies,
  customer?: CustomerRequest,
): HttpResult {
  deps.logger.log("info", "token-request", servedAuditFields(caller, request.profile ?? null, profile.name, token, customer));
  return servedTokenResult(token, profile.name, (deps.now ?? Date.now)(), customer?.customer);
}

/**
 * The audit line of a served request: the same fields, in the same order, as audit() makes. A
 * repeat caller served the same token gets the same frozen object each time, so that the logger
 * can format its part of the line once (logging.ts, formatLogLine).
 */
type ServedAuditFields = {
  readonly status: 200;
  readonly outcome: "served";
  readonly requestedProfile: string | null;
  readonly callerAppId: string;
  readonly callerObjectId: string | null;
  readonly profile: string;
  /** Customer tokens only. */
  readonly customer?: string;
  readonly externalRef?: boolean;
  readonly tokenExpiresAt: string;
};
/** Per caller, the fields of its last served line, and for which token and route segment. */
const servedAuditFieldsOf = new WeakMap<Caller, { token: StoredToken; requestedProfile: string | null; fields: ServedAuditFields }>();

function servedAuditFields(
  caller: Caller,
  requestedProfile: string | null,
  profileName: string,
  token: StoredToken,
  customer: CustomerRequest | undefined,
): ServedAuditFields {
  const known = servedAuditFieldsOf.get(caller);
  // A token is one profile's, or one customer's (with or without external_ref): it decides the rest.
  if (known !== undefined && known.token === token && known.requestedProfile === requestedProfile) return known.fields;
  const who = {
    status: 200,
    outcome: "served",
    requestedProfile,
    callerAppId: caller.appId,
    callerObjectId: caller.objectId ?? null,
  } as const;
  const fields: ServedAuditFields = Object.freeze(
    customer === undefined
      ? { ...who, profile: profileName, tokenExpiresAt: isoExpiry(token) }
      : {
          ...who,
          profile: profileName,
          customer: customer.customer,
          externalRef: customer.externalRef !== undefined,
          tokenExpiresAt: isoExpiry(token),
        },
  );
  servedAuditFieldsOf.set(caller, { token, requestedProfile, fields });
  return fields;
}

function who(caller: Caller): { callerAppId: string; callerObjectId: string | null } {
  return { callerAppId: caller.appId, callerObjectId: caller.objectId ?? null };
}

function audit(request: TokenRequest, deps: EndpointDependencies, result: HttpResult, fields: Record<string, unknown>): HttpResult {
  deps.logger.log(result.status === 200 ? "info" : "warn", "token-request", {
    status: result.status,
    outcome: result.status === 200 ? "served" : "refused",
    ...requestedProfileFields(request.profile),
    ...fields,
  });
  return result;
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
