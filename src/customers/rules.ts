/**
 * Validation rules for per-customer requests (DESIGN.md §5). Kept apart so the config-rules module
 * (holes-identity) can absorb them at merge: one org-number rule for settings and requests.
 *
 * Org numbers: 9 digits, as Digdir documents `consumer_org` and `systemuser_org`. The mod-11 check
 * digit that Brreg assigns is NOT enforced: Digdir does not document it for the grant, Maskinporten
 * answers a wrong number with its own refusal (which we remember briefly), and a check we got wrong
 * would refuse a real customer with no way around it.
 */
export const ORG_NUMBER = /^\d{9}$/;

export function isOrgNumber(value: string): boolean {
  return value.length === 9 && ORG_NUMBER.test(value);
}

/** Brreg's mod-11 check digit (weights 3 2 7 6 5 4 3 2). Informational: used by the sandbox only. */
export function hasOrgNumberCheckDigit(value: string): boolean {
  if (!isOrgNumber(value)) return false;
  const weights = [3, 2, 7, 6, 5, 4, 3, 2];
  const sum = weights.reduce((total, weight, i) => total + weight * Number(value[i]), 0);
  const remainder = sum % 11;
  const check = remainder === 0 ? 0 : 11 - remainder;
  return check !== 10 && check === Number(value[8]);
}

/**
 * Altinn's `externalRef`: the vendor's own reference for a system user (defaults to the customer's
 * org number). Altinn documents no format; we accept 1-128 printable ASCII characters with no
 * leading or trailing space and none of " \ ` < > { } (the ones that break out of JSON, HTML or
 * templates), which covers references people use and keeps control characters, look-alike
 * Unicode and megabyte values out of grants, cache keys and logs.
 */
export const MAX_EXTERNAL_REF_LENGTH = 128;
const EXTERNAL_REF = /^(?![ ])[\x20-\x7e]*[\x21-\x7e]$/;
const EXTERNAL_REF_FORBIDDEN = /["\\`<>{}]/;

export function isExternalRef(value: string): boolean {
  return value.length <= MAX_EXTERNAL_REF_LENGTH && EXTERNAL_REF.test(value) && !EXTERNAL_REF_FORBIDDEN.test(value);
}
