/**
 * RS256 signature check of a compact JWS with node:crypto, synchronously. jose (6.x) verifies
 * through WebCrypto even when handed a KeyObject: `crypto.subtle.verify` queues the RSA operation
 * on libuv's thread pool and resolves a promise, which on a busy 2-core host costs 2–3× the
 * verification itself (see README, Performance). The keys still come from jose's remote key set
 * and the claims are still checked by jose; only the signature check moves here.
 */
import { KeyObject, verify } from "node:crypto";

/** jose's minimum for RS* keys, kept. */
const MIN_RSA_MODULUS_BITS = 2048;
/** Per key from the key set: its KeyObject when usable for RS256, else null (checked once: the details getter is not free). */
const verificationKeys = new WeakMap<object, KeyObject | null>();

/**
 * The KeyObject for a key from the key set (a CryptoKey, as jose's remote key set gives), made and
 * checked once per key object: a refetched key set gives new CryptoKeys, so withdrawn keys drop
 * out with it. Undefined when the key is not an RSA public key of at least 2048 bits.
 */
export function rsaVerificationKey(key: unknown): KeyObject | undefined {
  if (typeof key !== "object" || key === null) return undefined;
  let known = verificationKeys.get(key);
  if (known === undefined) {
    known = usableRsaKey(key);
    verificationKeys.set(key, known);
  }
  return known ?? undefined;
}

function usableRsaKey(key: object): KeyObject | null {
  let keyObject: KeyObject;
  try {
    keyObject = key instanceof KeyObject ? key : KeyObject.from(key as Parameters<typeof KeyObject.from>[0]);
  } catch {
    return null;
  }
  const details = keyObject.asymmetricKeyDetails;
  if (keyObject.type !== "public" || keyObject.asymmetricKeyType !== "rsa" || (details?.modulusLength ?? 0) < MIN_RSA_MODULUS_BITS) {
    return null;
  }
  return keyObject;
}

/**
 * RSASSA-PKCS1-v1_5 with SHA-256 over `header.payload`, as RFC 7515 defines RS256. The caller has
 * checked the token is three base64url segments (parseBearerToken) and its header says RS256.
 */
export function hasValidRs256Signature(token: string, key: KeyObject): boolean {
  const lastDot = token.lastIndexOf(".");
  const signature = Buffer.from(token.slice(lastDot + 1), "base64url");
  try {
    return verify("sha256", Buffer.from(token.slice(0, lastDot), "latin1"), key, signature);
  } catch {
    return false;
  }
}
