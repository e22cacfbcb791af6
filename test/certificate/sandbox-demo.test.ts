/**
 * The CSR demo as `npm start` offers it: the sandbox operator runs the certificate command against
 * the sandbox's Key Vault, the sandbox CA issues for the CSR over HTTP, the merge succeeds, and the
 * broker's next grants (seen through the tools' grants view) carry the new certificate in x5c.
 */
import { X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCertificateCommand } from "../../src/cli/certificate-command.js";
import { startSandbox, SANDBOX_ORGANISATION, type Sandbox } from "../../sandbox/sandbox.js";
import { sandboxOperatorCredential } from "../../sandbox/sandbox-operator.js";

let sandbox: Sandbox;
let work: string;

beforeAll(async () => {
  sandbox = await startSandbox({
    port: 0,
    logger: { log: () => {} },
    signingKeyRefreshMs: 0,
    settingsOverrides: { RENEW_BEFORE_EXPIRY_RATIO: "0.99" },
  });
  work = mkdtempSync(join(tmpdir(), "certificate-demo-"));
});
afterAll(async () => {
  await sandbox?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function certificate(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const { env } = sandbox;
  const code = await runCertificateCommand([...args, "--vault", env.keyVaultUrl, "--name", env.settings.SIGNING_CERTIFICATE_NAME!], {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    cwd: work,
    keyVault: {
      credential: sandboxOperatorCredential(env),
      clientOptions: { disableChallengeResourceVerification: true, tlsOptions: { ca: env.keyVaultCaPem } },
    },
  });
  return { code, stdout, stderr };
}

type GrantView = { x5c?: { sha256: string; subject: string } }[];

describe("npm start: CSR → issued → merged → the next grant's x5c", () => {
  it("switches the broker to the certificate issued for the Key Vault-made key", async () => {
    const csr = await certificate([
      "csr",
      "--organisation-number",
      SANDBOX_ORGANISATION,
      "--organisation-name",
      "Sandbox Rederi AS",
      "--key-size",
      "2048",
    ]);
    expect(csr.code).toBe(0);

    const refused = await fetch(sandbox.env.certificateIssuerUrl, { method: "POST", body: "not a csr" });
    expect(refused.status).toBe(400);
    const issuedResponse = await fetch(sandbox.env.certificateIssuerUrl, { method: "POST", body: csr.stdout });
    expect(issuedResponse.status).toBe(200);
    const issuedPem = await issuedResponse.text();
    writeFileSync(join(work, "issued.pem"), issuedPem);
    const leaf = new X509Certificate(issuedPem);
    expect(leaf.subject).toContain(`organizationIdentifier=NTRNO-${SANDBOX_ORGANISATION}`);

    const merge = await certificate(["merge", "issued.pem"]);
    expect(merge.stderr).toBe("");
    expect(merge.code).toBe(0);

    const wanted = leaf.fingerprint256.replace(/:/g, "").toLowerCase();
    const deadline = Date.now() + 20_000;
    let latest: GrantView = [];
    while (Date.now() < deadline) {
      await sandbox.tick();
      latest = (await (await fetch(sandbox.env.maskinportenGrantsUrl)).json()) as GrantView;
      if (latest[0]?.x5c?.sha256 === wanted) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(latest[0]?.x5c?.sha256).toBe(wanted);
  });
});
