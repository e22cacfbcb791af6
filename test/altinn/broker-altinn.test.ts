/**
 * Altinn profiles through the broker (timer renewal, serving, Key Vault secret, health) against the
 * Key Vault, Maskinporten and Altinn stand-ins over HTTP, on one shared fake clock so token
 * lifetimes can be walked through without waiting.
 */
import { SecretClient } from "@azure/keyvault-secrets";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createBroker, type Broker } from "../../src/broker.js";
import { parseBrokerConfig } from "../../src/config/settings.js";
import { ErrorCode } from "../../src/errors.js";
import { NoTokenError } from "../../src/renewal/profile-tokens.js";
import { startAltinnStandIn, type AltinnStandIn } from "../../sandbox/altinn/standin.js";
import { startKeyVaultStandIn, type KeyVaultStandIn } from "../../sandbox/keyvault/index.js";
import { startMaskinportenStandIn, type MaskinportenStandIn } from "../../sandbox/maskinporten/index.js";
import { issueEnterpriseCertificate } from "../../sandbox/pki.js";
import { staticCredential } from "../support/credentials.js";

const ORG = "991825827";
const pki = issueEnterpriseCertificate({ organisationNumber: ORG });
let nowMs = Date.now();
const clock = () => nowMs;
let kv: KeyVaultStandIn;
let mp: MaskinportenStandIn;
let altinn: AltinnStandIn;
let gated: AltinnStandIn;
let broker: Broker;
const logs: string[] = [];

beforeAll(async () => {
  [kv, mp] = await Promise.all([
    startKeyVaultStandIn({ now: clock }),
    startMaskinportenStandIn({ now: clock, trustedRoots: [pki.root.certificateDer] }),
  ]);
  [altinn, gated] = await Promise.all([
    startAltinnStandIn({ maskinportenIssuer: mp.issuer, now: clock, tokenLifetimeSeconds: 600 }),
    startAltinnStandIn({
      maskinportenIssuer: mp.issuer,
      now: clock,
      acceptScopes: (scopes) => scopes.some((s) => s.startsWith("altinn:")),
    }),
  ]);
  kv.importCertificate("virksomhetssertifikat", {
    privateKey: pki.leaf.privateKey,
    certificateDer: pki.leaf.certificateDer,
    exportable: false,
  });
  mp.registerClient({
    clientId: "altinn-client",
    organisationNumber: ORG,
    scopes: ["altinn:serviceowner/instances.read"],
    tokenLifetimeSeconds: 120,
  });
  mp.registerClient({ clientId: "partner-client", organisationNumber: ORG, scopes: ["skatteetaten:x"], tokenLifetimeSeconds: 120 });
});
afterAll(async () => {
  await Promise.all([kv?.close(), mp?.close(), altinn?.close(), gated?.close()]);
});

beforeEach(() => {
  altinn.clearFaults();
  const config = parseBrokerConfig({
    KEY_VAULT_URL: kv.url,
    MASKINPORTEN_ENVIRONMENT: mp.issuer,
    TOKEN_PROFILES: "altinn,gated",
    SIGNING_CERTIFICATE_NAME: "virksomhetssertifikat",
    SIGNING_CHAIN: pki.intermediate.certificateDer.toString("base64"),
    PROFILE_ALTINN_CLIENT_ID: "altinn-client",
    PROFILE_ALTINN_SCOPES: "altinn:serviceowner/instances.read",
    PROFILE_ALTINN_ALTINN_EXCHANGE: altinn.baseUrl,
    PROFILE_GATED_CLIENT_ID: "partner-client",
    PROFILE_GATED_SCOPES: "skatteetaten:x",
    PROFILE_GATED_ALTINN_EXCHANGE: gated.baseUrl,
    PROFILE_GATED_SECRET_NAME: `gated-${Math.random().toString(36).slice(2)}`,
    PROFILE_ALTINN_SECRET_NAME: `altinn-${Math.random().toString(36).slice(2)}`,
  });
  broker = createBroker({
    config,
    credential: staticCredential(),
    keyVaultClientOptions: { disableChallengeResourceVerification: true, tlsOptions: { ca: kv.caPem } },
    now: clock,
    logger: { log: (level, event, fields) => logs.push(JSON.stringify({ level, event, ...fields })) },
    maskinporten: { retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1 }, sleep: async () => {} },
  });
});

const secretName = () => broker.profile("altinn")!.secretName;
const secrets = () =>
  new SecretClient(kv.url, staticCredential(), { disableChallengeResourceVerification: true, tlsOptions: { ca: kv.caPem } });
