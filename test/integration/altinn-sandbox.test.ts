/**
 * Altinn 3 tokens in the sandbox, as a user meets them: the timer function exchanges and stores,
 * a caller gets the Altinn token over HTTP and verifies it with the JWKS that `.sandbox/env.json`
 * names, a workload reads the same token from Key Vault; and with the exchange stand-in down, the
 * held token is served until nothing valid remains, then 503.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClientSecretCredential } from "@azure/identity";
import { SecretClient } from "@azure/keyvault-secrets";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatLogLine, type Logger } from "../../src/logging.js";
import { startSandbox, type Sandbox, type SandboxEnv } from "../../sandbox/sandbox.js";
import { sandboxCallerToken } from "../support/sandbox-caller.js";

const YEARLY = "0 0 0 1 1 *"; // the timer runs only when a test ticks it

const callerToken = sandboxCallerToken;

const get = (env: SandboxEnv, path: string, token: string) =>
  fetch(`${env.brokerUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });

function secretsOf(env: SandboxEnv): SecretClient {
  // A stock credential and client, with the sandbox's test-only options only.
  const credential = new ClientSecretCredential(env.tenantId, env.caller.clientId, env.caller.clientSecret, {
    authorityHost: env.entraAuthorityHost,
    disableInstanceDiscovery: true,
    tlsOptions: { ca: env.caPem },
  });
  return new SecretClient(env.keyVaultUrl, credential, { disableChallengeResourceVerification: true, tlsOptions: { ca: env.caPem } });
}

describe("Altinn profile in the sandbox", () => {
  let sandbox: Sandbox;
  let dir: string;
  const logLines: string[] = [];
  const logger: Logger = { log: (level, event, fields) => logLines.push(formatLogLine(level, event, fields)) };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "altinn-sandbox-"));
    sandbox = await startSandbox({ port: 0, logger, renewSchedule: YEARLY, envFile: join(dir, "env.json") });
  });
  afterAll(async () => {
    await sandbox?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("names the exchange and its JWKS in env.json, and the Altinn profile with its exchange URL", async () => {
    const env = JSON.parse(await readFile(join(dir, "env.json"), "utf8")) as SandboxEnv;
    expect(env.altinnExchangeUrl).toBe(sandbox.altinn.exchangeUrl);
    expect(env.altinnJwksUrl).toBe(sandbox.altinn.jwksUrl);
    expect(env.altinnIssuer).toBe(sandbox.altinn.issuer);
    expect(env.profiles.find((p) => p.name === "altinn")).toEqual({
      name: "altinn",
      role: "Token.altinn",
      secretName: "maskinporten-altinn",
      scopes: ["altinn:serviceowner/instances.read"],
      clientId: "sandbox-altinn-client",
      altinnExchange: `${sandbox.altinn.exchangeUrl}?test=true`,
    });
    const config = (await (await fetch(env.altinnOpenIdConfigurationUrl)).json()) as { issuer: string; jwks_uri: string };
    expect(config).toMatchObject({ issuer: env.altinnIssuer, jwks_uri: env.altinnJwksUrl });
  });

  it("serves over HTTP the Altinn token the timer exchanged and stored; a workload verifies it with the JWKS", async () => {
    const { env } = sandbox;
    await sandbox.tick(); // fresh from the start-up tick: nothing to exchange
    expect(sandbox.altinn.exchanges.filter((e) => e.outcome === "issued")).toHaveLength(1);

    const response = await get(env, "/api/token/altinn", await callerToken(sandbox));
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const body = (await response.json()) as {
      access_token: string;
      token_type: string;
      expires_in: number;
      expires_at: string;
      scope: string;
      profile: string;
    };
    expect(body).toMatchObject({ token_type: "Bearer", scope: "altinn:serviceowner/instances.read", profile: "altinn" });

    const { payload } = await jwtVerify(body.access_token, createRemoteJWKSet(new URL(env.altinnJwksUrl)), { issuer: env.altinnIssuer });
    expect(payload).toMatchObject({
      "urn:altinn:org": "ttd",
      "urn:altinn:orgNumber": "991825827",
      "urn:altinn:authenticatemethod": "maskinporten",
    });
    expect(Date.parse(body.expires_at)).toBe(payload.exp! * 1000);
    expect(body.expires_in).toBeGreaterThan(1700);
    expect(sandbox.altinn.exchanges.at(-1)).toMatchObject({ outcome: "issued", testOrg: true });

    const secret = await secretsOf(env).getSecret("maskinporten-altinn");
    expect(secret.value).toBe(body.access_token);
    expect(secret.properties.tags).toMatchObject({ profile: "altinn", altinn: `${env.altinnExchangeUrl}?test=true` });
    // The other profiles still hold plain Maskinporten tokens.
    expect((await secretsOf(env).getSecret("maskinporten-skatt")).properties.tags).not.toHaveProperty("altinn");
  });

  it("shows the Altinn stage apart in health", async () => {
    const { env } = sandbox;
    const health = (await (await get(env, "/api/health", await callerToken(sandbox))).json()) as {
      profiles: Array<{ profile: string; altinn?: Record<string, unknown> }>;
    };
    const altinn = health.profiles.find((p) => p.profile === "altinn")!;
    expect(altinn.altinn).toMatchObject({
      exchange: `${env.altinnExchangeUrl}?test=true`,
      testOrg: true,
      consecutiveFailures: 0,
      lastError: null,
    });
    expect(health.profiles.find((p) => p.profile === "skatt")).not.toHaveProperty("altinn");
  });
});

describe("Altinn exchange stand-in down", () => {
  let sandbox: Sandbox;
  const logLines: string[] = [];
  const logger: Logger = { log: (level, event, fields) => logLines.push(formatLogLine(level, event, fields)) };

  beforeAll(async () => {
    // Short-lived Altinn tokens, and callers served until 1 s before expiry, so the outage outlives the held token quickly.
    sandbox = await startSandbox({ port: 0, logger, renewSchedule: YEARLY, altinnTokenLifetimeSeconds: 12, minServeRemainingMs: 1_000 });
  });
  afterAll(() => sandbox?.close());

  it("keeps serving the held token, then answers 503 with Retry-After once nothing valid remains", { timeout: 60_000 }, async () => {
    const { env } = sandbox;
    const caller = await callerToken(sandbox);
    const first = await get(env, "/api/token/altinn", caller);
    expect(first.status).toBe(200);
    const held = ((await first.json()) as { access_token: string }).access_token;
    sandbox.altinn.injectFault({ kind: "reset" }, { times: Infinity });
    const beforeOutage = new Set(sandbox.altinn.issuedTokens.map((t) => t.access_token));
    expect(beforeOutage.has(held)).toBe(true);

    let refused: Response | undefined;
    const served = new Set<string>();
    for (const deadline = Date.now() + 40_000; Date.now() < deadline;) {
      const response = await get(env, "/api/token/altinn", caller);
      if (response.status === 503) {
        refused = response;
        break;
      }
      expect(response.status).toBe(200);
      served.add(((await response.json()) as { access_token: string }).access_token);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(refused, "a 503 once the held token ran out").toBeDefined();
    expect(Number(refused!.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await refused!.json()).toMatchObject({ error: expect.any(String) });
    // Every token served during the outage was one Altinn had issued before it.
    for (const token of served) expect(beforeOutage.has(token)).toBe(true);

    type Health = {
      status: string;
      profiles: Array<{ profile: string; lastError: { stage?: string } | null; altinn?: { lastError: { code: string } | null } }>;
    };
    // Health goes unhealthy when the held token has expired outright (callers are refused a second earlier).
    let health: Health;
    for (const deadline = Date.now() + 10_000; ;) {
      health = (await (await get(env, "/api/health", caller)).json()) as Health;
      if (health.status === "unhealthy" || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(health.status).toBe("unhealthy");
    const altinn = health.profiles.find((p) => p.profile === "altinn")!;
    expect(altinn.lastError).toMatchObject({ stage: "altinn-exchange" });
    expect(altinn.altinn?.lastError).toMatchObject({ code: "ERR_ALTINN_UNAVAILABLE" });
    // Maskinporten itself was fine throughout: the other profiles are untouched.
    expect(health.profiles.find((p) => p.profile === "skatt")!.lastError).toBeNull();

    const everyToken = [
      ...sandbox.maskinporten.issuedTokens.map((t) => t.access_token),
      ...sandbox.altinn.issuedTokens.map((t) => t.access_token),
    ];
    const logs = logLines.join("\n");
    for (const token of everyToken) expect(logs.includes(token)).toBe(false);
    expect(logs).toContain('"stage":"altinn-exchange"');
  });
});
