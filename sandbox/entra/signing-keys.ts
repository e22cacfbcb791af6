/**
 * The stand-in's token signing keys, shaped like Entra's: RSA-2048 keys in self-signed
 * certificates, `kid` = `x5t` = base64url SHA-1 thumbprint of the certificate, published with
 * `use: "sig"`, `x5c` and the tenant's `issuer`. Rotation keeps old keys published until retired,
 * as Entra does during a key rollover.
 */
import { createHash, sign, type KeyObject } from "node:crypto";
import { issueCertificate } from "../pki.js";

export interface PublicSigningJwk {
  kty: "RSA";
  use: "sig";
  kid: string;
  x5t: string;
  n: string;
  e: string;
  x5c: string[];
  issuer: string;
}

interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  jwk: PublicSigningJwk;
}

export type JoseHeader = Record<string, unknown>;

export class EntraKeyRing {
  readonly #issuer: string;
  #current: SigningKey;
  #retiring: SigningKey[] = [];

  constructor(issuer: string) {
    this.#issuer = issuer;
    this.#current = this.#generate();
  }

  get currentKid(): string {
    return this.#current.kid;
  }

  /** A new current key; the previous one stays in the JWKS until retireOldKeys(). */
  rotate(): string {
    this.#retiring.push(this.#current);
    this.#current = this.#generate();
    return this.#current.kid;
  }

  retireOldKeys(): void {
    this.#retiring = [];
  }

  jwks(): { keys: PublicSigningJwk[] } {
    return { keys: [this.#current.jwk, ...this.#retiring.map((key) => key.jwk)] };
  }

  /**
   * Compact JWS with RS256 by the current key. `headerOverrides` change what the header *says*
   * (a member set to null is dropped) but never how it is signed: hostile tests use this for
   * `alg`, `kid` or `crit` lies that a verifier must catch.
   */
  signCompact(payload: Record<string, unknown>, headerOverrides: Record<string, unknown> = {}): string {
    const header: JoseHeader = { typ: "JWT", alg: "RS256", kid: this.#current.kid };
    for (const [name, value] of Object.entries(headerOverrides)) {
      if (value === null) delete header[name];
      else header[name] = value;
    }
    const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
    const signature = sign("sha256", Buffer.from(signingInput, "ascii"), this.#current.privateKey);
    return `${signingInput}.${signature.toString("base64url")}`;
  }

  #generate(): SigningKey {
    // Real Entra signing certificates carry this subject.
    const certificate = issueCertificate({ commonName: "accounts.accesscontrol.windows.net" });
    const thumbprint = createHash("sha1").update(certificate.certificateDer).digest("base64url");
    const { n, e } = certificate.publicKey.export({ format: "jwk" });
    if (typeof n !== "string" || typeof e !== "string") throw new Error("RSA public key export lacks n/e");
    return {
      kid: thumbprint,
      privateKey: certificate.privateKey,
      jwk: {
        kty: "RSA",
        use: "sig",
        kid: thumbprint,
        x5t: thumbprint,
        n,
        e,
        x5c: [certificate.certificateDer.toString("base64")],
        issuer: this.#issuer,
      },
    };
  }
}

function base64url(text: string): string {
  return Buffer.from(text, "utf8").toString("base64url");
}
