/**
 * The pure core of CSR onboarding: reading what a CA hands back (PEM, DER, PKCS#7, bare base64),
 * the keyUsage bits, where the organisation number sits, the policy and its input checks, and
 * the chain ordering and refusals of the merge check.
 */
import { generateKeyPairSync } from "node:crypto";
import forge from "node-forge";
import { describe, expect, it } from "vitest";
import { issueForCsr } from "../../sandbox/enterprise-ca.js";
import { issueCertificate, issueEnterpriseCertificate } from "../../sandbox/pki.js";
import { CertificateFileError, readCertificateFile } from "../../src/certificate/certificate-file.js";
import { parseCertificateRequest } from "../../src/certificate/csr.js";
import { checkIssuedCertificate } from "../../src/certificate/enterprise-certificate.js";
import { keyUsageOf } from "../../src/certificate/key-usage.js";
import { organisationNumberIn, NAME_OIDS } from "../../src/certificate/names.js";
import { csrRequestProblems, enterpriseCertificatePolicy } from "../../src/certificate/policy.js";

const ORG = "991825827";
const { root, intermediate } = issueEnterpriseCertificate({ organisationNumber: ORG });

function csrFor(
  subject: forge.pki.CertificateField[] = [
    { type: "2.5.4.5", value: ORG },
    { type: "2.5.4.10", value: "Rederi AS" },
  ],
) {
  const keys = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const forgeKey = forge.pki.privateKeyFromPem(
    keys.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  ) as forge.pki.rsa.PrivateKey;
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e);
  csr.setSubject(subject);
  csr.sign(forgeKey, forge.md.sha256.create());
  const pem = forge.pki.certificationRequestToPem(csr);
  const der = Buffer.from(forge.asn1.toDer(forge.pki.certificationRequestToAsn1(csr)).getBytes(), "binary");
  return { pem, der, keys };
}

function p7b(certificates: Buffer[]): Buffer {
  const bag = forge.pkcs7.createSignedData();
  for (const der of certificates) bag.addCertificate(forge.pki.certificateFromAsn1(forge.asn1.fromDer(der.toString("binary"))));
  return Buffer.from(forge.asn1.toDer(bag.toAsn1()).getBytes(), "binary");
}

describe("readCertificateFile", () => {
  const request = csrFor();
  const issued = issueForCsr(request.pem, { issuer: intermediate, chainDer: [intermediate.certificateDer] });
  const expected = [issued.leafDer, intermediate.certificateDer];

  it("reads PEM chains, DER, DER and PEM PKCS#7 and bare base64 to the same certificates", () => {
    const bag = p7b(expected);
    const pemBag = `-----BEGIN PKCS7-----\n${bag.toString("base64")}\n-----END PKCS7-----\n`;
    for (const input of [Buffer.from(issued.pem), bag, Buffer.from(pemBag), Buffer.from(`${bag.toString("base64")}\r\n`)]) {
      expect(readCertificateFile(input).map((der) => der.toString("hex"))).toEqual(expected.map((der) => der.toString("hex")));
    }
    expect(readCertificateFile(issued.leafDer)).toEqual([issued.leafDer]);
  });

  it("refuses private keys, CSRs and other things, naming what it found", () => {
    const key = intermediate.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    expect(() => readCertificateFile(Buffer.from(key + issued.pem))).toThrow(/contains a private key/);
    expect(() => readCertificateFile(Buffer.from(request.pem))).toThrow(/certificate signing request, not the issued certificate/);
    expect(() => readCertificateFile(Buffer.from("-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n"))).toThrow(CertificateFileError);
    expect(() => readCertificateFile(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]))).toThrow(/neither an X\.509 certificate nor a PKCS#7/);
    expect(() => readCertificateFile(Buffer.from([0xff, 0xfe, 0x00]))).toThrow(/neither PEM, DER nor base64/);
  });
});

