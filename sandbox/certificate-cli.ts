/**
 * `npm run sandbox:certificate -- <command>` against a running `npm start`, with the details from
 * .sandbox/env.json:
 *   csr | status | merge <file> | cancel   the real `maskinporten-token certificate` command, signed in
 *                                          as the sandbox operator, vault and certificate name filled in
 *   issue <csr.pem>                        the sandbox CA issues a SEID-2-like certificate (PEM chain on stdout)
 *   grants                                 the certificates in x5c of Maskinporten's latest accepted grants
 * Sandbox only: it trusts the stand-in's CA and skips the Key Vault challenge's domain check.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { runCertificateCommand } from "../src/cli/certificate-command.js";
import { SANDBOX_ORGANISATION } from "./sandbox.js";
import { sandboxOperatorCredential } from "./sandbox-operator.js";

interface SandboxEnvFile {
  keyVaultUrl: string;
  keyVaultCaPem: string;
  caPem?: string;
  entraTokenUrl: string;
  certificateIssuerUrl: string;
  maskinportenGrantsUrl: string;
  operator: { clientId: string; clientSecret: string };
  settings: Record<string, string>;
}

const envFile = process.env.SANDBOX_ENV_FILE ?? ".sandbox/env.json";
const [command, ...rest] = process.argv.slice(2);
const env = await loadEnv();
const out = (text: string) => process.stdout.write(text);
const err = (text: string) => process.stderr.write(text);

if (command === "issue") {
  const [csrFile] = rest;
  if (!csrFile) fail("usage: npm run sandbox:certificate -- issue <csr.pem>");
  const response = await fetch(env.certificateIssuerUrl, { method: "POST", body: await readFile(resolve(csrFile)) });
  const body = await response.text();
  if (!response.ok) fail(`the sandbox CA ${body.trim()}`);
  out(body);
} else if (command === "grants") {
  out(await (await fetch(env.maskinportenGrantsUrl)).text());
} else {
  const args = [...(command ? [command] : []), ...rest];
  const has = (flag: string) => args.some((arg) => arg === flag || arg.startsWith(`${flag}=`));
  const help = !command || args.includes("--help") || args.includes("-h");
  if (!help) {
    if (!has("--vault")) args.push("--vault", env.keyVaultUrl);
    if (!has("--name")) args.push("--name", env.settings.SIGNING_CERTIFICATE_NAME ?? "virksomhetssertifikat");
    if (command === "csr" && !has("--organisation-number")) args.push("--organisation-number", SANDBOX_ORGANISATION);
    if (command === "csr" && !has("--organisation-name")) args.push("--organisation-name", "Sandbox Rederi AS");
  }
  process.exitCode = await runCertificateCommand(args, {
    stdout: out,
    stderr: err,
    cwd: process.cwd(),
    keyVault: {
      credential: sandboxOperatorCredential(env),
      clientOptions: { disableChallengeResourceVerification: true, tlsOptions: { ca: env.keyVaultCaPem } },
    },
  });
}

async function loadEnv(): Promise<SandboxEnvFile> {
  try {
    return JSON.parse(await readFile(envFile, "utf8")) as SandboxEnvFile;
  } catch {
    fail(`cannot read ${envFile}: start the sandbox first (npm start)`);
  }
}

function fail(message: string): never {
  err(`sandbox:certificate: ${message}\n`);
  process.exit(1);
}
