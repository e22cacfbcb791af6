/**
 * The newest certificate version that has a certificate. While a new version waits for its
 * merge (a CSR at Buypass or Commfides: days to weeks), Key Vault's "latest" is that pending
 * version: disabled, no `cer`, no key id. The broker keeps signing with the newest issued version
 * meanwhile, also after a restart; the merged version takes over at the next refresh.
 */
import type { CertificateClient, KeyVaultCertificate } from "@azure/keyvault-certificates";

export async function latestIssuedCertificate(client: CertificateClient, name: string): Promise<KeyVaultCertificate> {
  const latest = await client.getCertificate(name);
  if (latest.cer && latest.keyId && latest.properties.enabled !== false) return latest;
  const candidates = [];
  for await (const properties of client.listPropertiesOfCertificateVersions(name)) {
    if (properties.enabled !== false && properties.version && properties.version !== latest.properties.version) candidates.push(properties);
  }
  // Newest first; listing order breaks ties (the stand-in lists oldest first, Key Vault in no set order).
  candidates.reverse().sort((a, b) => (b.createdOn?.getTime() ?? 0) - (a.createdOn?.getTime() ?? 0));
  for (const candidate of candidates) {
    const certificate = await client.getCertificateVersion(name, candidate.version!);
    if (certificate.cer && certificate.keyId) return certificate;
  }
  // Nothing issued yet (a first certificate still pending): the caller says so.
  return latest;
}
