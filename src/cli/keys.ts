/**
 * `maskinporten-token keys list|sync <client.properties> [json]`: key registration by hand, with the
 * broker's own code (settings, plan, self-service API client, Key Vault). The properties name the
 * client and its Key Vault key as for kid signing, plus the self-service admin client:
 *
 *   issuer=<client id>                      environment=test|prod
 *   keyvault.url=https://<vault>.vault.azure.net/
 *   keyvault.key=<key name>  (or keyvault.certificate=<certificate name>)
 *   keyvault.kid=<kid base: the broker registers <kid>.<key version>>
 *   selfservice.client_id=<admin client id> selfservice.certificate=<virksomhetssertifikat in Key Vault>
 *   selfservice.chain (intermediate CA, standard base64 DER), selfservice.scopes,
 *   selfservice.environment, selfservice.api_url, selfservice.renew_days,
 *   selfservice.replace_foreign (optional)
 *
 * `list` reads and shows what is registered and what `sync` would change; `sync` posts when needed.
 * Loaded lazily by main.ts: nothing here costs the token command anything.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { TokenCredential } from "@azure/identity";
import { BrokerError, ErrorCode } from "../errors.js";
import { ConfigError, type Settings } from "../config/reader.js";
import { parseBrokerConfig } from "../config/settings.js";
import type { KeyVaultClientOptions } from "../keyvault/connection.js";
import type { KeyRegistrationStatus, SyncOutcome } from "../keys/key-registration.js";
import type { FetchPort } from "../keys/self-service-client.js";
import { parseJavaProperties } from "./properties.js";

export interface KeysCliEnvironment {
  stdout(text: string): void;
  stderr(text: string): void;
  cwd: string;
  keyVault?: { credential?: TokenCredential; clientOptions?: KeyVaultClientOptions };
  selfService?: { fetch?: FetchPort };
  now?: () => number;
}

/** Exit codes beyond the token command's (src/cli/help.ts): Digdir's self-service API refused / unreachable. */
export const KEYS_EXIT_CODES = {
  ok: 0,
  failure: 1,
  usage: 2,
  config: 3,
  keyVault: 4,
  selfServiceRejected: 11,
  selfServiceUnavailable: 12,
} as const;

const USAGE = "usage: maskinporten-token keys list|sync <client.properties> [json]";
const PROFILE = "client";

/** Property → the broker setting it stands for; config problems are reported under the property. */
const PROPERTY_SETTINGS: ReadonlyArray<readonly [string, string]> = [
  ["issuer", "PROFILE_CLIENT_CLIENT_ID"],
  ["environment", "MASKINPORTEN_ENVIRONMENT"],
  ["keyvault.url", "KEY_VAULT_URL"],
  ["keyvault.key", "PROFILE_CLIENT_SIGNING_KEY_NAME"],
  ["keyvault.certificate", "PROFILE_CLIENT_SIGNING_CERTIFICATE_NAME"],
  ["keyvault.kid", "PROFILE_CLIENT_SIGNING_KID"],
  ["selfservice.client_id", "SELF_SERVICE_CLIENT_ID"],
  ["selfservice.scopes", "SELF_SERVICE_SCOPES"],
  ["selfservice.environment", "SELF_SERVICE_ENVIRONMENT"],
  ["selfservice.api_url", "SELF_SERVICE_API_URL"],
  ["selfservice.certificate", "SELF_SERVICE_SIGNING_CERTIFICATE_NAME"],
  ["selfservice.chain", "SELF_SERVICE_SIGNING_CHAIN"],
  ["selfservice.renew_days", "KEY_REGISTRATION_RENEW_DAYS"],
  ["selfservice.replace_foreign", "KEY_REGISTRATION_REPLACE_FOREIGN"],
];

class UsageError extends Error {}

export async function runKeysCli(argv: readonly string[], env: KeysCliEnvironment): Promise<number> {
  try {
    const [action, propertiesPath, mode, ...rest] = argv;
    if (
      (action !== "list" && action !== "sync") ||
      propertiesPath === undefined ||
      rest.length > 0 ||
      (mode !== undefined && mode !== "json")
    ) {
      throw new UsageError(USAGE);
    }
    const properties = parseJavaProperties(await readProperties(propertiesPath, env), propertiesPath);
    const settings = settingsFrom(properties);
    let config;
    try {
      config = parseBrokerConfig(settings);
    } catch (error) {
      throw error instanceof ConfigError ? asPropertyProblems(error, propertiesPath) : error;
    }
    const credential = env.keyVault?.credential ?? new (await import("@azure/identity")).DefaultAzureCredential();
    const { createBroker } = await import("../broker.js");
    const broker = createBroker({
      config,
      credential,
      ...(env.keyVault?.clientOptions ? { keyVaultClientOptions: env.keyVault.clientOptions } : {}),
      ...(env.now ? { now: env.now } : {}),
      ...(env.selfService?.fetch ? { selfService: { fetch: env.selfService.fetch } } : {}),
    });
    const [outcome] = action === "sync" ? await broker.syncKeys() : await broker.previewKeys();
    if (!outcome) throw new BrokerError(ErrorCode.Config, "nothing to do: the properties name no client to register keys on");
    if (outcome.outcome === "failed") throw outcome.error!;
    const status = (await broker.health())[0]?.keyRegistration;
    env.stdout(mode === "json" ? formatJson(outcome, status) : formatText(outcome, status));
    return KEYS_EXIT_CODES.ok;
  } catch (error) {
    env.stderr(describe(error));
    return exitCode(error);
  }
}

