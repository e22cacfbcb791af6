/**
 * PKCS#12 (.p12/.pfx) read the way Java's PKCS12 KeyStore reads it: MAC checked with the store
 * password, each private key decrypted with its own key password, aliases from `friendlyName`
 * (Java's "1", "2", … when absent). node-forge supplies ASN.1 and the PBE ciphers (RC2-40 and
 * 3DES from legacy files are not in Node's OpenSSL 3 default provider).
 *
 * We walk the structure ourselves rather than call `forge.pkcs12.pkcs12FromAsn1`, because that
 * decrypts every key with the store password and feeds one password string to both the PKCS#12 KDF
 * (UTF-16) and PBKDF2 (which needs UTF-8 bytes), so non-ASCII passwords such as "blåbær" fail.
 * The MAC, PBES2 and the 3DES scheme run on node:crypto (pkcs12-crypto.ts); forge keeps the rest.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
// forge's core plus the two parts used here (ASN.1; PBE, which brings its ciphers), not the whole
// library: half the code to load on every PKCS#12 run of the CLI.
import type forgeTypes from "node-forge";
import forgeCore from "node-forge/lib/forge.js";
import "node-forge/lib/asn1.js";
import "node-forge/lib/pbe.js";
import { decryptNatively, DecryptionFailed, PBE_OID, pkcs12Kdf, type PbeParameters } from "./pkcs12-crypto.js";

const forge = forgeCore as typeof forgeTypes;
const { asn1 } = forge;

const OID = {
  data: "1.2.840.113549.1.7.1",
  signedData: "1.2.840.113549.1.7.2",
  encryptedData: "1.2.840.113549.1.7.6",
  keyBag: "1.2.840.113549.1.12.10.1.1",
  shroudedKeyBag: "1.2.840.113549.1.12.10.1.2",
  certBag: "1.2.840.113549.1.12.10.1.3",
  safeContentsBag: "1.2.840.113549.1.12.10.1.6",
  x509Certificate: "1.2.840.113549.1.9.22.1",
  friendlyName: "1.2.840.113549.1.9.20",
  localKeyId: "1.2.840.113549.1.9.21",
  pbes2: "1.2.840.113549.1.5.13",
  pbmac1: "1.2.840.113549.1.5.14",
} as const;

const MAC_DIGESTS: Record<string, { node: string; length: number }> = {
  "1.3.14.3.2.26": { node: "sha1", length: 20 },
  "2.16.840.1.101.3.4.2.1": { node: "sha256", length: 32 },
  "2.16.840.1.101.3.4.2.2": { node: "sha384", length: 48 },
  "2.16.840.1.101.3.4.2.3": { node: "sha512", length: 64 },
};

export class Pkcs12FormatError extends Error {}
export class Pkcs12PasswordError extends Error {}
export class Pkcs12KeyPasswordError extends Error {}

export interface Pkcs12KeyEntry {
  alias: string;
  localKeyId?: Buffer | undefined;
  /** Decrypts the key with the given password → PKCS#8 PrivateKeyInfo DER. */
  decrypt(password: string): Buffer;
}

export interface Pkcs12CertificateEntry {
  alias?: string | undefined;
  localKeyId?: Buffer | undefined;
  der: Buffer;
}

export interface Pkcs12Contents {
  keys: Pkcs12KeyEntry[];
  certificates: Pkcs12CertificateEntry[];
}

type Asn1 = forgeTypes.asn1.Asn1;

/** Cheap sniff: a DER SEQUENCE whose first element is INTEGER 3 (the PFX version). */
export function looksLikePkcs12(bytes: Uint8Array): boolean {
  try {
    const root = parseDer(Buffer.from(bytes));
    const version = children(root)[0];
    return root.type === asn1.Type.SEQUENCE && version?.type === asn1.Type.INTEGER && bytesOf(version).at(-1) === 3;
  } catch {
    return false;
  }
}

