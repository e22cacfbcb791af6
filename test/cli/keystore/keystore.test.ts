import { createPublicKey } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { BrokerError } from "../../../src/errors.js";
import { detectKeystoreFormat, loadKeystoreKey, type KeystoreRequest } from "../../../src/cli/keystore/keystore.js";
import { issueCertificate, issueEnterpriseCertificate, type IssuedCertificate } from "../../../sandbox/pki.js";
import {
  hasKeytool,
  hasOpenssl,
  keytoolImport,
  makeJks,
  makePkcs12,
  opensslPkcs12,
  type KeyEntrySpec,
  type Pkcs12Profile,
} from "../../support/keystores.js";

let leaf: IssuedCertificate;
let intermediate: IssuedCertificate;
let root: IssuedCertificate;
let other: IssuedCertificate;
let entry: KeyEntrySpec;

beforeAll(() => {
  ({ leaf, intermediate, root } = issueEnterpriseCertificate({ organisationNumber: "910000001" }));
  other = issueCertificate({ commonName: "Other key" });
  entry = {
    alias: "Virksomhet",
    privateKey: leaf.privateKey,
    chain: [leaf.certificateDer, intermediate.certificateDer, root.certificateDer],
  };
});

function spki(key: Parameters<typeof createPublicKey>[0]): Buffer {
  return createPublicKey(key).export({ type: "spki", format: "der" });
}

