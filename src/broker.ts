/**
 * Composition of the broker from validated config and injected edges (credential, Key Vault client
 * options, clock, logger). Function files and the sandbox both build their broker here.
 */
import type { TokenCredential } from "@azure/identity";
import { createAltinnExchange, type AltinnExchangeOptions } from "./altinn/exchange.js";
import { withAltinnExchange, type AltinnStageStatus } from "./altinn/issue.js";
import { BrokerError, ErrorCode } from "./errors.js";
import type { BrokerConfig, TokenProfile } from "./config/settings.js";
import type { KeyVaultClientOptions } from "./keyvault/connection.js";
import { createKeyVaultSigner, type KeyVaultSigner } from "./keyvault/signer.js";
import { createKeyVaultTokenStore } from "./keyvault/token-store.js";
import { silentLogger, type Logger } from "./logging.js";
import { createMaskinportenClient, type MaskinportenClient, type MaskinportenClientOptions } from "./maskinporten/client.js";
import { createTokenIssuer } from "./renewal/issue-token.js";
import { DEFAULT_MIN_SERVE_REMAINING_MS, scheduleTooSlow } from "./renewal/policy.js";
import { ProfileTokens, type ProfileStatus, type RenewalOutcome, type RenewalTrigger } from "./renewal/profile-tokens.js";
import type { StoredToken } from "./token-store/stored-token.js";
import type { TokenStore } from "./token-store/token-store.js";
import { createKeyRegistration, type KeyRegistration, type KeyRegistrationStatus, type SyncOutcome } from "./keys/key-registration.js";
import { createRotationState, type RotationState } from "./keys/rotation.js";
import { createSelfServiceClient, type FetchPort } from "./keys/self-service-client.js";
import { createVaultPublicKeyReader } from "./keyvault/public-key.js";

export interface BrokerOptions {
  config: BrokerConfig;
  credential: TokenCredential;
  keyVaultClientOptions?: KeyVaultClientOptions;
  logger?: Logger;
  now?: () => number;
  maskinporten?: Pick<MaskinportenClientOptions, "timeoutMs" | "retry" | "sleep" | "random" | "metadataMaxAgeMs">;
  /** Altinn exchange tuning; timeout, retry, sleep and random default to the Maskinporten ones. */
  altinn?: Pick<AltinnExchangeOptions, "fetch" | "timeoutMs" | "retry" | "sleep" | "random">;
  minServeRemainingMs?: number;
  /** Warn when the signing certificate expires within this many days. */
  certificateWarningDays?: number;
  /** Key registration through Digdir's self-service API (config.selfService): its edges and gate. */
  selfService?: { fetch?: FetchPort; timeoutMs?: number; intervalMs?: number; retryAfterFailureMs?: number };
}

export interface ProfileHealth extends ProfileStatus {
  /** Profiles with an Altinn exchange: that stage on its own. */
  altinn?: AltinnStageStatus;
  certificateNotAfter?: Date;
  certificateDaysLeft?: number;
  /** Profiles with KEY_REGISTRATION=self-service: what is registered on the client, days left per key. */
  keyRegistration?: KeyRegistrationStatus;
}

export interface Broker {
  readonly config: BrokerConfig;
  /** The named profile, or the default profile when no name is given. */
  profile(name?: string): TokenProfile | undefined;
  /** A token for a caller (see ProfileTokens.serve). */
  serve(profileName: string): Promise<StoredToken>;
  /**
   * Renews every profile that is due; one profile's failure does not stop the others. With the
   * timer's interval, also warns when it is too slow for a profile's token lifetime.
   */
  renewAll(trigger: Exclude<RenewalTrigger, "demand">, schedule?: { intervalMs: number }): Promise<RenewalOutcome[]>;
  health(): Promise<ProfileHealth[]>;
  /**
   * Key registration (timer only, never the request path): syncs when its daily gate is open.
   * Never throws; failures are logged and shown in health. Undefined when nothing is due or configured.
   */
  syncKeysIfDue(): Promise<SyncOutcome[] | undefined>;
  /** The same, now (CLI, tests). */
  syncKeys(): Promise<SyncOutcome[]>;
  /** What syncKeys would do, without writing (CLI `keys list`). */
  previewKeys(): Promise<SyncOutcome[]>;
}

const DAY_MS = 86_400_000;

