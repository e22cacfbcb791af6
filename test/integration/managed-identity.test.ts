/**
 * The credential production uses, end to end: `createAzureCredential` builds @azure/identity's
 * ManagedIdentityCredential from App Service's IDENTITY_ENDPOINT / IDENTITY_HEADER, MSAL gets a
 * token from the Entra stand-in's managed identity endpoint, and the Key Vault stand-in lets the
 * broker's adapters in only after verifying that token against the stand-in tenant's keys.
 *
 * MSAL reads IDENTITY_ENDPOINT / IDENTITY_HEADER once per process, at the first token request, and
 * keeps them (and its token cache) in statics. So this file sets them before anything asks for a
 * token, and the wrong-header case runs in a child process of its own.
 */
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ManagedIdentityCredential, type AccessToken, type TokenCredential } from "@azure/identity";
import { SecretClient } from "@azure/keyvault-secrets";
import { compactVerify, decodeJwt, decodeProtectedHeader } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAzureCredential } from "../../src/app/runtime.js";
import { createGrant } from "../../src/grant/grant.js";
import type { KeyVaultClientOptions } from "../../src/keyvault/connection.js";
import { createKeyVaultSigner } from "../../src/keyvault/signer.js";
import { createKeyVaultTokenStore } from "../../src/keyvault/token-store.js";
import type { StoredToken } from "../../src/token-store/stored-token.js";
import { createEntraAccessTokenCheck } from "../../sandbox/entra/access-token-check.js";
import type { EnabledManagedIdentity } from "../../sandbox/entra/managed-identity.js";
import { startEntraStandIn, type EntraStandIn } from "../../sandbox/entra/standin.js";
import { KEY_VAULT_RESOURCE, startKeyVaultStandIn, type KeyVaultStandIn } from "../../sandbox/keyvault/index.js";
import { issueEnterpriseCertificate } from "../../sandbox/pki.js";

const KEY_VAULT_APP_ID = "cfa8b339-82a2-471a-a3c9-0fc0be7a4093";
const CERTIFICATE_NAME = "virksomhetssertifikat";
/** Variables that would make MSAL pick another managed identity source, or @azure/identity the AKS flow. */
const ENV_NAMES = [
  "IDENTITY_ENDPOINT",
  "IDENTITY_HEADER",
  "IDENTITY_SERVER_THUMBPRINT",
  "MSI_ENDPOINT",
  "MSI_SECRET",
  "AZURE_CLIENT_ID",
  "AZURE_TENANT_ID",
  "AZURE_FEDERATED_TOKEN_FILE",
  "IMDS_ENDPOINT",
] as const;

let entra: EntraStandIn;
let keyVault: KeyVaultStandIn;
let systemAssigned: EnabledManagedIdentity;
let userAssigned: EnabledManagedIdentity;
let leafDer: Buffer;
let clientOptions: KeyVaultClientOptions;
const savedEnv = new Map<string, string | undefined>();

beforeAll(async () => {
  entra = await startEntraStandIn();
  entra.registerResource({ appId: KEY_VAULT_APP_ID, identifierUris: [KEY_VAULT_RESOURCE] });
  systemAssigned = entra.enableManagedIdentity();
  userAssigned = entra.enableManagedIdentity({ userAssigned: true, name: "id-maskinporten-broker" });

  keyVault = await startKeyVaultStandIn({
    tenantId: entra.tenantId,
    acceptToken: createEntraAccessTokenCheck(entra, { audiences: [KEY_VAULT_RESOURCE, KEY_VAULT_APP_ID] }),
  });
  const pki = issueEnterpriseCertificate({ organisationNumber: "991825827" });
  leafDer = pki.leaf.certificateDer;
  keyVault.importCertificate(CERTIFICATE_NAME, { privateKey: pki.leaf.privateKey, certificateDer: leafDer, exportable: false });
  // Test-only trust of the stand-in: its own CA, and a challenge resource that is not *.vault.azure.net.
  clientOptions = { disableChallengeResourceVerification: true, tlsOptions: { ca: keyVault.caPem } };

  for (const name of ENV_NAMES) {
    savedEnv.set(name, process.env[name]);
    delete process.env[name];
  }
  process.env.IDENTITY_ENDPOINT = systemAssigned.env.IDENTITY_ENDPOINT;
  process.env.IDENTITY_HEADER = systemAssigned.env.IDENTITY_HEADER;
});

afterAll(async () => {
  for (const [name, value] of savedEnv) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await Promise.all([keyVault?.close(), entra?.close()]);
});

