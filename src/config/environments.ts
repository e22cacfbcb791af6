/**
 * Maskinporten environments and issuer checks, shared by the broker's config and the CLI.
 */
export const MASKINPORTEN_ISSUERS = {
  test: "https://test.maskinporten.no/",
  prod: "https://maskinporten.no/",
} as const;
export type MaskinportenEnvironment = keyof typeof MASKINPORTEN_ISSUERS;

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** Plain HTTP is only acceptable to a stand-in on this machine. */
export function isLoopbackUrl(url: URL): boolean {
  return LOOPBACK_HOSTS.has(url.hostname);
}

/**
 * Says why a Maskinporten URL must not be used, or undefined when it is fine. The seed tool's
 * `oidc-ver1.difi.no` / `ver2.maskinporten.no` style hosts were switched off by Digdir.
 */
export function retiredHostProblem(url: URL): string | undefined {
  const host = url.hostname.toLowerCase();
  const retired = host.endsWith(".difi.no") || host === "difi.no" || /^ver\d\.maskinporten\.no$/.test(host);
  if (!retired) return undefined;
  const isTestLike = /ver\d|test/.test(host);
  const replacement = isTestLike ? MASKINPORTEN_ISSUERS.test : MASKINPORTEN_ISSUERS.prod;
  return (
    `${url.origin} is a retired Maskinporten host; use ${replacement}` +
    ` (test: ${MASKINPORTEN_ISSUERS.test}, prod: ${MASKINPORTEN_ISSUERS.prod})`
  );
}

/** Problem with a URL the client will call (issuer, token endpoint), or undefined. */
export function maskinportenUrlProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `"${value}" is not an absolute URL`;
  }
  const retired = retiredHostProblem(url);
  if (retired) return retired;
  if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopbackUrl(url))) {
    return `${url.origin} must use https (plain http is only allowed to 127.0.0.1/localhost stand-ins)`;
  }
  return undefined;
}

/**
 * `test`, `prod` or an explicit issuer URL → the issuer, exactly as Maskinporten puts it in `aud`.
 */
export function resolveIssuer(value: string): { issuer: string } | { problem: string } {
  const trimmed = value.trim();
  const named = MASKINPORTEN_ISSUERS[trimmed.toLowerCase() as MaskinportenEnvironment];
  if (named) return { issuer: named };
  const problem = maskinportenUrlProblem(trimmed);
  if (problem) return { problem: `${problem}; expected "test", "prod" or an issuer URL` };
  // Issuers are compared exactly; the documented ones end with a slash, so keep what was given
  // but add the slash to a bare origin, which is what users mean by "https://maskinporten.no".
  const url = new URL(trimmed);
  return { issuer: url.pathname === "/" && !trimmed.endsWith("/") ? `${trimmed}/` : trimmed };
}
