/**
 * Keeps one profile's token: in memory, backed by the token store, renewed at Maskinporten when due.
 * Per process there is at most one store read and one renewal in flight per profile
 * (single-flight); a failed renewal never drops the token we hold.
 */
import { BrokerError, ErrorCode } from "../errors.js";
import type { Logger } from "../logging.js";
import type { Metrics } from "../metrics.js";
import { MaskinportenError } from "../maskinporten/errors.js";
import { AltinnExchangeError } from "../altinn/errors.js";
import type { TokenProfile } from "../config/settings.js";
import { profileFingerprint } from "../grant/fingerprint.js";
import type { StoredToken } from "../token-store/stored-token.js";
import type { TokenStore } from "../token-store/token-store.js";
import { failureBackoffMs, laterToken, tokenState, type RenewalPolicy } from "./policy.js";

export type RenewalTrigger = "timer" | "demand" | "startup";

export interface RenewalOutcome {
  profile: string;
  /** fresh: nothing to do; adopted: another broker had renewed; renewed: we got a new token. */
  outcome: "fresh" | "adopted" | "renewed" | "failed";
  expiresAt?: Date;
  error?: FailureRecord;
}

export interface FailureRecord {
  at: Date;
  /** Which step failed: getting the Maskinporten token ("issue"), exchanging it at Altinn, or storing it. */
  stage?: FailureStage;
  code: string;
  message: string;
  traceId?: string;
  maskinportenError?: string;
  /** Maskinporten's `error_uri` (Digdir's page for the error), when given. */
  errorUri?: string;
  status?: number;
}

export type FailureStage = "issue" | "altinn-exchange" | "store-write";

export interface ProfileStatus {
  profile: string;
  expiresAt?: Date;
  lastRenewalAt?: Date;
  lastError?: FailureRecord;
  consecutiveFailures: number;
}

/** No valid token and none can be had now. `retryAfterSeconds` feeds the 503's Retry-After. */
export class NoTokenError extends BrokerError {
  constructor(
    readonly profile: string,
    readonly retryAfterSeconds: number,
    cause?: unknown,
  ) {
    super(ErrorCode.NoToken, `No valid token for profile "${profile}" is available; retry in ${retryAfterSeconds} s`, { cause });
  }
}

export interface ProfileTokensOptions {
  profile: TokenProfile;
  store: TokenStore;
  /** Gets a new token from Maskinporten (grant + token request, retries included). */
  issue: (profile: TokenProfile) => Promise<StoredToken>;
  policy: RenewalPolicy;
  logger: Logger;
  now?: () => number;
  /** Renewal counts and durations (no-op unless given). */
  metrics?: Metrics;
}

export class ProfileTokens {
  private held: StoredToken | undefined;
  private storeRead: Promise<StoredToken | undefined> | undefined;
  private renewal: Promise<RenewalOutcome> | undefined;
  private consecutiveFailures = 0;
  private nextAttemptAtMs = 0;
  private lastRenewalAt: Date | undefined;
  private lastError: FailureRecord | undefined;
  /** The held token when writing it to the store failed: the shared copy is behind until written. */
  private unstored: StoredToken | undefined;
  private readonly now: () => number;
  /** The profile's current grant-shaping settings: only tokens issued for them are held. */
  private readonly fingerprint: string;

  constructor(private readonly options: ProfileTokensOptions) {
    this.now = options.now ?? Date.now;
    this.fingerprint = profileFingerprint(options.profile);
  }

  get profile(): TokenProfile {
    return this.options.profile;
  }

  /**
   * The hot path: a token to hand to a caller. From memory when fresh (no I/O at all); from the
   * store when memory is empty or stale; renewed on demand when nothing usable exists.
   */
  async serve(): Promise<StoredToken> {
    const policy = this.options.policy;
    let token = this.held;
    let state = tokenState(token, this.now(), policy);
    if (state === "fresh") return token!;
    if (state === "due") {
      // Still valid: hand it out and heal in the background (the timer may be paused).
      this.renewInBackground();
      return token!;
    }
    token = await this.readStore().catch(() => this.held);
    state = tokenState(token, this.now(), policy);
    if (state === "fresh") return token!;
    if (state === "due") {
      this.renewInBackground();
      return token!;
    }
    if (this.now() < this.nextAttemptAtMs) {
      throw new NoTokenError(this.profile.name, this.retryAfterSeconds());
    }
    const outcome = await this.renew("demand");
    token = this.held;
    if (tokenState(token, this.now(), policy) !== "unusable") return token!;
    throw new NoTokenError(this.profile.name, this.retryAfterSeconds(), outcome.error);
  }

