/**
 * What a resource server (Key Vault, here) checks before it honours an Entra access token:
 * signature by one of the tenant's published keys (fetched from the stand-in's JWKS, as real
 * services fetch Entra's), issuer (v1.0 or v2.0 form), tenant, audience and lifetime. A token that
 * fails any of these is just not accepted; only an unreachable key set is an error.
 */
import { createRemoteJWKSet, errors, jwtVerify } from "jose";

/** The parts of an Entra tenant (the stand-in) that a token check needs. */
export interface EntraTokenIssuer {
  readonly tenantId: string;
  /** v2.0 issuer. */
  readonly issuer: string;
  /** v1.0 issuer (managed identity tokens for Key Vault are v1.0). */
  readonly v1Issuer: string;
  readonly jwksUri: string;
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
  const keySet = createRemoteJWKSet(new URL(entra.jwksUri));
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
