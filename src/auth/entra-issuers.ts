/**
 * Where an Entra tenant's tokens come from. Pure: no I/O. The authority host is
 * `https://login.microsoftonline.com` in Azure's public cloud, and the Entra stand-in's own base
 * URL in the sandbox, so every URL below derives from it.
 */
export const PUBLIC_CLOUD_AUTHORITY_HOST = "https://login.microsoftonline.com";

// The GUID rule lives with the other value rules (shared with the broker's config).
export { isGuid } from "../rules.js";

export function normaliseAuthorityHost(authorityHost: string): string {
  return authorityHost.replace(/\/+$/, "");
}

/** v2.0 tokens: `{authorityHost}/{tenantId}/v2.0`, as in the tenant's v2.0 OIDC metadata. */
export function entraV2Issuer(authorityHost: string, tenantId: string): string {
  return `${normaliseAuthorityHost(authorityHost)}/${tenantId}/v2.0`;
}

/**
 * v1.0 tokens: in the public cloud `https://sts.windows.net/{tid}/`, a different host from the
 * authority. Elsewhere (sovereign clouds, the stand-in) the STS host differs per cloud, so we use
 * `{authorityHost}/{tid}/` unless the caller names the issuer: a guess we can test, never a wildcard.
 */
export function entraV1Issuer(authorityHost: string, tenantId: string): string {
  const host = normaliseAuthorityHost(authorityHost);
  return host === PUBLIC_CLOUD_AUTHORITY_HOST ? `https://sts.windows.net/${tenantId}/` : `${host}/${tenantId}/`;
}

/** The tenant's signing keys (the same keys sign v1 and v2 tokens). */
export function entraJwksUri(authorityHost: string, tenantId: string): string {
  return `${normaliseAuthorityHost(authorityHost)}/${tenantId}/discovery/v2.0/keys`;
}