/** The app settings Azure Functions gives the broker (the credential reads only these four). */
function appServiceSettings(extra: Record<string, string> = {}): Record<string, string> {
  return {
    WEBSITE_INSTANCE_ID: "x",
    IDENTITY_ENDPOINT: systemAssigned.env.IDENTITY_ENDPOINT,
    IDENTITY_HEADER: systemAssigned.env.IDENTITY_HEADER,
    ...extra,
  };
}

/** Signs a grant through Key Vault and writes + reads a token secret, all with `credential`. */
async function runKeyVaultAdapters(credential: TokenCredential, secretName: string) {
  const signer = createKeyVaultSigner({
    vaultUrl: keyVault.url,
    credential,
    clientOptions,
    source: { kind: "certificate", certificateName: CERTIFICATE_NAME, alg: "RS256", chain: [] },
  });
  const grant = await createGrant(
    { audience: "https://test.maskinporten.no/", clientId: "client", scopes: ["skatteetaten:testnorge"] },
    signer,
  );

  const store = createKeyVaultTokenStore({ vaultUrl: keyVault.url, credential, clientOptions });
  const issuedAt = new Date(Math.floor(Date.now() / 1000) * 1000);
  const token: StoredToken = {
    accessToken: "opaque-maskinporten-token",
    tokenType: "Bearer",
    scope: "skatteetaten:testnorge",
    issuedAt,
    expiresAt: new Date(issuedAt.getTime() + 120_000),
    fingerprint: "v1.managed-identity-test",
  };
  const written = await store.write("skatt", secretName, token);
  const read = await store.read("skatt", secretName);
  return { grant, written, read, token };
}

async function expectGrantSignedByTheCertificate(grant: string) {
  expect(decodeProtectedHeader(grant).x5c).toEqual([leafDer.toString("base64")]);
  await expect(compactVerify(grant, new X509Certificate(leafDer).publicKey, { algorithms: ["RS256"] })).resolves.toBeDefined();
}

describe("system-assigned managed identity (no AZURE_CLIENT_ID)", () => {
  it("createAzureCredential builds a ManagedIdentityCredential that signs in Key Vault and stores a token", async () => {
    const credential = createAzureCredential(appServiceSettings());
    expect(await credential.load()).toBeInstanceOf(ManagedIdentityCredential);
    keyVault.resetCounters();
    const issuedBefore = entra.managedIdentityTokensIssuedFor(systemAssigned.clientId);

    const { grant, written, read, token } = await runKeyVaultAdapters(credential, "maskinporten-system");

    await expectGrantSignedByTheCertificate(grant);
    expect(written).toEqual({ current: token, written: true });
    expect(read).toEqual(token);
    expect(keyVault.getSecretVersions("maskinporten-system").map((version) => version.value)).toEqual([token.accessToken]);
    // Every client started with the unauthenticated request, then got in with the identity's token.
    expect(keyVault.counters.challenge).toBeGreaterThanOrEqual(3);
    expect(keyVault.counters.sign).toBe(1);
    expect(keyVault.counters.secretSet).toBe(1);
    // MSAL caches the token: one request to the endpoint for all three clients.
    expect(entra.managedIdentityTokensIssuedFor(systemAssigned.clientId)).toBe(issuedBefore + 1);
    expect(entra.managedIdentityTokensIssuedFor(userAssigned.clientId)).toBe(0);
  });

  it("gets the system-assigned identity's v1.0 token for https://vault.azure.net, which Key Vault's check accepts", async () => {
    const accessToken = await createAzureCredential(appServiceSettings()).getToken(`${KEY_VAULT_RESOURCE}/.default`);
    const claims = decodeJwt(requireToken(accessToken).token);
    expect(claims).toMatchObject({
      aud: KEY_VAULT_RESOURCE,
      iss: entra.v1Issuer,
      tid: entra.tenantId,
      appid: systemAssigned.clientId,
      oid: systemAssigned.objectId,
      idtyp: "app",
      ver: "1.0",
      xms_mirid: systemAssigned.resourceId,
    });
    // expires_on (epoch seconds) became the credential's expiry.
    expect(requireToken(accessToken).expiresOnTimestamp).toBe(claims.exp! * 1000);
    const check = createEntraAccessTokenCheck(entra, { audiences: [KEY_VAULT_RESOURCE, KEY_VAULT_APP_ID] });
    expect(await check(requireToken(accessToken).token)).toBe(true);
  });
});

