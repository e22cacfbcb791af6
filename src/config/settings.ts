/**
 * Broker configuration from app settings (environment variables), parsed and validated once.
 * Every problem is collected and reported together, each naming the setting and what it expects,
 * so a deployment is fixed in one round trip rather than one error at a time. Messages never quote
 * a setting's value (a PID is personal data, and the HTTP wrapper logs the message on every request
 * while the app is misconfigured); the value rules live in src/rules.ts, shared with the CLI.
 */
import { isGuid, isHttpsOrLoopback, parseUrl, parseVaultUrl, VAULT_URL_EXPECTED } from "../rules.js";
import { parseSignBudget } from "../customers/customer-settings.js";
import { parseSelfServiceSettings } from "../keys/settings.js";
import type { BrokerConfig, CallerAuthConfig, TokenProfile } from "./domain.js";
import { isProfileName, parseProfile, profileSettingPrefix } from "./profile.js";
import { ConfigError, Reader, splitList, type Settings } from "./reader.js";

/** The HTTP endpoint (owned elsewhere) imports the profile-name rule from here. */

/** Every minute: a 120 s token (Maskinporten's default lifetime) renewed at half its life never lapses. */
export const DEFAULT_RENEW_SCHEDULE = "0 * * * * *";
export const DEFAULT_RENEW_RATIO = 0.5;
const PROFILES_EXPECTED = 'a comma-separated list of profile names, e.g. "skatt,sdir"';

export function parseBrokerConfig(settings: Settings): BrokerConfig {
  const read = new Reader(settings);

  const keyVaultUrl = readVaultUrl(read, "KEY_VAULT_URL");
  const globalEnvironment = read.optional("MASKINPORTEN_ENVIRONMENT");

  const profilesText = read.required("TOKEN_PROFILES", PROFILES_EXPECTED);
  const names = splitList(profilesText ?? "");
  if (profilesText !== undefined && names.length === 0) {
    read.problem("TOKEN_PROFILES", `names no profile; expected ${PROFILES_EXPECTED}`);
  }
  const seen = new Set<string>();
  const profiles: TokenProfile[] = [];
  for (const [index, name] of names.entries()) {
    if (!isProfileName(name)) {
      read.problem(
        "TOKEN_PROFILES",
        `entry ${index + 1} is not a valid profile name; use 1-32 lower-case letters, digits and inner hyphens`,
      );
      continue;
    }
    if (seen.has(name)) {
      read.problem("TOKEN_PROFILES", `profile "${name}" is listed twice`);
      continue;
    }
    seen.add(name);
    const before = read.problems.length;
    const profile = parseProfile(read, name, globalEnvironment);
    if (profile) profiles.push(profile);
    // Every profile TOKEN_PROFILES names is either configured or reported, never silently dropped.
    else if (read.problems.length === before) read.problem(`${profileSettingPrefix(name)}*`, `profile "${name}" could not be configured`);
  }

  const validNames = names.filter(isProfileName);
  const defaultProfile = read.optional("DEFAULT_PROFILE") ?? validNames[0] ?? "";
  // A listed default whose own settings are wrong is reported under those settings (above).
  if (names.length > 0 && !validNames.includes(defaultProfile)) {
    read.problem("DEFAULT_PROFILE", `is not one of TOKEN_PROFILES (${validNames.join(", ") || "none valid"})`);
  }
  const secretOwners = new Map<string, string>();
  for (const profile of profiles) {
    const other = secretOwners.get(profile.secretName);
    if (other) {
      read.problem(
        `${profileSettingPrefix(profile.name)}SECRET_NAME`,
        `secret "${profile.secretName}" is also used by profile "${other}"; each profile needs its own secret`,
      );
    }
    secretOwners.set(profile.secretName, profile.name);
  }

  const schedule = read.optional("RENEW_SCHEDULE") ?? DEFAULT_RENEW_SCHEDULE;
  if (schedule.split(/\s+/).length !== 6) {
    read.problem("RENEW_SCHEDULE", `is not a 6-field NCRONTAB expression; expected e.g. "${DEFAULT_RENEW_SCHEDULE}"`);
  }
  const ratioText = read.optional("RENEW_BEFORE_EXPIRY_RATIO");
  const ratio = ratioText === undefined ? DEFAULT_RENEW_RATIO : Number(ratioText);
  if (!(ratio > 0 && ratio < 1)) {
    read.problem("RENEW_BEFORE_EXPIRY_RATIO", "is not a number between 0 and 1 (exclusive); expected e.g. 0.5");
  }

  const callers = parseCallerAuth(read);
  const signBudget = parseSignBudget(read);
  const registering = profiles.filter((profile) => profile.keyRegistration);
  const selfService = parseSelfServiceSettings(read, { needed: registering.length > 0, globalEnvironment });
  const kidOwners = new Map<string, string>();
  for (const profile of registering) {
    // Registered kids are <SIGNING_KID>.<version> and Digdir wants every kid unique across all clients.
    const owner = kidOwners.get(profile.signing.kid!);
    if (owner !== undefined && registering.find((p) => p.name === owner)!.clientId !== profile.clientId) {
      read.problem(
        `${profileSettingPrefix(profile.name)}KEY_REGISTRATION`,
        `profile "${owner}" registers the same SIGNING_KID on another client; Digdir wants a kid unique across all clients: give each client its own SIGNING_KID`,
      );
    }
    kidOwners.set(profile.signing.kid!, profile.name);
    if (selfService && profile.issuer !== selfService.issuer) {
      read.problem(
        `${profileSettingPrefix(profile.name)}KEY_REGISTRATION`,
        `the profile's Maskinporten issuer (${profile.issuer}) is not the admin client's (${selfService.issuer}); an admin client manages clients of its own environment only`,
      );
    }
  }

  if (read.problems.length > 0) throw new ConfigError(read.problems);
  return {
    keyVaultUrl: keyVaultUrl ?? "",
    profiles,
    defaultProfile,
    renewal: { schedule, renewWhenRemainingRatio: ratio },
    ...(callers ? { callers } : {}),
    signBudget,
    ...(selfService ? { selfService } : {}),
  };
}

