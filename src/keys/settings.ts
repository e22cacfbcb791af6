/**
 * Settings of key registration through Digdir's self-service API: the admin client (its own
 * profile, off unless SELF_SERVICE_CLIENT_ID is set) and the registration policy. Pure; problems are
 * reported through the caller's reader, all together, never quoting a value.
 */
import { MASKINPORTEN_ISSUERS, resolveIssuer } from "../config/environments.js";
import {
  apiBaseUrlProblem,
  KEY_VAULT_OBJECT_NAME,
  KEY_VAULT_OBJECT_NAME_EXPECTED,
  KEY_VAULT_VERSION,
  KEY_VAULT_VERSION_EXPECTED,
  parseBooleanText,
  parseIntegerInRange,
} from "../rules.js";
import { SELF_SERVICE_HOSTS } from "./ports.js";

export const KEY_REGISTRATION_SELF_SERVICE = "self-service";
/** Least privilege by Digdir's table: read the set, modify an existing client. */
export const DEFAULT_SELF_SERVICE_SCOPES = ["idporten:dcr.read", "idporten:dcr.modify"];
export const DEFAULT_RENEW_DAYS = 30;
/** Digdir: 0-2 minutes until a posted key reaches Maskinporten; 5 leaves room. */
export const DEFAULT_PROPAGATION_MINUTES = 5;
/** Grants live at most 120 s; Maskinporten tokens at most about two hours (client setting). */
export const MAX_GRANT_LIFETIME_MS = 120_000;
export const MAX_TOKEN_LIFETIME_MS = 7_200_000;
const SCOPE_PREFIX = "idporten:dcr";

export interface SelfServiceConfig {
  /** The admin client's Maskinporten client id. */
  clientId: string;
  scopes: string[];
  /** Maskinporten issuer the admin token comes from (the grant's aud). */
  issuer: string;
  /** Self-service API base (test or prod host, or SELF_SERVICE_API_URL). */
  apiBaseUrl: string;
  /** The virksomhetssertifikat in Key Vault; the admin grant carries x5c. */
  signing: { kind: "certificate"; certificateName: string; certificateVersion?: string; alg: "RS256"; chain: string[] };
  renewBeforeMs: number;
  propagationMs: number;
  /** propagation + grant + token lifetime: when an old key of ours may go. */
  retireAfterMs: number;
  replaceForeign: boolean;
}

export interface SettingsReader {
  optional(name: string): string | undefined;
  problem(setting: string, message: string): void;
}

/** `PROFILE_<NAME>_KEY_REGISTRATION`: true for self-service, false when unset/"none"; problems reported. */
export function readKeyRegistration(read: SettingsReader, setting: string, hasKid: boolean, kidSetting: string): boolean {
  const value = read.optional(setting);
  if (value === undefined || value.toLowerCase() === "none") return false;
  if (value.toLowerCase() !== KEY_REGISTRATION_SELF_SERVICE) {
    read.problem(setting, `is not valid; expected "${KEY_REGISTRATION_SELF_SERVICE}" (or "none")`);
    return false;
  }
  if (!hasKid) {
    read.problem(setting, `needs ${kidSetting}: only a key named by kid is registered on the client (x5c grants need no registration)`);
    return false;
  }
  return true;
}

