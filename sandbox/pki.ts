/**
 * Test PKI for the stand-ins and tests: RSA keys from node:crypto, X.509 certificates from
 * node-forge (node:crypto can read certificates but not issue them). Nothing here is used by src/.
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate, type KeyObject } from "node:crypto";
import forge from "node-forge";

export interface IssuedCertificate {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** PEM of the certificate alone. */
  certificatePem: string;
  /** DER of the certificate alone. */
  certificateDer: Buffer;
  /** The certificate parsed by node:crypto, for checks. */
  x509: X509Certificate;
}

export interface CertificateRequest {
  commonName: string;
  /** Norwegian organisation number, put in the subject's serialNumber as enterprise certificates do. */
  organisationNumber?: string;
  organisation?: string;
  /** Signs the new certificate; self-signed when absent. */
  issuer?: IssuedCertificate;
  /** RSA modulus length; 2048 unless given. */
  keyBits?: number;
  /** Validity window; defaults to one day back and one year ahead. */
  notBefore?: Date;
  notAfter?: Date;
  /** Makes a CA certificate (basicConstraints cA, keyCertSign). */
  isCa?: boolean;
  /** DNS names and IP addresses for a TLS server certificate. */
  dnsNames?: string[];
  ipAddresses?: string[];
  /** Reuse an existing key pair instead of generating one. */
  keyPair?: { privateKey: KeyObject; publicKey: KeyObject };
}

const DAY_MS = 86_400_000;

export function generateRsaKeyPair(bits = 2048): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync("rsa", { modulusLength: bits, publicExponent: 0x10001 });
}

export function issueCertificate(request: CertificateRequest): IssuedCertificate {
  const { privateKey, publicKey } = request.keyPair ?? generateRsaKeyPair(request.keyBits ?? 2048);
  const forgePublic = forge.pki.publicKeyFromPem(publicKey.export({ type: "spki", format: "pem" }).toString());
  const cert = forge.pki.createCertificate();
  cert.publicKey = forgePublic;
  // Positive serial: leading byte below 0x80.
  cert.serialNumber = "01" + randomBytes(15).toString("hex");
  const now = Date.now();
  cert.validity.notBefore = request.notBefore ?? new Date(now - DAY_MS);
  cert.validity.notAfter = request.notAfter ?? new Date(now + 365 * DAY_MS);

  const subject: forge.pki.CertificateField[] = [{ name: "countryName", value: "NO" }];
  if (request.organisation) subject.push({ name: "organizationName", value: request.organisation });
  if (request.organisationNumber) subject.push({ name: "serialNumber", value: request.organisationNumber });
  subject.push({ name: "commonName", value: request.commonName });
  cert.setSubject(subject);
  cert.setIssuer(request.issuer ? forge.pki.certificateFromPem(request.issuer.certificatePem).subject.attributes : subject);

  const extensions: object[] = [
    { name: "basicConstraints", cA: request.isCa ?? false, critical: true },
    request.isCa
      ? { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true }
      : { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ];
  const altNames = [
    ...(request.dnsNames ?? []).map((value) => ({ type: 2, value })),
    ...(request.ipAddresses ?? []).map((ip) => ({ type: 7, ip })),
  ];
  if (altNames.length > 0) {
    extensions.push({ name: "subjectAltName", altNames });
    extensions.push({ name: "extKeyUsage", serverAuth: true });
  }
  cert.setExtensions(extensions);

  const signingKey = request.issuer?.privateKey ?? privateKey;
  cert.sign(
    forge.pki.privateKeyFromPem(signingKey.export({ type: "pkcs8", format: "pem" }).toString()) as forge.pki.rsa.PrivateKey,
    forge.md.sha256.create(),
  );

  const certificatePem = forge.pki.certificateToPem(cert);
  const certificateDer = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), "binary");
  return { privateKey, publicKey, certificatePem, certificateDer, x509: new X509Certificate(certificateDer) };
}

/** A self-signed TLS certificate for a stand-in on 127.0.0.1 / localhost. */
export function issueLoopbackTlsCertificate(): IssuedCertificate {
  return issueCertificate({
    commonName: "localhost",
    dnsNames: ["localhost"],
    ipAddresses: ["127.0.0.1"],
  });
}

/**
 * The sandbox's own certificate authority: one root that issues the TLS certificates of the HTTPS
 * stand-ins (Key Vault, Entra ID), so a client trusts all of them with one PEM (`caPem`).
 */
export function issueSandboxCa(): IssuedCertificate {
  return issueCertificate({ commonName: "Maskinporten Broker Sandbox TLS CA", organisation: "Sandbox", isCa: true });
}

/** A TLS server certificate for 127.0.0.1 / localhost issued by `ca`. */
export function issueLoopbackServerCertificate(ca: IssuedCertificate, commonName = "localhost"): IssuedCertificate {
  return issueCertificate({ commonName, dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], issuer: ca });
}

/** What an HTTPS stand-in serves with: its key and certificate, and the CA PEM clients trust. */
export interface StandInTls {
  key: string;
  cert: string;
  caPem: string;
}

/** TLS material for one stand-in: issued by `ca` when given, else by a CA of its own. */
export function standInTls(ca?: IssuedCertificate, commonName?: string): StandInTls {
  const authority = ca ?? issueSandboxCa();
  const server = issueLoopbackServerCertificate(authority, commonName);
  return {
    key: server.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    cert: server.certificatePem,
    caPem: authority.certificatePem,
  };
}

/**
 * A test "virksomhetssertifikat": an intermediate-CA-issued leaf with the organisation number in
 * the subject, plus the CA chain, as Buypass and Commfides issue them.
 */
export function issueEnterpriseCertificate(options: {
  organisationNumber: string;
  organisation?: string;
  keyBits?: number;
  notBefore?: Date;
  notAfter?: Date;
}): { leaf: IssuedCertificate; intermediate: IssuedCertificate; root: IssuedCertificate } {
  const root = issueCertificate({ commonName: "Sandbox Root CA", isCa: true, organisation: "Sandbox CA AS" });
  const intermediate = issueCertificate({
    commonName: "Sandbox Class 3 CA",
    isCa: true,
    organisation: "Sandbox CA AS",
    issuer: root,
  });
  const leaf = issueCertificate({
    commonName: options.organisation ?? `Org ${options.organisationNumber}`,
    organisation: options.organisation ?? `Org ${options.organisationNumber}`,
    organisationNumber: options.organisationNumber,
    issuer: intermediate,
    ...(options.keyBits !== undefined ? { keyBits: options.keyBits } : {}),
    ...(options.notBefore ? { notBefore: options.notBefore } : {}),
    ...(options.notAfter ? { notAfter: options.notAfter } : {}),
  });
  return { leaf, intermediate, root };
}

/** PEM private key (PKCS#8) → KeyObject; convenience for tests. */
export function privateKeyFromPem(pem: string): KeyObject {
  return createPrivateKey(pem);
}
