/**
 * Checks an issued certificate before it is merged into the pending Key Vault certificate: it
 * must carry the pending key, name the organisation, be valid now and allow signing. Pure: the
 * caller brings the certificates, the CSR and the clock.
 */
import { X509Certificate } from "node:crypto";
import type { CertificateRequest } from "./csr.js";
import { childrenOf, readWholeDer } from "./der.js";
import { keyUsageOf, type KeyUsage } from "./key-usage.js";
import { describeName, organisationNumberIn, parseName, type NameAttribute } from "./names.js";

export interface MergeCandidate {
  /** Leaf first, then each issuer that the file holds, in chain order. */
  chainDer: Buffer[];
  leaf: X509Certificate;
  subject: NameAttribute[];
  organisationNumber: string | undefined;
  keyUsage: KeyUsage[] | undefined;
  /** Certificates in the file that are neither the leaf nor in its chain (dropped). */
  unrelated: number;
}

export interface CheckResult {
  candidate: MergeCandidate | undefined;
  /** Each reason the merge must not happen; empty when it may. */
  problems: string[];
  /** Worth saying, not blocking. */
  warnings: string[];
}

const DAY_MS = 86_400_000;
/** Renewing a virksomhetssertifikat takes days to weeks: say so well before it expires. */
export const EXPIRY_WARNING_DAYS = 60;

/**
 * Finds the leaf for the pending key among `certificatesDer`, orders its chain and checks it as
 * an enterprise certificate for `organisationNumber`.
 */
export function checkIssuedCertificate(input: {
  certificatesDer: readonly Buffer[];
  request: CertificateRequest;
  organisationNumber: string;
  now: number;
}): CheckResult {
  const problems: string[] = [];
  const warnings: string[] = [];
  const parsed = input.certificatesDer.map((der) => ({ der, x509: new X509Certificate(der) }));
  const leafIndex = parsed.findIndex(({ x509 }) => samePublicKey(x509, input.request));
  if (leafIndex < 0) {
    problems.push(
      parsed.length === 1
        ? "the certificate does not match the pending key: its public key differs from the CSR's (issued for another request?)"
        : `none of the ${parsed.length} certificates in the file matches the pending key: their public keys differ from the CSR's (issued for another request?)`,
    );
    return { candidate: undefined, problems, warnings };
  }
  const leaf = parsed[leafIndex]!;
  const chain = [leaf];
  const rest = parsed.filter((_, index) => index !== leafIndex);
  for (let current = leaf; ;) {
    const parentIndex = rest.findIndex(({ x509 }) => current.x509.checkIssued(x509) && current.x509.verify(x509.publicKey));
    if (parentIndex < 0) break;
    current = rest.splice(parentIndex, 1)[0]!;
    chain.push(current);
    if (current.x509.checkIssued(current.x509)) break; // a root
  }

  const subject = subjectOf(leaf.der);
  const organisationNumber = organisationNumberIn(subject);
  const keyUsage = keyUsageOf(leaf.der);
  const candidate: MergeCandidate = {
    chainDer: chain.map(({ der }) => der),
    leaf: leaf.x509,
    subject,
    organisationNumber,
    keyUsage,
    unrelated: rest.length,
  };

  if (organisationNumber === undefined) {
    problems.push(
      `the certificate names no organisation number (neither organizationIdentifier NTRNO-<orgno> nor serialNumber in ${describeName(subject)}): not a Norwegian enterprise certificate`,
    );
  } else if (organisationNumber !== input.organisationNumber) {
    problems.push(`the certificate is issued to organisation ${organisationNumber}, not ${input.organisationNumber}`);
  }
  if (leaf.x509.ca) problems.push("the certificate is a CA certificate, not an enterprise (end-entity) certificate");
  // Not checkIssued: OpenSSL also wants keyCertSign there, which a self-signed leaf lacks.
  if (leaf.x509.issuer === leaf.x509.subject && leaf.x509.verify(leaf.x509.publicKey))
    problems.push("the certificate is self-signed: Maskinporten accepts only certificates from Buypass or Commfides");
  if (keyUsage !== undefined && !keyUsage.includes("digitalSignature")) {
    problems.push(
      `the certificate does not allow digitalSignature (key usage: ${keyUsage.join(", ") || "none"}): it cannot sign Maskinporten grants; order the authentication/signing certificate`,
    );
  }
  if (keyUsage === undefined) warnings.push("the certificate has no keyUsage extension (SEID 2 certificates have one)");

  const from = Date.parse(leaf.x509.validFrom);
  const to = Date.parse(leaf.x509.validTo);
  if (input.now >= to) problems.push(`the certificate expired on ${new Date(to).toISOString()}`);
  else if (input.now < from) problems.push(`the certificate is not valid before ${new Date(from).toISOString()}: merge it then`);
  else if (to - input.now < EXPIRY_WARNING_DAYS * DAY_MS) {
    warnings.push(`the certificate expires on ${new Date(to).toISOString()}, in less than ${EXPIRY_WARNING_DAYS} days`);
  }
  if (chain.length === 1)
    warnings.push(
      "the file holds no issuing CA certificate: Key Vault stores the leaf alone (the broker sends SIGNING_CHAIN for the intermediate)",
    );
  if (rest.length > 0) warnings.push(`${rest.length} certificate(s) in the file are not in the leaf's chain and are left out`);
  return { candidate, problems, warnings };
}

function samePublicKey(certificate: X509Certificate, request: CertificateRequest): boolean {
  const spki = certificate.publicKey.export({ type: "spki", format: "der" });
  return Buffer.compare(spki, request.spkiDer) === 0;
}

/** Certificate → tbsCertificate → subject (after version, serial, signature, issuer, validity). */
function subjectOf(certificateDer: Buffer): NameAttribute[] {
  const [tbs] = childrenOf(readWholeDer(certificateDer));
  const fields = childrenOf(tbs!);
  const offset = fields[0]?.tag === 0xa0 ? 1 : 0;
  return parseName(fields[offset + 4]!);
}