describe("user-assigned managed identity (AZURE_CLIENT_ID)", () => {
  beforeAll(() => {
    process.env.AZURE_CLIENT_ID = userAssigned.clientId;
  });
  afterAll(() => {
    delete process.env.AZURE_CLIENT_ID;
  });

  it("createAzureCredential asks for the user-assigned identity's token and the adapters work with it", async () => {
    const credential = createAzureCredential(appServiceSettings({ AZURE_CLIENT_ID: userAssigned.clientId }));
    expect(await credential.load()).toBeInstanceOf(ManagedIdentityCredential);
    const systemIssued = entra.managedIdentityTokensIssuedFor(systemAssigned.clientId);

    const { grant, read, token } = await runKeyVaultAdapters(credential, "maskinporten-user");

    await expectGrantSignedByTheCertificate(grant);
    expect(read).toEqual(token);
    expect(entra.managedIdentityTokensIssuedFor(userAssigned.clientId)).toBe(1);
    expect(entra.managedIdentityTokensIssuedFor(systemAssigned.clientId)).toBe(systemIssued);

    const claims = decodeJwt(requireToken(await credential.getToken(`${KEY_VAULT_RESOURCE}/.default`)).token);
    expect(claims).toMatchObject({ appid: userAssigned.clientId, oid: userAssigned.objectId, xms_mirid: userAssigned.resourceId });
    expect(String(claims["xms_mirid"])).toContain("/Microsoft.ManagedIdentity/userAssignedIdentities/id-maskinporten-broker");
  });
});

describe("Key Vault refuses tokens it cannot verify", () => {
  function fixedToken(token: string): TokenCredential {
    return { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3_600_000, tokenType: "Bearer" }) };
  }

  async function foreignTenantStandInToken(): Promise<string> {
    // Same tenant id, issuer path and claims: only the signing key is not the tenant's.
    const impostor = await startEntraStandIn({ tenantId: entra.tenantId });
    try {
      return impostor.mintToken({ iss: entra.v1Issuer, aud: KEY_VAULT_RESOURCE, ver: "1.0", appid: systemAssigned.clientId });
    } finally {
      await impostor.close();
    }
  }

  const unsigned = (claims: Record<string, unknown>) =>
    `${Buffer.from(JSON.stringify({ typ: "JWT", alg: "none" })).toString("base64url")}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.`;
  const nowSeconds = () => Math.floor(Date.now() / 1000);

  it.each([
    [
      "an unsigned token with a managed identity's claims",
      async () =>
        unsigned({
          aud: KEY_VAULT_RESOURCE,
          iss: entra.v1Issuer,
          tid: entra.tenantId,
          iat: nowSeconds(),
          exp: nowSeconds() + 3600,
          appid: systemAssigned.clientId,
          ver: "1.0",
        }),
    ],
    ["a token signed by a key the tenant never published", foreignTenantStandInToken],
    ["a token for another audience (https://management.azure.com)", async () => entra.mintToken({ aud: "https://management.azure.com" })],
    [
      "a token for https://vault.azure.net/ (trailing slash, AKV10022 in real Key Vault)",
      async () => entra.mintToken({ aud: `${KEY_VAULT_RESOURCE}/` }),
    ],
    ["an expired token", async () => entra.mintToken({ aud: KEY_VAULT_RESOURCE, iat: nowSeconds() - 7200, exp: nowSeconds() - 3600 })],
    ["a token from another tenant", async () => entra.mintToken({ aud: KEY_VAULT_RESOURCE, tid: "9d3c5b1a-0e2f-4a6b-8c7d-1e2f3a4b5c6d" })],
  ])("401 with Key Vault's challenge for %s", async (_name, makeToken) => {
    keyVault.resetCounters();
    keyVault.setSecret("refusal-probe", "probe-value");
    const client = new SecretClient(keyVault.url, fixedToken(await makeToken()), clientOptions);

    const error = (await client.getSecret("refusal-probe").catch((caught: unknown) => caught)) as {
      statusCode?: number;
      code?: string;
      response?: { headers: { get(name: string): string | undefined } };
    };

    expect(error.statusCode).toBe(401);
    expect(error.code).toBe("Unauthorized");
    expect(error.response?.headers.get("www-authenticate")).toBe(keyVault.challenge);
    expect(keyVault.counters.secretGet).toBe(0);
  });

  it("lets the same request in with the identity's real token (so the refusals above are about the token)", async () => {
    keyVault.setSecret("refusal-probe", "probe-value");
    const valid = requireToken(await createAzureCredential(appServiceSettings()).getToken(`${KEY_VAULT_RESOURCE}/.default`)).token;
    const secret = await new SecretClient(keyVault.url, fixedToken(valid), clientOptions).getSecret("refusal-probe");
    expect(secret.value).toBe("probe-value");
  });
});

