/**
 * Validates a decoded JWT grant the way Digdir documents Maskinporten does it
 * (docs.digdir.no: "JWT grant", "Feilsøking i Maskinporten"), in roughly the order the real
 * service reports problems: form, client, audience, key and signature, time, replay, then what
 * the client asks for. Throws a GrantRejection; returns what the token should say.
 */
import type { KeyObject, X509Certificate } from "node:crypto";
import { chainProblem, isWithinValidity, organisationNumberOf, parseX5c } from "./certificates.js";
import type { RegisteredClient } from "./clients.js";
import { isGrantAlgorithm, verifyRsaSignature, type DecodedJws, type GrantAlgorithm } from "./jws.js";
import { reject } from "./rejections.js";
import type { ReplayCache } from "./replay-cache.js";

/**
 * Claims Digdir documents for grants. `sub` is not in Digdir's table, but Altinn's official
 * system-user guides send `sub` = client id and Maskinporten accepts it; any other value is refused.
 */
const DOCUMENTED_CLAIMS = new Set([
  "aud",
  "iss",
  "scope",
  "iat",
  "exp",
  "jti",
  "resource",
  "consumer_org",
  "pid",
  "iss_onbehalfof",
  "authorization_details",
  "sub",
]);
/** Header parameters that would fetch or embed a key some other way than x5c / kid. */
const REFUSED_HEADER_PARAMETERS = ["jku", "jwk", "x5u", "crit"];
const MAX_GRANT_LIFETIME_SECONDS = 120;
const MAX_CLOCK_SKEW_MS = 10_000;
const MIN_RSA_BITS = 2048;
const ORGANISATION_NUMBER = /^\d{9}$/;
const NATIONAL_IDENTITY_NUMBER = /^\d{11}$/;

export interface ValidationContext {
  issuer: string;
  nowMs: number;
  clients: ReadonlyMap<string, RegisteredClient>;
  trustedRoots: readonly X509Certificate[];
  replay: ReplayCache;
  /** Keys registered through the self-service stand-in, as Maskinporten knows them at `nowMs`. */
  registeredKeys?: KeyDirectory;
}

/** Keys registered on a client elsewhere (the self-service stand-in), after propagation and before expiry. */
export type KeyDirectory = (clientId: string, nowMs: number) => ReadonlyMap<string, KeyObject> | undefined;

export interface AcceptedGrant {
  client: RegisteredClient;
  /** Requested scopes, de-duplicated, in request order. */
  scopes: string[];
  /** How the client authenticated, as Maskinporten's `client_amr` names it. */
  clientAmr: "virksomhetssertifikat" | "private_key_jwt";
  resources: string[] | undefined;
  consumerOrg: string | undefined;
  pid: string | undefined;
  authorizationDetails: Record<string, unknown>[] | undefined;
}

export function validateGrant(jws: DecodedJws, context: ValidationContext): AcceptedGrant {
  const { header, claims } = jws;
  const alg = header.alg;
  if (!isGrantAlgorithm(alg)) throw reject.unsupportedAlg(`alg ${JSON.stringify(alg)} is not RS256, RS384 or RS512`);
  for (const name of REFUSED_HEADER_PARAMETERS) {
    if (name in header) throw reject.invalidParameter(`header parameter ${name} is not supported`);
  }
  for (const name of Object.keys(claims)) {
    if (!DOCUMENTED_CLAIMS.has(name)) throw reject.invalidParameter(`claim ${JSON.stringify(name)} is not documented for grants`);
  }

  const iss = claims.iss;
  const client = typeof iss === "string" ? context.clients.get(iss) : undefined;
  if (!client) throw reject.unknownClient(typeof iss === "string" ? "no client with this iss" : "iss is missing or not a string");
  if ("sub" in claims && claims.sub !== iss) throw reject.invalidParameter("sub differs from iss");
  checkAudience(claims.aud, context.issuer);

  const clientAmr = authenticateClient(jws, alg, client, context);
  const expMs = checkTimes(claims, context.nowMs);
  const jti = claims.jti;
  if (typeof jti !== "string" || jti.length === 0) throw reject.claim("jti", "jti is missing or empty");
  if (context.replay.seenBefore(client.clientId, jti, expMs, context.nowMs)) throw reject.reused("this jti was presented before");

  const scopes = checkScopes(claims.scope, client);
  return {
    client,
    scopes,
    clientAmr,
    resources: checkResources(claims.resource, client),
    consumerOrg: checkConsumer(claims, client, scopes),
    pid: checkPid(claims.pid),
    authorizationDetails: checkAuthorizationDetails(claims.authorization_details, client),
  };
}

