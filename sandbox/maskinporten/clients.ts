/**
 * Client registrations as the validator needs them: checked once when registered, keys turned
 * into public KeyObjects, lists into sets.
 */
import { createHash, createPublicKey, KeyObject, X509Certificate, type JsonWebKey } from "node:crypto";
import type { ClientRegistration, RegisteredKey } from "./types.js";

const ORGANISATION_NUMBER = /^\d{9}$/;

export type CertificatePolicy =
  | { kind: "any-trusted" }
  /** A client with pre-registered keys (or certificates) only: every grant must name a kid. */
  | { kind: "none" };

/**
 * The kid under which a certificate registered on a client (a client "locked" to it) is listed:
 * base64url SHA-256 of its DER (as `x5t#S256`). Digdir: kid "can and must be used by clients
 * having a pre-registered certificate", so such a client refuses x5c-only grants.
 */
export function registeredCertificateKid(der: Buffer): string {
  return createHash("sha256").update(der).digest("base64url");
}

export interface RegisteredClient {
  clientId: string;
  organisationNumber: string;
  scopes: ReadonlySet<string>;
  tokenLifetimeSeconds: number;
  certificates: CertificatePolicy;
  keys: ReadonlyMap<string, KeyObject>;
  allowedResources: ReadonlySet<string>;
  consumerOrgs: ReadonlySet<string>;
  systemUserOrgs: ReadonlySet<string> | undefined;
  delegations: ReadonlyMap<string, ReadonlySet<string>>;
  /** customer → externalRef (defaulted to the customer) → system id. */
  systemUsers: ReadonlyMap<string, ReadonlyMap<string, string>> | undefined;
  tokenFormat: "jwt" | "opaque";
}

/** Throws a TypeError for a registration a test wrote wrongly; nothing here is a grant problem. */
export function normaliseRegistration(registration: ClientRegistration): RegisteredClient {
  const { clientId, organisationNumber } = registration;
  const wrong = (what: string) => new TypeError(`registerClient(${JSON.stringify(clientId)}): ${what}`);
  if (typeof clientId !== "string" || clientId.length === 0) throw wrong("clientId must be a non-empty string");
  if (!ORGANISATION_NUMBER.test(organisationNumber)) throw wrong("organisationNumber must be 9 digits");
  const lifetime = registration.tokenLifetimeSeconds ?? 120;
  if (!Number.isInteger(lifetime) || lifetime < 1) throw wrong("tokenLifetimeSeconds must be a positive integer");
  for (const org of [...(registration.consumerOrgs ?? []), ...(registration.systemUserOrgs ?? [])]) {
    if (!ORGANISATION_NUMBER.test(org)) throw wrong(`${JSON.stringify(org)} is not a 9-digit organisation number`);
  }

  const delegations = new Map<string, ReadonlySet<string>>();
  for (const [customer, scopes] of Object.entries(registration.delegations ?? {})) {
    if (!ORGANISATION_NUMBER.test(customer)) throw wrong(`delegation from ${JSON.stringify(customer)}: not a 9-digit organisation number`);
    delegations.set(customer, new Set(scopes));
  }
  let systemUsers: Map<string, Map<string, string>> | undefined;
  if (registration.systemUsers) {
    systemUsers = new Map();
    for (const user of registration.systemUsers) {
      if (!ORGANISATION_NUMBER.test(user.customer))
        throw wrong(`system user at ${JSON.stringify(user.customer)}: not a 9-digit organisation number`);
      const byRef = systemUsers.get(user.customer) ?? new Map<string, string>();
      byRef.set(user.externalRef ?? user.customer, user.systemId);
      systemUsers.set(user.customer, byRef);
    }
  }

  const keys = new Map<string, KeyObject>();
  for (const [kid, key] of Object.entries(registration.keys ?? {})) {
    const publicKey = toPublicKey(key);
    if (publicKey.asymmetricKeyType !== "rsa") throw wrong(`key ${JSON.stringify(kid)} is not an RSA key`);
    keys.set(kid, publicKey);
  }

  let certificates: CertificatePolicy;
  if (Array.isArray(registration.certificates)) {
    for (const der of registration.certificates) keys.set(registeredCertificateKid(der), new X509Certificate(der).publicKey);
    certificates = { kind: "none" };
  } else if (registration.certificates === "any-trusted" || keys.size === 0) {
    certificates = { kind: "any-trusted" };
  } else {
    certificates = { kind: "none" };
  }

  return {
    clientId,
    organisationNumber,
    scopes: new Set(registration.scopes),
    tokenLifetimeSeconds: lifetime,
    certificates,
    keys,
    allowedResources: new Set(registration.allowedResources ?? []),
    consumerOrgs: new Set(registration.consumerOrgs ?? []),
    systemUserOrgs: registration.systemUserOrgs ? new Set(registration.systemUserOrgs) : undefined,
    delegations,
    systemUsers,
    tokenFormat: registration.tokenFormat ?? "jwt",
  };
}

function toPublicKey(key: RegisteredKey): KeyObject {
  if (key instanceof KeyObject) return key.type === "public" ? key : createPublicKey(key);
  // Only the public members: a private JWK handed in by mistake must not make a private key here.
  const publicMembers: JsonWebKey = {
    ...(key.kty !== undefined ? { kty: key.kty } : {}),
    ...(key.n !== undefined ? { n: key.n } : {}),
    ...(key.e !== undefined ? { e: key.e } : {}),
  };
  return createPublicKey({ key: publicMembers, format: "jwk" });
}
