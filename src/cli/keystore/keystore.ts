/**
 * One private key and its certificate chain out of a Java keystore (JKS) or PKCS#12 file, with
 * the errors a person can act on. Like Java 9+ (whose "JKS" and "PKCS12" keystores both read
 * either format) the file's real format wins over the declared type.
 */
import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from "node:crypto";
import { BrokerError, ErrorCode } from "../../errors.js";
import { JCEKS_MAGIC, JKS_MAGIC, JksFormatError, JksIntegrityError, JksKeyPasswordError, readJks, recoverJksKey } from "./keystore-jks.js";
// Type only: the PKCS#12 reader (and node-forge under it) is imported when a PKCS#12 file is read,
// so that a JKS run of the CLI never loads it.
import type { Pkcs12Contents } from "./keystore-pkcs12.js";

type Pkcs12Module = typeof import("./keystore-pkcs12.js");

export const KEYSTORE_TYPES = ["JKS", "PKCS12"] as const;
export type KeystoreType = (typeof KEYSTORE_TYPES)[number];

export interface KeystoreRequest {
  bytes: Uint8Array;
  storePassword: string;
  /** Entry to use; may be left out when the keystore holds exactly one private key. */
  alias?: string;
  /** Defaults to the store password (keytool's default, and PKCS#12's only option). */
  keyPassword?: string;
  /** What the user said the file is; only used to explain a mismatch. */
  declaredType?: KeystoreType;
  /** Names the file in messages (a path, or "keystore.file (base64)"). */
  source?: string;
}

export interface KeystoreKey {
  alias: string;
  format: KeystoreType;
  privateKey: KeyObject;
  /** DER certificates, leaf first; empty when the file holds a bare key. */
  certificateChain: Buffer[];
}

export function detectKeystoreFormat(bytes: Uint8Array): KeystoreType | "JCEKS" | undefined {
  if (bytes.length >= 4) {
    const magic = Buffer.from(bytes.buffer, bytes.byteOffset, 4).readUInt32BE(0);
    if (magic === JKS_MAGIC) return "JKS";
    if (magic === JCEKS_MAGIC) return "JCEKS";
  }
  return startsLikePfx(bytes) ? "PKCS12" : undefined;
}

/**
 * A DER SEQUENCE whose first element is INTEGER 3 (the PFX version), read from the first bytes
 * only; loadKeystoreKey then has the PKCS#12 reader parse the whole structure.
 */
function startsLikePfx(bytes: Uint8Array): boolean {
  if (bytes.length < 5 || bytes[0] !== 0x30) return false;
  let offset = 2;
  const first = bytes[1]!;
  let length = first;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 4 || bytes.length < 2 + count) return false;
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[2 + i]!;
    offset += count;
  }
  return length <= bytes.length - offset && bytes[offset] === 0x02 && bytes[offset + 1] === 0x01 && bytes[offset + 2] === 0x03;
}

export async function loadKeystoreKey(request: KeystoreRequest): Promise<KeystoreKey> {
  const source = request.source ?? "keystore";
  let format = detectKeystoreFormat(request.bytes);
  const pkcs12 = format === "PKCS12" ? await import("./keystore-pkcs12.js") : undefined;
  if (pkcs12 && !pkcs12.looksLikePkcs12(request.bytes)) format = undefined;
  const fail = (message: string, cause?: unknown): never => {
    throw new BrokerError(ErrorCode.Keystore, `${source}: ${message}`, cause === undefined ? undefined : { cause });
  };
  if (format === undefined) {
    fail(`not a JKS or PKCS#12 keystore${request.declaredType ? ` (keystore.type is ${request.declaredType})` : ""}`);
  }
  if (format === "JCEKS") {
    fail("JCEKS keystores are not supported; convert it with `keytool -importkeystore -deststoretype PKCS12`");
  }
  try {
    return pkcs12 ? loadFromPkcs12(request, fail, pkcs12) : loadFromJks(request, fail);
  } catch (error) {
    if (error instanceof BrokerError) throw error;
    if (error instanceof JksIntegrityError || (pkcs12 && error instanceof pkcs12.Pkcs12PasswordError)) {
      return fail(`wrong keystore password (keystore.password)${whitespaceHint(request.storePassword)}`, error);
    }
    if (error instanceof JksFormatError || (pkcs12 && error instanceof pkcs12.Pkcs12FormatError)) {
      return fail(`damaged or unsupported ${format} keystore: ${error.message}`, error);
    }
    return fail(`could not read the ${format} keystore`, error);
  }
}

type Fail = (message: string, cause?: unknown) => never;

function loadFromJks(request: KeystoreRequest, fail: Fail): KeystoreKey {
  const entries = readJks(Buffer.from(request.bytes), request.storePassword);
  const privateKeys = entries.filter((entry) => entry.kind === "privateKey");
  const entry = pickEntry(entries, privateKeys, request.alias, fail);
  if (entry.kind !== "privateKey") {
    return fail(`alias "${entry.alias}" is a trusted certificate, not a private key entry${listAliases(entries, privateKeys)}`);
  }
  const keyPassword = request.keyPassword ?? request.storePassword;
  let pkcs8: Buffer;
  try {
    pkcs8 = recoverJksKey(entry.protectedKey, keyPassword);
  } catch (error) {
    if (error instanceof JksKeyPasswordError) {
      return fail(`wrong key password for alias "${entry.alias}" (keystore.alias.password)${whitespaceHint(keyPassword)}`, error);
    }
    throw error;
  }
  return { alias: entry.alias, format: "JKS", privateKey: toPrivateKey(pkcs8, fail), certificateChain: entry.certificateChain };
}

