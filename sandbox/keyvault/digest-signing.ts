/**
 * Signing a *digest* the way Key Vault's `sign` operation does. node:crypto's `sign()` always
 * hashes its input, so the padding is built here and only the raw RSA private operation is left
 * to `privateEncrypt`: PKCS#1 v1.5 (RS*) via DigestInfo + RSA_PKCS1_PADDING (block type 1), and
 * PSS (PS*, salt length = hash length as Key Vault uses) via EMSA-PSS + RSA_NO_PADDING.
 */
import { constants, createHash, privateEncrypt, randomBytes, type KeyObject } from "node:crypto";

export const DIGEST_SIGNING_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"] as const;
export type DigestSigningAlgorithm = (typeof DIGEST_SIGNING_ALGORITHMS)[number];

export function isDigestSigningAlgorithm(value: unknown): value is DigestSigningAlgorithm {
  return typeof value === "string" && (DIGEST_SIGNING_ALGORITHMS as readonly string[]).includes(value);
}

interface HashSpec {
  name: "sha256" | "sha384" | "sha512";
  length: number;
  /** DER of DigestInfo up to (not including) the digest octets, RFC 8017 §9.2 note 1. */
  digestInfoPrefix: Buffer;
}

const HASHES: Record<"256" | "384" | "512", HashSpec> = {
  "256": { name: "sha256", length: 32, digestInfoPrefix: Buffer.from("3031300d060960864801650304020105000420", "hex") },
  "384": { name: "sha384", length: 48, digestInfoPrefix: Buffer.from("3041300d060960864801650304020205000430", "hex") },
  "512": { name: "sha512", length: 64, digestInfoPrefix: Buffer.from("3051300d060960864801650304020305000440", "hex") },
};

export function hashFor(algorithm: DigestSigningAlgorithm): HashSpec {
  return HASHES[algorithm.slice(2) as "256" | "384" | "512"];
}

/** Signs `digest` (already hashed with the algorithm's hash) with an RSA private key. */
export function signDigest(privateKey: KeyObject, algorithm: DigestSigningAlgorithm, digest: Buffer): Buffer {
  const hash = hashFor(algorithm);
  if (digest.length !== hash.length) {
    throw new RangeError(`digest must be ${hash.length} bytes for ${algorithm}, got ${digest.length}`);
  }
  if (algorithm.startsWith("RS")) {
    return privateEncrypt({ key: privateKey, padding: constants.RSA_PKCS1_PADDING }, Buffer.concat([hash.digestInfoPrefix, digest]));
  }
  const modulusBits = privateKey.asymmetricKeyDetails?.modulusLength;
  if (!modulusBits) throw new TypeError("not an RSA private key");
  const encoded = emsaPssEncode(digest, modulusBits - 1, hash);
  // RSA_NO_PADDING wants exactly the modulus length; EM is one byte shorter when modBits ≡ 1 (mod 8).
  const modulusBytes = Math.ceil(modulusBits / 8);
  const block = Buffer.concat([Buffer.alloc(modulusBytes - encoded.length), encoded]);
  return privateEncrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, block);
}

/** EMSA-PSS-ENCODE (RFC 8017 §9.1.1) over a precomputed mHash, MGF1 with the same hash. */
function emsaPssEncode(mHash: Buffer, emBits: number, hash: HashSpec): Buffer {
  const hLen = hash.length;
  const sLen = hLen;
  const emLen = Math.ceil(emBits / 8);
  if (emLen < hLen + sLen + 2) throw new RangeError("RSA key too small for PSS with this hash");
  const salt = randomBytes(sLen);
  const h = createHash(hash.name)
    .update(Buffer.concat([Buffer.alloc(8), mHash, salt]))
    .digest();
  const db = Buffer.concat([Buffer.alloc(emLen - sLen - hLen - 2), Buffer.from([0x01]), salt]);
  const mask = mgf1(h, emLen - hLen - 1, hash.name);
  for (let i = 0; i < db.length; i++) db[i] = (db[i] ?? 0) ^ (mask[i] ?? 0);
  db[0] = (db[0] ?? 0) & (0xff >> (8 * emLen - emBits));
  return Buffer.concat([db, h, Buffer.from([0xbc])]);
}

function mgf1(seed: Buffer, length: number, hashName: HashSpec["name"]): Buffer {
  const blocks: Buffer[] = [];
  let produced = 0;
  for (let counter = 0; produced < length; counter++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    const block = createHash(hashName).update(seed).update(c).digest();
    blocks.push(block);
    produced += block.length;
  }
  return Buffer.concat(blocks).subarray(0, length);
}
