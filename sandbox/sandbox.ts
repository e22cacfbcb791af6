/**
 * The offline sandbox: Key Vault, Maskinporten and Entra ID stand-ins on 127.0.0.1, an enterprise
 * certificate imported non-exportable, and the broker's own function handlers served with Azure's
 * routes and its timer on its schedule. `npm start` runs it; the end-to-end tests start it too.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import functions, { type HttpResponseInit } from "@azure/functions";
import { Cron } from "croner";
import { createRuntime, setRuntimeFactory } from "../src/app/runtime.js";
import { parseBrokerConfig } from "../src/config/settings.js";
import { jsonLogger, type Logger } from "../src/logging.js";
import { createOtelMetrics, type MetricReaderFactory } from "../src/app/otel-metrics.js";
import { PullMetricReader, prometheusText } from "./metrics-endpoint.js";
import { hostHeaders, writeFunctionResponse } from "./functions-host-io.js";
import { startAltinnStandIn, type AltinnStandIn } from "./altinn/standin.js";
import { startCertificateTools, type CertificateTools } from "./certificate-tools.js";
import { createEntraBearerAuthenticator } from "./entra/access-token-check.js";
import { startEntraStandIn, type EntraStandIn } from "./entra/standin.js";
import { KEY_VAULT_RESOURCE, startKeyVaultStandIn, type KeyVaultStandIn } from "./keyvault/index.js";
import { startMaskinportenStandIn, type MaskinportenStandIn } from "./maskinporten/index.js";
import { generateRsaKeyPair, issueEnterpriseCertificate, issueSandboxCa } from "./pki.js";
import { assignKeyVaultRoles, keyVaultObjects, loadRbacRoles, type RbacRoles } from "./rbac-roles.js";
import { CUSTOMER_PROFILES, customerRegistration, customerSettings, type SandboxCustomer } from "./customers.js";
import { startSelfServiceStandIn, type SelfServiceStandIn } from "./selfservice/index.js";

export const SANDBOX_ORGANISATION = "991825827";
const KEY_VAULT_APP_ID = "cfa8b339-82a2-471a-a3c9-0fc0be7a4093";

export interface SandboxOptions {
  /** Broker port; 7071 (as `func start`) unless given; 0 picks a free one. */
  port?: number;
  /** NCRONTAB for the renewal timer. Default every 30 s, so renewals are visible in a short session. */
  renewSchedule?: string;
  /** Lifetime of tokens the Maskinporten stand-in issues. Default 120 s, Maskinporten's own default. */
  tokenLifetimeSeconds?: number;
  /** Lifetime of Altinn tokens the Altinn exchange stand-in issues. Default 1800 s, Altinn's own. */
  altinnTokenLifetimeSeconds?: number;
  /** Where to write env.json (and ca.pem beside it); undefined writes nothing. */
  envFile?: string;
  /** Broker log sink. Default: JSON lines on stdout. */
  logger?: Logger;
  /** Tokens with less than this left are not served (default 15 s); tests with short-lived tokens lower it. */
  minServeRemainingMs?: number;
  /** App settings to add or replace (e.g. RENEW_BEFORE_EXPIRY_RATIO in tests). */
  settingsOverrides?: Record<string, string>;
  /**
   * Another Maskinporten-compatible server for the broker (`SANDBOX_MASKINPORTEN_ISSUER`): its
   * issuer URL, https or loopback http; metadata is discovered from it as in production. The
   * local Maskinporten stand-in still runs, unused by the broker.
   */
  maskinportenIssuer?: string;
  /** Test hook: the role list instead of infra/rbac-roles.json (to show a missing role fails here). */
  rbacRoles?: RbacRoles;
  /** How often the broker looks for a renewed certificate version; hourly (as in Azure) unless given. */
  signingKeyRefreshMs?: number;
  /** More readers of the broker's metrics (tests: an InMemoryMetricExporter's), beside GET /metrics. */
  metricReaders?: MetricReaderFactory[];
  /**
   * Adds profile "kid": a plain Key Vault key named by kid, which the broker registers on its client
   * through the self-service API stand-in (README "Key registration"). Off by default.
   */
  keyRegistration?: boolean;
  /** How long the self-service stand-in takes to reach Maskinporten (default 10 s; Digdir: 0-2 minutes). */
  selfServicePropagationMs?: number;
}

