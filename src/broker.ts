/**
 * Composition of the broker from validated config and injected edges (credential, Key Vault client
 * options, clock, logger). Function files and the sandbox both build their broker here. Wiring
 * only: the rules live in renewal/, customers/, keys/ and monitoring/ (expiry and schedule warnings).
 */
import type { TokenCredential } from "@azure/identity";
import { createAltinnExchange, type AltinnExchangeOptions } from "./altinn/exchange.js";
import { withAltinnExchange } from "./altinn/issue.js";
import { BrokerError, ErrorCode } from "./errors.js";
import type { BrokerConfig, TokenProfile } from "./config/domain.js";
import type { KeyVaultClientOptions } from "./keyvault/connection.js";
import { createKeyVaultSigner, type KeyVaultSigner } from "./keyvault/signer.js";
import { createKeyVaultTokenStore } from "./keyvault/token-store.js";
import { createCustomerTokenPublisher } from "./keyvault/customer-token-store.js";
import { createCustomerCaches, renewCustomerTokens, type CustomerTokens } from "./customers/index.js";
import { silentLogger, type Logger } from "./logging.js";
import { keyVaultMetricsPolicy } from "./keyvault/operation-metrics.js";
import { noMetrics, oauthErrorLabel, type Metrics } from "./metrics.js";
import { createMaskinportenClient, type MaskinportenClient, type MaskinportenClientOptions } from "./maskinporten/client.js";
import { createTokenIssuer } from "./renewal/issue-token.js";
import { DEFAULT_MIN_SERVE_REMAINING_MS } from "./renewal/policy.js";
import { createMonitoring } from "./monitoring/monitoring.js";
import { ProfileTokens, type RecoveryScheduler, type RenewalOutcome, type RenewalTrigger } from "./renewal/profile-tokens.js";
import type { StoredToken } from "./token-store/stored-token.js";
import type { TokenStore } from "./token-store/token-store.js";
import type { BrokerPort, ProfileHealth } from "./http/broker-port.js";
import { createKeyRegistration, type KeyRegistration, type SyncOutcome } from "./keys/key-registration.js";
import { createRotationState, type RotationState } from "./keys/rotation.js";
import { createSelfServiceClient, type FetchPort } from "./keys/self-service-client.js";
import { createVaultPublicKeyReader } from "./keyvault/public-key.js";

export interface BrokerOptions {
  config: BrokerConfig;
  credential: TokenCredential;
  keyVaultClientOptions?: KeyVaultClientOptions;
  logger?: Logger;
  /** Where measurements go (README "Metrics"); no-op unless given. */
  metrics?: Metrics;
  now?: () => number;
  maskinporten?: Pick<MaskinportenClientOptions, "timeoutMs" | "retry" | "sleep" | "random" | "metadataMaxAgeMs">;
  /** Altinn exchange tuning; timeout, retry, sleep and random default to the Maskinporten ones. */
  altinn?: Pick<AltinnExchangeOptions, "fetch" | "timeoutMs" | "retry" | "sleep" | "random">;
  minServeRemainingMs?: number;
  /** Warn when the signing certificate expires within this many days. */
  certificateWarningDays?: number;
  /** Waiting for customer-token rate budget (tests inject a fake clock's sleep). */
  sleep?: (ms: number) => Promise<void>;
  /** Timers of the background recovery (default: real, unref'd); the soak gives its fake clock's. */
  scheduler?: RecoveryScheduler;
  /** How often the signer looks for a renewed certificate version; hourly unless given (the sandbox shortens it). */
  signingKeyRefreshMs?: number;
  /** Key registration through Digdir's self-service API (config.selfService): its edges and gate. */
  selfService?: { fetch?: FetchPort; timeoutMs?: number; intervalMs?: number; retryAfterFailureMs?: number };
}

export type { ProfileHealth };

