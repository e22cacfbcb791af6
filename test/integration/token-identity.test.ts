/**
 * Token identity over real parts: two broker runs on the same Key Vault (stand-in) whose profile
 * settings differ. The second run must never serve, adopt or keep the first run's token, even
 * though that token expires much later, and a workload reading the secret directly sees the new
 * token after the second run's first timer tick.
 */
import { SecretClient } from "@azure/keyvault-secrets";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRuntime, type Runtime } from "../../src/app/runtime.js";
import { handleTokenRequest } from "../../src/http/token-endpoint.js";
import { silentLogger } from "../../src/logging.js";
import { startEntraStandIn, type EntraStandIn } from "../../sandbox/entra/standin.js";
import { startKeyVaultStandIn, type KeyVaultStandIn } from "../../sandbox/keyvault/index.js";
import { startMaskinportenStandIn, type MaskinportenStandIn } from "../../sandbox/maskinporten/index.js";
import { issueEnterpriseCertificate } from "../../sandbox/pki.js";
import { staticCredential } from "../support/credentials.js";
import { standInRuntimeOptions, standInSettings } from "../support/stand-in-runtime.js";

const ORG = "991825827";
const SECRET = "maskinporten-p";
const pki = issueEnterpriseCertificate({ organisationNumber: ORG });
let kv: KeyVaultStandIn;
let mp: MaskinportenStandIn;
let entra: EntraStandIn;
const keyVaultClientOptions = () => ({ disableChallengeResourceVerification: true, tlsOptions: { ca: kv.caPem } });

beforeAll(async () => {
  [kv, mp, entra] = await Promise.all([
    startKeyVaultStandIn(),
    startMaskinportenStandIn({ trustedRoots: [pki.root.certificateDer] }),
    startEntraStandIn(),
  ]);
  kv.importCertificate("cert", { privateKey: pki.leaf.privateKey, certificateDer: pki.leaf.certificateDer });
});
afterAll(async () => {
  await Promise.all([kv?.close(), mp?.close(), entra?.close()]);
});

function brokerRun(settings: Record<string, string>): Runtime {
  return createRuntime({
    settings: {
      ...standInSettings({ kv, mp, entra, pki }),
      TOKEN_PROFILES: "p",
      PROFILE_P_CLIENT_ID: "c",
      ...settings,
    },
    ...standInRuntimeOptions({ kv, entra }),
    logger: silentLogger,
    maskinporten: { sleep: async () => {}, retry: { maxAttempts: 2 } },
  });
}

async function serve(runtime: Runtime): Promise<{ token: string; scope: string }> {
  const caller = entra.mintToken({ roles: ["Token.p"] });
  const response = await handleTokenRequest({ headers: new Headers({ authorization: `Bearer ${caller}` }), profile: "p" }, runtime);
  expect(response.status).toBe(200);
  const body = response.body as { access_token: string; scope: string };
  return { token: body.access_token, scope: mp.verifyAccessToken(body.access_token)!.scope };
}

describe("token identity across a settings change on one vault", () => {
  it("the second run serves only tokens for its own scopes and overwrites the stored one at its first timer run", async () => {
    const reader = new SecretClient(kv.url, staticCredential(), keyVaultClientOptions());

    // Run 1: scope s:read, one-hour tokens, stored by its timer.
    mp.registerClient({ clientId: "c", organisationNumber: ORG, scopes: ["s:read", "s:write"], tokenLifetimeSeconds: 3600 });
    const first = brokerRun({ PROFILE_P_SCOPES: "s:read" });
    await first.broker.renewAll("timer");
    const stored = await reader.getSecret(SECRET);
    expect(mp.verifyAccessToken(stored.value!)?.scope).toBe("s:read");
    expect(stored.properties.tags?.fingerprint).toMatch(/^v1\./);

    // Run 2 (a new deployment): scope s:write, and the client's tokens now live two minutes, so
    // the run-1 token in the secret expires far later than anything run 2 can get.
    mp.registerClient({ clientId: "c", organisationNumber: ORG, scopes: ["s:read", "s:write"], tokenLifetimeSeconds: 120 });
    const second = brokerRun({ PROFILE_P_SCOPES: "s:write" });
    mp.resetCounters();
    const served = await serve(second);
    expect(served.scope).toBe("s:write");
    expect(served.token).not.toBe(stored.value);
    expect(mp.counters.tokensIssued).toBe(1);
    // Held in memory now: still the new-scope token, no more renewals.
    for (let i = 0; i < 5; i++) expect((await serve(second)).token).toBe(served.token);
    expect(mp.counters.tokensIssued).toBe(1);

    // The first timer run publishes it over the later-expiring run-1 token.
    await second.broker.renewAll("timer");
    const after = await reader.getSecret(SECRET);
    expect(after.value).toBe(served.token);
    expect(mp.verifyAccessToken(after.value!)?.scope).toBe("s:write");
    expect(after.properties.tags?.fingerprint).not.toBe(stored.properties.tags?.fingerprint);
    expect(after.properties.expiresOn!.getTime()).toBeLessThan(stored.properties.expiresOn!.getTime());

    // Yet another runtime with run 2's settings adopts the stored token without asking Maskinporten.
    mp.resetCounters();
    expect((await serve(brokerRun({ PROFILE_P_SCOPES: "s:write" }))).token).toBe(served.token);
    expect(mp.counters.tokenRequests).toBe(0);
    // And a runtime with run 1's settings again refuses it and gets its own.
    const back = await serve(brokerRun({ PROFILE_P_SCOPES: "s:read" }));
    expect(back.scope).toBe("s:read");
  });

  it("a timer-first second run renews instead of adopting the old-settings token", async () => {
    mp.registerClient({ clientId: "c", organisationNumber: ORG, scopes: ["s:read", "s:write"], tokenLifetimeSeconds: 3600 });
    const secret = "maskinporten-timer-first";
    await brokerRun({ PROFILE_P_SCOPES: "s:read", PROFILE_P_SECRET_NAME: secret }).broker.renewAll("timer");
    mp.registerClient({ clientId: "c", organisationNumber: ORG, scopes: ["s:read", "s:write"], tokenLifetimeSeconds: 120 });
    const outcomes = await brokerRun({
      PROFILE_P_SCOPES: "s:write",
      PROFILE_P_RESOURCE: "",
      PROFILE_P_SECRET_NAME: secret,
    }).broker.renewAll("timer");
    expect(outcomes[0]?.outcome).toBe("renewed");
    const reader = new SecretClient(kv.url, staticCredential(), keyVaultClientOptions());
    expect(mp.verifyAccessToken((await reader.getSecret(secret)).value!)?.scope).toBe("s:write");
  });
});
