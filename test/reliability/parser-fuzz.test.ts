/**
 * Property-based fuzzing (fast-check) of the parsers that read outside input: app settings
 * (parseBrokerConfig), client.properties (parseJavaProperties) and Maskinporten's token response
 * (parseTokenResponse). For each: no crash other than its documented BrokerError, and no
 * acceptance of invalid input (an independent oracle says what must be refused). The bearer
 * parser is fuzzed in test/auth/bearer.test.ts and test/auth/verify-fuzz.test.ts.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseJavaProperties } from "../../src/cli/properties.js";
import { ConfigError, type Settings } from "../../src/config/reader.js";
import { parseBrokerConfig } from "../../src/config/settings.js";
import type { BrokerConfig } from "../../src/config/domain.js";
import { BrokerError, ErrorCode } from "../../src/errors.js";
import { MaskinportenError } from "../../src/maskinporten/errors.js";
import { parseTokenResponse } from "../../src/maskinporten/token-response.js";

const RUNS = 1_000;

// ------------------------------------------------------------------ app settings

const VALID: Settings = {
  KEY_VAULT_URL: "https://broker-kv.vault.azure.net/",
  MASKINPORTEN_ENVIRONMENT: "test",
  TOKEN_PROFILES: "skatt,sdir",
  SIGNING_CERTIFICATE_NAME: "virksomhetssertifikat",
  PROFILE_SKATT_CLIENT_ID: "c1",
  PROFILE_SKATT_SCOPES: "skatteetaten:testnorge",
  PROFILE_SDIR_CLIENT_ID: "c2",
  PROFILE_SDIR_SCOPES: "sdir:read",
  CALLER_TENANT_ID: "5b1a8e3c-7d24-4f6a-9c0e-2f8d6b4a1e70",
  CALLER_AUDIENCES: "api://broker",
};

const SETTING_NAMES = [
  ...Object.keys(VALID),
  "DEFAULT_PROFILE",
  "RENEW_SCHEDULE",
  "RENEW_BEFORE_EXPIRY_RATIO",
  "CALLER_AUTHORITY_HOST",
  "CALLER_TRUST_APP_SERVICE_PRINCIPAL",
  "SIGNING_ALGORITHM",
  "SIGNING_KID",
  "SIGNING_KEY_NAME",
  "SIGNING_CHAIN",
  "SIGNING_CERTIFICATE_VERSION",
  "PROFILE_SKATT_CONSUMER_ORG",
  "PROFILE_SKATT_RESOURCE",
  "PROFILE_SKATT_PID",
  "PROFILE_SKATT_SECRET_NAME",
  "PROFILE_SDIR_SECRET_NAME",
  "PROFILE_SKATT_ENVIRONMENT",
  "PROFILE_SKATT_AUTHORIZATION_DETAILS",
  "PROFILE_SKATT_SYSTEMUSER_ORG",
  "PROFILE_SKATT_SIGNING_KEY_NAME",
  "PROFILE_SKATT_SIGNING_KID",
];

/** Parses, and says whether it threw anything but the documented ConfigError. */
function parseOutcome(settings: Settings): { config: BrokerConfig } | { error: ConfigError } {
  try {
    return { config: parseBrokerConfig(settings) };
  } catch (error) {
    if (error instanceof ConfigError && error.code === ErrorCode.Config && error.problems.length > 0) return { error };
    throw error;
  }
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What any accepted configuration must satisfy, whatever the input was. */
function expectSound(config: BrokerConfig): void {
  const vault = new URL(config.keyVaultUrl);
  expect(vault.protocol).toBe("https:");
  expect(vault.pathname).toBe("/");
  expect(config.profiles.length).toBeGreaterThan(0);
  expect(config.profiles.map((p) => p.name)).toContain(config.defaultProfile);
  expect(new Set(config.profiles.map((p) => p.secretName)).size).toBe(config.profiles.length);
  expect(config.renewal.renewWhenRemainingRatio).toBeGreaterThan(0);
  expect(config.renewal.renewWhenRemainingRatio).toBeLessThan(1);
  expect(config.renewal.schedule.trim().split(/\s+/)).toHaveLength(6);
  for (const profile of config.profiles) {
    expect(profile.name).toMatch(/^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/);
    expect(profile.secretName).toMatch(/^[0-9a-zA-Z-]{1,127}$/);
    expect(profile.scopes.length).toBeGreaterThan(0);
    expect(profile.clientId.length).toBeGreaterThan(0);
    const issuer = new URL(profile.issuer);
    expect(issuer.protocol === "https:" || ["127.0.0.1", "localhost", "[::1]"].includes(issuer.hostname)).toBe(true);
    if (profile.consumerOrg !== undefined) expect(profile.consumerOrg).toMatch(/^\d{9}$/);
    if (profile.pid !== undefined) expect(profile.pid).toMatch(/^\d{11}$/);
    expect(["RS256", "RS384", "RS512"]).toContain(profile.signing.alg);
    if (profile.signing.kind === "key") expect(profile.signing.kid.length).toBeGreaterThan(0);
  }
  if (config.callers) {
    expect(config.callers.tenantId).toMatch(GUID);
    expect(config.callers.audiences.length).toBeGreaterThan(0);
  }
}

/** Values that must each be refused for the named setting, given otherwise valid settings. */
const INVALID_VALUES: Record<string, fc.Arbitrary<string>> = {
  KEY_VAULT_URL: fc.oneof(
    fc.constantFrom(
      "http://broker-kv.vault.azure.net/",
      "https://broker-kv.vault.azure.net/secrets",
      "https://kv/?x=1",
      "vault",
      "https://kv/#f",
    ),
    fc.webUrl({ withQueryParameters: true }).filter((u) => new URL(u).search !== ""),
    fc
      .webUrl()
      .map((u) => u.replace(/^https:/, "http:"))
      .filter((u) => u.startsWith("http:")),
  ),
  RENEW_BEFORE_EXPIRY_RATIO: fc.oneof(
    fc
      .double({ noNaN: true })
      .filter((r) => !(r > 0 && r < 1))
      .map(String),
    fc.constantFrom("NaN", "half", "0", "1", "-0.5", "Infinity", "0,5"),
  ),
  RENEW_SCHEDULE: fc
    .array(fc.constantFrom("0", "*/5", "*"), { minLength: 1, maxLength: 9 })
    .filter((f) => f.length !== 6)
    .map((f) => f.join(" ")),
  TOKEN_PROFILES: fc.oneof(
    fc.constantFrom("Skatt", "skatt_", "-skatt", "skatt-", "skatt,skatt", "a".repeat(33), "sk att!"),
    fc.stringMatching(/^[A-Z_!.]{1,8}$/),
  ),
  DEFAULT_PROFILE: fc.stringMatching(/^[a-z]{1,8}$/).filter((n) => n !== "skatt" && n !== "sdir"),
  CALLER_TENANT_ID: fc.string({ maxLength: 40 }).filter((s) => s.trim() !== "" && !GUID.test(s.trim())),
  CALLER_TRUST_APP_SERVICE_PRINCIPAL: fc.string({ minLength: 1 }).filter((s) => s.trim() !== "" && !/^(true|false)$/i.test(s.trim())),
  SIGNING_ALGORITHM: fc.string({ minLength: 1 }).filter((s) => s.trim() !== "" && !["RS256", "RS384", "RS512"].includes(s.trim())),
  PROFILE_SKATT_CONSUMER_ORG: fc.string({ minLength: 1 }).filter((s) => s.trim() !== "" && !/^\d{9}$/.test(s.trim())),
  PROFILE_SKATT_PID: fc.string({ minLength: 1 }).filter((s) => s.trim() !== "" && !/^\d{11}$/.test(s.trim())),
  PROFILE_SKATT_SECRET_NAME: fc.oneof(
    fc.constantFrom("maskinporten-sdir", "with space", "under_score", "x".repeat(128)),
    fc.stringMatching(/^[^0-9a-zA-Z-\s]{1,5}$/),
  ),
  MASKINPORTEN_ENVIRONMENT: fc.oneof(
    fc.constantFrom(
      "staging",
      "http://maskinporten.no/",
      "https://ver2.maskinporten.no/",
      "https://oidc-ver1.difi.no/idporten-oidc-provider/",
    ),
    fc
      .webUrl()
      .map((u) => u.replace(/^https:/, "http:"))
      .filter((u) => u.startsWith("http:") && !/\/\/(127\.0\.0\.1|localhost|\[::1\])/.test(u)),
  ),
  PROFILE_SKATT_AUTHORIZATION_DETAILS: fc.oneof(
    fc.constantFrom("{", "[1]", '[{"typ":"x"}]', "null", '"text"', "[{}]"),
    fc
      .jsonValue()
      .filter((v) => !isDetails(v))
      .map((v) => JSON.stringify(v)),
  ),
};

function isDetails(value: unknown): boolean {
  const list = Array.isArray(value) ? value : [value];
  return list.every((d) => typeof d === "object" && d !== null && !Array.isArray(d) && typeof (d as { type?: unknown }).type === "string");
}

describe("parseBrokerConfig under fuzzing", () => {
  it("control: the base settings are valid", () => {
    expectSound(parseBrokerConfig(VALID));
  });

  it("random settings: only ConfigError is thrown, and whatever is accepted is sound", () => {
    const value = fc.oneof(
      fc.string(),
      fc.constantFrom("test", "prod", "https://kv.vault.azure.net/", "skatt", "0.5", "true", "RS256", "991825827"),
    );
    const settings = fc.dictionary(fc.constantFrom(...SETTING_NAMES), value);
    let accepted = 0;
    fc.assert(
      fc.property(fc.tuple(fc.boolean(), settings), ([fromValid, random]) => {
        const outcome = parseOutcome(fromValid ? { ...VALID, ...random } : random);
        if ("config" in outcome) {
          accepted++;
          expectSound(outcome.config);
        }
      }),
      { numRuns: RUNS },
    );
    expect(accepted).toBeGreaterThan(10);
  });

  it("one invalid value in otherwise valid settings is refused, naming that setting", () => {
    const corruption = fc
      .constantFrom(...Object.keys(INVALID_VALUES))
      .chain((setting) => fc.tuple(fc.constant(setting), INVALID_VALUES[setting]!));
    fc.assert(
      fc.property(corruption, ([setting, value]) => {
        const outcome = parseOutcome({ ...VALID, [setting]: value });
        expect("error" in outcome, `${setting}=${JSON.stringify(value)} was accepted`).toBe(true);
        const problems = (outcome as { error: ConfigError }).error.problems.map((p) => p.setting);
        // A bad profile name names TOKEN_PROFILES; a secret name clash names whichever profile comes second.
        const named = (p: string) =>
          p === setting ||
          (setting === "TOKEN_PROFILES" && p.startsWith("PROFILE_")) ||
          (setting.endsWith("_SECRET_NAME") && p.endsWith("_SECRET_NAME"));
        expect(problems.some(named), `${setting}: ${problems.join(", ")}`).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });
});

// ------------------------------------------------------------------ client.properties

/** Writes one key or value the way java.util.Properties.store escapes it. */
function escapeProperty(text: string, isKey: boolean): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    const code = c.charCodeAt(0);
    if (c === "\\") out += "\\\\";
    else if (c === "\n") out += "\\n";
    else if (c === "\r") out += "\\r";
    else if (c === "\t") out += "\\t";
    else if (c === "\f") out += "\\f";
    else if (c === " " && (isKey || i === 0)) out += "\\ ";
    else if (isKey && "=:#!".includes(c)) out += `\\${c}`;
    else if (!isKey && i === 0 && "#!".includes(c)) out += `\\${c}`;
    else if (code < 0x20 || code > 0x7e) out += `\\u${code.toString(16).padStart(4, "0")}`;
    else out += c;
  }
  return out;
}

describe("parseJavaProperties under fuzzing", () => {
  it("any text or bytes: a map of strings or ERR_PROPERTIES, nothing else", () => {
    const input = fc.oneof(
      fc.string({ unit: "binary", maxLength: 400 }),
      fc.uint8Array({ maxLength: 400 }),
      fc
        .array(fc.constantFrom("a=b", "\\", "\\u", "\\u12", "\\uZZZZ", "#c", "k:v", " ", "\n", "\r\n", "=", "\\\n", "\u00e6", "\t"), {
          maxLength: 30,
        })
        .map((p) => p.join("")),
    );
    fc.assert(
      fc.property(input, (content) => {
        try {
          const parsed = parseJavaProperties(content);
          for (const [key, value] of parsed) {
            expect(typeof key).toBe("string");
            expect(typeof value).toBe("string");
          }
        } catch (error) {
          expect(error).toBeInstanceOf(BrokerError);
          expect((error as BrokerError).code).toBe(ErrorCode.Properties);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("what Properties.store would write reads back exactly (nothing lost, nothing invented)", () => {
    // "__proto__" is dropped by properties-file (it builds a plain object); no client.properties key
    // is named so, and the value never reaches a prototype, so the round trip leaves it out.
    const key = fc.string({ minLength: 1, maxLength: 20 }).filter((k) => k !== "__proto__");
    const entries = fc.dictionary(key, fc.string({ maxLength: 40 }), { maxKeys: 12 });
    fc.assert(
      fc.property(entries, (map) => {
        const text = Object.entries(map)
          .map(([k, v]) => `${escapeProperty(k, true)}=${escapeProperty(v, false)}`)
          .join("\n");
        expect(Object.fromEntries(parseJavaProperties(text))).toEqual(map);
      }),
      { numRuns: RUNS },
    );
  });

  it("a malformed \\u escape is refused, and the error never quotes the line (it may be a password)", () => {
    // Starts with a non-hex letter, so "\\u" + password is never a valid escape by accident.
    const secret = fc.stringMatching(/^[G-Zg-z][A-Za-z0-9]{7,19}$/);
    const badEscape = fc.constantFrom("\\u", "\\u1", "\\u12", "\\u123", "\\uXYZW", "\\u12G4");
    fc.assert(
      fc.property(secret, badEscape, fc.boolean(), (password, escape, before) => {
        const line = before ? `keystore.password=${escape}${password}` : `keystore.password=${password}${escape}`;
        const error = (() => {
          try {
            parseJavaProperties(`issuer=x\n${line}\n`);
            return undefined;
          } catch (e) {
            return e;
          }
        })();
        expect(error, line).toBeInstanceOf(BrokerError);
        expect((error as BrokerError).code).toBe(ErrorCode.Properties);
        expect((error as Error).message).toContain("line 2");
        expect((error as Error).message).not.toContain(password);
      }),
      { numRuns: RUNS },
    );
  });
});

// ------------------------------------------------------------------ Maskinporten token response

/** The contract, written independently of the parser: what a usable token response is. */
function isValidTokenResponse(body: unknown): boolean {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return false;
  const f = body as Record<string, unknown>;
  const token = f.access_token;
  const expiresIn = f.expires_in;
  return (
    typeof token === "string" &&
    token.length > 0 &&
    !/\s/.test(token) &&
    typeof expiresIn === "number" &&
    Number.isFinite(expiresIn) &&
    expiresIn >= 1 &&
    expiresIn <= 86_400 &&
    (f.token_type === undefined || (typeof f.token_type === "string" && f.token_type.length > 0)) &&
    (f.scope === undefined || typeof f.scope === "string")
  );
}

describe("parseTokenResponse under fuzzing", () => {
  const RECEIVED_AT = 1_795_000_000_123;

  function outcome(text: string): { token: ReturnType<typeof parseTokenResponse> } | { error: MaskinportenError } {
    try {
      return { token: parseTokenResponse(text, 200, RECEIVED_AT, ["a:b"]) };
    } catch (error) {
      // The one documented failure: a transient "bad response" error.
      expect(error).toBeInstanceOf(MaskinportenError);
      expect((error as MaskinportenError).code).toBe(ErrorCode.MaskinportenBadResponse);
      expect((error as MaskinportenError).transient).toBe(true);
      return { error: error as MaskinportenError };
    }
  }

  it("arbitrary text: a token or ERR_MASKINPORTEN_BAD_RESPONSE, and the text is never quoted back", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: "binary" }),
          fc.json(),
          fc.jsonValue().map((v) => JSON.stringify(v)),
        ),
        (text) => {
          const result = outcome(text);
          if ("error" in result && text.length >= 8) expect(result.error.message).not.toContain(text);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("accepts a body exactly when it is a valid token response, and never quotes the access token in an error", () => {
    const field = <T>(valid: fc.Arbitrary<T>) =>
      fc.oneof({ weight: 3, arbitrary: valid }, { weight: 1, arbitrary: fc.jsonValue() }, { weight: 1, arbitrary: fc.constant(undefined) });
    const body = fc.record(
      {
        access_token: field(fc.oneof(fc.stringMatching(/^[A-Za-z0-9._~+/=-]{1,60}$/), fc.string({ maxLength: 20 }))),
        token_type: field(fc.constantFrom("Bearer", "bearer", "")),
        expires_in: field(fc.oneof(fc.integer({ min: -5, max: 90_000 }), fc.double(), fc.constantFrom(1, 120, 86_400, 86_401, 0.5, 1.5))),
        scope: field(fc.constantFrom("a:b", "a:b c:d", "")),
        extra: fc.jsonValue(),
      },
      { requiredKeys: [] },
    );
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(fc.oneof({ weight: 9, arbitrary: body }, { weight: 1, arbitrary: fc.jsonValue() }), (value) => {
        const text = JSON.stringify(value) ?? "undefined";
        const parsedBack = text === "undefined" ? undefined : (JSON.parse(text) as unknown);
        const result = outcome(text);
        expect("token" in result, text).toBe(isValidTokenResponse(parsedBack));
        if ("token" in result) {
          accepted++;
          const { token } = result;
          expect(token.expiresAt.getTime()).toBeGreaterThan(token.issuedAt.getTime());
          expect(token.issuedAt.getTime()).toBeLessThanOrEqual(RECEIVED_AT);
          expect(token.expiresAt.getTime()).toBeLessThanOrEqual(RECEIVED_AT + token.expiresIn * 1000);
        } else {
          refused++;
          const accessToken = (parsedBack as { access_token?: unknown } | undefined)?.access_token;
          if (typeof accessToken === "string" && accessToken.length >= 4) expect(result.error.message).not.toContain(accessToken);
        }
      }),
      { numRuns: RUNS },
    );
    expect(accepted).toBeGreaterThan(50);
    expect(refused).toBeGreaterThan(50);
  });
});
