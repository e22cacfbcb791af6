/**
 * Stand-in for Digdir's self-service API, the part key registration uses:
 * `GET|POST|PUT|DELETE /api/v1/clients/{client_id}/jwks`, tied to the Maskinporten stand-in.
 *
 * - Authenticated like Digdir's: a bearer token the Maskinporten stand-in issued, unexpired on this
 *   stand-in's clock, with `idporten:dcr.read` (reads) or `idporten:dcr.write`/`idporten:dcr.modify`
 *   (writes), for a client owned by the token's organisation.
 * - A write replaces the whole set (at most 5 keys; RSA ≥ 2048; `kid` unique in the set and across
 *   all clients; `use: "sig"` and `alg` required; no private members). Every posted key is
 *   registered for one year from the post (`exp`), re-posting renews it.
 * - A posted set reaches the Maskinporten stand-in after `propagationMs` (Digdir: 0-2 minutes);
 *   until then the previous set is what kid grants are checked against.
 * - Registrations that reach their `exp` while still registered are recorded: a test of a year of
 *   operation asserts there are none.
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { MaskinportenStandIn } from "../maskinporten/index.js";

export const REGISTRATION_LIFETIME_MS = 365 * 86_400_000;
const MAX_KEYS = 5;
const JSON_HEADERS = { "content-type": "application/json;charset=UTF-8" };
const READ_SCOPES = ["idporten:dcr.read", "idporten:dcr.write", "idporten:dcr.modify"];
const WRITE_SCOPES = ["idporten:dcr.write", "idporten:dcr.modify"];
const ALGORITHMS = new Set(["RS256", "RS384", "RS512"]);
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi"];

export interface SelfServiceStandInOptions {
  maskinporten: MaskinportenStandIn;
  now?: () => number;
  /** How long a posted set takes to reach Maskinporten. Default 60 s. */
  propagationMs?: number;
  port?: number;
  log?: (line: string) => void;
}

export interface RegisteredKeyRecord {
  kid: string;
  postedAt: Date;
  expiresAt: Date;
}

export interface ExpiredRegistration {
  clientId: string;
  kid: string;
  expiredAt: Date;
}

export type SelfServiceFault = { kind: "status"; status: number; body?: object | string } | { kind: "reset" };

export interface SelfServiceRequestRecord {
  method: string;
  clientId: string;
  status: number;
  at: Date;
}

export interface SelfServiceStandIn {
  /** `http://127.0.0.1:PORT` (the `/api/v1` prefix is part of each path, as at Digdir). */
  readonly baseUrl: string;
  /** What is registered now (expired keys left out). */
  registeredKeys(clientId: string): RegisteredKeyRecord[];
  /** Registers keys directly, as a person in Samarbeidsportalen would (a "foreign" key). */
  seed(clientId: string, jwks: readonly Record<string, unknown>[]): void;
  expiredRegistrations(): ExpiredRegistration[];
  readonly requests: readonly SelfServiceRequestRecord[];
  injectFault(fault: SelfServiceFault, times?: number): void;
  clearFaults(): void;
  close(): Promise<void>;
}

interface StoredKey {
  jwk: Record<string, unknown>;
  kid: string;
  publicKey: KeyObject;
  postedAt: number;
  expiresAt: number;
}

interface SetVersion {
  postedAt: number;
  effectiveFrom: number;
  keys: StoredKey[];
}

interface ClientState {
  created: number;
  versions: SetVersion[];
}

class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
  ) {
    super(description);
  }
}

