/**
 * Compact JWS decoding and RSA signature checks, written out with node:crypto rather than a JOSE
 * library on purpose: the stand-in is the peer our grant code is tested against, so it must not
 * share a library's leniencies (or bugs) with the code under test.
 */
import { constants, verify, type KeyObject } from "node:crypto";
import { parseStrictJsonObject } from "./strict-json.js";

/** The only algorithms Maskinporten accepts for grants. */
export const GRANT_ALGORITHMS = ["RS256", "RS384", "RS512"] as const;
export type GrantAlgorithm = (typeof GRANT_ALGORITHMS)[number];

const HASH_OF: Record<GrantAlgorithm, string> = { RS256: "sha256", RS384: "sha384", RS512: "sha512" };

export function isGrantAlgorithm(value: unknown): value is GrantAlgorithm {
  return typeof value === "string" && (GRANT_ALGORITHMS as readonly string[]).includes(value);
}

export interface DecodedJws {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  /** ASCII `header.payload`, what the signature covers. */
  signingInput: string;
  signature: Buffer;
}

export type DecodeResult = { ok: true; jws: DecodedJws } | { ok: false; problem: string; header?: Record<string, unknown> };

const BASE64URL = /^[A-Za-z0-9_-]*$/;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Strict base64url (RFC 7515 §2: no padding, no other alphabet, canonical trailing bits). */
export function decodeBase64Url(segment: string): Buffer | undefined {
  if (!BASE64URL.test(segment) || segment.length % 4 === 1) return undefined;
  const bytes = Buffer.from(segment, "base64url");
  return bytes.toString("base64url") === segment ? bytes : undefined;
}

export function decodeCompactJws(assertion: string): DecodeResult {
  const parts = assertion.split(".");
  if (parts.length !== 3) return { ok: false, problem: `a compact JWS has 3 parts, this has ${parts.length}` };
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];

  const header = decodeJsonPart(headerPart, "header");
  if (!header.ok) return header;
  const claims = decodeJsonPart(payloadPart, "payload");
  if (!claims.ok) return { ...claims, header: header.value };
  const signature = decodeBase64Url(signaturePart);
  if (signature === undefined) return { ok: false, problem: "signature is not base64url", header: header.value };

  return {
    ok: true,
    jws: { header: header.value, claims: claims.value, signingInput: `${headerPart}.${payloadPart}`, signature },
  };
}

function decodeJsonPart(segment: string, name: string): { ok: true; value: Record<string, unknown> } | { ok: false; problem: string } {
  const bytes = decodeBase64Url(segment);
  if (bytes === undefined || bytes.length === 0) return { ok: false, problem: `${name} is not base64url` };
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { ok: false, problem: `${name} is not UTF-8` };
  }
  const parsed = parseStrictJsonObject(text);
  return parsed.ok ? { ok: true, value: parsed.value } : { ok: false, problem: `${name} is ${parsed.problem}` };
}

/** RSASSA-PKCS1-v1_5 with the algorithm's hash; false for a non-RSA key or a wrong signature. */
export function verifyRsaSignature(alg: GrantAlgorithm, signingInput: string, signature: Buffer, publicKey: KeyObject): boolean {
  if (publicKey.asymmetricKeyType !== "rsa") return false;
  try {
    return verify(HASH_OF[alg], Buffer.from(signingInput, "ascii"), { key: publicKey, padding: constants.RSA_PKCS1_PADDING }, signature);
  } catch {
    return false;
  }
}
