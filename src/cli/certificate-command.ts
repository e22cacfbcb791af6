/**
 * `maskinporten-token certificate csr|status|merge|cancel`: onboarding and renewing the enterprise
 * certificate without a key file. Key Vault makes the key (non-exportable) and a CSR; the CA
 * (Buypass, Commfides) issues the certificate for it; the merge puts it next to the key. The key
 * never exists outside Key Vault. Loaded only for this subcommand.
 */
import { X509Certificate } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { TokenCredential } from "@azure/identity";
import { readCertificateFile } from "../certificate/certificate-file.js";
import { csrToPem, parseCertificateRequest } from "../certificate/csr.js";
import { checkIssuedCertificate } from "../certificate/enterprise-certificate.js";
import { isKeyUsage, type KeyUsage } from "../certificate/key-usage.js";
import { describeName, organisationNumberIn } from "../certificate/names.js";
import { csrRequestProblems, enterpriseCertificatePolicy, type EnterpriseCsrRequest } from "../certificate/policy.js";
import { BrokerError, ErrorCode } from "../errors.js";
import type { KeyVaultConnection } from "../keyvault/connection.js";
import { EXIT_CODES } from "./help.js";
import type { CliEnvironment } from "./run.js";

const DEFAULT_NAME = "maskinporten-signing";

export const CERTIFICATE_USAGE = `Usage: maskinporten-token certificate csr    --vault <url|name> [--name ${DEFAULT_NAME}]
                                             --organisation-number <9 digits> --organisation-name <name>
                                             [--key-size 3072] [--hsm] [--key-usage digitalSignature[,nonRepudiation…]]
                                             [--validity-months 36] [--out <file.csr>]
       maskinporten-token certificate status --vault <url|name> [--name …] [--csr]
       maskinporten-token certificate merge  <issued.pem|.cer|.crt|.p7b> --vault <url|name> [--name …]
                                             [--organisation-number <9 digits>]
       maskinporten-token certificate cancel --vault <url|name> [--name …]

Onboards or renews the virksomhetssertifikat with a key made in Key Vault (non-exportable; an
HSM key with --hsm): csr creates the pending certificate and prints its CSR for Buypass or
Commfides; merge checks the issued certificate (same key as the CSR, your organisation number,
valid now, digitalSignature) and merges it with its chain; status shows the pending request;
cancel drops it. Credentials come from DefaultAzureCredential (az login, environment, managed
identity); the caller needs Key Vault Certificates Officer on the certificate.
`;

class UsageError extends Error {}

interface Parsed {
  action: "csr" | "status" | "merge" | "cancel" | "help";
  positional: string[];
  options: Map<string, string | true>;
}

const VALUE_OPTIONS = new Set([
  "--vault",
  "--name",
  "--organisation-number",
  "--organisation-name",
  "--key-size",
  "--key-usage",
  "--validity-months",
  "--out",
]);
const FLAG_OPTIONS = new Set(["--hsm", "--csr"]);
const ALLOWED: Record<Parsed["action"], string[]> = {
  // csr takes every value option, and --hsm.
  csr: [...VALUE_OPTIONS, "--hsm"],
  status: ["--vault", "--name", "--csr"],
  merge: ["--vault", "--name", "--organisation-number"],
  cancel: ["--vault", "--name"],
  help: [],
};

/** Runs `certificate …`; resolves to the exit code, never throws. */
export async function runCertificateCommand(argv: readonly string[], env: CliEnvironment): Promise<number> {
  try {
    const parsed = parseArguments(argv);
    if (parsed.action === "help") {
      env.stdout(CERTIFICATE_USAGE);
      return EXIT_CODES.ok;
    }
    const connection = await connect(parsed, env);
    const name = certificateName(parsed);
    switch (parsed.action) {
      case "csr":
        return await csr(parsed, connection, name, env);
      case "status":
        return await status(parsed, connection, name, env);
      case "merge":
        return await merge(parsed, connection, name, env);
      case "cancel":
        return await cancel(connection, name, env);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      env.stderr(`maskinporten-token certificate: ${error.message}\n(maskinporten-token certificate --help shows every option)\n`);
      return EXIT_CODES.usage;
    }
    env.stderr(`maskinporten-token certificate: ${error instanceof Error ? error.message : String(error)}\n`);
    if (error instanceof BrokerError) {
      return error.code === ErrorCode.KeyVault || error.code === ErrorCode.Certificate ? EXIT_CODES.keystoreOrSigning : EXIT_CODES.config;
    }
    return EXIT_CODES.failure;
  }
}

