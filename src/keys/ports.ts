/**
 * The ports key registration drives, defined by the core and implemented at the edge: Digdir's
 * self-service API (src/keys/self-service-client.ts) and the public half of the signing key in
 * Key Vault (src/keyvault/public-key.ts). The error is here so the use case can tell Digdir's
 * answer from any other failure without importing the adapter.
 */
import { BrokerError, ErrorCode, type ErrorLogFields } from "../errors.js";
import type { PublicJwk, RegisteredKeySet } from "./registered-keys.js";

export const SELF_SERVICE_HOSTS = {
  test: "https://api.test.samarbeid.digdir.no",
  prod: "https://api.samarbeid.digdir.no",
} as const;

export interface SelfServiceErrorDetails {
  status?: number;
  /** `error` of an OAuth/RFC 7591-style body. */
  error?: string;
  /** `error_description`, or `message` of a Spring-style body. */
  description?: string;
  /** Digdir's body, bounded and scrubbed, when it had no recognisable fields. */
  body?: string;
  transient: boolean;
}

export type SelfServiceErrorCode =
  | typeof ErrorCode.SelfServiceRejected
  | typeof ErrorCode.SelfServiceUnavailable
  | typeof ErrorCode.SelfServiceBadResponse
  | typeof ErrorCode.KeyRegistration;

export class SelfServiceError extends BrokerError {
  readonly status?: number;
  readonly error?: string;
  readonly description?: string;
  readonly body?: string;
  readonly transient: boolean;

  constructor(code: SelfServiceErrorCode, message: string, details: SelfServiceErrorDetails, options?: { cause?: unknown }) {
    super(code, message, options);
    this.transient = details.transient;
    if (details.status !== undefined) this.status = details.status;
    if (details.error !== undefined) this.error = details.error;
    if (details.description !== undefined) this.description = details.description;
    if (details.body !== undefined) this.body = details.body;
  }

  /** Digdir's status and OAuth error for the log line; the body stays out (it is scrubbed, but long). */
  override logFields(): ErrorLogFields {
    return { ...super.logFields(), ...(this.status !== undefined ? { status: this.status } : {}) };
  }
}

export interface SelfServiceClient {
  getJwks(clientId: string): Promise<RegisteredKeySet>;
  /** Replaces the client's whole key set. An empty list deletes the set. */
  putJwks(clientId: string, keys: readonly PublicJwk[]): Promise<RegisteredKeySet>;
}

/** The public half of the Key Vault key version a profile signs with. */
export interface VaultPublicKey {
  /** Key id with version (what the signer signs with). */
  keyId: string;
  /** RSA public JWK members: kty, n, e. */
  jwk: { kty: "RSA"; n: string; e: string };
  /** Modulus length in bits (Digdir wants RSA ≥ 2048). */
  bits: number;
}