export interface SandboxProfile {
  name: string;
  role: string;
  secretName: string;
  scopes: string[];
  /** Set for a profile that serves Altinn 3 tokens: its exchange URL. */
  altinnExchange?: string;
  /** Per-customer profiles: the customers a caller can ask for (`?customer=`, `&external_ref=`). */
  customers?: SandboxCustomer[];
  /** Customers the profile allows but Maskinporten refuses (no delegation / no system user): 403. */
  refusedCustomers?: string[];
  /** The Maskinporten client id the broker's grants name (`iss`). */
  clientId: string;
}

export interface SandboxEnv {
  brokerUrl: string;
  keyVaultUrl: string;
  /** The sandbox CA: trust it for Key Vault's and Entra's TLS (JS: tlsOptions.ca). */
  caPem: string;
  /** The same CA PEM (kept for clients written against earlier sandboxes). */
  keyVaultCaPem: string;
  maskinportenIssuer: string;
  entraIssuer: string;
  entraAuthorityHost: string;
  entraTokenUrl: string;
  entraMintUrl: string;
  /** The broker's app id (the `aud` callers' tokens carry) and app id URI (for `scope=<uri>/.default`). */
  audience: string;
  audienceUri: string;
  tenantId: string;
  /** The Altinn exchange stand-in: where the broker exchanges, and what a workload verifies Altinn tokens with. */
  altinnExchangeUrl: string;
  altinnIssuer: string;
  altinnJwksUrl: string;
  altinnOpenIdConfigurationUrl: string;
  /** With `keyRegistration`: the self-service API stand-in's base URL. */
  selfServiceUrl?: string;
  profiles: SandboxProfile[];
  /** A client-credentials caller holding every profile's role, and Key Vault Secrets User on each token secret. */
  caller: { clientId: string; clientSecret: string; scope: string };
  /** The app settings the broker runs with (its client secret left out). */
  settings: Record<string, string>;
  /** The sandbox enterprise certificate (PEM), for a Maskinporten server of your own to trust the broker's grants. */
  signingCertificatePem: string;
  /**
   * The root CA that issued it (PEM; the grant's x5c carries the intermediate): for a server that
   * accepts any enterprise certificate chaining to a trusted CA instead of one registered on the
   * client. A client locked to a certificate must send kid (Digdir), which the sandbox's profiles do not.
   */
  signingRootCaPem: string;
  /** CSR onboarding demo: the sandbox CA (POST a CSR, get the issued chain) and Maskinporten's view of recent grants. */
  certificateIssuerUrl: string;
  maskinportenGrantsUrl: string;
  /** Client credentials of an operator identity for `npm run sandbox:certificate` (Certificates Officer in Azure terms). */
  operator: { clientId: string; clientSecret: string };
}

export interface Sandbox {
  env: SandboxEnv;
  keyVault: KeyVaultStandIn;
  maskinporten: MaskinportenStandIn;
  entra: EntraStandIn;
  altinn: AltinnStandIn;
  certificateTools: CertificateTools;
  /** With `keyRegistration`: the self-service API stand-in. */
  selfService?: SelfServiceStandIn;
  /** Runs the timer function once now (as the schedule would). */
  tick(): Promise<void>;
  close(): Promise<void>;
}

