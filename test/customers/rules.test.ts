import { describe, expect, it } from "vitest";
import { parseBrokerConfig } from "../../src/config/settings.js";
import { customerCacheKey, customerGrantShape } from "../../src/customers/index.js";
import { isExternalRef, isOrgNumber } from "../../src/rules.js";
import { parseCustomerQuery } from "../../src/http/customer-request.js";

describe("org number and external_ref rules", () => {
  it("org numbers: exactly 9 ASCII digits; the check digit is not required", () => {
    for (const ok of ["310000019", "991825827", "000000000", "310000018"]) expect(isOrgNumber(ok), ok).toBe(true);
    for (const bad of ["", "31000001", "3100000190", "31000001a", "３１０００００１９", " 31000001", "310000019\n", "-31000001"]) {
      expect(isOrgNumber(bad), JSON.stringify(bad)).toBe(false);
    }
  });

  it("external_ref: 1-128 printable ASCII, no outer spaces, none of the JSON/HTML breakers", () => {
    for (const ok of ["a", "kunde-78", "ORG 123/45", "x".repeat(128), "a:b@c.d+e=f#g!"]) expect(isExternalRef(ok), ok).toBe(true);
    for (const bad of ["", " a", "a ", "x".repeat(129), "a\nb", "a\tb", "æ", 'a"b', "a\\b", "<b>", "{x}", "`x`", "\u202e"]) {
      expect(isExternalRef(bad), JSON.stringify(bad)).toBe(false);
    }
  });

  it("the query: customer once, external_ref once and only with customer", () => {
    expect(parseCustomerQuery(new URLSearchParams(""))).toEqual({ kind: "none" });
    expect(parseCustomerQuery(new URLSearchParams("other=1"))).toEqual({ kind: "none" });
    expect(parseCustomerQuery(new URLSearchParams("customer=310000019&external_ref=r"))).toEqual({
      kind: "customer",
      request: { customer: "310000019", externalRef: "r" },
    });
    for (const q of ["customer=1&customer=2", "external_ref=r", "customer=310000019&external_ref=r&external_ref=s", "customer="]) {
      expect(parseCustomerQuery(new URLSearchParams(q)).kind, q).toBe("invalid");
    }
  });

  it("the cache key tells every grant-shaping input apart", () => {
    const keys = [
      customerCacheKey(customerGrantShape("consumer_org", { customer: "310000019" })),
      customerCacheKey(customerGrantShape("systemuser", { customer: "310000019" })),
      customerCacheKey(customerGrantShape("systemuser", { customer: "310000019", externalRef: "310000019" })),
      customerCacheKey(customerGrantShape("systemuser", { customer: "310000027" })),
    ];
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe("customer settings", () => {
  const base = {
    KEY_VAULT_URL: "https://kv.vault.azure.net/",
    MASKINPORTEN_ENVIRONMENT: "test",
    TOKEN_PROFILES: "sup",
    SIGNING_CERTIFICATE_NAME: "cert",
    PROFILE_SUP_CLIENT_ID: "c",
    PROFILE_SUP_SCOPES: "s",
  };

  it("defaults", () => {
    const config = parseBrokerConfig({ ...base, PROFILE_SUP_CUSTOMERS: "310000019, 310000027" });
    const policy = config.profiles[0]!.customers!;
    expect([...(policy.allowed as Set<string>)]).toEqual(["310000019", "310000027"]);
    expect(policy).toMatchObject({
      claim: "consumer_org",
      maxCustomers: 1000,
      requestsPerSecond: 10,
      deniedCacheMs: 60_000,
      storeTokens: false,
    });
    expect(config.signBudget).toEqual({ vaultSignsPer10s: 4000, share: 0.5 });
    expect(parseBrokerConfig(base).profiles[0]!.customers).toBeUndefined();
  });

  it("settings without CUSTOMERS, and malformed values, are named without echoing long input", () => {
    let problems: { setting: string; message: string }[] = [];
    try {
      parseBrokerConfig({ ...base, PROFILE_SUP_CUSTOMER_CLAIM: "systemuser", KEY_VAULT_SIGNS_PER_10S: "x".repeat(500) });
    } catch (error) {
      problems = (error as { problems: typeof problems }).problems;
    }
    expect(problems.map((p) => p.setting).sort()).toEqual(["KEY_VAULT_SIGNS_PER_10S", "PROFILE_SUP_CUSTOMER_CLAIM"]);
    expect(problems.every((p) => p.message.length < 300)).toBe(true);
  });
});
