/**
 * The sandbox's certificate issuer, playing Buypass or Commfides for a CSR: it checks the
 * request's signature, takes the organisation from it and issues a SEID-2-like virksomhetssertifikat
 * (subject C=NO, O, organizationIdentifier NTRNO-<orgno>, CN; keyUsage as requested from
 * digitalSignature/nonRepudiation/keyEncipherment/dataEncipherment; three years), signed by the
 * sandbox intermediate CA that the Maskinporten stand-in trusts. Sandbox and tests only.
 */
import { randomBytes, X509Certificate } from "node:crypto";
import forge from "node-forge";
import type { IssuedCertificate } from "./pki.js";

export interface IssueForCsrOptions {
  /** The issuing CA (the sandbox intermediate). */
  issuer: IssuedCertificate;
  /** Issuer certificates to return after the leaf, issuer first. */
  chainDer?: Buffer[];
  /** Refuse requests for any other organisation (a CA issues only to the registered customer). */
  organisationNumber?: string;
  notBefore?: Date;
  notAfter?: Date;
  /** Tests: issue for another organisation number than requested. */
  subjectOrganisationNumber?: string;
  /** Tests: these key usages instead of the requested ones. */
  keyUsage?: string[];
}

export interface IssuedForCsr {
  leafDer: Buffer;
  x509: X509Certificate;
  /** Leaf then chain, as a CA's download would be. */
  pem: string;
}

const ALLOWED_USAGES = ["digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment"];
const DAY_MS = 86_400_000;

export class CertificateRequestRefused extends Error {}

export function issueForCsr(csrPemOrDer: string | Buffer, options: IssueForCsrOptions): IssuedForCsr {
  const csr = readRequest(csrPemOrDer);
  if (!csr.verify()) throw new CertificateRequestRefused("the CSR's signature does not verify");
  const field = (type: string) =>
    csr.subject.attributes.find((attribute: forge.pki.CertificateField) => attribute.type === type)?.value as string | undefined;
  const requestedOrg = field("2.5.4.5") ?? /^NTRNO-(\d{9})$/.exec(field("2.5.4.97") ?? "")?.[1];
  if (!requestedOrg || !/^\d{9}$/.test(requestedOrg))
    throw new CertificateRequestRefused("the CSR names no organisation number (subject serialNumber)");
  if (options.organisationNumber && requestedOrg !== options.organisationNumber) {
    throw new CertificateRequestRefused(`this CA issues only to organisation ${options.organisationNumber}, not ${requestedOrg}`);
  }
  // forge leaves a parsed UTF8String as its bytes but encodes a UTF8 value when writing.
  const organisation = decodeUtf8(field("2.5.4.10") ?? field("2.5.4.3") ?? `Org ${requestedOrg}`);
  const orgNumber = options.subjectOrganisationNumber ?? requestedOrg;

  const cert = forge.pki.createCertificate();
  cert.publicKey = csr.publicKey!;
  cert.serialNumber = "01" + randomBytes(15).toString("hex");
  const now = Date.now();
  cert.validity.notBefore = options.notBefore ?? new Date(now - 60_000);
  cert.validity.notAfter = options.notAfter ?? new Date(now + 3 * 365 * DAY_MS);
  const utf8 = (type: string, value: string) =>
    ({ type, value, valueTagClass: forge.asn1.Type.UTF8 }) as unknown as forge.pki.CertificateField;
  cert.setSubject([
    { type: "2.5.4.6", value: "NO" },
    utf8("2.5.4.10", organisation),
    utf8("2.5.4.97", `NTRNO-${orgNumber}`),
    utf8("2.5.4.3", organisation),
  ]);
  cert.setIssuer(forge.pki.certificateFromPem(options.issuer.certificatePem).subject.attributes);
  const usages = options.keyUsage ?? requestedKeyUsages(csr);
  cert.setExtensions([
    { name: "basicConstraints", cA: false, critical: true },
    { name: "keyUsage", critical: true, ...Object.fromEntries(usages.map((usage) => [usage, true])) },
    { name: "extKeyUsage", clientAuth: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(
    forge.pki.privateKeyFromPem(options.issuer.privateKey.export({ type: "pkcs8", format: "pem" }).toString()) as forge.pki.rsa.PrivateKey,
    forge.md.sha256.create(),
  );
  const leafDer = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), "binary");
  const pem = [leafDer, ...(options.chainDer ?? [])].map((der) => toPem(der)).join("");
  return { leafDer, x509: new X509Certificate(leafDer), pem };
}

function readRequest(input: string | Buffer): forge.pki.CertificateSigningRequest {
  try {
    const text = Buffer.isBuffer(input) ? input.toString("latin1") : input;
    if (text.includes("-----BEGIN")) return forge.pki.certificationRequestFromPem(text);
    const der = Buffer.isBuffer(input) ? input : Buffer.from(input, "base64");
    return forge.pki.certificationRequestFromAsn1(forge.asn1.fromDer(der.toString("binary")));
  } catch (error) {
    throw new CertificateRequestRefused(
      `not a PKCS#10 certificate signing request (${error instanceof Error ? error.message : String(error)})`,
    );
  }
}

function requestedKeyUsages(csr: forge.pki.CertificateSigningRequest): string[] {
  const request = csr.getAttribute({ name: "extensionRequest" }) as { extensions?: Record<string, unknown>[] } | null;
  const keyUsage = request?.extensions?.find((extension) => extension.name === "keyUsage");
  const usages = keyUsage ? ALLOWED_USAGES.filter((usage) => keyUsage[usage] === true) : [];
  return usages.length > 0 ? usages : ["digitalSignature"];
}

function decodeUtf8(bytes: string): string {
  return Buffer.from(bytes, "latin1").toString("utf8");
}

function toPem(der: Buffer): string {
  return `-----BEGIN CERTIFICATE-----\n${der.toString("base64").replace(/.{1,64}/g, "$&\n")}-----END CERTIFICATE-----\n`;
}
