import { compactVerify, decodeProtectedHeader, decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { BrokerError, ErrorCode } from "../../src/errors.js";
import { GRANT_LIFETIME_SECONDS } from "../../src/grant/claims.js";
import { createGrant, type GrantClaimsInput } from "../../src/grant/grant.js";
import { issueEnterpriseCertificate } from "../../sandbox/pki.js";
import { inProcessSigner } from "../support/in-process-signer.js";

const { leaf, intermediate } = issueEnterpriseCertificate({ organisationNumber: "991825827" });
const x5c = [leaf.certificateDer.toString("base64"), intermediate.certificateDer.toString("base64")];
const input: GrantClaimsInput = {
  audience: "https://test.maskinporten.no/",
  clientId: "0e8b-client",
  scopes: ["skatteetaten:testnorge", "sdir:read"],
};

describe("createGrant", () => {
  it("puts x5c as an array of standard base64 DER, leaf first, and no kid", async () => {
    const grant = await createGrant(input, inProcessSigner(leaf.privateKey, { x5c }));
    const header = decodeProtectedHeader(grant);
    expect(header).toEqual({ alg: "RS256", x5c });
    expect(Buffer.from(header.x5c![0]!, "base64").equals(leaf.certificateDer)).toBe(true);
  });

  it("names the key by kid alone in kid mode", async () => {
    const grant = await createGrant(input, inProcessSigner(leaf.privateKey, { kid: "my-kid" }, "RS512"));
    expect(decodeProtectedHeader(grant)).toEqual({ alg: "RS512", kid: "my-kid" });
  });

  it("sets exactly the documented claims with aud kept verbatim", async () => {
    const nowMs = 1_700_000_000_900;
    const grant = await createGrant(input, inProcessSigner(leaf.privateKey, { x5c }), { now: () => nowMs, newJti: () => "jti-1" });
    expect(decodeJwt(grant)).toEqual({
      aud: "https://test.maskinporten.no/",
      iss: "0e8b-client",
      scope: "skatteetaten:testnorge sdir:read",
      iat: 1_700_000_000,
      exp: 1_700_000_000 + GRANT_LIFETIME_SECONDS,
      jti: "jti-1",
    });
  });

  it("keeps exp − iat comfortably under Maskinporten's 120 s and iat never in the future", async () => {
    const nowMs = 1_700_000_000_999;
    const claims = decodeJwt(await createGrant(input, inProcessSigner(leaf.privateKey, { x5c }), { now: () => nowMs }));
    expect(claims.exp! - claims.iat!).toBeLessThanOrEqual(100);
    expect(claims.iat! * 1000).toBeLessThanOrEqual(nowMs);
  });

  it("adds optional claims only when set", async () => {
    const authorizationDetails = [
      { type: "urn:altinn:systemuser", systemuser_org: { authority: "iso6523-actorid-upis", ID: "0192:310000001" } },
    ];
    const claims = decodeJwt(
      await createGrant(
        {
          ...input,
          resource: ["https://api.a.no", "https://api.b.no"],
          consumerOrg: "310000001",
          pid: "01010112345",
          issOnBehalfOf: "sub-1",
          authorizationDetails,
        },
        inProcessSigner(leaf.privateKey, { x5c }),
      ),
    );
    expect(claims).toMatchObject({
      resource: ["https://api.a.no", "https://api.b.no"],
      consumer_org: "310000001",
      pid: "01010112345",
      iss_onbehalfof: "sub-1",
      authorization_details: authorizationDetails,
    });
    const empty = decodeJwt(
      await createGrant({ ...input, resource: [], authorizationDetails: [] }, inProcessSigner(leaf.privateKey, { x5c })),
    );
    expect(Object.keys(empty).sort()).toEqual(["aud", "exp", "iat", "iss", "jti", "scope"]);
  });

  it("sends a single resource as a one-element JSON array (Digdir: only array supported)", async () => {
    const claims = decodeJwt(await createGrant({ ...input, resource: "https://api.a.no" }, inProcessSigner(leaf.privateKey, { x5c })));
    expect(claims.resource).toEqual(["https://api.a.no"]);
  });

  it("uses a fresh jti for every grant", async () => {
    const signer = inProcessSigner(leaf.privateKey, { x5c });
    const jtis = new Set<unknown>();
    for (let i = 0; i < 50; i++) jtis.add(decodeJwt(await createGrant(input, signer)).jti);
    expect(jtis.size).toBe(50);
  });

  it.each(["RS256", "RS384", "RS512"] as const)("produces a signature jose verifies with %s", async (alg) => {
    const grant = await createGrant(input, inProcessSigner(leaf.privateKey, { x5c }, alg));
    const { protectedHeader } = await compactVerify(grant, leaf.publicKey, { algorithms: [alg] });
    expect(protectedHeader.alg).toBe(alg);
  });

  it("turns a signer failure into ERR_SIGNING with the cause kept", async () => {
    const cause = new Error("vault said no");
    const failing = {
      async currentKey() {
        return { alg: "RS256" as const, identification: { kid: "k" }, sign: async () => Promise.reject(cause) };
      },
    };
    const error = await createGrant(input, failing).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BrokerError);
    expect(error).toMatchObject({ code: ErrorCode.Signing, cause });
  });
});
