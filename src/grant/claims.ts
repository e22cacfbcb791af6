/**
 * Maskinporten JWT grant claims, exactly as Digdir documents them. Pure: the clock and the jti
 * source are parameters.
 */

/** Maskinporten rejects grants whose exp − iat exceeds 120 s; we stay well inside that. */
export const GRANT_LIFETIME_SECONDS = 60;

export interface GrantClaimsInput {
  /** The Maskinporten issuer, exactly (trailing slash kept). */
  audience: string;
  clientId: string;
  scopes: readonly string[];
  resource?: string | readonly string[];
  consumerOrg?: string;
  pid?: string;
  issOnBehalfOf?: string;
  authorizationDetails?: readonly unknown[];
}

export interface GrantClaims {
  aud: string;
  iss: string;
  scope: string;
  iat: number;
  exp: number;
  jti: string;
  /** Always an array: Digdir's grant page says "currently only array supported". */
  resource?: readonly string[];
  consumer_org?: string;
  pid?: string;
  iss_onbehalfof?: string;
  authorization_details?: readonly unknown[];
}

/**
 * Builds the claim set. `iat` is floored to whole seconds so it is never in the future relative to
 * our own clock; optional claims appear only when set (Maskinporten rejects unknown or empty ones).
 */
export function buildGrantClaims(input: GrantClaimsInput, nowMs: number, jti: string): GrantClaims {
  const iat = Math.floor(nowMs / 1000);
  const claims: GrantClaims = {
    aud: input.audience,
    iss: input.clientId,
    scope: input.scopes.join(" "),
    iat,
    exp: iat + GRANT_LIFETIME_SECONDS,
    jti,
  };
  const resource = input.resource === undefined ? [] : [input.resource].flat();
  if (resource.length > 0) claims.resource = resource;
  if (input.consumerOrg) claims.consumer_org = input.consumerOrg;
  if (input.pid) claims.pid = input.pid;
  if (input.issOnBehalfOf) claims.iss_onbehalfof = input.issOnBehalfOf;
  if (input.authorizationDetails && input.authorizationDetails.length > 0) {
    claims.authorization_details = input.authorizationDetails;
  }
  return claims;
}
