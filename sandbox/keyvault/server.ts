/**
 * The Key Vault stand-in: HTTPS on 127.0.0.1 speaking enough of the Key Vault REST protocol for
 * the unmodified Azure SDK clients (certificates, keys + CryptographyClient, secrets), with an
 * out-of-band admin API (like `az` would be), request counters and fault injection.
 *
 * Request pipeline, in Key Vault's order: bearer challenge (401) → injected fault → RBAC (403, when
 * enforced) → api-version (400) → operation. Faults apply to authenticated requests only, so the SDK's unauthenticated
 * first request never consumes one.
 */
import { randomUUID, type KeyObject } from "node:crypto";
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { standInTls, type IssuedCertificate } from "../pki.js";
import { FaultPlan, type Fault, type FaultHandle } from "./faults.js";
import { RequestCounters, type Counters } from "./operations.js";
import { forbiddenByRbac, VaultRbac, type RoleAssignment, type RoleAssignmentInput, type VaultCaller } from "./rbac.js";
import { RestReply } from "./rest-reply.js";
import { matchRoute } from "./routes.js";
import { badParameter, VaultError } from "./vault-error.js";
import { VaultState, type SecretInput } from "./vault-state.js";

export const DEFAULT_TENANT_ID = "5a9d8c3e-1b2f-4e6a-9c7d-0f1e2d3c4b5a";
/** Key Vault's resource, as announced in its challenge. */
export const KEY_VAULT_RESOURCE = "https://vault.azure.net";
/** Request bodies are tiny (secrets ≤ 25 KiB); anything bigger is refused without buffering it. */
const MAX_BODY_BYTES = 1024 * 1024;

export interface KeyVaultStandInOptions {
  tenantId?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Clock for attribute timestamps and key nbf/exp checks (ms since epoch); `Date.now` by default. */
  now?: () => number;
  /** Decides whether a bearer token is good; any non-empty bearer by default. */
  acceptToken?: (bearer: string) => boolean | Promise<boolean>;
  /**
   * Judges a bearer token and names the caller (its `oid`), or gives Key Vault's refusal text
   * (AKV10022 wrong audience, AKV10032 other). Takes precedence over acceptToken.
   */
  authenticate?: (bearer: string) => Promise<TokenVerdict>;
  /**
   * Azure RBAC: only what a role assignment (assignRole) covers is allowed, anything else is 403
   * Forbidden/ForbiddenByRbac, lists included, whether or not the object exists. Default false:
   * an accepted token may do everything (the tests of the protocol itself).
   */
  enforceRbac?: boolean;
  /** The CA that issues the TLS certificate (the sandbox shares one with Entra); default a CA of its own. */
  ca?: IssuedCertificate;
  /** One line per request (method, path, status, kind); never bodies or tokens. */
  log?: (line: string) => void;
}

export type TokenVerdict = { accepted: true; caller: VaultCaller } | { accepted: false; message: string };

export interface ImportCertificateOptions {
  privateKey: KeyObject;
  certificateDer: Buffer;
  /** Issuer certificates, leaf's issuer first. Only end up in the certificate's secret. */
  chainDer?: Buffer[];
  /** Non-exportable (false) by default, as the broker's certificates must be. */
  exportable?: boolean;
  tags?: Record<string, string>;
}

export interface ImportedCertificate {
  version: string;
  /** Versioned key id, the one `CryptographyClient` should sign with. */
  keyId: string;
  certificateId: string;
  secretId: string;
}

export interface SecretVersionSnapshot {
  name: string;
  version: string;
  id: string;
  value: string;
  contentType?: string;
  tags?: Record<string, string>;
  enabled: boolean;
  notBefore?: Date;
  expires?: Date;
  created: Date;
  updated: Date;
  managed: boolean;
}

export interface KeyVaultStandIn {
  /** `https://127.0.0.1:PORT/`, what SDK clients take as vault URL. */
  readonly url: string;
  /** The vault URL as it appears in ids (no trailing slash). */
  readonly vaultUrl: string;
  /** PEM of the CA that issued the stand-in's TLS certificate: pass as `tlsOptions: { ca }`. */
  readonly caPem: string;
  readonly tenantId: string;
  readonly port: number;
  /** The `WWW-Authenticate` value of the challenge. */
  readonly challenge: string;

  importCertificate(name: string, options: ImportCertificateOptions): ImportedCertificate;
  importKey(name: string, privateKey: KeyObject, options?: { tags?: Record<string, string> }): { version: string; keyId: string };
  /** Seeds a secret out of band (not counted). */
  setSecret(name: string, value: string, options?: Omit<SecretInput, "value">): { version: string; id: string };
  /** Every version of a secret, oldest first, values included. Empty when unknown. */
  getSecretVersions(name: string): SecretVersionSnapshot[];
  /** Adds an Azure RBAC role assignment (enforced with `enforceRbac`). */
  assignRole(assignment: RoleAssignmentInput): RoleAssignment;
  readonly roleAssignments: RoleAssignment[];

