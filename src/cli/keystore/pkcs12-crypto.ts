/**
 * The password-based crypto of PKCS#12 files with node:crypto: the PKCS#12 KDF (RFC 7292 B.2) for
 * the MAC and the pbeWithSHAAnd3-KeyTripleDES-CBC scheme, and PBES2 (PBKDF2 + AES/3DES, RFC 8018)
 * that OpenSSL 3 and keytool write. node-forge did these in JavaScript: PBKDF2 with 10,000
 * iterations and the KDF's 2,048 hash rounds were most of a keystore run of the CLI. RC2-40 (legacy
 * certificate safes) is not in Node's OpenSSL 3 default provider: keystore-pkcs12.ts keeps forge
 * for what `decryptNatively` does not take.
 */
import { createDecipheriv, createHash, hash, pbkdf2Sync } from "node:crypto";

export const PBE_OID = {
  sha1And3KeyTripleDesCbc: "1.2.840.113549.1.12.1.3",
  pbes2: "1.2.840.113549.1.5.13",
  pbkdf2: "1.2.840.113549.1.5.12",
} as const;

/** Hash → block size v (RFC 7292 B.2), for the digests PKCS#12 MACs use. */
const BLOCK_BYTES: Record<string, number> = { sha1: 64, sha224: 64, sha256: 64, sha384: 128, sha512: 128 };
const DIGEST_BYTES: Record<string, number> = { sha1: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64 };

/** hmacWithSHA* OIDs (PBKDF2's prf) → Node digest names; hmacWithSHA1 is PBKDF2's default. */
const PRF_DIGESTS: Record<string, string> = {
  "1.2.840.113549.2.7": "sha1",
  "1.2.840.113549.2.8": "sha224",
  "1.2.840.113549.2.9": "sha256",
  "1.2.840.113549.2.10": "sha384",
  "1.2.840.113549.2.11": "sha512",
};

/** PBES2 encryption schemes → Node cipher name and key length. */
const PBES2_CIPHERS: Record<string, { cipher: string; keyBytes: number }> = {
  "2.16.840.1.101.3.4.1.2": { cipher: "aes-128-cbc", keyBytes: 16 },
  "2.16.840.1.101.3.4.1.22": { cipher: "aes-192-cbc", keyBytes: 24 },
  "2.16.840.1.101.3.4.1.42": { cipher: "aes-256-cbc", keyBytes: 32 },
  "1.2.840.113549.3.7": { cipher: "des-ede3-cbc", keyBytes: 24 },
};

/**
 * RFC 7292 B.2: `id` 1 = key, 2 = IV, 3 = MAC key. The password is a BMPString (UTF-16BE of each
 * UTF-16 code unit, as Java and forge encode it) with a two-byte terminator.
 */
export function pkcs12Kdf(password: string, salt: Buffer, id: 1 | 2 | 3, iterations: number, length: number, digest: string): Buffer {
  const v = BLOCK_BYTES[digest];
  const u = DIGEST_BYTES[digest];
  if (v === undefined || u === undefined) throw new Error(`unsupported PKCS#12 KDF digest ${digest}`);
  if (!(iterations >= 1)) throw new Error("PKCS#12 key derivation iteration count must be >= 1");
  const passwordBytes = Buffer.alloc(password.length * 2 + 2);
  for (let i = 0; i < password.length; i++) passwordBytes.writeUInt16BE(password.charCodeAt(i), i * 2);
  const repeatTo = (bytes: Buffer, size: number) => {
    const out = Buffer.alloc(size);
    for (let i = 0; i < size; i++) out[i] = bytes[i % bytes.length]!;
    return out;
  };
  const D = Buffer.alloc(v, id);
  const I = Buffer.concat([
    repeatTo(salt, v * Math.ceil(salt.length / v)),
    repeatTo(passwordBytes, v * Math.ceil(passwordBytes.length / v)),
  ]);
  const blocks: Buffer[] = [];
  for (let produced = 0; produced < length; produced += u) {
    let A = createHash(digest).update(D).update(I).digest();
    // One-shot hash(): a Hash object per round costs more than the round itself.
    for (let round = 1; round < iterations; round++) A = hash(digest, A, "buffer");
    blocks.push(A);
    // I_j = (I_j + B + 1) mod 2^(8v), B = A repeated to v bytes.
    const B = repeatTo(A, v);
    for (let j = 0; j < I.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = I[j + k]! + B[k]! + carry;
        I[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/** What keystore-pkcs12.ts reads out of the AlgorithmIdentifier's parameters for these schemes. */
export type PbeParameters =
  | { scheme: typeof PBE_OID.sha1And3KeyTripleDesCbc; salt: Buffer; iterations: number }
  | {
      scheme: typeof PBE_OID.pbes2;
      salt: Buffer;
      iterations: number;
      keyBytes?: number;
      prfOid?: string;
      encryptionOid: string;
      iv: Buffer;
    };

/**
 * Decrypts with the scheme natively; undefined when this module does not take the scheme (then
 * forge does). Throws DecryptionFailed when the padding is wrong: a wrong password, as a rule.
 */
export function decryptNatively(parameters: PbeParameters, password: string, ciphertext: Buffer): Buffer | undefined {
  let cipher: string;
  let key: Buffer;
  let iv: Buffer;
  if (parameters.scheme === PBE_OID.sha1And3KeyTripleDesCbc) {
    cipher = "des-ede3-cbc";
    key = pkcs12Kdf(password, parameters.salt, 1, parameters.iterations, 24, "sha1");
    iv = pkcs12Kdf(password, parameters.salt, 2, parameters.iterations, 8, "sha1");
  } else {
    const scheme = PBES2_CIPHERS[parameters.encryptionOid];
    const prf = parameters.prfOid === undefined ? "sha1" : PRF_DIGESTS[parameters.prfOid];
    if (!scheme || !prf) return undefined;
    if (parameters.keyBytes !== undefined && parameters.keyBytes !== scheme.keyBytes) return undefined;
    cipher = scheme.cipher;
    // PBES2 takes the password as UTF-8 bytes (the PKCS#12 KDF, UTF-16).
    key = pbkdf2Sync(Buffer.from(password, "utf8"), parameters.salt, parameters.iterations, scheme.keyBytes, prf);
    iv = parameters.iv;
  }
  try {
    const decipher = createDecipheriv(cipher, key, iv);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch (error) {
    throw new DecryptionFailed({ cause: error });
  }
}

export class DecryptionFailed extends Error {
  constructor(options?: { cause?: unknown }) {
    super("does not decrypt", options);
    this.name = "DecryptionFailed";
  }
}
