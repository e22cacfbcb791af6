import { createSign, generateKeyPairSync, KeyObject, webcrypto } from "node:crypto";
import { describe, expect, it } from "vitest";
import { hasValidRs256Signature, rsaVerificationKey } from "../../src/auth/rs256.js";

const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const other = generateKeyPairSync("rsa", { modulusLength: 2048 });

function signed(privateKey: KeyObject, header: object = { alg: "RS256", kid: "k" }, payload: object = { sub: "x" }): string {
  const input = `${Buffer.from(JSON.stringify(header)).toString("base64url")}.${Buffer.from(JSON.stringify(payload)).toString("base64url")}`;
  return `${input}.${createSign("sha256").update(input).sign(privateKey).toString("base64url")}`;
}

const asCryptoKey = (key: KeyObject) => key.toCryptoKey({ name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, true, ["verify"]);

describe("rsaVerificationKey", () => {
  it("turns the key set's CryptoKey into a KeyObject once per CryptoKey", () => {
    const cryptoKey = asCryptoKey(rsa.publicKey);
    const first = rsaVerificationKey(cryptoKey);
    expect(first).toBeInstanceOf(KeyObject);
    expect(first?.equals(rsa.publicKey)).toBe(true);
    expect(rsaVerificationKey(cryptoKey)).toBe(first);
  });

  it("refuses what is not an RSA public key of 2048 bits or more", async () => {
    const short = generateKeyPairSync("rsa", { modulusLength: 1024 });
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const hmac = await webcrypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, true, ["verify"]);
    expect(rsaVerificationKey(asCryptoKey(short.publicKey))).toBeUndefined();
    expect(rsaVerificationKey(ec.publicKey)).toBeUndefined();
    expect(rsaVerificationKey(rsa.privateKey)).toBeUndefined();
    expect(rsaVerificationKey(hmac)).toBeUndefined();
    expect(rsaVerificationKey(new Uint8Array(32))).toBeUndefined();
    expect(rsaVerificationKey(undefined)).toBeUndefined();
  });
});

describe("hasValidRs256Signature", () => {
  it("accepts the signer's signature and nothing else", () => {
    const token = signed(rsa.privateKey);
    expect(hasValidRs256Signature(token, rsa.publicKey)).toBe(true);
    expect(hasValidRs256Signature(token, other.publicKey)).toBe(false);
    const [header, , signature] = token.split(".");
    const otherPayload = Buffer.from(JSON.stringify({ sub: "y" })).toString("base64url");
    expect(hasValidRs256Signature(`${header}.${otherPayload}.${signature}`, rsa.publicKey)).toBe(false);
    expect(hasValidRs256Signature(`${token.slice(0, -2)}AA`, rsa.publicKey)).toBe(false);
    expect(hasValidRs256Signature(`${token.split(".").slice(0, 2).join(".")}.AAAA`, rsa.publicKey)).toBe(false);
  });
});
