/**
 * A Microsoft Entra ID stand-in for one tenant, speaking login.microsoftonline.com's HTTP protocol
 * on 127.0.0.1 over HTTPS (a certificate from the sandbox CA, `caPem`), as MSAL-based credentials
 * in every language insist on:
 *
 *   GET  /{tenant}/v2.0/.well-known/openid-configuration   OIDC metadata (issuer = {authorityHost}/{tenant}/v2.0)
 *   GET  /{tenant}/discovery/v2.0/keys                     JWKS (also /{tenant}/discovery/keys)
 *   POST /{tenant}/oauth2/v2.0/token                       client credentials → v2.0 app-only access token
 *   POST /mint                                             sandbox only: sign any claims (see mintToken)
 *   GET  /msi/token                                        App Service managed identity endpoint (managed-identity.ts),
 *                                                          on a second, plain-HTTP port as App Service serves it
 *
 * The issuer is the stand-in's own base, so the broker is configured with an "authority host"
 * (`authorityHost`) exactly as for a sovereign cloud; nothing else differs from real Entra.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { standInTls, type IssuedCertificate } from "../pki.js";
import { fetchTrusting, type FetchLike } from "../trusted-fetch.js";
import { EntraDirectory, type ClientRegistration, type RegisteredClient, type ResourceRegistration } from "./directory.js";
import { EntraProtocolError, missingParameter } from "./entra-errors.js";
import {
  AppServiceManagedIdentities,
  ManagedIdentityError,
  managedIdentityTokenClaims,
  type EnabledManagedIdentity,
  type ManagedIdentityOptions,
} from "./managed-identity.js";
import { EntraKeyRing } from "./signing-keys.js";

export const DEFAULT_TENANT_ID = "5b1a8e3c-7d24-4f6a-9c0e-2f8d6b4a1e70";
/** The broker's app registration (application id) in the stand-in tenant. */
export const DEFAULT_AUDIENCE = "0f6c2d84-3b1e-4a5f-8d97-6e2c1a9b4f30";
/** The app id minted tokens name in `azp` unless told otherwise. */
export const DEFAULT_CALLER_APP_ID = "8e4d1c7a-2b5f-4c3e-9a60-7d1f3e8b2c54";

const TOKEN_LIFETIME_SECONDS = 3600;
const MAX_BODY_BYTES = 64 * 1024;
/** The mint body member that overrides JOSE header parameters instead of being a claim. */
export const MINT_HEADER_MEMBER = "_header";
/** Where the App Service managed identity endpoint lives (App Service itself uses `/msi/token` too). */
const MANAGED_IDENTITY_PATH = "/msi/token";

export interface EntraStandInOptions {
  /** Default 0: a free port, so test files can run in parallel. */
  port?: number;
  tenantId?: string;
  /** The broker's app id: registered as a resource and the default `aud` of minted tokens. */
  audience?: string;
  /** The broker's Application ID URIs; default `api://{audience}`. */
  audienceUris?: string[];
  /** `azp` of minted tokens when the claims do not name one. */
  defaultCallerAppId?: string;
  /** Clock for iat/nbf/exp (epoch ms). Default Date.now. */
  now?: () => number;
  /** The CA that issues the TLS certificate (the sandbox shares one with Key Vault); default a CA of its own. */
  ca?: IssuedCertificate;
}

export interface EntraStandIn {
  /** `https://127.0.0.1:PORT`: what the broker and SDK credentials take as authority host. */
  readonly authorityHost: string;
  /** PEM of the CA that issued the TLS certificate: what clients trust (`tlsOptions.ca`). */
  readonly caPem: string;
  /** `fetch` that trusts `caPem`, for tests and the broker's key set in the sandbox. */
  readonly fetch: FetchLike;
  readonly tenantId: string;
  /** `{authorityHost}/{tenantId}/v2.0` */
  readonly issuer: string;
  /**
   * Issuer of v1.0 tokens (managed identity tokens): `{authorityHost}/{tenantId}/`, standing in
   * for `https://sts.windows.net/{tenantId}/` as the broker's entraV1Issuer() expects.
   */
  readonly v1Issuer: string;
  readonly metadataUrl: string;
  readonly jwksUri: string;
  readonly tokenUrl: string;
  readonly mintUrl: string;
  /** `http://127.0.0.1:OTHER_PORT/msi/token`: the IDENTITY_ENDPOINT of enabled managed identities (plain HTTP, as in App Service). */
  readonly managedIdentityEndpoint: string;
  readonly audience: string;
  readonly audienceUris: readonly string[];
  readonly defaultCallerAppId: string;
  /** kid of the key that signs new tokens. */
  readonly currentKid: string;

