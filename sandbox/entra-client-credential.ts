/**
 * A TokenCredential that gets client-credentials tokens from the Entra stand-in. @azure/identity's
 * ClientSecretCredential cannot be used: MSAL insists on an https authority, and the stand-in is
 * plain http on 127.0.0.1.
 */
import type { AccessToken, TokenCredential } from "@azure/identity";

export function entraClientCredential(options: { tokenUrl: string; clientId: string; clientSecret: string }): TokenCredential {
  const cache = new Map<string, AccessToken>();
  return {
    async getToken(scopes) {
      const scope = (Array.isArray(scopes) ? scopes : [scopes]).join(" ");
      const cached = cache.get(scope);
      if (cached && cached.expiresOnTimestamp - Date.now() > 60_000) return cached;
      const response = await fetch(options.tokenUrl, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "client_credentials", client_id: options.clientId, client_secret: options.clientSecret, scope }),
      });
      const body = (await response.json()) as { access_token?: string; expires_in?: number; error?: string; error_description?: string };
      if (!response.ok || !body.access_token) throw new Error(`Entra stand-in refused a token for ${scope}: ${body.error ?? response.status} ${body.error_description ?? ""}`);
      const token = { token: body.access_token, expiresOnTimestamp: Date.now() + (body.expires_in ?? 3600) * 1000, tokenType: "Bearer" as const };
      cache.set(scope, token);
      return token;
    },
  };
}