  /**
   * For the timer: renew when due or missing, then publish the held token to the store if the store
   * is behind. Only the timer writes the store: the Functions host runs a timer on one instance at a
   * time, and Key Vault has no conditional write, so a single writer is what keeps the secret from
   * ever going backwards. With a fresh token already published this does no I/O at all.
   */
  async renewIfDue(trigger: Exclude<RenewalTrigger, "demand">): Promise<RenewalOutcome> {
    let outcome: RenewalOutcome | undefined;
    if (tokenState(this.held, this.now(), this.options.policy) !== "fresh") {
      outcome = await this.renew(trigger);
      if (outcome.outcome === "failed") return outcome;
    }
    if (this.unstored !== undefined && this.unstored === this.held) {
      const published = await this.publishHeld(trigger);
      if (published.outcome === "failed") return published;
    }
    return outcome ?? { profile: this.profile.name, outcome: "fresh", ...(this.held ? { expiresAt: this.held.expiresAt } : {}) };
  }

  /** The token held in memory, if any (no I/O). */
  heldToken(): StoredToken | undefined {
    return this.held;
  }

  status(): ProfileStatus {
    return {
      profile: this.profile.name,
      ...(this.held ? { expiresAt: this.held.expiresAt } : {}),
      ...(this.lastRenewalAt ? { lastRenewalAt: this.lastRenewalAt } : {}),
      ...(this.lastError ? { lastError: this.lastError } : {}),
      consecutiveFailures: this.consecutiveFailures,
    };
  }

  private renewInBackground(): void {
    if (this.now() < this.nextAttemptAtMs) return;
    void this.renew("demand");
  }

  private renew(trigger: RenewalTrigger): Promise<RenewalOutcome> {
    this.renewal ??= this.measured(trigger, this.runRenewal(trigger)).finally(() => {
      this.renewal = undefined;
    });
    return this.renewal;
  }

  private async measured(trigger: RenewalTrigger, running: Promise<RenewalOutcome>): Promise<RenewalOutcome> {
    const startedMs = performance.now();
    const outcome = await running;
    this.options.metrics?.renewal({
      profile: outcome.profile,
      outcome: outcome.outcome,
      trigger,
      ...(outcome.error?.stage ? { stage: outcome.error.stage } : {}),
      durationMs: performance.now() - startedMs,
    });
    return outcome;
  }

  /** Single-flight with renewals. */
  private publishHeld(trigger: RenewalTrigger): Promise<RenewalOutcome> {
    this.renewal ??= this.writeUnstored(trigger).finally(() => {
      this.renewal = undefined;
    });
    return this.renewal;
  }

  private async writeUnstored(trigger: RenewalTrigger): Promise<RenewalOutcome> {
    const { profile, logger } = this.options;
    const base = { profile: profile.name, trigger };
    const token = this.unstored!;
    try {
      const { current, written } = await this.options.store.write(profile.name, profile.secretName, token);
      this.adopt(current);
      this.unstored = undefined;
      this.consecutiveFailures = 0;
      this.nextAttemptAtMs = 0;
      logger.log("info", "token-store-caught-up", { ...base, stored: written, expiresAt: this.held!.expiresAt.toISOString() });
      return { profile: profile.name, outcome: "fresh", expiresAt: this.held!.expiresAt };
    } catch (error) {
      return this.fail(error, base, "store-write");
    }
  }

  private readStore(): Promise<StoredToken | undefined> {
    this.storeRead ??= this.options.store
      .read(this.profile.name, this.profile.secretName)
      .then((stored) => this.adopt(stored))
      .finally(() => {
        this.storeRead = undefined;
      });
    return this.storeRead;
  }

  /** Takes `token` if it is for the current settings and expires later than what we hold. */
  private adopt(token: StoredToken | undefined): StoredToken | undefined {
    this.held = laterToken(this.held, token, this.fingerprint);
    return this.held;
  }

