/**
 * The `maskinporten-token` command: arguments → properties → signer → grant → (token) → output.
 * Everything with side effects comes in through {@link CliEnvironment} so tests can run it in
 * process too; `main.ts` wires the real process.
 */
import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import type { TokenCredential } from "@azure/identity";
import { BrokerError, ErrorCode } from "../errors.js";
import { createGrant, type GrantClaimsInput } from "../grant/grant.js";
import type { KeyVaultClientOptions } from "../keyvault/connection.js";
import { createMaskinportenClient, MaskinportenError, type IssuedToken } from "../maskinporten/client.js";
import type { RetryPolicy } from "../retry.js";
import { loadKeystoreKey } from "./keystore/keystore.js";
import { createLocalKeySigner } from "../signing/local-key-signer.js";
import type { GrantSigner } from "../signing/signer.js";
import { parseClientConfig, type CliConfig, type CliSigning } from "./client-config.js";
import { EXIT_CODES, helpText } from "./help.js";
import { parseJavaProperties } from "./properties.js";

export interface CliEnvironment {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Where relative paths are resolved first (the seed tool resolves them against the working directory). */
  cwd: string;
  /** Key Vault access; DefaultAzureCredential when absent. Tests inject a credential and stand-in TLS trust. */
  keyVault?: { credential?: TokenCredential; clientOptions?: KeyVaultClientOptions };
  /** Maskinporten client tuning (tests shorten the retry backoff). */
  maskinporten?: { retry?: Partial<RetryPolicy>; timeoutMs?: number };
  now?: () => number;
}

const USAGE = "usage: maskinporten-token <client.properties> [json]   (--help explains every key)";
/** Warn this long before the certificate expires: renewing an enterprise certificate takes weeks. */
const EXPIRY_WARNING_MS = 30 * 86_400_000;

class UsageError extends Error {}

/** Runs the command; resolves to the process exit code. Never throws. */
export async function runCli(argv: readonly string[], env: CliEnvironment): Promise<number> {
  try {
    const args = parseArguments(argv);
    if (args.help) {
      env.stdout(helpText());
      return EXIT_CODES.ok;
    }
    const config = await loadConfig(args.propertiesPath, env);
    if (config.unknownKeys.length > 0) {
      env.stderr(`maskinporten-token: warning: ignoring unknown keys in ${args.propertiesPath}: ${config.unknownKeys.join(", ")}\n`);
    }
    const signer = await createSigner(config.signing, args.propertiesPath, env);
    await warnAboutCertificateExpiry(signer, env);
    const result = await obtain(config, signer, env);
    env.stdout(args.json ? formatJson(result) : formatText(result));
    return EXIT_CODES.ok;
  } catch (error) {
    env.stderr(describeFailure(error));
    return exitCodeFor(error);
  }
}

function parseArguments(argv: readonly string[]): { help: true } | { help: false; propertiesPath: string; json: boolean } {
  if (argv.includes("--help") || argv.includes("-h")) return { help: true };
  const [propertiesPath, mode, ...rest] = argv;
  if (propertiesPath === undefined || propertiesPath.startsWith("-")) throw new UsageError(USAGE);
  if (rest.length > 0 || (mode !== undefined && mode !== "json" && mode !== "--json")) {
    throw new UsageError(`unexpected argument "${rest[0] ?? mode}"; ${USAGE}`);
  }
  return { help: false, propertiesPath, json: mode !== undefined };
}

async function loadConfig(propertiesPath: string, env: CliEnvironment): Promise<CliConfig> {
  let bytes: Buffer;
  try {
    bytes = await readFile(resolve(env.cwd, propertiesPath));
  } catch (error) {
    throw new BrokerError(ErrorCode.Config, `cannot read ${propertiesPath}: ${describeFsError(error)}`, { cause: error });
  }
  return parseClientConfig(parseJavaProperties(bytes, propertiesPath), propertiesPath);
}

