import { generateKeyPairSync } from "node:crypto";
import { compactVerify, decodeProtectedHeader, importX509 } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { BrokerError } from "../../src/errors.js";
import { createGrant } from "../../src/grant/grant.js";
import { createLocalKeySigner } from "../../src/signing/local-key-signer.js";
import { issueCertificate, issueEnterpriseCertificate, type IssuedCertificate } from "../../sandbox/pki.js";

let leaf: IssuedCertificate;
let intermediate: IssuedCertificate;
let root: IssuedCertificate;

beforeAll(() => {
  ({ leaf, intermediate, root } = issueEnterpriseCertificate({ organisationNumber: "910000002" }));
});

const claims = { audience: "https://test.maskinporten.no/", clientId: "client-1", scopes: ["digdir:test"] };

describe("createLocalKeySigner", () => {
  it("puts the leaf alone in x5c (as the seed tool does) and signs so the leaf's key verifies", async () => {
    const signer = createLocalKeySigner({
      privateKey: leaf.privateKey,
      certificateChain: [leaf.certificateDer, intermediate.certificateDer, root.certificateDer],
    });
    const grant = await createGrant(claims, signer);
    const header = decodeProtectedHeader(grant);
    expect(header).toEqual({ alg: "RS256", x5c: [leaf.certificateDer.toString("base64")] });
    const verified = await compactVerify(grant, await importX509(leaf.certificatePem, "RS256"));
    expect(JSON.parse(new TextDecoder().decode(verified.payload))).toMatchObject({
      aud: claims.audience,
      iss: "client-1",
      scope: "digdir:test",
    });
    const key = await signer.currentKey();
    expect(key.certificateNotAfter?.getTime()).toBe(new Date(leaf.x509.validTo).getTime());
  });

  it("puts the whole chain in x5c when asked", async () => {
    const chain = [leaf.certificateDer, intermediate.certificateDer, root.certificateDer];
    const signer = createLocalKeySigner({ privateKey: leaf.privateKey, certificateChain: chain, x5cChain: "full" });
    expect(decodeProtectedHeader(await createGrant(claims, signer)).x5c).toEqual(chain.map((der) => der.toString("base64")));
  });

  it("names the key by kid instead of x5c when a kid is given", async () => {
    const signer = createLocalKeySigner({ privateKey: leaf.privateKey, certificateChain: [leaf.certificateDer], kid: "my-registered-key" });
    const grant = await createGrant(claims, signer);
    expect(decodeProtectedHeader(grant)).toEqual({ alg: "RS256", kid: "my-registered-key" });
    await compactVerify(grant, leaf.publicKey);
  });

  it("signs a bare key (no certificate) when a kid names it", async () => {
    const signer = createLocalKeySigner({ privateKey: leaf.privateKey, kid: "k1" });
    await compactVerify(await createGrant(claims, signer), leaf.publicKey);
  });

  it.each(["RS384", "RS512"] as const)("signs with %s", async (alg) => {
    const signer = createLocalKeySigner({ privateKey: leaf.privateKey, certificateChain: [leaf.certificateDer], alg });
    const grant = await createGrant(claims, signer);
    expect(decodeProtectedHeader(grant).alg).toBe(alg);
    await compactVerify(grant, leaf.publicKey, { algorithms: [alg] });
  });

  it("refuses a key without certificate or kid", () => {
    expect(() => createLocalKeySigner({ privateKey: leaf.privateKey })).toThrow(/needs a kid \(keystore\.kid\)/);
  });

  it("refuses a certificate that does not belong to the key", () => {
    const stranger = issueCertificate({ commonName: "Stranger" });
    expect(() => createLocalKeySigner({ privateKey: leaf.privateKey, certificateChain: [stranger.certificateDer] })).toThrow(
      /does not belong to the certificate/,
    );
  });

  it("refuses non-RSA keys: Maskinporten only takes RS256/384/512", () => {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    let caught: unknown;
    try {
      createLocalKeySigner({ privateKey, kid: "ec" });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(BrokerError);
    expect((caught as BrokerError).code).toBe("ERR_SIGNING");
    expect((caught as BrokerError).message).toMatch(/signed with RSA .* the keystore key is ec/);
  });
});
