/**
 * The Maskinporten stand-in: an HTTP server on 127.0.0.1 speaking Maskinporten's protocol —
 * RFC 8414 metadata, the JWKS, and the jwt-bearer token endpoint with Digdir's validation and
 * error answers — plus fault injection and records for tests and benchmarks.
 */
import { randomBytes, X509Certificate } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { x509DatesProblem } from "./certificates.js";
import { normaliseRegistration, type RegisteredClient } from "./clients.js";
import { applyFault, FaultQueue, type FaultTarget } from "./faults.js";
import { validateGrant, type KeyDirectory } from "./grant-validator.js";
import { decodeCompactJws, GRANT_ALGORITHMS } from "./jws.js";
import { GrantRejection, reject } from "./rejections.js";
import { ReplayCache } from "./replay-cache.js";
import { createTokenIssuer } from "./token-issuer.js";
import type { Counters, GrantRecord, IssuedTokenRecord, MaskinportenStandIn, MaskinportenStandInOptions } from "./types.js";

export const JWT_BEARER_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const METADATA_PATH = "/.well-known/oauth-authorization-server";
/** Maskinporten serves its metadata here too; Skyporten only here. */
const OPENID_METADATA_PATH = "/.well-known/openid-configuration";
const JWKS_PATH = "/jwk";
const TOKEN_PATH = "/token";
/** A grant with a three-certificate x5c is about 6 KB; anything far beyond is not a grant. */
const MAX_BODY_BYTES = 64 * 1024;
const JSON_HEADERS = { "content-type": "application/json;charset=UTF-8" };
const TOKEN_RESPONSE_HEADERS = { ...JSON_HEADERS, "cache-control": "no-store", pragma: "no-cache" };

