/**
 * The Altinn stage keeps a Maskinporten token whose exchange failed transiently, to retry the
 * exchange without a new grant. For a per-customer profile every customer's grant runs under the
 * same profile name: the kept token must be the one issued for that customer's grant, never another
 * customer's.
 */
import { describe, expect, it } from "vitest";
import { AltinnExchangeError } from "../../src/altinn/errors.js";
import type { AltinnExchange } from "../../src/altinn/exchange.js";
import { withAltinnExchange } from "../../src/altinn/issue.js";
import type { TokenProfile } from "../../src/config/domain.js";
import { profileForCustomer } from "../../src/customers/index.js";
import { profileFingerprint } from "../../src/grant/fingerprint.js";
import type { StoredToken } from "../../src/token-store/stored-token.js";

const NOW = 1_700_000_000_000;
const profile = {
  name: "altinn",
  clientId: "client",
  issuer: "https://test.maskinporten.no/",
  scopes: ["altinn:serviceowner/instances.read"],
  secretName: "maskinporten-altinn",
  role: "Token.altinn",
  signing: { kind: "certificate", certificateName: "cert", algorithm: "RS256" },
  altinn: { url: "https://platform.tt02.altinn.no/authentication/api/v1/exchange/maskinporten", testOrg: false },
} as unknown as TokenProfile;

const customer = (orgno: string) => profileForCustomer(profile, { claim: "systemuser", customer: orgno, externalRef: null });

describe("the Altinn stage of a per-customer profile", () => {
  it("retries a failed exchange with the Maskinporten token of the same customer only", async () => {
    const issuedFor: string[] = [];
    const issueMaskinporten = async (variant: TokenProfile): Promise<StoredToken> => {
      const detail = variant.authorizationDetails?.[0] as { systemuser_org: { ID: string } };
      const orgno = detail.systemuser_org.ID.slice(5);
      issuedFor.push(orgno);
      return {
        accessToken: `maskinporten-${orgno}-${issuedFor.length}`,
        tokenType: "Bearer",
        scope: "s",
        issuedAt: new Date(NOW),
        expiresAt: new Date(NOW + 120_000),
        fingerprint: profileFingerprint(variant),
      };
    };
    const exchanged: string[] = [];
    let failNext = true;
    const exchange: AltinnExchange = async (_target, maskinportenToken) => {
      exchanged.push(maskinportenToken);
      if (failNext) {
        failNext = false;
        throw new AltinnExchangeError("ERR_ALTINN_UNAVAILABLE", "Altinn answered 503", { status: 503, transient: true });
      }
      return { accessToken: `altinn-for-${maskinportenToken}`, issuedAt: new Date(NOW), expiresAt: new Date(NOW + 1_800_000) };
    };
    const stage = withAltinnExchange(issueMaskinporten, exchange, () => NOW);

    await expect(stage.issue(customer("310000019"))).rejects.toBeInstanceOf(AltinnExchangeError);
    const forB = await stage.issue(customer("310000027"));
    expect(forB.accessToken).toBe("altinn-for-maskinporten-310000027-2");
    expect(forB.fingerprint).toBe(profileFingerprint(customer("310000027")));

    // A's kept token is still A's, and used for A.
    const forA = await stage.issue(customer("310000019"));
    expect(forA.accessToken).toBe("altinn-for-maskinporten-310000019-1");
    expect(issuedFor).toEqual(["310000019", "310000027"]);
  });
});
