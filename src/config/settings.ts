/**
 * Broker configuration from app settings (environment variables), parsed and validated once.
 * Every problem is collected and reported together, each naming the setting and what it expects,
 * so a deployment is fixed in one round trip rather than one error at a time. Messages never quote
 * a setting's value (a PID is personal data, and the HTTP wrapper logs the message on every request
 * while the app is misconfigured); the value rules live in src/rules.ts, shared with the CLI.
 */
import { BrokerError, ErrorCode } from "../errors.js";
import { isSigningAlgorithm, SIGNING_ALGORITHMS, type SigningAlgorithm } from "../signing/signer.js";
import {
  EXTERNAL_REF_EXPECTED,
  isExternalRef,
  isGuid,
  isHttpsOrLoopback,
  KEY_VAULT_OBJECT_NAME,
  KEY_VAULT_OBJECT_NAME_EXPECTED,
  KEY_VAULT_VERSION,
  KEY_VAULT_VERSION_EXPECTED,
  NATIONAL_IDENTITY_NUMBER,
  NATIONAL_IDENTITY_NUMBER_EXPECTED,
  ORG_NUMBER,
  ORG_NUMBER_EXPECTED,
  parseUrl,
  parseVaultUrl,
  VAULT_URL_EXPECTED,
} from "../rules.js";
import { environmentsExpected, resolveIssuer } from "./environments.js";
import { parseAltinnSettings, type AltinnExchangeTarget } from "../altinn/target.js";
import { parseCustomerPolicy, parseSignBudget, type CustomerPolicy, type SignBudget } from "../customers/customer-settings.js";
import { parseSelfServiceSettings, readKeyRegistration, type SelfServiceConfig } from "../keys/settings.js";

export type Settings = Readonly<Record<string, string | undefined>>;

export type SigningSource =
  | {
      kind: "certificate";
      certificateName: string;
      certificateVersion?: string;
      /** Set → header `kid` (key registered on the client); unset → header `x5c`. */
      kid?: string;
      alg: SigningAlgorithm;
      /** Extra CA certificates (standard base64 DER) appended to x5c after the leaf. */
      chain: string[];
    }
  | { kind: "key"; keyName: string; keyVersion?: string; kid: string; alg: SigningAlgorithm };

export interface TokenProfile {
  name: string;
  clientId: string;
  scopes: string[];
  /** Always a list: Digdir's grant page says "currently only array supported" for `resource`. */
  resource?: string[];
  consumerOrg?: string;
  pid?: string;
  issOnBehalfOf?: string;
  authorizationDetails?: unknown[];
  /** Maskinporten issuer (the grant's `aud`), trailing slash kept. */
  issuer: string;
  /** Key Vault secret holding this profile's current token. */
  secretName: string;
  /** Entra app role a caller needs to fetch this profile's token. */
  role: string;
  signing: SigningSource;
  /**
   * Set: the profile's token is the Altinn 3 token this Maskinporten token is exchanged for. Part of
   * what shapes the token (the fingerprint must include `altinn.url`).
   */
  altinn?: AltinnExchangeTarget;
  /** Set when the profile serves per-customer tokens (`PROFILE_<NAME>_CUSTOMERS`). */
  customers?: CustomerPolicy;
  /** `PROFILE_<NAME>_KEY_REGISTRATION=self-service`: the broker keeps the kid's key registered (src/keys/). */
  keyRegistration?: "self-service";
}

export interface CallerAuthConfig {
  tenantId: string;
  audiences: string[];
  authorityHost: string;
  trustAppServicePrincipal: boolean;
}

export interface BrokerConfig {
  keyVaultUrl: string;
  profiles: TokenProfile[];
  defaultProfile: string;
  renewal: {
    /** NCRONTAB (6 fields, UTC) for the timer function. */
    schedule: string;
    /** Renew when less than this share of the token's lifetime is left. */
    renewWhenRemainingRatio: number;
  };
  /** Undefined when CALLER_TENANT_ID is unset: the HTTP function then refuses every caller. */
  callers?: CallerAuthConfig;
  /** Key Vault signs this instance may spend on customer grants. */
  signBudget?: SignBudget;
  /** Digdir's self-service admin client; undefined (off) unless SELF_SERVICE_CLIENT_ID is set. */
  selfService?: SelfServiceConfig;
}

