/**
 * The sandbox as a workload meets it, with stock Azure SDK clients nobody here wrote and only the
 * documented test-only options (the README's "Using the token from a workload" recipe):
 * `ClientSecretCredential` with the sandbox CA and `disableInstanceDiscovery`, `SecretClient` with
 * the CA and `disableChallengeResourceVerification`. The sandbox caller holds what a reader holds
 * in Azure (Secrets User on each token secret), so everything else is refused as Key Vault refuses
 * it; and the broker runs with exactly the roles infra/rbac-roles.json grants.
 */
import { X509Certificate } from "node:crypto";
import { ClientSecretCredential } from "@azure/identity";
import { CryptographyClient } from "@azure/keyvault-keys";
import { SecretClient } from "@azure/keyvault-secrets";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Logger } from "../../src/logging.js";
import { startMaskinportenStandIn, type MaskinportenStandIn } from "../../sandbox/maskinporten/index.js";
import { loadRbacRoles } from "../../sandbox/rbac-roles.js";
import { startSandbox, type Sandbox, type SandboxEnv } from "../../sandbox/sandbox.js";

const quiet: Logger = { log: () => {} };

/** The recipe: a stock credential for the sandbox caller, with the test-only options and nothing else. */
function callerCredential(env: SandboxEnv): ClientSecretCredential {
  return new ClientSecretCredential(env.tenantId, env.caller.clientId, env.caller.clientSecret, {
    authorityHost: env.entraAuthorityHost,
    disableInstanceDiscovery: true,
    tlsOptions: { ca: env.caPem },
  });
}

function secretClient(env: SandboxEnv): SecretClient {
  return new SecretClient(env.keyVaultUrl, callerCredential(env), {
    disableChallengeResourceVerification: true,
    tlsOptions: { ca: env.caPem },
  });
}

async function refusal(promise: Promise<unknown>): Promise<{ statusCode?: number; code?: string; message: string }> {
  return promise.then(
    () => {
      throw new Error("expected Key Vault to refuse");
    },
    (error: { statusCode?: number; code?: string; message: string }) => error,
  );
}

/** The token a profile serves: a Maskinporten token for its client, or (Altinn profiles) the Altinn token for it. */
async function expectTokenOfProfile(sandbox: Sandbox, profile: SandboxEnv["profiles"][number], token: string): Promise<void> {
  if (profile.altinnExchange) expect(await sandbox.altinn.verifyAltinnToken(token)).toMatchObject({ client_id: profile.clientId });
  else expect(sandbox.maskinporten.verifyAccessToken(token)).toMatchObject({ client_id: profile.clientId });
}

describe("stock @azure/identity + @azure/keyvault-secrets against the sandbox", () => {
  let sandbox: Sandbox;
  let atStart: Sandbox["keyVault"]["counters"];
  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0, logger: quiet });
    atStart = sandbox.keyVault.counters;
  });
  afterAll(() => sandbox?.close());

  it("reads every profile's token secret: the token the sandbox's Maskinporten issued", async () => {
    const client = secretClient(sandbox.env);
    for (const profile of sandbox.env.profiles) {
      const secret = await client.getSecret(profile.secretName);
      await expectTokenOfProfile(sandbox, profile, secret.value!);
      expect(secret.properties.tags).toMatchObject({ profile: profile.name });
    }
  });

  it("is refused the certificate's secret, list, and a write, with Key Vault's 403 ForbiddenByRbac", async () => {
    const client = secretClient(sandbox.env);
    const before = sandbox.keyVault.counters.forbidden;
    for (const attempt of [
      () => client.getSecret("virksomhetssertifikat"),
      () => client.setSecret(sandbox.env.profiles[0]!.secretName, "garbage"),
    ]) {
      const error = await refusal(attempt());
      expect(error).toMatchObject({ statusCode: 403, code: "Forbidden" });
      expect(error.message).toMatch(/^Caller is not authorized to perform action on resource\./);
    }
    // The SDK's pager words a refused page its own way; the answer is the same 403.
    expect(await refusal(client.listPropertiesOfSecrets().next())).toMatchObject({ statusCode: 403 });
    expect(sandbox.keyVault.counters.forbidden).toBe(before + 3);
    expect(sandbox.keyVault.getSecretVersions(sandbox.env.profiles[0]!.secretName).every((v) => v.value !== "garbage")).toBe(true);
  });

  it("is refused signing with the enterprise key", async () => {
    const keyId = `${sandbox.env.keyVaultUrl}keys/virksomhetssertifikat`;
    const crypto = new CryptographyClient(keyId, callerCredential(sandbox.env), {
      disableChallengeResourceVerification: true,
      tlsOptions: { ca: sandbox.env.caPem },
    });
    const error = await refusal(crypto.sign("RS256", Buffer.alloc(32, 7)));
    expect(error).toMatchObject({ statusCode: 403, code: "Forbidden" });
  });

  it("ran the broker's renewal with no Key Vault refusal: the roles infra grants are the roles it needs", () => {
    // startSandbox renews every profile once: certificate read, key read, sign, secret write.
    expect(atStart.sign).toBeGreaterThanOrEqual(sandbox.env.profiles.length);
    expect(atStart.secretSet).toBeGreaterThanOrEqual(sandbox.env.profiles.length);
    expect(atStart.forbidden).toBe(0);
    // The broker's own assignments: not the reader's (Secrets User) nor the CSR demo operator's (deployer roles).
    const deployerRoles = new Set(["Key Vault Certificates Officer", "Key Vault Reader"]);
    const broker = sandbox.keyVault.roleAssignments.filter(
      (a) => a.roleName !== "Key Vault Secrets User" && !deployerRoles.has(a.roleName),
    );
    expect(broker.map((a) => `${a.roleName} ${a.scope}`).sort()).toEqual(
      [
        "Key Vault Certificate User /certificates/virksomhetssertifikat",
        "Key Vault Crypto User /keys/virksomhetssertifikat",
        ...sandbox.env.profiles.map((p) => `Key Vault Secrets Officer /secrets/${p.secretName}`),
      ].sort(),
    );
  });

  it("a caller token from a real credential reaches the broker's HTTP API and gets the Maskinporten token", async () => {
    const { token } = await callerCredential(sandbox.env).getToken(`${sandbox.env.audienceUri}/.default`);
    for (const profile of sandbox.env.profiles) {
      const response = await fetch(`${sandbox.env.brokerUrl}/api/token/${profile.name}`, { headers: { authorization: `Bearer ${token}` } });
      expect(response.status).toBe(200);
      const body = (await response.json()) as { access_token: string; profile: string };
      expect(body.profile).toBe(profile.name);
      await expectTokenOfProfile(sandbox, profile, body.access_token);
    }
  });

  it("env.json's contract: one CA for both stand-ins, an https authority, client ids and the signing certificate", () => {
    const { env } = sandbox;
    expect(env.caPem).toBe(env.keyVaultCaPem);
    expect(env.entraAuthorityHost).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(env.entraIssuer).toBe(`${env.entraAuthorityHost}/${env.tenantId}/v2.0`);
    expect(env.entraTokenUrl.startsWith(env.entraAuthorityHost)).toBe(true);
    expect(env.signingCertificatePem).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(env.profiles.map((p) => p.clientId)).toEqual(env.profiles.map((p) => `sandbox-${p.name}-client`));
    expect(Object.keys(env.settings)).not.toContain("AZURE_CLIENT_SECRET");
  });
});