function checkAudience(aud: unknown, issuer: string): void {
  // Digdir: aud must be the issuer and "must only contain a single value"; a one-element array
  // is the same single value. No normalising: a missing trailing slash is a different string.
  const single = Array.isArray(aud) && aud.length === 1 ? aud[0] : aud;
  if (single !== issuer) throw reject.audience(`aud ${JSON.stringify(aud)} is not ${JSON.stringify(issuer)}`);
}

function authenticateClient(
  jws: DecodedJws,
  alg: GrantAlgorithm,
  client: RegisteredClient,
  context: ValidationContext,
): AcceptedGrant["clientAmr"] {
  const { header } = jws;
  const hasX5c = "x5c" in header;
  const hasKid = "kid" in header;
  if (hasKid && (typeof header.kid !== "string" || header.kid.length === 0)) throw reject.invalidParameter("kid is not a non-empty string");
  const kid = header.kid as string;

  if (hasKid) {
    const key = client.keys.get(kid) ?? context.registeredKeys?.(client.clientId, context.nowMs)?.get(kid);
    if (!key) throw reject.unknownKid(`kid ${JSON.stringify(kid)} is not registered on the client`);
    if (hasX5c) {
      // Both: allowed only when x5c is the certificate of the registered key the kid names.
      const leaf = checkLeafCertificate(header.x5c, client, context.nowMs);
      if (!sameKey(leaf.publicKey, key)) throw reject.keyConflict("the x5c leaf's key is not the key registered under kid");
    }
    verifySignature(jws, alg, key);
    return "private_key_jwt";
  }

  if (client.certificates.kind === "none" || (!hasX5c && client.keys.size > 0)) {
    throw reject.requiresKid(hasX5c ? "the client only accepts pre-registered keys" : "neither kid nor x5c in the header");
  }
  if (!hasX5c) throw reject.x5c("neither x5c nor kid in the header");
  const leaf = checkLeafCertificate(header.x5c, client, context.nowMs, context.trustedRoots);
  verifySignature(jws, alg, leaf.publicKey);
  return "virksomhetssertifikat";
}

/**
 * Parses x5c and checks the leaf: an RSA key of at least 2048 bits, valid now, trusted (a chain
 * to a trusted root) and issued to the client's organisation.
 * Without `trustedRoots` the leaf is checked only for the kid+x5c case (the kid's key decides).
 */
function checkLeafCertificate(
  x5c: unknown,
  client: RegisteredClient,
  nowMs: number,
  trustedRoots?: readonly X509Certificate[],
): X509Certificate {
  const parsed = parseX5c(x5c);
  if (!parsed.ok) throw reject.x5c(parsed.problem);
  const leaf = parsed.chain[0]!;
  const bits = leaf.publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
  if (leaf.publicKey.asymmetricKeyType !== "rsa" || bits < MIN_RSA_BITS) {
    throw reject.certificate(`the leaf key is not RSA of at least ${MIN_RSA_BITS} bits`);
  }
  if (!isWithinValidity(leaf, nowMs)) throw reject.certificate("the leaf certificate is outside its validity period");
  if (trustedRoots) {
    const problem = chainProblem(parsed.chain, trustedRoots, nowMs);
    if (problem) throw reject.certificate(problem);
  }
  const organisationNumber = organisationNumberOf(leaf);
  if (organisationNumber !== client.organisationNumber) {
    throw reject.organisationNumber(
      `certificate organisation ${organisationNumber ?? "(none)"} is not the client's ${client.organisationNumber}`,
    );
  }
  return leaf;
}

