/**
 * Altinn 3 token exchange stand-in on 127.0.0.1: `GET /authentication/api/v1/exchange/maskinporten`
 * checks the bearer Maskinporten token the way Altinn's authentication service does
 * (Altinn/altinn-authentication, AuthenticationController.AuthenticateMaskinportenToken: signature
 * against the Maskinporten issuer's JWKS found through its metadata, expiry required and checked
 * with 10 s clock skew, the issuer, a `consumer` claim in ISO 6523 form) and answers with an Altinn
 * platform token it signs: the Maskinporten claims minus aud/iss/client_amr/sid, plus
 * `urn:altinn:orgNumber`, `urn:altinn:authenticatemethod`, `urn:altinn:authlevel` and, for
 * `altinn:serviceowner` scopes, `urn:altinn:org` (`ttd` for Digdir with `?test=true`); a lifetime
 * of its own (Altinn: JwtValidityMinutes, 30). Refusals are Altinn's: 401 ProblemDetails for any
 * token problem, 400 text for an unknown provider, 410 for the retired enterprise-user header. The
 * OpenID metadata and JWKS let a workload verify the Altinn token.
 */
import { createHash, generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createRemoteJWKSet, jwtVerify, SignJWT, type JWTPayload } from "jose";

export const EXCHANGE_PATH_PREFIX = "/authentication/api/v1/exchange/";
const OPENID_PATH = "/authentication/api/v1/openid/";
/** Digdir's organisation number (the sandbox's enterprise certificate uses it too). */
export const DIGDIR_ORGANISATION = "991825827";
const ISO6523 = "iso6523-actorid-upis";

export type AltinnFault =
  | { kind: "status"; status: number; body?: string | object; headers?: Record<string, string> }
  | { kind: "reset" }
  | { kind: "delay"; ms: number };

export interface AltinnStandInOptions {
  /** The Maskinporten issuer whose tokens are accepted (its metadata names the JWKS). */
  maskinportenIssuer: string;
  now?: () => number;
  /** Lifetime of issued Altinn tokens. Default 1800 s (Altinn's JwtValidityMinutes = 30). */
  tokenLifetimeSeconds?: number;
  /** Organisation number → Altinn service owner code, for `urn:altinn:org`. Default Digdir → "digdir". */
  serviceOwners?: Record<string, string>;
  /**
   * Altinn's Maskinporten exchange itself does not refuse a token for its scopes (only the
   * ID-porten exchange does, with 403, and Altinn's APIs do downstream). Tests that want a scope gate
   * give one; a refused token gets Altinn's 403.
   */
  acceptScopes?: (scopes: readonly string[]) => boolean;
  log?: (line: string) => void;
}

export interface IssuedAltinnToken {
  access_token: string;
  claims: JWTPayload;
}

export interface ExchangeRecord {
  outcome: "issued" | "refused" | "fault";
  status: number;
  reason?: string;
  testOrg: boolean;
  receivedAt: Date;
}

export interface AltinnStandIn {
  /** Platform base URL: what PROFILE_<NAME>_ALTINN_EXCHANGE takes. */
  baseUrl: string;
  exchangeUrl: string;
  /** The `iss` of issued tokens. */
  issuer: string;
  openIdConfigurationUrl: string;
  jwksUrl: string;
  readonly issuedTokens: IssuedAltinnToken[];
  readonly exchanges: ExchangeRecord[];
  /** Answers the next `times` exchange requests as the fault says (Infinity: until cleared). */
  injectFault(fault: AltinnFault, options?: { times?: number }): void;
  clearFaults(): void;
  /** Verifies a token this stand-in issued (signature, issuer, expiry); claims or undefined. */
  verifyAltinnToken(token: string): Promise<JWTPayload | undefined>;
  close(): Promise<void>;
}

class Refusal extends Error {
  constructor(
    readonly status: 401 | 403,
    readonly reason: string,
  ) {
    super(reason);
  }
}

