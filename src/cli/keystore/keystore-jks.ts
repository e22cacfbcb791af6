/**
 * Sun's JKS keystore format (`KeyStore.getInstance("JKS")`, the seed tool's default), read with
 * node:crypto. The format is small and frozen: a header, entries, and a keyed SHA-1 over the lot;
 * private keys are PKCS#8 XOR-ed with a SHA-1 stream derived from the key password.
 */
import { createHash, timingSafeEqual } from "node:crypto";

export const JKS_MAGIC = 0xfeedfeed;
export const JCEKS_MAGIC = 0xcececece;
/** Sun's proprietary key protection algorithm (sun.security.provider.KeyProtector). */
export const JKS_KEY_PROTECTOR_OID = "1.3.6.1.4.1.42.2.17.1.1";
/** Salt the keystore integrity digest with this, exactly as Java does. */
const INTEGRITY_WHITENER = Buffer.from("Mighty Aphrodite", "utf8");
const SHA1_LENGTH = 20;

export interface JksPrivateKeyEntry {
  kind: "privateKey";
  /** As stored: keytool lowercases JKS aliases. */
  alias: string;
  /** DER of the EncryptedPrivateKeyInfo (Sun KeyProtector). */
  protectedKey: Buffer;
  /** DER certificates, leaf first. */
  certificateChain: Buffer[];
}

export interface JksTrustedCertificateEntry {
  kind: "trustedCertificate";
  alias: string;
  certificate: Buffer;
}

export type JksEntry = JksPrivateKeyEntry | JksTrustedCertificateEntry;

/** Thrown for structural problems; the caller turns these into user-facing keystore errors. */
export class JksFormatError extends Error {}
export class JksIntegrityError extends Error {}
export class JksKeyPasswordError extends Error {}

/** Java's char[] → bytes for JKS: UTF-16BE, no terminator. */
function passwordBytes(password: string): Buffer {
  return Buffer.from(password, "utf16le").swap16();
}

class Reader {
  offset = 0;
  constructor(readonly bytes: Buffer) {}

  private need(length: number): void {
    if (length < 0 || this.offset + length > this.bytes.length) throw new JksFormatError("truncated JKS data");
  }
  int(): number {
    this.need(4);
    const value = this.bytes.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }
  skip(length: number): void {
    this.need(length);
    this.offset += length;
  }
  take(length: number): Buffer {
    this.need(length);
    const value = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }
  /** DataInputStream.readUTF: u16 length + modified UTF-8 (plain UTF-8 for everything keytool writes). */
  utf(): string {
    this.need(2);
    const length = this.bytes.readUInt16BE(this.offset);
    this.offset += 2;
    return this.take(length).toString("utf8");
  }
}

/**
 * Parses a JKS file and checks its integrity digest with the store password (what
 * `KeyStore.load(stream, password)` does). Private keys stay encrypted until {@link recoverJksKey}.
 */
export function readJks(bytes: Buffer, storePassword: string): JksEntry[] {
  const reader = new Reader(bytes);
  const magic = reader.int();
  if (magic !== JKS_MAGIC) throw new JksFormatError("not a JKS keystore");
  const version = reader.int();
  if (version !== 1 && version !== 2) throw new JksFormatError(`unsupported JKS version ${version}`);
  const readCertificate = (): Buffer => {
    if (version === 2) reader.utf(); // certificate type, always "X.509"
    return Buffer.from(reader.take(reader.int()));
  };

  const count = reader.int();
  const entries: JksEntry[] = [];
  for (let index = 0; index < count; index++) {
    const tag = reader.int();
    const alias = reader.utf();
    reader.skip(8); // creation date
    if (tag === 1) {
      const protectedKey = Buffer.from(reader.take(reader.int()));
      const chainLength = reader.int();
      const certificateChain: Buffer[] = [];
      for (let c = 0; c < chainLength; c++) certificateChain.push(readCertificate());
      entries.push({ kind: "privateKey", alias, protectedKey, certificateChain });
    } else if (tag === 2) {
      entries.push({ kind: "trustedCertificate", alias, certificate: readCertificate() });
    } else {
      throw new JksFormatError(`unknown JKS entry tag ${tag}`);
    }
  }

  const body = bytes.subarray(0, reader.offset);
  const stored = reader.take(SHA1_LENGTH);
  const computed = createHash("sha1").update(passwordBytes(storePassword)).update(INTEGRITY_WHITENER).update(body).digest();
  if (!timingSafeEqual(stored, computed)) throw new JksIntegrityError("keystore integrity check failed");
  return entries;
}

