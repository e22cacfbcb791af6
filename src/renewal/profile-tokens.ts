/**
 * Keeps one profile's token: in memory, backed by the token store, renewed at Maskinporten when due.
 * Per process there is at most one store read and one renewal in flight per profile
 * (single-flight); a failed renewal never drops the token we hold.
 */
import { BrokerError, ErrorCode, errorLogFields, isAltinnFailure, type ErrorLogFields } from "../errors.js";
import type { Logger } from "../logging.js";
import type { Metrics } from "../metrics.js";
import type { TokenProfile } from "../config/domain.js";
import { profileFingerprint } from "../grant/fingerprint.js";
import type { StoredToken } from "../token-store/stored-token.js";
import type { TokenStore } from "../token-store/token-store.js";
import { failureBackoffMs, laterToken, tokenState, type RenewalPolicy } from "./policy.js";

/** recovery: the background retry while callers wait and nothing valid is held. */
export type RenewalTrigger = "timer" | "demand" | "recovery";

/** Timers for the background recovery; the soak gives its fake clock's. */
export interface RecoveryScheduler {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** While callers wait and nothing valid is held, a new attempt at least this often. */
export const RECOVERY_INTERVAL_MS = 10_000;
/** Callers count as waiting for this long after their last request. */
export const RECOVERY_DEMAND_WINDOW_MS = 120_000;

const realScheduler: RecoveryScheduler = {
  setTimeout(callback, ms) {
    const handle = setTimeout(callback, ms);
    handle.unref(); // never keep a process (CLI, tests, a stopping host) alive for a retry
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface RenewalOutcome {
  profile: string;
  /** fresh: nothing to do; adopted: another broker had renewed; renewed: we got a new token. */
  outcome: "fresh" | "adopted" | "renewed" | "failed";
  expiresAt?: Date;
  error?: FailureRecord;
}

/** A failed renewal: what the error says about itself for logs, when, and at which step. */
export interface FailureRecord extends ErrorLogFields {
  at: Date;
  /** Which step failed: getting the Maskinporten token ("issue"), exchanging it at Altinn, or storing it. */
  stage?: FailureStage;
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
  /**
   * Gets a new token from Maskinporten (grant + token request, retries included). The background
   * recovery asks for a single attempt (`maxAttempts: 1`): it comes back every 10 s anyway.
   */
  issue: (profile: TokenProfile, options?: { maxAttempts?: number }) => Promise<StoredToken>;
  policy: RenewalPolicy;
  logger: Logger;
  now?: () => number;
  scheduler?: RecoveryScheduler;
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
  /** Last time a caller asked while nothing valid was held (recovery runs while this is recent). */
  private lastUnservedDemandAtMs = Number.NEGATIVE_INFINITY;
  private recoveryTimer: { handle: unknown; atMs: number } | undefined;
  private renewalStartedAtMs = 0;
  private readonly now: () => number;
  /** The profile's current grant-shaping settings: only tokens issued for them are held. */
  private readonly fingerprint: string;
  private readonly scheduler: RecoveryScheduler;

  constructor(private readonly options: ProfileTokensOptions) {
    this.now = options.now ?? Date.now;
    this.fingerprint = profileFingerprint(options.profile);
    this.scheduler = options.scheduler ?? realScheduler;
  }

  get profile(): TokenProfile {
    return this.options.profile;
  }

  /**
   * What serve() would hand out without any I/O, synchronously: the held token while it is fresh,
   * or while it is due (then a renewal starts in the background); else undefined, and serve()
   * decides. The HTTP hot path calls this first so that a served request never awaits.
   */
  servableFromMemory(): StoredToken | undefined {
    const token = this.held;
    const state = tokenState(token, this.now(), this.options.policy);
    if (state === "fresh") return token;
    if (state === "due") {
      // Still valid: hand it out and heal in the background (the timer may be paused).
      this.renewInBackground();
      return token;
    }
    return undefined;
  }

  /**
   * The hot path: a token to hand to a caller. From memory when fresh (no I/O at all); from the
   * store when memory is empty or stale; renewed on demand when nothing usable exists.
   */
  async serve(): Promise<StoredToken> {
    const policy = this.options.policy;
    let token = this.servableFromMemory();
    if (token !== undefined) return token;
    token = await this.readStore().catch(() => this.held);
    let state = tokenState(token, this.now(), policy);
    if (state === "fresh") return token!;
    if (state === "due") {
      this.renewInBackground();
      return token!;
    }
    this.lastUnservedDemandAtMs = this.now();
    // Callers are waiting now: whatever backoff an earlier failure set, try again within the interval.
    this.nextAttemptAtMs = Math.min(this.nextAttemptAtMs, this.now() + RECOVERY_INTERVAL_MS);
    if (this.now() < this.nextAttemptAtMs) {
      this.scheduleRecovery();
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
  async renewIfDue(trigger: Exclude<RenewalTrigger, "demand" | "recovery">): Promise<RenewalOutcome> {
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
    this.renewalStartedAtMs = this.now();
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
    this.renewalStartedAtMs = startedMs;

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
      logger.log("warn", "token-store-read-failed", { ...base, ...errorLogFields(error) });
    }

    let issued: StoredToken;
    try {
      issued = await this.options.issue(profile, trigger === "recovery" ? { maxAttempts: 1 } : undefined);
    } catch (error) {
      return this.fail(error, base, "issue");
    }
    this.adopt(issued);
    this.lastRenewalAt = new Date(this.now());
    this.consecutiveFailures = 0;
    this.nextAttemptAtMs = 0;
    this.cancelRecovery();
    if (this.held === issued) this.unstored = issued;
    const renewed = { profile: profile.name, outcome: "renewed" as const, expiresAt: this.held!.expiresAt };
    const logRenewed = (stored: boolean) =>
      logger.log("info", "renewal", {
        ...base,
        outcome: "renewed",
        stored,
        expiresAt: this.held!.expiresAt.toISOString(),
        durationMs: this.now() - startedMs,
      });
    // On demand, the token serves this instance's callers from memory; the timer publishes it.
    if (trigger === "demand" || trigger === "recovery") {
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
    // Callers waiting with nothing valid held: the next attempt no later than the recovery
    // interval after this one started (retries inside it, Retry-After, take time), so they are
    // served within seconds of Maskinporten coming back. Otherwise on-demand attempts back off up
    // to 5 min, but with a valid token held never past the moment it stops being usable, so the
    // first caller after that tries at once.
    const backoffMs = failureBackoffMs(this.consecutiveFailures);
    const usableUntilMs = this.held ? this.held.expiresAt.getTime() - this.options.policy.minServeRemainingMs : Number.NEGATIVE_INFINITY;
    const nextMs = this.callersWaiting()
      ? Math.max(this.now(), Math.min(this.now() + backoffMs, this.renewalStartedAtMs + RECOVERY_INTERVAL_MS))
      : this.now() + backoffMs;
    this.nextAttemptAtMs = usableUntilMs > this.now() ? Math.min(nextMs, usableUntilMs) : nextMs;
    this.scheduleRecovery();
    const failedStage: FailureStage = stage === "issue" && isAltinnFailure(error) ? "altinn-exchange" : stage;
    const record: FailureRecord = { at: new Date(this.now()), stage: failedStage, ...errorLogFields(error) };
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

  private callersWaiting(): boolean {
    return (
      tokenState(this.held, this.now(), this.options.policy) === "unusable" &&
      this.now() - this.lastUnservedDemandAtMs < RECOVERY_DEMAND_WINDOW_MS
    );
  }

  /**
   * The background recovery: one timer per profile, firing at the next allowed attempt. Each firing
   * makes one single-flight renewal (its own grant, so a fresh jti) or, if callers stopped asking
   * or a valid token arrived, ends. So an outage costs Maskinporten at most one request per
   * profile and instance every RECOVERY_INTERVAL_MS, and nothing while a valid token is held.
   */
  private scheduleRecovery(): void {
    if (!this.callersWaiting()) return;
    const atMs = Math.max(this.nextAttemptAtMs, this.now());
    if (this.recoveryTimer && this.recoveryTimer.atMs <= atMs) return;
    this.cancelRecovery();
    const handle = this.scheduler.setTimeout(() => {
      if (this.recoveryTimer?.handle !== handle) return;
      this.recoveryTimer = undefined;
      if (!this.callersWaiting()) return;
      if (this.now() < this.nextAttemptAtMs) return this.scheduleRecovery();
      // A renewal already in flight (the timer's) may fail without rescheduling us: look again after.
      void this.renew("recovery").then(() => this.scheduleRecovery());
    }, atMs - this.now());
    this.recoveryTimer = { handle, atMs };
  }

  private cancelRecovery(): void {
    if (!this.recoveryTimer) return;
    this.scheduler.clearTimeout(this.recoveryTimer.handle);
    this.recoveryTimer = undefined;
  }

  private retryAfterSeconds(): number {
    return Math.max(1, Math.ceil((this.nextAttemptAtMs - this.now()) / 1000));
  }
}
