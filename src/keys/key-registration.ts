/**
 * Key registration for kid profiles (`PROFILE_<NAME>_KEY_REGISTRATION=self-service`): reads the set
 * registered on the client, plans (src/keys/plan.ts), posts when needed, tells the rotation state
 * what is registered, and keeps what it saw for health. Runs from the timer behind a daily gate,
 * single-flight, never on the request path; one profile's failure is logged with Digdir's error and
 * stops neither the other profiles nor token renewal.
 */
import { BrokerError, ErrorCode } from "../errors.js";
import type { Logger } from "../logging.js";
import type { TokenProfile } from "../config/domain.js";
import { planRegistration, type KeyRole } from "./plan.js";
import {
  REGISTRATION_LIFETIME_MS,
  versionedKid,
  versionOfKeyId,
  versionOfKid,
  type PublicJwk,
  type RegisteredKey,
} from "./registered-keys.js";
import type { RotationState } from "./rotation.js";
import { SelfServiceError, type SelfServiceClient, type VaultPublicKey } from "./ports.js";
import type { SelfServiceConfig } from "./settings.js";

const DAY_MS = 86_400_000;
export const DEFAULT_SYNC_INTERVAL_MS = DAY_MS;
export const DEFAULT_RETRY_AFTER_FAILURE_MS = 3_600_000;
/** Log levels by days left (the alert rule reads these lines). */
export const EXPIRY_WARNING_DAYS = 30;
export const EXPIRY_ERROR_DAYS = 7;
const MIN_RSA_BITS = 2048;

export interface RegisteredKeyStatus {
  kid: string;
  role: KeyRole;
  expiresAt?: Date;
  daysLeft?: number;
}

export interface KeyRegistrationStatus {
  clientId: string;
  lastSyncAt?: Date;
  /** The set's `last_updated` (or `created`) as Digdir reported it: the registration date seen. */
  registeredAt?: Date;
  keys: RegisteredKeyStatus[];
  lastError?: { at: Date; code: string; message: string; status?: number };
}

export interface SyncOutcome {
  profile: string;
  clientId: string;
  /** `would-post`: a dry run (`keys list`) found something to post and did not. */
  outcome: "unchanged" | "posted" | "would-post" | "failed";
  reasons?: string[];
  error?: BrokerError;
}

export interface KeyRegistrationOptions {
  config: SelfServiceConfig;
  profiles: readonly TokenProfile[];
  client: SelfServiceClient;
  publicKeyOf(profile: TokenProfile): Promise<VaultPublicKey>;
  rotationOf(profile: TokenProfile): RotationState;
  now: () => number;
  logger: Logger;
  intervalMs?: number;
  retryAfterFailureMs?: number;
}

export interface KeyRegistration {
  /** Syncs when the daily gate is open (a day since the last success, an hour since a failure). */
  syncIfDue(): Promise<SyncOutcome[] | undefined>;
  /** Syncs every registering profile now (single-flight: a running pass is joined). */
  sync(): Promise<SyncOutcome[]>;
  /** Reads and plans without writing: what `sync` would do, and what is registered. */
  preview(): Promise<SyncOutcome[]>;
  /** The first sync of this process, when none was tried yet (so the signer knows what is registered). */
  primeIfNeeded(): Promise<void>;
  status(profileName: string): KeyRegistrationStatus | undefined;
}

