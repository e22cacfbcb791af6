/**
 * Renewal for profiles with an Altinn exchange: a new Maskinporten token is exchanged at once, and
 * the Altinn token (with its own expiry) is what the profile holds, stores and serves. Keeps the
 * Altinn stage's own status for health, apart from the profile's overall one.
 */
import type { TokenProfile } from "../config/domain.js";
import { errorLogFields } from "../errors.js";
import type { AltinnStageStatus } from "../http/broker-port.js";
import { profileFingerprint } from "../grant/fingerprint.js";
import type { StoredToken } from "../token-store/stored-token.js";
import { AltinnExchangeError } from "./errors.js";
import type { AltinnExchange } from "./exchange.js";

export type { AltinnStageStatus };

export interface AltinnIssuing {
  issue(profile: TokenProfile): Promise<StoredToken>;
  /** The Altinn stage of a profile, or undefined when it has no exchange. */
  status(profile: TokenProfile): AltinnStageStatus | undefined;
}

/**
 * A Maskinporten token whose exchange failed is tried again at the next renewal while it has at
 * least this long left: an Altinn outage then costs no extra Maskinporten requests. Altinn checks
 * its lifetime with 10 s of clock skew; a minute leaves room for the request itself.
 */
export const REUSE_MASKINPORTEN_MIN_REMAINING_MS = 60_000;

export function withAltinnExchange(
  issueMaskinporten: (profile: TokenProfile) => Promise<StoredToken>,
  exchange: AltinnExchange,
  now: () => number = Date.now,
): AltinnIssuing {
  const stages = new Map<string, AltinnStageStatus>();
  // Keyed by the grant's fingerprint, not the profile name: a per-customer profile issues one
  // Maskinporten token per customer under the same name, and one customer's token must never be
  // exchanged for another's.
  const unexchanged = new Map<string, StoredToken>();

  const stageOf = (profile: TokenProfile): AltinnStageStatus | undefined => {
    if (!profile.altinn) return undefined;
    let stage = stages.get(profile.name);
    if (!stage) {
      stage = { exchange: profile.altinn.url, testOrg: profile.altinn.testOrg, consecutiveFailures: 0 };
      stages.set(profile.name, stage);
    }
    return stage;
  };

  return {
    async issue(profile) {
      const target = profile.altinn;
      if (!target) return issueMaskinporten(profile);
      const stage = stageOf(profile)!;
      const grant = profileFingerprint(profile);
      const kept = unexchanged.get(grant);
      const maskinporten =
        kept && kept.expiresAt.getTime() - now() >= REUSE_MASKINPORTEN_MIN_REMAINING_MS ? kept : await issueMaskinporten(profile);
      unexchanged.delete(grant);
      try {
        const altinn = await exchange(target, maskinporten.accessToken);
        stage.lastExchangeAt = new Date(now());
        stage.tokenExpiresAt = altinn.expiresAt;
        stage.consecutiveFailures = 0;
        delete stage.lastError;
        return {
          accessToken: altinn.accessToken,
          tokenType: "Bearer",
          scope: maskinporten.scope,
          issuedAt: altinn.issuedAt,
          expiresAt: altinn.expiresAt,
          altinn: target.url,
          // The profile's fingerprint covers the exchange target: see grantShapeOf.
          fingerprint: profileFingerprint(profile),
        };
      } catch (error) {
        // A refused token (4xx) will be refused again: only a transient failure keeps it for a retry.
        if (error instanceof AltinnExchangeError && error.transient) unexchanged.set(grant, maskinporten);
        stage.consecutiveFailures++;
        stage.lastError = { at: new Date(now()), ...errorLogFields(error) };
        throw error;
      }
    },
    status: stageOf,
  };
}
