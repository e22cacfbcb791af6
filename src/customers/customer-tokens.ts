/**
 * One profile's customer tokens: a bounded LRU cache keyed by every grant-shaping input
 * (customer, claim, externalRef), single-flight per key, new grants metered by the profile's
 * Maskinporten rate and the instance's Key Vault sign budget. Refusals of a customer are
 * remembered briefly; other failures back the whole profile off (they would fail for every
 * customer). Held only in memory: nothing is read back from a store, so a token made under other
 * settings can never be served.
 */
import type { TokenProfile } from "../config/domain.js";
import { errorLogFields } from "../errors.js";
import { MaskinportenError } from "../maskinporten-error.js";
import type { Logger } from "../logging.js";
import { failureBackoffMs, laterToken, tokenState, type RenewalPolicy } from "../renewal/policy.js";
import { NoTokenError } from "../renewal/profile-tokens.js";
import { realSleep } from "../retry.js";
import type { StoredToken } from "../token-store/stored-token.js";
import {
  customerCacheKey,
  customerGrantShape,
  profileForCustomer,
  type CustomerGrantShape,
  type CustomerRequest,
} from "./customer-grant.js";
import type { CustomerPolicy } from "./customer-settings.js";
import { CustomerDeniedError, isCustomerRefusal } from "./errors.js";
import { reserve, TokenBucket } from "./token-bucket.js";

/** A request for a new customer token waits at most this long for rate budget, then gets 503. */
export const MAX_QUEUE_WAIT_MS = 2_000;

export interface CustomerTokensOptions {
  profile: TokenProfile & { customers: CustomerPolicy };
  issue: (profile: TokenProfile) => Promise<StoredToken>;
  policy: RenewalPolicy;
  /** Shared by every profile of this instance: one token per Key Vault sign. */
  signBucket: TokenBucket;
  logger: Logger;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Called after a new token is issued when the profile stores customer tokens. */
  publish?: (shape: CustomerGrantShape, token: StoredToken) => Promise<void>;
}

interface Entry {
  key: string;
  shape: CustomerGrantShape;
  token?: StoredToken;
  pending?: Promise<StoredToken>;
  denied?: { untilMs: number; error: CustomerDeniedError };
  lastRequestedAtMs: number;
}

export interface CustomerTokenStats {
  held: number;
  issued: number;
  denied: number;
  refusedByRate: number;
  evicted: number;
}

export interface CustomerRenewalSummary {
  profile: string;
  renewed: number;
  failed: number;
  /** Due but no rate budget left this tick; the next tick or a request tries again. */
  deferred: number;
  /** Not requested within two token lifetimes and expired: dropped. */
  dropped: number;
}

export class CustomerTokens {
  private readonly entries = new Map<string, Entry>();
  private readonly maskinportenBucket: TokenBucket;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private consecutiveFailures = 0;
  private backoffUntilMs = 0;
  private readonly counts = { issued: 0, denied: 0, refusedByRate: 0, evicted: 0 };

  constructor(private readonly options: CustomerTokensOptions) {
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? realSleep;
    const rate = options.profile.customers.requestsPerSecond;
    this.maskinportenBucket = new TokenBucket(rate, Math.max(1, rate * 2), this.now());
  }

  get profileName(): string {
    return this.options.profile.name;
  }

  /** The hot path: a held fresh token costs one map lookup and an LRU touch. */
  /**
   * What serve() would hand out without any I/O, synchronously: the customer's held token while it
   * is fresh, or due (then a renewal starts in the background); else undefined (no entry, a
   * refusal being remembered, nothing usable), and serve() decides. The HTTP path calls this first.
   */
  servableFromMemory(request: CustomerRequest): StoredToken | undefined {
    const key = customerCacheKey(customerGrantShape(this.options.profile.customers.claim, request));
    const entry = this.entries.get(key);
    if (entry === undefined || entry.token === undefined) return undefined;
    const nowMs = this.now();
    if (entry.denied && nowMs < entry.denied.untilMs) return undefined;
    const state = tokenState(entry.token, nowMs, this.options.policy);
    if (state !== "fresh" && state !== "due") return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    entry.lastRequestedAtMs = nowMs;
    if (state === "due") this.renewQuietly(entry, 0, "demand");
    return entry.token;
  }

