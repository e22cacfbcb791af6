/**
 * The token secret contract (README "Contracts"): value = the access token as issued; contentType
 * `application/jwt` for a JWT else `text/plain`; `expires` = token expiry, `notBefore` = issue
 * time; tags profile, scope, expires_at, issued_at, token_type, fingerprint, and `altinn` (the
 * exchange URL) for an Altinn 3 token. Pure: no SDK types here.
 */

/** A token as the token endpoint issued it, before the broker stores it (the Maskinporten client produces it). */
export interface IssuedToken {
  accessToken: string;
  tokenType: string;
  /** Seconds, as Maskinporten said. */
  expiresIn: number;
  scope: string;
  /** When we received it (our clock). */
  issuedAt: Date;
  expiresAt: Date;
  /** The response body as Maskinporten sent it (the CLI prints it whole, as the seed tool did). */
  raw: Record<string, unknown>;
}

export interface StoredToken {
  accessToken: string;
  tokenType: string;
  scope: string;
  issuedAt: Date;
  expiresAt: Date;
  /** An Altinn 3 token: the exchange URL it came from (secret tag `altinn`). Absent: a Maskinporten token. */
  altinn?: string;
  /**
   * Which grant-shaping settings the token was issued for (src/grant/fingerprint.ts); "" for a
   * stored token without the tag (written before fingerprints existed), which matches nothing.
   */
  fingerprint: string;
}

export interface SecretShape {
  value: string;
  contentType: string;
  notBefore: Date;
  expiresOn: Date;
  tags: Record<string, string>;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export function storedTokenFrom(token: IssuedToken, fingerprint: string): StoredToken {
  return {
    accessToken: token.accessToken,
    tokenType: token.tokenType,
    scope: token.scope,
    issuedAt: token.issuedAt,
    expiresAt: token.expiresAt,
    fingerprint,
  };
}

/**
 * The store's never-regress rule: `candidate` may replace `current` unless `current` was issued for
 * the same settings and expires no earlier. A token for other settings is always replaced.
 */
export function mayReplace(current: StoredToken | undefined, candidate: StoredToken): boolean {
  return !current || current.fingerprint !== candidate.fingerprint || current.expiresAt < candidate.expiresAt;
}

export function toSecret(profile: string, token: StoredToken): SecretShape {
  return {
    value: token.accessToken,
    // The shape decides the content type only; the token is never decoded.
    contentType: JWT_SHAPE.test(token.accessToken) ? "application/jwt" : "text/plain",
    notBefore: token.issuedAt,
    expiresOn: token.expiresAt,
    tags: {
      profile,
      scope: token.scope,
      expires_at: token.expiresAt.toISOString(),
      issued_at: token.issuedAt.toISOString(),
      token_type: token.tokenType,
      ...(token.altinn !== undefined ? { altinn: token.altinn } : {}),
      fingerprint: token.fingerprint,
    },
  };
}

/**
 * Reads a secret written by toSecret. Anything else (a placeholder, a hand-made secret, another
 * profile's token) is treated as no token rather than served.
 */
export function fromSecret(profile: string, secret: { value?: string; tags?: Record<string, string> }): StoredToken | undefined {
  const tags = secret.tags ?? {};
  if (!secret.value || tags.profile !== profile) return undefined;
  const expiresAt = parseTime(tags.expires_at);
  const issuedAt = parseTime(tags.issued_at);
  if (!expiresAt || !issuedAt || expiresAt <= issuedAt) return undefined;
  return {
    accessToken: secret.value,
    tokenType: tags.token_type || "Bearer",
    scope: tags.scope ?? "",
    issuedAt,
    expiresAt,
    ...(tags.altinn ? { altinn: tags.altinn } : {}),
    fingerprint: tags.fingerprint ?? "",
  };
}

function parseTime(value: string | undefined): Date | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}