export function createKeyRegistration(options: KeyRegistrationOptions): KeyRegistration {
  const { config, client, now, logger } = options;
  const profiles = options.profiles.filter((profile) => profile.keyRegistration === "self-service");
  const intervalMs = options.intervalMs ?? DEFAULT_SYNC_INTERVAL_MS;
  const retryAfterFailureMs = options.retryAfterFailureMs ?? DEFAULT_RETRY_AFTER_FAILURE_MS;
  const statuses = new Map<string, KeyRegistrationStatus>(profiles.map((p) => [p.name, { clientId: p.clientId, keys: [] }]));
  let running: Promise<SyncOutcome[]> | undefined;
  let lastAttemptAt: number | undefined;
  let lastPassFailed = false;

  function baseKidOf(profile: TokenProfile): string {
    return profile.signing.kid!;
  }

  async function syncProfile(profile: TokenProfile, dryRun = false): Promise<SyncOutcome> {
    const status = statuses.get(profile.name)!;
    const at = now();
    try {
      const vaultKey = await options.publicKeyOf(profile);
      const version = versionOfKeyId(vaultKey.keyId);
      if (!version) throw new BrokerError(ErrorCode.KeyRegistration, `the Key Vault key id of profile "${profile.name}" names no version`);
      if (vaultKey.bits < MIN_RSA_BITS) {
        throw new BrokerError(
          ErrorCode.KeyRegistration,
          `the Key Vault key of profile "${profile.name}" is RSA-${vaultKey.bits}; Digdir wants RSA of at least ${MIN_RSA_BITS} bits`,
        );
      }
      const baseKid = baseKidOf(profile);
      const current: PublicJwk = {
        kty: "RSA",
        kid: versionedKid(baseKid, version),
        use: "sig",
        alg: profile.signing.alg,
        n: vaultKey.jwk.n,
        e: vaultKey.jwk.e,
      };
      const rotation = options.rotationOf(profile);
      const registered = await client.getJwks(profile.clientId);
      rotation.observe(
        registered.keys.map((k) => ({ kid: k.jwk.kid, ...(k.expiresAt ? { expiresAt: k.expiresAt } : {}) })),
        at,
      );
      const plan = planRegistration({
        registered: registered.keys,
        current,
        baseKid,
        lastInUse: new Map(
          registered.keys.flatMap((key) => {
            const last = rotation.lastInUse(key.jwk.kid, at);
            return last === undefined ? [] : [[key.jwk.kid, last] as const];
          }),
        ),
        nowMs: at,
        renewBeforeMs: config.renewBeforeMs,
        retireAfterMs: config.retireAfterMs,
        replaceForeign: config.replaceForeign,
      });
      let keys: readonly RegisteredKey[] = registered.keys;
      let registeredAt = registered.lastUpdated ?? registered.created;
      if (plan.action === "refuse")
        throw new BrokerError(
          ErrorCode.KeyRegistration,
          `Key registration for profile "${profile.name}" (client ${profile.clientId}): ${plan.problem}`,
        );
      if (plan.action === "post" && dryRun) {
        status.lastSyncAt = new Date(at);
        status.keys = keys.map((key) => describe(key, current.kid, baseKid, at));
        if (registeredAt) status.registeredAt = registeredAt;
        return { profile: profile.name, clientId: profile.clientId, outcome: "would-post", reasons: plan.reasons };
      }
      if (plan.action === "post") {
        const answer = await client.putJwks(profile.clientId, plan.keys);
        // Digdir answers with the new set; should it not, the posted keys live a year from now.
        keys = answer.keys.length > 0 ? answer.keys : plan.keys.map((jwk) => ({ jwk, expiresAt: new Date(at + REGISTRATION_LIFETIME_MS) }));
        registeredAt = answer.lastUpdated ?? answer.created ?? new Date(at);
        rotation.observe(
          keys.map((k) => ({ kid: k.jwk.kid, ...(k.expiresAt ? { expiresAt: k.expiresAt } : {}) })),
          at,
        );
        logger.log("info", "key-registration-posted", {
          profile: profile.name,
          clientId: profile.clientId,
          kids: keys.map((k) => k.jwk.kid),
          reasons: plan.reasons,
        });
      }
      // Days left are counted from when Digdir's answer arrived, not from the start of the pass:
      // a key posted during the pass then shows 364 days, however long the requests took.
      const seenAt = now();
      status.lastSyncAt = new Date(seenAt);
      if (registeredAt) status.registeredAt = registeredAt;
      else delete status.registeredAt;
      status.keys = keys.map((key) => describe(key, current.kid, baseKid, seenAt));
      delete status.lastError;
      warnOfExpiry(profile, status.keys);
      return {
        profile: profile.name,
        clientId: profile.clientId,
        outcome: plan.action === "post" ? "posted" : "unchanged",
        ...(plan.action === "post" ? { reasons: plan.reasons } : {}),
      };
    } catch (caught) {
      const error =
        caught instanceof BrokerError
          ? caught
          : new BrokerError(
              ErrorCode.KeyRegistration,
              `Key registration failed: ${caught instanceof Error ? caught.message : String(caught)}`,
              { cause: caught },
            );
      const digdir = error instanceof SelfServiceError ? error : undefined;
      status.lastError = {
        at: new Date(at),
        code: error.code,
        message: error.message,
        ...(digdir?.status !== undefined ? { status: digdir.status } : {}),
      };
      logger.log("warn", "key-registration-failed", {
        profile: profile.name,
        clientId: profile.clientId,
        code: error.code,
        message: error.message,
        ...(digdir?.status !== undefined ? { status: digdir.status } : {}),
        ...(digdir?.error ? { error: digdir.error } : {}),
        ...(digdir?.description ? { errorDescription: digdir.description } : {}),
      });
      // The registration we last saw still ages: health and the expiry alert keep counting down.
      status.keys = status.keys.map((key) => ({ ...key, ...daysLeft(key.expiresAt, at) }));
      warnOfExpiry(profile, status.keys);
      return { profile: profile.name, clientId: profile.clientId, outcome: "failed", error };
    }
  }

  function warnOfExpiry(profile: TokenProfile, keys: readonly RegisteredKeyStatus[]): void {
    for (const key of keys) {
      if (key.daysLeft === undefined || key.daysLeft > EXPIRY_WARNING_DAYS) continue;
      logger.log(key.daysLeft <= EXPIRY_ERROR_DAYS ? "error" : "warn", "key-registration-expiry", {
        profile: profile.name,
        clientId: profile.clientId,
        kid: key.kid,
        role: key.role,
        expiresAt: key.expiresAt!.toISOString(),
        daysLeft: key.daysLeft,
      });
    }
  }

  async function pass(): Promise<SyncOutcome[]> {
    lastAttemptAt = now();
    // One profile after the other: they share the admin token, and Digdir is not in a hurry.
    const outcomes: SyncOutcome[] = [];
    for (const profile of profiles) outcomes.push(await syncProfile(profile));
    lastPassFailed = outcomes.some((o) => o.outcome === "failed");
    return outcomes;
  }

  const registration: KeyRegistration = {
    sync() {
      running ??= pass().finally(() => {
        running = undefined;
      });
      return running;
    },
    async syncIfDue() {
      if (profiles.length === 0) return undefined;
      if (running) return running;
      const since = lastAttemptAt === undefined ? Infinity : now() - lastAttemptAt;
      if (since < (lastPassFailed ? retryAfterFailureMs : intervalMs)) return undefined;
      return registration.sync();
    },
    async primeIfNeeded() {
      if (lastAttemptAt === undefined && profiles.length > 0) await registration.sync();
    },
    async preview() {
      const outcomes: SyncOutcome[] = [];
      for (const profile of profiles) outcomes.push(await syncProfile(profile, true));
      return outcomes;
    },
    status: (name) => statuses.get(name),
  };
  return registration;
}

function describe(key: RegisteredKey, currentKid: string, baseKid: string, at: number): RegisteredKeyStatus {
  const kid = key.jwk.kid;
  const role: KeyRole = kid === currentKid ? "current" : versionOfKid(baseKid, kid) ? "previous" : "foreign";
  return { kid, role, ...(key.expiresAt ? { expiresAt: key.expiresAt } : {}), ...daysLeft(key.expiresAt, at) };
}

function daysLeft(expiresAt: Date | undefined, at: number): { daysLeft?: number } {
  return expiresAt ? { daysLeft: Math.floor((expiresAt.getTime() - at) / DAY_MS) } : {};
}
