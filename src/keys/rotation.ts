/**
 * Rotation with overlap, as the signer sees it: which Key Vault key version to sign with. A new
 * version is used only once its kid has been registered for the propagation window (Digdir: 0-2
 * minutes until Maskinporten knows it); until then the previous registered version signs. State is
 * what the last sync saw, in memory; after a restart the kids themselves (`<base>.<version>`) name
 * the versions, so the registration alone says which previous version to fall back to.
 */
import { keyIdWithVersion, versionedKid, versionOfKeyId, versionOfKid } from "./registered-keys.js";

export interface KeyChoice {
  /** Given the newest key id Key Vault has, the key id to sign with and the kid that names it. */
  choose(latestKeyId: string): { keyId: string; kid: string };
}

export interface RotationState extends KeyChoice {
  /** Told by every sync: the kids registered on the client now. `postedAt` for the ones just posted. */
  observe(registeredKids: readonly string[], nowMs: number): void;
  /** Since when grants have been signed with this kid (undefined: never, in this process). */
  signingSince(kid: string): number | undefined;
  /** Whether a sync has told us anything yet. */
  readonly known: boolean;
}

export function createRotationState(options: { baseKid: string; propagationMs: number; now: () => number }): RotationState {
  const { baseKid, propagationMs, now } = options;
  /** kid → when we first saw it registered. */
  const registeredAt = new Map<string, number>();
  const since = new Map<string, number>();
  let known = false;

  const propagated = (kid: string, at: number) => {
    const seen = registeredAt.get(kid);
    return seen !== undefined && at - seen >= propagationMs;
  };

  return {
    get known() {
      return known;
    },
    observe(kids, nowMs) {
      known = true;
      for (const kid of kids) if (!registeredAt.has(kid)) registeredAt.set(kid, nowMs);
      for (const kid of [...registeredAt.keys()]) if (!kids.includes(kid)) registeredAt.delete(kid);
    },
    signingSince: (kid) => since.get(kid),
    choose(latestKeyId) {
      const at = now();
      const latestVersion = versionOfKeyId(latestKeyId);
      const use = (keyId: string, kid: string) => {
        if (!since.has(kid)) since.set(kid, at);
        return { keyId, kid };
      };
      // A pinned or odd key id, or nothing synced yet: sign as without registration (SIGNING_KID).
      if (!latestVersion || !known) return { keyId: latestKeyId, kid: baseKid };
      const latestKid = versionedKid(baseKid, latestVersion);
      if (propagated(latestKid, at)) return use(latestKeyId, latestKid);
      // The newest of our other versions that Maskinporten knows by now.
      let best: { kid: string; version: string; seen: number } | undefined;
      for (const [kid, seen] of registeredAt) {
        const version = versionOfKid(baseKid, kid);
        if (!version || kid === latestKid || !propagated(kid, at)) continue;
        if (!best || seen > best.seen) best = { kid, version, seen };
      }
      if (best) return use(keyIdWithVersion(latestKeyId, best.version), best.kid);
      // Nothing of ours is usable yet: the plain SIGNING_KID (a key registered by hand, if any).
      return { keyId: latestKeyId, kid: baseKid };
    },
  };
}