async function createSigner(signing: CliSigning, propertiesPath: string, env: CliEnvironment): Promise<GrantSigner> {
  if (signing.kind === "keyvault") {
    const credential = env.keyVault?.credential ?? (await defaultAzureCredential());
    // Loaded only for Key Vault signing: the Key Vault SDKs take ~150 ms to load, most of a keystore run's start.
    const { createKeyVaultSigner } = await import("../keyvault/signer.js");
    return createKeyVaultSigner({
      vaultUrl: signing.vaultUrl,
      credential,
      ...(env.keyVault?.clientOptions ? { clientOptions: env.keyVault.clientOptions } : {}),
      source: {
        kind: "certificate",
        certificateName: signing.certificateName,
        ...(signing.certificateVersion ? { certificateVersion: signing.certificateVersion } : {}),
        ...(signing.kid ? { kid: signing.kid } : {}),
        alg: "RS256",
        chain: [],
      },
    });
  }
  const { bytes, name } =
    signing.source.kind === "inline"
      ? { bytes: signing.source.bytes, name: "keystore.file (base64)" }
      : { bytes: await readKeystoreFile(signing.source.path, propertiesPath, env.cwd), name: signing.source.path };
  const key = await loadKeystoreKey({
    bytes,
    storePassword: signing.storePassword,
    declaredType: signing.type,
    source: name,
    ...(signing.alias !== undefined ? { alias: signing.alias } : {}),
    ...(signing.keyPassword !== undefined ? { keyPassword: signing.keyPassword } : {}),
  });
  return createLocalKeySigner({
    privateKey: key.privateKey,
    certificateChain: key.certificateChain,
    ...(signing.kid !== undefined ? { kid: signing.kid } : {}),
  });
}

/** The seed opens the path from the working directory; a path that is not there is tried next to the properties file. */
async function readKeystoreFile(path: string, propertiesPath: string, cwd: string): Promise<Buffer> {
  const candidates = isAbsolute(path) ? [path] : [resolve(cwd, path), resolve(cwd, dirname(propertiesPath), path)];
  let firstError: unknown;
  for (const candidate of new Set(candidates)) {
    try {
      return await readFile(candidate);
    } catch (error) {
      firstError ??= error;
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") break;
    }
  }
  throw new BrokerError(ErrorCode.Keystore, `cannot read keystore.file ${path}: ${describeFsError(firstError)}`, { cause: firstError });
}

async function defaultAzureCredential(): Promise<TokenCredential> {
  // Loaded only for Key Vault signing: keystore users should not pay for @azure/identity's start-up.
  const { DefaultAzureCredential } = await import("@azure/identity");
  return new DefaultAzureCredential();
}

async function warnAboutCertificateExpiry(signer: GrantSigner, env: CliEnvironment): Promise<void> {
  const { certificateNotAfter } = await signer.currentKey();
  if (!certificateNotAfter) return;
  const left = certificateNotAfter.getTime() - (env.now ?? Date.now)();
  if (left <= 0) {
    env.stderr(
      `maskinporten-token: warning: the certificate expired on ${certificateNotAfter.toISOString()}; Maskinporten will refuse it\n`,
    );
  } else if (left < EXPIRY_WARNING_MS) {
    env.stderr(`maskinporten-token: warning: the certificate expires on ${certificateNotAfter.toISOString()}\n`);
  }
}

interface Outcome {
  grant: string;
  token?: Record<string, unknown>;
  /** The Altinn 3 token, with altinn.exchange. */
  altinn?: string;
}

async function obtain(config: CliConfig, signer: GrantSigner, env: CliEnvironment): Promise<Outcome> {
  const claims: GrantClaimsInput = {
    audience: config.audience,
    clientId: config.clientId,
    scopes: config.scopes,
    ...(config.resource !== undefined ? { resource: config.resource } : {}),
    ...(config.consumerOrg !== undefined ? { consumerOrg: config.consumerOrg } : {}),
    ...(config.systemUser !== undefined
      ? {
          authorizationDetails: [
            {
              type: "urn:altinn:systemuser",
              systemuser_org: { authority: "iso6523-actorid-upis", ID: `0192:${config.systemUser.org}` },
              ...(config.systemUser.externalRef !== undefined ? { externalRef: config.systemUser.externalRef } : {}),
            },
          ],
        }
      : {}),
    ...(config.pid !== undefined ? { pid: config.pid } : {}),
  };
  const grantOptions = env.now ? { now: env.now } : {};
  if (config.tokenRequest.kind === "none") return { grant: await createGrant(claims, signer, grantOptions) };

  const client = createMaskinportenClient({
    ...(config.tokenRequest.kind === "endpoint"
      ? { audience: config.audience, tokenEndpoint: config.tokenRequest.tokenEndpoint }
      : { issuer: config.tokenRequest.issuer }),
    ...(env.maskinporten?.retry ? { retry: env.maskinporten.retry } : {}),
    ...(env.maskinporten?.timeoutMs !== undefined ? { timeoutMs: env.maskinporten.timeoutMs } : {}),
    onRetry: ({ attempt, error }) => {
      env.stderr(
        `maskinporten-token: attempt ${attempt} failed, retrying with a fresh grant: ${error instanceof Error ? error.message : String(error)}\n`,
      );
    },
  });
  let grant = "";
  const token = await client.requestToken(async (audience) => {
    grant = await createGrant({ ...claims, audience }, signer, grantOptions);
    return grant;
  }, config.scopes);
  if (!config.altinn) return { grant, token: tokenResponseBody(token) };
  // Loaded only when asked for: the plain Maskinporten path stays as small as it was.
  const { createAltinnExchange } = await import("../altinn/exchange.js");
  const exchange = createAltinnExchange({
    ...(env.maskinporten?.retry ? { retry: env.maskinporten.retry } : {}),
    ...(env.maskinporten?.timeoutMs !== undefined ? { timeoutMs: env.maskinporten.timeoutMs } : {}),
    ...(env.now ? { now: env.now } : {}),
    onRetry: ({ attempt, error }) => {
      env.stderr(
        `maskinporten-token: Altinn exchange attempt ${attempt} failed, retrying: ${error instanceof Error ? error.message : String(error)}\n`,
      );
    },
  });
  const altinn = await exchange(config.altinn, token.accessToken);
  return { grant, token: tokenResponseBody(token), altinn: altinn.accessToken };
}