  private async runRenewal(trigger: RenewalTrigger): Promise<RenewalOutcome> {
    const { profile, logger, policy } = this.options;
    const base = { profile: profile.name, trigger };
    const startedMs = this.now();

    // Another broker instance may have renewed already: look before asking Maskinporten.
    try {
      const before = this.held;
      await this.readStore();
      if (tokenState(this.held, this.now(), policy) === "fresh") {
        const outcome = this.held !== before ? "adopted" : "fresh";
        if (outcome === "adopted") logger.log("info", "renewal", { ...base, outcome, expiresAt: this.held!.expiresAt.toISOString() });
        return { profile: profile.name, outcome, expiresAt: this.held!.expiresAt };
      }
    } catch (error) {
      // The store is down; Maskinporten may not be. Renew anyway and serve from memory.
      logger.log("warn", "token-store-read-failed", { ...base, ...describeFailure(error) });
    }

    let issued: StoredToken;
    try {
      issued = await this.options.issue(profile);
    } catch (error) {
      return this.fail(error, base, "issue");
    }
    this.adopt(issued);
    this.lastRenewalAt = new Date(this.now());
    this.consecutiveFailures = 0;
    this.nextAttemptAtMs = 0;
    if (this.held === issued) this.unstored = issued;
    const renewed = { profile: profile.name, outcome: "renewed" as const, expiresAt: this.held!.expiresAt };
    const logRenewed = (stored: boolean) =>
      logger.log("info", "renewal", { ...base, outcome: "renewed", stored, expiresAt: this.held!.expiresAt.toISOString(), durationMs: this.now() - startedMs });
    // On demand, the token serves this instance's callers from memory; the timer publishes it.
    if (trigger === "demand") {
      logRenewed(false);
      return renewed;
    }
    try {
      const { current, written } = await this.options.store.write(profile.name, profile.secretName, issued);
      this.adopt(current);
      this.unstored = undefined;
      logRenewed(written);
      return renewed;
    } catch (error) {
      // The new token is held and served from memory; only the shared copy is stale. The next
      // timer run writes it again (renewIfDue), so secret readers do not wait for the next renewal.
      return this.fail(error, base, "store-write");
    }
  }

  private fail(error: unknown, base: { profile: string; trigger: RenewalTrigger }, stage: "issue" | "store-write"): RenewalOutcome {
    this.consecutiveFailures++;
    this.nextAttemptAtMs = this.now() + failureBackoffMs(this.consecutiveFailures);
    const failedStage: FailureStage = stage === "issue" && error instanceof AltinnExchangeError ? "altinn-exchange" : stage;
    const record: FailureRecord = { at: new Date(this.now()), stage: failedStage, ...describeFailure(error) };
    this.lastError = record;
    this.options.logger.log("error", "renewal", {
      ...base,
      outcome: "failed",
      consecutiveFailures: this.consecutiveFailures,
      keptTokenExpiresAt: this.held?.expiresAt.toISOString() ?? null,
      ...record,
      at: undefined,
    });
    return { profile: base.profile, outcome: "failed", error: record, ...(this.held ? { expiresAt: this.held.expiresAt } : {}) };
  }

  private retryAfterSeconds(): number {
    return Math.max(1, Math.ceil((this.nextAttemptAtMs - this.now()) / 1000));
  }
}

function describeFailure(error: unknown): Omit<FailureRecord, "at"> {
  if (error instanceof MaskinportenError) {
    return {
      code: error.code,
      message: error.message,
      ...(error.traceId ? { traceId: error.traceId } : {}),
      ...(error.error ? { maskinportenError: error.error } : {}),
      ...(error.errorUri ? { errorUri: error.errorUri } : {}),
      ...(error.status !== undefined ? { status: error.status } : {}),
    };
  }
  if (error instanceof AltinnExchangeError) {
    return {
      code: error.code,
      message: error.message,
      ...(error.traceId ? { traceId: error.traceId } : {}),
      ...(error.status !== undefined ? { status: error.status } : {}),
    };
  }
  if (error instanceof BrokerError) return { code: error.code, message: error.message };
  return { code: "ERR_UNEXPECTED", message: error instanceof Error ? error.message : String(error) };
}