export interface ConfigProblem {
  setting: string;
  message: string;
}

export class ConfigError extends BrokerError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    super(
      ErrorCode.Config,
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  - ${p.setting}: ${p.message}`).join("\n"),
    );
    this.problems = problems;
  }
}

/** Every minute: a 120 s token (Maskinporten's default lifetime) renewed at half its life never lapses. */
export const DEFAULT_RENEW_SCHEDULE = "0 * * * * *";
export const DEFAULT_RENEW_RATIO = 0.5;
const PROFILE_NAME = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;
/** A well-formed profile name (1–32 lower-case letters, digits, inner hyphens). */
export function isProfileName(name: string): boolean {
  return name.length <= 32 && PROFILE_NAME.test(name);
}
const PROFILES_EXPECTED = 'a comma-separated list of profile names, e.g. "skatt,sdir"';

/** The app-setting prefix for one profile: `skatt-prod` → `PROFILE_SKATT_PROD_`. */
export function profileSettingPrefix(profileName: string): string {
  return `PROFILE_${profileName.toUpperCase().replace(/-/g, "_")}_`;
}

/** Secret names and roles a profile gets when the settings do not say. */
export function defaultSecretName(profileName: string): string {
  return `maskinporten-${profileName}`;
}
export function defaultRole(profileName: string): string {
  return `Token.${profileName}`;
}

/** Space- or comma-separated list, empty entries dropped. */
export function splitList(value: string): string[] {
  return value
    .split(/[\s,]+/)
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

class Reader {
  readonly problems: ConfigProblem[] = [];
  constructor(private readonly settings: Settings) {}

  optional(name: string): string | undefined {
    const value = this.settings[name]?.trim();
    return value ? value : undefined;
  }

  required(name: string, expected: string): string | undefined {
    const value = this.optional(name);
    if (value === undefined) this.problem(name, `missing; expected ${expected}`);
    return value;
  }

  problem(setting: string, message: string): void {
    this.problems.push({ setting, message });
  }

  matching(name: string, pattern: RegExp, expected: string, value = this.optional(name)): string | undefined {
    if (value === undefined) return undefined;
    if (!pattern.test(value)) {
      this.problem(name, `is not valid; expected ${expected}`);
      return undefined;
    }
    return value;
  }
}

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
    if (!PROFILE_NAME.test(name)) {
      read.problem("TOKEN_PROFILES", `entry ${index + 1} is not a valid profile name; use 1-32 lower-case letters, digits and inner hyphens`);
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

  const validNames = names.filter((name) => PROFILE_NAME.test(name));
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
      read.problem(`${profileSettingPrefix(profile.name)}KEY_REGISTRATION`, `profile "${owner}" registers the same SIGNING_KID on another client; Digdir wants a kid unique across all clients: give each client its own SIGNING_KID`);
    }
    kidOwners.set(profile.signing.kid!, profile.name);
    if (selfService && profile.issuer !== selfService.issuer) {
      read.problem(`${profileSettingPrefix(profile.name)}KEY_REGISTRATION`, `the profile's Maskinporten issuer (${profile.issuer}) is not the admin client's (${selfService.issuer}); an admin client manages clients of its own environment only`);
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

function parseProfile(read: Reader, name: string, globalEnvironment: string | undefined): TokenProfile | undefined {
  const p = profileSettingPrefix(name);
  const before = read.problems.length;

  const clientId = read.required(`${p}CLIENT_ID`, "the Maskinporten client id (integration id) of this profile");
  const scopesExpected = 'the scopes to request, space- or comma-separated, e.g. "skatteetaten:testnorge"';
  const scopesText = read.required(`${p}SCOPES`, scopesExpected);
  const scopes = splitList(scopesText ?? "");
  if (scopesText !== undefined && scopes.length === 0) read.problem(`${p}SCOPES`, `names no scope; expected ${scopesExpected}`);

  const environmentSetting = read.optional(`${p}ENVIRONMENT`) !== undefined ? `${p}ENVIRONMENT` : "MASKINPORTEN_ENVIRONMENT";
  const environment = read.optional(`${p}ENVIRONMENT`) ?? globalEnvironment;
  let issuer: string | undefined;
  if (environment === undefined) {
    read.problem("MASKINPORTEN_ENVIRONMENT", `missing (needed by profile "${name}"); expected ${environmentsExpected()}`);
  } else {
    const resolved = resolveIssuer(environment);
    if ("problem" in resolved) read.problem(environmentSetting, resolved.problem);
    else issuer = resolved.issuer;
  }

  const resourceList = splitList(read.optional(`${p}RESOURCE`) ?? "");
  const notAbsolute = resourceList.findIndex((resource) => parseUrl(resource) === undefined);
  if (notAbsolute >= 0) {
    read.problem(`${p}RESOURCE`, `entry ${notAbsolute + 1} is not an absolute URI; Maskinporten audiences look like https://api.example.no`);
  }
  const consumerOrg = read.matching(`${p}CONSUMER_ORG`, ORG_NUMBER, ORG_NUMBER_EXPECTED);
  const pid = read.matching(`${p}PID`, NATIONAL_IDENTITY_NUMBER, NATIONAL_IDENTITY_NUMBER_EXPECTED);
  const issOnBehalfOf = read.optional(`${p}ISS_ONBEHALFOF`);
  // Digdir: consumer_org and iss_onbehalfof are mutually exclusive in one grant.
  if (read.optional(`${p}CONSUMER_ORG`) !== undefined && issOnBehalfOf !== undefined) {
    read.problem(`${p}ISS_ONBEHALFOF`, `cannot be used together with ${p}CONSUMER_ORG (Maskinporten refuses both in one grant); set one of them`);
  }
  const authorizationDetails = parseAuthorizationDetails(read, p);

  const secretName = read.matching(`${p}SECRET_NAME`, KEY_VAULT_OBJECT_NAME, KEY_VAULT_OBJECT_NAME_EXPECTED) ?? defaultSecretName(name);
  const role = read.optional(`${p}ROLE`) ?? defaultRole(name);
  const signing = parseSigning(read, p);
  const altinn = parseAltinnSettings(
    (setting) => read.optional(setting),
    (setting, message) => read.problem(setting, message),
    { exchange: `${p}ALTINN_EXCHANGE`, testOrg: `${p}ALTINN_TEST_ORG` },
    issuer,
  );
  const customers = parseCustomerPolicy(read, p);

  const signingKidSetting = read.optional(`${p}SIGNING_CERTIFICATE_NAME`) !== undefined || read.optional(`${p}SIGNING_KEY_NAME`) !== undefined ? `${p}SIGNING_KID` : "SIGNING_KID";
  const keyRegistration = readKeyRegistration(read, `${p}KEY_REGISTRATION`, signing?.kid !== undefined || signing === undefined, signingKidSetting);

  if (read.problems.length > before || !clientId || !issuer || !signing || scopes.length === 0) return undefined;
  const profile: TokenProfile = { name, clientId, scopes, issuer, secretName, role, signing };
  if (resourceList.length > 0) profile.resource = resourceList;
  if (consumerOrg) profile.consumerOrg = consumerOrg;
  if (pid) profile.pid = pid;
  if (issOnBehalfOf) profile.issOnBehalfOf = issOnBehalfOf;
  if (authorizationDetails) profile.authorizationDetails = authorizationDetails;
  if (altinn) profile.altinn = altinn;
  if (customers) profile.customers = customers;
  if (keyRegistration) profile.keyRegistration = "self-service";
  return profile;
}