describe("keyUsageOf and the organisation number", () => {
  it("reads the keyUsage bits (including decipherOnly in the second octet) and their absence", () => {
    const request = csrFor();
    expect(keyUsageOf(issueForCsr(request.pem, { issuer: intermediate }).leafDer)).toEqual(["digitalSignature"]);
    expect(
      keyUsageOf(
        issueForCsr(request.pem, { issuer: intermediate, keyUsage: ["nonRepudiation", "keyEncipherment", "decipherOnly"] }).leafDer,
      ),
    ).toEqual(["nonRepudiation", "keyEncipherment", "decipherOnly"]);
    expect(keyUsageOf(root.certificateDer)).toEqual(["keyCertSign", "cRLSign"]);
  });

  it("prefers organizationIdentifier NTRNO-<orgno> (SEID 2), falls back to serialNumber (SEID 1), ignores other shapes", () => {
    const at = (oid: string, value: string) => ({ oid, value });
    expect(organisationNumberIn([at(NAME_OIDS.serialNumber, "910000005"), at(NAME_OIDS.organizationIdentifier, `NTRNO-${ORG}`)])).toBe(ORG);
    expect(organisationNumberIn([at(NAME_OIDS.serialNumber, ORG)])).toBe(ORG);
    expect(
      organisationNumberIn([at(NAME_OIDS.organizationIdentifier, "VATNO-991825827"), at(NAME_OIDS.serialNumber, "UN:NO-9578-4050-1")]),
    ).toBeUndefined();
  });

  it("parses a CSR's subject (UTF-8 names) and public key", () => {
    const request = csrFor([
      { type: "2.5.4.5", value: ORG },
      { type: "2.5.4.10", value: "Sjøfart AS", valueTagClass: forge.asn1.Type.UTF8 } as unknown as forge.pki.CertificateField,
    ]);
    const parsed = parseCertificateRequest(request.der);
    expect(parsed.subject).toEqual([
      { oid: NAME_OIDS.serialNumber, value: ORG },
      { oid: NAME_OIDS.organizationName, value: "Sjøfart AS" },
    ]);
    expect(parsed.publicKey.export({ type: "spki", format: "der" })).toEqual(
      request.keys.publicKey.export({ type: "spki", format: "der" }),
    );
    expect(() => parseCertificateRequest(intermediate.certificateDer)).toThrow(/cannot be read/);
  });
});

describe("enterpriseCertificatePolicy and its input", () => {
  it("builds a non-exportable RSA 3072 issuer-Unknown policy with the organisation in the subject", () => {
    expect(enterpriseCertificatePolicy({ organisationNumber: ORG, organisationName: "Rederi, Bergen AS" })).toEqual({
      issuerName: "Unknown",
      subject: `CN="Rederi, Bergen AS", O="Rederi, Bergen AS", SERIALNUMBER=${ORG}, C=NO`,
      exportable: false,
      keyType: "RSA",
      keySize: 3072,
      reuseKey: false,
      keyUsage: ["digitalSignature"],
      enhancedKeyUsage: ["1.3.6.1.5.5.7.3.2"],
      validityInMonths: 36,
      contentType: "application/x-pem-file",
      lifetimeActions: [{ action: "EmailContacts", daysBeforeExpiry: 60 }],
    });
    expect(enterpriseCertificatePolicy({ organisationNumber: ORG, organisationName: "X", hsm: true, keySize: 4096 })).toMatchObject({
      keyType: "RSA-HSM",
      keySize: 4096,
    });
  });

  it("lists every problem at once", () => {
    expect(
      csrRequestProblems({
        organisationNumber: "9918258270",
        organisationName: 'A "B"',
        keySize: 1024,
        keyUsage: ["nonRepudiation"],
        validityMonths: 0,
      }),
    ).toHaveLength(5);
    expect(csrRequestProblems({ organisationNumber: ORG, organisationName: "Rederi AS" })).toEqual([]);
  });
});

describe("checkIssuedCertificate", () => {
  const request = csrFor();
  const parsed = parseCertificateRequest(request.der);
  const check = (certificatesDer: Buffer[], now = Date.now()) =>
    checkIssuedCertificate({ certificatesDer, request: parsed, organisationNumber: ORG, now });

  it("finds the leaf anywhere in the file and orders leaf → intermediate → root, dropping strangers", () => {
    const issued = issueForCsr(request.pem, { issuer: intermediate });
    const stranger = issueCertificate({ commonName: "Other CA", isCa: true });
    const result = check([root.certificateDer, stranger.certificateDer, intermediate.certificateDer, issued.leafDer]);
    expect(result.problems).toEqual([]);
    expect(result.candidate!.chainDer).toEqual([issued.leafDer, intermediate.certificateDer, root.certificateDer]);
    expect(result.candidate!.organisationNumber).toBe(ORG);
    expect(result.warnings).toEqual(["1 certificate(s) in the file are not in the leaf's chain and are left out"]);
  });

  it("refuses a self-signed certificate for the right key, and says when it is not yet valid or expires soon", () => {
    const selfSigned = issueCertificate({
      commonName: "Rederi AS",
      organisationNumber: ORG,
      keyPair: { privateKey: request.keys.privateKey, publicKey: request.keys.publicKey },
    });
    expect(check([selfSigned.certificateDer]).problems).toContain(
      "the certificate is self-signed: Maskinporten accepts only certificates from Buypass or Commfides",
    );
    const future = issueForCsr(request.pem, { issuer: intermediate, notBefore: new Date(Date.now() + 86_400_000) });
    expect(check([future.leafDer]).problems.join()).toMatch(/not valid before .*: merge it then/);
    const soon = issueForCsr(request.pem, { issuer: intermediate, notAfter: new Date(Date.now() + 10 * 86_400_000) });
    expect(check([soon.leafDer]).warnings.join()).toMatch(/in less than 60 days/);
  });
});
