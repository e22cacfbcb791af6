import { describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/errors.js";
import { ConfigError, type Settings } from "../../src/config/reader.js";
import { parseBrokerConfig } from "../../src/config/settings.js";

const base: Settings = {
  KEY_VAULT_URL: "https://my-vault.vault.azure.net",
  MASKINPORTEN_ENVIRONMENT: "test",
  TOKEN_PROFILES: "skatt, sdir",
  SIGNING_CERTIFICATE_NAME: "virksomhetssertifikat",
  PROFILE_SKATT_CLIENT_ID: "client-skatt",
  PROFILE_SKATT_SCOPES: "skatteetaten:testnorge",
  PROFILE_SDIR_CLIENT_ID: "client-sdir",
  PROFILE_SDIR_SCOPES: "sdir:read, sdir:write",
};

function problemsOf(settings: Settings) {
  try {
    parseBrokerConfig(settings);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe(ErrorCode.Config);
    return (error as ConfigError).problems;
  }
  throw new Error("expected a ConfigError");
}

describe("parseBrokerConfig", () => {
  it("parses a minimal two-profile app with defaults", () => {
    const config = parseBrokerConfig(base);
    expect(config.keyVaultUrl).toBe("https://my-vault.vault.azure.net/");
    expect(config.defaultProfile).toBe("skatt");
    expect(config.renewal).toEqual({ schedule: "0 * * * * *", renewWhenRemainingRatio: 0.5 });
    expect(config.callers).toBeUndefined();
    expect(config.profiles).toEqual([
      {
        name: "skatt",
        clientId: "client-skatt",
        scopes: ["skatteetaten:testnorge"],
        issuer: "https://test.maskinporten.no/",
        secretName: "maskinporten-skatt",
        role: "Token.skatt",
        signing: { kind: "certificate", certificateName: "virksomhetssertifikat", alg: "RS256", chain: [] },
      },
      expect.objectContaining({ name: "sdir", scopes: ["sdir:read", "sdir:write"], secretName: "maskinporten-sdir" }),
    ]);
  });

  it("reports every problem at once, each naming its setting", () => {
    const problems = problemsOf({
      TOKEN_PROFILES: "skatt,Bad_Name",
      PROFILE_SKATT_CONSUMER_ORG: "12345",
      SIGNING_ALGORITHM: "ES256",
      RENEW_BEFORE_EXPIRY_RATIO: "2",
    });
    const settings = problems.map((p) => p.setting);
    expect(settings).toEqual(
      expect.arrayContaining([
        "KEY_VAULT_URL",
        "TOKEN_PROFILES",
        "PROFILE_SKATT_CLIENT_ID",
        "PROFILE_SKATT_SCOPES",
        "MASKINPORTEN_ENVIRONMENT",
        "PROFILE_SKATT_CONSUMER_ORG",
        "SIGNING_ALGORITHM",
        "SIGNING_CERTIFICATE_NAME",
        "RENEW_BEFORE_EXPIRY_RATIO",
      ]),
    );
    expect(problems.find((p) => p.setting === "SIGNING_ALGORITHM")?.message).toContain("RS256, RS384, RS512");
    expect(problems.find((p) => p.setting === "TOKEN_PROFILES")?.message).toContain("entry 2 is not a valid profile name");
  });

  it.each([
    ["https://oidc-ver2.difi.no/idporten-oidc-provider/", "https://test.maskinporten.no/"],
    ["https://oidc.difi.no/idporten-oidc-provider/", "https://maskinporten.no/"],
    ["https://ver2.maskinporten.no/", "https://test.maskinporten.no/"],
  ])("refuses the retired host %s and points to %s", (issuer, replacement) => {
    const [problem] = problemsOf({ ...base, MASKINPORTEN_ENVIRONMENT: issuer });
    expect(problem?.setting).toBe("MASKINPORTEN_ENVIRONMENT");
    expect(problem?.message).toContain("retired");
    expect(problem?.message).toContain(`(${replacement})`);
  });

  it("accepts prod, an explicit issuer exactly as given and per-profile environments", () => {
    const config = parseBrokerConfig({
      ...base,
      MASKINPORTEN_ENVIRONMENT: "prod",
      PROFILE_SDIR_ENVIRONMENT: "https://test.maskinporten.no/",
    });
    expect(config.profiles.map((p) => p.issuer)).toEqual(["https://maskinporten.no/", "https://test.maskinporten.no/"]);
    const explicit = parseBrokerConfig({ ...base, MASKINPORTEN_ENVIRONMENT: "https://mp.example.no" });
    expect(explicit.profiles[0]?.issuer).toBe("https://mp.example.no");
  });

  it("accepts Skyporten, whose issuers have no trailing slash, and never adds or drops one", () => {
    const config = parseBrokerConfig({ ...base, MASKINPORTEN_ENVIRONMENT: "skyporten", PROFILE_SDIR_ENVIRONMENT: "skyporten-test" });
    expect(config.profiles.map((p) => p.issuer)).toEqual(["https://sky.maskinporten.no", "https://test.sky.maskinporten.no"]);
    expect(parseBrokerConfig({ ...base, MASKINPORTEN_ENVIRONMENT: "https://sky.maskinporten.no" }).profiles[0]?.issuer).toBe(
      "https://sky.maskinporten.no",
    );
    for (const [typed, name] of [
      ["https://sky.maskinporten.no/", "skyporten"],
      ["https://maskinporten.no", "prod"],
      ["https://test.maskinporten.no", "test"],
    ] as const) {
      const [problem] = problemsOf({ ...base, MASKINPORTEN_ENVIRONMENT: typed });
      expect(problem).toEqual({
        setting: "MASKINPORTEN_ENVIRONMENT",
        message: expect.stringContaining(`only by the trailing slash; issuers are compared exactly: use "${name}"`),
      });
    }
  });

  it("refuses plain http except to a loopback stand-in", () => {
    expect(problemsOf({ ...base, MASKINPORTEN_ENVIRONMENT: "http://maskinporten.example/" })[0]?.message).toContain("https");
    expect(parseBrokerConfig({ ...base, MASKINPORTEN_ENVIRONMENT: "http://127.0.0.1:4000/" }).profiles[0]?.issuer).toBe(
      "http://127.0.0.1:4000/",
    );
  });

  it("reads the optional claims, system user and a per-profile signing source", () => {
    const config = parseBrokerConfig({
      ...base,
      PROFILE_SKATT_RESOURCE: "https://api.skatt.no",
      PROFILE_SKATT_CONSUMER_ORG: "310000001",
      PROFILE_SKATT_PID: "01010112345",
      PROFILE_SKATT_SYSTEMUSER_ORG: "310000002",
      PROFILE_SKATT_SECRET_NAME: "skatt-token",
      PROFILE_SKATT_ROLE: "Skatt.Read",
      PROFILE_SDIR_RESOURCE: "https://a.no,https://b.no",
      PROFILE_SDIR_SIGNING_KEY_NAME: "sdir-key",
      PROFILE_SDIR_SIGNING_KID: "sdir-kid",
      PROFILE_SDIR_SIGNING_ALGORITHM: "RS384",
    });
    const [skatt, sdir] = config.profiles;
    expect(skatt).toMatchObject({
      resource: ["https://api.skatt.no"],
      consumerOrg: "310000001",
      pid: "01010112345",
      secretName: "skatt-token",
      role: "Skatt.Read",
      authorizationDetails: [
        { type: "urn:altinn:systemuser", systemuser_org: { authority: "iso6523-actorid-upis", ID: "0192:310000002" } },
      ],
    });
    expect(sdir?.resource).toEqual(["https://a.no", "https://b.no"]);
    expect(sdir?.signing).toEqual({ kind: "key", keyName: "sdir-key", kid: "sdir-kid", alg: "RS384" });
  });

  it("needs a kid for a plain Key Vault key and rejects both a certificate and a key", () => {
    expect(problemsOf({ ...base, SIGNING_CERTIFICATE_NAME: undefined, SIGNING_KEY_NAME: "k" })[0]?.setting).toBe("SIGNING_KID");
    expect(problemsOf({ ...base, SIGNING_KEY_NAME: "k" })[0]?.setting).toBe("SIGNING_KEY_NAME");
  });

  it("rejects two profiles sharing a secret, an unknown default profile and a bad schedule", () => {
    const problems = problemsOf({
      ...base,
      PROFILE_SDIR_SECRET_NAME: "maskinporten-skatt",
      DEFAULT_PROFILE: "nope",
      RENEW_SCHEDULE: "*/5 * * * *",
    });
    expect(problems.map((p) => p.setting).sort()).toEqual(["DEFAULT_PROFILE", "PROFILE_SDIR_SECRET_NAME", "RENEW_SCHEDULE"]);
  });

  it("parses caller authentication and requires audiences with a tenant", () => {
    const config = parseBrokerConfig({
      ...base,
      CALLER_TENANT_ID: "8f1b5e2a-1111-4222-8333-944445555666",
      CALLER_AUDIENCES: "api://maskinporten-broker 2c6f6a1e-0000-4000-8000-000000000001",
    });
    expect(config.callers).toEqual({
      tenantId: "8f1b5e2a-1111-4222-8333-944445555666",
      audiences: ["api://maskinporten-broker", "2c6f6a1e-0000-4000-8000-000000000001"],
      authorityHost: "https://login.microsoftonline.com",
      trustAppServicePrincipal: false,
    });
    expect(problemsOf({ ...base, CALLER_TENANT_ID: "8f1b5e2a-1111-4222-8333-944445555666" })[0]?.setting).toBe("CALLER_AUDIENCES");
  });

  it("reports a profile whose scopes name nothing instead of dropping it (so DEFAULT_PROFILE=b no longer validates)", () => {
    const problems = problemsOf({
      ...base,
      TOKEN_PROFILES: "a,b",
      DEFAULT_PROFILE: "b",
      PROFILE_A_CLIENT_ID: "ca",
      PROFILE_A_SCOPES: "x:y",
      PROFILE_B_CLIENT_ID: "cb",
      PROFILE_B_SCOPES: " , ",
    });
    expect(problems).toEqual([{ setting: "PROFILE_B_SCOPES", message: expect.stringContaining("names no scope") }]);
  });

  it("never quotes the value of a setting in its problem", () => {
    const values: Settings = {
      KEY_VAULT_URL: "https://kv-secretvalue1.vault.azure.net/secretvalue2",
      MASKINPORTEN_ENVIRONMENT: "http://secretvalue3.example/",
      TOKEN_PROFILES: "skatt,Secretvalue4",
      SIGNING_CERTIFICATE_NAME: "secretvalue5 with spaces",
      SIGNING_CERTIFICATE_VERSION: "secretvalue6",
      SIGNING_ALGORITHM: "secretvalue7",
      PROFILE_SKATT_CLIENT_ID: "c",
      PROFILE_SKATT_SCOPES: "s",
      PROFILE_SKATT_PID: "0101701234 5",
      PROFILE_SKATT_CONSUMER_ORG: "secretvalue8",
      PROFILE_SKATT_RESOURCE: "secretvalue9",
      PROFILE_SKATT_SECRET_NAME: "secretvalue10!",
      PROFILE_SKATT_SYSTEMUSER_ORG: "secretvalue11",
      RENEW_SCHEDULE: "secretvalue12",
      RENEW_BEFORE_EXPIRY_RATIO: "secretvalue13",
      CALLER_TENANT_ID: "secretvalue14",
      CALLER_AUDIENCES: "api://x",
      CALLER_TRUST_APP_SERVICE_PRINCIPAL: "secretvalue15",
      DEFAULT_PROFILE: "Secretvalue16",
    };
    const error = (() => {
      try {
        parseBrokerConfig(values);
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error("expected a ConfigError");
    })();
    expect(error.problems.length).toBeGreaterThanOrEqual(14);
    expect(error.message).not.toMatch(/secretvalue|0101701234/i);
    expect(error.problems.map((p) => p.setting)).toContain("PROFILE_SKATT_PID");
    expect(error.problems.find((p) => p.setting === "PROFILE_SKATT_PID")?.message).toBe(
      "is not valid; expected an 11-digit Norwegian national identity number",
    );
  });

  it("refuses consumer_org together with iss_onbehalfof (Digdir: mutually exclusive)", () => {
    const problems = problemsOf({ ...base, PROFILE_SKATT_CONSUMER_ORG: "310000001", PROFILE_SKATT_ISS_ONBEHALFOF: "unit-1" });
    expect(problems).toEqual([{ setting: "PROFILE_SKATT_ISS_ONBEHALFOF", message: expect.stringContaining("PROFILE_SKATT_CONSUMER_ORG") }]);
  });

  it("refuses two system-user parties: AUTHORIZATION_DETAILS plus SYSTEMUSER_ORG, or two in the JSON", () => {
    const detail = (org: string) => ({
      type: "urn:altinn:systemuser",
      systemuser_org: { authority: "iso6523-actorid-upis", ID: `0192:${org}` },
    });
    expect(
      problemsOf({
        ...base,
        PROFILE_SKATT_AUTHORIZATION_DETAILS: JSON.stringify([detail("310000001")]),
        PROFILE_SKATT_SYSTEMUSER_ORG: "310000002",
      }),
    ).toEqual([{ setting: "PROFILE_SKATT_SYSTEMUSER_ORG", message: expect.stringContaining("one system-user party") }]);
    expect(
      problemsOf({ ...base, PROFILE_SKATT_AUTHORIZATION_DETAILS: JSON.stringify([detail("310000001"), detail("310000002")]) }),
    ).toEqual([
      { setting: "PROFILE_SKATT_AUTHORIZATION_DETAILS", message: expect.stringContaining("more than one urn:altinn:systemuser party") },
    ]);
  });

  it("lets a system-user profile carry the system user's externalRef", () => {
    const config = parseBrokerConfig({
      ...base,
      PROFILE_SKATT_SYSTEMUSER_ORG: "310000002",
      PROFILE_SKATT_SYSTEMUSER_EXTERNAL_REF: "kunde-42",
    });
    expect(config.profiles[0]?.authorizationDetails).toEqual([
      {
        type: "urn:altinn:systemuser",
        systemuser_org: { authority: "iso6523-actorid-upis", ID: "0192:310000002" },
        externalRef: "kunde-42",
      },
    ]);
    expect(problemsOf({ ...base, PROFILE_SKATT_SYSTEMUSER_EXTERNAL_REF: "kunde-42" })).toEqual([
      { setting: "PROFILE_SKATT_SYSTEMUSER_EXTERNAL_REF", message: expect.stringContaining("needs PROFILE_SKATT_SYSTEMUSER_ORG") },
    ]);
  });
});
