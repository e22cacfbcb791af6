/**
 * Rotation with overlap, as the signer sees it: which Key Vault key version to sign with. A new
 * version is used only once its kid has been registered for the propagation window (Digdir: 0-2
 * minutes until Maskinporten knows it); until then the previous registered version signs. State is
 * what the syncs of this process saw; the kids themselves (`<base>.<version>`) name the versions, so
 * a restarted broker finds the previous version to sign with from the registration alone, and each
 * key's `exp` (one year after its post) dates the registration.
 */
import { REGISTRATION_LIFETIME_MS, keyIdWithVersion, versionedKid, versionOfKeyId, versionOfKid } from "./registered-keys.js";

export interface KeyChoice {
  /** Given the newest key id Key Vault has, the key id to sign with and the kid that names it. */
  choose(latestKeyId: string): { keyId: string; kid: string };
}

export interface ObservedKey {
  kid: string;
  /** Digdir's `exp` for the key, when given: the post was a year before. */
  expiresAt?: Date;
}

export interface RotationState extends KeyChoice {
  /** Told by every sync: the keys registered on the client now. */
  observe(registered: readonly ObservedKey[], nowMs: number): void;
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
  /** kid → when it was registered, as far as we can tell (its post, or when we first saw it). */
  const registeredAt = new Map<string, number>();
  const lastUsed = new Map<string, number>();
  const firstSeen = new Map<string, number>();
  let chosenKid: string | undefined;
  let known = false;

  const propagated = (kid: string, at: number) => {
    const since = registeredAt.get(kid);
    return since !== undefined && at - since >= propagationMs;
  };
  const use = (keyId: string, kid: string, at: number) => {
    lastUsed.set(kid, at);
    chosenKid = kid;
    return { keyId, kid };
  };

  return {
    get known() {
      return known;
    },
    observe(registered, nowMs) {
      known = true;
      const kids = registered.map((key) => key.kid);
      for (const key of registered) {
        if (!registeredAt.has(key.kid)) {
          const posted = key.expiresAt ? key.expiresAt.getTime() - REGISTRATION_LIFETIME_MS : nowMs;
          registeredAt.set(key.kid, Math.min(posted, nowMs));
        }
        if (!firstSeen.has(key.kid)) firstSeen.set(key.kid, nowMs);
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
      // A key id without a version: sign as without registration (SIGNING_KID).
      if (!latestVersion) return use(latestKeyId, baseKid, at);
      const latestKid = versionedKid(baseKid, latestVersion);
      // Nothing synced yet in this process: the newest version is registered in the steady state.
      if (!known || propagated(latestKid, at)) return use(latestKeyId, latestKid, at);
      // Our other versions: the newest that Maskinporten knows by now, else (dates unknown after a
      // restart: a re-post moves every key's exp) the newest still registered, as it was posted first.
      const others = [...registeredAt]
        .map(([kid, since]) => ({ kid, since, version: versionOfKid(baseKid, kid) }))
        .filter((key): key is { kid: string; since: number; version: string } => key.version !== undefined && key.kid !== latestKid)
        .sort((a, b) => b.since - a.since);
      const other = others.find((key) => propagated(key.kid, at)) ?? others[0];
      if (other) return use(keyIdWithVersion(latestKeyId, other.version), other.kid, at);
      // Nothing else of ours: a key registered by hand under SIGNING_KID, else our newest.
      if (registeredAt.has(baseKid) || !registeredAt.has(latestKid)) return use(latestKeyId, baseKid, at);
      return use(latestKeyId, latestKid, at);
    },
  };
}
