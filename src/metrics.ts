/**
 * The metrics port: what the broker measures, in its own words. The core calls these methods; an
 * adapter at the edge (src/app/otel-metrics.ts, OpenTelemetry) turns them into instruments with the
 * stable names of the README's "Metrics" table. The core never imports OpenTelemetry.
 *
 * Attributes are low-cardinality by construction: a configured profile name, an outcome, a stage, a
 * status class, an enumerated reason. Never a customer, a caller id, a token or anything a caller
 * typed (an unknown profile a caller asks for is not a profile attribute).
 */
export type RenewalMetricOutcome = "fresh" | "adopted" | "renewed" | "failed";
export type StatusClass = "1xx" | "2xx" | "3xx" | "4xx" | "5xx" | "network";
export type HttpRoute = "token" | "health";
export type KeyVaultOperationKind =
  "secret-get" | "secret-set" | "secret-list-versions" | "key-get" | "key-sign" | "certificate-get" | "other";

export interface RenewalMeasurement {
  profile: string;
  outcome: RenewalMetricOutcome;
  trigger: "timer" | "demand" | "recovery";
  /** Failed renewals: which step failed. */
  stage?: "issue" | "altinn-exchange" | "store-write";
  durationMs: number;
}

export interface MaskinportenRequestMeasurement {
  /** Undefined when no answer came (network error, timeout). */
  status?: number;
  /** Maskinporten's OAuth `error`, when it gave one (normalised to a known code or "other"). */
  error?: string;
  durationMs: number;
}

export interface HttpRequestMeasurement {
  route: HttpRoute;
  status: number;
  /** Only a configured profile's name. */
  profile?: string;
  durationMs: number;
}

export interface KeyVaultMeasurement {
  kind: KeyVaultOperationKind;
  /** Undefined when no answer came. */
  status?: number;
  durationMs: number;
}

export interface HeldToken {
  profile: string;
  expiresAt: Date;
}

export interface Metrics {
  renewal(measurement: RenewalMeasurement): void;
  maskinportenRequest(measurement: MaskinportenRequestMeasurement): void;
  httpRequest(measurement: HttpRequestMeasurement): void;
  /** One lookup of a caller token in the verified-token cache. */
  callerTokenCache(hit: boolean): void;
  keyVaultOperation(measurement: KeyVaultMeasurement): void;
  /** The signing certificate's days left, as last read (reported until replaced). */
  certificateDaysLeft(profile: string, days: number): void;
  /**
   * Reserved for self-service key registration (branch `keys`): days until the key registered at
   * Maskinporten for a profile expires. Instrument maskinporten_broker.key.remaining_days.
   */
  registeredKeyDaysLeft(profile: string, days: number): void;
  /** Where the token-lifetime gauge reads the held tokens from at each collection (no I/O). */
  observeHeldTokens(source: () => Iterable<HeldToken>): void;
}

export const noMetrics: Metrics = {
  renewal() {},
  maskinportenRequest() {},
  httpRequest() {},
  callerTokenCache() {},
  keyVaultOperation() {},
  certificateDaysLeft() {},
  registeredKeyDaysLeft() {},
  observeHeldTokens() {},
};

export function statusClassOf(status: number | undefined): StatusClass {
  if (status === undefined || !Number.isInteger(status) || status < 100 || status > 599) return "network";
  return `${Math.floor(status / 100)}xx` as StatusClass;
}

/** The OAuth error codes Maskinporten documents; anything else a server sends is "other" (bounded). */
const OAUTH_ERRORS = new Set([
  "invalid_request",
  "invalid_client",
  "invalid_grant",
  "unauthorized_client",
  "unsupported_grant_type",
  "invalid_scope",
  "access_denied",
  "server_error",
  "temporarily_unavailable",
  "invalid_target",
  "invalid_authorization_details",
]);

export function oauthErrorLabel(error: string | undefined): string | undefined {
  if (error === undefined) return undefined;
  return OAUTH_ERRORS.has(error) ? error : "other";
}

const MAX_PENDING = 10_000;

/**
 * Metrics whose adapter is still loading: calls are kept (up to MAX_PENDING; later ones are dropped)
 * and replayed in order once it is there, so loading OpenTelemetry never delays a request. A
 * failed load leaves the no-op behind and reports once through `onLoadError`.
 */
export function deferredMetrics(load: Promise<Metrics>, onLoadError: (error: unknown) => void = () => {}): Metrics {
  let target: Metrics | undefined;
  let pending: Array<(metrics: Metrics) => void> = [];
  load.then(
    (loaded) => {
      target = loaded;
      for (const call of pending) call(loaded);
      pending = [];
      // From now on each method is the adapter's own: no forwarding (rest arguments) per request.
      for (const name of METRIC_METHODS) (deferred as unknown as Record<string, unknown>)[name] = loaded[name].bind(loaded);
    },
    (error: unknown) => {
      target = noMetrics;
      pending = [];
      onLoadError(error);
    },
  );
  const forward = <K extends keyof Metrics>(name: K) =>
    ((...args: Parameters<Metrics[K]>) => {
      if (target) return (target[name] as (...a: typeof args) => void)(...args);
      if (pending.length < MAX_PENDING) pending.push((metrics) => (metrics[name] as (...a: typeof args) => void)(...args));
    }) as Metrics[K];
  const deferred: Metrics = {
    renewal: forward("renewal"),
    maskinportenRequest: forward("maskinportenRequest"),
    httpRequest: forward("httpRequest"),
    callerTokenCache: forward("callerTokenCache"),
    keyVaultOperation: forward("keyVaultOperation"),
    certificateDaysLeft: forward("certificateDaysLeft"),
    registeredKeyDaysLeft: forward("registeredKeyDaysLeft"),
    observeHeldTokens: forward("observeHeldTokens"),
  };
  return deferred;
}

const METRIC_METHODS = [
  "renewal",
  "maskinportenRequest",
  "httpRequest",
  "callerTokenCache",
  "keyVaultOperation",
  "certificateDaysLeft",
  "registeredKeyDaysLeft",
  "observeHeldTokens",
] as const satisfies readonly (keyof Metrics)[];
