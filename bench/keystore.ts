/** A PKCS#12 keystore for the CLI figure, made with node-forge (3DES, SHA-1 MAC: what OpenSSL's legacy mode writes). */
import type { KeyObject } from "node:crypto";
import forge from "node-forge";

export function makePkcs12Keystore(options: { privateKey: KeyObject; chainDer: Buffer[]; password: string; alias: string }): Buffer {
  const key = forge.pki.privateKeyFromPem(options.privateKey.export({ type: "pkcs8", format: "pem" }).toString());
  const chain = options.chainDer.map((der) => forge.pki.certificateFromAsn1(forge.asn1.fromDer(der.toString("binary"))));
  const p12 = forge.pkcs12.toPkcs12Asn1(key, chain, options.password, { algorithm: "3des", friendlyName: options.alias });
  return Buffer.from(forge.asn1.toDer(p12).getBytes(), "binary");
}
