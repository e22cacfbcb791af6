import { createHmac, createPublicKey } from "node:crypto";
import { expect } from "vitest";
import { BrokerError, ErrorCode } from "../../src/errors.js";
import { CallerAuthError, type AuthFailureReason } from "../../src/auth/auth-error.js";
import { createCallerVerifier, type CallerVerifierOptions } from "../../src/auth/verifier.js";
import type { EntraStandIn } from "../../sandbox/entra/standin.js";

export const OTHER_TENANT = "9d3c5b1a-0e2f-4a6b-8c7d-1e2f3a4b5c6d";
export const PROFILE_ROLE = "Token.Read.skatteetaten";
export const OTHER_PROFILE_ROLE = "Token.Read.altinn";

export function verifierFor(standIn: EntraStandIn, overrides: Partial<CallerVerifierOptions> = {}) {
  return createCallerVerifier({
    tenantId: standIn.tenantId,
    audiences: [standIn.audience, ...standIn.audienceUris],
    authorityHost: standIn.authorityHost,
    keySetFetch: standIn.fetch,
    ...overrides,
  });
}

export async function mintOverHttp(standIn: EntraStandIn, body: Record<string, unknown>): Promise<string> {
  const response = await standIn.fetch(standIn.mintUrl, { method: "POST", body: JSON.stringify(body) });
  expect(response.status).toBe(200);
  const json = (await response.json()) as { access_token: string };
  return json.access_token;
}

export async function clientCredentialsToken(
  standIn: EntraStandIn,
  client: { clientId: string; clientSecret: string },
  scope = `${standIn.audienceUris[0]}/.default`,
): Promise<string> {
  const response = await standIn.fetch(standIn.tokenUrl, {
    method: "POST",
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: client.clientId, client_secret: client.clientSecret, scope }),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

/** Awaits a rejection and checks it is the 401-class error with the expected reason. */
export async function expectUnauthenticated(promise: Promise<unknown>, reason?: AuthFailureReason): Promise<CallerAuthError> {
  const error = await promise.then(
    () => {
      throw new Error("expected the caller to be refused, but it was accepted");
    },
    (rejection: unknown) => rejection,
  );
  expect(error).toBeInstanceOf(CallerAuthError);
  const authError = error as CallerAuthError;
  expect(authError.code).toBe(ErrorCode.Unauthenticated);
  if (reason !== undefined) expect(authError.reason).toBe(reason);
  return authError;
}

export function isUnauthenticated(error: unknown): boolean {
  return error instanceof BrokerError && error.code === ErrorCode.Unauthenticated;
}

export function segments(token: string): [string, string, string] {
  const [header, payload, signature] = token.split(".");
  if (header === undefined || payload === undefined || signature === undefined) throw new Error("not a JWS");
  return [header, payload, signature];
}

export function encodeJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value), "utf8").toString("base64url");
}

export function decodeJson(segment: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(segment, "base64url").toString("utf8")) as Record<string, unknown>;
}

/** The classic confusion attack: HS256 keyed with the RSA public key, as PEM, under the real kid. */
export async function hs256WithPublicKey(standIn: EntraStandIn, claims: Record<string, unknown>): Promise<string> {
  const jwks = (await (await standIn.fetch(standIn.jwksUri)).json()) as { keys: Array<{ kid: string; x5c: string[] }> };
  const jwk = jwks.keys.find((key) => key.kid === standIn.currentKid);
  if (jwk === undefined || jwk.x5c[0] === undefined) throw new Error("current key not published");
  const certificatePem = `-----BEGIN CERTIFICATE-----\n${jwk.x5c[0]}\n-----END CERTIFICATE-----\n`;
  const publicPem = createPublicKey(certificatePem).export({ type: "spki", format: "pem" }).toString();
  const signingInput = `${encodeJson({ typ: "JWT", alg: "HS256", kid: standIn.currentKid })}.${encodeJson(claims)}`;
  return `${signingInput}.${createHmac("sha256", publicPem).update(signingInput).digest("base64url")}`;
}

/** Claims of a valid caller token, for hand-made hostile tokens. */
export function validClaims(standIn: EntraStandIn, nowSeconds: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iss: standIn.issuer,
    aud: standIn.audience,
    tid: standIn.tenantId,
    iat: nowSeconds,
    nbf: nowSeconds,
    exp: nowSeconds + 3600,
    azp: standIn.defaultCallerAppId,
    ver: "2.0",
    roles: [PROFILE_ROLE],
    ...extra,
  };
}