function parseArguments(argv: readonly string[]): Parsed {
  const [action, ...rest] = argv;
  if (action === undefined || action === "--help" || action === "-h" || action === "help")
    return { action: "help", positional: [], options: new Map() };
  if (action !== "csr" && action !== "status" && action !== "merge" && action !== "cancel") {
    throw new UsageError(`unknown certificate command "${action.slice(0, 40)}"`);
  }
  const options = new Map<string, string | true>();
  const positional: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (arg === "--help" || arg === "-h") return { action: "help", positional: [], options: new Map() };
    const [flag, inline] =
      arg.startsWith("--") && arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
    if (VALUE_OPTIONS.has(flag)) {
      const value = inline ?? rest[++i];
      if (value === undefined || (inline === undefined && value.startsWith("--"))) throw new UsageError(`${flag} needs a value`);
      options.set(flag, value);
    } else if (FLAG_OPTIONS.has(flag)) {
      options.set(flag, true);
    } else if (arg.startsWith("-")) {
      throw new UsageError(`unknown option ${arg.slice(0, 40)}`);
    } else {
      positional.push(arg);
    }
  }
  for (const flag of options.keys()) {
    if (!ALLOWED[action].includes(flag)) throw new UsageError(`${flag} does not apply to certificate ${action}`);
  }
  if (action === "merge" && positional.length !== 1) throw new UsageError("certificate merge takes the issued certificate file");
  if (action !== "merge" && positional.length > 0) throw new UsageError(`unexpected argument "${positional[0]!.slice(0, 40)}"`);
  return { action, positional, options };
}

function text(parsed: Parsed, flag: string): string | undefined {
  const value = parsed.options.get(flag);
  return typeof value === "string" ? value : undefined;
}

function certificateName(parsed: Parsed): string {
  const name = text(parsed, "--name") ?? DEFAULT_NAME;
  if (!/^[0-9a-zA-Z-]{1,127}$/.test(name))
    throw new UsageError("--name must be 1-127 letters, digits and hyphens (a Key Vault object name)");
  return name;
}

async function connect(parsed: Parsed, env: CliEnvironment): Promise<KeyVaultConnection> {
  const vault = text(parsed, "--vault");
  if (!vault) throw new UsageError("--vault is required: the vault URL (https://<name>.vault.azure.net/) or its name");
  let vaultUrl: string;
  if (/^[0-9a-zA-Z-]{3,24}$/.test(vault)) vaultUrl = `https://${vault}.vault.azure.net/`;
  else {
    let url: URL;
    try {
      url = new URL(vault);
    } catch {
      throw new UsageError("--vault is neither a vault name nor a URL");
    }
    if (url.protocol !== "https:") throw new UsageError("--vault must be an https URL");
    vaultUrl = url.href;
  }
  const credential = env.keyVault?.credential ?? (await defaultAzureCredential());
  return { vaultUrl, credential, ...(env.keyVault?.clientOptions ? { clientOptions: env.keyVault.clientOptions } : {}) };
}

async function defaultAzureCredential(): Promise<TokenCredential> {
  const { DefaultAzureCredential } = await import("@azure/identity");
  return new DefaultAzureCredential();
}

async function adapter() {
  return import("../certificate/keyvault-pending.js");
}