  async serve(request: CustomerRequest): Promise<StoredToken> {
    const held = this.servableFromMemory(request);
    if (held !== undefined) return held;
    const shape = customerGrantShape(this.options.profile.customers.claim, request);
    const key = customerCacheKey(shape);
    const nowMs = this.now();
    let entry = this.entries.get(key);
    if (entry) {
      this.entries.delete(key);
      this.entries.set(key, entry);
      entry.lastRequestedAtMs = nowMs;
      if (entry.denied && nowMs < entry.denied.untilMs) throw entry.denied.error;
      const state = tokenState(entry.token, nowMs, this.options.policy);
      if (state === "fresh") return entry.token!;
      if (state === "due") {
        this.renewQuietly(entry, 0, "demand");
        return entry.token!;
      }
      if (entry.pending) return this.usable(await entry.pending);
      return this.usable(await this.renew(entry, MAX_QUEUE_WAIT_MS, "demand"));
    }
    // A new key takes a place (evicting the least recently used) only once it has rate budget,
    // so a refused burst of new customers does not push out tokens in use.
    entry = { key, shape, lastRequestedAtMs: nowMs };
    const renewal = this.renew(entry, MAX_QUEUE_WAIT_MS, "demand");
    if (entry.pending) {
      this.makeRoom();
      this.entries.set(key, entry);
    }
    return this.usable(await renewal);
  }

  /**
   * For the timer: renews due tokens of keys requested within the last two token lifetimes, drops
   * the rest once expired. Never waits for rate budget: what does not fit is deferred.
   */
  async renewDue(): Promise<CustomerRenewalSummary> {
    const summary: CustomerRenewalSummary = { profile: this.profileName, renewed: 0, failed: 0, deferred: 0, dropped: 0 };
    const nowMs = this.now();
    const work: Promise<void>[] = [];
    for (const entry of [...this.entries.values()]) {
      const token = entry.token;
      if (!token) {
        if (
          !entry.pending &&
          (!entry.denied || nowMs >= entry.denied.untilMs) &&
          nowMs - entry.lastRequestedAtMs > this.options.profile.customers.deniedCacheMs
        ) {
          this.entries.delete(entry.key);
          summary.dropped++;
        }
        continue;
      }
      const lifetimeMs = token.expiresAt.getTime() - token.issuedAt.getTime();
      const inUse = nowMs - entry.lastRequestedAtMs <= 2 * lifetimeMs;
      const state = tokenState(token, nowMs, this.options.policy);
      if (!inUse) {
        if (state === "unusable") {
          this.entries.delete(entry.key);
          summary.dropped++;
        }
        continue;
      }
      if (state === "fresh" || entry.pending) continue;
      work.push(
        this.renew(entry, 0, "timer").then(
          () => void summary.renewed++,
          (error: unknown) => {
            if (error instanceof NoTokenError && !(error.cause instanceof Error)) summary.deferred++;
            else summary.failed++;
          },
        ),
      );
    }
    await Promise.all(work);
    return summary;
  }

  /** Resolves when every renewal in flight now has finished (tests, shutdown). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.entries.values()].flatMap((entry) => (entry.pending ? [entry.pending] : [])));
  }

  stats(): CustomerTokenStats {
    return { held: this.entries.size, ...this.counts };
  }

  private usable(token: StoredToken): StoredToken {
    if (tokenState(token, this.now(), this.options.policy) === "unusable") {
      throw new NoTokenError(this.profileName, 1);
    }
    return token;
  }

  private forget(entry: Entry): void {
    if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
  }

  /**
   * LRU eviction. An entry with a request in flight is skipped (its waiters hold it anyway); if
   * every entry is in flight the map runs over by at most the in-flight count, which the rate
   * budget bounds.
   */
  private makeRoom(): void {
    const limit = this.options.profile.customers.maxCustomers;
    if (this.entries.size < limit) return;
    for (const entry of this.entries.values()) {
      if (entry.pending) continue;
      this.entries.delete(entry.key);
      this.counts.evicted++;
      if (this.entries.size < limit) return;
    }
  }