export async function startSelfServiceStandIn(options: SelfServiceStandInOptions): Promise<SelfServiceStandIn> {
  const { maskinporten } = options;
  const now = options.now ?? Date.now;
  const propagationMs = options.propagationMs ?? 60_000;
  const clients = new Map<string, ClientState>();
  const expired = new Map<string, ExpiredRegistration>();
  const requests: SelfServiceRequestRecord[] = [];
  const faults: { fault: SelfServiceFault; times: number }[] = [];

  const current = (clientId: string): SetVersion | undefined => clients.get(clientId)?.versions.at(-1);

  /** Records keys of `version` whose registration ran out before `until` (while still registered). */
  function noteExpired(clientId: string, version: SetVersion | undefined, until: number): void {
    for (const key of version?.keys ?? []) {
      if (key.expiresAt <= until)
        expired.set(`${clientId} ${key.kid} ${key.expiresAt}`, { clientId, kid: key.kid, expiredAt: new Date(key.expiresAt) });
    }
  }

  function replaceSet(clientId: string, jwks: readonly Record<string, unknown>[], at: number): SetVersion {
    const keys = validateSet(clientId, jwks, at);
    const state = clients.get(clientId) ?? { created: at, versions: [] };
    noteExpired(clientId, state.versions.at(-1), at);
    const version: SetVersion = { postedAt: at, effectiveFrom: at + propagationMs, keys };
    // A few earlier sets stay: one of them is what Maskinporten knows until this one propagates.
    state.versions = [...state.versions.slice(-3), version];
    clients.set(clientId, state);
    return version;
  }

  function validateSet(clientId: string, jwks: readonly Record<string, unknown>[], at: number): StoredKey[] {
    if (jwks.length > MAX_KEYS) throw new Refusal(400, "invalid_request", `A client can have at most ${MAX_KEYS} keys, got ${jwks.length}`);
    const seen = new Set<string>();
    return jwks.map((jwk, index) => {
      const where = `keys[${index}]`;
      if (typeof jwk !== "object" || jwk === null) throw new Refusal(400, "invalid_request", `${where} is not a JSON object`);
      if (PRIVATE_MEMBERS.some((member) => member in jwk))
        throw new Refusal(400, "invalid_request", `${where} contains private key material`);
      if (jwk.kty !== "RSA") throw new Refusal(400, "invalid_request", `${where}: kty must be RSA`);
      if (typeof jwk.kid !== "string" || jwk.kid.length === 0) throw new Refusal(400, "invalid_request", `${where}: kid is required`);
      if (jwk.use !== "sig") throw new Refusal(400, "invalid_request", `${where}: use is required and must be "sig"`);
      if (typeof jwk.alg !== "string" || !ALGORITHMS.has(jwk.alg))
        throw new Refusal(400, "invalid_request", `${where}: alg is required (RS256, RS384 or RS512)`);
      if (seen.has(jwk.kid)) throw new Refusal(400, "invalid_request", `kid ${jwk.kid} is used twice in the set`);
      seen.add(jwk.kid);
      for (const [otherClient, state] of clients) {
        if (otherClient !== clientId && state.versions.at(-1)?.keys.some((key) => key.kid === jwk.kid && key.expiresAt > at)) {
          throw new Refusal(
            400,
            "invalid_request",
            `kid ${jwk.kid} is already in use; a kid must be unique across all Maskinporten customers`,
          );
        }
      }
      let publicKey: KeyObject;
      try {
        publicKey = createPublicKey({ key: { kty: "RSA", n: String(jwk.n), e: String(jwk.e) }, format: "jwk" });
      } catch {
        throw new Refusal(400, "invalid_request", `${where}: n and e do not make an RSA public key`);
      }
      const bits = publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
      if (bits < 2048) throw new Refusal(400, "invalid_request", `${where}: RSA keys must be at least 2048 bits, got ${bits}`);
      const { exp: _ignored, ...members } = jwk;
      return { jwk: members, kid: jwk.kid, publicKey, postedAt: at, expiresAt: at + REGISTRATION_LIFETIME_MS };
    });
  }

  function answerBody(clientId: string, at: number): object {
    const state = clients.get(clientId);
    const version = state?.versions.at(-1);
    noteExpired(clientId, version, at);
    return {
      keys: (version?.keys ?? []).filter((key) => key.expiresAt > at).map((key) => ({ ...key.jwk, exp: Math.floor(key.expiresAt / 1000) })),
      ...(state
        ? { created: new Date(state.created).toISOString(), last_updated: new Date(version?.postedAt ?? state.created).toISOString() }
        : {}),
    };
  }

  maskinporten.linkKeyDirectory((clientId, nowMs) => {
    const state = clients.get(clientId);
    if (!state) return undefined;
    const effective = [...state.versions].reverse().find((version) => version.effectiveFrom <= nowMs);
    if (!effective) return undefined;
    return new Map(effective.keys.filter((key) => key.expiresAt > nowMs).map((key) => [key.kid, key.publicKey]));
  });

  function authorise(request: IncomingMessage, clientId: string, write: boolean, at: number): void {
    const header = request.headers.authorization ?? "";
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new Refusal(401, "invalid_token", "Missing bearer token");
    const claims = maskinporten.verifyAccessToken(match[1]!);
    if (!claims || claims.exp * 1000 <= at) throw new Refusal(401, "invalid_token", "The access token is invalid or expired");
    const scopes = claims.scope.split(" ");
    const needed = write ? WRITE_SCOPES : READ_SCOPES;
    if (!scopes.some((scope) => needed.includes(scope))) {
      throw new Refusal(403, "insufficient_scope", `The token needs one of ${needed.join(", ")}`);
    }
    const owner = maskinporten.clientOwner(clientId);
    if (owner === undefined) throw new Refusal(404, "not_found", `No client ${clientId}`);
    const consumer = (claims.consumer as { ID?: string } | undefined)?.ID;
    if (consumer !== `0192:${owner}`)
      throw new Refusal(403, "access_denied", `Client ${clientId} does not belong to the token's organisation`);
  }

  async function route(request: IncomingMessage, response: ServerResponse): Promise<number> {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    const match = /^\/api\/v1\/clients\/([^/]+)\/jwks$/.exec(url.pathname);
    if (!match) return send(response, 404, { error: "not_found", error_description: "No such resource" });
    const clientId = decodeURIComponent(match[1]!);
    const method = request.method ?? "GET";
    const body = await readBody(request);
    const fault = faults[0];
    if (fault) {
      if (--fault.times <= 0) faults.shift();
      if (fault.fault.kind === "reset") {
        request.socket.destroy();
        return 0;
      }
      const faultBody = fault.fault.body ?? { error: "server_error", error_description: "Injected fault" };
      response.writeHead(fault.fault.status, JSON_HEADERS).end(typeof faultBody === "string" ? faultBody : JSON.stringify(faultBody));
      return fault.fault.status;
    }
    const at = now();
    try {
      if (method === "GET") {
        authorise(request, clientId, false, at);
        return send(response, 200, answerBody(clientId, at));
      }
      if (method === "POST" || method === "PUT") {
        authorise(request, clientId, true, at);
        let parsed: unknown;
        try {
          parsed = JSON.parse(body);
        } catch {
          throw new Refusal(400, "invalid_request", "The body is not JSON");
        }
        const keys = (parsed as { keys?: unknown } | null)?.keys;
        if (!Array.isArray(keys) || keys.length === 0)
          throw new Refusal(400, "invalid_request", 'The body must be {"keys":[…]} with at least one key; use DELETE to remove all');
        replaceSet(clientId, keys as Record<string, unknown>[], at);
        options.log?.(`self-service stand-in: client ${clientId} now has ${keys.length} key(s)`);
        return send(response, 200, answerBody(clientId, at));
      }
      if (method === "DELETE") {
        authorise(request, clientId, true, at);
        const state = clients.get(clientId);
        if (state) {
          noteExpired(clientId, state.versions.at(-1), at);
          state.versions.push({ postedAt: at, effectiveFrom: at + propagationMs, keys: [] });
        }
        return send(response, 200, answerBody(clientId, at));
      }
      response.setHeader("allow", "GET, POST, PUT, DELETE");
      return send(response, 405, { error: "invalid_request", error_description: "Method not allowed" });
    } catch (error) {
      if (!(error instanceof Refusal)) throw error;
      return send(response, error.status, { error: error.error, error_description: error.description });
    }
  }

  const server = createServer((request, response) => {
    const at = new Date(now());
    const clientId = /\/clients\/([^/]+)\//.exec(request.url ?? "")?.[1] ?? "";
    route(request, response)
      .then((status) => requests.push({ method: request.method ?? "", clientId: decodeURIComponent(clientId), status, at }))
      .catch((error: unknown) => {
        options.log?.(`self-service stand-in: internal error ${error instanceof Error ? error.message : String(error)}`);
        if (!response.headersSent) response.writeHead(500, JSON_HEADERS).end('{"error":"server_error"}');
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    baseUrl: `http://127.0.0.1:${port}`,
    registeredKeys(clientId) {
      const at = now();
      return (current(clientId)?.keys ?? [])
        .filter((key) => key.expiresAt > at)
        .map((key) => ({ kid: key.kid, postedAt: new Date(key.postedAt), expiresAt: new Date(key.expiresAt) }));
    },
    seed(clientId, jwks) {
      const version = replaceSet(clientId, jwks, now());
      version.effectiveFrom = version.postedAt;
    },
    expiredRegistrations() {
      const at = now();
      for (const clientId of clients.keys()) noteExpired(clientId, current(clientId), at);
      return [...expired.values()];
    },
    get requests() {
      return [...requests];
    },
    injectFault(fault, times = 1) {
      faults.push({ fault, times });
    },
    clearFaults() {
      faults.length = 0;
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

function send(response: ServerResponse, status: number, body: object): number {
  response.writeHead(status, JSON_HEADERS).end(JSON.stringify(body));
  return status;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= 64 * 1024) chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}
