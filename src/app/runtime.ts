/**
 * The process-wide runtime the function handlers use: config parsed once, one broker, one caller
 * verifier. Built lazily from app settings; the sandbox installs its own (stand-in TLS trust)
 * through setRuntimeFactory before the first request.
 */
import type { TokenCredential } from "@azure/identity";
import { createCallerVerifier, type CallerVerifier } from "../auth/index.js";
import { createBroker, type Broker, type BrokerOptions } from "../broker.js";
import { parseBrokerConfig, type BrokerConfig, type Settings } from "../config/settings.js";
import { jsonLogger, type Logger } from "../logging.js";
import { lazyCredential, type LazyCredential } from "./lazy-credential.js";

export interface Runtime {
  config: BrokerConfig;
  broker: Broker;
  verifier?: CallerVerifier;
  logger: Logger;
  now: () => number;
}

export interface RuntimeOptions extends Omit<BrokerOptions, "config" | "credential" | "logger"> {
  settings: Settings;
  credential?: TokenCredential;
  logger?: Logger;
}

/**
 * Managed identity in Azure (user-assigned when AZURE_CLIENT_ID is set), the developer's own
 * identity (az login, VS Code, environment) elsewhere. @azure/identity loads on the first token request.
 */
export function createAzureCredential(settings: Settings): LazyCredential {
  const inAzure = Boolean(settings.IDENTITY_ENDPOINT || settings.MSI_ENDPOINT || settings.WEBSITE_INSTANCE_ID);
  const clientId = settings.AZURE_CLIENT_ID;
  return lazyCredential(({ DefaultAzureCredential, ManagedIdentityCredential }) => {
    if (!inAzure) return new DefaultAzureCredential();
    return clientId ? new ManagedIdentityCredential({ clientId }) : new ManagedIdentityCredential();
  });
}

export function createRuntime(options: RuntimeOptions): Runtime {
  const { settings, credential, logger = jsonLogger(), ...brokerOptions } = options;
  const config = parseBrokerConfig(settings);
  const now = brokerOptions.now ?? Date.now;
  const broker = createBroker({ ...brokerOptions, config, credential: credential ?? createAzureCredential(settings), logger, now });
  const verifier = config.callers
    ? createCallerVerifier({
        tenantId: config.callers.tenantId,
        audiences: config.callers.audiences,
        authorityHost: config.callers.authorityHost,
        trustAppServicePrincipalHeader: config.callers.trustAppServicePrincipal,
        now,
      })
    : undefined;
  if (!verifier) logger.log("warn", "caller-auth-not-configured", { message: "CALLER_TENANT_ID is not set: every token request is refused" });
  return { config, broker, ...(verifier ? { verifier } : {}), logger, now };
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
