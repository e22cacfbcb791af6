/**
 * Parses a profile's per-customer settings (README "Per-customer tokens") and the app-wide
 * Key Vault sign budget. Problems go to the caller's collector so they are reported with all others.
 */
import { isOrgNumber } from "../rules.js";

export type CustomerClaim = "consumer_org" | "systemuser";

export interface CustomerPolicy {
  /** `*` = any customer Maskinporten accepts; else exactly these org numbers. */
  allowed: "*" | ReadonlySet<string>;
  claim: CustomerClaim;
  /** Most customer tokens held for this profile (LRU beyond). */
  maxCustomers: number;
  /** New customer tokens asked of Maskinporten per second (token bucket; burst = 2 s worth). */
  requestsPerSecond: number;
  /** How long a customer Maskinporten refused is answered from memory. */
  deniedCacheMs: number;
  /** Also write each customer token to secret `maskinporten-<profile>-<orgno>`. */
  storeTokens: boolean;
}

export interface SignBudget {
  /** The vault's sign limit per 10 s (4,000 RSA-2048 software keys; 250 RSA-4096 HSM). */
  vaultSignsPer10s: number;
  /** Share of that limit this broker instance may use for customer grants (0 < share ≤ 1). */
  share: number;
}

export const DEFAULT_MAX_CUSTOMERS = 1000;
export const DEFAULT_CUSTOMER_REQUESTS_PER_SECOND = 10;
export const DEFAULT_CUSTOMER_DENIED_SECONDS = 60;
export const DEFAULT_VAULT_SIGNS_PER_10S = 4000;
export const DEFAULT_SIGN_SHARE = 0.5;

interface Collector {
  optional(name: string): string | undefined;
  problem(setting: string, message: string): void;
}

/** `p` is the profile's setting prefix (`PROFILE_<NAME>_`); names are spelled out for the infra contract test. */
export function parseCustomerPolicy(read: Collector, p: string): CustomerPolicy | undefined {
  const customersText = read.optional(`${p}CUSTOMERS`);
  if (customersText === undefined) {
    for (const name of [
      `${p}CUSTOMER_CLAIM`,
      `${p}MAX_CUSTOMERS`,
      `${p}CUSTOMER_REQUESTS_PER_SECOND`,
      `${p}CUSTOMER_DENIED_SECONDS`,
      `${p}STORE_CUSTOMER_TOKENS`,
    ]) {
      if (read.optional(name) !== undefined) {
        read.problem(name, `has no effect without ${p}CUSTOMERS; set that to "*" or a comma list of org numbers, or remove this setting`);
      }
    }
    return undefined;
  }

  let allowed: CustomerPolicy["allowed"] = "*";
  if (customersText !== "*") {
    const list = customersText.split(/[\s,]+/).filter((s) => s.length > 0);
    const bad = list.filter((s) => !isOrgNumber(s));
    if (bad.length > 0 || list.length === 0) {
      read.problem(
        `${p}CUSTOMERS`,
        `expected "*" or a comma-separated list of 9-digit organisation numbers; ${bad.length} entr${bad.length === 1 ? "y is" : "ies are"} not`,
      );
    }
    allowed = new Set(list.filter(isOrgNumber));
  }

  const claimText = read.optional(`${p}CUSTOMER_CLAIM`) ?? "consumer_org";
  let claim: CustomerClaim = "consumer_org";
  if (claimText === "consumer_org" || claimText === "systemuser") claim = claimText;
  else read.problem(`${p}CUSTOMER_CLAIM`, `"${claimText.slice(0, 40)}" is not valid; expected consumer_org or systemuser`);

  // The customer's claim is set per request: a fixed one in the profile would collide with it.
  if (read.optional(`${p}CONSUMER_ORG`) !== undefined) {
    read.problem(`${p}CONSUMER_ORG`, `cannot be combined with ${p}CUSTOMERS: the customer's org number goes into the grant per request`);
  }
  if (claim === "consumer_org" && read.optional(`${p}ISS_ONBEHALFOF`) !== undefined) {
    read.problem(
      `${p}ISS_ONBEHALFOF`,
      "cannot be combined with customer tokens as consumer_org: Maskinporten refuses consumer_org with iss_onbehalfof",
    );
  }
  if (claim === "systemuser") {
    for (const name of [`${p}SYSTEMUSER_ORG`, `${p}AUTHORIZATION_DETAILS`]) {
      if (read.optional(name) !== undefined) {
        read.problem(
          name,
          `cannot be combined with ${p}CUSTOMER_CLAIM=systemuser: a system-user grant names one party, the requested customer`,
        );
      }
    }
  }

  const maxCustomers = integer(read, `${p}MAX_CUSTOMERS`, DEFAULT_MAX_CUSTOMERS, 1, 100_000);
  const requestsPerSecond = number(read, `${p}CUSTOMER_REQUESTS_PER_SECOND`, DEFAULT_CUSTOMER_REQUESTS_PER_SECOND, 0.01, 1000);
  const deniedSeconds = integer(read, `${p}CUSTOMER_DENIED_SECONDS`, DEFAULT_CUSTOMER_DENIED_SECONDS, 1, 86_400);
  const storeText = read.optional(`${p}STORE_CUSTOMER_TOKENS`) ?? "false";
  if (!/^(true|false)$/i.test(storeText)) read.problem(`${p}STORE_CUSTOMER_TOKENS`, `"${storeText.slice(0, 40)}" is not true or false`);

  return {
    allowed,
    claim,
    maxCustomers,
    requestsPerSecond,
    deniedCacheMs: deniedSeconds * 1000,
    storeTokens: storeText.toLowerCase() === "true",
  };
}

export function parseSignBudget(read: Collector): SignBudget {
  return {
    vaultSignsPer10s: integer(
      read,
      "KEY_VAULT_SIGNS_PER_10S",
      DEFAULT_VAULT_SIGNS_PER_10S,
      1,
      1_000_000,
      " (4000 for RSA-2048 software keys, 250 for RSA-4096 HSM keys)",
    ),
    share: number(read, "KEY_VAULT_SIGN_SHARE", DEFAULT_SIGN_SHARE, 0.001, 1),
  };
}

function integer(read: Collector, name: string, fallback: number, min: number, max: number, hint = ""): number {
  const text = read.optional(name);
  if (text === undefined) return fallback;
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(value >= min && value <= max)) {
    read.problem(name, `"${text.slice(0, 40)}" is not a whole number from ${min} to ${max}${hint}`);
    return fallback;
  }
  return value;
}

function number(read: Collector, name: string, fallback: number, min: number, max: number): number {
  const text = read.optional(name);
  if (text === undefined) return fallback;
  const value = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!(value >= min && value <= max)) {
    read.problem(name, `"${text.slice(0, 40)}" is not a number from ${min} to ${max}`);
    return fallback;
  }
  return value;
}
