/**
 * The Key Vault certificate policy for a SEID 2 enterprise certificate whose key is born in Key
 * Vault: issuer "Unknown" (an external CA: Key Vault makes the key and a CSR and waits for a
 * merge), non-exportable, a new key per version. The CA sets the issued subject from the
 * Brønnøysund registers; the CSR's subject names the organisation so the order is recognisable.
 */
import { isKeyUsage, type KeyUsage } from "./key-usage.js";

export interface EnterpriseCsrRequest {
  organisationNumber: string;
  organisationName: string;
  /** RSA modulus bits; 3072 (what Buypass and Commfides issue under SEID 2) unless given. */
  keySize?: number;
  /** RSA-HSM (Key Vault premium) instead of a software key. */
  hsm?: boolean;
  keyUsage?: KeyUsage[];
  /** Informational for an external CA; 36 (Buypass/Commfides issue for three years) unless given. */
  validityMonths?: number;
}

/** The policy as `@azure/keyvault-certificates` takes it (CertificatePolicy), plain data. */
export interface EnterpriseCertificatePolicy {
  issuerName: "Unknown";
  subject: string;
  exportable: false;
  keyType: "RSA" | "RSA-HSM";
  keySize: number;
  reuseKey: false;
  keyUsage: KeyUsage[];
  enhancedKeyUsage: string[];
  validityInMonths: number;
  contentType: "application/x-pem-file";
  lifetimeActions: { action: "EmailContacts"; daysBeforeExpiry: number }[];
}

export const DEFAULT_KEY_SIZE = 3072;
export const DEFAULT_KEY_USAGE: KeyUsage[] = ["digitalSignature"];
const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
const KEY_SIZES = [2048, 3072, 4096];

/** Every problem with the request, worded for the command line; empty when it is fine. */
export function csrRequestProblems(request: EnterpriseCsrRequest): string[] {
  const problems: string[] = [];
  if (!/^\d{9}$/.test(request.organisationNumber)) problems.push("--organisation-number must be the 9-digit organisation number");
  const name = request.organisationName.trim();
  if (name.length === 0) problems.push("--organisation-name is required: the organisation's registered name");
  else if (name.length > 64) problems.push("--organisation-name is longer than 64 characters (X.520 limit for O and CN)");
  else if (/["\\+=<>#;\p{Cc}]/u.test(name)) problems.push('--organisation-name must not contain " \\ + = < > # ; or control characters');
  if (request.keySize !== undefined && !KEY_SIZES.includes(request.keySize)) problems.push("--key-size must be 2048, 3072 or 4096");
  for (const usage of request.keyUsage ?? []) {
    if (!isKeyUsage(usage)) problems.push(`--key-usage: unknown key usage "${String(usage).slice(0, 40)}"`);
  }
  if (request.keyUsage && !request.keyUsage.includes("digitalSignature"))
    problems.push("--key-usage must include digitalSignature: Maskinporten grants are signatures");
  if (
    request.validityMonths !== undefined &&
    !(Number.isInteger(request.validityMonths) && request.validityMonths >= 1 && request.validityMonths <= 120)
  ) {
    problems.push("--validity-months must be a whole number from 1 to 120");
  }
  return problems;
}

export function enterpriseCertificatePolicy(request: EnterpriseCsrRequest): EnterpriseCertificatePolicy {
  const name = quoteDnValue(request.organisationName.trim());
  return {
    issuerName: "Unknown",
    subject: `CN=${name}, O=${name}, SERIALNUMBER=${request.organisationNumber}, C=NO`,
    exportable: false,
    keyType: request.hsm ? "RSA-HSM" : "RSA",
    keySize: request.keySize ?? DEFAULT_KEY_SIZE,
    reuseKey: false,
    keyUsage: [...(request.keyUsage ?? DEFAULT_KEY_USAGE)],
    enhancedKeyUsage: [CLIENT_AUTH],
    validityInMonths: request.validityMonths ?? 36,
    contentType: "application/x-pem-file",
    lifetimeActions: [{ action: "EmailContacts", daysBeforeExpiry: 60 }],
  };
}

/** RFC 4514: a value with a comma is quoted (the other specials are refused above). */
function quoteDnValue(value: string): string {
  return value.includes(",") ? `"${value}"` : value;
}
