/**
 * Profile → Maskinporten token: one grant per attempt, signed by the profile's signer.
 * The same grant input mapping serves the broker and the CLI.
 */
import type { TokenProfile } from "../config/domain.js";
import { profileFingerprint } from "../grant/fingerprint.js";
import { createGrant, type GrantClaimsInput, type GrantOptions } from "../grant/grant.js";
import type { GrantSigner } from "../signing/signer.js";
import { storedTokenFrom, type IssuedToken, type StoredToken } from "../token-store/stored-token.js";

/** The port to Maskinporten's token endpoint (src/maskinporten/client.ts implements it). */
export interface TokenEndpoint {
  /** One grant per attempt from `makeGrant(audience)`; retries transient failures. */
  requestToken(
    makeGrant: (audience: string) => Promise<string>,
    requestedScopes?: readonly string[],
    options?: { maxAttempts?: number },
  ): Promise<IssuedToken>;
}

export function grantInputFor(profile: TokenProfile, audience: string): GrantClaimsInput {
  return {
    audience,
    clientId: profile.clientId,
    scopes: profile.scopes,
    ...(profile.resource !== undefined ? { resource: profile.resource } : {}),
    ...(profile.consumerOrg ? { consumerOrg: profile.consumerOrg } : {}),
    ...(profile.pid ? { pid: profile.pid } : {}),
    ...(profile.issOnBehalfOf ? { issOnBehalfOf: profile.issOnBehalfOf } : {}),
    ...(profile.authorizationDetails ? { authorizationDetails: profile.authorizationDetails } : {}),
  };
}

export interface TokenIssuerDependencies {
  signerFor(profile: TokenProfile): GrantSigner;
  clientFor(profile: TokenProfile): TokenEndpoint;
  grantOptions?: GrantOptions;
}

export function createTokenIssuer(
  deps: TokenIssuerDependencies,
): (profile: TokenProfile, options?: { maxAttempts?: number }) => Promise<StoredToken> {
  return async (profile, options) => {
    const signer = deps.signerFor(profile);
    const token = await deps
      .clientFor(profile)
      .requestToken((audience) => createGrant(grantInputFor(profile, audience), signer, deps.grantOptions), profile.scopes, options);
    return storedTokenFrom(token, profileFingerprint(profile));
  };
}