function readVaultUrl(read: Reader, setting: string): string | undefined {
  const value = read.required(setting, VAULT_URL_EXPECTED);
  if (value === undefined) return undefined;
  const parsed = parseVaultUrl(value);
  if ("problem" in parsed) {
    read.problem(setting, parsed.problem);
    return undefined;
  }
  return parsed.url;
}

function parseCallerAuth(read: Reader): CallerAuthConfig | undefined {
  const tenantIdText = read.optional("CALLER_TENANT_ID");
  const tenantId = tenantIdText !== undefined && !isGuid(tenantIdText) ? undefined : tenantIdText;
  if (tenantIdText !== undefined && tenantId === undefined)
    read.problem("CALLER_TENANT_ID", "is not valid; expected the Entra ID tenant id (a GUID)");
  const audiencesText = read.optional("CALLER_AUDIENCES");
  if (tenantId === undefined && audiencesText === undefined) return undefined;
  if (tenantId === undefined) {
    if (read.optional("CALLER_TENANT_ID") === undefined) read.problem("CALLER_TENANT_ID", "missing; needed with CALLER_AUDIENCES");
    return undefined;
  }
  const audiences = splitList(audiencesText ?? "");
  if (audiences.length === 0) {
    read.problem("CALLER_AUDIENCES", 'missing; expected the broker\'s app id and/or app id URI, e.g. "api://maskinporten-broker"');
  }
  const authorityHost = read.optional("CALLER_AUTHORITY_HOST") ?? "https://login.microsoftonline.com";
  const authorityUrl = parseUrl(authorityHost);
  if (!authorityUrl) read.problem("CALLER_AUTHORITY_HOST", "is not a URL; expected e.g. https://login.microsoftonline.com");
  else if (!isHttpsOrLoopback(authorityUrl))
    read.problem("CALLER_AUTHORITY_HOST", "must use https (http only to 127.0.0.1/localhost stand-ins)");
  const trust = read.optional("CALLER_TRUST_APP_SERVICE_PRINCIPAL") ?? "false";
  if (!/^(true|false)$/i.test(trust)) read.problem("CALLER_TRUST_APP_SERVICE_PRINCIPAL", "expected true or false");
  return {
    tenantId,
    audiences,
    authorityHost: authorityHost.replace(/\/+$/, ""),
    trustAppServicePrincipal: trust.toLowerCase() === "true",
  };
}
