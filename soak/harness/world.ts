/**
 * The broker's world for reliability tests and the soak: the three stand-ins on 127.0.0.1 (Key
 * Vault with the enterprise certificate imported non-exportable, Maskinporten, Entra ID), all on
 * one fake clock, and runtimes (config + broker + caller verifier) built exactly as in Azure,
 * only with test-only trust of the Key Vault stand-in. Several runtimes may share one world: that
 * is how several broker instances share one vault.
 */
import type { AccessToken, TokenCredential } from "@azure/identity";
import { createRuntime, type Runtime } from "../../src/app/runtime.js";
import type { KeyVaultClientOptions } from "../../src/keyvault/connection.js";
import { jsonLogger, type Logger } from "../../src/logging.js";
import { startEntraStandIn, type EntraStandIn } from "../../sandbox/entra/standin.js";
import { startKeyVaultStandIn, type KeyVaultStandIn } from "../../sandbox/keyvault/index.js";
import { startMaskinportenStandIn, type MaskinportenStandIn } from "../../sandbox/maskinporten/index.js";
import { issueEnterpriseCertificate } from "../../sandbox/pki.js";
import { FakeClock } from "./fake-clock.js";

export const ORGANISATION = "991825827";
export const CERTIFICATE_NAME = "virksomhetssertifikat";

export interface WorldProfile {
  name: string;
  clientId: string;
  scope: string;
}

export const DEFAULT_PROFILES: readonly WorldProfile[] = [
  { name: "skatt", clientId: "skatt-client", scope: "skatteetaten:testnorge" },
  { name: "sdir", clientId: "sdir-client", scope: "sdir:fartoy.read" },
];

export interface WorldOptions {
  /** Fake clock start (epoch ms); default the current time. */
  startMs?: number;
  /** Let the fake clock also run this many times faster than real time (see FakeClock). */
  realTimeFactor?: number;
  profiles?: readonly WorldProfile[];
  /** Lifetime of tokens Maskinporten issues (its client registration decides, not the grant). */
  tokenLifetimeSeconds?: number;
  /** Extra app settings (e.g. RENEW_SCHEDULE, RENEW_BEFORE_EXPIRY_RATIO). */
  settings?: Record<string, string>;
}

export interface RuntimeOverrides {
  logger?: Logger;
  /** Maskinporten client timeout (real ms: the stand-in's delays are real). */
  timeoutMs?: number;
  /** Key Vault SDK retry options (real time); default one quick retry so faults surface fast. */
  keyVaultRetry?: KeyVaultClientOptions["retryOptions"];
  minServeRemainingMs?: number;
}

export interface World {
  clock: FakeClock;
  keyVault: KeyVaultStandIn;
  maskinporten: MaskinportenStandIn;
  entra: EntraStandIn;
  profiles: readonly WorldProfile[];
  settings: Record<string, string>;
  /** One broker instance (its own memory, single-flight and caches) on the shared stand-ins. */
  runtime(overrides?: RuntimeOverrides): Runtime;
  /** A caller token from the Entra stand-in holding these app roles (valid one hour of fake time). */
  callerToken(roles: string[]): string;
  /** `Token.<profile>`, the role a caller needs (the broker's default). */
  roleOf(profile: string): string;
  secretName(profile: string): string;
  close(): Promise<void>;
}