export function readPkcs12(bytes: Uint8Array, storePassword: string): Pkcs12Contents {
  const pfx = parseDer(Buffer.from(bytes));
  const [version, authSafe, macData] = children(pfx);
  if (!version || !authSafe || bytesOf(version).at(-1) !== 3) throw new Pkcs12FormatError("not a PKCS#12 v3 PFX");
  const [contentType, explicitContent] = children(authSafe);
  const contentOid = oidOf(contentType);
  if (contentOid === OID.signedData) throw new Pkcs12FormatError("public-key integrity mode PKCS#12 is not supported");
  if (contentOid !== OID.data || !explicitContent) throw new Pkcs12FormatError("unexpected PKCS#12 content type");
  const authSafeBytes = octets(children(explicitContent)[0]);

  if (macData) verifyMac(macData, authSafeBytes, storePassword);

  const contents: Pkcs12Contents = { keys: [], certificates: [] };
  let unnamedCounter = 0;
  const nextUnfriendlyName = (): string => String(++unnamedCounter);

  for (const contentInfo of children(parseDer(authSafeBytes))) {
    const [type, wrapped] = children(contentInfo);
    const inner = wrapped ? children(wrapped)[0] : undefined;
    const oid = oidOf(type);
    let safeContents: Buffer;
    if (oid === OID.data) safeContents = octets(inner);
    else if (oid === OID.encryptedData) safeContents = decryptSafeContents(inner, storePassword);
    else throw new Pkcs12FormatError(`unsupported PKCS#12 content ${oid}`);
    collectBags(parseDer(safeContents), contents, nextUnfriendlyName);
  }
  return contents;
}

function collectBags(safeContents: Asn1, into: Pkcs12Contents, nextUnfriendlyName: () => string): void {
  for (const bag of children(safeContents)) {
    const [bagId, bagValueWrapper, attributeSet] = children(bag);
    const bagValue = bagValueWrapper ? children(bagValueWrapper)[0] : undefined;
    if (!bagValue) throw new Pkcs12FormatError("empty SafeBag");
    const attributes = readAttributes(attributeSet);
    switch (oidOf(bagId)) {
      case OID.keyBag: {
        const plain = Buffer.from(asn1.toDer(bagValue).getBytes(), "binary");
        into.keys.push({ alias: attributes.friendlyName ?? nextUnfriendlyName(), localKeyId: attributes.localKeyId, decrypt: () => plain });
        break;
      }
      case OID.shroudedKeyBag:
        into.keys.push({
          alias: attributes.friendlyName ?? nextUnfriendlyName(),
          localKeyId: attributes.localKeyId,
          decrypt: (password) => decryptShroudedKey(bagValue, password),
        });
        break;
      case OID.certBag: {
        const [certType, certValue] = children(bagValue);
        if (oidOf(certType) !== OID.x509Certificate || !certValue) break; // SDSI certificates: not ours
        into.certificates.push({ alias: attributes.friendlyName, localKeyId: attributes.localKeyId, der: octets(children(certValue)[0]) });
        break;
      }
      case OID.safeContentsBag:
        collectBags(bagValue, into, nextUnfriendlyName);
        break;
      default:
        break; // CRL and secret bags carry nothing we sign with
    }
  }
}

function verifyMac(macData: Asn1, authSafeBytes: Buffer, password: string): void {
  const [digestInfo, saltNode, iterationsNode] = children(macData);
  const [algorithmId, digestNode] = children(digestInfo);
  const algorithm = oidOf(children(algorithmId)[0]);
  if (algorithm === OID.pbmac1) throw new Pkcs12FormatError("PBMAC1-protected PKCS#12 is not supported yet");
  const digest = MAC_DIGESTS[algorithm];
  if (!digest) throw new Pkcs12FormatError(`unsupported PKCS#12 MAC digest ${algorithm}`);
  const iterations = iterationsNode ? integerOf(iterationsNode) : 1;
  const macKey = pkcs12Kdf(password, octets(saltNode), 3, iterations, digest.length, digest.node);
  const computed = createHmac(digest.node, macKey).update(authSafeBytes).digest();
  const expected = octets(digestNode);
  if (expected.length !== computed.length || !timingSafeEqual(expected, computed)) {
    throw new Pkcs12PasswordError("PKCS#12 MAC does not verify");
  }
}

