import { describe, expect, it } from "vitest";
import { ConfigError, type Settings } from "../../src/config/reader.js";
import { parseBrokerConfig } from "../../src/config/settings.js";

const base: Settings = {
  KEY_VAULT_URL: "https://v.vault.azure.net/",
  MASKINPORTEN_ENVIRONMENT: "test",
  TOKEN_PROFILES: "skatt",
  SIGNING_CERTIFICATE_NAME: "virksomhetssertifikat",
  PROFILE_SKATT_CLIENT_ID: "c-1",
  PROFILE_SKATT_SCOPES: "skatteetaten:x",
  PROFILE_SKATT_SIGNING_KEY_NAME: "skatt-key",
  PROFILE_SKATT_SIGNING_KID: "acme-skatt",
  PROFILE_SKATT_KEY_REGISTRATION: "self-service",
  SELF_SERVICE_CLIENT_ID: "admin-1",
};

function problems(settings: Settings): string[] {
  try {
    parseBrokerConfig(settings);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.setting}: ${p.message}`);
    throw error;
  }
  return [];
}

describe("key registration settings", () => {
  it("maps test/prod to Digdir's API hosts, defaults the scopes, margin and window, signs the admin grant with the certificate (x5c)", () => {
    const config = parseBrokerConfig(base);
    expect(config.profiles[0]!.keyRegistration).toBe("self-service");
    expect(config.selfService).toMatchObject({
      clientId: "admin-1",
      scopes: ["idporten:dcr.read", "idporten:dcr.modify"],
      issuer: "https://test.maskinporten.no/",
      apiBaseUrl: "https://api.test.samarbeid.digdir.no",
      signing: { kind: "certificate", certificateName: "virksomhetssertifikat", alg: "RS256" },
      renewBeforeMs: 30 * 86_400_000,
      propagationMs: 5 * 60_000,
      replaceForeign: false,
    });
    expect(config.selfService!.signing).not.toHaveProperty("kid");
    const prod = parseBrokerConfig({ ...base, MASKINPORTEN_ENVIRONMENT: "prod" });
    expect(prod.selfService!.apiBaseUrl).toBe("https://api.samarbeid.digdir.no");
  });

  it("is off unless SELF_SERVICE_CLIENT_ID is set, and then no profile may ask for it", () => {
    const { SELF_SERVICE_CLIENT_ID: _unused, PROFILE_SKATT_KEY_REGISTRATION: _also, ...off } = base;
    expect(parseBrokerConfig(off).selfService).toBeUndefined();
    expect(problems({ ...base, SELF_SERVICE_CLIENT_ID: "" })).toEqual([
      expect.stringMatching(/^SELF_SERVICE_CLIENT_ID: missing; a profile has KEY_REGISTRATION=self-service/),
    ]);
  });

  it("reports every problem together, naming the setting, never the value", () => {
    const found = problems({
      ...base,
      PROFILE_SKATT_KEY_REGISTRATION: "portal",
      SELF_SERVICE_SCOPES: "openid",
      SELF_SERVICE_API_URL: "http://api.example.no?secret=s3cr3t",
      KEY_REGISTRATION_RENEW_DAYS: "thirty",
      KEY_REGISTRATION_PROPAGATION_MINUTES: "-1",
      KEY_REGISTRATION_REPLACE_FOREIGN: "yes",
    });
    expect(found.map((p) => p.split(":")[0])).toEqual([
      "PROFILE_SKATT_KEY_REGISTRATION",
      "SELF_SERVICE_SCOPES",
      "SELF_SERVICE_API_URL",
      "KEY_REGISTRATION_RENEW_DAYS",
      "KEY_REGISTRATION_PROPAGATION_MINUTES",
      "KEY_REGISTRATION_REPLACE_FOREIGN",
    ]);
    expect(found.join("\n")).not.toMatch(/portal|openid|s3cr3t|thirty|yes\b/);
  });

  it("needs a kid on the profile, and the admin client in the profile's environment", () => {
    const { PROFILE_SKATT_SIGNING_KEY_NAME: _k, PROFILE_SKATT_SIGNING_KID: _kid, ...x5c } = base;
    expect(problems(x5c)).toEqual([expect.stringMatching(/^PROFILE_SKATT_KEY_REGISTRATION: needs SIGNING_KID/)]);
    expect(problems({ ...base, PROFILE_SKATT_ENVIRONMENT: "prod" })).toEqual([
      expect.stringMatching(/^PROFILE_SKATT_KEY_REGISTRATION: the profile's Maskinporten issuer .* is not the admin client's/),
    ]);
  });

  it("needs an API URL for an environment other than test or prod, and a certificate for the admin grant", () => {
    const { SIGNING_CERTIFICATE_NAME: _c, ...noCertificate } = base;
    expect(problems({ ...noCertificate, MASKINPORTEN_ENVIRONMENT: "http://127.0.0.1:1234/" })).toEqual([
      expect.stringMatching(/^SELF_SERVICE_API_URL: missing/),
      expect.stringMatching(/^SELF_SERVICE_SIGNING_CERTIFICATE_NAME: missing/),
    ]);
    const loopback = parseBrokerConfig({
      ...base,
      MASKINPORTEN_ENVIRONMENT: "http://127.0.0.1:1234/",
      SELF_SERVICE_API_URL: "http://127.0.0.1:5678/",
    });
    expect(loopback.selfService!.apiBaseUrl).toBe("http://127.0.0.1:5678");
  });

  it("refuses two clients registering the same kid (Digdir: unique across all clients)", () => {
    const found = problems({
      ...base,
      TOKEN_PROFILES: "skatt,sdir",
      PROFILE_SDIR_CLIENT_ID: "c-2",
      PROFILE_SDIR_SCOPES: "sdir:x",
      PROFILE_SDIR_SIGNING_KEY_NAME: "skatt-key",
      PROFILE_SDIR_SIGNING_KID: "acme-skatt",
      PROFILE_SDIR_KEY_REGISTRATION: "self-service",
    });
    expect(found).toEqual([
      expect.stringMatching(/^PROFILE_SDIR_KEY_REGISTRATION: profile "skatt" registers the same SIGNING_KID on another client/),
    ]);
  });
});
