import { randomBytes } from "node:crypto";
import forge from "node-forge";
import { describe, expect, it } from "vitest";
import { decryptNatively, DecryptionFailed, PBE_OID, pkcs12Kdf } from "../../../src/cli/keystore/pkcs12-crypto.js";

/** forge's PKCS#12 KDF, which the reader used before: the reference. */
function forgeKdf(
  password: string,
  salt: Buffer,
  id: number,
  iterations: number,
  length: number,
  digest: "sha1" | "sha256" | "sha512",
): Buffer {
  const md = { sha1: () => forge.md.sha1.create(), sha256: () => forge.md.sha256.create(), sha512: () => forge.md.sha512.create() }[
    digest
  ]();
  return Buffer.from(
    forge.pkcs12.generateKey(password, forge.util.createBuffer(salt.toString("binary")), id, iterations, length, md).getBytes(),
    "binary",
  );
}

describe("pkcs12Kdf (RFC 7292 B.2)", () => {
  it.each([
    ["ASCII, SHA-1 MAC key", "changeit", 3 as const, 2048, 20, "sha1" as const],
    ["non-ASCII (UTF-16 code units), 3DES key", "blåbær-Æ€", 1 as const, 2048, 24, "sha1" as const],
    ["3DES IV", "pw", 2 as const, 1, 8, "sha1" as const],
    ["empty password, SHA-256", "", 3 as const, 10, 32, "sha256" as const],
    ["longer than one hash, SHA-512 blocks", "a-password-longer-than-a-block-".repeat(5), 1 as const, 3, 150, "sha512" as const],
  ])("matches forge: %s", (_name, password, id, iterations, length, digest) => {
    for (const saltLength of [0, 8, 20, 70]) {
      const salt = randomBytes(saltLength);
      expect(pkcs12Kdf(password, salt, id, iterations, length, digest)).toEqual(forgeKdf(password, salt, id, iterations, length, digest));
    }
  });

  it("refuses zero iterations (the key would not depend on the password)", () => {
    expect(() => pkcs12Kdf("pw", randomBytes(8), 1, 0, 24, "sha1")).toThrow(/iteration/);
  });
});

describe("decryptNatively", () => {
  it("decrypts what forge's PKCS#12 3DES scheme encrypts, and reports a wrong password", () => {
    const salt = randomBytes(8);
    const plain = randomBytes(100);
    const key = forgeKdf("pw-Ø", salt, 1, 2048, 24, "sha1");
    const iv = forgeKdf("pw-Ø", salt, 2, 2048, 8, "sha1");
    const cipher = forge.cipher.createCipher("3DES-CBC", key.toString("binary"));
    cipher.start({ iv: iv.toString("binary") });
    cipher.update(forge.util.createBuffer(plain.toString("binary")));
    cipher.finish();
    const ciphertext = Buffer.from(cipher.output.getBytes(), "binary");
    const parameters = { scheme: PBE_OID.sha1And3KeyTripleDesCbc, salt, iterations: 2048 } as const;
    expect(decryptNatively(parameters, "pw-Ø", ciphertext)).toEqual(plain);
    let failures = 0;
    for (const wrong of ["pw-O", "pw-Ø ", "x", "y", "z"]) {
      try {
        decryptNatively(parameters, wrong, ciphertext);
      } catch (error) {
        expect(error).toBeInstanceOf(DecryptionFailed);
        failures++;
      }
    }
    // Padding survives a wrong key 1 time in 256: at least four of five must fail.
    expect(failures).toBeGreaterThanOrEqual(4);
  });

  it("leaves PBES2 schemes it does not know to forge", () => {
    const parameters = {
      scheme: PBE_OID.pbes2,
      salt: randomBytes(8),
      iterations: 1,
      encryptionOid: "1.2.840.113549.3.2",
      iv: randomBytes(8),
    } as const;
    expect(decryptNatively(parameters, "pw", randomBytes(16))).toBeUndefined();
  });
});
