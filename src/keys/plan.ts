/**
 * The pure core of key registration: from the set registered on a client, the key the profile signs
 * with now and the clock, the set to post, or nothing. The whole set is replaced on every write
 * (Digdir), so the plan always lists every key that must survive.
 */
import { MAX_REGISTERED_KEYS, postableJwk, versionOfKid, type PublicJwk, type RegisteredKey } from "./registered-keys.js";

export interface RegistrationPlanInput {
  registered: readonly RegisteredKey[];
  /** The newest Key Vault key version's public JWK, with its versioned kid. */
  current: PublicJwk;
  /** The profile's SIGNING_KID: kids `<base>.<version>` are the broker's own, anything else is foreign. */
  baseKid: string;
  /**
   * For each of our older kids, the last moment a grant may have been signed with it (now, when it
   * still signs). A kid missing here is kept: the broker cannot tell it is unused.
   */
  lastInUse: ReadonlyMap<string, number>;
  nowMs: number;
  /** Re-post when a key we need expires within this. */
  renewBeforeMs: number;
  /** How long an old key of ours stays after signing moved on: propagation + grant + token lifetime. */
  retireAfterMs: number;
  /** Drop keys the broker did not add (KEY_REGISTRATION_REPLACE_FOREIGN=true). */
  replaceForeign: boolean;
}

export type KeyRole = "current" | "previous" | "foreign";

export interface RegistrationView {
  kid: string;
  role: KeyRole;
  expiresAt?: Date;
}

export type RegistrationPlan =
  | { action: "none"; view: RegistrationView[] }
  | { action: "post"; keys: PublicJwk[]; reasons: string[]; view: RegistrationView[] }
  | { action: "refuse"; problem: string; view: RegistrationView[] };

export function planRegistration(input: RegistrationPlanInput): RegistrationPlan {
  const { nowMs, baseKid, current } = input;
  const reasons: string[] = [];
  const view: RegistrationView[] = input.registered.map((key) => ({
    kid: key.jwk.kid,
    role: key.jwk.kid === current.kid ? "current" : versionOfKid(baseKid, key.jwk.kid) ? "previous" : "foreign",
    ...(key.expiresAt ? { expiresAt: key.expiresAt } : {}),
  }));

  const kept: PublicJwk[] = [];
  let changed = false;
  const registeredCurrent = input.registered.find((key) => key.jwk.kid === current.kid);
  for (const key of input.registered) {
    const kid = key.jwk.kid;
    if (kid === current.kid) continue;
    const expired = key.expiresAt !== undefined && key.expiresAt.getTime() <= nowMs;
    if (expired) {
      // Already dead at Digdir: re-posting would bring it back to life for a year.
      reasons.push(`drops ${kid}: its registration expired`);
      changed = true;
      continue;
    }
    if (versionOfKid(baseKid, kid)) {
      const lastInUse = input.lastInUse.get(kid);
      const retired = lastInUse !== undefined && nowMs - lastInUse >= input.retireAfterMs;
      if (retired) {
        reasons.push(`drops ${kid}: superseded by ${current.kid}, and no token signed with it can still be in use`);
        changed = true;
        continue;
      }
      kept.push(postableJwk(key.jwk));
      continue;
    }
    if (input.replaceForeign) {
      reasons.push(`drops ${kid}: not added by the broker, and KEY_REGISTRATION_REPLACE_FOREIGN=true`);
      changed = true;
      continue;
    }
    kept.push(postableJwk(key.jwk));
  }

  if (!registeredCurrent) {
    reasons.push(`registers ${current.kid}`);
    changed = true;
  } else if (!sameKey(registeredCurrent.jwk, current)) {
    reasons.push(`replaces ${current.kid}: the registered key differs from Key Vault's`);
    changed = true;
  } else if (registeredCurrent.expiresAt === undefined) {
    reasons.push(`re-posts ${current.kid}: Digdir's answer says nothing of its expiry`);
    changed = true;
  } else if (registeredCurrent.expiresAt.getTime() - nowMs <= input.renewBeforeMs) {
    reasons.push(`re-posts ${current.kid}: its registration expires ${registeredCurrent.expiresAt.toISOString()}`);
    changed = true;
  }
  // A previous key of ours still signing (overlap) must not lapse either: re-posting renews it too.
  for (const key of input.registered) {
    if (key.jwk.kid === current.kid || !versionOfKid(baseKid, key.jwk.kid) || !kept.some((k) => k.kid === key.jwk.kid)) continue;
    if (key.expiresAt !== undefined && key.expiresAt.getTime() - nowMs <= input.renewBeforeMs && !changed) {
      reasons.push(`re-posts: ${key.jwk.kid} still signs and expires ${key.expiresAt.toISOString()}`);
      changed = true;
    }
  }
  if (!changed) return { action: "none", view };

  const keys = [postableJwk(current), ...kept];
  if (keys.length > MAX_REGISTERED_KEYS) {
    const foreign = kept.filter((k) => !versionOfKid(baseKid, k.kid)).length;
    return {
      action: "refuse",
      problem:
        `the client would hold ${keys.length} keys and Digdir allows ${MAX_REGISTERED_KEYS}; ${foreign} of them were not added by the broker: ` +
        "remove some in Samarbeidsportalen, or set KEY_REGISTRATION_REPLACE_FOREIGN=true to let the broker replace them",
      view,
    };
  }
  return { action: "post", keys, reasons, view };
}

function sameKey(a: PublicJwk, b: PublicJwk): boolean {
  return a.kty === b.kty && a.n === b.n && a.e === b.e;
}