const SYSTEM_USER_TYPE = "urn:altinn:systemuser";

/**
 * `authorization_details` from the raw JSON or from SYSTEMUSER_ORG (+ SYSTEMUSER_EXTERNAL_REF),
 * not both: Digdir takes one system-user party per grant, and two sources could name two.
 */
function parseAuthorizationDetails(read: Reader, p: string): unknown[] | undefined {
  const details: unknown[] = [];
  const json = read.optional(`${p}AUTHORIZATION_DETAILS`);
  const systemUserOrgText = read.optional(`${p}SYSTEMUSER_ORG`);
  const externalRef = read.optional(`${p}SYSTEMUSER_EXTERNAL_REF`);
  if (json !== undefined && systemUserOrgText !== undefined) {
    read.problem(
      `${p}SYSTEMUSER_ORG`,
      `cannot be used together with ${p}AUTHORIZATION_DETAILS: a grant carries one system-user party; put the system user in one of them`,
    );
    return undefined;
  }
  if (externalRef !== undefined && systemUserOrgText === undefined) {
    read.problem(`${p}SYSTEMUSER_EXTERNAL_REF`, `needs ${p}SYSTEMUSER_ORG (the external reference belongs to that system user)`);
  }
  if (externalRef !== undefined && !isExternalRef(externalRef)) read.problem(`${p}SYSTEMUSER_EXTERNAL_REF`, `expected ${EXTERNAL_REF_EXPECTED}`);
  if (json !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch {
      read.problem(`${p}AUTHORIZATION_DETAILS`, "is not valid JSON; expected a JSON array of objects each with a \"type\"");
      return undefined;
    }
    const list = Array.isArray(parsed) ? parsed : [parsed];
    if (!list.every((d) => typeof d === "object" && d !== null && typeof (d as { type?: unknown }).type === "string")) {
      read.problem(`${p}AUTHORIZATION_DETAILS`, 'expected a JSON array of objects each with a string "type"');
      return undefined;
    }
    if (list.filter((d) => (d as { type: string }).type === SYSTEM_USER_TYPE).length > 1) {
      read.problem(`${p}AUTHORIZATION_DETAILS`, `names more than one ${SYSTEM_USER_TYPE} party; a grant carries one (one token per system user)`);
      return undefined;
    }
    details.push(...list);
  }
  const systemUserOrg = read.matching(`${p}SYSTEMUSER_ORG`, ORG_NUMBER, `${ORG_NUMBER_EXPECTED} (the system user's owner)`);
  if (systemUserOrg) {
    details.push({
      type: SYSTEM_USER_TYPE,
      systemuser_org: { authority: "iso6523-actorid-upis", ID: `0192:${systemUserOrg}` },
      // Digdir: must be sent when the system user was created with one.
      ...(externalRef !== undefined ? { externalRef } : {}),
    });
  }
  return details.length > 0 ? details : undefined;
}