const PROFILES = [
  { name: "skatt", clientId: "sandbox-skatt-client", scopes: ["skatteetaten:testnorge"] },
  { name: "sdir", clientId: "sandbox-sdir-client", scopes: ["sdir:fartoy.read"], resource: "https://api.sdir.no" },
  // Served as an Altinn 3 token; the sandbox organisation number is Digdir's, so test=true maps it to TTD.
  { name: "altinn", clientId: "sandbox-altinn-client", scopes: ["altinn:serviceowner/instances.read"], altinnTestOrg: true },
  ...CUSTOMER_PROFILES,
] as const;
/** With `keyRegistration`: signs with kid, its key registered by the broker through the self-service stand-in. */
const KID_PROFILE = { name: "kid", clientId: "sandbox-kid-client", scopes: ["skatteetaten:testnorge"] } as const;
const SELF_SERVICE_ADMIN = "sandbox-selfservice-admin";

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const logger = options.logger ?? jsonLogger();
  const profiles = [...PROFILES, ...(options.keyRegistration ? [KID_PROFILE] : [])];
  const pki = issueEnterpriseCertificate({ organisationNumber: SANDBOX_ORGANISATION, organisation: "Sandbox Rederi AS" });

  // One CA for both HTTPS stand-ins, so clients trust the sandbox with one PEM.
  const ca = issueSandboxCa();
  const entra = await startEntraStandIn({ ca });
  entra.registerResource({ appId: KEY_VAULT_APP_ID, identifierUris: [KEY_VAULT_RESOURCE] });
  const brokerIdentity = { clientId: crypto.randomUUID(), clientSecret: randomSecret() };
  const brokerPrincipal = entra.registerClient(brokerIdentity);
  const caller = { clientId: "sandbox-caller", clientSecret: randomSecret() };
  const callerPrincipal = entra.registerClient({ ...caller, roles: { [entra.audience]: profiles.map((p) => `Token.${p.name}`) } });
  // The deployer in Azure terms (rbac-roles.json `deployer`): Certificates Officer on the signing
  // certificate, for the CSR onboarding demo.
  const operator = { clientId: "sandbox-certificate-operator", clientSecret: randomSecret() };
  const operatorPrincipal = entra.registerClient(operator);

  // Like a real vault with Azure RBAC: only Entra tokens for Key Vault from the sandbox tenant get
  // in, and each principal may do exactly what its role assignments cover.
  const keyVault = await startKeyVaultStandIn({
    tenantId: entra.tenantId,
    ca,
    enforceRbac: true,
    authenticate: createEntraBearerAuthenticator(entra, { audiences: [KEY_VAULT_RESOURCE, KEY_VAULT_APP_ID] }),
  });
  keyVault.importCertificate("virksomhetssertifikat", {
    privateKey: pki.leaf.privateKey,
    certificateDer: pki.leaf.certificateDer,
    exportable: false,
  });

  const maskinporten = await startMaskinportenStandIn({ trustedRoots: [pki.root.certificateDer] });
  for (const profile of profiles) {
    maskinporten.registerClient({
      clientId: profile.clientId,
      organisationNumber: SANDBOX_ORGANISATION,
      scopes: [...profile.scopes],
      tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? 120,
      ...("resource" in profile ? { allowedResources: [profile.resource] } : {}),
      ...customerRegistration(profile),
      // The kid profile's client takes registered keys only, as a client with "Egne public nøkler".
      ...(profile.name === KID_PROFILE.name ? { certificates: [] } : {}),
    });
  }
  let selfService: SelfServiceStandIn | undefined;
  if (options.keyRegistration) {
    keyVault.importKey("sandbox-kid-key", generateRsaKeyPair().privateKey);
    maskinporten.registerClient({
      clientId: SELF_SERVICE_ADMIN,
      organisationNumber: SANDBOX_ORGANISATION,
      scopes: ["idporten:dcr.read", "idporten:dcr.modify"],
    });
    selfService = await startSelfServiceStandIn({ maskinporten, propagationMs: options.selfServicePropagationMs ?? 10_000 });
  }

  const certificateTools = await startCertificateTools({
    issuer: pki.intermediate,
    chainDer: [pki.intermediate.certificateDer],
    organisationNumber: SANDBOX_ORGANISATION,
    grants: () => maskinporten.grants,
  });

  const altinn = await startAltinnStandIn({
    maskinportenIssuer: maskinporten.issuer,
    ...(options.altinnTokenLifetimeSeconds !== undefined ? { tokenLifetimeSeconds: options.altinnTokenLifetimeSeconds } : {}),
  });

  const settings: Record<string, string> = {
    KEY_VAULT_URL: keyVault.url,
    MASKINPORTEN_ENVIRONMENT: options.maskinportenIssuer ?? maskinporten.issuer,
    TOKEN_PROFILES: profiles.map((p) => p.name).join(","),
    SIGNING_CERTIFICATE_NAME: "virksomhetssertifikat",
    SIGNING_CHAIN: pki.intermediate.certificateDer.toString("base64"),
    RENEW_SCHEDULE: options.renewSchedule ?? "*/30 * * * * *",
    CALLER_TENANT_ID: entra.tenantId,
    CALLER_AUDIENCES: [entra.audience, ...entra.audienceUris].join(","),
    CALLER_AUTHORITY_HOST: entra.authorityHost,
    // The broker's identity: a service principal, through the production credential code path.
    AZURE_TENANT_ID: entra.tenantId,
    AZURE_CLIENT_ID: brokerIdentity.clientId,
    AZURE_CLIENT_SECRET: brokerIdentity.clientSecret,
    AZURE_AUTHORITY_HOST: entra.authorityHost,
    ...options.settingsOverrides,
  };
  if (selfService) {
    Object.assign(settings, {
      PROFILE_KID_SIGNING_KEY_NAME: "sandbox-kid-key",
      PROFILE_KID_SIGNING_KID: "sandbox-kid",
      PROFILE_KID_KEY_REGISTRATION: "self-service",
      SELF_SERVICE_CLIENT_ID: SELF_SERVICE_ADMIN,
      SELF_SERVICE_API_URL: selfService.baseUrl,
      KEY_REGISTRATION_PROPAGATION_MINUTES: "1",
    });
  }
  for (const profile of profiles) {
    const prefix = `PROFILE_${profile.name.toUpperCase()}_`;
    settings[`${prefix}CLIENT_ID`] = profile.clientId;
    settings[`${prefix}SCOPES`] = profile.scopes.join(" ");
    if ("resource" in profile) settings[`${prefix}RESOURCE`] = profile.resource;
    if ("altinnTestOrg" in profile) {
      settings[`${prefix}ALTINN_EXCHANGE`] = altinn.baseUrl;
      settings[`${prefix}ALTINN_TEST_ORG`] = String(profile.altinnTestOrg);
    }
    for (const [name, value] of Object.entries(customerSettings(profile, prefix)))
      settings[name] = options.settingsOverrides?.[name] ?? value;
  }
  Object.assign(settings, options.settingsOverrides);

  // Exactly the Key Vault roles infra/ grants (infra/rbac-roles.json), on the objects this configuration names.
  const rbacRoles = options.rbacRoles ?? loadRbacRoles();
  const objects = keyVaultObjects(parseBrokerConfig(settings));
  assignKeyVaultRoles(keyVault, rbacRoles, "broker", brokerPrincipal.objectId, objects);
  assignKeyVaultRoles(keyVault, rbacRoles, "tokenReader", callerPrincipal.objectId, objects);
  assignKeyVaultRoles(keyVault, rbacRoles, "deployer", operatorPrincipal.objectId, objects);

  // The broker's metrics, as production records them; GET /metrics shows them (Prometheus text).
  const telemetry = createOtelMetrics({
    readers: [(producers) => new PullMetricReader(producers), ...(options.metricReaders ?? [])],
  });
  const pullReader = telemetry.readers[0]!;
  setRuntimeFactory(() =>
    createRuntime({
      settings,
      logger,
      metrics: telemetry.metrics,
      ...(options.minServeRemainingMs !== undefined ? { minServeRemainingMs: options.minServeRemainingMs } : {}),
      ...(options.signingKeyRefreshMs !== undefined ? { signingKeyRefreshMs: options.signingKeyRefreshMs } : {}),
      // The test-only options, nothing else: trust of the sandbox CA, no instance discovery for
      // an authority Microsoft does not know, a challenge resource that is not *.vault.azure.net.
      credentialOptions: { tlsOptions: { ca: ca.certificatePem }, disableInstanceDiscovery: true },
      callerKeySetFetch: entra.fetch,
      keyVaultClientOptions: { disableChallengeResourceVerification: true, tlsOptions: { ca: ca.certificatePem } },
    }),
  );
  const handlers = await importFunctionHandlers();

  const server = createServer((request, response) => {
    if (request.method === "GET" && request.url === "/metrics") {
      void pullReader.collect().then(
        (collection) =>
          response.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }).end(prometheusText(collection)),
        () => response.writeHead(500).end(),
      );
      return;
    }
    void route(request, response, handlers).catch((error: unknown) => {
      logger.log("error", "sandbox-request-failed", { message: error instanceof Error ? error.message : String(error) });
      if (!response.headersSent) response.writeHead(500).end();
    });
  });
  await listen(server, options.port ?? 7071);
  const brokerUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  let invocation = 0;
  const schedule = new Cron(settings.RENEW_SCHEDULE!, { timezone: "UTC", paused: true });
  const tick = async () => {
    const context = new functions.InvocationContext({ invocationId: `sandbox-${++invocation}`, functionName: "renew" });
    // As the host reports it: the previous and the next occurrence of the schedule.
    const [next, after] = schedule.nextRuns(2);
    const last = new Date(2 * next!.getTime() - after!.getTime()).toISOString();
    const scheduleStatus = { last, next: next!.toISOString(), lastUpdated: new Date().toISOString() };
    await handlers.renewHandler({ isPastDue: false, schedule: { adjustForDST: false }, scheduleStatus }, context);
  };
  // The timer renews once at start so the first request finds a token, then on its schedule (UTC).
  await tick();
  const timer = new Cron(settings.RENEW_SCHEDULE!, { timezone: "UTC", protect: true }, () => {
    void tick().catch((error: unknown) => logger.log("error", "sandbox-timer-failed", { message: String(error) }));
  });

  const env: SandboxEnv = {
    brokerUrl,
    keyVaultUrl: keyVault.url,
    caPem: ca.certificatePem,
    keyVaultCaPem: ca.certificatePem,
    maskinportenIssuer: settings.MASKINPORTEN_ENVIRONMENT!,
    entraIssuer: entra.issuer,
    entraAuthorityHost: entra.authorityHost,
    entraTokenUrl: entra.tokenUrl,
    entraMintUrl: entra.mintUrl,
    audience: entra.audience,
    audienceUri: entra.audienceUris[0] ?? `api://${entra.audience}`,
    tenantId: entra.tenantId,
    altinnExchangeUrl: altinn.exchangeUrl,
    altinnIssuer: altinn.issuer,
    altinnJwksUrl: altinn.jwksUrl,
    altinnOpenIdConfigurationUrl: altinn.openIdConfigurationUrl,
    ...(selfService ? { selfServiceUrl: selfService.baseUrl } : {}),
    profiles: profiles.map((p) => ({
      name: p.name,
      role: `Token.${p.name}`,
      secretName: `maskinporten-${p.name}`,
      scopes: [...p.scopes],
      ...("altinnTestOrg" in p ? { altinnExchange: `${altinn.exchangeUrl}${p.altinnTestOrg ? "?test=true" : ""}` } : {}),
      ...("customers" in p
        ? {
            customers: p.customers.filter((c) => c.granted).map(({ granted: _, ...c }) => c),
            refusedCustomers: p.customers.filter((c) => !c.granted).map((c) => c.customer),
          }
        : {}),
      clientId: p.clientId,
    })),
    caller: { ...caller, scope: `${entra.audienceUris[0] ?? entra.audience}/.default` },
    settings: Object.fromEntries(Object.entries(settings).filter(([name]) => name !== "AZURE_CLIENT_SECRET")),
    signingCertificatePem: pki.leaf.certificatePem,
    signingRootCaPem: pki.root.certificatePem,
    certificateIssuerUrl: certificateTools.issueUrl,
    maskinportenGrantsUrl: certificateTools.grantsUrl,
    operator,
  };
  if (options.envFile) {
    await mkdir(dirname(options.envFile), { recursive: true });
    await writeFile(options.envFile, JSON.stringify(env, null, 2) + "\n", { mode: 0o600 });
    // The CA alone too, for tools that take a file (curl --cacert, REQUESTS_CA_BUNDLE, SSL_CERT_FILE).
    await writeFile(join(dirname(options.envFile), "ca.pem"), env.caPem);
  }

  return {
    env,
    keyVault,
    maskinporten,
    entra,
    altinn,
    certificateTools,
    ...(selfService ? { selfService } : {}),
    tick,
    async close() {
      timer.stop();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await telemetry.provider.shutdown();
      await Promise.all([
        keyVault.close(),
        maskinporten.close(),
        entra.close(),
        altinn.close(),
        certificateTools.close(),
        selfService?.close(),
      ]);
    },
  };
}