export async function startWorld(options: WorldOptions = {}): Promise<World> {
  const clock = new FakeClock(options.startMs ?? Date.now(), { realTimeFactor: options.realTimeFactor ?? 0 });
  const profiles = options.profiles ?? DEFAULT_PROFILES;
  const pki = issueEnterpriseCertificate({ organisationNumber: ORGANISATION, organisation: "Reliability Rederi AS" });

  const [entra, maskinporten] = await Promise.all([
    startEntraStandIn({ now: clock.now }),
    startMaskinportenStandIn({ now: clock.now, trustedRoots: [pki.root.certificateDer] }),
  ]);
  const keyVault = await startKeyVaultStandIn({ now: clock.now });
  keyVault.importCertificate(CERTIFICATE_NAME, {
    privateKey: pki.leaf.privateKey,
    certificateDer: pki.leaf.certificateDer,
    exportable: false,
  });
  for (const profile of profiles) {
    maskinporten.registerClient({
      clientId: profile.clientId,
      organisationNumber: ORGANISATION,
      scopes: [profile.scope],
      tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? 120,
    });
  }

  const settings: Record<string, string> = {
    KEY_VAULT_URL: keyVault.url,
    MASKINPORTEN_ENVIRONMENT: maskinporten.issuer,
    TOKEN_PROFILES: profiles.map((p) => p.name).join(","),
    SIGNING_CERTIFICATE_NAME: CERTIFICATE_NAME,
    SIGNING_CHAIN: pki.intermediate.certificateDer.toString("base64"),
    CALLER_TENANT_ID: entra.tenantId,
    CALLER_AUDIENCES: [entra.audience, ...entra.audienceUris].join(","),
    CALLER_AUTHORITY_HOST: entra.authorityHost,
    ...Object.fromEntries(
      profiles.flatMap((p) => [
        [`PROFILE_${p.name.toUpperCase()}_CLIENT_ID`, p.clientId],
        [`PROFILE_${p.name.toUpperCase()}_SCOPES`, p.scope],
      ]),
    ),
    ...options.settings,
  };
  // The Key Vault stand-in takes any non-empty bearer; real Entra credentials are not the subject here.
  const credential = fixedCredential();

  return {
    clock,
    keyVault,
    maskinporten,
    entra,
    profiles,
    settings,
    runtime(overrides = {}) {
      return createRuntime({
        settings,
        credential,
        callerKeySetFetch: entra.fetch,
        logger: overrides.logger ?? jsonLogger(() => {}),
        now: clock.now,
        keyVaultClientOptions: {
          disableChallengeResourceVerification: true,
          tlsOptions: { ca: keyVault.caPem },
          retryOptions: overrides.keyVaultRetry ?? { maxRetries: 1, retryDelayInMs: 1, maxRetryDelayInMs: 2 },
        },
        maskinporten: { sleep: clock.sleep, random: () => 0.5, timeoutMs: overrides.timeoutMs ?? 5_000 },
        scheduler: clock,
        ...(overrides.minServeRemainingMs !== undefined ? { minServeRemainingMs: overrides.minServeRemainingMs } : {}),
      });
    },
    callerToken: (roles) => entra.mintToken({ roles }),
    roleOf: (profile) => `Token.${profile}`,
    secretName: (profile) => `maskinporten-${profile}`,
    async close() {
      await Promise.all([keyVault.close(), maskinporten.close(), entra.close()]);
    },
  };
}

function fixedCredential(): TokenCredential {
  return {
    async getToken(): Promise<AccessToken> {
      return { token: "reliability-world-vault-token", expiresOnTimestamp: Date.now() + 3_600_000, tokenType: "Bearer" };
    },
  };
}

/** Expiry of every version of a token secret, oldest first (from the `expires_at` tag the broker writes). */
export function secretExpiries(keyVault: KeyVaultStandIn, secretName: string): number[] {
  return keyVault.getSecretVersions(secretName).map((v) => Date.parse(v.tags?.expires_at ?? "") || (v.expires?.getTime() ?? NaN));
}

/** Positions where a version expires earlier than the one before it. */
export function regressions(expiries: readonly number[]): Array<{ index: number; previous: number; next: number }> {
  const found: Array<{ index: number; previous: number; next: number }> = [];
  for (let i = 1; i < expiries.length; i++) {
    if (expiries[i]! < expiries[i - 1]!) found.push({ index: i, previous: expiries[i - 1]!, next: expiries[i]! });
  }
  return found;
}