async function readProperties(path: string, env: KeysCliEnvironment): Promise<Buffer> {
  try {
    return await readFile(resolve(env.cwd, path));
  } catch (error) {
    throw new BrokerError(ErrorCode.Config, `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, {
      cause: error,
    });
  }
}

function settingsFrom(properties: ReadonlyMap<string, string>): Settings {
  const settings: Record<string, string> = {
    TOKEN_PROFILES: PROFILE,
    // Only keys are handled here; the profile's scopes are never asked for.
    PROFILE_CLIENT_SCOPES: properties.get("scope") ?? "maskinporten-token:keys",
    PROFILE_CLIENT_KEY_REGISTRATION: "self-service",
  };
  for (const [property, setting] of PROPERTY_SETTINGS) {
    const value = properties.get(property);
    if (value !== undefined) settings[setting] = value;
  }
  // The admin grant's certificate defaults to the client's, when the client signs with one.
  if (settings.SELF_SERVICE_SIGNING_CERTIFICATE_NAME === undefined && settings.PROFILE_CLIENT_SIGNING_CERTIFICATE_NAME !== undefined) {
    settings.SIGNING_CERTIFICATE_NAME = settings.PROFILE_CLIENT_SIGNING_CERTIFICATE_NAME;
  }
  return settings;
}

function asPropertyProblems(error: ConfigError, path: string): BrokerError {
  const propertyOf = new Map(PROPERTY_SETTINGS.map(([property, setting]) => [setting, property]));
  const extra: Record<string, string> = {
    SELF_SERVICE_SIGNING_CERTIFICATE_NAME: "selfservice.certificate",
    SIGNING_CERTIFICATE_NAME: "selfservice.certificate",
    PROFILE_CLIENT_KEY_REGISTRATION: "keyvault.kid",
  };
  const lines = error.problems.map((p) => {
    const property = propertyOf.get(p.setting) ?? extra[p.setting] ?? p.setting;
    const message = p.message.replace(
      /\b(?:PROFILE_CLIENT_)?[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b/g,
      (name) => propertyOf.get(name) ?? propertyOf.get(`PROFILE_CLIENT_${name}`) ?? extra[name] ?? name,
    );
    return `  - ${property}: ${message}`;
  });
  return new BrokerError(
    ErrorCode.Config,
    `${path} is not valid for "keys" (${lines.length} problem${lines.length === 1 ? "" : "s"}):\n${lines.join("\n")}`,
  );
}

type Status = KeyRegistrationStatus | undefined;

function formatText(outcome: SyncOutcome, status: Status): string {
  const lines = [`client ${outcome.clientId}: ${outcome.outcome}`];
  for (const reason of outcome.reasons ?? []) lines.push(`  ${outcome.outcome === "would-post" ? "sync " : ""}${reason}`);
  if (status?.registeredAt) lines.push(`registered set last updated ${status.registeredAt.toISOString()}`);
  for (const key of status?.keys ?? []) {
    lines.push(`  ${key.kid}  ${key.role}  expires ${key.expiresAt?.toISOString() ?? "(unknown)"}  ${key.daysLeft ?? "?"} days left`);
  }
  return `${lines.join("\n")}\n`;
}

function formatJson(outcome: SyncOutcome, status: Status): string {
  return `${JSON.stringify({
    clientId: outcome.clientId,
    outcome: outcome.outcome,
    reasons: outcome.reasons ?? [],
    registeredAt: status?.registeredAt?.toISOString() ?? null,
    keys: (status?.keys ?? []).map((k) => ({
      kid: k.kid,
      role: k.role,
      expiresAt: k.expiresAt?.toISOString() ?? null,
      daysLeft: k.daysLeft ?? null,
    })),
  })}\n`;
}

function describe(error: unknown): string {
  let text = `maskinporten-token keys: ${error instanceof Error ? error.message : String(error)}\n`;
  const details = error as { status?: number; error?: string; description?: string };
  if (error instanceof BrokerError && error.code.startsWith("ERR_SELF_SERVICE_")) {
    if (details.status !== undefined) text += `  status: ${details.status}\n`;
    if (details.error !== undefined) text += `  error: ${details.error}\n`;
    if (details.description !== undefined) text += `  error_description: ${details.description}\n`;
  }
  return text;
}

function exitCode(error: unknown): number {
  if (error instanceof UsageError) return KEYS_EXIT_CODES.usage;
  if (!(error instanceof BrokerError)) return KEYS_EXIT_CODES.failure;
  if (error.code === ErrorCode.Config || error.code === ErrorCode.Properties) return KEYS_EXIT_CODES.config;
  if (error.code === ErrorCode.KeyVault) return KEYS_EXIT_CODES.keyVault;
  if (error.code === ErrorCode.SelfServiceRejected || error.code === ErrorCode.KeyRegistration) return KEYS_EXIT_CODES.selfServiceRejected;
  if (error.code === ErrorCode.SelfServiceUnavailable || error.code === ErrorCode.SelfServiceBadResponse)
    return KEYS_EXIT_CODES.selfServiceUnavailable;
  // Getting the admin token failed at Maskinporten.
  if (error.code.startsWith("ERR_MASKINPORTEN_")) return error.code === ErrorCode.MaskinportenRejected ? 5 : 6;
  return KEYS_EXIT_CODES.failure;
}
