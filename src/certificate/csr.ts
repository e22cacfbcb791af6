/**
 * The pending certificate's CSR (PKCS#10, RFC 2986) as Key Vault hands it out: its subject and
 * its public key, which the issued certificate must carry unchanged.
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { childrenOf, DerError, readWholeDer, TAG } from "./der.js";
import { parseName, type NameAttribute } from "./names.js";

export interface CertificateRequest {
  der: Buffer;
  subject: NameAttribute[];
  /** DER SubjectPublicKeyInfo, for byte-wise comparison with a certificate's. */
  spkiDer: Buffer;
  publicKey: KeyObject;
}

export function parseCertificateRequest(der: Buffer): CertificateRequest {
  try {
    const request = readWholeDer(der);
    const [info] = childrenOf(request);
    if (request.tag !== TAG.sequence || !info || info.tag !== TAG.sequence) throw new DerError("not a PKCS#10 request");
    const [version, subject, spki] = childrenOf(info);
    if (!version || version.tag !== TAG.integer || !subject || !spki || spki.tag !== TAG.sequence) {
      throw new DerError("not a PKCS#10 request");
    }
    const spkiDer = Buffer.from(spki.bytes);
    return {
      der: Buffer.from(der),
      subject: parseName(subject),
      spkiDer,
      publicKey: createPublicKey({ key: spkiDer, format: "der", type: "spki" }),
    };
  } catch (error) {
    throw new TypeError(`the certificate signing request cannot be read: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
}

export function csrToPem(der: Buffer): string {
  return toPem("CERTIFICATE REQUEST", der);
}

export function toPem(label: string, der: Buffer): string {
  return `-----BEGIN ${label}-----\n${der.toString("base64").replace(/.{1,64}/g, "$&\n")}-----END ${label}-----\n`;
}