  /** A snapshot of the request counters (see operations.ts for what is counted how). */
  readonly counters: Counters;
  resetCounters(): void;
  injectFault(fault: Fault): FaultHandle;
  clearFaults(): void;
  /** Stops listening and drops every connection, keep-alive ones too. */
  close(): Promise<void>;
}

export async function startKeyVaultStandIn(options: KeyVaultStandInOptions = {}): Promise<KeyVaultStandIn> {
  const tenantId = options.tenantId ?? DEFAULT_TENANT_ID;
  const now = options.now ?? Date.now;
  const acceptToken = options.acceptToken ?? ((bearer: string) => bearer.length > 0);
  const authenticate = options.authenticate ?? (async (bearer: string) => tokenVerdict(bearer, await acceptToken(bearer)));
  const rbac = new VaultRbac();
  const log = options.log ?? (() => {});
  const challenge = `Bearer authorization="https://login.microsoftonline.com/${tenantId}", resource="${KEY_VAULT_RESOURCE}"`;

  const tls = standInTls(options.ca, "vault.sandbox.localhost");
  const counters = new RequestCounters();
  const faults = new FaultPlan();
  const shutdown = new AbortController();
  const sockets = new Set<Socket>();
  // Created once listening: ids embed the vault URL, whose port is known only then.
  let state: VaultState | undefined;

  const server: Server = createServer({ key: tls.key, cert: tls.cert });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((error: unknown) => {
      log(`keyvault internal error: ${error instanceof Error ? error.message : String(error)}`);
      if (!res.headersSent && !res.destroyed) sendError(res, new VaultError(500, "InternalServerError", "Internal error."));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? "GET";
    const url = new URL(req.url ?? "/", "https://127.0.0.1");
    const route = matchRoute(method, url.pathname);
    const finish = (status: number, kind: string) => log(`keyvault ${method} ${url.pathname} ${status} ${kind}`);
    const body = await readBody(req);

    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "")?.[1];
    const verdict: TokenVerdict = bearer
      ? await judge(bearer)
      : { accepted: false, message: "AKV10000: Request is missing a Bearer or PoP token." };
    if (!verdict.accepted) {
      counters.increment("challenge");
      sendError(res, new VaultError(401, "Unauthorized", verdict.message, { headers: { "WWW-Authenticate": challenge } }));
      finish(401, "challenge");
      return;
    }

    const fault = faults.take(route?.kind, route?.name);
    if (fault?.type === "reset") {
      counters.increment("reset");
      finish(0, "reset");
      const socket = req.socket as Socket & { resetAndDestroy?: () => void };
      // A TLS socket refuses resetAndDestroy (ERR_INVALID_HANDLE_TYPE): dropping it without a
      // close_notify is the same fault as seen by the client. Throwing here would answer 500 instead.
      try {
        if (typeof socket.resetAndDestroy === "function") socket.resetAndDestroy();
        else socket.destroy();
      } catch {
        socket.destroy();
      }
      return;
    }
    if (fault?.type === "status") {
      const throttled = fault.status === 429;
      counters.increment(throttled ? "throttled" : "faulted");
      const retryAfter = fault.retryAfterSeconds ?? (throttled ? 1 : undefined);
      sendError(
        res,
        new VaultError(fault.status, fault.code ?? defaultCode(fault.status), fault.message ?? `Injected fault: ${fault.status}.`, {
          ...(retryAfter !== undefined ? { headers: { "Retry-After": String(retryAfter) } } : {}),
        }),
      );
      finish(fault.status, throttled ? "throttled" : "faulted");
      return;
    }
    if (fault?.type === "delay") {
      try {
        await sleep(fault.ms, undefined, { signal: shutdown.signal });
      } catch {
        return; // closing: the socket is being destroyed anyway
      }
    }

    if (!route) {
      counters.increment("unknown");
      sendError(res, new VaultError(404, "NotFound", `No Key Vault operation for ${method} ${url.pathname}.`));
      finish(404, "unknown");
      return;
    }
    if (options.enforceRbac && !rbac.permits(verdict.caller.objectId, route.access)) {
      counters.increment("forbidden");
      sendError(res, forbiddenByRbac(verdict.caller, route.access, VAULT_NAME));
      finish(403, "forbidden");
      return;
    }
    counters.increment(route.kind);
    try {
      if (!url.searchParams.get("api-version")) {
        throw badParameter("The request URI is missing the required api-version query parameter.");
      }
      if (body === "too large") throw new VaultError(413, "RequestTooLarge", "The request body is too large.");
      const result = route.handle({
        state: vaultState(),
        query: url.searchParams,
        pathname: url.pathname,
        body: () => parseJson(body),
      });
      const reply = result instanceof RestReply ? result : new RestReply(200, result);
      send(res, reply.status, reply.body, reply.headers);
      finish(reply.status, route.kind);
    } catch (error) {
      if (!(error instanceof VaultError)) throw error;
      sendError(res, error);
      finish(error.status, route.kind);
    }
  }

  async function judge(bearer: string): Promise<TokenVerdict> {
    try {
      return await authenticate(bearer);
    } catch (error) {
      log(`keyvault token check failed: ${error instanceof Error ? error.message : String(error)}`);
      return { accepted: false, message: REJECTED };
    }
  }

  function vaultState(): VaultState {
    if (!state) throw new Error("Key Vault stand-in is not listening");
    return state;
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("Key Vault stand-in has no TCP address");
  const vaultUrl = `https://127.0.0.1:${address.port}`;
  state = new VaultState(now, vaultUrl);
  const vault = state;

  let closing: Promise<void> | undefined;

  return {
    url: `${vaultUrl}/`,
    vaultUrl,
    caPem: tls.caPem,
    tenantId,
    port: address.port,
    challenge,

    importCertificate(name, certificateOptions) {
      const certificate = vault.importCertificate(name, certificateOptions);
      return {
        version: certificate.version,
        keyId: vault.id("keys", certificate.name, certificate.version),
        certificateId: vault.id("certificates", certificate.name, certificate.version),
        secretId: vault.id("secrets", certificate.name, certificate.version),
      };
    },
    importKey(name, privateKey, keyOptions = {}) {
      const key = vault.importKey(name, privateKey, keyOptions);
      return { version: key.version, keyId: vault.id("keys", key.name, key.version) };
    },
    setSecret(name, value, secretOptions = {}) {
      const secret = vault.setSecret(name, { ...secretOptions, value });
      return { version: secret.version, id: vault.id("secrets", secret.name, secret.version) };
    },
    getSecretVersions(name) {
      return vault.secrets.versions(name).map((secret) => ({
        name: secret.name,
        version: secret.version,
        id: vault.id("secrets", secret.name, secret.version),
        value: secret.value,
        ...(secret.contentType !== undefined ? { contentType: secret.contentType } : {}),
        ...(secret.tags !== undefined ? { tags: { ...secret.tags } } : {}),
        enabled: secret.attributes.enabled,
        ...(secret.attributes.notBefore !== undefined ? { notBefore: new Date(secret.attributes.notBefore * 1000) } : {}),
        ...(secret.attributes.expires !== undefined ? { expires: new Date(secret.attributes.expires * 1000) } : {}),
        created: new Date(secret.attributes.created * 1000),
        updated: new Date(secret.attributes.updated * 1000),
        managed: secret.managed ?? false,
      }));
    },

    assignRole: (assignment) => rbac.assign(assignment),
    get roleAssignments() {
      return rbac.list();
    },

    get counters() {
      return counters.snapshot();
    },
    resetCounters: () => counters.reset(),
    injectFault: (fault) => faults.add(fault),
    clearFaults: () => faults.clear(),

    close() {
      closing ??= new Promise<void>((resolve) => {
        shutdown.abort();
        faults.clear();
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

const REJECTED = "AKV10032: The bearer token was rejected.";
/** The vault's name in RBAC refusals. */
const VAULT_NAME = "kv-sandbox";

/** An acceptToken answer as a verdict; the caller is the token's `oid` when it is a JWT that has one. */
function tokenVerdict(bearer: string, accepted: boolean): TokenVerdict {
  if (!accepted) return { accepted: false, message: REJECTED };
  let claims: Record<string, unknown> = {};
  try {
    claims = JSON.parse(Buffer.from(bearer.split(".")[1] ?? "", "base64url").toString("utf8")) as Record<string, unknown>;
  } catch {
    // not a JWT: an anonymous caller, which no role assignment names
  }
  const text = (name: string) => (typeof claims[name] === "string" ? (claims[name] as string) : undefined);
  const appId = text("appid") ?? text("azp");
  const issuer = text("iss");
  return {
    accepted: true,
    caller: { objectId: text("oid") ?? "00000000-0000-0000-0000-000000000000", ...(appId ? { appId } : {}), ...(issuer ? { issuer } : {}) },
  };
}

/** Reads the whole body (the challenge flow needs it drained); over the limit it is dropped. */
async function readBody(req: IncomingMessage): Promise<Buffer | "too large"> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk as Buffer);
  }
  return size > MAX_BODY_BYTES ? "too large" : Buffer.concat(chunks);
}

function parseJson(body: Buffer | "too large"): unknown {
  if (body === "too large" || body.length === 0) throw badParameter("The request body is missing or empty.");
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw badParameter("The request body is not valid JSON.");
  }
}

function defaultCode(status: number): string {
  switch (status) {
    case 400:
      return "BadParameter";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 409:
      return "Conflict";
    case 429:
      return "Throttled";
    case 503:
      return "ServiceUnavailable";
    default:
      return status >= 500 ? "InternalServerError" : "BadRequest";
  }
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  const json = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(json),
    "Cache-Control": "no-cache",
    "x-ms-request-id": randomUUID(),
    "x-ms-keyvault-service-version": "sandbox",
    ...headers,
  });
  res.end(json);
}

function sendError(res: ServerResponse, error: VaultError): void {
  send(res, error.status, error.toBody(), error.headers);
}
