/**
 * The CLI's Key Vault signing, run in process (the credential and the stand-in's TLS trust are
 * test-only injections a child process cannot take), against the Key Vault and Maskinporten
 * stand-ins. Also checks that Key Vault and a keystore holding the same certificate give the same
 * grant header, so the CLI and the broker present the same key.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startKeyVaultStandIn, type KeyVaultStandIn } from "../../sandbox/keyvault/index.js";
import { startMaskinportenStandIn, type MaskinportenStandIn } from "../../sandbox/maskinporten/index.js";
import { issueEnterpriseCertificate, type IssuedCertificate } from "../../sandbox/pki.js";
import { runCli, type CliEnvironment } from "../../src/cli/run.js";
import { staticCredential } from "../support/credentials.js";
import { makePkcs12 } from "../support/keystores.js";

const ORG = "910000005";
let kv: KeyVaultStandIn;
let mp: MaskinportenStandIn;
let leaf: IssuedCertificate;
let intermediate: IssuedCertificate;
let work: string;

beforeAll(async () => {
  ({ leaf, intermediate } = issueEnterpriseCertificate({ organisationNumber: ORG }));
  kv = await startKeyVaultStandIn();
  kv.importCertificate("maskinporten-cert", {
    privateKey: leaf.privateKey,
    certificateDer: leaf.certificateDer,
    chainDer: [intermediate.certificateDer],
  });
  mp = await startMaskinportenStandIn({ trustedRoots: [intermediate.certificateDer] });
  mp.registerClient({ clientId: "kv-client", organisationNumber: ORG, scopes: ["digdir:kv"] });
  work = mkdtempSync(join(tmpdir(), "maskinporten-token-kv-"));
  writeFileSync(
    join(work, "same.p12"),
    makePkcs12({ storePassword: "pw-same", keys: [{ alias: "a", privateKey: leaf.privateKey, chain: [leaf.certificateDer] }] }),
  );
});

afterAll(async () => {
  await kv?.close();
  await mp?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function runIn(lines: string[], args: string[] = ["json"]): Promise<{ code: number; stdout: string; stderr: string }> {
  const file = join(work, `client-${Math.random().toString(36).slice(2)}.properties`);
  writeFileSync(file, lines.join("\n"));
  let stdout = "";
  let stderr = "";
  const env: CliEnvironment = {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    cwd: work,
    keyVault: {
      credential: staticCredential(),
      clientOptions: { disableChallengeResourceVerification: true, tlsOptions: { ca: kv.caPem } },
    },
    maskinporten: { retry: { baseDelayMs: 1, maxDelayMs: 2 } },
  };
  const code = await runCli([file, ...args], env);
  return { code, stdout, stderr };
}

const grantOnly = () => ["issuer=kv-client", `audience=${mp.issuer}`, "scope=digdir:kv"];
const common = () => [...grantOnly(), `token.endpoint=${mp.tokenEndpoint}`];

describe("maskinporten-token with Key Vault signing", () => {
  it("signs in Key Vault (x5c = the certificate's leaf) and gets a token", async () => {
    const result = await runIn([...common(), `keyvault.url=${kv.url}`, "keyvault.certificate=maskinporten-cert"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const output = JSON.parse(result.stdout) as { grant: string; token: { access_token: string } };
    expect(decodeProtectedHeader(output.grant)).toEqual({ alg: "RS256", x5c: [leaf.certificateDer.toString("base64")] });
    expect(mp.verifyAccessToken(output.token.access_token)).toMatchObject({ client_id: "kv-client", scope: "digdir:kv" });
    expect(kv.counters.sign).toBe(1);
  });

  it("gives the same header as a keystore holding the same certificate", async () => {
    const fromVault = await runIn([...grantOnly(), `keyvault.url=${kv.url}`, "keyvault.certificate=maskinporten-cert"]);
    const fromKeystore = await runIn([...grantOnly(), "keystore.file=same.p12", "keystore.type=PKCS12", "keystore.password=pw-same"]);
    expect(fromVault.code).toBe(0);
    expect(fromKeystore.code).toBe(0);
    const vaultGrant = (JSON.parse(fromVault.stdout) as { grant: string }).grant;
    const keystoreGrant = (JSON.parse(fromKeystore.stdout) as { grant: string }).grant;
    expect(decodeProtectedHeader(vaultGrant)).toEqual(decodeProtectedHeader(keystoreGrant));
    const { jti: _a, iat: _b, exp: _c, ...vaultClaims } = decodeJwt(vaultGrant);
    const { jti: _d, iat: _e, exp: _f, ...keystoreClaims } = decodeJwt(keystoreGrant);
    expect(vaultClaims).toEqual(keystoreClaims);
  });

  it("keyvault.kid puts the kid in the header instead of x5c", async () => {
    const result = await runIn([
      ...grantOnly(),
      `keyvault.url=${kv.url}`,
      "keyvault.certificate=maskinporten-cert",
      "keyvault.kid=vault-kid",
    ]);
    expect(result.code).toBe(0);
    expect(decodeProtectedHeader((JSON.parse(result.stdout) as { grant: string }).grant)).toEqual({ alg: "RS256", kid: "vault-kid" });
  });

  it("an unknown certificate → exit 4 naming it", async () => {
    const result = await runIn([...common(), `keyvault.url=${kv.url}`, "keyvault.certificate=no-such-cert"]);
    expect(result.code).toBe(4);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/Key Vault certificate "no-such-cert" could not be read: HTTP 404/);
  });

  it("keystore and Key Vault keys together → exit 3", async () => {
    const result = await runIn([
      ...common(),
      `keyvault.url=${kv.url}`,
      "keyvault.certificate=maskinporten-cert",
      "keystore.file=same.p12",
      "keystore.password=x",
    ]);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/set either keystore\.file .* or keyvault\.url \+ keyvault\.certificate .*, not both/);
  });
});
