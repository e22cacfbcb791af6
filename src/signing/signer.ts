/**
 * The signing port. The grant builder owns the JWS layout; a signer only says which key it is
 * (JOSE header parameters) and signs bytes. Adapters: Key Vault (remote, key never leaves the
 * vault) and a local keystore key (CLI).
 */
export const SIGNING_ALGORITHMS = ["RS256", "RS384", "RS512"] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

export function isSigningAlgorithm(value: unknown): value is SigningAlgorithm {
  return typeof value === "string" && (SIGNING_ALGORITHMS as readonly string[]).includes(value);
}

/** How the grant names its key: the certificate chain itself, or a kid registered on the client. */
export type KeyIdentification = { x5c: string[]; kid?: undefined } | { kid: string; x5c?: undefined };

/**
 * One consistent snapshot of a key: the header that names it and the function that signs with it.
 * Keeping both in one object means a certificate rotation between "describe" and "sign" can never
 * produce a grant whose x5c and signature belong to different keys.
 */
export interface SigningKey {
  alg: SigningAlgorithm;
  /** Header parameters naming the key: `x5c` (standard base64 DER, leaf first) or `kid`. */
  identification: KeyIdentification;
  /** Leaf certificate expiry, when the key is certificate-backed (health, expiry warnings). */
  certificateNotAfter?: Date;
  /** Signs the JWS signing input (ASCII of `header.payload`) with `alg`. */
  sign(signingInput: Uint8Array): Promise<Uint8Array>;
}

export interface GrantSigner {
  /** The key to sign the next grant with. Cheap after the first call (adapters cache). */
  currentKey(): Promise<SigningKey>;
}
