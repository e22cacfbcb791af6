/**
 * The keyUsage extension (RFC 5280 §4.2.1.3). node:crypto's X509Certificate exposes extended key
 * usage but not these bits, so they are read from the DER here.
 */
import { childrenOf, oidOf, readDer, readWholeDer, TAG } from "./der.js";

export const KEY_USAGES = [
  "digitalSignature",
  "nonRepudiation",
  "keyEncipherment",
  "dataEncipherment",
  "keyAgreement",
  "keyCertSign",
  "cRLSign",
  "encipherOnly",
  "decipherOnly",
] as const;
export type KeyUsage = (typeof KEY_USAGES)[number];

const KEY_USAGE_OID = "2.5.29.15";

export function isKeyUsage(value: string): value is KeyUsage {
  return (KEY_USAGES as readonly string[]).includes(value);
}

/** The usages the certificate allows, or undefined when it has no keyUsage extension. */
export function keyUsageOf(certificateDer: Buffer): KeyUsage[] | undefined {
  const [tbs] = childrenOf(readWholeDer(certificateDer));
  const extensionsWrapper = childrenOf(tbs!).find((node) => node.tag === 0xa3);
  if (!extensionsWrapper) return undefined;
  const [extensions] = childrenOf(extensionsWrapper);
  for (const extension of childrenOf(extensions!)) {
    const parts = childrenOf(extension);
    if (oidOf(parts[0]!) !== KEY_USAGE_OID) continue;
    const value = parts.at(-1)!;
    if (value.tag !== TAG.octetString) return [];
    const bits = readDer(value.content);
    if (bits.tag !== TAG.bitString) return [];
    const octets = bits.content.subarray(1);
    return KEY_USAGES.filter((_, index) => ((octets[index >> 3] ?? 0) & (0x80 >> (index & 7))) !== 0);
  }
  return undefined;
}