describe("a process started with a wrong IDENTITY_HEADER", () => {
  it("fails with a Key Vault error that carries the token endpoint's refusal, and no Key Vault operation runs", async () => {
    const refusedBefore = entra.managedIdentityRequestsRefused;
    keyVault.resetCounters();
    const wrongHeader = "0b9a1670-43ab-4981-bb90-0729d371c0c0";

    const outcome = await readSecretInFreshProcess({ IDENTITY_HEADER: wrongHeader });

    expect(outcome).toMatchObject({ outcome: "failed", name: "BrokerError", code: "ERR_KEY_VAULT" });
    expect(outcome.message).toMatch(/^Key Vault secret "maskinporten-child" could not be read: /);
    expect(outcome.message).toContain("ManagedIdentityCredential");
    expect(outcome.message).toContain("X-IDENTITY-HEADER");
    expect(outcome.cause?.name).toBe("CredentialUnavailableError");
    expect(JSON.stringify(outcome)).not.toContain(wrongHeader);
    expect(JSON.stringify(outcome)).not.toContain(systemAssigned.env.IDENTITY_HEADER);
    expect(entra.managedIdentityRequestsRefused).toBeGreaterThan(refusedBefore);
    // Only the SDK's unauthenticated first request arrived: no operation ran.
    expect(keyVault.counters.secretGet).toBe(0);
  });

  it("the same child process with the right header gets in (so the failure above is the header's)", async () => {
    keyVault.resetCounters();
    // Never written: an authenticated read finds nothing (404), where a refused one would fail.
    expect(await readSecretInFreshProcess({})).toEqual({ outcome: "read" });
    expect(keyVault.counters.secretGet).toBe(1);
  });
});

function requireToken(token: AccessToken | null): AccessToken {
  if (token === null) throw new Error("the credential returned no token");
  return token;
}

interface ChildOutcome {
  outcome: "read" | "failed";
  accessToken?: string;
  name?: string;
  code?: string;
  message?: string;
  cause?: { name?: string; message?: string };
}

const repositoryRoot = fileURLToPath(new URL("../../", import.meta.url));
/** Lets Node run the TypeScript sources directly: `./x.js` imports resolve to `./x.ts`. */
const RESOLVE_TS_SOURCES = `export async function resolve(specifier, context, next) {
  try { return await next(specifier, context); }
  catch (error) {
    if (specifier.startsWith(".") && specifier.endsWith(".js")) return next(specifier.slice(0, -3) + ".ts", context);
    throw error;
  }
}`;
/** In the child: the production credential and token store, then one read of the secret. */
const CHILD_SCRIPT = `
import { register } from "node:module";
register("data:text/javascript," + encodeURIComponent(process.env.TEST_RESOLVE_HOOK));
const { createAzureCredential } = await import(new URL("src/app/runtime.ts", process.env.TEST_ROOT_URL).href);
const { createKeyVaultTokenStore } = await import(new URL("src/keyvault/token-store.ts", process.env.TEST_ROOT_URL).href);
const credential = createAzureCredential({
  WEBSITE_INSTANCE_ID: "x",
  IDENTITY_ENDPOINT: process.env.IDENTITY_ENDPOINT,
  IDENTITY_HEADER: process.env.IDENTITY_HEADER,
});
const store = createKeyVaultTokenStore({
  vaultUrl: process.env.TEST_KEY_VAULT_URL,
  credential,
  clientOptions: { disableChallengeResourceVerification: true, tlsOptions: { ca: process.env.TEST_KEY_VAULT_CA } },
});
try {
  const token = await store.read("skatt", "maskinporten-child");
  console.log(JSON.stringify({ outcome: "read", accessToken: token?.accessToken }));
} catch (error) {
  console.log(JSON.stringify({
    outcome: "failed", name: error.name, code: error.code, message: error.message,
    cause: { name: error.cause?.name, message: error.cause?.message },
  }));
}
`;

/** A fresh Node process (fresh MSAL statics) with the App Service environment, plus `overrides`. */
async function readSecretInFreshProcess(overrides: Record<string, string>): Promise<ChildOutcome> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !(ENV_NAMES as readonly string[]).includes(name)) env[name] = value;
  }
  Object.assign(env, {
    IDENTITY_ENDPOINT: systemAssigned.env.IDENTITY_ENDPOINT,
    IDENTITY_HEADER: systemAssigned.env.IDENTITY_HEADER,
    TEST_RESOLVE_HOOK: RESOLVE_TS_SOURCES,
    TEST_ROOT_URL: new URL("../../", import.meta.url).href,
    TEST_KEY_VAULT_URL: keyVault.url,
    TEST_KEY_VAULT_CA: keyVault.caPem,
    ...overrides,
  });
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--experimental-transform-types", "--no-warnings", "--input-type=module", "--eval", CHILD_SCRIPT],
    { env, cwd: repositoryRoot, timeout: 15_000 },
  );
  const lastLine = stdout.trim().split("\n").at(-1) ?? "";
  return JSON.parse(lastLine) as ChildOutcome;
}
