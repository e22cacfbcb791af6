/**
 * The key set registered on a Maskinporten client, as Digdir's self-service API shows it at
 * `/api/v1/clients/{client_id}/jwks`. Pure: parsing and the one-year rule, no I/O.
 *
 * What we know of the answer (Digdir's docs show only the request; the response shape comes from
 * peers' fixtures, NAV's digdirator and Oslo kommune's okdata-maskinporten-api):
 * `{"keys":[{kty,kid,use,alg,n,e,…,"exp":<epoch seconds>}],"created":"…","last_updated":"…"}`,
 * where each key's `exp` is one year after the set was posted. Not confirmed by Digdir's own text:
 * whether every key's `exp` moves on every POST (we assume so: the set is replaced whole), and
 * whether expired keys are still listed (we treat a listed key past `exp` as expired).
 */

/** Digdir keeps a posted key for one year (README "Key registration through Digdir's self-service API"). */
export const REGISTRATION_LIFETIME_MS = 365 * 86_400_000;
/** Digdir: at most 5 keys per client. */
export const MAX_REGISTERED_KEYS = 5;

/** JWK members we send back when re-posting a key; Digdir's own additions (`exp`) are left out. */
const JWK_MEMBERS = ["kty", "kid", "use", "alg", "n", "e", "x5c", "x5t", "x5t#S256", "key_ops"] as const;

export interface PublicJwk {
  kty: string;
  kid: string;
  use?: string;
  alg?: string;
  n?: string;
  e?: string;
  x5c?: string[];
  [member: string]: unknown;
}

export interface RegisteredKey {
  jwk: PublicJwk;
  /** From the key's `exp`, else the set's `last_updated`/`created` + one year; undefined when nothing says. */
  expiresAt?: Date;
}

export interface RegisteredKeySet {
  keys: RegisteredKey[];
  /** The set's `created` / `last_updated` as Digdir reports them (the registration date we record). */
  created?: Date;
  lastUpdated?: Date;
}

/** Parses the GET/POST answer. Returns a reason instead of throwing for an unexpected shape. */
export function parseRegisteredKeySet(body: unknown): RegisteredKeySet | { problem: string } {
  // An empty client: some APIs answer 200 with no body or an empty object.
  if (body === undefined || body === null) return { keys: [] };
  if (typeof body !== "object" || Array.isArray(body)) return { problem: "the answer is not a JSON object" };
  const fields = body as Record<string, unknown>;
  const created = parseDate(fields.created);
  const lastUpdated = parseDate(fields.last_updated);
  const rawKeys = fields.keys ?? [];
  if (!Array.isArray(rawKeys)) return { problem: '"keys" is not an array' };
  const keys: RegisteredKey[] = [];
  for (const [index, raw] of rawKeys.entries()) {
    if (
      typeof raw !== "object" ||
      raw === null ||
      typeof (raw as { kid?: unknown }).kid !== "string" ||
      typeof (raw as { kty?: unknown }).kty !== "string"
    ) {
      return { problem: `key ${index + 1} has no string kid and kty` };
    }
    const member = raw as Record<string, unknown>;
    const jwk: PublicJwk = { kty: member.kty as string, kid: member.kid as string };
    for (const name of JWK_MEMBERS) if (member[name] !== undefined) (jwk as Record<string, unknown>)[name] = member[name];
    const exp = typeof member.exp === "number" && Number.isFinite(member.exp) ? new Date(member.exp * 1000) : undefined;
    const since = lastUpdated ?? created;
    const expiresAt = exp ?? (since ? new Date(since.getTime() + REGISTRATION_LIFETIME_MS) : undefined);
    keys.push({ jwk, ...(expiresAt ? { expiresAt } : {}) });
  }
  return { keys, ...(created ? { created } : {}), ...(lastUpdated ? { lastUpdated } : {}) };
}

function parseDate(value: unknown): Date | undefined {
  if (typeof value !== "string") return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

/**
 * The kid the broker registers for one Key Vault key version: the profile's SIGNING_KID, a dot, the
 * version. Digdir wants kids unique across all customers and one kid per key; a new key version is a
 * new key, so it needs its own kid, and the version in it lets a restarted broker find the previous
 * version to sign with from the registration alone.
 */
export function versionedKid(baseKid: string, keyVersion: string): string {
  return `${baseKid}.${keyVersion.toLowerCase()}`;
}

/** The Key Vault key version a kid of ours names, or undefined for a kid we did not make. */
export function versionOfKid(baseKid: string, kid: string): string | undefined {
  const prefix = `${baseKid}.`;
  if (!kid.startsWith(prefix)) return undefined;
  const version = kid.slice(prefix.length);
  return /^[0-9a-f]{32}$/.test(version) ? version : undefined;
}

/** `https://v.vault.azure.net/keys/name/<version>` → the version. */
export function versionOfKeyId(keyId: string): string | undefined {
  return /\/keys\/[^/]+\/([0-9a-fA-F]{32})(?:[/?]|$)/.exec(keyId)?.[1]?.toLowerCase();
}

/** The same key id with another version. */
export function keyIdWithVersion(keyId: string, version: string): string {
  return keyId.replace(/(\/keys\/[^/]+\/)[^/?]*/, `$1${version}`);
}

/** The JWK as it goes into a POST: JOSE members only, `use: "sig"` (Digdir has required `use` since 2025). */
export function postableJwk(jwk: PublicJwk): PublicJwk {
  const out: PublicJwk = { kty: jwk.kty, kid: jwk.kid };
  for (const name of JWK_MEMBERS) if (jwk[name] !== undefined) (out as Record<string, unknown>)[name] = jwk[name];
  out.use ??= "sig";
  return out;
}