describe("the sandbox with a role missing from infra/rbac-roles.json", () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    const roles = loadRbacRoles();
    // As if infra granted only Secrets User on the token secrets: the broker could not write them.
    sandbox = await startSandbox({
      port: 0,
      logger: quiet,
      rbacRoles: { ...roles, keyVault: { ...roles.keyVault, broker: { ...roles.keyVault.broker, tokenSecret: "keyVaultSecretsUser" } } },
    });
  });
  afterAll(() => sandbox?.close());

  it("fails in the sandbox as it would in Azure: the broker's writes are refused", async () => {
    await sandbox.tick();
    expect(sandbox.keyVault.counters.forbidden).toBeGreaterThan(0);
    for (const profile of sandbox.env.profiles) expect(sandbox.keyVault.getSecretVersions(profile.secretName)).toEqual([]);
  });
});

describe("SANDBOX_MASKINPORTEN_ISSUER: the broker against another Maskinporten-compatible server", () => {
  let other: MaskinportenStandIn;
  let sandbox: Sandbox;
  beforeAll(async () => {
    other = await startMaskinportenStandIn();
    sandbox = await startSandbox({ port: 0, logger: quiet, maskinportenIssuer: other.issuer });
  });
  afterAll(async () => {
    await sandbox?.close();
    await other?.close();
  });

  it("discovers that server, and env.json gives it what it needs to judge the broker's real grants", async () => {
    expect(sandbox.env.maskinportenIssuer).toBe(other.issuer);
    // What a user does with env.json: trust the sandbox's enterprise CA and register its clients
    // (not locked to the certificate: a locked client must send kid, and these profiles send x5c).
    other.trustRoot(new X509Certificate(sandbox.env.signingRootCaPem).raw);
    for (const profile of sandbox.env.profiles) {
      other.registerClient({
        clientId: profile.clientId,
        organisationNumber: "991825827",
        scopes: profile.scopes,
        ...(profile.name === "sdir" ? { allowedResources: ["https://api.sdir.no"] } : {}),
      });
    }
    await sandbox.tick();
    expect(other.counters.metadataRequests).toBeGreaterThan(0);
    expect(new Set(other.issuedTokens.map((t) => t.client))).toEqual(new Set(sandbox.env.profiles.map((p) => p.clientId)));
    expect(sandbox.maskinporten.issuedTokens).toEqual([]);

    const { token } = await callerCredential(sandbox.env).getToken(`${sandbox.env.audienceUri}/.default`);
    const response = await fetch(`${sandbox.env.brokerUrl}/api/token/skatt`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { access_token: string };
    expect(other.verifyAccessToken(body.access_token)).toMatchObject({ client_id: "sandbox-skatt-client" });
  });
});
