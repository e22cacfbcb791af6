/**
 * The verifier's last I/O edge, the key set, is a plain function (jose's JWTVerifyGetKey) that can
 * be injected: then no Entra endpoint is asked, and the verifier's own checks still all apply.
 */
import { generateKeyPairSync } from "node:crypto";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { CallerAuthError } from "../../src/auth/auth-error.js";
import { entraV2Issuer, PUBLIC_CLOUD_AUTHORITY_HOST } from "../../src/auth/entra-issuers.js";
import { createCallerVerifier } from "../../src/auth/verifier.js";

const TENANT = "5b1a8e3c-7d24-4f6a-9c0e-2f8d6b4a1e70";
const AUDIENCE = "0f6c2d84-3b1e-4a5f-8d97-6e2c1a9b4f30";
const NOW_S = 1_800_000_000;

const signing = generateKeyPairSync("rsa", { modulusLength: 2048 });
const other = generateKeyPairSync("rsa", { modulusLength: 2048 });

async function appToken(key = signing.privateKey): Promise<string> {
  return new SignJWT({ tid: TENANT, ver: "2.0", idtyp: "app", azp: "caller-app", oid: "caller-oid", roles: ["Token.skatt"] })
    .setProtectedHeader({ alg: "RS256", kid: "k1" })
    .setIssuer(entraV2Issuer(PUBLIC_CLOUD_AUTHORITY_HOST, TENANT))
    .setAudience(AUDIENCE)
    .setIssuedAt(NOW_S - 60)
    .setNotBefore(NOW_S - 60)
    .setExpirationTime(NOW_S + 3600)
    .sign(key);
}

describe("an injected key set", () => {
  it("is asked for the key by kid, and a token it vouches for is verified with every check", async () => {
    const asked: unknown[] = [];
    const verifier = createCallerVerifier({
      tenantId: TENANT,
      audiences: [AUDIENCE],
      now: () => NOW_S * 1000,
      keySet: async (header) => {
        asked.push(header.kid);
        return signing.publicKey;
      },
    });
    const caller = await verifier.verify(`Bearer ${await appToken()}`);
    expect(caller).toMatchObject({ appId: "caller-app", roles: ["Token.skatt"] });
    expect(asked).toEqual(["k1"]);

    // The signature is still the verifier's to check: another key's token is refused.
    await expect(verifier.verify(`Bearer ${await appToken(other.privateKey)}`)).rejects.toMatchObject({ reason: "invalid_signature" });
  });

  it("a key set that throws is a refusal, never a pass", async () => {
    const verifier = createCallerVerifier({
      tenantId: TENANT,
      audiences: [AUDIENCE],
      now: () => NOW_S * 1000,
      keySet: async () => {
        throw new Error("unreachable");
      },
    });
    await expect(verifier.verify(`Bearer ${await appToken()}`)).rejects.toBeInstanceOf(CallerAuthError);
  });
});
