/**
 * Keystores for tests, made in TypeScript so the suite needs neither a JDK nor OpenSSL:
 * JKS written byte by byte (the format is small) and PKCS#12 in the layouts real tools produce
 * (OpenSSL 3 defaults, OpenSSL legacy, Java keytool). When `keytool` / `openssl` exist, helpers
 * here also make the same files with the real tools, to prove the reader against them.
 */
import { createCipheriv, createHash, createHmac, pbkdf2Sync, randomBytes, type KeyObject } from "node:crypto";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import forge from "node-forge";

const { asn1 } = forge;
type Asn1 = forge.asn1.Asn1;

export interface KeyEntrySpec {
  alias: string;
  privateKey: KeyObject;
  /** DER certificates, leaf first. */
  chain: Buffer[];
  /** Defaults to the store password. */
  keyPassword?: string;
}

export interface TrustedEntrySpec {
  alias: string;
  certificate: Buffer;
}

// ---------------------------------------------------------------- JKS

function utf16be(password: string): Buffer {
  return Buffer.from(password, "utf16le").swap16();
}

function javaUtf(value: string): Buffer {
  const bytes = Buffer.from(value, "utf8");
  const length = Buffer.alloc(2);
  length.writeUInt16BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

function int32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value >>> 0);
  return buffer;
}

function sunKeyProtect(pkcs8: Buffer, password: string): Buffer {
  const passwordBytes = utf16be(password);
  const salt = randomBytes(20);
  const encrypted = Buffer.alloc(pkcs8.length);
  let block: Buffer = salt;
  for (let offset = 0; offset < pkcs8.length; offset += 20) {
    block = createHash("sha1").update(passwordBytes).update(block).digest();
    for (let i = 0; i < 20 && offset + i < pkcs8.length; i++) encrypted[offset + i] = (pkcs8[offset + i] ?? 0) ^ (block[i] ?? 0);
  }
  const check = createHash("sha1").update(passwordBytes).update(pkcs8).digest();
  const info = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer("1.3.6.1.4.1.42.2.17.1.1").getBytes()),
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, ""),
    ]),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, Buffer.concat([salt, encrypted, check]).toString("binary")),
  ]);
  return Buffer.from(asn1.toDer(info).getBytes(), "binary");
}

/** A JKS (version 2) exactly as `keytool -storetype JKS` writes it. Aliases are lowercased like Java does. */
export function makeJks(storePassword: string, keys: KeyEntrySpec[], trusted: TrustedEntrySpec[] = []): Buffer {
  const timestamp = Buffer.alloc(8);
  timestamp.writeBigInt64BE(BigInt(Date.now()));
  const parts: Buffer[] = [int32(0xfeedfeed), int32(2), int32(keys.length + trusted.length)];
  const certificate = (der: Buffer): Buffer => Buffer.concat([javaUtf("X.509"), int32(der.length), der]);
  for (const key of keys) {
    const pkcs8 = key.privateKey.export({ type: "pkcs8", format: "der" });
    const protectedKey = sunKeyProtect(pkcs8, key.keyPassword ?? storePassword);
    parts.push(int32(1), javaUtf(key.alias.toLowerCase()), timestamp, int32(protectedKey.length), protectedKey, int32(key.chain.length));
    for (const der of key.chain) parts.push(certificate(der));
  }
  for (const entry of trusted) parts.push(int32(2), javaUtf(entry.alias.toLowerCase()), timestamp, certificate(entry.certificate));
  const body = Buffer.concat(parts);
  const digest = createHash("sha1").update(utf16be(storePassword)).update("Mighty Aphrodite", "utf8").update(body).digest();
  return Buffer.concat([body, digest]);
}

// ---------------------------------------------------------------- PKCS#12

