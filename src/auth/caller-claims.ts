import type { JWTPayload } from "jose";
import { unauthenticated } from "./auth-error.js";
import type { Caller } from "./caller.js";

export type EntraTokenVersion = "1.0" | "2.0";

/**
 * Turns the claims of a token whose signature, issuer, audience and lifetime are already checked
 * into a Caller. Pure. Checks what jose does not: the tenant, and the shape of the claims we use.
 * Requiring the client app id (`azp`/`appid`) also keeps ID tokens out: they share issuer, audience
 * and keys with access tokens but carry neither claim.
 */
export function callerFromClaims(claims: JWTPayload, version: EntraTokenVersion, tenantId: string): Caller {
  checkAppTokenV2(claims, version);
  const tid = claims["tid"];
  if (typeof tid !== "string" || tid.toLowerCase() !== tenantId.toLowerCase()) {
    throw unauthenticated("invalid_tenant", "tid is not the configured tenant");
  }

  const appIdClaim = version === "2.0" ? "azp" : "appid";
  const appId = claims[appIdClaim];
  if (typeof appId !== "string" || appId === "") {
    throw unauthenticated("invalid_claims", `missing "${appIdClaim}" (not an application access token)`);
  }

  const objectId = claims["oid"];
  if (objectId !== undefined && typeof objectId !== "string") throw unauthenticated("invalid_claims", '"oid" is not a string');

  const roles = claims["roles"];
  if (roles !== undefined && !(Array.isArray(roles) && roles.every((role) => typeof role === "string"))) {
    throw unauthenticated("invalid_claims", '"roles" is not an array of strings');
  }

  const exp = claims.exp;
  if (typeof exp !== "number" || !Number.isFinite(exp)) throw unauthenticated("invalid_claims", '"exp" is not a number');

  return Object.freeze({
    appId,
    ...(objectId !== undefined ? { objectId } : {}),
    tenantId: tid.toLowerCase(),
    roles: Object.freeze([...((roles as string[] | undefined) ?? [])]),
    tokenExpiresAt: new Date(exp * 1000),
    authenticatedBy: "bearer" as const,
  });
}

/**
 * Callers are applications (README "HTTP API"), with v2.0 tokens (the broker's app registration sets
 * requestedAccessTokenVersion 2). A delegated token (a user signed in to some app: `scp`, or
 * `idtyp: "user"`) is refused even when it carries the role; so is a v1.0 token (`ver: "1.0"`,
 * the sts.windows.net issuer), which only a misconfigured or foreign app registration produces.
 */
function checkAppTokenV2(claims: JWTPayload, version: EntraTokenVersion): void {
  if (version !== "2.0" || claims["ver"] !== "2.0") {
    throw unauthenticated("unsupported_token_version", "only v2.0 access tokens are accepted");
  }
  if (claims["scp"] !== undefined) throw unauthenticated("delegated_token", "\"scp\" present: a user's token, not an application's");
  const idtyp = claims["idtyp"];
  if (idtyp !== undefined && idtyp !== "app") throw unauthenticated("delegated_token", '"idtyp" is not "app"');
}