/** Maskinporten tokens issued for the Altinn profile's client (the gated profile renews alongside). */
const altinnIssued = () => mp.issuedTokens.filter((t) => t.client === "altinn-client");
const outcomeOf = async (profile: string) => (await broker.renewAll("timer")).find((o) => o.profile === profile)!;

describe("Altinn profiles in the broker", () => {
  it("renews on the timer: exchanges the new Maskinporten token at once and stores and serves the Altinn token", async () => {
    const before = altinnIssued().length;
    expect(await outcomeOf("altinn")).toMatchObject({ outcome: "renewed" });
    const served = await broker.serve("altinn");
    const claims = await altinn.verifyAltinnToken(served.accessToken);
    expect(claims).toMatchObject({ "urn:altinn:orgNumber": ORG, scope: "altinn:serviceowner/instances.read" });
    // Its own expiry (600 s), not the Maskinporten token's (120 s).
    expect(served.expiresAt.getTime()).toBe(claims!.exp! * 1000);
    expect(served.expiresAt.getTime() - served.issuedAt.getTime()).toBe(600_000);
    const maskinportenToken = altinnIssued().at(-1)!.access_token;
    expect(altinnIssued().length).toBe(before + 1);
    expect(served.accessToken).not.toBe(maskinportenToken);

    const versions: string[] = [];
    for await (const page of secrets().listPropertiesOfSecretVersions(secretName()).byPage())
      for (const v of page) versions.push(v.version!);
    expect(versions).toHaveLength(1);
    const secret = await secrets().getSecret(secretName());
    expect(secret.value).toBe(served.accessToken);
    expect(secret.properties.contentType).toBe("application/jwt");
    expect(secret.properties.expiresOn).toEqual(served.expiresAt);
    expect(secret.properties.tags).toMatchObject({
      profile: "altinn",
      altinn: `${altinn.exchangeUrl}`,
      expires_at: served.expiresAt.toISOString(),
    });

    const [health] = await broker.health();
    expect(health!.altinn).toMatchObject({
      exchange: altinn.exchangeUrl,
      testOrg: false,
      consecutiveFailures: 0,
      tokenExpiresAt: served.expiresAt,
    });
    expect(health!.altinn!.lastError).toBeUndefined();
  });

  it("lets the Altinn token's expiry drive renewal, not the Maskinporten token's", async () => {
    await broker.renewAll("timer");
    const first = await broker.serve("altinn");
    const issued = altinnIssued().length;
    nowMs += 200_000; // the Maskinporten token (120 s) is long gone; the Altinn token (600 s) is fresh
    expect(await outcomeOf("altinn")).toMatchObject({ outcome: "fresh" });
    expect(altinnIssued().length).toBe(issued);
    nowMs += 110_000; // past half of 600 s: due
    expect(await outcomeOf("altinn")).toMatchObject({ outcome: "renewed" });
    expect(altinnIssued().length).toBe(issued + 1);
    expect((await broker.serve("altinn")).accessToken).not.toBe(first.accessToken);
  });

  it("refuses a token with the wrong scope (403) once, without retrying, and names the Altinn stage", async () => {
    const before = gated.exchanges.length;
    const outcome = await outcomeOf("gated");
    expect(outcome).toMatchObject({ outcome: "failed", error: { stage: "altinn-exchange", code: ErrorCode.AltinnRejected, status: 403 } });
    expect(gated.exchanges.length).toBe(before + 1);
    await expect(broker.serve("gated")).rejects.toBeInstanceOf(NoTokenError);
    const health = (await broker.health()).find((h) => h.profile === "gated")!;
    expect(health.lastError).toMatchObject({ stage: "altinn-exchange", status: 403 });
    expect(health.altinn).toMatchObject({ consecutiveFailures: 1, lastError: { code: ErrorCode.AltinnRejected, status: 403 } });
    // A refused Maskinporten token is not offered again: the next renewal starts from a new one.
    const partnerTokens = () => mp.issuedTokens.filter((t) => t.client === "partner-client").length;
    const issued = partnerTokens();
    await outcomeOf("gated");
    expect(partnerTokens()).toBe(issued + 1);
  });

  it("keeps the held Altinn token while the exchange is down, reuses the unexchanged Maskinporten token, and has nothing only once it expires", async () => {
    await broker.renewAll("timer");
    const held = await broker.serve("altinn");
    const storedBefore = (await secrets().getSecret(secretName())).value;
    altinn.injectFault({ kind: "reset" }, { times: Infinity });
    nowMs += 310_000; // due
    const issued = altinnIssued().length;
    expect(await outcomeOf("altinn")).toMatchObject({
      outcome: "failed",
      error: { stage: "altinn-exchange", code: ErrorCode.AltinnUnavailable },
    });
    expect(altinnIssued().length).toBe(issued + 1);
    expect((await broker.serve("altinn")).accessToken).toBe(held.accessToken);
    expect((await secrets().getSecret(secretName())).value).toBe(storedBefore);

    nowMs += 10_000; // the Maskinporten token is still good for the next attempt: no new one is asked for
    expect(await outcomeOf("altinn")).toMatchObject({ outcome: "failed" });
    expect(altinnIssued().length).toBe(issued + 1);
    const health = (await broker.health()).find((h) => h.profile === "altinn")!;
    expect(health.altinn).toMatchObject({ consecutiveFailures: 2, lastError: { code: ErrorCode.AltinnUnavailable } });
    expect(health.expiresAt).toEqual(held.expiresAt);

    nowMs = held.expiresAt.getTime() - 10_000; // under the 15 s a caller needs: nothing valid remains
    await expect(broker.serve("altinn")).rejects.toBeInstanceOf(NoTokenError);

    altinn.clearFaults();
    nowMs += 400_000; // past the failure backoff
    expect(await outcomeOf("altinn")).toMatchObject({ outcome: "renewed" });
    expect((await broker.serve("altinn")).accessToken).not.toBe(held.accessToken);
    expect(logs.join("\n")).not.toContain(held.accessToken);
  });

  it("never adopts a stored Maskinporten token for an Altinn profile, and writes over it", async () => {
    const name = secretName();
    const stale = altinnIssued().at(-1)!.access_token;
    await secrets().setSecret(name, stale, {
      tags: {
        profile: "altinn",
        scope: "altinn:serviceowner/instances.read",
        issued_at: new Date(nowMs).toISOString(),
        expires_at: new Date(nowMs + 7_200_000).toISOString(),
        token_type: "Bearer",
      },
    });
    expect(await outcomeOf("altinn")).toMatchObject({ outcome: "renewed" });
    const served = await broker.serve("altinn");
    expect(served.accessToken).not.toBe(stale);
    expect(await altinn.verifyAltinnToken(served.accessToken)).toBeDefined();
    expect((await secrets().getSecret(name)).value).toBe(served.accessToken);
  });
});

