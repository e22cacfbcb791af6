/**
 * What a resource server (Key Vault, here) checks before it honours an Entra access token:
 * signature by one of the tenant's published keys (fetched from the stand-in's JWKS, as real
 * services fetch Entra's), issuer (v1.0 or v2.0 form), tenant, audience and lifetime. A token that
 * fails any of these is just not accepted; only an unreachable key set is an error.
 */
import { createRemoteJWKSet, customFetch, errors, jwtVerify } from "jose";

/** The parts of an Entra tenant (the stand-in) that a token check needs. */
export interface EntraTokenIssuer {
  readonly tenantId: string;
  /** v2.0 issuer. */
  readonly issuer: string;
  /** v1.0 issuer (managed identity tokens for Key Vault are v1.0). */
  readonly v1Issuer: string;
  readonly jwksUri: string;
  /** How to fetch the key set (the HTTPS stand-in's trusting fetch); global fetch when absent. */
  readonly fetch?: (url: string, init?: RequestInit) => Promise<Response>;
}

export interface EntraAccessTokenCheckOptions {
  /**
   * Accepted `aud` values, compared exactly: Key Vault takes `https://vault.azure.net` and its app
   * id `cfa8b339-82a2-471a-a3c9-0fc0be7a4093`, and refuses `https://vault.azure.net/` (AKV10022).
   */
  audiences: string[];
  /** Allowed clock skew for `exp`/`nbf`; default 300 s, Microsoft.IdentityModel's default. */
  clockToleranceSeconds?: number;
  /** Clock (epoch ms); default Date.now. */
  now?: () => number;
}

export type EntraAccessTokenCheck = (bearer: string) => Promise<boolean>;

export function createEntraAccessTokenCheck(entra: EntraTokenIssuer, options: EntraAccessTokenCheckOptions): EntraAccessTokenCheck {
  if (options.audiences.length === 0) throw new Error("createEntraAccessTokenCheck: name at least one audience");
  const keySet = createRemoteJWKSet(new URL(entra.jwksUri), ...(entra.fetch ? [{ [customFetch]: entra.fetch }] : []));
  const tenantId = entra.tenantId.toLowerCase();
  const now = options.now ?? Date.now;

  return async (bearer) => {
    try {
      const { payload } = await jwtVerify(bearer, keySet, {
        algorithms: ["RS256"],
        issuer: [entra.issuer, entra.v1Issuer],
        audience: options.audiences,
        requiredClaims: ["exp", "tid"],
        clockTolerance: options.clockToleranceSeconds ?? 300,
        currentDate: new Date(now()),
      });
      return typeof payload["tid"] === "string" && payload["tid"].toLowerCase() === tenantId;
    } catch (error) {
      // A bad token is a "no"; a key set that cannot be fetched is an outage the caller should see.
      if (error instanceof errors.JOSEError && !(error instanceof errors.JWKSTimeout)) return false;
      throw error;
    }
  };
}

/** How Key Vault judges a bearer token: who the caller is, or why the token is refused. */
export type BearerVerdict =
  { accepted: true; caller: { objectId: string; appId?: string; issuer: string } } | { accepted: false; message: string };

/**
 * The same checks as createEntraAccessTokenCheck, answering with the caller (`oid`, `appid`/`azp`,
 * `iss`) for role assignments, or with Key Vault's refusal text: AKV10022 for a token meant for
 * another audience, AKV10032 for any other bad token (issuer, tenant, lifetime, signature).
 */
export function createEntraBearerAuthenticator(
  entra: EntraTokenIssuer,
  options: EntraAccessTokenCheckOptions,
): (bearer: string) => Promise<BearerVerdict> {
  if (options.audiences.length === 0) throw new Error("createEntraBearerAuthenticator: name at least one audience");
  const keySet = createRemoteJWKSet(new URL(entra.jwksUri), ...(entra.fetch ? [{ [customFetch]: entra.fetch }] : []));
  const tenantId = entra.tenantId.toLowerCase();
  const now = options.now ?? Date.now;
  const issuers = [entra.issuer, entra.v1Issuer];
  const rejected = (message: string): BearerVerdict => ({ accepted: false, message });

  return async (bearer) => {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(bearer, keySet, {
        algorithms: ["RS256"],
        requiredClaims: ["exp"],
        clockTolerance: options.clockToleranceSeconds ?? 300,
        currentDate: new Date(now()),
      }));
    } catch (error) {
      if (error instanceof errors.JOSEError && !(error instanceof errors.JWKSTimeout))
        return rejected("AKV10032: The bearer token was rejected.");
      throw error;
    }
    const audience = Array.isArray(payload["aud"]) ? payload["aud"] : [payload["aud"]];
    if (!audience.some((value) => typeof value === "string" && options.audiences.includes(value))) {
      return rejected(`AKV10022: Invalid audience. Expected ${options.audiences[0]}, found: ${audience.map(String).join(", ")}.`);
    }
    const issuer = typeof payload["iss"] === "string" ? payload["iss"] : "";
    if (!issuers.includes(issuer) || typeof payload["tid"] !== "string" || payload["tid"].toLowerCase() !== tenantId) {
      return rejected(`AKV10032: Invalid issuer. Expected one of ${issuers.join(", ")}, found ${issuer}.`);
    }
    const objectId = payload["oid"];
    if (typeof objectId !== "string") return rejected("AKV10032: The bearer token was rejected.");
    const appId = typeof payload["appid"] === "string" ? payload["appid"] : typeof payload["azp"] === "string" ? payload["azp"] : undefined;
    return { accepted: true, caller: { objectId, ...(appId ? { appId } : {}), issuer } };
  };
}
