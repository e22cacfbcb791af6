/**
 * What a CA hands back, read into DER certificates: PEM with one or more CERTIFICATE blocks (or a
 * PKCS7 block), a DER certificate (.cer/.crt), a DER or PEM PKCS#7 bag (.p7b), or the same in
 * base64 without PEM armour. Key Vault's merge takes only a list of DER certificates (it stopped
 * accepting PKCS#7), so the bag is unpacked here.
 */
import { X509Certificate } from "node:crypto";
import { childrenOf, oidOf, readWholeDer, TAG } from "./der.js";

const SIGNED_DATA = "1.2.840.113549.1.7.2";
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
const BASE64_TEXT = /^[A-Za-z0-9+/=\s]+$/;

export class CertificateFileError extends Error {}

/** Every certificate in the file, in file order. */
export function readCertificateFile(bytes: Buffer): Buffer[] {
  const text = bytes.toString("latin1");
  if (text.includes("-----BEGIN ")) return fromPem(text);
  if (bytes[0] === TAG.sequence) return fromDer(bytes);
  if (BASE64_TEXT.test(text.trim())) return fromDer(Buffer.from(text.replace(/\s+/g, ""), "base64"));
  throw new CertificateFileError("the file is neither PEM, DER nor base64: expected the issued certificate (.pem, .cer, .crt or .p7b)");
}

function fromPem(text: string): Buffer[] {
  const certificates: Buffer[] = [];
  for (const [, label, body] of text.matchAll(PEM_BLOCK)) {
    const der = Buffer.from(body!.replace(/\s+/g, ""), "base64");
    if (label === "CERTIFICATE" || label === "TRUSTED CERTIFICATE" || label === "X509 CERTIFICATE") certificates.push(...fromDer(der));
    else if (label === "PKCS7" || label === "CMS") certificates.push(...fromPkcs7(der));
    else if (label!.includes("PRIVATE KEY")) {
      // Never needed for a merge, and a sign that the key exists outside the vault.
      throw new CertificateFileError(
        "the file contains a private key: the merge needs only the issued certificate; the key was made in Key Vault and must not exist anywhere else",
      );
    } else if (label === "CERTIFICATE REQUEST" || label === "NEW CERTIFICATE REQUEST") {
      throw new CertificateFileError("the file is a certificate signing request, not the issued certificate");
    }
  }
  if (certificates.length === 0) throw new CertificateFileError("the PEM file holds no CERTIFICATE or PKCS7 block");
  return certificates;
}

function fromDer(der: Buffer): Buffer[] {
  try {
    new X509Certificate(der);
    return [Buffer.from(der)];
  } catch {
    return fromPkcs7(der);
  }
}

/** ContentInfo { signedData, [0] SignedData { version, digestAlgorithms, contentInfo, [0] certificates … } }. */
function fromPkcs7(der: Buffer): Buffer[] {
  try {
    const [contentType, explicit] = childrenOf(readWholeDer(der));
    if (!contentType || oidOf(contentType) !== SIGNED_DATA || !explicit || explicit.tag !== 0xa0) throw new Error("not SignedData");
    const [signedData] = childrenOf(explicit);
    const bag = childrenOf(signedData!).find((node) => node.tag === 0xa0);
    if (!bag) throw new Error("no certificates in it");
    const certificates = childrenOf(bag)
      .filter((node) => node.tag === TAG.sequence)
      .map((node) => Buffer.from(node.bytes));
    for (const certificate of certificates) new X509Certificate(certificate);
    if (certificates.length === 0) throw new Error("no certificates in it");
    return certificates;
  } catch (error) {
    throw new CertificateFileError(
      `the file is neither an X.509 certificate nor a PKCS#7 certificate bag (${error instanceof Error ? error.message : String(error)})`,
    );
  }
}