export function parseSelfServiceSettings(
  read: SettingsReader,
  options: { needed: boolean; globalEnvironment: string | undefined },
): SelfServiceConfig | undefined {
  const clientId = read.optional("SELF_SERVICE_CLIENT_ID");
  if (clientId === undefined) {
    if (options.needed) {
      read.problem(
        "SELF_SERVICE_CLIENT_ID",
        "missing; a profile has KEY_REGISTRATION=self-service, which needs Digdir's self-service admin client (its client id)",
      );
    }
    return undefined;
  }
  const before = countingProblems(read);

  const scopesText = read.optional("SELF_SERVICE_SCOPES");
  const scopes = scopesText === undefined ? DEFAULT_SELF_SERVICE_SCOPES : scopesText.split(/[\s,]+/).filter(Boolean);
  if (scopes.length === 0 || scopes.some((scope) => !scope.startsWith(SCOPE_PREFIX))) {
    before.problem(
      "SELF_SERVICE_SCOPES",
      `expected idporten:dcr.* scopes, space-separated, e.g. "${DEFAULT_SELF_SERVICE_SCOPES.join(" ")}"`,
    );
  }

  const environmentSetting =
    read.optional("SELF_SERVICE_ENVIRONMENT") !== undefined ? "SELF_SERVICE_ENVIRONMENT" : "MASKINPORTEN_ENVIRONMENT";
  const environment = read.optional("SELF_SERVICE_ENVIRONMENT") ?? options.globalEnvironment;
  let issuer: string | undefined;
  if (environment === undefined) {
    before.problem("SELF_SERVICE_ENVIRONMENT", 'missing; expected "test" or "prod" (the Maskinporten environment of the admin client)');
  } else {
    const resolved = resolveIssuer(environment);
    if ("problem" in resolved) before.problem(environmentSetting, resolved.problem);
    else if (resolved.issuer === MASKINPORTEN_ISSUERS.skyporten || resolved.issuer === MASKINPORTEN_ISSUERS["skyporten-test"]) {
      before.problem(
        environmentSetting,
        'names Skyporten; the self-service admin client gets its token from Maskinporten: use "test" or "prod"',
      );
    } else issuer = resolved.issuer;
  }

  const apiUrlText = read.optional("SELF_SERVICE_API_URL");
  let apiBaseUrl: string | undefined;
  if (apiUrlText !== undefined) {
    const problem = apiBaseUrlProblem(apiUrlText);
    if (problem) before.problem("SELF_SERVICE_API_URL", `${problem}; expected e.g. ${SELF_SERVICE_HOSTS.test}`);
    else apiBaseUrl = apiUrlText.replace(/\/+$/, "");
  } else if (issuer === MASKINPORTEN_ISSUERS.test) apiBaseUrl = SELF_SERVICE_HOSTS.test;
  else if (issuer === MASKINPORTEN_ISSUERS.prod) apiBaseUrl = SELF_SERVICE_HOSTS.prod;
  else if (issuer !== undefined) {
    before.problem(
      "SELF_SERVICE_API_URL",
      `missing; the environment is not test or prod, so name the self-service API base URL (test: ${SELF_SERVICE_HOSTS.test}, prod: ${SELF_SERVICE_HOSTS.prod})`,
    );
  }

  const ownCertificate = read.optional("SELF_SERVICE_SIGNING_CERTIFICATE_NAME");
  const certificateSetting = ownCertificate !== undefined ? "SELF_SERVICE_SIGNING_CERTIFICATE_NAME" : "SIGNING_CERTIFICATE_NAME";
  const certificateName = ownCertificate ?? read.optional("SIGNING_CERTIFICATE_NAME");
  if (certificateName === undefined) {
    before.problem(
      "SELF_SERVICE_SIGNING_CERTIFICATE_NAME",
      "missing; the admin client signs with the virksomhetssertifikat in Key Vault (x5c): name that certificate (or set SIGNING_CERTIFICATE_NAME)",
    );
  } else if (!KEY_VAULT_OBJECT_NAME.test(certificateName)) {
    before.problem(certificateSetting, `is not valid; expected a Key Vault certificate name: ${KEY_VAULT_OBJECT_NAME_EXPECTED}`);
  }
  const certificateVersion = read.optional("SELF_SERVICE_SIGNING_CERTIFICATE_VERSION");
  if (certificateVersion !== undefined && !KEY_VAULT_VERSION.test(certificateVersion)) {
    before.problem("SELF_SERVICE_SIGNING_CERTIFICATE_VERSION", `is not valid; expected ${KEY_VAULT_VERSION_EXPECTED}`);
  }
  const chainSetting = read.optional("SELF_SERVICE_SIGNING_CHAIN") !== undefined ? "SELF_SERVICE_SIGNING_CHAIN" : "SIGNING_CHAIN";
  const chain = (read.optional(chainSetting) ?? "").split(/[\s,]+/).filter(Boolean);
  if (chain.some((cert) => !/^[A-Za-z0-9+/]+={0,2}$/.test(cert))) {
    before.problem(chainSetting, "expected comma-separated standard-base64 DER certificates (intermediate CA first)");
  }

  const renewDays = number(before, "KEY_REGISTRATION_RENEW_DAYS", DEFAULT_RENEW_DAYS, 1, 300);
  const propagationMinutes = number(before, "KEY_REGISTRATION_PROPAGATION_MINUTES", DEFAULT_PROPAGATION_MINUTES, 0, 1440);
  const replaceText = read.optional("KEY_REGISTRATION_REPLACE_FOREIGN");
  const replaceForeign = replaceText === undefined ? false : parseBooleanText(replaceText);
  if (replaceForeign === undefined) before.problem("KEY_REGISTRATION_REPLACE_FOREIGN", "expected true or false");

  if (before.count > 0 || !issuer || !apiBaseUrl || !certificateName || renewDays === undefined || propagationMinutes === undefined)
    return undefined;
  const propagationMs = propagationMinutes * 60_000;
  return {
    clientId,
    scopes,
    issuer,
    apiBaseUrl,
    signing: { kind: "certificate", certificateName, ...(certificateVersion ? { certificateVersion } : {}), alg: "RS256", chain },
    renewBeforeMs: renewDays * 86_400_000,
    propagationMs,
    retireAfterMs: propagationMs + MAX_GRANT_LIFETIME_MS + MAX_TOKEN_LIFETIME_MS,
    replaceForeign: replaceForeign ?? false,
  };
}

function number(read: SettingsReader, setting: string, fallback: number, min: number, max: number): number | undefined {
  const text = read.optional(setting);
  if (text === undefined) return fallback;
  const parsed = parseIntegerInRange(text, min, max);
  if ("problem" in parsed) {
    read.problem(setting, parsed.problem);
    return undefined;
  }
  return parsed.value;
}

function countingProblems(read: SettingsReader): SettingsReader & { count: number } {
  const counter = {
    count: 0,
    optional: (name: string) => read.optional(name),
    problem(setting: string, message: string) {
      counter.count++;
      read.problem(setting, message);
    },
  };
  return counter;
}
