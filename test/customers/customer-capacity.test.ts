/**
 * Capacity on the stand-ins: how many customer tokens one vault's sign budget keeps fresh. A
 * simulated clock drives the stand-ins, the renewal timer and the callers; every grant is signed
 * by the Key Vault stand-in and checked by the Maskinporten stand-in. The budget is scaled down
 * (40 signs per 10 s) so the run is short; capacity scales linearly with it (README).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRuntime, type Runtime } from "../../src/app/runtime.js";
import { silentLogger } from "../../src/logging.js";
import { startKeyVaultStandIn, type KeyVaultStandIn } from "../../sandbox/keyvault/index.js";
import { startMaskinportenStandIn, type MaskinportenStandIn } from "../../sandbox/maskinporten/index.js";
import { issueEnterpriseCertificate } from "../../sandbox/pki.js";
import { staticCredential } from "../support/credentials.js";

const ORG = "991825827";
const LIFETIME_S = 120;
const SIGNS_PER_10S = 40;
const pki = issueEnterpriseCertificate({ organisationNumber: ORG });
const customers = Array.from({ length: 200 }, (_, i) => String(320_000_000 + i));
let kv: KeyVaultStandIn;
let mp: MaskinportenStandIn;
let nowMs = Date.UTC(2026, 11, 1, 12);

beforeAll(async () => {
  [kv, mp] = await Promise.all([
    startKeyVaultStandIn({ now: () => nowMs }),
    startMaskinportenStandIn({ trustedRoots: [pki.root.certificateDer], now: () => nowMs }),
  ]);
  kv.importCertificate("cert", { privateKey: pki.leaf.privateKey, certificateDer: pki.leaf.certificateDer });
  mp.registerClient({
    clientId: "supplier",
    organisationNumber: ORG,
    scopes: ["s:read"],
    tokenLifetimeSeconds: LIFETIME_S,
    consumerOrgs: customers,
  });
});
afterAll(async () => {
  await Promise.all([kv?.close(), mp?.close()]);
});

function runtime(): Runtime {
  return createRuntime({
    settings: {
      KEY_VAULT_URL: kv.url,
      MASKINPORTEN_ENVIRONMENT: mp.issuer,
      TOKEN_PROFILES: "sup",
      SIGNING_CERTIFICATE_NAME: "cert",
      SIGNING_CHAIN: pki.intermediate.certificateDer.toString("base64"),
      PROFILE_SUP_CLIENT_ID: "supplier",
      PROFILE_SUP_SCOPES: "s:read",
      PROFILE_SUP_CUSTOMERS: "*",
      PROFILE_SUP_CUSTOMER_REQUESTS_PER_SECOND: "1000", // only the vault budget limits here
      PROFILE_SUP_MAX_CUSTOMERS: "5000",
      KEY_VAULT_SIGNS_PER_10S: String(SIGNS_PER_10S),
      KEY_VAULT_SIGN_SHARE: "1",
    },
    credential: staticCredential(),
    keyVaultClientOptions: { disableChallengeResourceVerification: true, tlsOptions: { ca: kv.caPem } },
    logger: silentLogger,
    now: () => nowMs,
    maskinporten: { sleep: async () => {}, retry: { maxAttempts: 1 } },
    // A request queued behind the budget waits in simulated time, so its sign lands when due.
    sleep: async (ms) => {
      nowMs += ms;
    },
  });
}

/**
 * `count` customers, each asked for every 30 s, the timer every 10 s, for `minutes` simulated
 * minutes. Returns 503s after the first two minutes (warm-up: the first requests of hundreds of
 * new customers queue behind the budget) and the most signs in any 10 s.
 */
async function simulate(count: number, minutes: number) {
  const broker = runtime().broker;
  await broker.renewAll("timer");
  let refusedAfterWarmup = 0;
  let served = 0;
  const start = nowMs;
  const samples: [number, number][] = [];
  const sample = () => samples.push([nowMs, kv.counters.sign]);
  for (let second = 0; second < minutes * 60; second++) {
    nowMs = Math.max(nowMs, start + second * 1000); // a queued request may have moved time on
    for (let i = second % 30; i < count; i += 30) {
      try {
        await broker.serveCustomer("sup", { customer: customers[i]! });
        served++;
      } catch {
        if (second >= 120) refusedAfterWarmup++;
      }
      sample();
    }
    if (second % 10 === 0) await broker.renewAll("timer");
    await broker.customerTokens("sup")!.settled(); // background renewals finish within their second
    sample();
  }
  // Most signs within any 10 s of simulated time.
  let maxSignsPer10s = 0;
  for (let end = 0, begin = 0; end < samples.length; end++) {
    while (samples[end]![0] - samples[begin]![0] >= 10_000) begin++;
    const before = begin > 0 ? samples[begin - 1]![1] : samples[0]![1];
    maxSignsPer10s = Math.max(maxSignsPer10s, samples[end]![1] - before);
  }
  return {
    served,
    refusedAfterWarmup,
    maxSignsPer10s,
    held: broker.customerTokens("sup")!.stats().held,
    simulatedSeconds: Math.round((nowMs - start) / 1000),
  };
}

describe("customer tokens kept fresh by one vault's sign budget", () => {
  // Budget 40 per 10 s: the bucket refills 3.6/s (burst 4). A 120 s token renewed at half its
  // life needs one grant per 60 s: about 3.6 × 60 ≈ 216 customers fit.
  it("200 customers with 120 s tokens stay fresh within 40 signs per 10 s", async () => {
    const result = await simulate(200, 6);
    console.log(`capacity run, 200 customers, ${SIGNS_PER_10S} signs/10 s, ${LIFETIME_S} s tokens: ${JSON.stringify(result)}`);
    expect(result.refusedAfterWarmup).toBe(0);
    expect(result.maxSignsPer10s).toBeLessThanOrEqual(SIGNS_PER_10S);
    expect(result.held).toBe(200);
    // Every request was answered without waiting past its second: simulated time kept pace.
    expect(result.simulatedSeconds).toBeLessThanOrEqual(6 * 60);
  }, 120_000);
});
