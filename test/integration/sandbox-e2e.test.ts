/**
 * The sandbox end to end, as a user meets it: the timer renews, a caller gets a token from the
 * Entra stand-in and then the Maskinporten token from the broker over HTTP, and a workload reads the
 * same token from the Key Vault secret with the plain SDK.
 */
import { ClientSecretCredential } from "@azure/identity";
import { SecretClient } from "@azure/keyvault-secrets";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatLogLine, type Logger } from "../../src/logging.js";
import { startSandbox, type Sandbox } from "../../sandbox/sandbox.js";
import { sandboxCallerToken } from "../support/sandbox-caller.js";

let sandbox: Sandbox;
const logLines: string[] = [];
const logger: Logger = { log: (level, event, fields) => logLines.push(formatLogLine(level, event, fields)) };

beforeAll(async () => {
  sandbox = await startSandbox({
    port: 0,
    logger,
    renewSchedule: "* * * * * *",
    // Due almost at once, so the scheduled ticks (every second) visibly renew.
    settingsOverrides: { RENEW_BEFORE_EXPIRY_RATIO: "0.99" },
  });
});
afterAll(() => sandbox?.close());

const callerToken = () => sandboxCallerToken(sandbox);

async function mint(claims: Record<string, unknown>): Promise<string> {
  const response = await sandbox.entra.fetch(sandbox.env.entraMintUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(claims),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

const getToken = (path: string, token?: string) =>
  fetch(`${sandbox.env.brokerUrl}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});

async function eventually<T>(probe: () => T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("sandbox end to end", () => {
  it("renews on the timer's schedule, not only at start", async () => {
    await eventually(() => (sandbox.maskinporten.issuedTokens.length >= 4 ? true : undefined), "two scheduled renewals per profile");
    expect(logLines.some((line) => line.includes('"event":"renewal-tick"'))).toBe(true);
  });

  it("serves the current token over HTTP and the same token sits in the Key Vault secret", async () => {
    const caller = await callerToken();
    const response = await getToken("/api/token/skatt", caller);
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const body = (await response.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(["access_token", "expires_at", "expires_in", "profile", "scope", "token_type"]);
    expect(body).toMatchObject({ token_type: "Bearer", scope: "skatteetaten:testnorge", profile: "skatt" });
    expect(sandbox.maskinporten.verifyAccessToken(String(body.access_token))).toMatchObject({ client_id: "sandbox-skatt-client" });

    // A workload with the plain SDK (test-only trust of the sandbox CA).
    const { caller: workload, tenantId, entraAuthorityHost, caPem } = sandbox.env;
    const workloadIdentity = new ClientSecretCredential(tenantId, workload.clientId, workload.clientSecret, {
      authorityHost: entraAuthorityHost,
      disableInstanceDiscovery: true,
      tlsOptions: { ca: caPem },
    });
    const secrets = new SecretClient(sandbox.env.keyVaultUrl, workloadIdentity, {
      disableChallengeResourceVerification: true,
      tlsOptions: { ca: caPem },
    });
    const served = String(body.access_token);
    // The broker serves a new token from memory while its secret write is still in flight, so the
    // secret catches up within a moment; the timer may also have stored an even later token since.
    let secret = await secrets.getSecret("maskinporten-skatt");
    for (let i = 0; i < 50 && secret.properties.expiresOn!.getTime() < Date.parse(String(body.expires_at)); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      secret = await secrets.getSecret("maskinporten-skatt");
    }
    expect(secret.properties.expiresOn!.getTime()).toBeGreaterThanOrEqual(Date.parse(String(body.expires_at)));
    if (secret.value === served) expect(secret.properties.expiresOn?.toISOString()).toBe(body.expires_at);
    expect(sandbox.maskinporten.verifyAccessToken(secret.value!)).toMatchObject({ client_id: "sandbox-skatt-client" });
    expect(secret.properties.contentType).toBe("application/jwt");
    const tags = secret.properties.tags!;
    expect(Object.keys(tags).sort()).toEqual(["expires_at", "fingerprint", "issued_at", "profile", "scope", "token_type"]);
    expect(tags).toMatchObject({
      profile: "skatt",
      scope: "skatteetaten:testnorge",
      token_type: "Bearer",
      expires_at: secret.properties.expiresOn!.toISOString(),
    });
    expect(secret.properties.notBefore?.toISOString()).toBe(tags.issued_at);
  });

  it("serves the default profile at /api/token", async () => {
    const body = (await (await getToken("/api/token", await callerToken())).json()) as Record<string, unknown>;
    expect(body.profile).toBe("skatt");
  });

  it.each([
    ["no token", undefined],
    ["a garbled token", "not-a-jwt"],
  ])("answers 401 invalid_token for %s", async (_name, token) => {
    const response = await getToken("/api/token/skatt", token);
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe('Bearer error="invalid_token"');
    expect(await response.json()).toEqual({ error: "invalid_token", error_description: expect.any(String) });
  });

  it.each([
    [
      "expired",
      { exp: Math.floor(Date.now() / 1000) - 600, iat: Math.floor(Date.now() / 1000) - 4000, nbf: Math.floor(Date.now() / 1000) - 4000 },
    ],
    ["from another issuer", { iss: "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0" }],
    ["for another audience", { aud: "api://someone-else" }],
    ["from another tenant", { tid: "00000000-0000-0000-0000-000000000000" }],
  ])("answers 401 for a signed token that is %s", async (_name, claims) => {
    const response = await getToken("/api/token/skatt", await mint({ roles: ["Token.skatt"], ...claims }));
    expect(response.status).toBe(401);
  });

  it("answers 403 insufficient_scope to a valid caller without the profile's role", async () => {
    const response = await getToken("/api/token/sdir", await mint({ roles: ["Token.skatt"] }));
    expect(response.status).toBe(403);
    expect(response.headers.get("www-authenticate")).toBe('Bearer error="insufficient_scope"');
  });

  it("answers 404 for an unknown profile only after authentication", async () => {
    expect((await getToken("/api/token/nope")).status).toBe(401);
    expect((await getToken("/api/token/nope", await mint({ roles: ["Token.skatt"] }))).status).toBe(404);
  });

  it("says healthy anonymously, with details only for the caller's profiles", async () => {
    const anonymous = await getToken("/api/health");
    expect(anonymous.status).toBe(200);
    expect(await anonymous.json()).toEqual({ status: "healthy" });
    const detailed = (await (await getToken("/api/health", await mint({ roles: ["Token.sdir"] }))).json()) as {
      profiles: { profile: string; certificateDaysLeft: number }[];
    };
    expect(detailed.profiles.map((p) => p.profile)).toEqual(["sdir"]);
    expect(detailed.profiles[0]!.certificateDaysLeft).toBeGreaterThan(300);
  });

  it("audits every request without the token", async () => {
    const audit = logLines.filter((line) => line.includes('"event":"token-request"'));
    expect(audit.length).toBeGreaterThanOrEqual(8);
    for (const record of sandbox.maskinporten.issuedTokens) {
      expect(logLines.join("\n")).not.toContain(record.access_token);
    }
    const served = audit.map((line) => JSON.parse(line) as Record<string, unknown>).find((r) => r.status === 200)!;
    expect(served).toMatchObject({ callerAppId: "sandbox-caller", profile: "skatt", outcome: "served" });
  });
});
