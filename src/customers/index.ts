/**
 * Per-customer tokens for every profile that serves them, sharing one Key Vault sign budget.
 * The broker composes this; the HTTP endpoint reaches it through Broker.serveCustomer.
 */
import type { BrokerConfig, TokenProfile } from "../config/domain.js";
import type { Logger } from "../logging.js";
import type { RenewalPolicy } from "../renewal/policy.js";
import type { StoredToken } from "../token-store/stored-token.js";
import type { CustomerGrantShape } from "./customer-grant.js";
import { DEFAULT_SIGN_SHARE, DEFAULT_VAULT_SIGNS_PER_10S, type CustomerPolicy, type SignBudget } from "./customer-settings.js";
import { CustomerTokens, type CustomerRenewalSummary } from "./customer-tokens.js";
import { TokenBucket } from "./token-bucket.js";

export { CustomerTokens, MAX_QUEUE_WAIT_MS, type CustomerRenewalSummary, type CustomerTokenStats } from "./customer-tokens.js";
export { CustomerDeniedError, CustomerErrorCode } from "./errors.js";
export {
  customerCacheKey,
  customerGrantShape,
  profileForCustomer,
  type CustomerGrantShape,
  type CustomerRequest,
} from "./customer-grant.js";
export type { CustomerPolicy, CustomerClaim, SignBudget } from "./customer-settings.js";

/**
 * Key Vault counts signs per 10 s window. A bucket holding one second's worth and refilling at
 * 90 % of the budget per 10 s never exceeds the budget in any 10 s window (burst + 10 s of refill).
 */
export function signBucketFor(budget: SignBudget | undefined, nowMs: number): TokenBucket {
  const per10s = (budget?.vaultSignsPer10s ?? DEFAULT_VAULT_SIGNS_PER_10S) * (budget?.share ?? DEFAULT_SIGN_SHARE);
  const burst = Math.max(1, per10s / 10);
  return new TokenBucket((per10s - burst) / 10 || per10s / 20, burst, nowMs);
}

export interface CustomerCachesOptions {
  config: BrokerConfig;
  issue: (profile: TokenProfile) => Promise<StoredToken>;
  policy: RenewalPolicy;
  logger: Logger;
  now: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Writes a customer token to its secret (PROFILE_<NAME>_STORE_CUSTOMER_TOKENS). */
  publish?: (profile: TokenProfile, shape: CustomerGrantShape, token: StoredToken) => Promise<void>;
}

export function createCustomerCaches(options: CustomerCachesOptions): Map<string, CustomerTokens> {
  const signBucket = signBucketFor(options.config.signBudget, options.now());
  const caches = new Map<string, CustomerTokens>();
  for (const profile of options.config.profiles) {
    if (!profile.customers) continue;
    const withCustomers = profile as TokenProfile & { customers: CustomerPolicy };
    const publish = options.publish;
    caches.set(
      profile.name,
      new CustomerTokens({
        profile: withCustomers,
        issue: options.issue,
        policy: options.policy,
        signBucket,
        logger: options.logger,
        now: options.now,
        ...(options.sleep ? { sleep: options.sleep } : {}),
        ...(publish && profile.customers.storeTokens ? { publish: (shape, token) => publish(profile, shape, token) } : {}),
      }),
    );
  }
  return caches;
}

export async function renewCustomerTokens(caches: Map<string, CustomerTokens>, logger: Logger): Promise<CustomerRenewalSummary[]> {
  const summaries = await Promise.all([...caches.values()].map((cache) => cache.renewDue()));
  for (const summary of summaries) {
    if (summary.renewed + summary.failed + summary.deferred + summary.dropped > 0) logger.log("info", "customer-renewal", { ...summary });
  }
  return summaries;
}

/** Secret name of a stored customer token (README "Contracts"): `maskinporten-<profile>-<orgno>`. */
export function customerSecretName(profile: TokenProfile, customer: string): string {
  return `maskinporten-${profile.name}-${customer}`;
}