type Handlers = Awaited<ReturnType<typeof importFunctionHandlers>>;

/**
 * The very handlers Azure runs. Outside the Functions host their `app.*` registrations only warn
 * that the package is in "test mode"; those two expected lines are kept off the console.
 */
async function importFunctionHandlers() {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (!String(args[0]).includes('"@azure/functions" package')) warn(...args);
  };
  try {
    const [{ tokenHandler }, { healthHandler }, { renewHandler }] = await Promise.all([
      import("../functions/token.js"),
      import("../functions/health.js"),
      import("../functions/renew.js"),
    ]);
    return { tokenHandler, healthHandler, renewHandler };
  } finally {
    console.warn = warn;
  }
}

async function route(request: IncomingMessage, response: ServerResponse, handlers: Handlers): Promise<void> {
  const url = new URL(request.url ?? "/", "http://127.0.0.1");
  const headers = hostHeaders(request);
  const tokenRoute = /^\/api\/token(?:\/([^/]+))?\/?$/.exec(url.pathname);
  let result: HttpResponseInit;
  if (request.method === "GET" && tokenRoute) {
    const params: Record<string, string> = tokenRoute[1] ? { profile: decodeURIComponent(tokenRoute[1]) } : {};
    result = await handlers.tokenHandler(new functions.HttpRequest({ method: "GET", url: url.href, headers, params }));
  } else if (request.method === "GET" && url.pathname === "/api/health") {
    result = await handlers.healthHandler(new functions.HttpRequest({ method: "GET", url: url.href, headers }));
  } else {
    result = { status: 404, jsonBody: { error: "not_found", error_description: "No such route." } };
  }
  writeFunctionResponse(response, result);
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
}

function randomSecret(): string {
  return crypto.randomUUID().replace(/-/g, "");
}
