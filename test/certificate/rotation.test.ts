/**
 * The rotation story: while the old certificate is valid, a new version is requested by CSR;
 * the broker keeps signing with the old one meanwhile (even after a restart, when Key Vault's
 * "latest" is the pending version), and after the merge its next certificate refresh (at most
 * hourly, on the injected clock) puts the new certificate in x5c, which Maskinporten accepts.
 */
import { X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueForCsr } from "../../sandbox/enterprise-ca.js";
import { startKeyVaultStandIn, type KeyVaultStandIn } from "../../sandbox/keyvault/index.js";
import { startMaskinportenStandIn, type MaskinportenStandIn } from "../../sandbox/maskinporten/index.js";
import { issueEnterpriseCertificate } from "../../sandbox/pki.js";
import { createBroker } from "../../src/broker.js";
import { runCertificateCommand } from "../../src/cli/certificate-command.js";
import { parseBrokerConfig } from "../../src/config/settings.js";
import { createVaultPublicKeyReader } from "../../src/keyvault/public-key.js";
import { DEFAULT_KEY_REFRESH_MS } from "../../src/keyvault/signer.js";
import { staticCredential } from "../support/credentials.js";

const ORG = "991825827";
const NAME = "virksomhetssertifikat";
const pki = issueEnterpriseCertificate({ organisationNumber: ORG, organisation: "Sandbox Rederi AS" });
let clock = Date.now();
const now = () => clock;
let kv: KeyVaultStandIn;
let mp: MaskinportenStandIn;
let work: string;

beforeAll(async () => {
  [kv, mp] = await Promise.all([startKeyVaultStandIn(), startMaskinportenStandIn({ trustedRoots: [pki.root.certificateDer], now })]);
  kv.importCertificate(NAME, { privateKey: pki.leaf.privateKey, certificateDer: pki.leaf.certificateDer, exportable: false });
  mp.registerClient({ clientId: "sdir-client", organisationNumber: ORG, scopes: ["sdir:read"], tokenLifetimeSeconds: 120 });
  work = mkdtempSync(join(tmpdir(), "certificate-rotation-"));
});
afterAll(async () => {
  await Promise.all([kv?.close(), mp?.close()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

const clientOptions = () => ({ disableChallengeResourceVerification: true, tlsOptions: { ca: kv.caPem } });
const settings = () => ({
  KEY_VAULT_URL: kv.url,
  MASKINPORTEN_ENVIRONMENT: mp.issuer,
  TOKEN_PROFILES: "sdir",
  SIGNING_CERTIFICATE_NAME: NAME,
  SIGNING_CHAIN: pki.intermediate.certificateDer.toString("base64"),
  PROFILE_SDIR_CLIENT_ID: "sdir-client",
  PROFILE_SDIR_SCOPES: "sdir:read",
});
const newBroker = () =>
  createBroker({ config: parseBrokerConfig(settings()), credential: staticCredential(), keyVaultClientOptions: clientOptions(), now });

async function certificateCommand(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await runCertificateCommand([...args, "--vault", kv.url, "--name", NAME], {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    cwd: work,
    keyVault: { credential: staticCredential(), clientOptions: clientOptions() },
    now,
  });
  return { code, stdout, stderr };
}

/** Lets the last token (120 s) expire, renews, and returns the leaf of the one accepted grant. */
async function leafOfNextGrant(broker: ReturnType<typeof newBroker>): Promise<string> {
  clock += 3 * 60_000;
  const before = mp.grants.length;
  await broker.renewAll("timer");
  const grants = mp.grants.slice(before);
  expect(grants.map((grant) => grant.outcome)).toEqual(["accepted"]);
  return (grants[0]!.header as { x5c: string[] }).x5c[0]!;
}

describe("renewing the certificate by CSR while the old one is valid", () => {
  it("keeps the old certificate until the merge, then the next refresh signs with the new one", async () => {
    const oldLeaf = pki.leaf.certificateDer.toString("base64");
    const broker = newBroker();
    expect(await leafOfNextGrant(broker)).toBe(oldLeaf);

    const csr = await certificateCommand([
      "csr",
      "--organisation-number",
      ORG,
      "--organisation-name",
      "Sandbox Rederi AS",
      "--key-size",
      "2048",
    ]);
    expect(csr.code).toBe(0);

    // Pending: Key Vault's latest is the pending version; the running broker and a restarted one keep the old certificate.
    clock += DEFAULT_KEY_REFRESH_MS + 1000;
    expect(await leafOfNextGrant(broker)).toBe(oldLeaf);
    expect(await leafOfNextGrant(newBroker())).toBe(oldLeaf);
    // Key registration reads the same certificate: the public key it would post is the old one's.
    const readPublicKey = createVaultPublicKeyReader({ vaultUrl: kv.url, credential: staticCredential(), clientOptions: clientOptions() });
    const pendingKey = await readPublicKey(parseBrokerConfig(settings()).profiles[0]!.signing);
    expect(pendingKey.jwk.n).toBe(new X509Certificate(pki.leaf.certificateDer).publicKey.export({ format: "jwk" }).n);

    const issued = issueForCsr(csr.stdout, { issuer: pki.intermediate, chainDer: [pki.intermediate.certificateDer] });
    writeFileSync(join(work, "issued.pem"), issued.pem);
    const merge = await certificateCommand(["merge", "issued.pem"]);
    expect(merge.stderr).toBe(""); // same issuing CA as the old certificate: SIGNING_CHAIN stays right
    expect(merge.code).toBe(0);

    // Merged, but the broker re-reads the certificate only after its refresh interval.
    expect(await leafOfNextGrant(broker)).toBe(oldLeaf);
    clock += DEFAULT_KEY_REFRESH_MS;
    const newLeaf = issued.leafDer.toString("base64");
    expect(await leafOfNextGrant(broker)).toBe(newLeaf);
    expect(mp.grants.at(-1)!.header).toEqual({ alg: "RS256", x5c: [newLeaf, pki.intermediate.certificateDer.toString("base64")] });
    expect(await leafOfNextGrant(newBroker())).toBe(newLeaf);
  });
});