  registerClient(registration: ClientRegistration): RegisteredClient;
  registerResource(resource: ResourceRegistration): void;
  /** In-process equivalent of `POST /mint` (same defaults, same `_header` member). */
  mintToken(body: Record<string, unknown>): string;
  /**
   * Gives the sandbox app a managed identity (system-assigned unless `userAssigned`) and returns
   * it with the app's IDENTITY_ENDPOINT / IDENTITY_HEADER, the same for all of its identities.
   */
  enableManagedIdentity(options?: ManagedIdentityOptions): EnabledManagedIdentity;
  /** New signing key for new tokens; the old one stays published until retireOldKeys(). Returns the new kid. */
  rotateKeys(): string;
  retireOldKeys(): void;

  readonly jwksRequests: number;
  readonly metadataRequests: number;
  /** Tokens issued by the token endpoint (minted tokens are counted in tokensMinted). */
  readonly tokensIssued: number;
  readonly tokensMinted: number;
  /** Tokens the managed identity endpoint issued, and requests it refused (any 4xx). */
  readonly managedIdentityTokensIssued: number;
  readonly managedIdentityRequestsRefused: number;
  /** Managed identity tokens issued to one identity. */
  managedIdentityTokensIssuedFor(clientId: string): number;

  /** Stops listening and drops keep-alive connections, so it resolves promptly. */
  close(): Promise<void>;
}

export async function startEntraStandIn(options: EntraStandInOptions = {}): Promise<EntraStandIn> {
  const settings = resolveSettings(options);
  const directory = new EntraDirectory(settings.tenantId);
  directory.registerResource({ appId: settings.audience, identifierUris: settings.audienceUris });
  const counters = newCounters();

  // The issuer depends on the port, known only after listen(); the key ring needs it for the JWKS.
  let context: StandInContext | undefined;
  const current = () => context;

  const tls = standInTls(options.ca, "login.sandbox.localhost");
  const server = createHttpsServer({ key: tls.key, cert: tls.cert }, entraRequestHandler(current, settings.now));
  // App Service's identity endpoint is plain HTTP on the instance; it gets its own listener here.
  const managedIdentityServer = createHttpServer(managedIdentityRequestHandler(current));
  const port = await listen(server, options.port ?? 0);
  const managedIdentityPort = await listen(managedIdentityServer, 0);

  const urls = endpointUrls(`https://127.0.0.1:${port}`, settings.tenantId, `http://127.0.0.1:${managedIdentityPort}`);
  context = {
    ...settings,
    directory,
    counters,
    urls,
    keyRing: new EntraKeyRing(urls.issuer),
    managedIdentities: new AppServiceManagedIdentities(directory, urls.managedIdentityEndpoint),
  };
  return standInApi(context, tls.caPem, async () => {
    await Promise.all([close(server), close(managedIdentityServer)]);
  });
}

/** The options with their defaults applied. */
interface StandInSettings {
  readonly tenantId: string;
  readonly audience: string;
  readonly audienceUris: string[];
  readonly defaultCallerAppId: string;
  readonly now: () => number;
}

/** What the stand-in counts, for the getters of EntraStandIn. */
interface StandInCounters {
  jwksRequests: number;
  metadataRequests: number;
  tokensIssued: number;
  tokensMinted: number;
  managedIdentityTokensIssued: number;
  managedIdentityRequestsRefused: number;
  readonly managedIdentityTokensByClient: Map<string, number>;
}

type EndpointUrls = ReturnType<typeof endpointUrls>;

/** The state every handler works on, complete once both servers listen. */
interface StandInContext extends StandInSettings {
  readonly directory: EntraDirectory;
  readonly counters: StandInCounters;
  readonly urls: EndpointUrls;
  readonly keyRing: EntraKeyRing;
  readonly managedIdentities: AppServiceManagedIdentities;
}

