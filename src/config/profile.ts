/**
 * One token profile from its PROFILE_<NAME>_* settings (and the app-wide ones it falls back to):
 * client, scopes, Maskinporten environment, grant claims, secret, role, signing, Altinn exchange,
 * customers and key registration. Problems go to the caller's reader, never quoting a value.
 */
import {
  EXTERNAL_REF_EXPECTED,
  isExternalRef,
  KEY_VAULT_OBJECT_NAME,
  KEY_VAULT_OBJECT_NAME_EXPECTED,
  NATIONAL_IDENTITY_NUMBER,
  NATIONAL_IDENTITY_NUMBER_EXPECTED,
  ORG_NUMBER,
  ORG_NUMBER_EXPECTED,
  parseUrl,
} from "../rules.js";
import { parseCustomerPolicy } from "../customers/customer-settings.js";
import { readKeyRegistration } from "../keys/settings.js";
import { parseAltinnSettings } from "./altinn-target.js";
import type { TokenProfile } from "./domain.js";
import { environmentsExpected, resolveIssuer } from "./environments.js";
import { splitList, type Reader } from "./reader.js";
import { parseSigning } from "./signing.js";

const PROFILE_NAME = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;
/** A well-formed profile name (1–32 lower-case letters, digits, inner hyphens). */
export function isProfileName(name: string): boolean {
  return name.length <= 32 && PROFILE_NAME.test(name);
}

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

export function parseProfile(read: Reader, name: string, globalEnvironment: string | undefined): TokenProfile | undefined {
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
    read.problem(
      `${p}RESOURCE`,
      `entry ${notAbsolute + 1} is not an absolute URI; Maskinporten audiences look like https://api.example.no`,
    );
  }
  const consumerOrg = read.matching(`${p}CONSUMER_ORG`, ORG_NUMBER, ORG_NUMBER_EXPECTED);
  const pid = read.matching(`${p}PID`, NATIONAL_IDENTITY_NUMBER, NATIONAL_IDENTITY_NUMBER_EXPECTED);
  const issOnBehalfOf = read.optional(`${p}ISS_ONBEHALFOF`);
  // Digdir: consumer_org and iss_onbehalfof are mutually exclusive in one grant.
  if (read.optional(`${p}CONSUMER_ORG`) !== undefined && issOnBehalfOf !== undefined) {
    read.problem(
      `${p}ISS_ONBEHALFOF`,
      `cannot be used together with ${p}CONSUMER_ORG (Maskinporten refuses both in one grant); set one of them`,
    );
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

  const signingKidSetting =
    read.optional(`${p}SIGNING_CERTIFICATE_NAME`) !== undefined || read.optional(`${p}SIGNING_KEY_NAME`) !== undefined
      ? `${p}SIGNING_KID`
      : "SIGNING_KID";
  const keyRegistration = readKeyRegistration(
    read,
    `${p}KEY_REGISTRATION`,
    signing?.kid !== undefined || signing === undefined,
    signingKidSetting,
  );

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
  if (externalRef !== undefined && !isExternalRef(externalRef))
    read.problem(`${p}SYSTEMUSER_EXTERNAL_REF`, `expected ${EXTERNAL_REF_EXPECTED}`);
  if (json !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch {
      read.problem(`${p}AUTHORIZATION_DETAILS`, 'is not valid JSON; expected a JSON array of objects each with a "type"');
      return undefined;
    }
    const list = Array.isArray(parsed) ? parsed : [parsed];
    if (!list.every((d) => typeof d === "object" && d !== null && typeof (d as { type?: unknown }).type === "string")) {
      read.problem(`${p}AUTHORIZATION_DETAILS`, 'expected a JSON array of objects each with a string "type"');
      return undefined;
    }
    if (list.filter((d) => (d as { type: string }).type === SYSTEM_USER_TYPE).length > 1) {
      read.problem(
        `${p}AUTHORIZATION_DETAILS`,
        `names more than one ${SYSTEM_USER_TYPE} party; a grant carries one (one token per system user)`,
      );
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
