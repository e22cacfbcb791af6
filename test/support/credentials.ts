/**
 * A TokenCredential for tests against the stand-ins: hands out one fixed bearer token, valid for
 * an hour, and records what it was asked for so a test can check the challenge's tenant and scope.
 */
import type { AccessToken, GetTokenOptions, TokenCredential } from "@azure/core-auth";

export interface TokenRequest {
  scopes: string[];
  tenantId: string | undefined;
  claims: string | undefined;
}

export interface RecordingCredential extends TokenCredential {
  /** Every getToken call, in order. */
  readonly requests: readonly TokenRequest[];
}

export function staticCredential(token = "sandbox-access-token"): RecordingCredential {
  const requests: TokenRequest[] = [];
  return {
    requests,
    async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken> {
      requests.push({
        scopes: Array.isArray(scopes) ? [...scopes] : [scopes],
        tenantId: options?.tenantId,
        claims: options?.claims,
      });
      return { token, expiresOnTimestamp: Date.now() + 3_600_000, tokenType: "Bearer" };
    },
  };
}
