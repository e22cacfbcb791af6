/**
 * Assembles the compact JWS by hand: jose cannot sign with a key it does not hold, and the Key
 * Vault key never leaves the vault. jose still supplies the base64url codec.
 */
import { randomUUID } from "node:crypto";
import { base64url } from "jose";
import { BrokerError, ErrorCode } from "../errors.js";
import type { GrantSigner, SigningKey } from "../signing/signer.js";
import { buildGrantClaims, type GrantClaims, type GrantClaimsInput } from "./claims.js";

export type { GrantClaimsInput } from "./claims.js";

export interface GrantOptions {
  now?: () => number;
  newJti?: () => string;
}

export interface GrantHeader {
  alg: SigningKey["alg"];
  x5c?: string[];
  kid?: string;
}

export function buildGrantHeader(key: SigningKey): GrantHeader {
  return key.identification.x5c ? { alg: key.alg, x5c: key.identification.x5c } : { alg: key.alg, kid: key.identification.kid };
}

const encoder = new TextEncoder();

function encodeSegment(value: GrantHeader | GrantClaims): string {
  return base64url.encode(encoder.encode(JSON.stringify(value)));
}

/** Builds and signs one grant. Every call gets a fresh jti: a grant is never reused. */
export async function createGrant(input: GrantClaimsInput, signer: GrantSigner, options: GrantOptions = {}): Promise<string> {
  const key = await signer.currentKey();
  const claims = buildGrantClaims(input, (options.now ?? Date.now)(), (options.newJti ?? randomUUID)());
  const signingInput = `${encodeSegment(buildGrantHeader(key))}.${encodeSegment(claims)}`;
  let signature: Uint8Array;
  try {
    signature = await key.sign(encoder.encode(signingInput));
  } catch (error) {
    if (error instanceof BrokerError) throw error;
    throw new BrokerError(ErrorCode.Signing, `Signing the grant with ${key.alg} failed: ${describeCause(error)}`, {
      cause: error,
    });
  }
  return `${signingInput}.${base64url.encode(signature)}`;
}

function describeCause(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
