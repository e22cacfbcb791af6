/**
 * A caller token for the sandbox's own caller (`env.caller`), by client credentials at the HTTPS
 * Entra stand-in, trusting only the sandbox CA: what a workload does before calling the broker.
 */
import { expect } from "vitest";
import type { Sandbox } from "../../sandbox/sandbox.js";

export async function sandboxCallerToken(sandbox: Sandbox): Promise<string> {
  const { caller, entraTokenUrl } = sandbox.env;
  const response = await sandbox.entra.fetch(entraTokenUrl, {
    method: "POST",
    body: new URLSearchParams({
      grant_type: "client_credentials",
      client_id: caller.clientId,
      client_secret: caller.clientSecret,
      scope: caller.scope,
    }),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}