function sameKey(a: KeyObject, b: KeyObject): boolean {
  return a.export({ type: "spki", format: "der" }).equals(b.export({ type: "spki", format: "der" }));
}

function verifySignature(jws: DecodedJws, alg: GrantAlgorithm, key: KeyObject): void {
  if (!verifyRsaSignature(alg, jws.signingInput, jws.signature, key)) throw reject.signature(`the ${alg} signature does not verify`);
}

/** Returns exp in milliseconds. */
function checkTimes(claims: Record<string, unknown>, nowMs: number): number {
  const { iat, exp } = claims;
  if (typeof iat !== "number" || !Number.isFinite(iat)) throw reject.claim("iat", "iat is missing or not a number");
  if (typeof exp !== "number" || !Number.isFinite(exp)) throw reject.claim("exp", "exp is missing or not a number");
  if (exp * 1000 <= nowMs) throw reject.expired("exp is not after now");
  if (exp - iat > MAX_GRANT_LIFETIME_SECONDS) throw reject.lifetime(`exp - iat is ${exp - iat} s`);
  if (exp <= iat) throw reject.claim("exp", "exp is not after iat");
  if (iat * 1000 > nowMs + MAX_CLOCK_SKEW_MS) throw reject.issuedInFuture(`iat is ${(iat * 1000 - nowMs) / 1000} s ahead`);
  if (iat * 1000 < nowMs - MAX_CLOCK_SKEW_MS) throw reject.issuedTooEarly(`iat is ${(nowMs - iat * 1000) / 1000} s behind`);
  return exp * 1000;
}

function checkScopes(scope: unknown, client: RegisteredClient): string[] {
  if (scope === undefined) throw reject.noScope("scope is missing");
  if (typeof scope !== "string") throw reject.invalidParameter("scope is not a string");
  const scopes = [...new Set(scope.split(/\s+/).filter((s) => s.length > 0))];
  if (scopes.length === 0) throw reject.noScope("scope is empty");
  const invalid = scopes.filter((s) => !client.scopes.has(s));
  if (invalid.length > 0) throw reject.scope(invalid, `scopes not registered on the client: ${invalid.join(" ")}`);
  return scopes;
}

function checkResources(resource: unknown, client: RegisteredClient): string[] | undefined {
  if (resource === undefined) return undefined;
  // Digdir's grant page: resource "currently only array supported".
  const list = resource;
  if (!Array.isArray(list) || list.length === 0 || !list.every((r) => typeof r === "string" && r.length > 0)) {
    throw reject.invalidParameter(
      `resource is not a non-empty JSON array of strings${typeof resource === "string" ? " (a single string is not supported)" : ""}`,
    );
  }
  const invalid = (list as string[]).filter((r) => !client.allowedResources.has(r));
  if (invalid.length > 0) throw reject.resource(invalid, `resources not allowed for the client: ${invalid.join(" ")}`);
  return list as string[];
}

function checkConsumer(claims: Record<string, unknown>, client: RegisteredClient, scopes: readonly string[]): string | undefined {
  if ("consumer_org" in claims && "iss_onbehalfof" in claims) {
    throw reject.invalidParameter("consumer_org and iss_onbehalfof are mutually exclusive");
  }
  const onBehalfOf = claims.iss_onbehalfof;
  if (onBehalfOf !== undefined && (typeof onBehalfOf !== "string" || onBehalfOf.length === 0)) {
    throw reject.invalidParameter("iss_onbehalfof is not a non-empty string");
  }
  const consumerOrg = claims.consumer_org;
  if (consumerOrg === undefined) return undefined;
  if (typeof consumerOrg !== "string" || !ORGANISATION_NUMBER.test(consumerOrg)) {
    throw reject.invalidParameter("consumer_org is not a 9-digit organisation number");
  }
  if (consumerOrg === client.organisationNumber) throw reject.consumerIsSupplier("consumer_org is the client's own organisation");
  const delegated = client.delegations.get(consumerOrg);
  if (!client.consumerOrgs.has(consumerOrg) && !(delegated && scopes.every((scope) => delegated.has(scope)))) {
    throw reject.notDelegated(consumerOrg, scopes, client.organisationNumber, "consumer_org has not delegated to this client");
  }
  return consumerOrg;
}

