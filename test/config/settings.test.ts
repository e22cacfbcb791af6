import { describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/errors.js";
import { ConfigError, parseBrokerConfig, type Settings } from "../../src/config/settings.js";

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
    expect(problems.find((p) => p.setting === "TOKEN_PROFILES")?.message).toContain("Bad_Name");
  });

  it.each([
    ["https://oidc-ver2.difi.no/idporten-oidc-provider/", "https://test.maskinporten.no/"],
    ["https://oidc.difi.no/idporten-oidc-provider/", "https://maskinporten.no/"],
    ["https://ver2.maskinporten.no/", "https://test.maskinporten.no/"],
  ])("refuses the retired host %s and points to %s", (issuer, replacement) => {
    const [problem] = problemsOf({ ...base, MASKINPORTEN_ENVIRONMENT: issuer });
    expect(problem?.setting).toBe("MASKINPORTEN_ENVIRONMENT");
    expect(problem?.message).toContain("retired");
    expect(problem?.message).toContain(`use ${replacement}`);
  });

  it("accepts prod, an explicit issuer (adding the slash to a bare origin) and per-profile environments", () => {
    const config = parseBrokerConfig({ ...base, MASKINPORTEN_ENVIRONMENT: "prod", PROFILE_SDIR_ENVIRONMENT: "https://test.maskinporten.no" });
    expect(config.profiles.map((p) => p.issuer)).toEqual(["https://maskinporten.no/", "https://test.maskinporten.no/"]);
  });

  it("refuses plain http except to a loopback stand-in", () => {
    expect(problemsOf({ ...base, MASKINPORTEN_ENVIRONMENT: "http://maskinporten.example/" })[0]?.message).toContain("https");
    expect(parseBrokerConfig({ ...base, MASKINPORTEN_ENVIRONMENT: "http://127.0.0.1:4000/" }).profiles[0]?.issuer).toBe("http://127.0.0.1:4000/");
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
      resource: "https://api.skatt.no",
      consumerOrg: "310000001",
      pid: "01010112345",
      secretName: "skatt-token",
      role: "Skatt.Read",
      authorizationDetails: [{ type: "urn:altinn:systemuser", systemuser_org: { authority: "iso6523-actorid-upis", ID: "0192:310000002" } }],
    });
    expect(sdir?.resource).toEqual(["https://a.no", "https://b.no"]);
    expect(sdir?.signing).toEqual({ kind: "key", keyName: "sdir-key", kid: "sdir-kid", alg: "RS384" });
  });

  it("needs a kid for a plain Key Vault key and rejects both a certificate and a key", () => {
    expect(problemsOf({ ...base, SIGNING_CERTIFICATE_NAME: undefined, SIGNING_KEY_NAME: "k" })[0]?.setting).toBe("SIGNING_KID");
    expect(problemsOf({ ...base, SIGNING_KEY_NAME: "k" })[0]?.setting).toBe("SIGNING_KEY_NAME");
  });

  it("rejects two profiles sharing a secret, an unknown default profile and a bad schedule", () => {
    const problems = problemsOf({ ...base, PROFILE_SDIR_SECRET_NAME: "maskinporten-skatt", DEFAULT_PROFILE: "nope", RENEW_SCHEDULE: "*/5 * * * *" });
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
});