/** Profile-level SIGNING_* settings override the app-wide ones, as a whole source. */
function parseSigning(read: Reader, profilePrefix: string): SigningSource | undefined {
  const hasOwn = ["SIGNING_CERTIFICATE_NAME", "SIGNING_KEY_NAME"].some((s) => read.optional(profilePrefix + s) !== undefined);
  const p = hasOwn ? profilePrefix : "";
  const name = (suffix: string) => `${p}SIGNING_${suffix}`;

  const algText = read.optional(name("ALGORITHM")) ?? "RS256";
  const alg = isSigningAlgorithm(algText) ? algText : undefined;
  if (!alg) read.problem(name("ALGORITHM"), `is not allowed by Maskinporten; expected one of ${SIGNING_ALGORITHMS.join(", ")}`);
  const kid = read.optional(name("KID"));
  const certificateName = read.matching(name("CERTIFICATE_NAME"), KEY_VAULT_OBJECT_NAME, `a Key Vault certificate name: ${KEY_VAULT_OBJECT_NAME_EXPECTED}`);
  const keyName = read.matching(name("KEY_NAME"), KEY_VAULT_OBJECT_NAME, `a Key Vault key name: ${KEY_VAULT_OBJECT_NAME_EXPECTED}`);
  const version = (suffix: string) => read.matching(name(suffix), KEY_VAULT_VERSION, KEY_VAULT_VERSION_EXPECTED);

  if (certificateName && keyName) {
    read.problem(name("KEY_NAME"), `set either ${name("CERTIFICATE_NAME")} or ${name("KEY_NAME")}, not both`);
    return undefined;
  }
  if (certificateName) {
    const chain = splitList(read.optional(name("CHAIN")) ?? "");
    for (const cert of chain) {
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(cert)) {
        read.problem(name("CHAIN"), "expected comma-separated standard-base64 DER certificates (intermediate CA first)");
        break;
      }
    }
    if (!alg) return undefined;
    const certificateVersion = version("CERTIFICATE_VERSION");
    return {
      kind: "certificate",
      certificateName,
      ...(certificateVersion ? { certificateVersion } : {}),
      ...(kid ? { kid } : {}),
      alg,
      chain,
    };
  }
  if (keyName) {
    if (!kid) {
      read.problem(name("KID"), `missing; a plain Key Vault key (${name("KEY_NAME")}) has no certificate for x5c, so the grant needs the kid registered on the Maskinporten client`);
      return undefined;
    }
    if (!alg) return undefined;
    const keyVersion = version("KEY_VERSION");
    return { kind: "key", keyName, ...(keyVersion ? { keyVersion } : {}), kid, alg };
  }
  read.problem(
    "SIGNING_CERTIFICATE_NAME",
    `missing; name the Key Vault certificate holding the enterprise certificate (or set SIGNING_KEY_NAME and SIGNING_KID, or ${profilePrefix}SIGNING_CERTIFICATE_NAME for this profile)`,
  );
  return undefined;
}

