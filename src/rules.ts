/**
 * The value rules the broker's settings, the CLI's client.properties and the caller checks share:
 * one rule, one home, so the broker and the CLI can never disagree about what is valid.
 *
 * Each rule returns the *expectation* in words, never the value: values may be personal data (a
 * national identity number) or secret, and config errors end up in logs on every request while a
 * deployment is misconfigured. Callers name the setting; the rule says what it expects.
 */

/** Key Vault object (secret, key, certificate) names: 1-127 letters, digits and hyphens. */
export const KEY_VAULT_OBJECT_NAME = /^[0-9a-zA-Z-]{1,127}$/;
export const KEY_VAULT_OBJECT_NAME_EXPECTED = "1-127 letters, digits and hyphens (a Key Vault object name)";
/** Key Vault object versions: 32 hex digits (Key Vault prints them in lower case; either is accepted). */
export const KEY_VAULT_VERSION = /^[0-9a-f]{32}$/i;
export const KEY_VAULT_VERSION_EXPECTED = "a 32-character Key Vault object version (hex digits)";
/** Norwegian organisation number (organisasjonsnummer). */
export const ORG_NUMBER = /^\d{9}$/;
export const ORG_NUMBER_EXPECTED = "a 9-digit organisation number";

/**
 * The mod-11 check digit Brreg assigns is NOT enforced: Digdir does not document it for the grant,
 * Maskinporten answers a wrong number with its own refusal (remembered briefly for customer
 * tokens), and a check we got wrong would refuse a real customer with no way around it.
 */
export function isOrgNumber(value: string): boolean {
  return value.length === 9 && ORG_NUMBER.test(value);
}

/**
 * Altinn's `externalRef`: the vendor's own reference for a system user (defaults to the customer's
 * org number). Altinn documents no format; we accept 1-128 printable ASCII characters with no
 * leading or trailing space and none of " \ ` < > { } (the ones that break out of JSON, HTML or
 * templates), which covers references people use and keeps control characters, look-alike
 * Unicode and megabyte values out of grants, cache keys and logs.
 */
export const MAX_EXTERNAL_REF_LENGTH = 128;
export const EXTERNAL_REF_EXPECTED = `1-${MAX_EXTERNAL_REF_LENGTH} printable ASCII characters without leading or trailing spaces and none of " \\ \` < > { }`;
const EXTERNAL_REF = /^(?![ ])[\x20-\x7e]*[\x21-\x7e]$/;
const EXTERNAL_REF_FORBIDDEN = /["\\`<>{}]/;

export function isExternalRef(value: string): boolean {
  return value.length <= MAX_EXTERNAL_REF_LENGTH && EXTERNAL_REF.test(value) && !EXTERNAL_REF_FORBIDDEN.test(value);
}
/** Norwegian national identity number (fødselsnummer / d-nummer): personal data, never echoed. */
export const NATIONAL_IDENTITY_NUMBER = /^\d{11}$/;
export const NATIONAL_IDENTITY_NUMBER_EXPECTED = "an 11-digit Norwegian national identity number";
/** Entra tenant and app ids: GUIDs, in either case. */
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isGuid(value: string): boolean {
  return GUID.test(value);
}

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** Plain HTTP is only acceptable to a stand-in on this machine. */
export function isLoopbackUrl(url: URL): boolean {
  return LOOPBACK_HOSTS.has(url.hostname);
}

/** https, or http to 127.0.0.1 / localhost / [::1] (stand-ins). */
export function isHttpsOrLoopback(url: URL): boolean {
  return url.protocol === "https:" || (url.protocol === "http:" && isLoopbackUrl(url));
}

export function parseUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

export const VAULT_URL_EXPECTED = "the vault's https base URL without a path, e.g. https://my-vault.vault.azure.net/";

/** A Key Vault URL: https, no path, query or fragment. Returns the normalised base URL (with `/`). */
export function parseVaultUrl(value: string): { url: string } | { problem: string } {
  const url = parseUrl(value);
  if (!url) return { problem: `is not a URL; expected ${VAULT_URL_EXPECTED}` };
  if (url.protocol !== "https:") return { problem: `must use https; expected ${VAULT_URL_EXPECTED}` };
  if (url.pathname !== "/" || url.search || url.hash || url.username || url.password) {
    return { problem: `has a path, query or credentials; expected ${VAULT_URL_EXPECTED}` };
  }
  return { url: `${url.origin}/` };
}

/** A whole number in [min, max], or the expectation in words. */
export function parseIntegerInRange(value: string, min: number, max: number): { value: number } | { problem: string } {
  const number = /^\d+$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
  if (!Number.isSafeInteger(number) || number < min || number > max)
    return { problem: `is not valid; expected a whole number from ${min} to ${max}` };
  return { value: number };
}

/** `true` / `false` in any case, or undefined for anything else. */
export function parseBooleanText(value: string): boolean | undefined {
  const lower = value.trim().toLowerCase();
  return lower === "true" ? true : lower === "false" ? false : undefined;
}

/** An API base URL: https (http only to loopback), no credentials, query or fragment. */
export function apiBaseUrlProblem(value: string): string | undefined {
  const url = parseUrl(value);
  if (!url) return "is not an absolute URL";
  if (!isHttpsOrLoopback(url)) return "must use https (plain http is only allowed to 127.0.0.1/localhost stand-ins)";
  if (url.username || url.password || url.search || url.hash) return "must be a base URL without credentials, query or fragment";
  return undefined;
}
