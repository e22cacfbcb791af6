/**
 * Per-customer tokens over a real broker and the stand-ins (README "Per-customer tokens"): every status code of
 * the contract, roles per customer, Maskinporten's refusals as 403 access_denied remembered
 * briefly, hostile query values refused before they cost anything, and the audit line.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createRuntime, type Runtime } from "../../src/app/runtime.js";
import type { HttpResult } from "../../src/http/responses.js";
import { handleTokenRequest } from "../../src/http/token-endpoint.js";
import { formatLogLine, type Logger } from "../../src/logging.js";
import { startEntraStandIn, type EntraStandIn } from "../../sandbox/entra/standin.js";
import { startKeyVaultStandIn, type KeyVaultStandIn } from "../../sandbox/keyvault/index.js";
import { startMaskinportenStandIn, type MaskinportenStandIn } from "../../sandbox/maskinporten/index.js";
import { issueEnterpriseCertificate } from "../../sandbox/pki.js";
import { standInRuntimeOptions, standInSettings } from "../support/stand-in-runtime.js";

const ORG = "991825827";
const A = "310000019";
const B = "310000027";
const C = "310000035"; // has delegated nothing and has no system user
const D = "310000043"; // outside the system-user profile's list
const pki = issueEnterpriseCertificate({ organisationNumber: ORG });
let kv: KeyVaultStandIn;
let mp: MaskinportenStandIn;
let entra: EntraStandIn;
let nowMs = Date.now();
const logs: string[] = [];
const logger: Logger = { log: (level, event, fields) => logs.push(formatLogLine(level, event, fields)) };

beforeAll(async () => {
  [kv, mp, entra] = await Promise.all([
    startKeyVaultStandIn({ now: () => nowMs }),
    startMaskinportenStandIn({ trustedRoots: [pki.root.certificateDer], now: () => nowMs }),
    startEntraStandIn({ now: () => nowMs }),
  ]);
  kv.importCertificate("cert", { privateKey: pki.leaf.privateKey, certificateDer: pki.leaf.certificateDer });
  mp.registerClient({
    clientId: "supplier",
    organisationNumber: ORG,
    scopes: ["s:read"],
    tokenLifetimeSeconds: 300,
    delegations: { [A]: ["s:read"], [B]: ["s:read"] },
  });
  mp.registerClient({
    clientId: "system",
    organisationNumber: ORG,
    scopes: ["altinn:s"],
    tokenLifetimeSeconds: 300,
    systemUsers: [
      { customer: A, systemId: `${ORG}_sandbox` },
      { customer: B, systemId: `${ORG}_sandbox`, externalRef: "kunde-B" },
    ],
  });
  mp.registerClient({ clientId: "plain", organisationNumber: ORG, scopes: ["p:read"], tokenLifetimeSeconds: 300 });
});
afterAll(async () => {
  await Promise.all([kv?.close(), mp?.close(), entra?.close()]);
});

let counter = 0;
function newRuntime(overrides: Record<string, string> = {}, sleepAdvancesClock = true): Runtime {
  const n = ++counter;
  return createRuntime({
    settings: {
      ...standInSettings({ kv, mp, entra, pki }),
      TOKEN_PROFILES: "sup,su,plain",
      PROFILE_SUP_CLIENT_ID: "supplier",
      PROFILE_SUP_SCOPES: "s:read",
      PROFILE_SUP_SECRET_NAME: `sup-${n}`,
      PROFILE_SUP_CUSTOMERS: "*",
      PROFILE_SUP_CUSTOMER_DENIED_SECONDS: "30",
      PROFILE_SU_CLIENT_ID: "system",
      PROFILE_SU_SCOPES: "altinn:s",
      PROFILE_SU_SECRET_NAME: `su-${n}`,
      PROFILE_SU_CUSTOMERS: `${A},${B},${C}`,
      PROFILE_SU_CUSTOMER_CLAIM: "systemuser",
      PROFILE_PLAIN_CLIENT_ID: "plain",
      PROFILE_PLAIN_SCOPES: "p:read",
      PROFILE_PLAIN_SECRET_NAME: `plain-${n}`,
      ...overrides,
    },
    ...standInRuntimeOptions({ kv, entra }),
    logger,
    now: () => nowMs,
    maskinporten: { sleep: async () => {}, retry: { maxAttempts: 3 } },
    sleep: async (ms) => {
      if (sleepAdvancesClock) nowMs += ms;
    },
  });
}

const ALL_ROLES = ["Token.sup", "Token.su", "Token.plain"];
let runtime: Runtime;

async function get(profile: string | undefined, query: string, roles: string[] | null = ALL_ROLES) {
  const headers = new Headers(roles === null ? {} : { authorization: `Bearer ${entra.mintToken({ roles })}` });
  return handleTokenRequest({ headers, query: new URLSearchParams(query), ...(profile ? { profile } : {}) }, runtime);
}

const tokenRequests = () => mp.counters.tokenRequests;

beforeEach(() => {
  nowMs = Date.now();
  mp.clearFaults();
  kv.clearFaults();
  logs.length = 0;
  runtime = newRuntime();
});

describe("200: a customer's token", () => {
  it("consumer_org: the grant names the customer and the body adds customer", async () => {
    const result = await get("sup", `customer=${A}`);
    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({ token_type: "Bearer", profile: "sup", customer: A, scope: "s:read" });
    expect(result.headers["cache-control"]).toBe("no-store");
    const grant = mp.grants.at(-1)!;
    expect(grant.outcome).toBe("accepted");
    expect(grant.claims).toMatchObject({ consumer_org: A, iss: "supplier" });
    expect(grant.claims).not.toHaveProperty("authorization_details");
  });

  it("systemuser: authorization_details as §3, external_ref → externalRef", async () => {
    const result = await get("su", `customer=${B}&external_ref=kunde-B`);
    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({ customer: B, profile: "su" });
    expect(mp.grants.at(-1)!.claims!.authorization_details).toEqual([
      { type: "urn:altinn:systemuser", systemuser_org: { authority: "iso6523-actorid-upis", ID: `0192:${B}` }, externalRef: "kunde-B" },
    ]);
    const withoutRef = await get("su", `customer=${A}`);
    expect(withoutRef.status).toBe(200);
    expect(mp.grants.at(-1)!.claims!.authorization_details).toEqual([
      { type: "urn:altinn:systemuser", systemuser_org: { authority: "iso6523-actorid-upis", ID: `0192:${A}` } },
    ]);
  });

  it("is cached per (profile, customer, external_ref): repeats cost no Maskinporten request, other keys do", async () => {
    await get("sup", `customer=${A}`);
    const before = tokenRequests();
    const tokens = await Promise.all(Array.from({ length: 20 }, () => get("sup", `customer=${A}`)));
    expect(tokenRequests()).toBe(before);
    expect(new Set(tokens.map((t) => t.body.access_token)).size).toBe(1);
    const other = await get("sup", `customer=${B}`);
    expect(other.body.access_token).not.toBe(tokens[0]!.body.access_token);
    expect(tokenRequests()).toBe(before + 1);
  });

  it("a repeat caller of a held customer token is answered synchronously, with its own audit line", async () => {
    const headers = new Headers({ authorization: `Bearer ${entra.mintToken({ roles: ALL_ROLES })}` });
    const ask = () => handleTokenRequest({ headers, query: new URLSearchParams(`customer=${A}`), profile: "sup" }, runtime);
    const first = ask();
    expect(first).toBeInstanceOf(Promise); // a new caller token, and a token to get from Maskinporten
    expect((await first).status).toBe(200);
    const requestsBefore = tokenRequests();
    const auditsBefore = logs.filter((line) => line.includes('"token-request"')).length;
    const repeat = ask();
    expect(repeat).not.toBeInstanceOf(Promise);
    expect((repeat as HttpResult).body).toMatchObject({ customer: A, profile: "sup", token_type: "Bearer" });
    expect(tokenRequests()).toBe(requestsBefore);
    expect(logs.filter((line) => line.includes('"token-request"')).length).toBe(auditsBefore + 1);
  });

  it("single-flight: 30 concurrent first requests for one customer make one token request", async () => {
    const before = tokenRequests();
    const results = await Promise.all(Array.from({ length: 30 }, () => get("sup", `customer=${B}`)));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(tokenRequests()).toBe(before + 1);
  });

  it("the audit line names the profile and the customer", async () => {
    await get("sup", `customer=${A}`);
    const line = logs.map((l) => JSON.parse(l)).find((l) => l.event === "token-request");
    expect(line).toMatchObject({ status: 200, outcome: "served", profile: "sup", customer: A, externalRef: false });
  });
});

describe("roles: Token.<profile> or Token.<profile>.<orgno>", () => {
  it("a caller holding only Token.sup.<A> gets A and is refused B and the profile's own token", async () => {
    expect((await get("sup", `customer=${A}`, [`Token.sup.${A}`])).status).toBe(200);
    const before = tokenRequests();
    const other = await get("sup", `customer=${B}`, [`Token.sup.${A}`]);
    expect(other.status).toBe(403);
    expect(other.body.error).toBe("insufficient_scope");
    expect((await get("sup", "", [`Token.sup.${A}`])).status).toBe(403);
    expect(tokenRequests()).toBe(before);
  });

  it("a per-customer role of another profile does not count", async () => {
    expect((await get("sup", `customer=${A}`, [`Token.su.${A}`])).status).toBe(403);
  });

  it("a customer outside the profile's list is 403 even with the profile role", async () => {
    const before = tokenRequests();
    const result = await get("su", `customer=${D}`, ["Token.su"]);
    expect(result.status).toBe(403);
    expect(result.body.error_description).toMatch(/does not serve that customer/);
    expect(tokenRequests()).toBe(before);
  });
});

describe("401, 404 and 400", () => {
  it("401 without a caller token, before anything about the customer is looked at", async () => {
    const result = await get("sup", "customer=bad", null);
    expect(result.status).toBe(401);
    expect(result.headers["www-authenticate"]).toBe('Bearer error="invalid_token"');
  });

  it("404 for an unknown profile after authentication", async () => {
    expect((await get("nope", `customer=${A}`)).status).toBe(404);
  });

  it("400 invalid_request for a profile that serves no customer tokens", async () => {
    const result = await get("plain", `customer=${A}`);
    expect(result.status).toBe(400);
    expect(result.body.error).toBe("invalid_request");
  });

  it("400 for external_ref on a consumer_org profile, and for external_ref without customer", async () => {
    expect((await get("sup", `customer=${A}&external_ref=x`)).status).toBe(400);
    expect((await get("su", "external_ref=x")).status).toBe(400);
  });

  const hostileCustomers = [
    "",
    "12345678",
    "1234567890",
    "31000001a",
    " 310000019",
    "310000019 ",
    "３１０００００１９",
    "310000019\n",
    "310000019%00",
    "-310000019",
    "+31000001",
    "3.1000001",
    "0x1234567",
    "9".repeat(10_000),
    "${jndi:ldap://x}",
    '310000019","admin":true',
  ];
  const hostileRefs = ["", " lead", "trail ", "a\nb", "a\u0000b", "æøå", "x".repeat(129), "\u202Eevil", "a\tb", '"}{"level":"error'];

  it("400 for hostile customer and external_ref values: no Maskinporten request, no Key Vault sign, value not logged", async () => {
    await get("su", `customer=${A}`); // warm: the signer has read its certificate
    mp.resetCounters();
    kv.resetCounters();
    logs.length = 0;
    for (const customer of hostileCustomers) {
      const result = await get("sup", new URLSearchParams({ customer }).toString());
      expect(result.status, JSON.stringify(customer.slice(0, 20))).toBe(400);
      expect(result.body.error).toBe("invalid_request");
    }
    for (const ref of hostileRefs) {
      const result = await get("su", new URLSearchParams({ customer: A, external_ref: ref }).toString());
      expect(result.status, JSON.stringify(ref.slice(0, 20))).toBe(400);
    }
    expect((await get("sup", `customer=${A}&customer=${B}`)).status).toBe(400);
    expect(mp.counters.tokenRequests).toBe(0);
    expect(kv.counters.sign).toBe(0);
    const text = logs.join("\n");
    for (const value of ["${jndi", "admin", "evil", "lead", "9999999999"]) expect(text).not.toContain(value);
    expect(logs.every((l) => JSON.parse(l).reason === "invalid_customer_query")).toBe(true);
  });

  it("the longest allowed external_ref is accepted", async () => {
    const result = await get("su", new URLSearchParams({ customer: A, external_ref: "r".repeat(128) }).toString());
    // Well-formed, so it reaches Maskinporten, which refuses it: the system user at A has the default externalRef.
    expect(result.status).toBe(403);
    expect(result.body.error).toBe("access_denied");
  });
});

describe("403 access_denied: Maskinporten refuses the customer", () => {
  it("no delegation: Maskinporten's description, error_uri and trace id; remembered, not retried", async () => {
    const before = tokenRequests();
    const result = await get("sup", `customer=${C}`);
    expect(result.status).toBe(403);
    expect(result.body.error).toBe("access_denied");
    expect(result.body.error_description).toMatch(
      new RegExp(`Consumer ${C} has not delegated access to the scope s:read to supplier ${ORG}\\. \\(trace_id: [0-9a-f]{32}\\)`),
    );
    expect(result.body.error_uri).toBe(`${mp.issuer}errors/MP-251`);
    expect(result.body.trace_id).toMatch(/^[0-9a-f]{32}$/);
    expect(tokenRequests()).toBe(before + 1); // one attempt: a refusal is not transient

    for (let i = 0; i < 5; i++) expect((await get("sup", `customer=${C}`)).status).toBe(403);
    expect(tokenRequests()).toBe(before + 1);

    nowMs += 31_000; // PROFILE_SUP_CUSTOMER_DENIED_SECONDS=30
    expect((await get("sup", `customer=${C}`)).status).toBe(403);
    expect(tokenRequests()).toBe(before + 2);
  });

  it("no system user, or the wrong externalRef: invalid_altinn_customer_configuration (MP-303)", async () => {
    for (const query of [`customer=${C}`, `customer=${B}`, `customer=${B}&external_ref=other`]) {
      const result = await get("su", query);
      expect(result.status, query).toBe(403);
      expect(result.body).toMatchObject({ error: "access_denied", maskinporten_error: "invalid_altinn_customer_configuration" });
      expect(result.body.error_uri).toBe(`${mp.issuer}errors/MP-303`);
    }
  });

  it("a refused customer does not stop the profile's other customers", async () => {
    expect((await get("sup", `customer=${C}`)).status).toBe(403);
    expect((await get("sup", `customer=${A}`)).status).toBe(200);
  });
});

describe("503 + Retry-After", () => {
  it("Maskinporten down: 503, and the profile backs off instead of asking again for each customer", async () => {
    mp.injectFault({ kind: "status", status: 503, body: { error: "server_error" } }, { times: Infinity });
    const result = await get("sup", `customer=${A}`);
    expect(result.status).toBe(503);
    expect(Number(result.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    const before = tokenRequests();
    expect((await get("sup", `customer=${B}`)).status).toBe(503);
    expect(tokenRequests()).toBe(before);
  });

  it("rate budget exhausted: a burst of new customers gets 503 with Retry-After, never an older token", async () => {
    runtime = newRuntime({ PROFILE_SUP_CUSTOMER_REQUESTS_PER_SECOND: "0.1" }); // burst 1, then one per 10 s
    expect((await get("sup", `customer=${A}`)).status).toBe(200);
    const refused = await get("sup", `customer=${B}`);
    expect(refused.status).toBe(503);
    expect(Number(refused.headers["retry-after"])).toBe(10);
    expect(runtime.broker.customerTokens("sup")!.stats().refusedByRate).toBe(1);
    nowMs += 10_000;
    expect((await get("sup", `customer=${B}`)).status).toBe(200);
  });

  it("5,000 distinct customers at once through one profile: Maskinporten sees the burst and the queue only, the rest get 503", async () => {
    // Defaults: 10 req/s, 1,000 held. Queued requests do not move the shared fake clock (they would
    // refill the bucket for each other); the reservation is what the budget counts.
    runtime = newRuntime({}, false);
    const caller = entra.mintToken({ roles: ["Token.sup"] });
    const before = tokenRequests();
    kv.resetCounters();
    const heapBefore = process.memoryUsage().heapUsed;
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: 5000 }, async (_, i) =>
        handleTokenRequest(
          {
            headers: new Headers({ authorization: `Bearer ${caller}` }),
            profile: "sup",
            query: new URLSearchParams({ customer: String(330_000_000 + i) }),
          },
          runtime,
        ),
      ),
    );
    const statuses = new Map<number, number>();
    for (const r of results) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    const grants = tokenRequests() - before;
    const stats = runtime.broker.customerTokens("sup")!.stats();
    console.log(
      `5,000 customers at once: answers ${JSON.stringify(Object.fromEntries(statuses))}, Maskinporten requests ${grants}, ` +
        `Key Vault signs ${kv.counters.sign}, held ${stats.held}, heap growth ${((process.memoryUsage().heapUsed - heapBefore) / 2 ** 20).toFixed(1)} MB`,
    );
    // Burst (2 s worth = 20) plus up to 2 s of queue (20), and the refill while the test runs.
    expect(grants).toBeLessThanOrEqual(40 + Math.ceil((Date.now() - started) / 100));
    expect(grants).toBeGreaterThanOrEqual(20);
    expect(kv.counters.sign).toBe(grants);
    expect(statuses.get(503)).toBeGreaterThanOrEqual(5000 - grants);
    expect(results.filter((r) => r.status === 503).every((r) => Number(r.headers["retry-after"]) >= 1)).toBe(true);
    expect(stats.held).toBeLessThanOrEqual(1000);
  }, 60_000);

  it("a short burst over the rate queues briefly instead of failing", async () => {
    runtime = newRuntime({ PROFILE_SUP_CUSTOMER_REQUESTS_PER_SECOND: "1" }); // burst 2, then one per second
    const start = nowMs;
    const results = [];
    for (const customer of [A, B, "310000051", "310000078"]) results.push(await get("sup", `customer=${customer}`));
    // A and B fit the burst; the delegation-less two queue ~1 s each (then Maskinporten refuses them).
    expect(results.map((r) => r.status)).toEqual([200, 200, 403, 403]);
    expect(nowMs - start).toBeGreaterThanOrEqual(1_900);
  });
});

describe("PROFILE_<NAME>_STORE_CUSTOMER_TOKENS", () => {
  it("off by default: no secret per customer", async () => {
    kv.resetCounters();
    expect((await get("sup", `customer=${A}`)).status).toBe(200);
    expect(kv.counters.secretSet).toBe(0);
  });

  it("on: each new customer token goes to maskinporten-<profile>-<orgno>, tagged with the customer; the broker never reads it back", async () => {
    runtime = newRuntime({ PROFILE_SUP_STORE_CUSTOMER_TOKENS: "true" });
    kv.resetCounters();
    const result = await get("sup", `customer=${A}`);
    expect(result.status).toBe(200);
    // The write does not hold up the caller: wait for it (bounded).
    for (let i = 0; i < 100 && kv.getSecretVersions(`maskinporten-sup-${A}`).length === 0; i++)
      await new Promise((resolve) => setTimeout(resolve, 50));
    const versions = kv.getSecretVersions(`maskinporten-sup-${A}`);
    expect(versions.length).toBeGreaterThanOrEqual(1);
    const latest = versions.at(-1)!;
    expect(latest.value).toBe(result.body.access_token);
    expect(latest.tags).toMatchObject({ profile: "sup", customer: A, customer_claim: "consumer_org", scope: "s:read" });
    await get("sup", `customer=${A}`);
    expect(kv.counters.secretGet).toBe(0);
  });
});

describe("settings", () => {
  it("refuses contradictory and malformed customer settings, all together", () => {
    expect(() =>
      newRuntime({
        PROFILE_SUP_CUSTOMERS: "12345,310000019",
        PROFILE_SUP_CONSUMER_ORG: A,
        PROFILE_SU_SYSTEMUSER_ORG: A,
        PROFILE_SU_CUSTOMER_CLAIM: "systemuser",
        PROFILE_PLAIN_MAX_CUSTOMERS: "10",
        PROFILE_SUP_MAX_CUSTOMERS: "0",
        KEY_VAULT_SIGN_SHARE: "2",
      }),
    ).toThrow(
      expect.objectContaining({
        problems: expect.arrayContaining([
          expect.objectContaining({ setting: "PROFILE_SUP_CUSTOMERS" }),
          expect.objectContaining({ setting: "PROFILE_SUP_CONSUMER_ORG" }),
          expect.objectContaining({ setting: "PROFILE_SU_SYSTEMUSER_ORG" }),
          expect.objectContaining({ setting: "PROFILE_PLAIN_MAX_CUSTOMERS" }),
          expect.objectContaining({ setting: "PROFILE_SUP_MAX_CUSTOMERS" }),
          expect.objectContaining({ setting: "KEY_VAULT_SIGN_SHARE" }),
        ]),
      }),
    );
  });
});
