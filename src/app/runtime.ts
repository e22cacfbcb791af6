/**
 * The process-wide runtime the function handlers use: config parsed once, one broker, one caller
 * verifier. Built lazily from app settings; the sandbox installs its own (stand-in TLS trust)
 * through setRuntimeFactory before the first request.
 */
import type { ClientSecretCredentialOptions, TokenCredential } from "@azure/identity";
import type { FetchImplementation } from "jose";
import { createCallerVerifier, type CallerVerifier } from "../auth/index.js";
import { createBroker, type Broker, type BrokerOptions } from "../broker.js";
import { parseBrokerConfig } from "../config/settings.js";
import type { BrokerConfig } from "../config/domain.js";
import type { Settings } from "../config/reader.js";
import { jsonLogger, type Logger } from "../logging.js";
import { deferredMetrics, noMetrics, type Metrics } from "../metrics.js";
import { lazyCredential, type LazyCredential } from "./lazy-credential.js";

export interface Runtime {
  config: BrokerConfig;
  broker: Broker;
  verifier?: CallerVerifier;
  logger: Logger;
  metrics: Metrics;
  now: () => number;
}

export interface RuntimeOptions extends Omit<BrokerOptions, "config" | "credential" | "logger" | "metrics"> {
  settings: Settings;
  credential?: TokenCredential;
  logger?: Logger;
  /** Where measurements go. Default: Application Insights when APPLICATIONINSIGHTS_CONNECTION_STRING is set, else nowhere. */
  metrics?: Metrics;
  /** Test-only options for the credential createAzureCredential builds (the sandbox: its CA, no instance discovery). */
  credentialOptions?: AzureCredentialOptions;
  /** Test-only: how the caller verifier fetches Entra's key set (the sandbox trusts its own CA). */
  callerKeySetFetch?: FetchImplementation;
}

/** What may be injected into the credential: transport and authority options, never an identity. */
export type AzureCredentialOptions = Pick<ClientSecretCredentialOptions, "tlsOptions" | "disableInstanceDiscovery">;

/**
 * Managed identity in Azure (user-assigned when AZURE_CLIENT_ID is set). Elsewhere a service
 * principal when AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET are set (authority
 * AZURE_AUTHORITY_HOST, as @azure/identity's EnvironmentCredential reads them, but from the
 * settings given), else the developer's own identity (az login, VS Code, environment).
 * @azure/identity loads on the first token request.
 */
export function createAzureCredential(settings: Settings, options: AzureCredentialOptions = {}): LazyCredential {
  const inAzure = Boolean(settings.IDENTITY_ENDPOINT || settings.MSI_ENDPOINT || settings.WEBSITE_INSTANCE_ID);
  const tenantId = settings.AZURE_TENANT_ID;
  const clientId = settings.AZURE_CLIENT_ID;
  const clientSecret = settings.AZURE_CLIENT_SECRET;
  const authorityHost = settings.AZURE_AUTHORITY_HOST;
  return lazyCredential(({ ClientSecretCredential, DefaultAzureCredential, ManagedIdentityCredential }) => {
    if (inAzure) return new ManagedIdentityCredential({ ...(clientId ? { clientId } : {}), ...options });
    if (tenantId && clientId && clientSecret) {
      return new ClientSecretCredential(tenantId, clientId, clientSecret, { ...(authorityHost ? { authorityHost } : {}), ...options });
    }
    return new DefaultAzureCredential(options);
  });
}

export function createRuntime(options: RuntimeOptions): Runtime {
  const { settings, credential, logger = jsonLogger(), credentialOptions, callerKeySetFetch, ...brokerOptions } = options;
  const config = parseBrokerConfig(settings);
  const now = brokerOptions.now ?? Date.now;
  const brokerCredential = credential ?? createAzureCredential(settings, credentialOptions);
  const metrics = options.metrics ?? applicationInsightsMetrics(settings, brokerCredential, logger);
  const broker = createBroker({ ...brokerOptions, config, credential: brokerCredential, logger, metrics, now });
  const verifier = config.callers
    ? createCallerVerifier({
        tenantId: config.callers.tenantId,
        audiences: config.callers.audiences,
        authorityHost: config.callers.authorityHost,
        trustAppServicePrincipalHeader: config.callers.trustAppServicePrincipal,
        now,
        ...(callerKeySetFetch ? { keySetFetch: callerKeySetFetch } : {}),
        onCacheLookup: (hit) => metrics.callerTokenCache(hit),
      })
    : undefined;
  if (!verifier)
    logger.log("warn", "caller-auth-not-configured", { message: "CALLER_TENANT_ID is not set: every token request is refused" });
  return { config, broker, ...(verifier ? { verifier } : {}), logger, metrics, now };
}

/**
 * With APPLICATIONINSIGHTS_CONNECTION_STRING (infra/app/api.bicep sets it): the OpenTelemetry
 * exporter, authenticated with the broker's own credential (the managed identity in Azure). It loads
 * in the background (its own chunk), so no request waits for it; measurements taken meanwhile are
 * kept and replayed.
 */
function applicationInsightsMetrics(settings: Settings, credential: TokenCredential, logger: Logger): Metrics {
  const connectionString = settings.APPLICATIONINSIGHTS_CONNECTION_STRING;
  if (!connectionString) return noMetrics;
  return deferredMetrics(
    import("./azure-monitor-metrics.js").then(
      ({ startAzureMonitorMetrics }) => startAzureMonitorMetrics({ connectionString, credential, settings }).metrics,
    ),
    (error) => logger.log("warn", "metrics-unavailable", { message: error instanceof Error ? error.message : String(error) }),
  );
}

let factory: () => Runtime = () => createRuntime({ settings: process.env });
let current: Runtime | undefined;

/** The runtime, built on first use. A config error is thrown on every call until fixed (no caching of failure). */
export function getRuntime(): Runtime {
  current ??= factory();
  return current;
}

/** For the sandbox and tests: replace how the runtime is built (and drop the current one). */
export function setRuntimeFactory(next: () => Runtime): void {
  factory = next;
  current = undefined;
}
