/**
 * X.500 names as Norwegian enterprise certificates use them: the attributes by OID, and where
 * the organisation number sits (SEID 1: subject serialNumber; SEID 2: organizationIdentifier
 * `NTRNO-<orgno>`, ETSI EN 319 412-1 §5.1.4).
 */
import { childrenOf, oidOf, textOf, type DerNode } from "./der.js";

export const NAME_OIDS = {
  commonName: "2.5.4.3",
  serialNumber: "2.5.4.5",
  countryName: "2.5.4.6",
  organizationName: "2.5.4.10",
  organizationalUnitName: "2.5.4.11",
  organizationIdentifier: "2.5.4.97",
} as const;

export interface NameAttribute {
  oid: string;
  value: string;
}

/** Name ::= SEQUENCE OF RelativeDistinguishedName (SET OF AttributeTypeAndValue). */
export function parseName(name: DerNode): NameAttribute[] {
  const attributes: NameAttribute[] = [];
  for (const rdn of childrenOf(name)) {
    for (const typeAndValue of childrenOf(rdn)) {
      const [type, value] = childrenOf(typeAndValue);
      if (!type || !value) continue;
      attributes.push({ oid: oidOf(type), value: textOf(value) });
    }
  }
  return attributes;
}

const ORG_NUMBER = /^\d{9}$/;
const NTRNO = /^NTRNO-(\d{9})$/;

/** The organisation number a subject names, from organizationIdentifier or serialNumber. */
export function organisationNumberIn(attributes: readonly NameAttribute[]): string | undefined {
  for (const { oid, value } of attributes) {
    if (oid === NAME_OIDS.organizationIdentifier) {
      const match = NTRNO.exec(value.trim());
      if (match) return match[1];
    }
  }
  for (const { oid, value } of attributes) {
    if (oid === NAME_OIDS.serialNumber && ORG_NUMBER.test(value.trim())) return value.trim();
  }
  return undefined;
}

export function attributeValue(attributes: readonly NameAttribute[], oid: string): string | undefined {
  return attributes.find((attribute) => attribute.oid === oid)?.value;
}

/** `C=NO, O=…, …` for people, in the order the name lists them. */
export function describeName(attributes: readonly NameAttribute[]): string {
  const short: Record<string, string> = {
    [NAME_OIDS.commonName]: "CN",
    [NAME_OIDS.serialNumber]: "serialNumber",
    [NAME_OIDS.countryName]: "C",
    [NAME_OIDS.organizationName]: "O",
    [NAME_OIDS.organizationalUnitName]: "OU",
    [NAME_OIDS.organizationIdentifier]: "organizationIdentifier",
  };
  return attributes.map(({ oid, value }) => `${short[oid] ?? oid}=${value}`).join(", ");
}
