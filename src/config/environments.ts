/**
 * Maskinporten environments and issuer checks, shared by the broker's config and the CLI.
 * Issuers are compared exactly, never normalised: Maskinporten's end with a slash, Skyporten's
 * do not (Digdir: "Maskinporten har trailing slash i issuer, men dette er pt ikke tilfelle i
 * Skyporten"), and the grant's `aud` must be the issuer to the character.
 */
import { isHttpsOrLoopback, parseUrl } from "../rules.js";

export { isLoopbackUrl } from "../rules.js";

export const MASKINPORTEN_ISSUERS = {
  test: "https://test.maskinporten.no/",
  prod: "https://maskinporten.no/",
  "skyporten-test": "https://test.sky.maskinporten.no",
  skyporten: "https://sky.maskinporten.no",
} as const;
export type MaskinportenEnvironment = keyof typeof MASKINPORTEN_ISSUERS;
export const ENVIRONMENT_NAMES = Object.keys(MASKINPORTEN_ISSUERS) as MaskinportenEnvironment[];
const ENVIRONMENTS_EXPECTED = `${ENVIRONMENT_NAMES.map((name) => `"${name}"`).join(", ")} or an issuer URL`;

/** Skyporten publishes OpenID metadata only; Maskinporten documents the RFC 8414 document. */
const SKYPORTEN_ISSUERS = new Set<string>([MASKINPORTEN_ISSUERS["skyporten-test"], MASKINPORTEN_ISSUERS.skyporten]);

/** Where the issuer's metadata (issuer, token_endpoint) is published. */
export function metadataUrlOf(issuer: string): string {
  if (SKYPORTEN_ISSUERS.has(issuer)) return `${issuer}/.well-known/openid-configuration`;
  return `${issuer.endsWith("/") ? issuer : `${issuer}/`}.well-known/oauth-authorization-server`;
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
  const replacement = isTestLike ? "test" : "prod";
  return (
    `names a retired Maskinporten host (*.difi.no, ver1/ver2); use ${replacement} (${MASKINPORTEN_ISSUERS[replacement]})` +
    ` (test: ${MASKINPORTEN_ISSUERS.test}, prod: ${MASKINPORTEN_ISSUERS.prod})`
  );
}

/** Problem with a URL the client will call (issuer, token endpoint), or undefined. Never quotes the value. */
export function maskinportenUrlProblem(value: string): string | undefined {
  const url = parseUrl(value);
  if (!url) return "is not an absolute URL";
  const retired = retiredHostProblem(url);
  if (retired) return retired;
  if (!isHttpsOrLoopback(url)) return "must use https (plain http is only allowed to 127.0.0.1/localhost stand-ins)";
  return undefined;
}

/**
 * An environment name or an explicit issuer URL → the issuer, exactly as it goes into `aud`.
 * A known issuer typed with or without the slash it does not have is refused with the right one
 * named, rather than silently "fixed": the fix would be wrong for one of Maskinporten/Skyporten.
 */
export function resolveIssuer(value: string): { issuer: string } | { problem: string } {
  const trimmed = value.trim();
  const named = MASKINPORTEN_ISSUERS[trimmed.toLowerCase() as MaskinportenEnvironment];
  if (named) return { issuer: named };
  const problem = maskinportenUrlProblem(trimmed);
  if (problem) return { problem: `${problem}; expected ${ENVIRONMENTS_EXPECTED}` };
  for (const [name, issuer] of Object.entries(MASKINPORTEN_ISSUERS)) {
    if (trimmed !== issuer && trimmed.replace(/\/$/, "") === issuer.replace(/\/$/, "")) {
      return {
        problem: `differs from the ${name} issuer only by the trailing slash; issuers are compared exactly: use "${name}" (${issuer})`,
      };
    }
  }
  return { issuer: trimmed };
}

/** Environment names, for messages. */
export function environmentsExpected(): string {
  return ENVIRONMENTS_EXPECTED;
}
