/**
 * The foundation path end to end, through real HTTP and the real Azure SDK clients:
 * profile settings → grant signed by the Key Vault stand-in → accepted by the Maskinporten
 * stand-in → parsed token → stored in the token secret.
 */
import { SecretClient } from "@azure/keyvault-secrets";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBroker } from "../../src/broker.js";
import { parseBrokerConfig } from "../../src/config/settings.js";
import { createKeyVaultSigner } from "../../src/keyvault/signer.js";
import { createMaskinportenClient } from "../../src/maskinporten/client.js";
import { createTokenIssuer } from "../../src/renewal/issue-token.js";
import { startKeyVaultStandIn, type KeyVaultStandIn } from "../../sandbox/keyvault/index.js";
import { registeredCertificateKid, startMaskinportenStandIn, type MaskinportenStandIn } from "../../sandbox/maskinporten/index.js";
import { generateRsaKeyPair, issueEnterpriseCertificate } from "../../sandbox/pki.js";
import { staticCredential } from "../support/credentials.js";

const ORG = "991825827";
const pki = issueEnterpriseCertificate({ organisationNumber: ORG });
const kidKey = generateRsaKeyPair();
let kv: KeyVaultStandIn;
let mp: MaskinportenStandIn;

beforeAll(async () => {
  [kv, mp] = await Promise.all([startKeyVaultStandIn(), startMaskinportenStandIn({ trustedRoots: [pki.root.certificateDer] })]);
  kv.importCertificate("virksomhetssertifikat", {
    privateKey: pki.leaf.privateKey,
    certificateDer: pki.leaf.certificateDer,
    exportable: false,
  });
  kv.importKey("kid-key", kidKey.privateKey);
  mp.registerClient({
    clientId: "sdir-client",
    organisationNumber: ORG,
    scopes: ["sdir:read"],
    tokenLifetimeSeconds: 300,
    allowedResources: ["https://api.sdir.no"],
    consumerOrgs: ["310000001"],
  });
  mp.registerClient({ clientId: "kid-client", organisationNumber: ORG, scopes: ["skatt:read"], keys: { "kid-2024": kidKey.publicKey } });
});
afterAll(async () => {
  await Promise.all([kv?.close(), mp?.close()]);
});

const settings = () => ({
  KEY_VAULT_URL: kv.url,
  MASKINPORTEN_ENVIRONMENT: mp.issuer,
  TOKEN_PROFILES: "sdir,skatt",
  SIGNING_CERTIFICATE_NAME: "virksomhetssertifikat",
  SIGNING_CHAIN: pki.intermediate.certificateDer.toString("base64"),
  PROFILE_SDIR_CLIENT_ID: "sdir-client",
  PROFILE_SDIR_SCOPES: "sdir:read",
  PROFILE_SDIR_RESOURCE: "https://api.sdir.no",
  PROFILE_SDIR_CONSUMER_ORG: "310000001",
  PROFILE_SKATT_CLIENT_ID: "kid-client",
  PROFILE_SKATT_SCOPES: "skatt:read",
  PROFILE_SKATT_SIGNING_KEY_NAME: "kid-key",
  PROFILE_SKATT_SIGNING_KID: "kid-2024",
});
const clientOptions = () => ({ disableChallengeResourceVerification: true, tlsOptions: { ca: kv.caPem } });