/** The layouts that matter in practice. */
export type Pkcs12Profile =
  /** `openssl pkcs12 -export` on OpenSSL 3: PBES2/PBKDF2-HMAC-SHA256/AES-256-CBC everywhere, SHA-256 MAC. */
  | "openssl3"
  /** `openssl pkcs12 -export -legacy` / OpenSSL 1.x: key 3DES, certificates RC2-40, SHA-1 MAC. */
  | "legacy"
  /** Java keytool 17+: like openssl3 with 10000 iterations, keys named by friendlyName. */
  | "keytool";

export interface Pkcs12Spec {
  storePassword: string;
  keys: (KeyEntrySpec & { friendlyName?: string | null })[];
  /** Extra certificates (CA certs) put in the certificate safe without a localKeyId. */
  extraCertificates?: Buffer[];
  profile?: Pkcs12Profile;
  /** Leave the MAC out (`openssl pkcs12 -nomac`). */
  noMac?: boolean;
}

const OIDS = {
  data: "1.2.840.113549.1.7.1",
  encryptedData: "1.2.840.113549.1.7.6",
  shroudedKeyBag: "1.2.840.113549.1.12.10.1.2",
  certBag: "1.2.840.113549.1.12.10.1.3",
  x509Certificate: "1.2.840.113549.1.9.22.1",
  friendlyName: "1.2.840.113549.1.9.20",
  localKeyId: "1.2.840.113549.1.9.21",
  pbes2: "1.2.840.113549.1.5.13",
  pbkdf2: "1.2.840.113549.1.5.12",
  hmacWithSha256: "1.2.840.113549.2.9",
  aes256Cbc: "2.16.840.1.101.3.4.1.42",
  pbeSha3Des: "1.2.840.113549.1.12.1.3",
  pbeShaRc2_40: "1.2.840.113549.1.12.1.6",
  sha1: "1.3.14.3.2.26",
  sha256: "2.16.840.1.101.3.4.2.1",
} as const;

const seq = (...items: Asn1[]): Asn1 => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, items);
const set = (...items: Asn1[]): Asn1 => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, items);
const oid = (value: string): Asn1 => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(value).getBytes());
const octet = (bytes: Buffer): Asn1 => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, bytes.toString("binary"));
const integer = (value: number): Asn1 => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(value).getBytes());
const explicit0 = (item: Asn1): Asn1 => asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [item]);
const nullValue = (): Asn1 => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, "");
const der = (item: Asn1): Buffer => Buffer.from(asn1.toDer(item).getBytes(), "binary");

function pkcs12Kdf(password: string, salt: Buffer, id: number, iterations: number, length: number): Buffer {
  const key = forge.pkcs12.generateKey(
    password,
    forge.util.createBuffer(salt.toString("binary")),
    id,
    iterations,
    length,
    forge.md.sha1.create(),
  );
  return Buffer.from(key.getBytes(), "binary");
}

/** Encrypts with the profile's scheme; returns the AlgorithmIdentifier and ciphertext. */
function pbeEncrypt(
  plain: Buffer,
  password: string,
  scheme: "pbes2" | "3des" | "rc2-40",
  iterations: number,
): { algorithm: Asn1; encrypted: Buffer } {
  const salt = randomBytes(scheme === "pbes2" ? 16 : 8);
  if (scheme === "pbes2") {
    const iv = randomBytes(16);
    const key = pbkdf2Sync(Buffer.from(password, "utf8"), salt, iterations, 32, "sha256");
    const cipher = createCipheriv("aes-256-cbc", key, iv);
    const encrypted = Buffer.concat([cipher.update(plain), cipher.final()]);
    const algorithm = seq(
      oid(OIDS.pbes2),
      seq(
        seq(oid(OIDS.pbkdf2), seq(octet(salt), integer(iterations), seq(oid(OIDS.hmacWithSha256), nullValue()))),
        seq(oid(OIDS.aes256Cbc), octet(iv)),
      ),
    );
    return { algorithm, encrypted };
  }
  const keyLength = scheme === "3des" ? 24 : 5;
  const key = pkcs12Kdf(password, salt, 1, iterations, keyLength);
  const iv = pkcs12Kdf(password, salt, 2, iterations, 8);
  let encrypted: Buffer;
  if (scheme === "3des") {
    const cipher = createCipheriv("des-ede3-cbc", key, iv);
    encrypted = Buffer.concat([cipher.update(plain), cipher.final()]);
  } else {
    // RC2-40 is not in Node's OpenSSL 3 default provider.
    const cipher = forge.rc2.createEncryptionCipher(forge.util.createBuffer(key.toString("binary")), 40);
    cipher.start(forge.util.createBuffer(iv.toString("binary")) as never);
    cipher.update(forge.util.createBuffer(plain.toString("binary")));
    cipher.finish();
    encrypted = Buffer.from(cipher.output.getBytes(), "binary");
  }
  const algorithm = seq(oid(scheme === "3des" ? OIDS.pbeSha3Des : OIDS.pbeShaRc2_40), seq(octet(salt), integer(iterations)));
  return { algorithm, encrypted };
}

