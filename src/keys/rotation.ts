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
  /**
   * The last moment a grant may have been signed with `kid`: now while it is the one chosen, else
   * its last use or, when unused in this process, when this process first saw it registered (a
   * previous process may have signed with it until then). Undefined when the kid is unknown.
   */
  lastInUse(kid: string, nowMs: number): number | undefined;
  /** Whether a sync has told us anything yet. */
  readonly known: boolean;
}

export function createRotationState(options: { baseKid: string; propagationMs: number; now: () => number }): RotationState {
  const { baseKid, propagationMs, now } = options;
  /** kid → when we first saw it registered. */
  const registeredAt = new Map<string, number>();
  const lastUsed = new Map<string, number>();
  const firstSeen = new Map<string, number>();
  let chosenKid: string | undefined;
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
      for (const kid of kids) {
        if (!registeredAt.has(kid)) registeredAt.set(kid, nowMs);
        if (!firstSeen.has(kid)) firstSeen.set(kid, nowMs);
      }
      for (const kid of [...registeredAt.keys()]) if (!kids.includes(kid)) registeredAt.delete(kid);
    },
    lastInUse(kid, nowMs) {
      if (kid === chosenKid) return nowMs;
      const used = lastUsed.get(kid);
      const seen = firstSeen.get(kid);
      if (used === undefined && seen === undefined) return undefined;
      return Math.max(used ?? -Infinity, seen ?? -Infinity);
    },
    choose(latestKeyId) {
      const at = now();
      const latestVersion = versionOfKeyId(latestKeyId);
      const use = (keyId: string, kid: string) => {
        lastUsed.set(kid, at);
        chosenKid = kid;
        return { keyId, kid };
      };
      // A pinned or odd key id, or nothing synced yet: sign as without registration (SIGNING_KID).
      if (!latestVersion || !known) return use(latestKeyId, baseKid);
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
      return use(latestKeyId, baseKid);
    },
  };
}