/** The token response as Maskinporten sent it when the client kept it, else its standard fields. */
function tokenResponseBody(token: IssuedToken): Record<string, unknown> {
  const raw = (token as IssuedToken & { raw?: Record<string, unknown> }).raw;
  if (raw && typeof raw === "object") return raw;
  return { access_token: token.accessToken, token_type: token.tokenType, expires_in: token.expiresIn, scope: token.scope };
}

/** jwt-grant-generator's labels, so scripts that cut its output keep working. */
function formatText(outcome: Outcome): string {
  let text = `Generated JWT-grant:\n${outcome.grant}\n`;
  if (outcome.token) text += `\nRetrieved token-response:\n${JSON.stringify(outcome.token)}\n`;
  if (outcome.altinn) text += `\nRetrieved Altinn token:\n${outcome.altinn}\n`;
  return text;
}

function formatJson(outcome: Outcome): string {
  const { grant, token, altinn } = outcome;
  return `${JSON.stringify({ grant, ...(token ? { token } : {}), ...(altinn ? { altinn } : {}) })}\n`;
}

function describeFailure(error: unknown): string {
  if (error instanceof UsageError) return `maskinporten-token: ${error.message}\n`;
  let text = `maskinporten-token: ${error instanceof Error ? error.message : String(error)}\n`;
  if (error instanceof MaskinportenError) {
    if (error.error !== undefined) text += `  error: ${error.error}\n`;
    if (error.errorDescription !== undefined) text += `  error_description: ${error.errorDescription}\n`;
    if (error.errorUri !== undefined) text += `  error_uri: ${error.errorUri}\n`;
    if (error.traceId !== undefined) text += `  trace_id: ${error.traceId}\n`;
  } else if (error instanceof BrokerError) {
    // Altinn's refusal: its status and traceId, as the error describes itself.
    const { status, traceId } = error.logFields();
    if (status !== undefined) text += `  status: ${status}\n`;
    if (traceId !== undefined) text += `  traceId: ${traceId}\n`;
  }
  return text;
}

function exitCodeFor(error: unknown): number {
  if (error instanceof UsageError) return EXIT_CODES.usage;
  if (!(error instanceof BrokerError)) return EXIT_CODES.failure;
  switch (error.code) {
    case ErrorCode.Config:
    case ErrorCode.Properties:
      return EXIT_CODES.config;
    case ErrorCode.Keystore:
    case ErrorCode.Signing:
    case ErrorCode.KeyVault:
      return EXIT_CODES.keystoreOrSigning;
    case ErrorCode.MaskinportenRejected:
      return EXIT_CODES.maskinportenRejected;
    case ErrorCode.MaskinportenUnavailable:
    case ErrorCode.MaskinportenBadResponse:
      return EXIT_CODES.maskinportenUnavailable;
    case ErrorCode.AltinnRejected:
      return EXIT_CODES.altinnRejected;
    case ErrorCode.AltinnUnavailable:
    case ErrorCode.AltinnBadResponse:
      return EXIT_CODES.altinnUnavailable;
    default:
      return EXIT_CODES.failure;
  }
}

function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOENT") return "no such file";
  if (code === "EACCES") return "permission denied";
  if (code === "EISDIR") return "it is a directory";
  return code ?? (error instanceof Error ? error.message : String(error));
}