function checkPid(pid: unknown): string | undefined {
  if (pid === undefined) return undefined;
  if (typeof pid !== "string" || !NATIONAL_IDENTITY_NUMBER.test(pid))
    throw reject.invalidParameter("pid is not an 11-digit identity number");
  return pid;
}

const AUTHORIZATION_DETAIL_FIELDS: Record<string, ReadonlySet<string>> = {
  "urn:altinn:systemuser": new Set(["type", "systemuser_org", "externalRef"]),
  "urn:altinn:consent": new Set(["type", "id", "from"]),
};
const ISO6523_ORGANISATION = /^0192:(\d{9})$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CONSENT_FROM = /^urn:altinn:(person:identifier-no:\d{11}|organization:identifier-no:\d{9})$/;

function checkAuthorizationDetails(details: unknown, client: RegisteredClient): Record<string, unknown>[] | undefined {
  if (details === undefined) return undefined;
  if (!Array.isArray(details) || details.length === 0) throw reject.invalidParameter("authorization_details is not a non-empty array");
  // Digdir: a system-user token is asked for one party at a time.
  if (details.length > 1) throw reject.authorizationDetailsValues("only one authorization detail per grant");
  const detail: unknown = details[0];
  if (typeof detail !== "object" || detail === null || Array.isArray(detail)) {
    throw reject.invalidParameter("an authorization detail is not an object");
  }
  const fields = detail as Record<string, unknown>;
  const allowed = typeof fields.type === "string" ? AUTHORIZATION_DETAIL_FIELDS[fields.type] : undefined;
  if (!allowed) throw reject.authorizationDetailsType(`type ${JSON.stringify(fields.type)} is not supported`);
  const unknown = Object.keys(fields).filter((name) => !allowed.has(name));
  if (unknown.length > 0) throw reject.authorizationDetailsFields(`unknown fields: ${unknown.join(", ")}`);

  if (fields.type === "urn:altinn:systemuser") {
    const org = fields.systemuser_org as Record<string, unknown> | undefined;
    const match = typeof org?.ID === "string" ? ISO6523_ORGANISATION.exec(org.ID) : null;
    if (!org || typeof org !== "object" || org.authority !== "iso6523-actorid-upis" || !match || Object.keys(org).length !== 2) {
      throw reject.authorizationDetailsValues("systemuser_org must be {authority: iso6523-actorid-upis, ID: 0192:<9 digits>}");
    }
    if (fields.externalRef !== undefined && (typeof fields.externalRef !== "string" || fields.externalRef.length === 0)) {
      throw reject.authorizationDetailsValues("externalRef must be a non-empty string");
    }
    if (client.systemUserOrgs && !client.systemUserOrgs.has(match[1]!)) {
      throw reject.authorizationDetailsValues(`no system user for this client at organisation ${match[1]}`);
    }
    if (client.systemUsers) {
      const byRef = client.systemUsers.get(match[1]!);
      const externalRef = (fields.externalRef as string | undefined) ?? match[1]!;
      if (!byRef) throw reject.altinnCustomerConfiguration(`no system user for this client at organisation ${match[1]}`);
      if (!byRef.has(externalRef)) throw reject.altinnCustomerConfiguration(`the system user at ${match[1]} has another externalRef`);
    }
  } else {
    if (typeof fields.id !== "string" || !UUID.test(fields.id)) throw reject.authorizationDetailsValues("consent id must be a UUID");
    if (typeof fields.from !== "string" || !CONSENT_FROM.test(fields.from)) {
      throw reject.authorizationDetailsValues("consent from must be an Altinn person or organization URN");
    }
  }
  return [fields];
}