/** PBES2 derives with PBKDF2 over UTF-8 bytes; the PKCS#12 KDF schemes take the UTF-16 string. */
function passwordFor(encryptionAlgorithm: string, password: string): string {
  return encryptionAlgorithm === OID.pbes2 ? forge.util.encodeUtf8(password) : password;
}

interface PbeCipher {
  update(data: forgeTypes.util.ByteStringBuffer): void;
  finish(): boolean;
  output: forgeTypes.util.ByteStringBuffer;
}
const getCipher = (forge.pki as unknown as { pbe: { getCipher(oid: string, params: Asn1, password: string): PbeCipher } }).pbe.getCipher;

function decryptSafeContents(encryptedData: Asn1 | undefined, password: string): Buffer {
  const [, encryptedContentInfo] = children(encryptedData);
  const [, algorithmId, encryptedContent] = children(encryptedContentInfo);
  const [algorithmOidNode, params] = children(algorithmId);
  const algorithm = oidOf(algorithmOidNode);
  if (!params || !encryptedContent) throw new Pkcs12FormatError("malformed EncryptedData");
  const native = decryptIfNative(algorithm, params, password, octets(encryptedContent));
  if (native === "wrong-password") throw new Pkcs12PasswordError("PKCS#12 certificate safe does not decrypt");
  if (native) return native;
  let cipher: PbeCipher;
  try {
    cipher = getCipher(algorithm, params, passwordFor(algorithm, password));
  } catch (error) {
    throw new Pkcs12FormatError(`unsupported PKCS#12 encryption ${algorithm}`, { cause: error });
  }
  cipher.update(forge.util.createBuffer(octets(encryptedContent).toString("binary")));
  if (!cipher.finish()) throw new Pkcs12PasswordError("PKCS#12 certificate safe does not decrypt");
  return Buffer.from(cipher.output.getBytes(), "binary");
}

function decryptShroudedKey(encryptedPrivateKeyInfo: Asn1, password: string): Buffer {
  const [algorithmId, encryptedData] = children(encryptedPrivateKeyInfo);
  const [algorithmOidNode, params] = children(algorithmId);
  const algorithm = oidOf(algorithmOidNode);
  if (params && encryptedData) {
    const native = decryptIfNative(algorithm, params, password, octets(encryptedData));
    if (native === "wrong-password") throw new Pkcs12KeyPasswordError("private key does not decrypt");
    if (native) {
      // A wrong password can leave valid padding by chance (1 in 256): then the plaintext is no DER.
      let privateKeyInfo: Asn1;
      try {
        privateKeyInfo = parseDer(native);
      } catch {
        throw new Pkcs12KeyPasswordError("private key does not decrypt");
      }
      if (privateKeyInfo.type !== asn1.Type.SEQUENCE) throw new Pkcs12KeyPasswordError("private key does not decrypt");
      return Buffer.from(asn1.toDer(privateKeyInfo).getBytes(), "binary");
    }
  }
  let privateKeyInfo: Asn1 | null;
  try {
    privateKeyInfo = forge.pki.decryptPrivateKeyInfo(encryptedPrivateKeyInfo, passwordFor(algorithm, password));
  } catch (error) {
    // forge throws for unsupported algorithms and for some wrong-password paddings alike.
    if (error instanceof Error && /Unsupported|unsupported/.test(error.message)) {
      throw new Pkcs12FormatError(`unsupported PKCS#8 encryption ${algorithm}`, { cause: error });
    }
    throw new Pkcs12KeyPasswordError("private key does not decrypt");
  }
  if (!privateKeyInfo) throw new Pkcs12KeyPasswordError("private key does not decrypt");
  return Buffer.from(asn1.toDer(privateKeyInfo).getBytes(), "binary");
}

/**
 * node:crypto for PBES2 (PBKDF2 + AES or 3DES) and the PKCS#12 3DES scheme; undefined for the
 * schemes left to forge (RC2, other PBKDF2 parameters).
 */
function decryptIfNative(algorithm: string, params: Asn1, password: string, ciphertext: Buffer): Buffer | "wrong-password" | undefined {
  const parameters = pbeParameters(algorithm, params);
  if (!parameters) return undefined;
  try {
    return decryptNatively(parameters, password, ciphertext);
  } catch (error) {
    if (error instanceof DecryptionFailed) return "wrong-password";
    throw error;
  }
}