async function csr(parsed: Parsed, connection: KeyVaultConnection, name: string, env: CliEnvironment): Promise<number> {
  const keySizeText = text(parsed, "--key-size");
  const validityText = text(parsed, "--validity-months");
  const usages = text(parsed, "--key-usage")
    ?.split(",")
    .map((usage) => usage.trim())
    .filter(Boolean);
  const request: EnterpriseCsrRequest = {
    organisationNumber: text(parsed, "--organisation-number") ?? "",
    organisationName: text(parsed, "--organisation-name") ?? "",
    ...(keySizeText !== undefined ? { keySize: Number(keySizeText) } : {}),
    ...(validityText !== undefined ? { validityMonths: Number(validityText) } : {}),
    ...(parsed.options.has("--hsm") ? { hsm: true } : {}),
    ...(usages ? { keyUsage: usages as KeyUsage[] } : {}),
  };
  const problems = csrRequestProblems(request);
  if (usages?.some((usage) => !isKeyUsage(usage)))
    problems.push("key usages: digitalSignature, nonRepudiation, keyEncipherment, dataEncipherment");
  if (problems.length > 0) throw new UsageError(problems.join("\n  "));
  const policy = enterpriseCertificatePolicy(request);
  const { createPendingCertificate } = await adapter();
  const operation = await createPendingCertificate(connection, name, policy);
  if (!operation.csrDer) throw new BrokerError(ErrorCode.KeyVault, `Key Vault returned no CSR for "${name}"`);
  const pem = csrToPem(operation.csrDer);
  const out = text(parsed, "--out");
  if (out) await writeFile(resolve(env.cwd, out), pem);
  env.stdout(pem);
  env.stderr(
    `maskinporten-token certificate: Key Vault made a ${policy.keyType} ${policy.keySize}-bit key for "${name}" (non-exportable) and this CSR` +
      `${out ? ` (also in ${out})` : ""}: ${policy.subject}\n\n` +
      `Next:\n` +
      `  1. Order a virksomhetssertifikat (SEID 2) for organisation ${request.organisationNumber} with your own key / CSR\n` +
      `     ("kundegenerert nøkkel") from Buypass or Commfides and give them this CSR.\n` +
      `  2. When the certificate arrives: maskinporten-token certificate merge <issued file> --vault ${connection.vaultUrl} --name ${name}\n` +
      `  Until then "certificate status" shows the request; the broker keeps signing with the current version.\n`,
  );
  return EXIT_CODES.ok;
}

async function status(parsed: Parsed, connection: KeyVaultConnection, name: string, env: CliEnvironment): Promise<number> {
  const { getPendingOperation } = await adapter();
  const operation = await getPendingOperation(connection, name);
  if (!operation) {
    env.stdout(`${name}: no pending certificate request\n`);
    return EXIT_CODES.ok;
  }
  const request = operation.csrDer ? parseCertificateRequest(operation.csrDer) : undefined;
  const lines = [
    `${name}: ${operation.status}${operation.cancellationRequested ? " (cancellation requested)" : ""}`,
    `  issuer:      ${operation.issuerName ?? "(none)"}`,
    ...(operation.requestId ? [`  request id:  ${operation.requestId}`] : []),
    ...(operation.statusDetails ? [`  details:     ${operation.statusDetails}`] : []),
    ...(request
      ? [
          `  CSR subject: ${describeName(request.subject)}`,
          `  CSR key:     RSA ${request.publicKey.asymmetricKeyDetails?.modulusLength ?? "?"} bits`,
        ]
      : []),
    ...(operation.error ? [`  error:       ${operation.error.code ?? ""} ${operation.error.message ?? ""}`] : []),
  ];
  env.stdout(`${lines.join("\n")}\n`);
  if (parsed.options.has("--csr") && operation.csrDer) env.stdout(csrToPem(operation.csrDer));
  return EXIT_CODES.ok;
}