function resolveSettings(options: EntraStandInOptions): StandInSettings {
  const audience = options.audience ?? DEFAULT_AUDIENCE;
  return {
    tenantId: (options.tenantId ?? DEFAULT_TENANT_ID).toLowerCase(),
    audience,
    audienceUris: options.audienceUris ?? [`api://${audience}`],
    defaultCallerAppId: options.defaultCallerAppId ?? DEFAULT_CALLER_APP_ID,
    now: options.now ?? Date.now,
  };
}

function newCounters(): StandInCounters {
  return {
    jwksRequests: 0,
    metadataRequests: 0,
    tokensIssued: 0,
    tokensMinted: 0,
    managedIdentityTokensIssued: 0,
    managedIdentityRequestsRefused: 0,
    managedIdentityTokensByClient: new Map<string, number>(),
  };
}

/** The EntraStandIn the tests and the sandbox hold: the URLs, the directory's operations and the counters. */
function standInApi(context: StandInContext, caPem: string, closeServers: () => Promise<void>): EntraStandIn {
  const { urls, directory, keyRing, managedIdentities, counters } = context;
  return {
    ...urls,
    caPem,
    fetch: fetchTrusting(caPem),
    tenantId: context.tenantId,
    audience: context.audience,
    audienceUris: [...context.audienceUris],
    defaultCallerAppId: context.defaultCallerAppId,
    get currentKid() {
      return keyRing.currentKid;
    },
    registerClient: (registration) => directory.registerClient(registration),
    registerResource: (resource) => directory.registerResource(resource),
    mintToken: (body) => mintToken(context, body),
    enableManagedIdentity: (identityOptions) => managedIdentities.enable(identityOptions),
    rotateKeys: () => keyRing.rotate(),
    retireOldKeys: () => keyRing.retireOldKeys(),
    get jwksRequests() {
      return counters.jwksRequests;
    },
    get metadataRequests() {
      return counters.metadataRequests;
    },
    get tokensIssued() {
      return counters.tokensIssued;
    },
    get tokensMinted() {
      return counters.tokensMinted;
    },
    get managedIdentityTokensIssued() {
      return counters.managedIdentityTokensIssued;
    },
    get managedIdentityRequestsRefused() {
      return counters.managedIdentityRequestsRefused;
    },
    managedIdentityTokensIssuedFor: (clientId) => counters.managedIdentityTokensByClient.get(clientId.toLowerCase()) ?? 0,
    close: closeServers,
  };
}

/** The HTTPS listener's request handler: routes, and answers any failure in Entra's error shape. */
function entraRequestHandler(
  current: () => StandInContext | undefined,
  now: () => number,
): (request: IncomingMessage, response: ServerResponse) => void {
  return (request, response) => {
    const routed = (async () => routeEntraRequest(listening(current()), request, response))();
    routed.catch((error: unknown) => {
      const protocolError = asEntraProtocolError(error);
      if (!response.headersSent) {
        sendJson(response, protocolError.status, protocolError.body(current()?.urls.authorityHost ?? "", now()));
      } else {
        response.destroy();
      }
    });
  };
}

function listening(context: StandInContext | undefined): StandInContext {
  if (context === undefined) throw new Error("Entra stand-in is not listening yet");
  return context;
}

function asEntraProtocolError(error: unknown): EntraProtocolError {
  if (error instanceof EntraProtocolError) return error;
  if (error instanceof BodyTooLargeError) return new EntraProtocolError(413, "invalid_request", 900144, "The request body is too large.");
  return new EntraProtocolError(500, "server_error", 90000, "The stand-in failed to handle the request.");
}

/** The routes of the HTTPS listener: /mint and the tenant's metadata, keys and token endpoint. */
async function routeEntraRequest(context: StandInContext, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const path = new URL(request.url ?? "/", context.urls.authorityHost).pathname;
  const method = request.method ?? "GET";

  if (path === "/mint") return serveMint(context, request, response);

  const route = parseTenantRoute(path);
  if (route === undefined) return sendNotFound(response);
  assertOwnTenant(context, route.tenant);

  if (route.endpoint === "oauth2/v2.0/token") return serveTokenEndpoint(context, request, response);
  if (method !== "GET") return sendJson(response, 405, { error: "invalid_request", error_description: "GET only" });
  if (route.endpoint === "v2.0/.well-known/openid-configuration") return serveOpenIdConfiguration(context, response);
  return serveJwks(context, response);
}