describe("Altinn refusing an expired Maskinporten token through the broker", () => {
  it("fails the renewal at the Altinn stage with 401, once, and has no token to serve", async () => {
    // Maskinporten (and the broker, whose grants it checks) run an hour behind Altinn: every token arrives expired.
    const behind = () => Date.now() - 3_600_000;
    const lateMp = await startMaskinportenStandIn({ now: behind, trustedRoots: [pki.root.certificateDer] });
    const strictAltinn = await startAltinnStandIn({ maskinportenIssuer: lateMp.issuer });
    try {
      lateMp.registerClient({
        clientId: "altinn-client",
        organisationNumber: ORG,
        scopes: ["altinn:serviceowner/instances.read"],
        tokenLifetimeSeconds: 120,
      });
      const config = parseBrokerConfig({
        KEY_VAULT_URL: kv.url,
        MASKINPORTEN_ENVIRONMENT: lateMp.issuer,
        TOKEN_PROFILES: "late",
        SIGNING_CERTIFICATE_NAME: "virksomhetssertifikat",
        SIGNING_CHAIN: pki.intermediate.certificateDer.toString("base64"),
        PROFILE_LATE_CLIENT_ID: "altinn-client",
        PROFILE_LATE_SCOPES: "altinn:serviceowner/instances.read",
        PROFILE_LATE_ALTINN_EXCHANGE: strictAltinn.baseUrl,
        PROFILE_LATE_SECRET_NAME: `late-${Math.random().toString(36).slice(2)}`,
      });
      const late = createBroker({
        config,
        credential: staticCredential(),
        keyVaultClientOptions: { disableChallengeResourceVerification: true, tlsOptions: { ca: kv.caPem } },
        now: behind,
        maskinporten: { retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1 }, sleep: async () => {} },
      });
      const [outcome] = await late.renewAll("timer");
      expect(outcome).toMatchObject({
        outcome: "failed",
        error: { stage: "altinn-exchange", code: ErrorCode.AltinnRejected, status: 401 },
      });
      expect(strictAltinn.exchanges).toEqual([
        expect.objectContaining({ outcome: "refused", status: 401, reason: expect.stringMatching(/EXPIRED/) }),
      ]);
      await expect(late.serve("late")).rejects.toBeInstanceOf(NoTokenError);
    } finally {
      await Promise.all([lateMp.close(), strictAltinn.close()]);
    }
  });
});
