/**
 * Token identity. A token is only the right token for a profile if it was issued for the profile's
 * current grant-shaping settings; its expiry says nothing about that. The fingerprint is a digest
 * of those settings: stored as the token secret's `fingerprint` tag (README "Contracts"), compared
 * before a stored or held token is served, adopted or preferred.
 *
 * To make another setting part of a token's identity (per-customer fields, say), add it to the object `grantShapeOf` builds (or spread that object and add it, as a
 * per-customer key does): everything in that object, and only that, is fingerprinted.
 * Pure apart from hashing.
 */
import { createHash, scryptSync } from "node:crypto";
import type { TokenProfile } from "../config/domain.js";

/** JSON-like values: what a grant shape may hold. */
export type ShapeValue = string | number | boolean | null | readonly ShapeValue[] | { readonly [key: string]: ShapeValue | undefined };
export type GrantShape = { readonly [key: string]: ShapeValue | undefined };

/**
 * Every setting that decides what token Maskinporten issues. Signing (certificate, kid, alg) is
 * left out on purpose: another key for the same client gets the same token, and a certificate
 * renewal must not throw away a valid one.
 */
export function grantShapeOf(profile: TokenProfile): GrantShape {
  const resources = profile.resource === undefined ? [] : [profile.resource].flat();
  return {
    issuer: profile.issuer,
    clientId: profile.clientId,
    // Sets for Maskinporten: order and repeats do not change the token.
    scopes: sortedUnique(profile.scopes),
    resource: sortedUnique(resources),
    consumerOrg: profile.consumerOrg ?? null,
    pid: profile.pid ?? null,
    issOnBehalfOf: profile.issOnBehalfOf ?? null,
    authorizationDetails: (profile.authorizationDetails ?? []) as ShapeValue,
    // The Altinn exchange request URL (with `?test=true` when asked): an Altinn token for one target
    // is not the token of a profile that serves another, nor a Maskinporten token.
    altinnExchange: profile.altinn?.url ?? null,
    // Per-customer keys spread this object and add customer and externalRef.
  };
}

/**
 * Canonical JSON: object keys sorted at every depth, `undefined` members dropped, arrays in
 * order. Two shapes that mean the same thing encode to the same text.
 */
export function canonicalJson(value: ShapeValue | undefined): string {
  if (value === undefined || value === null) return "null";
  if (Array.isArray(value)) return `[${value.map((item: ShapeValue) => canonicalJson(item)).join(",")}]`;
  if (typeof value === "object") {
    const object = value as { readonly [key: string]: ShapeValue | undefined };
    const members = Object.keys(object)
      .filter((key) => object[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(object[key])}`);
    return `{${members.join(",")}}`;
  }
  return JSON.stringify(value);
}

/** Bump when the encoding changes: every stored token is then re-issued once. */
const FINGERPRINT_VERSION = "v1";
/**
 * A plain digest of a shape holding an 11-digit national identity number could be reversed by
 * anyone who may read secret tags (Key Vault Reader) by trying every number, so such a shape is
 * stretched with scrypt first (computed once per profile and process, 0.1-0.3 s).
 */
const PERSONAL_FIELDS = ["pid"] as const;
const SCRYPT = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;

/** `v1.` + base64url SHA-256 (43 characters) of the canonical encoding of `shape`. */
export function fingerprintOf(shape: GrantShape): string {
  const canonical = canonicalJson(shape);
  const personal = PERSONAL_FIELDS.some((field) => shape[field] !== undefined && shape[field] !== null);
  const input = personal ? scryptSync(canonical, `maskinporten-broker fingerprint ${FINGERPRINT_VERSION}`, 32, SCRYPT) : canonical;
  return `${FINGERPRINT_VERSION}.${createHash("sha256").update(input).digest("base64url")}`;
}

const byProfile = new WeakMap<TokenProfile, string>();

/** The fingerprint of a profile's current settings (memoised per profile object). */
export function profileFingerprint(profile: TokenProfile): string {
  let fingerprint = byProfile.get(profile);
  if (fingerprint === undefined) {
    fingerprint = fingerprintOf(grantShapeOf(profile));
    byProfile.set(profile, fingerprint);
  }
  return fingerprint;
}

function sortedUnique(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}