function parseCallerAuth(read: Reader): CallerAuthConfig | undefined {
  const tenantIdText = read.optional("CALLER_TENANT_ID");
  const tenantId = tenantIdText !== undefined && !isGuid(tenantIdText) ? undefined : tenantIdText;
  if (tenantIdText !== undefined && tenantId === undefined) read.problem("CALLER_TENANT_ID", "is not valid; expected the Entra ID tenant id (a GUID)");
  const audiencesText = read.optional("CALLER_AUDIENCES");
  if (tenantId === undefined && audiencesText === undefined) return undefined;
  if (tenantId === undefined) {
    if (read.optional("CALLER_TENANT_ID") === undefined) read.problem("CALLER_TENANT_ID", "missing; needed with CALLER_AUDIENCES");
    return undefined;
  }
  const audiences = splitList(audiencesText ?? "");
  if (audiences.length === 0) {
    read.problem("CALLER_AUDIENCES", "missing; expected the broker's app id and/or app id URI, e.g. \"api://maskinporten-broker\"");
  }
  const authorityHost = read.optional("CALLER_AUTHORITY_HOST") ?? "https://login.microsoftonline.com";
  const authorityUrl = parseUrl(authorityHost);
  if (!authorityUrl) read.problem("CALLER_AUTHORITY_HOST", "is not a URL; expected e.g. https://login.microsoftonline.com");
  else if (!isHttpsOrLoopback(authorityUrl)) read.problem("CALLER_AUTHORITY_HOST", "must use https (http only to 127.0.0.1/localhost stand-ins)");
  const trust = read.optional("CALLER_TRUST_APP_SERVICE_PRINCIPAL") ?? "false";
  if (!/^(true|false)$/i.test(trust)) read.problem("CALLER_TRUST_APP_SERVICE_PRINCIPAL", "expected true or false");
  return {
    tenantId,
    audiences,
    authorityHost: authorityHost.replace(/\/+$/, ""),
    trustAppServicePrincipal: trust.toLowerCase() === "true",
  };
}