  private renewQuietly(entry: Entry, maxWaitMs: number, trigger: "demand" | "timer"): void {
    if (entry.pending || this.now() < this.backoffUntilMs) return;
    this.renew(entry, maxWaitMs, trigger).catch(() => {
      // Logged in runRenewal; the held token keeps serving until it is unusable.
    });
  }

  private renew(entry: Entry, maxWaitMs: number, trigger: "demand" | "timer"): Promise<StoredToken> {
    if (entry.pending) return entry.pending;
    const nowMs = this.now();
    if (nowMs < this.backoffUntilMs) {
      return Promise.reject(
        new NoTokenError(this.profileName, Math.max(1, Math.ceil((this.backoffUntilMs - nowMs) / 1000)), this.lastFailure),
      );
    }
    const reservation = reserve([this.maskinportenBucket, this.options.signBucket], nowMs, maxWaitMs);
    if (!reservation.granted) {
      this.counts.refusedByRate++;
      return Promise.reject(new NoTokenError(this.profileName, Math.max(1, Math.ceil(reservation.retryAfterMs / 1000))));
    }
    const pending = this.runRenewal(entry, reservation.waitMs, trigger).finally(() => {
      if (entry.pending === pending) delete entry.pending;
    });
    entry.pending = pending;
    return pending;
  }

  private lastFailure: unknown;

  private async runRenewal(entry: Entry, waitMs: number, trigger: "demand" | "timer"): Promise<StoredToken> {
    const { profile, logger, issue } = this.options;
    const fields = { profile: profile.name, customer: entry.shape.customer, externalRef: entry.shape.externalRef !== null, trigger };
    if (waitMs > 0) await this.sleep(waitMs);
    let issued: StoredToken;
    try {
      issued = await issue(profileForCustomer(profile, entry.shape));
    } catch (error) {
      if (error instanceof MaskinportenError && isCustomerRefusal(error)) {
        const denied = new CustomerDeniedError(profile.name, entry.shape.customer, error);
        entry.denied = { untilMs: this.now() + profile.customers.deniedCacheMs, error: denied };
        delete entry.token; // the customer withdrew: stop serving what we held
        this.counts.denied++;
        logger.log("warn", "customer-token", {
          ...fields,
          outcome: "denied",
          error: denied.error,
          errorUri: denied.errorUri ?? null,
          traceId: denied.traceId ?? null,
        });
        throw denied;
      }
      if (!entry.token && !entry.denied) this.forget(entry);
      this.consecutiveFailures++;
      this.backoffUntilMs = this.now() + failureBackoffMs(this.consecutiveFailures);
      this.lastFailure = error;
      logger.log("error", "customer-token", {
        ...fields,
        outcome: "failed",
        ...errorLogFields(error),
        consecutiveFailures: this.consecutiveFailures,
      });
      throw new NoTokenError(profile.name, Math.max(1, Math.ceil(failureBackoffMs(this.consecutiveFailures) / 1000)), error);
    }
    this.consecutiveFailures = 0;
    this.backoffUntilMs = 0;
    this.counts.issued++;
    delete entry.denied;
    // The issued token's fingerprint covers the customer (profileForCustomer sets consumer_org or
    // the system-user detail); the entry only ever holds tokens of that one shape.
    // Same fingerprint by construction: the later of the two, never undefined.
    entry.token = laterToken(entry.token, issued, issued.fingerprint) ?? issued;
    logger.log("info", "customer-token", { ...fields, outcome: "renewed", expiresAt: issued.expiresAt.toISOString() });
    if (this.options.publish && entry.shape.externalRef === null) {
      this.options
        .publish(entry.shape, issued)
        .catch((error: unknown) =>
          logger.log("warn", "customer-token-store-failed", { ...fields, message: error instanceof Error ? error.message : String(error) }),
        );
    }
    return entry.token!;
  }
}