function pbeParameters(algorithm: string, params: Asn1): PbeParameters | undefined {
  if (algorithm === PBE_OID.sha1And3KeyTripleDesCbc) {
    const [salt, iterations] = children(params);
    if (!salt || !iterations) throw new Pkcs12FormatError("malformed PKCS#12 PBE parameters");
    return { scheme: PBE_OID.sha1And3KeyTripleDesCbc, salt: octets(salt), iterations: integerOf(iterations) };
  }
  if (algorithm !== PBE_OID.pbes2) return undefined;
  const [keyDerivation, encryptionScheme] = children(params);
  const [kdfOid, kdfParams] = children(keyDerivation);
  const [encryptionOid, iv] = children(encryptionScheme);
  if (!kdfOid || oidOf(kdfOid) !== PBE_OID.pbkdf2 || !kdfParams || !encryptionOid || !iv || iv.type !== asn1.Type.OCTETSTRING)
    return undefined;
  const [salt, iterations, ...optional] = children(kdfParams);
  // The salt may be an AlgorithmIdentifier ("otherSource") instead of octets: left to forge.
  if (!salt || salt.type !== asn1.Type.OCTETSTRING || !iterations) return undefined;
  const keyLength = optional.find((node) => node.type === asn1.Type.INTEGER);
  const prf = optional.find((node) => node.type === asn1.Type.SEQUENCE);
  return {
    scheme: PBE_OID.pbes2,
    salt: octets(salt),
    iterations: integerOf(iterations),
    ...(keyLength ? { keyBytes: integerOf(keyLength) } : {}),
    ...(prf ? { prfOid: oidOf(children(prf)[0]) } : {}),
    encryptionOid: oidOf(encryptionOid),
    iv: octets(iv),
  };
}

function readAttributes(attributeSet: Asn1 | undefined): { friendlyName?: string; localKeyId?: Buffer } {
  const result: { friendlyName?: string; localKeyId?: Buffer } = {};
  for (const attribute of children(attributeSet)) {
    const [type, values] = children(attribute);
    const first = children(values)[0];
    if (!first) continue;
    const oid = oidOf(type);
    // forge already decodes a BMPString into a JS string.
    if (oid === OID.friendlyName && typeof first.value === "string") result.friendlyName = first.value;
    else if (oid === OID.localKeyId) result.localKeyId = bytesOf(first);
  }
  return result;
}

// --- small ASN.1 helpers over forge's tree (primitive values are binary strings) ---

function parseDer(bytes: Buffer): Asn1 {
  try {
    // BER, not DER: PKCS#12 files from Windows and Java use indefinite lengths and chunked strings.
    return asn1.fromDer(forge.util.createBuffer(bytes.toString("binary")), {
      strict: false,
      parseAllBytes: false,
      decodeBitStrings: false,
    } as unknown as boolean);
  } catch (error) {
    throw new Pkcs12FormatError("malformed ASN.1", { cause: error });
  }
}

function children(node: Asn1 | undefined): Asn1[] {
  if (!node || !Array.isArray(node.value)) return [];
  return node.value as Asn1[];
}

function bytesOf(node: Asn1): Buffer {
  if (typeof node.value !== "string") throw new Pkcs12FormatError("expected a primitive ASN.1 value");
  return Buffer.from(node.value, "binary");
}

/** OCTET STRING content, joining the chunks of a constructed (BER) string. */
function octets(node: Asn1 | undefined): Buffer {
  if (!node) throw new Pkcs12FormatError("missing OCTET STRING");
  if (typeof node.value === "string") return Buffer.from(node.value, "binary");
  return Buffer.concat(children(node).map((chunk) => octets(chunk)));
}

function oidOf(node: Asn1 | undefined): string {
  if (!node || node.type !== asn1.Type.OID || typeof node.value !== "string") throw new Pkcs12FormatError("expected an OID");
  return asn1.derToOid(node.value);
}

function integerOf(node: Asn1): number {
  const bytes = bytesOf(node);
  if (bytes.length > 4) throw new Pkcs12FormatError("integer too large");
  return bytes.reduce((value, byte) => value * 256 + byte, 0);
}