/**
 * Undoes Sun's KeyProtector: returns the PKCS#8 PrivateKeyInfo DER. The embedded SHA-1 over
 * password + plaintext tells a wrong key password apart from a damaged key.
 */
export function recoverJksKey(protectedKeyInfo: Buffer, keyPassword: string): Buffer {
  const { algorithm, encrypted } = parseEncryptedPrivateKeyInfo(protectedKeyInfo);
  if (algorithm !== JKS_KEY_PROTECTOR_OID) {
    throw new JksFormatError(`unsupported JKS key protection algorithm ${algorithm}`);
  }
  if (encrypted.length < 2 * SHA1_LENGTH) throw new JksFormatError("protected key too short");
  const salt = encrypted.subarray(0, SHA1_LENGTH);
  const cipherText = encrypted.subarray(SHA1_LENGTH, encrypted.length - SHA1_LENGTH);
  const check = encrypted.subarray(encrypted.length - SHA1_LENGTH);
  const password = passwordBytes(keyPassword);

  const plain = Buffer.alloc(cipherText.length);
  let block: Buffer = salt;
  for (let offset = 0; offset < cipherText.length; offset += SHA1_LENGTH) {
    block = createHash("sha1").update(password).update(block).digest();
    for (let i = 0; i < SHA1_LENGTH && offset + i < cipherText.length; i++) {
      plain[offset + i] = (cipherText[offset + i] ?? 0) ^ (block[i] ?? 0);
    }
  }
  const digest = createHash("sha1").update(password).update(plain).digest();
  if (!timingSafeEqual(digest, check)) throw new JksKeyPasswordError("key password does not match");
  return plain;
}

/** Minimal DER walk of EncryptedPrivateKeyInfo ::= SEQUENCE { AlgorithmIdentifier, OCTET STRING }. */
function parseEncryptedPrivateKeyInfo(der: Buffer): { algorithm: string; encrypted: Buffer } {
  const outer = readTlv(der, 0, 0x30);
  const algorithmIdentifier = readTlv(der, outer.valueStart, 0x30);
  const oid = readTlv(der, algorithmIdentifier.valueStart, 0x06);
  const encrypted = readTlv(der, algorithmIdentifier.end, 0x04);
  return { algorithm: decodeOid(der.subarray(oid.valueStart, oid.end)), encrypted: der.subarray(encrypted.valueStart, encrypted.end) };
}

function readTlv(der: Buffer, offset: number, expectedTag: number): { valueStart: number; end: number } {
  if (der[offset] !== expectedTag) throw new JksFormatError("malformed protected key");
  let length = der[offset + 1];
  let valueStart = offset + 2;
  if (length === undefined) throw new JksFormatError("malformed protected key");
  if (length & 0x80) {
    const lengthBytes = length & 0x7f;
    if (lengthBytes < 1 || lengthBytes > 4) throw new JksFormatError("malformed protected key");
    length = 0;
    for (let i = 0; i < lengthBytes; i++) length = length * 256 + (der[valueStart + i] ?? 0);
    valueStart += lengthBytes;
  }
  const end = valueStart + length;
  if (end > der.length) throw new JksFormatError("malformed protected key");
  return { valueStart, end };
}

function decodeOid(bytes: Buffer): string {
  const parts: number[] = [];
  let value = 0;
  for (const byte of bytes) {
    value = value * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      parts.push(value);
      value = 0;
    }
  }
  const first = parts.shift() ?? 0;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...parts].join(".");
}
