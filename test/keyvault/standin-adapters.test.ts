import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGrant } from "../../src/grant/grant.js";
import { createKeyVaultSigner } from "../../src/keyvault/signer.js";
import { startKeyVaultStandIn, type KeyVaultStandIn } from "../../sandbox/keyvault/index.js";
import { generateRsaKeyPair, issueEnterpriseCertificate } from "../../sandbox/pki.js";
import { staticCredential } from "../support/credentials.js";
import { defineKeyVaultAdapterTests, type KeyVaultTarget } from "./adapter-suite.js";

let kv: KeyVaultStandIn;
let target: KeyVaultTarget;

beforeAll(async () => {
  kv = await startKeyVaultStandIn();
  target = {
    vaultUrl: kv.url,
    credential: staticCredential(),
    clientOptions: { disableChallengeResourceVerification: true, tlsOptions: { ca: kv.caPem } },
    async provisionCertificate(name) {
      const { leaf } = issueEnterpriseCertificate({ organisationNumber: "991825827" });
      const imported = kv.importCertificate(name, { privateKey: leaf.privateKey, certificateDer: leaf.certificateDer, exportable: false });
      return { leafDer: leaf.certificateDer, version: imported.version };
    },
    async provisionKey(name) {
      const { privateKey, publicKey } = generateRsaKeyPair();
      const imported = kv.importKey(name, privateKey);
      return { publicKey, version: imported.version };
    },
  };
});
afterAll(() => kv?.close());

defineKeyVaultAdapterTests("the Key Vault stand-in", () => target);

describe("Key Vault operations per grant (stand-in counters)", () => {
  it("reads the certificate and key once, then costs exactly one sign per grant", async () => {
    await target.provisionCertificate("counted");
    const signer = createKeyVaultSigner({
      vaultUrl: target.vaultUrl,
      credential: target.credential,
      clientOptions: target.clientOptions,
      source: { kind: "certificate", certificateName: "counted", alg: "RS256", chain: [] },
    });
    kv.resetCounters();
    for (let i = 0; i < 5; i++) await createGrant({ audience: "https://test.maskinporten.no/", clientId: "c", scopes: ["s"] }, signer);
    expect(kv.counters.certificateGet).toBe(1);
    expect(kv.counters.sign).toBe(5);
    expect(kv.counters.keyGet).toBeLessThanOrEqual(1);
    expect(kv.counters.secretGet + kv.counters.secretSet).toBe(0);
  });
});