const TENANT_ENDPOINTS = ["v2.0/.well-known/openid-configuration", "discovery/v2.0/keys", "discovery/keys", "oauth2/v2.0/token"];

/** `/{tenant}/{endpoint}` for the endpoints served, the tenant segment decoded; undefined for anything else. */
function parseTenantRoute(path: string): { tenant: string; endpoint: string } | undefined {
  const match = /^\/([^/]+)\/(.+)$/.exec(path);
  const tenantSegment = match?.[1];
  const endpoint = match?.[2];
  if (tenantSegment === undefined || endpoint === undefined || !TENANT_ENDPOINTS.includes(endpoint)) return undefined;
  return { tenant: safeDecode(tenantSegment), endpoint };
}

function assertOwnTenant(context: StandInContext, tenant: string): void {
  if (tenant.toLowerCase() !== context.tenantId) {
    throw new EntraProtocolError(
      400,
      "invalid_tenant",
      90002,
      `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
    );
  }
}

function serveOpenIdConfiguration(context: StandInContext, response: ServerResponse): void {
  context.counters.metadataRequests++;
  sendJson(response, 200, openIdConfiguration(context.urls, context.tenantId));
}

function serveJwks(context: StandInContext, response: ServerResponse): void {
  context.counters.jwksRequests++;
  sendJson(response, 200, context.keyRing.jwks());
}

/** POST /mint: a JSON object of claims in, `{ access_token }` out. */
async function serveMint(context: StandInContext, request: IncomingMessage, response: ServerResponse): Promise<void> {
  if ((request.method ?? "GET") !== "POST") return sendJson(response, 405, { error: "invalid_request", error_description: "POST only" });
  const claims = await readMintBody(request);
  sendJson(response, 200, { access_token: mintToken(context, claims) });
}

async function readMintBody(request: IncomingMessage): Promise<Record<string, unknown>> {
  const body = await readBody(request);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    throw new EntraProtocolError(400, "invalid_request", 900144, "The mint body must be a JSON object of claims.");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new EntraProtocolError(400, "invalid_request", 900144, "The mint body must be a JSON object of claims.");
  }
  return parsed as Record<string, unknown>;
}

/** Signs the given claims over the stand-in's defaults; a `null` claim removes the default, `_header` sets header parameters. */
function mintToken(context: StandInContext, body: Record<string, unknown>): string {
  const { [MINT_HEADER_MEMBER]: header, ...given } = body;
  if (header !== undefined && (typeof header !== "object" || header === null || Array.isArray(header))) {
    throw new EntraProtocolError(400, "invalid_request", 900144, `'${MINT_HEADER_MEMBER}' must be a JSON object`);
  }
  const issuedAt = typeof given["iat"] === "number" ? given["iat"] : Math.floor(context.now() / 1000);
  const defaults: Record<string, unknown> = {
    iss: context.urls.issuer,
    aud: context.audience,
    tid: context.tenantId,
    iat: issuedAt,
    nbf: issuedAt,
    exp: issuedAt + TOKEN_LIFETIME_SECONDS,
    azp: context.defaultCallerAppId,
    ver: "2.0",
  };
  const claims: Record<string, unknown> = {};
  for (const [name, value] of Object.entries({ ...defaults, ...given })) {
    if (value !== null) claims[name] = value;
  }
  context.counters.tokensMinted++;
  return context.keyRing.signCompact(claims, header as Record<string, unknown> | undefined);
}

/** POST /{tenant}/oauth2/v2.0/token: a form in, Entra's token response out. */
async function serveTokenEndpoint(context: StandInContext, request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (request.method !== "POST") {
    throw new EntraProtocolError(405, "invalid_request", 900561, "The endpoint only accepts POST, OPTIONS requests.");
  }
  const form = await readTokenForm(request);
  const tokenResponse = issueClientCredentialsToken(context, parseClientCredentialsRequest(form, request.headers.authorization));
  sendJson(response, 200, tokenResponse, { "cache-control": "no-store, no-cache", pragma: "no-cache" });
}

/** The form body; Entra reads no parameters from any other content type, so grant_type is what it misses. */
async function readTokenForm(request: IncomingMessage): Promise<URLSearchParams> {
  const contentType = (request.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
  const body = await readBody(request);
  if (contentType !== "application/x-www-form-urlencoded") throw missingParameter("grant_type");
  return new URLSearchParams(body.toString("utf8"));
}

interface ClientCredentialsRequest {
  readonly clientId: string;
  readonly scope: string;
  readonly clientSecret?: string;
}

/** The client credentials parameters, from the form or (client_secret_basic) the Authorization header. */
function parseClientCredentialsRequest(form: URLSearchParams, authorization: string | undefined): ClientCredentialsRequest {
  const grantType = form.get("grant_type");
  if (grantType === null) throw missingParameter("grant_type");
  if (grantType !== "client_credentials") {
    throw new EntraProtocolError(400, "unsupported_grant_type", 70003, `The app requested an unsupported grant type '${grantType}'.`);
  }
  const basic = parseBasicAuthorization(authorization);
  const clientId = form.get("client_id") ?? basic?.clientId;
  if (clientId === undefined || clientId === "") throw missingParameter("client_id");
  const scope = form.get("scope");
  if (scope === null || scope === "") throw missingParameter("scope");
  const clientSecret = form.get("client_secret") ?? basic?.clientSecret;
  return { clientId, scope, ...(clientSecret !== undefined ? { clientSecret } : {}) };
}

function issueClientCredentialsToken(context: StandInContext, request: ClientCredentialsRequest): Record<string, unknown> {
  const grant = context.directory.grantClientCredentials(request);
  const issuedAt = Math.floor(context.now() / 1000);
  const expiresAt = issuedAt + TOKEN_LIFETIME_SECONDS;
  // The claims of a real v2.0 app-only token (client credentials, secret), `idtyp` included as
  // if the optional claim were configured; `aio` and `rh` are opaque in Entra and random here.
  const claims: Record<string, unknown> = {
    aud: grant.resource.appId,
    iss: context.urls.issuer,
    iat: issuedAt,
    nbf: issuedAt,
    exp: expiresAt,
    aio: opaque(40),
    azp: grant.client.clientId,
    azpacr: "1",
    idtyp: "app",
    oid: grant.client.objectId,
    rh: `1.${opaque(60)}.`,
    ...(grant.roles.length > 0 ? { roles: grant.roles } : {}),
    sub: grant.client.objectId,
    tid: context.tenantId,
    uti: opaque(22),
    ver: "2.0",
  };
  const accessToken = context.keyRing.signCompact(claims);
  context.counters.tokensIssued++;
  const expiresIn = expiresAt - Math.floor(context.now() / 1000);
  return { token_type: "Bearer", expires_in: expiresIn, ext_expires_in: expiresIn, access_token: accessToken };
}

/** The plain-HTTP listener's request handler: only the managed identity endpoint. */
function managedIdentityRequestHandler(
  current: () => StandInContext | undefined,
): (request: IncomingMessage, response: ServerResponse) => void {
  return (request, response) => {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    if (url.pathname !== MANAGED_IDENTITY_PATH) return sendNotFound(response);
    try {
      serveManagedIdentityToken(listening(current()), request, response, url.searchParams);
    } catch {
      if (!response.headersSent) sendJson(response, 500, { statusCode: 500, message: "The stand-in failed to handle the request." });
    }
  };
}

/** The App Service token endpoint; refusals use its own error shape, not Entra's. */
function serveManagedIdentityToken(
  context: StandInContext,
  request: IncomingMessage,
  response: ServerResponse,
  query: URLSearchParams,
): void {
  const correlationId = randomUUID();
  const headers = { "x-correlation-id": correlationId };
  try {
    if (request.method !== "GET") throw new ManagedIdentityError(405, "The token endpoint only answers GET.");
    const header = request.headers["x-identity-header"];
    const grant = context.managedIdentities.grant({ identityHeader: Array.isArray(header) ? header[0] : header, query });
    const claims = managedIdentityTokenClaims(grant, {
      v1Issuer: context.urls.v1Issuer,
      // The broker's app asks for v2.0 tokens (requestedAccessTokenVersion 2): Entra issues
      // those for it, whichever endpoint the caller used.
      v2: { issuer: context.urls.issuer, resources: [context.audience, ...context.audienceUris] },
      tenantId: context.tenantId,
      nowSeconds: Math.floor(context.now() / 1000),
    });
    const accessToken = context.keyRing.signCompact(claims);
    countManagedIdentityToken(context.counters, grant.identity.clientId);
    sendJson(
      response,
      200,
      {
        access_token: accessToken,
        expires_on: String(claims["exp"]),
        resource: grant.requestedResource,
        token_type: "Bearer",
        client_id: grant.identity.clientId,
      },
      headers,
    );
  } catch (error) {
    if (!(error instanceof ManagedIdentityError)) throw error;
    context.counters.managedIdentityRequestsRefused++;
    sendJson(response, error.status, error.body(correlationId), headers);
  }
}

function countManagedIdentityToken(counters: StandInCounters, clientId: string): void {
  counters.managedIdentityTokensIssued++;
  const key = clientId.toLowerCase();
  counters.managedIdentityTokensByClient.set(key, (counters.managedIdentityTokensByClient.get(key) ?? 0) + 1);
}

function listen(server: Server | HttpsServer, port: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function close(server: Server | HttpsServer): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    server.closeAllConnections();
  });
}

function endpointUrls(authorityHost: string, tenantId: string, managedIdentityBase: string) {
  return {
    authorityHost,
    issuer: `${authorityHost}/${tenantId}/v2.0`,
    v1Issuer: `${authorityHost}/${tenantId}/`,
    metadataUrl: `${authorityHost}/${tenantId}/v2.0/.well-known/openid-configuration`,
    jwksUri: `${authorityHost}/${tenantId}/discovery/v2.0/keys`,
    tokenUrl: `${authorityHost}/${tenantId}/oauth2/v2.0/token`,
    mintUrl: `${authorityHost}/mint`,
    managedIdentityEndpoint: `${managedIdentityBase}${MANAGED_IDENTITY_PATH}`,
  };
}

/** The members of Entra's v2.0 tenant metadata; endpoints other than token and keys are not served. */
function openIdConfiguration(urls: EndpointUrls, tenantId: string): Record<string, unknown> {
  const base = `${urls.authorityHost}/${tenantId}`;
  return {
    token_endpoint: urls.tokenUrl,
    token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
    jwks_uri: urls.jwksUri,
    response_modes_supported: ["query", "fragment", "form_post"],
    subject_types_supported: ["pairwise"],
    id_token_signing_alg_values_supported: ["RS256"],
    response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
    scopes_supported: ["openid", "profile", "email", "offline_access"],
    issuer: urls.issuer,
    request_uri_parameter_supported: false,
    authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${base}/oauth2/v2.0/logout`,
    claims_supported: [
      "sub",
      "iss",
      "cloud_instance_name",
      "cloud_instance_host_name",
      "cloud_graph_host_name",
      "msgraph_host",
      "aud",
      "exp",
      "iat",
      "auth_time",
      "acr",
      "nonce",
      "preferred_username",
      "name",
      "tid",
      "ver",
      "at_hash",
      "c_hash",
      "email",
    ],
    tenant_region_scope: "EU",
    cloud_instance_name: "microsoftonline.com",
    cloud_graph_host_name: "graph.windows.net",
    msgraph_host: "graph.microsoft.com",
  };
}

class BodyTooLargeError extends Error {}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLargeError();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** client_secret_basic: `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1). */
function parseBasicAuthorization(header: string | undefined): { clientId: string; clientSecret: string } | undefined {
  const match = header === undefined ? null : /^Basic +([A-Za-z0-9+/]+=*)$/i.exec(header.trim());
  if (match?.[1] === undefined) return undefined;
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  try {
    return {
      clientId: decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, " ")),
      clientSecret: decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, " ")),
    };
  } catch {
    return undefined;
  }
}

function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = Buffer.from(JSON.stringify(body), "utf8");
  response.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": payload.length,
    ...headers,
  });
  response.end(payload);
}

function sendNotFound(response: ServerResponse): void {
  sendJson(response, 404, { error: "not_found", error_description: "No such endpoint on the Entra stand-in." });
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function opaque(length: number): string {
  return randomBytes(Math.ceil((length * 3) / 4))
    .toString("base64url")
    .slice(0, length);
}
