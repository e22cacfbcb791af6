import type { JWTPayload } from "jose";
import { unauthenticated } from "./auth-error.js";
import type { Caller } from "./caller.js";
import { callerFromClaims, type EntraTokenVersion } from "./caller-claims.js";

/**
 * App Service Authentication ("Easy Auth") validates the caller's token itself and passes the
 * claims on as `X-MS-CLIENT-PRINCIPAL`: base64 JSON `{auth_typ, claims:[{typ,val}], name_typ, role_typ}`.
 *
 * RISK: the header is only trustworthy when App Service Authentication is enabled and *requires*
 * authentication, because only then does the platform strip the header from incoming requests.
 * Anywhere else (auth off, "allow anonymous", a reachable backend, the sandbox) anyone can send it
 * and be whoever they like. That is why the verifier ignores it unless explicitly told otherwise.
 */
export const APP_SERVICE_PRINCIPAL_HEADER = "x-ms-client-principal";
export const DEFAULT_MAX_PRINCIPAL_HEADER_LENGTH = 32 * 1024;

// Easy Auth maps some claim types to the long .NET names; we map them back to the JWT names.
const CLAIM_NAMES: Record<string, string> = {
  "http://schemas.microsoft.com/identity/claims/tenantid": "tid",
  "http://schemas.microsoft.com/identity/claims/objectidentifier": "oid",
  "http://schemas.microsoft.com/ws/2008/06/identity/claims/role": "roles",
};
const NUMERIC_CLAIMS = new Set(["exp", "nbf", "iat"]);
const STANDARD_BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Parses the header into JWT-style claims. Checks shape only; the verifier checks the values. */
export function claimsFromAppServicePrincipal(headerValue: string, maxLength: number = DEFAULT_MAX_PRINCIPAL_HEADER_LENGTH): JWTPayload {
  if (headerValue.length > maxLength) throw unauthenticated("token_too_large", "client principal header too long");
  const encoded = headerValue.trim();
  if (encoded === "" || encoded.length % 4 !== 0 || !STANDARD_BASE64.test(encoded)) {
    throw unauthenticated("invalid_principal_header", "not base64");
  }
  let principal: unknown;
  try {
    principal = JSON.parse(Buffer.from(encoded, "base64").toString("utf8"));
  } catch (cause) {
    throw unauthenticated("invalid_principal_header", "not JSON", cause);
  }
  if (typeof principal !== "object" || principal === null || Array.isArray(principal)) {
    throw unauthenticated("invalid_principal_header", "not a JSON object");
  }
  const { auth_typ: authType, claims, role_typ: roleType } = principal as Record<string, unknown>;
  if (authType !== "aad") throw unauthenticated("invalid_principal_header", "not an Entra (aad) principal");
  if (!Array.isArray(claims)) throw unauthenticated("invalid_principal_header", "claims is not an array");

  const roleTypes = new Set(["roles", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"]);
  if (typeof roleType === "string") roleTypes.add(roleType);

  // No prototype: a claim named "__proto__" or "constructor" is just a key.
  const result = Object.create(null) as Record<string, unknown>;
  const roles: string[] = [];
  for (const claim of claims) {
    if (typeof claim !== "object" || claim === null) throw unauthenticated("invalid_principal_header", "claim is not an object");
    const { typ, val } = claim as Record<string, unknown>;
    if (typeof typ !== "string" || typeof val !== "string") {
      throw unauthenticated("invalid_principal_header", "claim typ/val are not strings");
    }
    if (roleTypes.has(typ)) {
      roles.push(val);
      continue;
    }
    const name = CLAIM_NAMES[typ] ?? typ;
    if (Object.hasOwn(result, name)) throw unauthenticated("invalid_principal_header", `claim "${name}" repeated`);
    if (NUMERIC_CLAIMS.has(name)) {
      if (!/^\d{1,12}$/.test(val)) throw unauthenticated("invalid_principal_header", `claim "${name}" is not a number`);
      result[name] = Number(val);
    } else {
      result[name] = val;
    }
  }
  if (roles.length > 0) result["roles"] = roles;
  return result as JWTPayload;
}

/** What the principal header is checked against: the verifier's settings. */
export interface PrincipalCheck {
  tenantId: string;
  audiences: readonly string[];
  issuers: ReadonlyMap<string, EntraTokenVersion>;
  clockToleranceSeconds: number;
}

/**
 * The caller from a trusted `X-MS-CLIENT-PRINCIPAL` header, with the checks Easy Auth's own token
 * validation does not promise to have made for this app: issuer, audience, expiry.
 */
export function callerFromPrincipalHeader(headerValue: string, settings: PrincipalCheck, nowMs: number): Caller {
  const claims = claimsFromAppServicePrincipal(headerValue);
  const version = settings.issuers.get(typeof claims.iss === "string" ? claims.iss : "");
  if (version === undefined) throw unauthenticated("invalid_issuer", "client principal from another issuer");
  if (typeof claims.aud !== "string" || !settings.audiences.includes(claims.aud)) {
    throw unauthenticated("invalid_audience", "client principal for another audience");
  }
  const nowSeconds = nowMs / 1000;
  if (typeof claims.exp !== "number") throw unauthenticated("invalid_claims", "client principal without exp");
  if (claims.exp <= nowSeconds - settings.clockToleranceSeconds) throw unauthenticated("expired");
  if (typeof claims.nbf === "number" && claims.nbf > nowSeconds + settings.clockToleranceSeconds) {
    throw unauthenticated("not_yet_valid");
  }
  return Object.freeze({ ...callerFromClaims(claims, version, settings.tenantId), authenticatedBy: "app-service-principal" as const });
}
