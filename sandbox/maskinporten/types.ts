/**
 * Public shapes of the Maskinporten stand-in: options, client registrations, faults and the
 * records tests and benchmarks read back.
 */
import type { JsonWebKey, KeyObject } from "node:crypto";

export interface MaskinportenStandInOptions {
  /** 0 (default) picks a free port, so test files can run in parallel. */
  port?: number;
  /** Milliseconds since the epoch; inject to run a fake day. Defaults to Date.now. */
  now?: () => number;
  /** DER of CA certificates whose issued enterprise certificates are accepted in `x5c`. */
  trustedRoots?: Buffer[];
  /** One line per token request outcome; never carries a grant, token or signature. */
  log?: (line: string) => void;
  /** Reuse a signing key (RSA) for issued tokens instead of generating one per start. */
  signingKey?: KeyObject;
  /** How many `grants` / `issuedTokens` records are kept (oldest dropped first). Default 10,000. */
  historyLimit?: number;
  /**
   * Issuer without the trailing slash, as Skyporten's `https://sky.maskinporten.no`: the grant's
   * `aud` must then be `http://127.0.0.1:PORT` exactly. Default false (Maskinporten's form).
   */
  issuerWithoutTrailingSlash?: boolean;
}

/** A registered public key for kid-mode grants: a KeyObject (public or private) or a public JWK. */
export type RegisteredKey = KeyObject | JsonWebKey;

export interface ClientRegistration {
  clientId: string;
  /** The client owner's 9-digit organisation number. */
  organisationNumber: string;
  scopes: string[];
  /** Lifetime of issued tokens (the grant's exp has no say). Default 120. */
  tokenLifetimeSeconds?: number;
  /**
   * Which `x5c` leaves are accepted: "any-trusted" = any leaf chaining to `trustedRoots` issued to
   * `organisationNumber`; or certificates registered on the client (the client is "locked" to
   * them), which then, as in Maskinporten, must be named by `kid` (`registeredCertificateKid(der)`),
   * x5c-only grants being refused. Defaults to "any-trusted" unless `keys` is given, in which case
   * the client is kid-only (as a Maskinporten client with a pre-registered key is).
   */
  certificates?: "any-trusted" | Buffer[];
  /** Public keys by kid for kid-mode grants. */
  keys?: Record<string, RegisteredKey>;
  /** Values accepted in the grant's `resource` claim. */
  allowedResources?: string[];
  /** Organisations that delegated (in Altinn) to this supplier; accepted in `consumer_org`. */
  consumerOrgs?: string[];
  /**
   * Customer organisations that have a system user for this client (`urn:altinn:systemuser`).
   * When absent, any well-formed `systemuser_org` is accepted.
   */
  systemUserOrgs?: string[];
  /**
   * Delegations by customer: the scopes each customer delegated to this supplier in Altinn. A
   * `consumer_org` grant is accepted only when every requested scope is delegated (or the customer
   * is in `consumerOrgs`, which delegates every scope).
   */
  delegations?: Record<string, string[]>;
  /**
   * System users of this client's system at its customers (Altinn's system register). When given,
   * a `urn:altinn:systemuser` grant must name one of these customers and its `externalRef`
   * (which defaults to the customer's org number, as Altinn documents).
   */
  systemUsers?: { customer: string; systemId: string; externalRef?: string }[];
  /** JWT (default) or an opaque reference string. */
  tokenFormat?: "jwt" | "opaque";
}

export type Fault =
  | { kind: "status"; status: number; body?: string | object; headers?: Record<string, string> }
  | { kind: "delay"; ms: number }
  | { kind: "reset" }
  | { kind: "malformed-json" }
  | { kind: "truncated-json" }
  | { kind: "error"; error: string; description: string; status?: number };

export interface FaultOptions {
  /** How many matching requests the fault applies to (default 1; Infinity for all). */
  times?: number;
  /** Token requests (default) or metadata requests (well-known document and JWKS). */
  target?: "token" | "metadata";
}

export interface Counters {
  /** GETs of the well-known document and the JWKS, faulted or not. */
  metadataRequests: number;
  /** Every request to the token endpoint, faulted or not. */
  tokenRequests: number;
  tokensIssued: number;
  /** Token requests answered with an OAuth error by validation (injected faults not counted). */
  rejected: number;
  /** Requests answered by an injected fault. */
  faultsApplied: number;
}

export interface GrantRecord {
  /** Decoded JOSE header, when the assertion could be decoded. */
  header?: Record<string, unknown>;
  /** Decoded claims, when the assertion could be decoded. */
  claims?: Record<string, unknown>;
  outcome: "accepted" | "rejected";
  /** OAuth error and Digdir-style description (with trace id) when rejected. */
  error?: string;
  errorDescription?: string;
  /** Why, in the stand-in's own words (more precise than the Digdir text), when rejected. */
  reason?: string;
  traceId: string;
  /** The stand-in's clock when the request arrived. */
  receivedAt: Date;
}

export interface IssuedTokenRecord {
  access_token: string;
  /** Client id the token was issued to. */
  client: string;
  scope: string;
  format: "jwt" | "opaque";
  issued_at: Date;
  expires_at: Date;
}

/** Claims of an issued access token (the JWT payload, or what an opaque token stands for). */
export type AccessTokenClaims = Record<string, unknown> & {
  iss: string;
  client_id: string;
  scope: string;
  iat: number;
  exp: number;
  jti: string;
};

export interface MaskinportenStandIn {
  /** `http://127.0.0.1:PORT/` (or without the slash, see `issuerWithoutTrailingSlash`): the grant's `aud`, exactly. */
  readonly issuer: string;
  readonly tokenEndpoint: string;
  readonly jwksUri: string;
  readonly metadataUrl: string;
  readonly port: number;
  /** Public JWK of the key that signs issued tokens (what `jwks_uri` serves). */
  readonly signingJwk: JsonWebKey;
  /** Adds a client, or replaces the one with the same client id. */
  registerClient(registration: ClientRegistration): void;
  /** Also accept enterprise certificates issued by this CA (DER) from now on, as with `trustedRoots`. */
  trustRoot(certificateDer: Buffer): void;
  /**
   * Keys registered on clients elsewhere (the self-service stand-in), consulted for kid grants after
   * the client's own `keys`: the directory decides propagation and expiry on the stand-in's clock.
   */
  linkKeyDirectory(directory: (clientId: string, nowMs: number) => ReadonlyMap<string, KeyObject> | undefined): void;
  /** The organisation number owning a registered client (the self-service stand-in checks ownership). */
  clientOwner(clientId: string): string | undefined;
  injectFault(fault: Fault, options?: FaultOptions): void;
  clearFaults(): void;
  /** A snapshot. */
  readonly counters: Counters;
  /** Oldest first; bounded by `historyLimit`. */
  readonly grants: readonly GrantRecord[];
  readonly issuedTokens: readonly IssuedTokenRecord[];
  /** Zeroes the counters and empties `grants` and `issuedTokens` (the jti replay memory stays). */
  resetCounters(): void;
  /** The token's claims if this stand-in issued it (expired or not: check `exp`), else undefined. */
  verifyAccessToken(token: string): AccessTokenClaims | undefined;
  /** Stops listening and drops every connection, keep-alive and delayed ones included. */
  close(): Promise<void>;
}
