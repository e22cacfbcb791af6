import { describe, expect, it } from "vitest";
import { ConfigError, type Settings } from "../../src/config/reader.js";
import { parseBrokerConfig } from "../../src/config/settings.js";
import { resolveAltinnExchange } from "../../src/config/altinn-target.js";

const base: Settings = {
  KEY_VAULT_URL: "https://my-vault.vault.azure.net",
  MASKINPORTEN_ENVIRONMENT: "test",
  TOKEN_PROFILES: "altinn",
  SIGNING_CERTIFICATE_NAME: "virksomhetssertifikat",
  PROFILE_ALTINN_CLIENT_ID: "client-altinn",
  PROFILE_ALTINN_SCOPES: "altinn:serviceowner/instances.read",
};

function problemsOf(settings: Settings) {
  try {
    parseBrokerConfig(settings);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error("expected a ConfigError");
}

const EXCHANGE = "/authentication/api/v1/exchange/maskinporten";

describe("PROFILE_<NAME>_ALTINN_EXCHANGE and _ALTINN_TEST_ORG", () => {
  it("maps tt02 to Altinn's test platform and adds test=true for the TTD test organisation", () => {
    const [profile] = parseBrokerConfig({
      ...base,
      PROFILE_ALTINN_ALTINN_EXCHANGE: "tt02",
      PROFILE_ALTINN_ALTINN_TEST_ORG: "TRUE",
    }).profiles;
    expect(profile!.altinn).toEqual({ url: `https://platform.tt02.altinn.no${EXCHANGE}?test=true`, testOrg: true });
  });

  it("maps prod to platform.altinn.no with Maskinporten prod, and leaves profiles without it alone", () => {
    const [profile] = parseBrokerConfig({ ...base, MASKINPORTEN_ENVIRONMENT: "prod", PROFILE_ALTINN_ALTINN_EXCHANGE: "Prod" }).profiles;
    expect(profile!.altinn).toEqual({ url: `https://platform.altinn.no${EXCHANGE}`, testOrg: false });
    expect(parseBrokerConfig(base).profiles[0]).not.toHaveProperty("altinn");
  });

  it("takes a platform base URL (with or without the exchange path) and a loopback stand-in over http", () => {
    const url = (value: string, issuer?: string) => {
      const resolved = resolveAltinnExchange(value, false, issuer);
      return "target" in resolved ? resolved.target.url : resolved.problem;
    };
    expect(url("https://platform.at22.altinn.cloud/")).toBe(`https://platform.at22.altinn.cloud${EXCHANGE}`);
    expect(url(`https://platform.tt02.altinn.no${EXCHANGE}`, "https://test.maskinporten.no/")).toBe(
      `https://platform.tt02.altinn.no${EXCHANGE}`,
    );
    expect(url("http://127.0.0.1:5050", "http://127.0.0.1:4040/")).toBe(`http://127.0.0.1:5050${EXCHANGE}`);
    expect(url("https://gateway.example.no/altinn")).toBe(`https://gateway.example.no/altinn${EXCHANGE}`);
  });

  it("refuses an Altinn environment that does not trust the profile's Maskinporten environment", () => {
    expect(problemsOf({ ...base, MASKINPORTEN_ENVIRONMENT: "prod", PROFILE_ALTINN_ALTINN_EXCHANGE: "tt02" })).toEqual([
      {
        setting: "PROFILE_ALTINN_ALTINN_EXCHANGE",
        message: expect.stringMatching(
          /platform\.tt02\.altinn\.no \(tt02\) only accepts tokens from Maskinporten https:\/\/test\.maskinporten\.no\/.*is https:\/\/maskinporten\.no\//,
        ),
      },
    ]);
    expect(problemsOf({ ...base, PROFILE_ALTINN_ALTINN_EXCHANGE: "https://platform.altinn.no" })[0]!.message).toMatch(
      /\(prod\) only accepts tokens from Maskinporten https:\/\/maskinporten\.no\//,
    );
    // A stand-in Maskinporten is no test.maskinporten.no either.
    expect(
      problemsOf({ ...base, MASKINPORTEN_ENVIRONMENT: "http://127.0.0.1:4040/", PROFILE_ALTINN_ALTINN_EXCHANGE: "tt02" }),
    ).toHaveLength(1);
    // The profile's own environment is the one compared.
    expect(problemsOf({ ...base, PROFILE_ALTINN_ENVIRONMENT: "prod", PROFILE_ALTINN_ALTINN_EXCHANGE: "tt02" })).toHaveLength(1);
  });

  it("reports bad values together with the other problems, naming each setting and the fix", () => {
    const problems = problemsOf({
      ...base,
      TOKEN_PROFILES: "altinn,other",
      PROFILE_ALTINN_ALTINN_EXCHANGE: "http://platform.tt02.altinn.no",
      PROFILE_ALTINN_ALTINN_TEST_ORG: "yes",
      PROFILE_OTHER_CLIENT_ID: "c",
      PROFILE_OTHER_SCOPES: "s",
      PROFILE_OTHER_ALTINN_TEST_ORG: "true",
    });
    expect(problems).toEqual([
      { setting: "PROFILE_ALTINN_ALTINN_TEST_ORG", message: '"yes" is not true or false' },
      { setting: "PROFILE_ALTINN_ALTINN_EXCHANGE", message: expect.stringMatching(/must use https/) },
      {
        setting: "PROFILE_OTHER_ALTINN_TEST_ORG",
        message: expect.stringMatching(/only means something with PROFILE_OTHER_ALTINN_EXCHANGE/),
      },
    ]);
    for (const value of ["staging", "https://platform.tt02.altinn.no/?x=1", "https://user:pw@platform.tt02.altinn.no/"]) {
      const [problem] = problemsOf({ ...base, PROFILE_ALTINN_ALTINN_EXCHANGE: value });
      expect(problem!.setting).toBe("PROFILE_ALTINN_ALTINN_EXCHANGE");
      expect(problem!.message).toMatch(/expected "tt02", "prod" or an Altinn platform base URL|must be a base URL/);
      expect(problem!.message).not.toContain("pw@");
    }
  });
});
