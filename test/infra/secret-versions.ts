/**
 * How many token secret versions a profile writes per day: the broker's own renewal code
 * (ProfileTokens and the renewal policy) driven through two simulated days on a virtual clock,
 * with a timer tick every `scheduleSeconds` and, optionally, a caller every `requestEverySeconds`.
 * Every stored token is one new Key Vault secret version. README.md ("How many secret versions pile up") quotes these numbers.
 */
import type { TokenProfile } from "../../src/config/domain.js";
import { profileFingerprint } from "../../src/grant/fingerprint.js";
import { silentLogger } from "../../src/logging.js";
import { DEFAULT_MIN_SERVE_REMAINING_MS } from "../../src/renewal/policy.js";
import { ProfileTokens } from "../../src/renewal/profile-tokens.js";
import type { StoredToken } from "../../src/token-store/stored-token.js";
import { MemoryTokenStore } from "../support/memory-token-store.js";

export interface VersionScenario {
  /** Token lifetime Maskinporten grants the client (expires_in). */
  lifetimeSeconds: number;
  /** RENEW_SCHEDULE interval. */
  scheduleSeconds: number;
  /** RENEW_BEFORE_EXPIRY_RATIO. */
  ratio: number;
  /** From the timer firing to Maskinporten's answer (grant signing + token request). */
  latencyMs: number;
  /** Steady traffic on GET /api/token; undefined for a broker only the timer wakes. */
  requestEverySeconds?: number;
}

const DAY_MS = 86_400_000;

const profile: TokenProfile = {
  name: "sim",
  clientId: "sim-client",
  scopes: ["sim:scope"],
  issuer: "https://test.maskinporten.no/",
  secretName: "maskinporten-sim",
  role: "Token.sim",
  signing: { kind: "certificate", certificateName: "sim", alg: "RS256", chain: [] },
};

/** Secret versions written during the second simulated day (the first one warms up). */
export async function secretVersionsPerDay(scenario: VersionScenario): Promise<number> {
  let nowMs = 0;
  const store = new MemoryTokenStore();
  const tokens = new ProfileTokens({
    profile,
    store,
    policy: { renewWhenRemainingRatio: scenario.ratio, minServeRemainingMs: DEFAULT_MIN_SERVE_REMAINING_MS },
    logger: silentLogger,
    now: () => nowMs,
    // As src/maskinporten/token-response.ts does: issued at the whole second the answer arrived.
    async issue(): Promise<StoredToken> {
      const issuedAtMs = Math.floor((nowMs + scenario.latencyMs) / 1000) * 1000;
      return {
        accessToken: `token-${issuedAtMs}`,
        tokenType: "Bearer",
        scope: "sim:scope",
        issuedAt: new Date(issuedAtMs),
        expiresAt: new Date(issuedAtMs + scenario.lifetimeSeconds * 1000),
        fingerprint: profileFingerprint(profile),
      };
    },
  });

  const events: { atMs: number; kind: "tick" | "request" }[] = [];
  for (let at = 0; at < 2 * DAY_MS; at += scenario.scheduleSeconds * 1000) events.push({ atMs: at, kind: "tick" });
  if (scenario.requestEverySeconds) {
    // Offset from the ticks so that requests find due tokens between them.
    for (let at = 1_000; at < 2 * DAY_MS; at += scenario.requestEverySeconds * 1000) events.push({ atMs: at, kind: "request" });
  }
  events.sort((a, b) => a.atMs - b.atMs);

  let writesBeforeDayTwo = 0;
  for (const event of events) {
    if (event.atMs >= DAY_MS && writesBeforeDayTwo === 0) writesBeforeDayTwo = store.writes || -1;
    nowMs = event.atMs;
    if (event.kind === "tick") await tokens.renewIfDue("timer");
    else await tokens.serve().catch(() => undefined);
    // Let a background (on-demand) renewal finish before time moves on.
    await new Promise((resolve) => setImmediate(resolve));
  }
  return store.writes - Math.max(0, writesBeforeDayTwo);
}
