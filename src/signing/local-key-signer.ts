/**
 * Signing adapter for a key held in this process (the CLI's keystore key). The header names the
 * key by `kid` when one is given (a key registered on the client), else by `x5c`.
 *
 * x5c carries the leaf certificate only by default: that is what Digdir's jwt-grant-generator
 * sends, what Maskinporten accepts, and what the Key Vault signer sends unless a chain is
 * configured, so the same inputs give the same grant. `x5cChain: "full"` adds the issuers (Digdir's
 * docs describe x5c as the full chain; some setups want it).
 */
import { createSign, X509Certificate, type KeyObject } from "node:crypto";
import { BrokerError, ErrorCode } from "../errors.js";
import type { GrantSigner, SigningAlgorithm, SigningKey } from "./signer.js";

export interface LocalKeySignerOptions {
  privateKey: KeyObject;
  /** DER certificates, leaf first. Required unless `kid` is given. */
  certificateChain?: readonly Buffer[];
  /** Pre-registered key id: header `kid` instead of `x5c`. */
  kid?: string;
  alg?: SigningAlgorithm;
  x5cChain?: "leaf" | "full";
}

const HASH: Record<SigningAlgorithm, string> = { RS256: "sha256", RS384: "sha384", RS512: "sha512" };

export function createLocalKeySigner(options: LocalKeySignerOptions): GrantSigner {
  const alg = options.alg ?? "RS256";
  const { privateKey } = options;
  if (privateKey.type !== "private" || privateKey.asymmetricKeyType !== "rsa") {
    throw new BrokerError(
      ErrorCode.Signing,
      `Maskinporten grants are signed with RSA (RS256/RS384/RS512); the keystore key is ${privateKey.asymmetricKeyType ?? privateKey.type}`,
    );
  }
  const chain = options.certificateChain ?? [];
  const leafDer = chain[0];
  const leaf = leafDer ? parseCertificate(leafDer) : undefined;
  if (leaf && !leaf.checkPrivateKey(privateKey)) {
    throw new BrokerError(ErrorCode.Signing, `the private key does not belong to the certificate "${leaf.subject.replaceAll("\n", ", ")}"`);
  }

  let identification: SigningKey["identification"];
  if (options.kid !== undefined && options.kid !== "") {
    identification = { kid: options.kid };
  } else if (leafDer) {
    const certificates = options.x5cChain === "full" ? chain : [leafDer];
    identification = { x5c: certificates.map((der) => der.toString("base64")) };
  } else {
    throw new BrokerError(ErrorCode.Signing, "the key has no certificate, so the grant needs a kid (keystore.kid) to name it");
  }

  const key: SigningKey = {
    alg,
    identification,
    ...(leaf ? { certificateNotAfter: new Date(leaf.validTo) } : {}),
    async sign(signingInput) {
      return createSign(HASH[alg]).update(signingInput).sign(privateKey);
    },
  };
  return { currentKey: async () => key };
}

function parseCertificate(der: Buffer): X509Certificate {
  try {
    return new X509Certificate(der);
  } catch (error) {
    throw new BrokerError(ErrorCode.Signing, "the keystore's certificate cannot be parsed", { cause: error });
  }
}