export function createBroker(options: BrokerOptions): Broker {
  const { config } = options;
  const logger = options.logger ?? silentLogger;
  const now = options.now ?? Date.now;
  const warningDays = options.certificateWarningDays ?? 30;
  const connection = {
    vaultUrl: config.keyVaultUrl,
    credential: options.credential,
    ...(options.keyVaultClientOptions ? { clientOptions: options.keyVaultClientOptions } : {}),
  };

  // A registering profile's key versions rotate with overlap: one rotation state per client and key.
  const selfService = config.selfService;
  const rotations = new Map<string, RotationState>();
  const rotationKey = (profile: TokenProfile) => JSON.stringify([profile.signing, profile.clientId]);
  const rotationOf = (profile: TokenProfile): RotationState => {
    let rotation = rotations.get(rotationKey(profile));
    if (!rotation) {
      rotation = createRotationState({ baseKid: profile.signing.kid!, propagationMs: selfService?.propagationMs ?? 0, now });
      rotations.set(rotationKey(profile), rotation);
    }
    return rotation;
  };
  const registers = (profile: TokenProfile) => selfService !== undefined && profile.keyRegistration === "self-service";

  // Profiles sharing a signing source share one signer (one certificate read, one crypto client).
  const signers = new Map<string, KeyVaultSigner>();
  const signerFor = (profile: TokenProfile): KeyVaultSigner => {
    const key = registers(profile) ? rotationKey(profile) : JSON.stringify(profile.signing);
    let signer = signers.get(key);
    if (!signer) {
      signer = createKeyVaultSigner({
        ...connection,
        source: profile.signing,
        now,
        ...(registers(profile) ? { keyChoice: rotationOf(profile) } : {}),
        onRefreshError: (error) => logger.log("warn", "signing-key-refresh-failed", { code: error.code, message: error.message }),
      });
      signers.set(key, signer);
    }
    return signer;
  };
  // One client per issuer: metadata is discovered once and shared.
  const clients = new Map<string, MaskinportenClient>();
  const clientFor = (profile: TokenProfile): MaskinportenClient => {
    let client = clients.get(profile.issuer);
    if (!client) {
      client = createMaskinportenClient({
        issuer: profile.issuer,
        now,
        ...options.maskinporten,
        onRetry: ({ attempt, delayMs, error }) =>
          logger.log("warn", "maskinporten-retry", {
            issuer: profile.issuer,
            attempt,
            delayMs,
            message: error instanceof Error ? error.message : String(error),
          }),
      });
      clients.set(profile.issuer, client);
    }
    return client;
  };

  const store: TokenStore = createKeyVaultTokenStore(connection);
  const { timeoutMs, retry, sleep, random } = options.maskinporten ?? {};
  const altinnExchange = createAltinnExchange({
    now,
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(retry ? { retry } : {}),
    ...(sleep ? { sleep } : {}),
    ...(random ? { random } : {}),
    ...options.altinn,
    onRetry: ({ attempt, delayMs, error }) =>
      logger.log("warn", "altinn-exchange-retry", { attempt, delayMs, message: error instanceof Error ? error.message : String(error) }),
  });
  const issuing = withAltinnExchange(createTokenIssuer({ signerFor, clientFor, grantOptions: { now } }), altinnExchange, now);
  const issue = issuing.issue;
  const policy = {
    renewWhenRemainingRatio: config.renewal.renewWhenRemainingRatio,
    minServeRemainingMs: options.minServeRemainingMs ?? DEFAULT_MIN_SERVE_REMAINING_MS,
  };
  const keyRegistration: KeyRegistration | undefined = selfService
    ? createKeyRegistration({
        config: selfService,
        profiles: config.profiles,
        client: createSelfServiceClient({
          baseUrl: selfService.apiBaseUrl,
          accessToken: adminTokenSource(selfService),
          ...(options.selfService?.fetch ? { fetch: options.selfService.fetch } : {}),
          ...(options.selfService?.timeoutMs !== undefined ? { timeoutMs: options.selfService.timeoutMs } : {}),
        }),
        publicKeyOf: (() => {
          const read = createVaultPublicKeyReader(connection);
          return (profile: TokenProfile) => read(profile.signing);
        })(),
        rotationOf,
        now,
        logger,
        ...(options.selfService?.intervalMs !== undefined ? { intervalMs: options.selfService.intervalMs } : {}),
        ...(options.selfService?.retryAfterFailureMs !== undefined ? { retryAfterFailureMs: options.selfService.retryAfterFailureMs } : {}),
      })
    : undefined;

  /**
   * The admin client's own token: its own profile, signed with the virksomhetssertifikat (x5c), held
   * in memory only (never stored, never served), reused until shortly before it expires.
   */
  function adminTokenSource(admin: NonNullable<typeof selfService>): () => Promise<string> {
    const adminProfile: TokenProfile = {
      name: "self-service-admin",
      clientId: admin.clientId,
      scopes: admin.scopes,
      issuer: admin.issuer,
      secretName: "",
      role: "",
      signing: admin.signing,
    };
    const issueAdmin = createTokenIssuer({ signerFor, clientFor, grantOptions: { now } });
    let held: StoredToken | undefined;
    return async () => {
      if (!held || held.expiresAt.getTime() - now() < 30_000) held = await issueAdmin(adminProfile);
      return held.accessToken;
    };
  }

  const keepers = new Map(
    config.profiles.map((profile) => [profile.name, new ProfileTokens({ profile, store, issue, policy, logger, now })]),
  );
  // Warnings an alert rule reads: once a day per subject is enough, more is noise.
  const lastWarning = new Map<string, number>();
  const warnDaily = (subject: string, event: string, fields: Record<string, unknown>) => {
    if (now() - (lastWarning.get(`${event}:${subject}`) ?? -Infinity) < DAY_MS) return;
    lastWarning.set(`${event}:${subject}`, now());
    logger.log("warn", event, fields);
  };

  async function certificateHealth(profile: TokenProfile): Promise<Pick<ProfileHealth, "certificateNotAfter" | "certificateDaysLeft">> {
    if (profile.signing.kind !== "certificate") return {};
    try {
      const key = await signerFor(profile).currentKey();
      if (!key.certificateNotAfter) return {};
      return {
        certificateNotAfter: key.certificateNotAfter,
        certificateDaysLeft: Math.floor((key.certificateNotAfter.getTime() - now()) / DAY_MS),
      };
    } catch {
      return {};
    }
  }

  async function warnIfCertificateExpiring(profile: TokenProfile): Promise<void> {
    const { certificateDaysLeft, certificateNotAfter } = await certificateHealth(profile);
    if (certificateDaysLeft === undefined || certificateDaysLeft > warningDays || profile.signing.kind !== "certificate") return;
    const certificate = profile.signing.certificateName;
    warnDaily(certificate, "certificate-expiry", {
      certificate,
      notAfter: certificateNotAfter!.toISOString(),
      daysLeft: certificateDaysLeft,
    });
  }

  function warnIfScheduleTooSlow(keeper: ProfileTokens, intervalMs: number): void {
    const token = keeper.heldToken();
    if (!token || !scheduleTooSlow(token, policy, intervalMs)) return;
    warnDaily(keeper.profile.name, "renewal-schedule-too-slow", {
      profile: keeper.profile.name,
      tokenLifetimeSeconds: Math.round((token.expiresAt.getTime() - token.issuedAt.getTime()) / 1000),
      scheduleIntervalSeconds: Math.round(intervalMs / 1000),
      renewWhenRemainingRatio: policy.renewWhenRemainingRatio,
      message: "RENEW_SCHEDULE fires less often than lifetime × RENEW_BEFORE_EXPIRY_RATIO: the stored token lapses between ticks; shorten the schedule",
    });
  }

  return {
    config,
    profile(name) {
      return config.profiles.find((p) => p.name === (name ?? config.defaultProfile));
    },
    serve(profileName) {
      const keeper = keepers.get(profileName);
      if (!keeper) throw new BrokerError(ErrorCode.UnknownProfile, `Unknown token profile "${profileName}"`);
      return keeper.serve();
    },
    async renewAll(trigger, schedule) {
      // A fresh process learns what is registered before it signs (once; failures only logged).
      if (keyRegistration) await keyRegistration.primeIfNeeded().catch((error: unknown) => logger.log("warn", "key-registration-failed", { message: error instanceof Error ? error.message : String(error) }));
      const outcomes = await Promise.all([...keepers.values()].map((keeper) => keeper.renewIfDue(trigger)));
      await Promise.all(config.profiles.map((profile) => warnIfCertificateExpiring(profile)));
      if (schedule) for (const keeper of keepers.values()) warnIfScheduleTooSlow(keeper, schedule.intervalMs);
      return outcomes;
    },
    async health() {
      return Promise.all(
        [...keepers.values()].map(async (keeper) => {
          const altinn = issuing.status(keeper.profile);
          const registration = keyRegistration?.status(keeper.profile.name);
          return {
            ...keeper.status(),
            ...(altinn ? { altinn } : {}),
            ...(await certificateHealth(keeper.profile)),
            ...(registration ? { keyRegistration: registration } : {}),
          };
        }),
      );
    },
    async syncKeysIfDue() {
      try {
        return await keyRegistration?.syncIfDue();
      } catch (error) {
        // Per-profile failures are outcomes; anything else must not reach the renewal timer either.
        logger.log("warn", "key-registration-failed", { message: error instanceof Error ? error.message : String(error) });
        return undefined;
      }
    },
    async syncKeys() {
      return keyRegistration ? keyRegistration.sync() : [];
    },
    async previewKeys() {
      return keyRegistration ? keyRegistration.preview() : [];
    },
  };
}
