/**
 * Mints access tokens with the claims Digdir documents for Maskinporten tokens ("The access
 * token", "Delegering i Maskinporten", "Systembruker"): a JWT signed RS256 with the stand-in's
 * key, or an opaque reference string. Remembers what it issued so tests can check a token.
 */
import { createHash, createPublicKey, generateKeyPairSync, randomBytes, sign, verify, type JsonWebKey, type KeyObject } from "node:crypto";
import type { AcceptedGrant } from "./grant-validator.js";
import { decodeCompactJws } from "./jws.js";
import type { AccessTokenClaims } from "./types.js";

const ISO6523 = "iso6523-actorid-upis";
/** Altinn's test environment, where delegations for Maskinporten's test issuer live. */
const DELEGATION_SOURCE = "https://tt02.altinn.no/";
/** Opaque tokens are remembered this long past their expiry, then forgotten. */
const OPAQUE_RETENTION_MS = 3_600_000;

export interface MintedToken {
  accessToken: string;
  claims: AccessTokenClaims;
  format: "jwt" | "opaque";
}

export interface TokenIssuer {
  /** Public JWK (with kid, alg, use) of the signing key. */
  readonly publicJwk: JsonWebKey;
  mint(grant: AcceptedGrant, nowMs: number): MintedToken;
  /** Claims of a token this issuer minted, else undefined. Expiry is not checked. */
  verify(token: string): AccessTokenClaims | undefined;
}

export function createTokenIssuer(issuer: string, signingKey?: KeyObject): TokenIssuer {
  const privateKey = signingKey ?? generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  const publicKey = createPublicKey(privateKey);
  if (publicKey.asymmetricKeyType !== "rsa") throw new TypeError("the stand-in's signing key must be RSA");
  const { n, e } = publicKey.export({ format: "jwk" });
  const kid = rfc7638Thumbprint(n!, e!);
  const publicJwk: JsonWebKey = { kty: "RSA", e: e!, use: "sig", kid, alg: "RS256", n: n! };
  const encodedHeader = base64UrlJson({ kid, alg: "RS256" });
  const opaqueTokens = new Map<string, AccessTokenClaims>();
  let mintedSincePrune = 0;

  function mint(grant: AcceptedGrant, nowMs: number): MintedToken {
    const claims = accessTokenClaims(issuer, grant, nowMs);
    if (grant.client.tokenFormat === "opaque") {
      // Shaped like Digdir's documented example: 32 random bytes, base64url, padded.
      const accessToken = `${randomBytes(32).toString("base64url")}=`;
      opaqueTokens.set(accessToken, claims);
      if (++mintedSincePrune >= 1_000) pruneOpaque(nowMs);
      return { accessToken, claims, format: "opaque" };
    }
    const signingInput = `${encodedHeader}.${base64UrlJson(claims)}`;
    const signature = sign("sha256", Buffer.from(signingInput, "ascii"), privateKey).toString("base64url");
    return { accessToken: `${signingInput}.${signature}`, claims, format: "jwt" };
  }

  function pruneOpaque(nowMs: number): void {
    mintedSincePrune = 0;
    for (const [token, claims] of opaqueTokens) {
      if (claims.exp * 1000 + OPAQUE_RETENTION_MS < nowMs) opaqueTokens.delete(token);
    }
  }

  function verifyToken(token: string): AccessTokenClaims | undefined {
    const opaque = opaqueTokens.get(token);
    if (opaque) return structuredClone(opaque);
    const decoded = decodeCompactJws(token);
    if (!decoded.ok || decoded.jws.header.kid !== kid || decoded.jws.header.alg !== "RS256") return undefined;
    const valid = verify("sha256", Buffer.from(decoded.jws.signingInput, "ascii"), publicKey, decoded.jws.signature);
    return valid && decoded.jws.claims.iss === issuer ? (decoded.jws.claims as AccessTokenClaims) : undefined;
  }

  return { publicJwk, mint, verify: verifyToken };
}

function accessTokenClaims(issuer: string, grant: AcceptedGrant, nowMs: number): AccessTokenClaims {
  const { client } = grant;
  const iat = Math.floor(nowMs / 1000);
  const consumer = grant.consumerOrg ?? client.organisationNumber;
  const claims: AccessTokenClaims = {
    iss: issuer,
    client_amr: grant.clientAmr,
    token_type: "Bearer",
    // Digdir: "unspecified" when the grant asked for no resource (audience restriction).
    aud: grant.resources ? (grant.resources.length === 1 ? grant.resources[0] : grant.resources) : "unspecified",
    scope: grant.scopes.join(" "),
    client_id: client.clientId,
    consumer: { authority: ISO6523, ID: `0192:${consumer}` },
    iat,
    exp: iat + client.tokenLifetimeSeconds,
    jti: randomBytes(32).toString("base64url"),
  };
  if (grant.consumerOrg) {
    claims.supplier = { authority: ISO6523, ID: `0192:${client.organisationNumber}` };
    claims.delegation_source = DELEGATION_SOURCE;
    claims.client_orgno = client.organisationNumber;
  }
  if (grant.pid) claims.pid = grant.pid;
  if (grant.authorizationDetails) {
    claims.authorization_details = grant.authorizationDetails.map((detail) => tokenAuthorizationDetail(detail, grant, nowMs));
  }
  return claims;
}

/** What the token says for a requested authorization detail (Digdir/Altinn examples). */
function tokenAuthorizationDetail(detail: Record<string, unknown>, grant: AcceptedGrant, nowMs: number): Record<string, unknown> {
  const { client } = grant;
  if (detail.type === "urn:altinn:systemuser") {
    const org = detail.systemuser_org as { ID: string };
    return {
      type: detail.type,
      systemuser_id: [stableUuid(`${client.clientId}\u0000${org.ID}`)],
      systemuser_org: { authority: ISO6523, ID: org.ID },
      system_id: `${client.organisationNumber}_${client.clientId}`,
    };
  }
  return {
    type: detail.type,
    id: detail.id,
    from: detail.from,
    to: { authority: ISO6523, ID: `0192:${grant.consumerOrg ?? client.organisationNumber}` },
    consented: new Date(nowMs).toISOString(),
    validTo: new Date(nowMs + 365 * 86_400_000).toISOString(),
    consentRights: [],
  };
}

/** The same system user id every time for the same client and customer, like Altinn's registry. */
function stableUuid(seed: string): string {
  const hex = createHash("sha256").update(seed).digest("hex");
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function rfc7638Thumbprint(n: string, e: string): string {
  return createHash("sha256")
    .update(JSON.stringify({ e, kty: "RSA", n }))
    .digest("base64url");
}

function base64UrlJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value), "utf8").toString("base64url");
}
