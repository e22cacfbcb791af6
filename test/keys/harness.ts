/**
 * Stand-ins for key registration tests on one fake clock: Key Vault, Maskinporten and the
 * self-service API linked to it, a long-lived enterprise certificate chain for the admin client,
 * a plain Key Vault key the kid profile signs with, and a broker built from app settings.
 */
import { generateKeyPairSync } from "node:crypto";
import { createBroker, type Broker, type BrokerOptions } from "../../src/broker.js";
import { parseBrokerConfig } from "../../src/config/settings.js";
import type { Settings } from "../../src/config/reader.js";
import { startKeyVaultStandIn, type KeyVaultStandIn } from "../../sandbox/keyvault/index.js";
import { startMaskinportenStandIn, type MaskinportenStandIn } from "../../sandbox/maskinporten/index.js";
import { issueCertificate } from "../../sandbox/pki.js";
import { startSelfServiceStandIn, type SelfServiceStandIn } from "../../sandbox/selfservice/index.js";
import { staticCredential } from "../support/credentials.js";

export const ORG = "991825827";
export const ADMIN_CLIENT = "admin-client";
export const KID_CLIENT = "kid-client";
export const BASE_KID = "acme-kidp";
export const DAY = 86_400_000;
export const HOUR = 3_600_000;

export interface Harness {
  kv: KeyVaultStandIn;
  mp: MaskinportenStandIn;
  ss: SelfServiceStandIn;
  clock: { now(): number; advance(ms: number): void };
  /** The admin certificate's intermediate CA (standard base64 DER), for x5c. */
  chainBase64: string;
  logs: { level: string; event: string; [field: string]: unknown }[];
  /** Adds a new version of the signing key; returns its version. */
  rotateKey(): string;
  settings(extra?: Settings): Settings;
  /** Broker options besides config (credential, stand-in trust, clock, logger, fast retries). */
  brokerOptions(): Omit<BrokerOptions, "config">;
  broker(extra?: Settings): Broker;
  close(): Promise<void>;
}

export async function startHarness(options: { propagationMs?: number } = {}): Promise<Harness> {
  let nowMs = Date.now();
  const clock = { now: () => nowMs, advance: (ms: number) => void (nowMs += ms) };
  const start = new Date(nowMs - DAY);
  const end = new Date(nowMs + 4 * 365 * DAY);
  const root = issueCertificate({ commonName: "Long Root", isCa: true, notBefore: start, notAfter: end });
  const intermediate = issueCertificate({ commonName: "Long Class 3", isCa: true, issuer: root, notBefore: start, notAfter: end });
  const leaf = issueCertificate({
    commonName: "Org",
    organisation: "Org",
    organisationNumber: ORG,
    issuer: intermediate,
    notBefore: start,
    notAfter: end,
  });

  const [kv, mp] = await Promise.all([
    startKeyVaultStandIn({ now: clock.now }),
    startMaskinportenStandIn({ now: clock.now, trustedRoots: [root.certificateDer] }),
  ]);
  const ss = await startSelfServiceStandIn({ maskinporten: mp, now: clock.now, propagationMs: options.propagationMs ?? 60_000 });
  kv.importCertificate("virksomhetssertifikat", { privateKey: leaf.privateKey, certificateDer: leaf.certificateDer, exportable: false });
  const rotateKey = () => kv.importKey("signing-key", generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey).version;
  rotateKey();
  mp.registerClient({
    clientId: ADMIN_CLIENT,
    organisationNumber: ORG,
    scopes: ["idporten:dcr.read", "idporten:dcr.modify"],
    tokenLifetimeSeconds: 120,
  });
  mp.registerClient({
    clientId: KID_CLIENT,
    organisationNumber: ORG,
    scopes: ["skatteetaten:x"],
    tokenLifetimeSeconds: 120,
    certificates: [],
  });

  const logs: Harness["logs"] = [];
  const secret = `kidp-${Math.random().toString(36).slice(2)}`;
  const harness: Harness = {
    kv,
    mp,
    ss,
    clock,
    chainBase64: intermediate.certificateDer.toString("base64"),
    logs,
    rotateKey,
    settings(extra = {}) {
      return {
        KEY_VAULT_URL: kv.url,
        MASKINPORTEN_ENVIRONMENT: mp.issuer,
        TOKEN_PROFILES: "kidp",
        SIGNING_CERTIFICATE_NAME: "virksomhetssertifikat",
        SIGNING_CHAIN: intermediate.certificateDer.toString("base64"),
        PROFILE_KIDP_CLIENT_ID: KID_CLIENT,
        PROFILE_KIDP_SCOPES: "skatteetaten:x",
        PROFILE_KIDP_SIGNING_KEY_NAME: "signing-key",
        PROFILE_KIDP_SIGNING_KID: BASE_KID,
        PROFILE_KIDP_KEY_REGISTRATION: "self-service",
        PROFILE_KIDP_SECRET_NAME: secret,
        SELF_SERVICE_CLIENT_ID: ADMIN_CLIENT,
        SELF_SERVICE_API_URL: ss.baseUrl,
        KEY_REGISTRATION_PROPAGATION_MINUTES: "2",
        ...extra,
      };
    },
    brokerOptions() {
      return {
        credential: staticCredential(),
        keyVaultClientOptions: { disableChallengeResourceVerification: true, tlsOptions: { ca: kv.caPem } },
        now: clock.now,
        logger: { log: (level, event, fields) => logs.push({ level, event, ...fields }) },
        maskinporten: { retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 }, sleep: async () => {} },
        selfService: { timeoutMs: 5_000 },
      };
    },
    broker(extra = {}) {
      return createBroker({ config: parseBrokerConfig(harness.settings(extra)), ...harness.brokerOptions() });
    },
    async close() {
      await Promise.all([ss.close(), kv.close(), mp.close()]);
    },
  };
  return harness;
}

/** kid-client grants the Maskinporten stand-in saw, with the kid each named. */
export function kidGrants(mp: MaskinportenStandIn): { kid: unknown; outcome: string; reason?: string }[] {
  return mp.grants
    .filter((g) => g.claims?.iss === KID_CLIENT)
    .map((g) => ({ kid: g.header?.kid, outcome: g.outcome, ...(g.reason ? { reason: g.reason } : {}) }));
}
