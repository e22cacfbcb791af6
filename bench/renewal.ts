/**
 * Figures 2 (per renewal) and 3: the broker renews a profile again and again against the Key Vault
 * and Maskinporten stand-ins. One shared clock, moved forward past the renewal point before each
 * renewal, drives the broker and both stand-ins, so every renewal is real (a signed grant, a new
 * token, a new secret version) without waiting for time to pass.
 */
import { performance } from "node:perf_hooks";
import type { AccessToken, TokenCredential } from "@azure/identity";
import { createBroker } from "../src/broker.js";
import { parseBrokerConfig } from "../src/config/settings.js";
import { startKeyVaultStandIn } from "../sandbox/keyvault/index.js";
import { startMaskinportenStandIn } from "../sandbox/maskinporten/index.js";
import { issueEnterpriseCertificate } from "../sandbox/pki.js";
import { countingLogger } from "./counting-logger.js";
import { timeStandIns } from "./stand-in-timing.js";

export interface RenewalFigures {
  renewals: number;
  /** Stand-in requests of the very first renewal of an instance (cold: certificate, key, metadata, challenges). */
  first: { keyVault: Record<string, number>; maskinporten: Record<string, number> };
  /** Stand-in requests per renewal afterwards (mean over `renewals`). */
  perRenewal: { keyVault: Record<string, number>; maskinporten: Record<string, number> };
  /** Median wall time of one steady-state renewal (ms). */
  wallMs: number;
  /** Median of the stand-ins' own handling time summed over that renewal's requests (ms). */
  standInMs: number;
  /** Median of the per-renewal ratio wall ÷ stand-in time. */
  ratio: number;
  /** Median requests the stand-ins handled per renewal. */
  requestsPerRenewal: number;
}

const ORGANISATION = "991825827";
const TOKEN_LIFETIME_SECONDS = 120;

export async function benchRenewal(options: { renewals: number }): Promise<RenewalFigures> {
  let offsetMs = 0;
  const now = () => Date.now() + offsetMs;
  const pki = issueEnterpriseCertificate({ organisationNumber: ORGANISATION });
  const keyVault = await startKeyVaultStandIn({ now });
  keyVault.importCertificate("virksomhetssertifikat", {
    privateKey: pki.leaf.privateKey,
    certificateDer: pki.leaf.certificateDer,
    exportable: false,
  });
  const maskinporten = await startMaskinportenStandIn({ now, trustedRoots: [pki.root.certificateDer] });
  maskinporten.registerClient({
    clientId: "bench-client",
    organisationNumber: ORGANISATION,
    scopes: ["bench:scope"],
    tokenLifetimeSeconds: TOKEN_LIFETIME_SECONDS,
  });
  const timing = timeStandIns([keyVault.port, maskinporten.port]);
  try {
    const config = parseBrokerConfig({
      KEY_VAULT_URL: keyVault.url,
      MASKINPORTEN_ENVIRONMENT: maskinporten.issuer,
      TOKEN_PROFILES: "bench",
      SIGNING_CERTIFICATE_NAME: "virksomhetssertifikat",
      SIGNING_CHAIN: pki.intermediate.certificateDer.toString("base64"),
      PROFILE_BENCH_CLIENT_ID: "bench-client",
      PROFILE_BENCH_SCOPES: "bench:scope",
    });
    // The Key Vault stand-in accepts any bearer: the credential is not what is measured here.
    const credential: TokenCredential = {
      getToken: async (): Promise<AccessToken> => ({ token: "bench-credential", expiresOnTimestamp: Date.now() + 3600_000 }),
    };
    const broker = createBroker({
      config,
      credential,
      keyVaultClientOptions: { disableChallengeResourceVerification: true, tlsOptions: { ca: keyVault.caPem } },
      logger: countingLogger(),
      now,
    });

    const renewOnce = async (): Promise<RenewalRun> => {
      const before = { keyVault: counts(keyVault.counters), maskinporten: counts(maskinporten.counters) };
      timing.reset();
      const start = performance.now();
      const [outcome] = await broker.renewAll("timer");
      const wallMs = performance.now() - start;
      if (outcome?.outcome !== "renewed") throw new Error(`renewal bench: expected a renewal, got ${JSON.stringify(outcome)}`);
      const standIn = [...timing.totals().values()].reduce((sum, t) => ({ ms: sum.ms + t.ms, requests: sum.requests + t.requests }), {
        ms: 0,
        requests: 0,
      });
      return {
        wallMs,
        standInMs: standIn.ms,
        requests: standIn.requests,
        keyVault: difference(before.keyVault, counts(keyVault.counters)),
        maskinporten: difference(before.maskinporten, counts(maskinporten.counters)),
      };
    };
    // Past the renewal point (half the lifetime by default) but well before expiry.
    const advance = () => {
      offsetMs += TOKEN_LIFETIME_SECONDS * 600;
    };

    const first = await renewOnce();
    const runs: RenewalRun[] = [];
    for (let i = 0; i < options.renewals; i++) {
      advance();
      runs.push(await renewOnce());
    }
    const sum = (pick: (run: RenewalRun) => Record<string, number>) => {
      const total: Record<string, number> = {};
      for (const run of runs) for (const [key, value] of Object.entries(pick(run))) total[key] = (total[key] ?? 0) + value;
      return Object.fromEntries(Object.entries(total).map(([key, value]) => [key, value / runs.length]));
    };
    return {
      renewals: runs.length,
      first: { keyVault: first.keyVault, maskinporten: first.maskinporten },
      perRenewal: { keyVault: sum((r) => r.keyVault), maskinporten: sum((r) => r.maskinporten) },
      wallMs: median(runs.map((r) => r.wallMs)),
      standInMs: median(runs.map((r) => r.standInMs)),
      ratio: median(runs.map((r) => r.wallMs / r.standInMs)),
      requestsPerRenewal: median(runs.map((r) => r.requests)),
    };
  } finally {
    timing.stop();
    await Promise.all([keyVault.close(), maskinporten.close()]);
  }
}

interface RenewalRun {
  wallMs: number;
  standInMs: number;
  requests: number;
  keyVault: Record<string, number>;
  maskinporten: Record<string, number>;
}

/** The stand-ins' counter snapshots as plain records, so two can be subtracted. */
function counts(counters: object): Record<string, number> {
  return { ...(counters as Record<string, number>) };
}

function difference(before: Readonly<Record<string, number>>, after: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.keys(after).map((key) => [key, (after[key] ?? 0) - (before[key] ?? 0)]));
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