function bagAttributes(friendlyName: string | undefined, localKeyId: Buffer | undefined): Asn1[] {
  const attributes: Asn1[] = [];
  if (localKeyId) attributes.push(seq(oid(OIDS.localKeyId), set(octet(localKeyId))));
  if (friendlyName !== undefined) {
    const bmp = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BMPSTRING, false, friendlyName); // forge encodes UTF-16BE
    attributes.push(seq(oid(OIDS.friendlyName), set(bmp)));
  }
  return attributes.length > 0 ? [set(...attributes)] : [];
}

/** Builds a PKCS#12 PFX the way the named tool would. */
export function makePkcs12(spec: Pkcs12Spec): Buffer {
  const profile = spec.profile ?? "openssl3";
  const iterations = profile === "keytool" ? 10000 : 2048;
  const keyScheme = profile === "legacy" ? "3des" : "pbes2";
  const certScheme = profile === "legacy" ? "rc2-40" : "pbes2";

  const certBags: Asn1[] = [];
  const keyBags: Asn1[] = [];
  spec.keys.forEach((key, index) => {
    const localKeyId =
      profile === "keytool"
        ? Buffer.from(`Time ${Date.now() + index}`)
        : createHash("sha1")
            .update(key.chain[0] ?? Buffer.alloc(0))
            .digest();
    const friendlyName = key.friendlyName === null ? undefined : (key.friendlyName ?? key.alias);
    key.chain.forEach((certificate, position) => {
      const isLeaf = position === 0;
      certBags.push(
        seq(
          oid(OIDS.certBag),
          explicit0(seq(oid(OIDS.x509Certificate), explicit0(octet(certificate)))),
          ...bagAttributes(isLeaf ? friendlyName : undefined, isLeaf ? localKeyId : undefined),
        ),
      );
    });
    const pkcs8 = key.privateKey.export({ type: "pkcs8", format: "der" });
    const { algorithm, encrypted } = pbeEncrypt(pkcs8, key.keyPassword ?? spec.storePassword, keyScheme, iterations);
    keyBags.push(seq(oid(OIDS.shroudedKeyBag), explicit0(seq(algorithm, octet(encrypted))), ...bagAttributes(friendlyName, localKeyId)));
  });
  for (const certificate of spec.extraCertificates ?? []) {
    certBags.push(seq(oid(OIDS.certBag), explicit0(seq(oid(OIDS.x509Certificate), explicit0(octet(certificate))))));
  }

  const certSafe = pbeEncrypt(der(seq(...certBags)), spec.storePassword, certScheme, iterations);
  const encryptedCertSafe = seq(
    oid(OIDS.encryptedData),
    explicit0(
      seq(
        integer(0),
        seq(oid(OIDS.data), certSafe.algorithm, asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, false, certSafe.encrypted.toString("binary"))),
      ),
    ),
  );
  const keySafe = seq(oid(OIDS.data), explicit0(octet(der(seq(...keyBags)))));
  const authSafe = der(seq(encryptedCertSafe, keySafe));

  const items: Asn1[] = [integer(3), seq(oid(OIDS.data), explicit0(octet(authSafe)))];
  if (!spec.noMac) {
    const salt = randomBytes(profile === "legacy" ? 8 : 16);
    const digest = profile === "legacy" ? "sha1" : "sha256";
    const macKey = forge.pkcs12.generateKey(
      spec.storePassword,
      forge.util.createBuffer(salt.toString("binary")),
      3,
      iterations,
      digest === "sha1" ? 20 : 32,
      digest === "sha1" ? forge.md.sha1.create() : forge.md.sha256.create(),
    );
    const mac = createHmac(digest, Buffer.from(macKey.getBytes(), "binary")).update(authSafe).digest();
    items.push(seq(seq(seq(oid(digest === "sha1" ? OIDS.sha1 : OIDS.sha256), nullValue()), octet(mac)), octet(salt), integer(iterations)));
  }
  return der(seq(...items));
}

