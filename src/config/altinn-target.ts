/**
 * Where a Maskinporten token is exchanged for an Altinn 3 token, from settings. Pure: the broker's
 * config and the CLI both use it. Facts (Altinn's authentication API and its .NET client,
 * Altinn.ApiClients.Maskinporten): `GET <platform>/authentication/api/v1/exchange/maskinporten`
 * with the Maskinporten token as bearer; `?test=true` maps Digdir's own token to the TTD test
 * organisation; platform.tt02.altinn.no trusts Maskinporten's test issuer, platform.altinn.no the
 * production one.
 */
import { parseBooleanText } from "../rules.js";
import type { AltinnExchangeTarget } from "./domain.js";
import { isLoopbackUrl, MASKINPORTEN_ISSUERS } from "./environments.js";

export const ALTINN_EXCHANGE_PATH = "/authentication/api/v1/exchange/maskinporten";

export const ALTINN_PLATFORMS = {
  tt02: "https://platform.tt02.altinn.no",
  prod: "https://platform.altinn.no",
} as const;
export type AltinnEnvironment = keyof typeof ALTINN_PLATFORMS;

/** Which Maskinporten issuer an Altinn platform host accepts tokens from, when we know it. */
const ISSUER_OF_HOST: ReadonlyArray<readonly [(host: string) => boolean, string, string]> = [
  [(h) => h === "platform.altinn.no", MASKINPORTEN_ISSUERS.prod, "prod"],
  [(h) => h === "platform.tt02.altinn.no", MASKINPORTEN_ISSUERS.test, "tt02"],
  // Altinn's own test environments (at21-at24, yt01) sit behind Maskinporten test as well.
  [(h) => h.endsWith(".altinn.cloud"), MASKINPORTEN_ISSUERS.test, "an Altinn test environment"],
];

/**
 * `tt02`, `prod` or a platform base URL (or the exchange URL itself) → the exchange endpoint.
 * `issuer` is the profile's Maskinporten issuer: an Altinn environment only accepts tokens from its
 * own Maskinporten environment, so a mismatch is refused here rather than as a 401 at every renewal.
 */
export function resolveAltinnExchange(
  value: string,
  testOrg: boolean,
  issuer: string | undefined,
): { target: AltinnExchangeTarget } | { problem: string } {
  const trimmed = value.trim();
  const expected = `expected "tt02", "prod" or an Altinn platform base URL such as ${ALTINN_PLATFORMS.tt02}`;
  const named = ALTINN_PLATFORMS[trimmed.toLowerCase() as AltinnEnvironment];
  let url: URL;
  try {
    url = new URL(named ?? trimmed);
  } catch {
    return { problem: `"${trimmed}" is not valid; ${expected}` };
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopbackUrl(url))) {
    return { problem: `${url.origin} must use https (plain http is only allowed to 127.0.0.1/localhost stand-ins)` };
  }
  if (url.username || url.password || url.search || url.hash) {
    // Only the origin is quoted: the rest may hold credentials.
    return { problem: `the URL for ${url.origin} must be a base URL without credentials, query or fragment; ${expected}` };
  }
  const known = ISSUER_OF_HOST.find(([matches]) => matches(url.hostname.toLowerCase()));
  if (known && issuer !== undefined && issuer !== known[1]) {
    const [, wanted, name] = known;
    return {
      problem: `${url.origin} (${name}) only accepts tokens from Maskinporten ${wanted}, but this profile's Maskinporten issuer is ${issuer}; use tt02 with test and prod with prod`,
    };
  }
  const base = url.pathname.replace(/\/+$/, "");
  const path = base.endsWith(ALTINN_EXCHANGE_PATH) ? base : `${base}${ALTINN_EXCHANGE_PATH}`;
  return { target: { url: `${url.origin}${path}${testOrg ? "?test=true" : ""}`, testOrg } };
}

/**
 * The two Altinn settings of one token source (a broker profile or the CLI's properties), with the
 * caller's own names for them. Problems go to `problem`; returns the target when both are valid.
 */
export function parseAltinnSettings(
  read: (name: string) => string | undefined,
  problem: (setting: string, message: string) => void,
  names: { exchange: string; testOrg: string },
  issuer: string | undefined,
): AltinnExchangeTarget | undefined {
  const exchange = read(names.exchange);
  const testOrgText = read(names.testOrg);
  const testOrg = testOrgText === undefined ? false : parseBooleanText(testOrgText);
  if (testOrg === undefined) problem(names.testOrg, `"${testOrgText}" is not true or false`);
  if (exchange === undefined) {
    if (testOrg)
      problem(names.testOrg, `only means something with ${names.exchange}; set ${names.exchange}=tt02 (or prod, or a platform URL)`);
    return undefined;
  }
  const resolved = resolveAltinnExchange(exchange, testOrg ?? false, issuer);
  if ("problem" in resolved) {
    problem(names.exchange, resolved.problem);
    return undefined;
  }
  return testOrg === undefined ? undefined : resolved.target;
}