async function merge(parsed: Parsed, connection: KeyVaultConnection, name: string, env: CliEnvironment): Promise<number> {
  const file = parsed.positional[0]!;
  let bytes: Buffer;
  try {
    bytes = await readFile(resolve(env.cwd, file));
  } catch (error) {
    throw new BrokerError(ErrorCode.Config, `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, {
      cause: error,
    });
  }
  let certificatesDer: Buffer[];
  try {
    certificatesDer = readCertificateFile(bytes);
  } catch (error) {
    throw new BrokerError(ErrorCode.Certificate, `${file}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  const { currentIssuedCertificate, getPendingOperation, mergeIssuedCertificate, policyExportable } = await adapter();
  const operation = await getPendingOperation(connection, name);
  if (!operation || operation.status !== "inProgress" || !operation.csrDer) {
    throw new BrokerError(
      ErrorCode.Certificate,
      `"${name}" has no pending certificate request${operation ? ` (its last one is ${operation.status})` : ""}: start one with "certificate csr"`,
    );
  }
  const request = parseCertificateRequest(operation.csrDer);
  const organisationNumber = text(parsed, "--organisation-number") ?? organisationNumberIn(request.subject);
  if (!organisationNumber || !/^\d{9}$/.test(organisationNumber)) {
    throw new UsageError("the pending CSR names no organisation number: give --organisation-number");
  }
  const result = checkIssuedCertificate({ certificatesDer, request, organisationNumber, now: (env.now ?? Date.now)() });
  for (const warning of result.warnings) env.stderr(`maskinporten-token certificate: warning: ${warning}\n`);
  if (result.problems.length > 0 || !result.candidate) {
    throw new BrokerError(ErrorCode.Certificate, `not merged: ${file}:\n  ${result.problems.join("\n  ")}`);
  }
  if ((await policyExportable(connection, name)) !== false) {
    throw new BrokerError(
      ErrorCode.Certificate,
      `not merged: the pending "${name}" was created with an exportable key: drop it (certificate cancel) and start again with "certificate csr"`,
    );
  }
  const current = await currentIssuedCertificate(connection, name);
  const merged = await mergeIssuedCertificate(connection, name, result.candidate.chainDer);
  if (merged.policyExportable !== false || merged.keyExportable === true || merged.keyHasPrivateParts) {
    throw new BrokerError(
      ErrorCode.Certificate,
      `"${name}" was merged but Key Vault reports its key as exportable: do not use it; delete the version and start again with "certificate csr"`,
    );
  }
  const leaf = result.candidate.leaf;
  if (current) {
    const previousIssuer = new X509Certificate(current).issuer;
    if (previousIssuer !== leaf.issuer) {
      env.stderr(
        `maskinporten-token certificate: warning: the new certificate is issued by ${leaf.issuer.split("\n").join(", ")}, the current one by ` +
          `${previousIssuer.split("\n").join(", ")}: if the broker's SIGNING_CHAIN is set, set it to the new issuing CA certificate\n`,
      );
    }
  }
  env.stdout(
    `Merged into "${name}" version ${merged.version ?? "?"}: ${describeName(result.candidate.subject)}\n` +
      `  issuer: ${leaf.issuer.split("\n").join(", ")}\n` +
      `  valid:  ${new Date(leaf.validFrom).toISOString()} – ${new Date(leaf.validTo).toISOString()}\n` +
      `  chain:  ${result.candidate.chainDer.length} certificate(s); key non-exportable\n` +
      `The broker signs with it from its next certificate refresh (at most an hour). Locked (x5c) clients:\n` +
      `register the new certificate on the client first; kid clients: register the new key first.\n`,
  );
  return EXIT_CODES.ok;
}

async function cancel(connection: KeyVaultConnection, name: string, env: CliEnvironment): Promise<number> {
  const { deletePendingOperation } = await adapter();
  const operation = await deletePendingOperation(connection, name);
  env.stdout(operation ? `${name}: pending request deleted (its key is gone with it)\n` : `${name}: no pending certificate request\n`);
  return EXIT_CODES.ok;
}