// ---------------------------------------------------------------- real tools, when present

function toolWorks(command: string, args: string[]): boolean {
  const result = spawnSync(command, args, { stdio: "ignore" });
  return result.error === undefined && result.status === 0;
}

export const hasOpenssl = toolWorks("openssl", ["version"]);
export const hasKeytool = toolWorks("keytool", ["-help"]);

function withTempDir<T>(run: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "keystore-"));
  try {
    return run(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function pem(derBytes: Buffer): string {
  const lines = derBytes.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join("\n")}\n-----END CERTIFICATE-----\n`;
}

/** `openssl pkcs12 -export` (OpenSSL 3 defaults, or `-legacy`). Passwords go through files, not argv. */
export function opensslPkcs12(options: { key: KeyEntrySpec; storePassword: string; legacy?: boolean; name?: string | null }): Buffer {
  return withTempDir((dir) => {
    writeFileSync(join(dir, "key.pem"), options.key.privateKey.export({ type: "pkcs8", format: "pem" }));
    const [leaf, ...rest] = options.key.chain;
    writeFileSync(join(dir, "leaf.pem"), leaf ? pem(leaf) : "");
    writeFileSync(join(dir, "chain.pem"), rest.map(pem).join(""));
    writeFileSync(join(dir, "pass"), options.storePassword);
    const args = [
      "pkcs12",
      "-export",
      "-inkey",
      join(dir, "key.pem"),
      "-in",
      join(dir, "leaf.pem"),
      "-out",
      join(dir, "out.p12"),
      "-passout",
      `file:${join(dir, "pass")}`,
    ];
    if (rest.length > 0) args.push("-certfile", join(dir, "chain.pem"));
    if (options.name !== null) args.push("-name", options.name ?? options.key.alias);
    if (options.legacy) args.push("-legacy");
    execFileSync("openssl", args, { stdio: "pipe" });
    return readFileSync(join(dir, "out.p12"));
  });
}

/**
 * Converts a TS-made PKCS#12 into the given store type with `keytool -importkeystore`, so the
 * result is byte-for-byte what Java writes. keytool takes passwords on argv only: test values.
 */
export function keytoolImport(options: {
  source: Buffer;
  sourcePassword: string;
  storeType: "JKS" | "PKCS12";
  storePassword: string;
  alias: string;
  keyPassword?: string;
}): Buffer {
  return withTempDir((dir) => {
    writeFileSync(join(dir, "in.p12"), options.source);
    const args = [
      "-importkeystore",
      "-noprompt",
      "-srckeystore",
      join(dir, "in.p12"),
      "-srcstoretype",
      "PKCS12",
      "-srcstorepass",
      options.sourcePassword,
      "-srcalias",
      options.alias,
      "-destkeystore",
      join(dir, "out.ks"),
      "-deststoretype",
      options.storeType,
      "-deststorepass",
      options.storePassword,
      "-destalias",
      options.alias,
    ];
    if (options.keyPassword !== undefined && options.storeType === "JKS") args.push("-destkeypass", options.keyPassword);
    execFileSync("keytool", args, { stdio: "pipe" });
    return readFileSync(join(dir, "out.ks"));
  });
}
