/**
 * Certificate onboarding with a key born in Key Vault, end to end: `maskinporten-token certificate
 * csr|status|merge|cancel` (in process, with the stand-in's TLS trust injected) against the Key
 * Vault stand-in through the real SDK over HTTPS, the sandbox CA issuing for the CSR.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { CertificateClient } from "@azure/keyvault-certificates";
import { KeyClient } from "@azure/keyvault-keys";
import { SecretClient } from "@azure/keyvault-secrets";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { issueForCsr } from "../../sandbox/enterprise-ca.js";
import { startKeyVaultStandIn, type KeyVaultStandIn } from "../../sandbox/keyvault/index.js";
import { issueCertificate, issueEnterpriseCertificate, type IssuedCertificate } from "../../sandbox/pki.js";
import { runCertificateCommand } from "../../src/cli/certificate-command.js";
import type { CliEnvironment } from "../../src/cli/run.js";
import { staticCredential } from "../support/credentials.js";

const ORG = "991825827";
let kv: KeyVaultStandIn;
let intermediate: IssuedCertificate;
let work: string;
let counter = 0;
let name: string;

const clientOptions = () => ({ disableChallengeResourceVerification: true, tlsOptions: { ca: kv.caPem } });

beforeAll(async () => {
  ({ intermediate } = issueEnterpriseCertificate({ organisationNumber: ORG }));
  kv = await startKeyVaultStandIn();
  work = mkdtempSync(join(tmpdir(), "certificate-csr-"));
});

afterAll(async () => {
  await kv?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

beforeEach(() => {
  name = `virksomhetssertifikat-${++counter}`;
});

async function run(args: string[], now?: () => number): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const env: CliEnvironment = {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    cwd: work,
    keyVault: { credential: staticCredential(), clientOptions: clientOptions() },
    ...(now ? { now } : {}),
  };
  const code = await runCertificateCommand(args, env);
  return { code, stdout, stderr };
}

const vaultArgs = () => ["--vault", kv.url, "--name", name];

async function requestCsr(extra: string[] = []): Promise<string> {
  const result = await run(["csr", ...vaultArgs(), "--organisation-number", ORG, "--organisation-name", "Sandbox Rederi AS", ...extra]);
  expect(result.stderr).toContain("Next:");
  expect(result.code).toBe(0);
  expect(result.stdout).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----\n[\s\S]+-----END CERTIFICATE REQUEST-----\n$/);
  return result.stdout;
}

function writeIssued(pem: string): string {
  const file = `issued-${name}.pem`;
  writeFileSync(join(work, file), pem);
  return file;
}

describe("certificate csr", () => {
  it("makes a non-exportable RSA 3072 key in Key Vault and prints a CSR for it with the organisation in the subject", async () => {
    const csrPem = await requestCsr();
    const policy = await new CertificateClient(kv.url, staticCredential(), clientOptions()).getCertificatePolicy(name);
    expect(policy).toMatchObject({
      issuerName: "Unknown",
      exportable: false,
      keyType: "RSA",
      keySize: 3072,
      reuseKey: false,
      keyUsage: ["digitalSignature"],
    });
    expect(policy.subject).toBe(`CN=Sandbox Rederi AS, O=Sandbox Rederi AS, SERIALNUMBER=${ORG}, C=NO`);
    const issued = issueForCsr(csrPem, { issuer: intermediate });
    expect(issued.x509.publicKey.asymmetricKeyDetails?.modulusLength).toBe(3072);
    expect(issued.x509.subject).toContain(`organizationIdentifier=NTRNO-${ORG}`);
  });

  it("status shows the pending request and its CSR", async () => {
    const csrPem = await requestCsr(["--key-size", "2048"]);
    const status = await run(["status", ...vaultArgs(), "--csr"]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`${name}: inProgress`);
    expect(status.stdout).toContain(`CSR subject: C=NO, serialNumber=${ORG}, O=Sandbox Rederi AS, CN=Sandbox Rederi AS`);
    expect(status.stdout).toContain("RSA 2048 bits");
    expect(status.stdout.endsWith(csrPem)).toBe(true);
  });

  it("keeps a Norwegian name intact from the CSR through the issued certificate", async () => {
    const result = await run([
      "csr",
      ...vaultArgs(),
      "--organisation-number",
      ORG,
      "--organisation-name",
      "Sjøfart Ærø AS",
      "--key-size",
      "2048",
    ]);
    expect(result.code).toBe(0);
    expect((await run(["status", ...vaultArgs()])).stdout).toContain("O=Sjøfart Ærø AS, CN=Sjøfart Ærø AS");
    expect(issueForCsr(result.stdout, { issuer: intermediate }).x509.subject).toContain("O=Sjøfart Ærø AS");
  });

  it("refuses a second request while one is pending, with what to do", async () => {
    await requestCsr(["--key-size", "2048"]);
    const again = await run([
      "csr",
      ...vaultArgs(),
      "--organisation-number",
      ORG,
      "--organisation-name",
      "Sandbox Rederi AS",
      "--key-size",
      "2048",
    ]);
    expect(again.code).toBe(4);
    expect(again.stderr).toContain("already has a pending request");
  });

  it("reports every problem with the request together, before touching Key Vault", async () => {
    const before = kv.counters.certificateCreate;
    const result = await run([
      "csr",
      ...vaultArgs(),
      "--organisation-number",
      "12345",
      "--organisation-name",
      "",
      "--key-size",
      "1024",
      "--key-usage",
      "keyEncipherment",
    ]);
    expect(result.code).toBe(2);
    for (const text of [
      "9-digit organisation number",
      "--organisation-name is required",
      "--key-size must be",
      "must include digitalSignature",
    ]) {
      expect(result.stderr).toContain(text);
    }
    expect(kv.counters.certificateCreate).toBe(before);
  });
});

describe("certificate merge", () => {
  it("merges the issued certificate with its chain; the broker's certificate read then gets it", async () => {
    const csrPem = await requestCsr(["--key-size", "2048"]);
    const issued = issueForCsr(csrPem, { issuer: intermediate, chainDer: [intermediate.certificateDer] });
    const result = await run(["merge", writeIssued(issued.pem), ...vaultArgs()]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Merged into "${name}"`);
    expect(result.stdout).toContain("chain:  2 certificate(s); key non-exportable");

    const certificate = await new CertificateClient(kv.url, staticCredential(), clientOptions()).getCertificate(name);
    expect(Buffer.from(certificate.cer!).equals(issued.leafDer)).toBe(true);
    expect(certificate.properties.enabled).toBe(true);
    expect(certificate.policy?.exportable).toBe(false);
    const status = await run(["status", ...vaultArgs()]);
    expect(status.stdout).toContain(`${name}: completed`);
  });

  it("warns on a renewal from another issuing CA (SIGNING_CHAIN would be stale), not on one from the same", async () => {
    const withChain = { issuer: intermediate, chainDer: [intermediate.certificateDer] };
    const first = issueForCsr(await requestCsr(["--key-size", "2048"]), withChain);
    expect((await run(["merge", writeIssued(first.pem), ...vaultArgs()])).stderr).toBe("");
    const sameCa = issueForCsr(await requestCsr(["--key-size", "2048"]), withChain);
    expect((await run(["merge", writeIssued(sameCa.pem), ...vaultArgs()])).stderr).toBe("");
    const otherCa = issueCertificate({ commonName: "Other Class 3 CA", organisation: "Other CA AS", isCa: true });
    const renewal = issueForCsr(await requestCsr(["--key-size", "2048"]), { issuer: otherCa, chainDer: [otherCa.certificateDer] });
    const result = await run(["merge", writeIssued(renewal.pem), ...vaultArgs()]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(
      "warning: the new certificate is issued by C=NO, O=Other CA AS, CN=Other Class 3 CA, the current one by C=NO, O=Sandbox CA AS, CN=Sandbox Class 3 CA",
    );
    expect(result.stderr).toContain("SIGNING_CHAIN");
  });

  it("reads a DER .cer and a PKCS#7 .p7b as well as PEM", async () => {
    const csrPem = await requestCsr(["--key-size", "2048"]);
    const issued = issueForCsr(csrPem, { issuer: intermediate });
    writeFileSync(join(work, `${name}.cer`), issued.leafDer);
    const result = await run(["merge", `${name}.cer`, ...vaultArgs()]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain("no issuing CA certificate");
  });

  it("refuses a certificate issued for another key (our check), and Key Vault refuses it too when the check is bypassed", async () => {
    await requestCsr(["--key-size", "2048"]);
    const otherName = `${name}-other`;
    const other = await run([
      "csr",
      "--vault",
      kv.url,
      "--name",
      otherName,
      "--organisation-number",
      ORG,
      "--organisation-name",
      "Sandbox Rederi AS",
      "--key-size",
      "2048",
    ]);
    const wrong = issueForCsr(other.stdout, { issuer: intermediate, chainDer: [intermediate.certificateDer] });
    const before = kv.counters.certificateMerge;
    const result = await run(["merge", writeIssued(wrong.pem), ...vaultArgs()]);
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/none of the 2 certificates in the file matches the pending key/);
    expect(kv.counters.certificateMerge).toBe(before);

    const client = new CertificateClient(kv.url, staticCredential(), clientOptions());
    await expect(client.mergeCertificate(name, [new Uint8Array(wrong.leafDer)])).rejects.toMatchObject({
      statusCode: 400,
      code: "BadParameter",
    });
    expect((await run(["status", ...vaultArgs()])).stdout).toContain(`${name}: inProgress`);
  });

  it("refuses a certificate for another organisation, one without digitalSignature and an expired one, saying why", async () => {
    const csrPem = await requestCsr(["--key-size", "2048"]);
    const cases: [Parameters<typeof issueForCsr>[1], string][] = [
      [{ issuer: intermediate, subjectOrganisationNumber: "910000005" }, `issued to organisation 910000005, not ${ORG}`],
      [{ issuer: intermediate, keyUsage: ["keyEncipherment"] }, "does not allow digitalSignature"],
      [
        { issuer: intermediate, notBefore: new Date(Date.now() - 400 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) },
        "expired on",
      ],
    ];
    for (const [options, reason] of cases) {
      const result = await run(["merge", writeIssued(issueForCsr(csrPem, options).pem), ...vaultArgs()]);
      expect(result.code).toBe(4);
      expect(result.stderr).toContain(reason);
    }
    expect((await run(["status", ...vaultArgs()])).stdout).toContain(`${name}: inProgress`);
  });

  it("judges validity on the injected clock", async () => {
    const csrPem = await requestCsr(["--key-size", "2048"]);
    const issued = issueForCsr(csrPem, { issuer: intermediate });
    const later = issued.x509.validToDate.getTime() + 1000;
    const result = await run(["merge", writeIssued(issued.pem), ...vaultArgs()], () => later);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("expired on");
  });

  it("without a pending request: our answer, and Key Vault's 404 PendingCertificateNotFound", async () => {
    const csrPem = await requestCsr(["--key-size", "2048"]);
    const issued = issueForCsr(csrPem, { issuer: intermediate });
    const file = writeIssued(issued.pem);
    expect((await run(["merge", file, ...vaultArgs()])).code).toBe(0);
    const again = await run(["merge", file, ...vaultArgs()]);
    expect(again.code).toBe(4);
    expect(again.stderr).toContain("has no pending certificate request (its last one is completed)");
    const client = new CertificateClient(kv.url, staticCredential(), clientOptions());
    await expect(client.mergeCertificate(name, [new Uint8Array(issued.leafDer)])).rejects.toMatchObject({
      statusCode: 404,
      code: "PendingCertificateNotFound",
    });
    await expect(client.mergeCertificate(`${name}-never`, [new Uint8Array(issued.leafDer)])).rejects.toMatchObject({
      statusCode: 404,
      code: "CertificateNotFound",
    });
  });

  it("refuses to merge into a pending certificate whose key was made exportable", async () => {
    const client = new CertificateClient(kv.url, staticCredential(), clientOptions());
    await client.beginCreateCertificate(name, {
      issuerName: "Unknown",
      subject: `CN=X, SERIALNUMBER=${ORG}, C=NO`,
      exportable: true,
      keySize: 2048,
    });
    const csr = (await run(["status", ...vaultArgs(), "--csr"])).stdout.replace(/^[\s\S]*?(?=-----BEGIN)/, "");
    const before = kv.counters.certificateMerge;
    const result = await run(["merge", writeIssued(issueForCsr(csr, { issuer: intermediate }).pem), ...vaultArgs()]);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("created with an exportable key");
    expect(kv.counters.certificateMerge).toBe(before);
  });

  it("refuses a file with a private key in it", async () => {
    await requestCsr(["--key-size", "2048"]);
    writeFileSync(
      join(work, `${name}.pem`),
      intermediate.privateKey.export({ type: "pkcs8", format: "pem" }).toString() + intermediate.certificatePem,
    );
    const result = await run(["merge", `${name}.pem`, ...vaultArgs()]);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("contains a private key");
  });
});

describe("the key never leaves Key Vault", () => {
  it("no response carries private key material: operation, certificate, key, secret", async () => {
    const csrPem = await requestCsr(["--key-size", "2048"]);
    const certificates = new CertificateClient(kv.url, staticCredential(), clientOptions());
    const pendingBundle = await certificates.getCertificate(name);
    expect(pendingBundle.cer).toBeUndefined();
    expect(pendingBundle.properties.enabled).toBe(false);
    const issued = issueForCsr(csrPem, { issuer: intermediate, chainDer: [intermediate.certificateDer] });
    expect((await run(["merge", writeIssued(issued.pem), ...vaultArgs()])).code).toBe(0);

    const key = await new KeyClient(kv.url, staticCredential(), clientOptions()).getKey(name);
    const jwk = (key.key ?? {}) as Record<string, unknown>;
    expect(["d", "p", "q", "dp", "dq", "qi", "k"].filter((part) => jwk[part] !== undefined)).toEqual([]);
    expect(key.properties.exportable).toBe(false);
    expect(key.keyOperations).toEqual(["sign", "verify"]);
    const secret = await new SecretClient(kv.url, staticCredential(), clientOptions()).getSecret(name);
    expect(secret.value).not.toContain("PRIVATE KEY");
    // The secret is the chain as PEM: the issued leaf and the intermediate, nothing else.
    const blocks = [...(secret.value ?? "").matchAll(/-----BEGIN ([A-Z ]+)-----/g)].map((match) => match[1]);
    expect(blocks).toEqual(["CERTIFICATE", "CERTIFICATE"]);
    expect(new X509Certificate(secret.value!.split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----").fingerprint256).toBe(
      issued.x509.fingerprint256,
    );
  });
});

describe("certificate cancel", () => {
  it("drops the pending request and its key; a new csr may follow", async () => {
    await requestCsr(["--key-size", "2048"]);
    const result = await run(["cancel", ...vaultArgs()]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("pending request deleted");
    expect((await run(["status", ...vaultArgs()])).stdout).toContain("no pending certificate request");
    await expect(new KeyClient(kv.url, staticCredential(), clientOptions()).getKey(name)).rejects.toMatchObject({ statusCode: 404 });
    await requestCsr(["--key-size", "2048"]);
  });
});
