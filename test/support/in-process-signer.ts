/**
 * A GrantSigner over a node:crypto private key held in the test process: a real RSA signer, used
 * where a test is about the grant and not about where the key lives.
 */
import { sign, type KeyObject } from "node:crypto";
import type { GrantSigner, KeyIdentification, SigningAlgorithm } from "../../src/signing/signer.js";

const HASH: Record<SigningAlgorithm, string> = { RS256: "sha256", RS384: "sha384", RS512: "sha512" };

export function inProcessSigner(
  privateKey: KeyObject,
  identification: KeyIdentification,
  alg: SigningAlgorithm = "RS256",
): GrantSigner & { signCount: number } {
  const signer = {
    signCount: 0,
    async currentKey() {
      return {
        alg,
        identification,
        async sign(input: Uint8Array) {
          signer.signCount++;
          return new Uint8Array(sign(HASH[alg], input, privateKey));
        },
      };
    },
  };
  return signer;
}