function loadFromPkcs12(request: KeystoreRequest, fail: Fail, pkcs12: Pkcs12Module): KeystoreKey {
  const contents = pkcs12.readPkcs12(request.bytes, request.storePassword);
  const entry = pickEntry(contents.keys, contents.keys, request.alias, fail);
  // keytool cannot give a PKCS#12 key its own password and ignores -keypass, so when the key password
  // fails, the store password is tried too: a file that works with Java still behaves the same.
  const candidates = [...new Set([request.keyPassword ?? request.storePassword, request.storePassword])];
  let pkcs8: Buffer | undefined;
  let lastError: unknown;
  for (const password of candidates) {
    try {
      pkcs8 = entry.decrypt(password);
      break;
    } catch (error) {
      if (!(error instanceof pkcs12.Pkcs12KeyPasswordError)) throw error;
      lastError = error;
    }
  }
  if (!pkcs8) {
    const given = request.keyPassword ?? request.storePassword;
    return fail(`wrong key password for alias "${entry.alias}" (keystore.alias.password)${whitespaceHint(given)}`, lastError);
  }
  const privateKey = toPrivateKey(pkcs8, fail);
  return { alias: entry.alias, format: "PKCS12", privateKey, certificateChain: pkcs12Chain(contents, entry.localKeyId, privateKey) };
}

/** Java looks aliases up case-insensitively (it lowercases them); so do we. */
function pickEntry<E extends { alias: string }>(
  entries: readonly E[],
  privateKeys: readonly { alias: string }[],
  alias: string | undefined,
  fail: Fail,
): E {
  if (alias === undefined || alias === "") {
    if (privateKeys.length === 1) {
      const only = entries.find((entry) => entry.alias === privateKeys[0]?.alias);
      if (only) return only;
    }
    return fail(
      `keystore.alias is required when the keystore holds ${privateKeys.length} private keys${listAliases(entries, privateKeys)}`,
    );
  }
  const wanted = alias.toLowerCase();
  const found = entries.find((entry) => entry.alias === alias) ?? entries.find((entry) => entry.alias.toLowerCase() === wanted);
  if (!found) return fail(`no entry with alias "${alias}"${listAliases(entries, privateKeys)}`);
  return found;
}

function listAliases(entries: readonly { alias: string }[], privateKeys: readonly { alias: string }[]): string {
  if (entries.length === 0) return "; the keystore is empty";
  const keyAliases = new Set(privateKeys.map((entry) => entry.alias));
  const described = entries.map((entry) => `"${entry.alias}"${keyAliases.has(entry.alias) ? " (private key)" : ""}`);
  return `; aliases in the keystore: ${described.join(", ")}`;
}

function whitespaceHint(password: string): string {
  return password !== password.trim()
    ? "; note: the value starts or ends with whitespace, which Java (and this tool) keep as part of the password"
    : "";
}

function toPrivateKey(pkcs8: Buffer, fail: Fail): KeyObject {
  try {
    return createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" });
  } catch (error) {
    return fail("the private key in the keystore cannot be read", error);
  }
}

/**
 * Leaf = the certificate sharing the key's localKeyId (else the one whose public key matches), then
 * issuers found by subject/issuer and signature, as Java builds a PKCS#12 chain.
 */
function pkcs12Chain(contents: Pkcs12Contents, localKeyId: Buffer | undefined, privateKey: KeyObject): Buffer[] {
  const parsed = contents.certificates.map((certificate) => ({
    der: certificate.der,
    localKeyId: certificate.localKeyId,
    x509: tryX509(certificate.der),
  }));
  const publicKeyDer = createPublicKey(privateKey).export({ type: "spki", format: "der" });
  const leaf =
    (localKeyId && parsed.find((candidate) => candidate.localKeyId?.equals(localKeyId))) ||
    parsed.find((candidate) => candidate.x509?.publicKey.export({ type: "spki", format: "der" }).equals(publicKeyDer));
  if (!leaf) return [];
  const chain = [leaf];
  let current = leaf;
  while (current.x509 && current.x509.issuer !== current.x509.subject && chain.length < 10) {
    const currentX509: X509Certificate = current.x509;
    const issuer = parsed.find(
      (candidate) =>
        !chain.includes(candidate) &&
        candidate.x509 &&
        currentX509.checkIssued(candidate.x509) &&
        currentX509.verify(candidate.x509.publicKey),
    );
    if (!issuer) break;
    chain.push(issuer);
    current = issuer;
  }
  return chain.map((certificate) => certificate.der);
}

function tryX509(der: Buffer): X509Certificate | undefined {
  try {
    return new X509Certificate(der);
  } catch {
    return undefined;
  }
}