export async function startMaskinportenStandIn(options: MaskinportenStandInOptions = {}): Promise<MaskinportenStandIn> {
  const tooOld = x509DatesProblem();
  if (tooOld) throw new Error(tooOld);
  const now = options.now ?? Date.now;
  const log = options.log;
  const historyLimit = options.historyLimit ?? 10_000;
  const trustedRoots = (options.trustedRoots ?? []).map((der) => new X509Certificate(der));
  const clients = new Map<string, RegisteredClient>();
  const replay = new ReplayCache();
  const faults = new FaultQueue();
  const pendingDelays = new Set<{ timer: NodeJS.Timeout; resolve: (completed: boolean) => void }>();
  let counters = zeroCounters();
  let grants: GrantRecord[] = [];
  let issuedTokens: IssuedTokenRecord[] = [];
  let closing = false;
  let keyDirectory: KeyDirectory | undefined;

  const server = createServer((request, response) => {
    route(request, response).catch((error: unknown) => {
      log?.(`maskinporten stand-in: internal error ${error instanceof Error ? error.message : String(error)}`);
      if (!response.headersSent) response.writeHead(500, JSON_HEADERS).end('{"error":"server_error"}');
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const base = `http://127.0.0.1:${port}/`;
  const issuer = options.issuerWithoutTrailingSlash ? base.slice(0, -1) : base;
  const tokenEndpoint = `${base}token`;
  const jwksUri = `${base}jwk`;
  const tokenIssuer = createTokenIssuer(issuer, options.signingKey);

  const metadata = {
    issuer,
    token_endpoint: tokenEndpoint,
    jwks_uri: jwksUri,
    token_endpoint_auth_methods_supported: ["private_key_jwt"],
    grant_types_supported: [JWT_BEARER_GRANT_TYPE],
    token_endpoint_auth_signing_alg_values_supported: [...GRANT_ALGORITHMS],
    authorization_details_types_supported: ["urn:altinn:systemuser", "urn:altinn:consent"],
  };

  function remember<T>(list: T[], entry: T): void {
    list.push(entry);
    if (list.length > historyLimit) list.splice(0, list.length - historyLimit);
  }

  function sleep(ms: number): Promise<boolean> {
    if (closing) return Promise.resolve(false);
    return new Promise((resolve) => {
      const pending = {
        timer: setTimeout(() => {
          pendingDelays.delete(pending);
          resolve(true);
        }, ms),
        resolve,
      };
      pendingDelays.add(pending);
    });
  }

  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? "/", base).pathname;
    if (path === METADATA_PATH || path === OPENID_METADATA_PATH || path === JWKS_PATH) {
      if (request.method !== "GET") return methodNotAllowed(response, "GET");
      counters.metadataRequests++;
      if (await answeredByFault("metadata", request, response)) return;
      const body = path === JWKS_PATH ? { keys: [tokenIssuer.publicJwk] } : metadata;
      response.writeHead(200, JSON_HEADERS).end(JSON.stringify(body));
      return;
    }
    if (path === TOKEN_PATH) {
      if (request.method !== "POST") return methodNotAllowed(response, "POST");
      counters.tokenRequests++;
      const receivedAt = new Date(now());
      const body = await readBody(request);
      if (await answeredByFault("token", request, response)) return;
      const answer = answerTokenRequest(request.headers["content-type"], body, receivedAt);
      response.writeHead(answer.status, TOKEN_RESPONSE_HEADERS).end(JSON.stringify(answer.body));
      return;
    }
    response.writeHead(404, JSON_HEADERS).end('{"error":"not_found"}');
  }

  async function answeredByFault(target: FaultTarget, request: IncomingMessage, response: ServerResponse): Promise<boolean> {
    const fault = faults.take(target);
    if (!fault) return false;
    counters.faultsApplied++;
    const outcome = await applyFault(fault, request, response, {
      target,
      sleep,
      successBody: () =>
        target === "token"
          ? JSON.stringify({ access_token: randomBytes(96).toString("base64url"), token_type: "Bearer", expires_in: 120, scope: "" })
          : JSON.stringify(metadata),
    });
    return outcome === "answered";
  }

  /** Validates and, if the grant holds, issues. Never throws for a bad request. */
  function answerTokenRequest(
    contentType: string | undefined,
    body: string | undefined,
    receivedAt: Date,
  ): { status: number; body: object } {
    const traceId = randomBytes(16).toString("hex");
    let header: Record<string, unknown> | undefined;
    let claims: Record<string, unknown> | undefined;
    try {
      if (body === undefined) throw reject.bodyTooLarge(`body over ${MAX_BODY_BYTES} bytes`);
      const mediaType = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
      if (mediaType !== "application/x-www-form-urlencoded")
        throw reject.contentType(`content-type ${JSON.stringify(contentType ?? null)}`);
      const form = new URLSearchParams(body);
      const grantTypes = form.getAll("grant_type");
      if (grantTypes.length !== 1)
        throw reject.parameters(grantTypes.length === 0 ? "Missing parameter: grant_type" : "Repeated parameter: grant_type");
      if (grantTypes[0] !== JWT_BEARER_GRANT_TYPE) throw reject.grantType(`grant_type ${JSON.stringify(grantTypes[0])}`);
      const assertions = form.getAll("assertion");
      if (assertions.length !== 1)
        throw reject.parameters(assertions.length === 0 ? "Missing parameter: assertion" : "Repeated parameter: assertion");

      const decoded = decodeCompactJws(assertions[0]!);
      if (!decoded.ok) {
        header = decoded.header;
        throw reject.invalidParameter(decoded.problem);
      }
      ({ header, claims } = decoded.jws);
      const nowMs = now();
      const grant = validateGrant(decoded.jws, {
        issuer,
        nowMs,
        clients,
        trustedRoots,
        replay,
        ...(keyDirectory ? { registeredKeys: keyDirectory } : {}),
      });
      const minted = tokenIssuer.mint(grant, nowMs);

      counters.tokensIssued++;
      remember(grants, { header, claims, outcome: "accepted", traceId, receivedAt });
      remember(issuedTokens, {
        access_token: minted.accessToken,
        client: grant.client.clientId,
        scope: minted.claims.scope,
        format: minted.format,
        issued_at: new Date(minted.claims.iat * 1000),
        expires_at: new Date(minted.claims.exp * 1000),
      });
      log?.(
        `maskinporten stand-in: issued token client=${grant.client.clientId} scope="${minted.claims.scope}" expires_in=${grant.client.tokenLifetimeSeconds} trace_id=${traceId}`,
      );
      return {
        status: 200,
        body: {
          access_token: minted.accessToken,
          token_type: "Bearer",
          expires_in: grant.client.tokenLifetimeSeconds,
          scope: minted.claims.scope,
        },
      };
    } catch (error) {
      if (!(error instanceof GrantRejection)) throw error;
      counters.rejected++;
      const answer = error.body(base, traceId);
      remember(grants, {
        ...(header ? { header } : {}),
        ...(claims ? { claims } : {}),
        outcome: "rejected",
        error: error.error,
        errorDescription: answer.error_description!,
        reason: error.reason,
        traceId,
        receivedAt,
      });
      const client = typeof claims?.iss === "string" ? claims.iss.slice(0, 100) : "?";
      log?.(
        `maskinporten stand-in: rejected ${error.error}${error.mpCode ? ` ${error.mpCode}` : ""} (${error.reason}) client=${client} trace_id=${traceId}`,
      );
      return { status: error.status, body: answer };
    }
  }

  return {
    issuer,
    tokenEndpoint,
    jwksUri,
    metadataUrl: `${base}.well-known/oauth-authorization-server`,
    port,
    signingJwk: tokenIssuer.publicJwk,
    trustRoot(certificateDer) {
      trustedRoots.push(new X509Certificate(certificateDer));
    },
    registerClient(registration) {
      const client = normaliseRegistration(registration);
      clients.set(client.clientId, client);
    },
    linkKeyDirectory(directory) {
      keyDirectory = directory;
    },
    clientOwner: (clientId) => clients.get(clientId)?.organisationNumber,
    injectFault: (fault, faultOptions) => faults.add(fault, faultOptions),
    clearFaults: () => faults.clear(),
    get counters() {
      return { ...counters };
    },
    get grants() {
      return [...grants];
    },
    get issuedTokens() {
      return [...issuedTokens];
    },
    resetCounters() {
      counters = zeroCounters();
      grants = [];
      issuedTokens = [];
    },
    verifyAccessToken: (token) => tokenIssuer.verify(token),
    async close() {
      if (closing) return;
      closing = true;
      for (const pending of pendingDelays) {
        clearTimeout(pending.timer);
        pending.resolve(false);
      }
      pendingDelays.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

function zeroCounters(): Counters {
  return { metadataRequests: 0, tokenRequests: 0, tokensIssued: 0, rejected: 0, faultsApplied: 0 };
}

function methodNotAllowed(response: ServerResponse, allow: string): void {
  response.writeHead(405, { ...JSON_HEADERS, allow }).end('{"error":"invalid_request","error_description":"Method not allowed"}');
}

/** The body as text, or undefined when it is larger than a grant can be. */
async function readBody(request: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) tooLarge = true;
    else chunks.push(chunk);
  }
  return tooLarge ? undefined : Buffer.concat(chunks).toString("utf8");
}
