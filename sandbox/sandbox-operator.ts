/**
 * The sandbox operator's credential (client credentials at the Entra stand-in, http or https
 * chaining to the sandbox CA), for `npm run sandbox:certificate` and its test. Plain node:https so
 * it works whichever Entra stand-in transport the sandbox runs.
 */
import { request as httpsRequest } from "node:https";
import type { AccessToken, TokenCredential } from "@azure/core-auth";

export interface OperatorEnv {
  entraTokenUrl: string;
  /** The sandbox CA (newer sandboxes) or the Key Vault stand-in's CA. */
  caPem?: string;
  keyVaultCaPem: string;
  operator: { clientId: string; clientSecret: string };
}

export function sandboxOperatorCredential(env: OperatorEnv): TokenCredential {
  return {
    async getToken(scopes): Promise<AccessToken> {
      const form = new URLSearchParams({
        grant_type: "client_credentials",
        client_id: env.operator.clientId,
        client_secret: env.operator.clientSecret,
        scope: (Array.isArray(scopes) ? scopes : [scopes]).join(" "),
      });
      const url = new URL(env.entraTokenUrl);
      const text =
        url.protocol === "https:"
          ? await postHttps(url, form.toString(), env.caPem ?? env.keyVaultCaPem)
          : await (await fetch(url, { method: "POST", body: form })).text();
      const body = JSON.parse(text) as { access_token?: string; expires_in?: number; error_description?: string };
      if (!body.access_token) throw new Error(`the Entra stand-in refused the operator: ${body.error_description ?? "no token"}`);
      return { token: body.access_token, expiresOnTimestamp: Date.now() + (body.expires_in ?? 3600) * 1000, tokenType: "Bearer" };
    },
  };
}

function postHttps(url: URL, body: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(
      url,
      { method: "POST", ca, headers: { "Content-Type": "application/x-www-form-urlencoded" } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
      },
    );
    request.on("error", reject);
    request.end(body);
  });
}