export async function startAltinnStandIn(options: AltinnStandInOptions): Promise<AltinnStandIn> {
  const now = options.now ?? Date.now;
  const lifetime = options.tokenLifetimeSeconds ?? 1800;
  const serviceOwners = options.serviceOwners ?? { [DIGDIR_ORGANISATION]: "digdir" };
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  // Altinn's kid is its signing certificate's thumbprint: upper-case hex SHA-1.
  const kid = createHash("sha1")
    .update(publicKey.export({ format: "der", type: "spki" }))
    .digest("hex")
    .toUpperCase();
  const publicJwk = { ...publicKey.export({ format: "jwk" }), kid, use: "sig", alg: "RS256" };
  const issuedTokens: IssuedAltinnToken[] = [];
  const exchanges: ExchangeRecord[] = [];
  const faults: { fault: AltinnFault; remaining: number }[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let maskinportenKeys: ReturnType<typeof createRemoteJWKSet> | undefined;

  const server = createServer((request, response) => {
    route(request, response).catch((error: unknown) => {
      options.log?.(`altinn stand-in: internal error ${error instanceof Error ? error.message : String(error)}`);
      if (!response.headersSent) response.writeHead(500).end();
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const issuer = `${baseUrl}${OPENID_PATH}`;
  const openIdConfigurationUrl = `${issuer}.well-known/openid-configuration`;
  const jwksUrl = `${openIdConfigurationUrl}/jwks`;

  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", baseUrl);
    if (request.method === "GET" && url.pathname === new URL(openIdConfigurationUrl).pathname) {
      return json(response, 200, {
        issuer,
        jwks_uri: jwksUrl,
        response_types_supported: ["token"],
        subject_types_supported: ["pairwise"],
        id_token_signing_alg_values_supported: ["RS256"],
      });
    }
    if (request.method === "GET" && url.pathname === new URL(jwksUrl).pathname) return json(response, 200, { keys: [publicJwk] });
    if (url.pathname.toLowerCase().startsWith(EXCHANGE_PATH_PREFIX) && request.method === "GET") {
      const testOrg = url.searchParams.get("test")?.toLowerCase() === "true";
      const receivedAt = new Date(now());
      if (await answeredByFault(request, response)) {
        exchanges.push({ outcome: "fault", status: response.statusCode, testOrg, receivedAt });
        return;
      }
      const provider = decodeURIComponent(url.pathname.slice(EXCHANGE_PATH_PREFIX.length)).toLowerCase();
      if (provider !== "maskinporten") {
        exchanges.push({ outcome: "refused", status: 400, reason: `provider ${provider}`, testOrg, receivedAt });
        response.writeHead(400, { "content-type": "text/plain; charset=utf-8" });
        response.end(`Invalid token provider: ${provider}. Trusted token providers are 'Maskinporten', 'Id-porten' and 'AltinnStudio'.`);
        return;
      }
      if (request.headers["x-altinn-enterpriseuser-authentication"]) {
        exchanges.push({ outcome: "refused", status: 410, reason: "enterprise user header", testOrg, receivedAt });
        return problem(response, 410, "Virksomhetsbruker is no longer available", {
          detail:
            "Virksomhetsbruker (enterprise user) is no longer available. It has been replaced by Systembruker (system user) or ID-porten, depending on the use case.",
          type: "https://docs.altinn.studio",
        });
      }
      try {
        const token = await exchange(request.headers.authorization, testOrg);
        exchanges.push({ outcome: "issued", status: 200, testOrg, receivedAt });
        // ASP.NET content negotiation: JSON asked for → a JSON string, otherwise the text itself.
        const wantsJson = /application\/json/i.test(request.headers.accept ?? "");
        response.writeHead(200, { "content-type": wantsJson ? "application/json; charset=utf-8" : "text/plain; charset=utf-8" });
        response.end(wantsJson ? JSON.stringify(token) : token);
      } catch (error) {
        if (!(error instanceof Refusal)) throw error;
        exchanges.push({ outcome: "refused", status: error.status, reason: error.reason, testOrg, receivedAt });
        options.log?.(`altinn stand-in: refused (${error.reason})`);
        problem(response, error.status, error.status === 401 ? "Unauthorized" : "Forbidden");
      }
      return;
    }
    response.writeHead(404).end();
  }

  async function exchange(authorization: string | undefined, testOrg: boolean): Promise<string> {
    const original = authorization?.startsWith("Bearer ") ? authorization.slice("Bearer ".length).trim() : "";
    if (!original) throw new Refusal(401, "no bearer token");
    if (original.split(".").length !== 3) throw new Refusal(401, "unreadable token (not a JWT)");
    let claims: JWTPayload;
    try {
      maskinportenKeys ??= createRemoteJWKSet(new URL(await maskinportenJwksUri()));
      ({ payload: claims } = await jwtVerify(original, maskinportenKeys, {
        algorithms: ["RS256"],
        issuer: options.maskinportenIssuer,
        requiredClaims: ["exp"],
        clockTolerance: 10,
        currentDate: new Date(now()),
      }));
    } catch (error) {
      throw new Refusal(401, `token not valid: ${(error as { code?: string }).code ?? (error as Error).message}`);
    }
    const orgNumber = consumerOrgNumber(claims.consumer);
    if (!orgNumber) throw new Refusal(401, "no iso6523 consumer claim");
    const scopes = typeof claims.scope === "string" ? claims.scope.split(" ") : [];
    if (options.acceptScopes && !options.acceptScopes(scopes)) throw new Refusal(403, "scope not accepted");

    const nowS = Math.floor(now() / 1000);
    const { aud: _aud, iss: _iss, client_amr: _amr, sid: _sid, exp: _exp, iat: _iat, nbf: _nbf, ...kept } = claims;
    const altinnClaims: JWTPayload = { ...kept };
    if (scopes.some((scope) => scope.includes("altinn:serviceowner"))) {
      const org = serviceOwners[orgNumber] === "digdir" && testOrg ? "ttd" : serviceOwners[orgNumber];
      if (org) altinnClaims["urn:altinn:org"] = org;
    }
    Object.assign(altinnClaims, {
      "urn:altinn:orgNumber": orgNumber,
      "urn:altinn:authenticatemethod": "maskinporten",
      "urn:altinn:authlevel": 3,
      iss: issuer,
      sid: randomUUID(),
      iat: nowS,
      nbf: nowS,
      exp: nowS + lifetime,
    });
    const token = await new SignJWT(altinnClaims).setProtectedHeader({ alg: "RS256", kid, typ: "JWT" }).sign(privateKey as KeyObject);
    issuedTokens.push({ access_token: token, claims: altinnClaims });
    options.log?.(`altinn stand-in: issued token orgNumber=${orgNumber} expires_in=${lifetime}`);
    return token;
  }

  async function maskinportenJwksUri(): Promise<string> {
    const base = options.maskinportenIssuer.endsWith("/") ? options.maskinportenIssuer : `${options.maskinportenIssuer}/`;
    const response = await fetch(`${base}.well-known/oauth-authorization-server`);
    if (!response.ok) throw new Error(`Maskinporten metadata answered ${response.status}`);
    const metadata = (await response.json()) as { jwks_uri?: unknown };
    if (typeof metadata.jwks_uri !== "string") throw new Error("Maskinporten metadata has no jwks_uri");
    return metadata.jwks_uri;
  }

  async function answeredByFault(request: IncomingMessage, response: ServerResponse): Promise<boolean> {
    const head = faults[0];
    if (!head) return false;
    if (--head.remaining <= 0) faults.shift();
    const { fault } = head;
    switch (fault.kind) {
      case "reset":
        request.socket.resetAndDestroy();
        return true;
      case "delay":
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            timers.delete(timer);
            resolve();
          }, fault.ms);
          timers.add(timer);
        });
        return false;
      case "status": {
        const text = fault.body === undefined || typeof fault.body === "string";
        response.writeHead(fault.status, {
          ...(text ? {} : { "content-type": "application/problem+json; charset=utf-8" }),
          ...fault.headers,
        });
        response.end(fault.body === undefined ? "" : text ? (fault.body as string) : JSON.stringify(fault.body));
        return true;
      }
    }
  }

  return {
    baseUrl,
    exchangeUrl: `${baseUrl}${EXCHANGE_PATH_PREFIX}maskinporten`,
    issuer,
    openIdConfigurationUrl,
    jwksUrl,
    get issuedTokens() {
      return [...issuedTokens];
    },
    get exchanges() {
      return [...exchanges];
    },
    injectFault(fault, faultOptions = {}) {
      const times = faultOptions.times ?? 1;
      if (!(times === Infinity || (Number.isInteger(times) && times > 0)))
        throw new TypeError("injectFault: times must be a positive integer or Infinity");
      faults.push({ fault, remaining: times });
    },
    clearFaults() {
      faults.length = 0;
    },
    async verifyAltinnToken(token) {
      try {
        const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(jwksUrl)), {
          issuer,
          algorithms: ["RS256"],
          currentDate: new Date(now()),
        });
        return payload;
      } catch {
        return undefined;
      }
    },
    async close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

/** `{"authority":"iso6523-actorid-upis","ID":"0192:<orgno>"}` → the organisation number. */
function consumerOrgNumber(consumer: unknown): string | undefined {
  if (typeof consumer !== "object" || consumer === null) return undefined;
  const { authority, ID } = consumer as { authority?: unknown; ID?: unknown };
  if (authority !== ISO6523 || typeof ID !== "string") return undefined;
  return ID.split(":")[1] || undefined;
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json; charset=utf-8" }).end(JSON.stringify(body));
}

/** ASP.NET Core's ProblemDetails, as [ApiController] answers a bare 401/403. */
function problem(response: ServerResponse, status: number, title: string, extra: Record<string, string> = {}): void {
  const section = { 401: "15.5.2", 403: "15.5.4", 410: "15.5.11" }[status] ?? "15.5.1";
  const body = {
    type: `https://tools.ietf.org/html/rfc9110#section-${section}`,
    title,
    status,
    ...extra,
    traceId: `00-${randomBytes(16).toString("hex")}-${randomBytes(8).toString("hex")}-00`,
  };
  response.writeHead(status, { "content-type": "application/problem+json; charset=utf-8" }).end(JSON.stringify(body));
}
