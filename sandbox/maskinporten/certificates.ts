/**
 * The `x5c` side of grant validation: decoding the header value, walking the chain to a trusted
 * root on the stand-in's clock, and reading the organisation number from the leaf.
 */
import { X509Certificate } from "node:crypto";

/** RFC 7517 §4.7: standard base64 (not base64url) DER, padded. */
const STANDARD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const MAX_CHAIN_LENGTH = 8;

export type X5cResult = { ok: true; chain: X509Certificate[] } | { ok: false; problem: string };

export function parseX5c(value: unknown): X5cResult {
  if (!Array.isArray(value)) return { ok: false, problem: `x5c is a ${value === null ? "null" : typeof value}, not an array` };
  if (value.length === 0) return { ok: false, problem: "x5c is empty" };
  if (value.length > MAX_CHAIN_LENGTH) return { ok: false, problem: `x5c has ${value.length} certificates` };
  const chain: X509Certificate[] = [];
  for (const [index, entry] of value.entries()) {
    if (typeof entry !== "string" || entry.length === 0 || !STANDARD_BASE64.test(entry)) {
      return { ok: false, problem: `x5c[${index}] is not standard base64` };
    }
    try {
      chain.push(new X509Certificate(Buffer.from(entry, "base64")));
    } catch {
      return { ok: false, problem: `x5c[${index}] is not a DER certificate` };
    }
  }
  return { ok: true, chain };
}

/**
 * The stand-in reads certificate validity as Dates (`X509Certificate.validFromDate`, Node 22.10+).
 * On an older Node every certificate grant would fail with a 500; refuse to start instead.
 */
export function x509DatesProblem(version = process.versions.node): string | undefined {
  if ("validFromDate" in X509Certificate.prototype && "validToDate" in X509Certificate.prototype) return undefined;
  return (
    `The Maskinporten stand-in needs Node.js 22.10 or later (X509Certificate.validFromDate); this is Node ${version}. ` +
    "Run through npm (npm start / npm test), which puts the project's Node 22 first on the PATH, or install Node 22."
  );
}

export function isWithinValidity(certificate: X509Certificate, nowMs: number): boolean {
  return certificate.validFromDate.getTime() <= nowMs && nowMs <= certificate.validToDate.getTime();
}

/**
 * Undefined when `chain[0]` chains, through the other certificates in `chain`, to one of
 * `trustedRoots`, every certificate on the way valid at `nowMs`; otherwise what is wrong.
 */
export function chainProblem(
  chain: readonly X509Certificate[],
  trustedRoots: readonly X509Certificate[],
  nowMs: number,
): string | undefined {
  let current = chain[0];
  if (!current) return "no leaf certificate";
  const intermediates = chain.slice(1);
  const issuedBy = (child: X509Certificate, parent: X509Certificate) => child.checkIssued(parent) && child.verify(parent.publicKey);

  for (let depth = 0; depth < MAX_CHAIN_LENGTH; depth++) {
    const root = trustedRoots.find((candidate) => issuedBy(current!, candidate));
    if (root) return isWithinValidity(root, nowMs) ? undefined : "the trusted root has expired";
    const next = intermediates.find((candidate) => candidate !== current && issuedBy(current!, candidate));
    if (!next)
      return depth === 0
        ? "the leaf is not issued by a trusted root or an included intermediate"
        : "the chain does not end at a trusted root";
    if (!next.ca) return "an issuing certificate in x5c is not a CA";
    if (!isWithinValidity(next, nowMs)) return "an intermediate certificate is outside its validity period";
    current = next;
  }
  return "the chain is too long";
}

/**
 * Norwegian enterprise certificates carry the organisation number in the subject: Buypass and
 * Commfides in serialNumber, newer (SEID 2) ones as organizationIdentifier `NTRNO-<orgno>`.
 */
export function organisationNumberOf(certificate: X509Certificate): string | undefined {
  for (const line of certificate.subject.split("\n")) {
    const separator = line.indexOf("=");
    const name = line.slice(0, separator);
    const value = line.slice(separator + 1).trim();
    if (name === "serialNumber" && /^\d{9}$/.test(value)) return value;
    if ((name === "organizationIdentifier" || name === "2.5.4.97") && /^NTRNO-\d{9}$/.test(value)) return value.slice(6);
  }
  return undefined;
}