describe("profile → Key Vault-signed grant → Maskinporten token", () => {
  it("issues a token for an x5c profile with resource and consumer_org", async () => {
    const config = parseBrokerConfig(settings());
    const profile = config.profiles[0]!;
    const credential = staticCredential();
    const issue = createTokenIssuer({
      signerFor: (p) =>
        createKeyVaultSigner({ vaultUrl: config.keyVaultUrl, credential, clientOptions: clientOptions(), source: p.signing }),
      clientFor: (p) => createMaskinportenClient({ issuer: p.issuer }),
    });
    const token = await issue(profile);
    expect(token.expiresAt.getTime() - token.issuedAt.getTime()).toBe(300_000);
    expect(mp.verifyAccessToken(token.accessToken)).toMatchObject({
      client_id: "sdir-client",
      scope: "sdir:read",
      aud: "https://api.sdir.no",
    });

    const grant = mp.grants.at(-1)!;
    expect(grant.outcome).toBe("accepted");
    expect(grant.header).toEqual({
      alg: "RS256",
      x5c: [pki.leaf.certificateDer.toString("base64"), pki.intermediate.certificateDer.toString("base64")],
    });
    // resource as a JSON array even for one value: Digdir supports only arrays.
    expect(grant.claims).toMatchObject({
      aud: mp.issuer,
      iss: "sdir-client",
      scope: "sdir:read",
      resource: ["https://api.sdir.no"],
      consumer_org: "310000001",
    });
    // The challenge asked for a Key Vault token in the vault's tenant.
    expect(credential.requests[0]).toMatchObject({ scopes: ["https://vault.azure.net/.default"], tenantId: kv.tenantId });
  });

  it("a client locked to the certificate needs SIGNING_KID (README step 5): x5c alone is refused", async () => {
    mp.registerClient({
      clientId: "locked-client",
      organisationNumber: ORG,
      scopes: ["sdir:read"],
      certificates: [pki.leaf.certificateDer],
    });
    const base = { ...settings(), TOKEN_PROFILES: "locked", PROFILE_LOCKED_CLIENT_ID: "locked-client", PROFILE_LOCKED_SCOPES: "sdir:read" };
    const credential = staticCredential();
    const issuerFor = () =>
      createTokenIssuer({
        signerFor: (p) => createKeyVaultSigner({ vaultUrl: kv.url, credential, clientOptions: clientOptions(), source: p.signing }),
        clientFor: (p) => createMaskinportenClient({ issuer: p.issuer }),
      });
    const x5cOnly = await issuerFor()(parseBrokerConfig(base).profiles[0]!).catch((e: unknown) => e);
    expect(x5cOnly).toMatchObject({ code: "ERR_MASKINPORTEN_REJECTED", error: "invalid_grant" });
    const withKid = parseBrokerConfig({ ...base, SIGNING_KID: registeredCertificateKid(pki.leaf.certificateDer) }).profiles[0]!;
    const token = await issuerFor()(withKid);
    expect(mp.verifyAccessToken(token.accessToken)).toMatchObject({ client_id: "locked-client" });
    expect(mp.grants.at(-1)?.header).toEqual({ alg: "RS256", kid: registeredCertificateKid(pki.leaf.certificateDer) });
  });

  it("issues a system-user token carrying the system user's externalRef", async () => {
    mp.registerClient({ clientId: "su-client", organisationNumber: ORG, scopes: ["altinn:x"], systemUserOrgs: ["310000002"] });
    const config = parseBrokerConfig({
      ...settings(),
      TOKEN_PROFILES: "su",
      PROFILE_SU_CLIENT_ID: "su-client",
      PROFILE_SU_SCOPES: "altinn:x",
      PROFILE_SU_SYSTEMUSER_ORG: "310000002",
      PROFILE_SU_SYSTEMUSER_EXTERNAL_REF: "customer-42",
    });
    const credential = staticCredential();
    const issue = createTokenIssuer({
      signerFor: (p) =>
        createKeyVaultSigner({ vaultUrl: config.keyVaultUrl, credential, clientOptions: clientOptions(), source: p.signing }),
      clientFor: (p) => createMaskinportenClient({ issuer: p.issuer }),
    });
    await issue(config.profiles[0]!);
    expect(mp.grants.at(-1)).toMatchObject({
      outcome: "accepted",
      claims: {
        authorization_details: [
          {
            type: "urn:altinn:systemuser",
            systemuser_org: { authority: "iso6523-actorid-upis", ID: "0192:310000002" },
            externalRef: "customer-42",
          },
        ],
      },
    });
  });

  it("renews both profiles on the timer, stores each token in its secret and serves it", async () => {
    const broker = createBroker({
      config: parseBrokerConfig(settings()),
      credential: staticCredential(),
      keyVaultClientOptions: clientOptions(),
    });
    await broker.renewAll("timer");
    const [sdir, skatt] = await Promise.all([broker.serve("sdir"), broker.serve("skatt")]);
    expect(mp.verifyAccessToken(skatt.accessToken)).toMatchObject({ client_id: "kid-client" });
    const kidGrant = mp.grants.find((g) => g.claims?.iss === "kid-client" && g.outcome === "accepted")!;
    expect(kidGrant.header).toEqual({ alg: "RS256", kid: "kid-2024" });

    const secrets = new SecretClient(kv.url, staticCredential(), clientOptions());
    const secret = await secrets.getSecret("maskinporten-sdir");
    expect(secret.value).toBe(sdir.accessToken);
    expect(secret.properties.contentType).toBe("application/jwt");
    expect(secret.properties.tags).toMatchObject({
      profile: "sdir",
      scope: "sdir:read",
      token_type: "Bearer",
      expires_at: sdir.expiresAt.toISOString(),
    });
    expect(decodeProtectedHeader(sdir.accessToken).alg).toBeDefined();
    expect(decodeJwt(sdir.accessToken).client_id).toBe("sdir-client");
  });
});