/** The broker: the HTTP port (src/http/broker-port.ts) plus what the timer, stats and tests use. */
export interface Broker extends BrokerPort {
  readonly config: BrokerConfig;
  /** The customer-token cache of a profile, for stats and tests. */
  customerTokens(profileName: string): CustomerTokens | undefined;
  /**
   * Renews every profile that is due; one profile's failure does not stop the others. With the
   * timer's interval, also warns when it is too slow for a profile's token lifetime.
   */
  renewAll(trigger: Exclude<RenewalTrigger, "demand" | "recovery">, schedule?: { intervalMs: number }): Promise<RenewalOutcome[]>;
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

export function createBroker(options: BrokerOptions): Broker {
  const { config } = options;
  const logger = options.logger ?? silentLogger;
  const now = options.now ?? Date.now;
  const metrics = options.metrics ?? noMetrics;
  const connection = {
    vaultUrl: config.keyVaultUrl,
    credential: options.credential,
    clientOptions: {
      ...options.keyVaultClientOptions,
      additionalPolicies: [...(options.keyVaultClientOptions?.additionalPolicies ?? []), keyVaultMetricsPolicy(metrics)],
    },
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
        ...(options.signingKeyRefreshMs !== undefined ? { refreshAfterMs: options.signingKeyRefreshMs } : {}),
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
        onTokenRequest: ({ status, error, durationMs }) => {
          const label = oauthErrorLabel(error);
          metrics.maskinportenRequest({ ...(status !== undefined ? { status } : {}), ...(label ? { error: label } : {}), durationMs });
        },
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

  const profileTokens = new Map(
    config.profiles.map((profile) => [
      profile.name,
      new ProfileTokens({
        profile,
        store,
        issue,
        policy,
        logger,
        now,
        metrics,
        ...(options.scheduler ? { scheduler: options.scheduler } : {}),
      }),
    ]),
  );
  const customerCaches = createCustomerCaches({
    config,
    issue,
    policy,
    logger,
    now,
    ...(options.sleep ? { sleep: options.sleep } : {}),
    publish: createCustomerTokenPublisher(connection),
  });
  metrics.observeHeldTokens(function* () {
    for (const tokens of profileTokens.values()) {
      const token = tokens.heldToken();
      if (token) yield { profile: tokens.profile.name, expiresAt: token.expiresAt };
    }
  });
  const monitoring = createMonitoring({
    profiles: config.profiles,
    signerFor,
    registrationOf: (profileName) => keyRegistration?.status(profileName),
    policy,
    certificateWarningDays: options.certificateWarningDays ?? 30,
    logger,
    metrics,
    now,
  });

  // Looked up twice per served request (the handler, the HTTP metric): a Map, not a scan.
  const profilesByName = new Map(config.profiles.map((profile) => [profile.name, profile]));
  return {
    config,
    profile(name) {
      return profilesByName.get(name ?? config.defaultProfile);
    },
    serve(profileName) {
      const tokens = profileTokens.get(profileName);
      if (!tokens) throw new BrokerError(ErrorCode.UnknownProfile, `Unknown token profile "${profileName}"`);
      return tokens.serve();
    },
    servableFromMemory(profileName) {
      return profileTokens.get(profileName)?.servableFromMemory();
    },
    serveCustomer(profileName, request) {
      const cache = customerCaches.get(profileName);
      if (!cache) throw new BrokerError(ErrorCode.UnknownProfile, `Profile "${profileName}" serves no customer tokens`);
      return cache.serve(request);
    },
    customerServableFromMemory(profileName, request) {
      return customerCaches.get(profileName)?.servableFromMemory(request);
    },
    customerTokens(profileName) {
      return customerCaches.get(profileName);
    },
    async renewAll(trigger, schedule) {
      // A fresh process learns what is registered before it signs (once; failures only logged).
      if (keyRegistration)
        await keyRegistration
          .primeIfNeeded()
          .catch((error: unknown) =>
            logger.log("warn", "key-registration-failed", { message: error instanceof Error ? error.message : String(error) }),
          );
      const [outcomes] = await Promise.all([
        Promise.all([...profileTokens.values()].map((tokens) => tokens.renewIfDue(trigger))),
        renewCustomerTokens(customerCaches, logger),
      ]);
      await Promise.all(config.profiles.map((profile) => monitoring.warnIfCertificateExpiring(profile)));
      if (schedule)
        for (const tokens of profileTokens.values())
          monitoring.warnIfScheduleTooSlow(tokens.profile.name, tokens.heldToken(), schedule.intervalMs);
      return outcomes;
    },
    async health() {
      // Memory only: health is anonymous, so it must cost no Key Vault request, ever.
      return [...profileTokens.values()].map((tokens) => {
        const altinn = issuing.status(tokens.profile);
        const registration = keyRegistration?.status(tokens.profile.name);
        return {
          ...tokens.status(),
          ...(altinn ? { altinn } : {}),
          ...monitoring.certificateHealth(tokens.profile),
          ...(registration ? { keyRegistration: registration } : {}),
        };
      });
    },
    async syncKeysIfDue() {
      try {
        const outcomes = await keyRegistration?.syncIfDue();
        if (outcomes) monitoring.recordKeyDaysLeft();
        return outcomes;
      } catch (error) {
        // Per-profile failures are outcomes; anything else must not reach the renewal timer either.
        logger.log("warn", "key-registration-failed", { message: error instanceof Error ? error.message : String(error) });
        return undefined;
      }
    },
    async syncKeys() {
      if (!keyRegistration) return [];
      const outcomes = await keyRegistration.sync();
      monitoring.recordKeyDaysLeft();
      return outcomes;
    },
    async previewKeys() {
      return keyRegistration ? keyRegistration.preview() : [];
    },
  };
}