async function expectKeystoreError(request: KeystoreRequest, pattern: RegExp, secrets: string[] = []): Promise<BrokerError> {
  let caught: unknown;
  try {
    await loadKeystoreKey(request);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(BrokerError);
  const error = caught as BrokerError;
  expect(error.code).toBe("ERR_KEYSTORE");
  expect(error.message).toMatch(pattern);
  for (const secret of [request.storePassword, request.keyPassword ?? "", ...secrets].filter((value) => value.length > 2)) {
    expect(error.message).not.toContain(secret);
  }
  return error;
}

function expectLeafKey(result: Awaited<ReturnType<typeof loadKeystoreKey>>, chainLength = 3): void {
  expect(spki(result.privateKey)).toEqual(spki(leaf.privateKey));
  expect(result.certificateChain).toHaveLength(chainLength);
  expect(result.certificateChain[0]).toEqual(leaf.certificateDer);
  if (chainLength === 3) {
    expect(result.certificateChain[1]).toEqual(intermediate.certificateDer);
    expect(result.certificateChain[2]).toEqual(root.certificateDer);
  }
}

describe("JKS", () => {
  it("loads the key and its chain, leaf first, with separate store and key passwords", async () => {
    const bytes = makeJks("store-pass", [{ ...entry, keyPassword: "key-pass" }]);
    expect(detectKeystoreFormat(bytes)).toBe("JKS");
    const result = await loadKeystoreKey({ bytes, storePassword: "store-pass", alias: "virksomhet", keyPassword: "key-pass" });
    expect(result.format).toBe("JKS");
    expect(result.alias).toBe("virksomhet");
    expectLeafKey(result);
  });

  it("looks aliases up case-insensitively, as Java does", async () => {
    const bytes = makeJks("pw", [entry]);
    expect((await loadKeystoreKey({ bytes, storePassword: "pw", alias: "VIRKSOMHET" })).alias).toBe("virksomhet");
  });

  it("defaults the key password to the store password and the alias to the only key", async () => {
    const bytes = makeJks("pw", [entry], [{ alias: "ca", certificate: root.certificateDer }]);
    expectLeafKey(await loadKeystoreKey({ bytes, storePassword: "pw" }));
  });

  it("reads non-ASCII passwords as Java does (UTF-16 chars)", async () => {
    const bytes = makeJks("blåbærsyltetøy", [{ ...entry, keyPassword: "nøkkel€" }]);
    expectLeafKey(await loadKeystoreKey({ bytes, storePassword: "blåbærsyltetøy", alias: "virksomhet", keyPassword: "nøkkel€" }));
  });

  it("names a wrong store password without printing it", async () => {
    const bytes = makeJks("right-store-pass", [entry]);
    await expectKeystoreError(
      { bytes, storePassword: "wrong-store-pass", alias: "virksomhet" },
      /wrong keystore password \(keystore\.password\)/,
      ["right-store-pass"],
    );
  });

  it("hints at whitespace kept at the end of a password", async () => {
    const bytes = makeJks("secret", [entry]);
    await expectKeystoreError({ bytes, storePassword: "secret ", alias: "virksomhet" }, /ends with whitespace/);
  });

  it("names a wrong key password and the alias", async () => {
    const bytes = makeJks("store-pass", [{ ...entry, keyPassword: "right-key-pass" }]);
    await expectKeystoreError(
      { bytes, storePassword: "store-pass", alias: "virksomhet", keyPassword: "wrong-key-pass" },
      /wrong key password for alias "virksomhet" \(keystore\.alias\.password\)/,
      ["right-key-pass"],
    );
  });

  it("lists the aliases that exist when the alias is unknown", async () => {
    const bytes = makeJks(
      "pw",
      [entry, { alias: "second", privateKey: other.privateKey, chain: [other.certificateDer] }],
      [{ alias: "root-ca", certificate: root.certificateDer }],
    );
    const error = await expectKeystoreError({ bytes, storePassword: "pw", alias: "nope" }, /no entry with alias "nope"/);
    expect(error.message).toContain('"virksomhet" (private key)');
    expect(error.message).toContain('"second" (private key)');
    expect(error.message).toContain('"root-ca"');
    expect(error.message).not.toContain('"root-ca" (private key)');
  });

  it("refuses a trusted-certificate alias: there is no private key under it", async () => {
    const bytes = makeJks("pw", [entry], [{ alias: "root-ca", certificate: root.certificateDer }]);
    await expectKeystoreError(
      { bytes, storePassword: "pw", alias: "root-ca" },
      /"root-ca" is a trusted certificate, not a private key entry/,
    );
  });

  it("requires an alias when there are several keys", async () => {
    const bytes = makeJks("pw", [entry, { alias: "second", privateKey: other.privateKey, chain: [other.certificateDer] }]);
    await expectKeystoreError({ bytes, storePassword: "pw" }, /keystore\.alias is required when the keystore holds 2 private keys/);
  });

  it("reports a truncated file as damaged", async () => {
    const bytes = makeJks("pw", [entry]);
    await expectKeystoreError({ bytes: bytes.subarray(0, 200), storePassword: "pw" }, /damaged or unsupported JKS keystore/);
  });
});

describe("PKCS#12", () => {
  const profiles: Pkcs12Profile[] = ["openssl3", "legacy", "keytool"];
  for (const profile of profiles) {
    it(`loads a ${profile}-style file and rebuilds the chain from the CA certificates`, async () => {
      const bytes = makePkcs12({
        storePassword: "pw-123",
        profile,
        keys: [{ ...entry, chain: [leaf.certificateDer] }],
        extraCertificates: [root.certificateDer, intermediate.certificateDer],
      });
      expect(detectKeystoreFormat(bytes)).toBe("PKCS12");
      const result = await loadKeystoreKey({ bytes, storePassword: "pw-123", alias: "Virksomhet" });
      expect(result.format).toBe("PKCS12");
      expectLeafKey(result);
    });

    it(`${profile}: wrong store password is named, not printed`, async () => {
      const bytes = makePkcs12({ storePassword: "right-pass", profile, keys: [entry] });
      await expectKeystoreError({ bytes, storePassword: "wrong-pass", alias: "virksomhet" }, /wrong keystore password/, ["right-pass"]);
    });

    it(`${profile}: non-ASCII passwords work (UTF-16 for PKCS#12 KDF, UTF-8 for PBKDF2)`, async () => {
      const bytes = makePkcs12({ storePassword: "blåbær-Æ€", profile, keys: [entry] });
      expectLeafKey(await loadKeystoreKey({ bytes, storePassword: "blåbær-Æ€", alias: "virksomhet" }));
    });
  }

  it('names keys without friendlyName the way Java does: "1", "2", …', async () => {
    const bytes = makePkcs12({ storePassword: "pw", keys: [{ ...entry, friendlyName: null }] });
    expect((await loadKeystoreKey({ bytes, storePassword: "pw", alias: "1" })).alias).toBe("1");
    await expectKeystoreError(
      { bytes, storePassword: "pw", alias: "virksomhet" },
      /no entry with alias "virksomhet"; aliases in the keystore: "1" \(private key\)/,
    );
  });

  it("decrypts the key with keystore.alias.password, and says so when it is wrong", async () => {
    const bytes = makePkcs12({ storePassword: "store-pw", keys: [{ ...entry, keyPassword: "key-pw" }] });
    expectLeafKey(await loadKeystoreKey({ bytes, storePassword: "store-pw", alias: "virksomhet", keyPassword: "key-pw" }));
    await expectKeystoreError(
      { bytes, storePassword: "store-pw", alias: "virksomhet", keyPassword: "nope-pw" },
      /wrong key password for alias "Virksomhet"/,
      ["key-pw"],
    );
  });

  it("falls back to the store password for the key, as keytool-made files need", async () => {
    const bytes = makePkcs12({ storePassword: "same-pw", profile: "keytool", keys: [entry] });
    expectLeafKey(await loadKeystoreKey({ bytes, storePassword: "same-pw", alias: "virksomhet", keyPassword: "ignored-by-keytool" }));
  });

  it("reads files without a MAC", async () => {
    const bytes = makePkcs12({ storePassword: "pw", keys: [entry], noMac: true });
    expectLeafKey(await loadKeystoreKey({ bytes, storePassword: "pw", alias: "virksomhet" }));
  });

  it("picks the right key among several, with its own chain", async () => {
    const bytes = makePkcs12({
      storePassword: "pw",
      keys: [{ alias: "other", privateKey: other.privateKey, chain: [other.certificateDer] }, entry],
    });
    expectLeafKey(await loadKeystoreKey({ bytes, storePassword: "pw", alias: "virksomhet" }));
    const second = await loadKeystoreKey({ bytes, storePassword: "pw", alias: "other" });
    expect(second.certificateChain).toEqual([other.certificateDer]);
  });

  it("ignores the declared type when the bytes say otherwise, as Java 9+ does", async () => {
    const bytes = makePkcs12({ storePassword: "pw", keys: [entry] });
    expectLeafKey(await loadKeystoreKey({ bytes, storePassword: "pw", alias: "virksomhet", declaredType: "JKS" }));
  });
});

describe("files that are not keystores", () => {
  it.each([
    ["a PEM file", () => Buffer.from(`-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n`)],
    ["random bytes", () => Buffer.from("0123456789abcdef0123456789abcdef")],
    ["an empty file", () => Buffer.alloc(0)],
    ["a bare DER certificate (a SEQUENCE, but not a PFX)", () => leaf.certificateDer],
  ])("refuses %s", async (_name, makeBytes) => {
    await expectKeystoreError(
      { bytes: makeBytes(), storePassword: "pw", declaredType: "PKCS12", source: "client.p12" },
      /^client\.p12: not a JKS or PKCS#12 keystore \(keystore\.type is PKCS12\)/,
    );
  });

  it("explains that JCEKS needs converting", async () => {
    const bytes = Buffer.concat([Buffer.from([0xce, 0xce, 0xce, 0xce, 0, 0, 0, 2]), Buffer.alloc(40)]);
    await expectKeystoreError(
      { bytes, storePassword: "pw" },
      /JCEKS keystores are not supported; convert it with `keytool -importkeystore/,
    );
  });
});

describe.skipIf(!hasOpenssl)("PKCS#12 made by the openssl command", () => {
  it.each([
    ["OpenSSL 3 defaults (AES-256-CBC, PBKDF2, SHA-256 MAC)", false],
    ["-legacy (3DES key, RC2-40 certificates, SHA-1 MAC)", true],
  ])("reads %s", async (_name, legacy) => {
    const bytes = opensslPkcs12({ key: entry, storePassword: "Ærlig-passord", legacy });
    expectLeafKey(await loadKeystoreKey({ bytes, storePassword: "Ærlig-passord", alias: "Virksomhet" }));
    await expectKeystoreError({ bytes, storePassword: "not-it-42", alias: "Virksomhet" }, /wrong keystore password/);
  });

  it('reads a file made without -name under Java\'s alias "1"', async () => {
    const bytes = opensslPkcs12({ key: entry, storePassword: "pw", name: null });
    expectLeafKey(await loadKeystoreKey({ bytes, storePassword: "pw", alias: "1" }));
  });
});

describe.skipIf(!hasKeytool)("keystores written by Java's keytool", () => {
  it("reads -storetype JKS with its own key password", async () => {
    const source = makePkcs12({ storePassword: "source-pw", keys: [entry] });
    const bytes = keytoolImport({
      source,
      sourcePassword: "source-pw",
      storeType: "JKS",
      storePassword: "jks-store",
      alias: "virksomhet",
      keyPassword: "jks-key",
    });
    expect(detectKeystoreFormat(bytes)).toBe("JKS");
    expectLeafKey(await loadKeystoreKey({ bytes, storePassword: "jks-store", alias: "Virksomhet", keyPassword: "jks-key" }));
    await expectKeystoreError({ bytes, storePassword: "jks-store", alias: "virksomhet", keyPassword: "bad-key" }, /wrong key password/);
    await expectKeystoreError(
      { bytes, storePassword: "bad-store", alias: "virksomhet", keyPassword: "jks-key" },
      /wrong keystore password/,
    );
  });

  it("reads -storetype PKCS12", async () => {
    const source = makePkcs12({ storePassword: "source-pw", keys: [entry] });
    const bytes = keytoolImport({
      source,
      sourcePassword: "source-pw",
      storeType: "PKCS12",
      storePassword: "p12-store",
      alias: "virksomhet",
    });
    expect(detectKeystoreFormat(bytes)).toBe("PKCS12");
    expectLeafKey(await loadKeystoreKey({ bytes, storePassword: "p12-store", alias: "virksomhet" }));
  });
});
