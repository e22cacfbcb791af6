/** `maskinporten-token --help`: every key, what it means, and how failures are reported. */
import type { ClientPropertyKey } from "./client-config.js";

export const EXIT_CODES = {
  ok: 0,
  failure: 1,
  usage: 2,
  config: 3,
  keystoreOrSigning: 4,
  maskinportenRejected: 5,
  maskinportenUnavailable: 6,
  altinnRejected: 7,
  altinnUnavailable: 8,
} as const;

/** One line (or a few) per key; `--help` prints them all and a test checks none is missing. */
export const KEY_HELP: Record<ClientPropertyKey, string> = {
  issuer: "Your Maskinporten client id (the grant's iss). Required.",
  audience:
    "The Maskinporten issuer, exactly, trailing slash included (the grant's aud):\n" +
    "https://test.maskinporten.no/ or https://maskinporten.no/ (Skyporten: https://sky.maskinporten.no,\n" +
    "no slash). Required unless environment is set. Not the token endpoint URL. Retired hosts\n" +
    "(*.difi.no, ver1/ver2.maskinporten.no) are refused.",
  "token.endpoint":
    "Where to send the grant, e.g. https://test.maskinporten.no/token. Without it (and without\n" +
    "environment) only the grant is printed, as jwt-grant-generator does.",
  environment:
    "test, prod, skyporten-test, skyporten or an issuer URL. Not a jwt-grant-generator key. Supplies audience when that is\n" +
    "missing, and finds the token endpoint by metadata discovery when token.endpoint is missing.",
  scope: "Space-separated scopes to ask for. Required.",
  resource: "Audience-restricted token: the API's resource identifier (several: separate with spaces); sent as a JSON array.",
  consumer_org: "9-digit organisation number of the consumer you act for (delegation in Altinn).",
  "systemuser.org":
    "9-digit organisation number of the customer whose Altinn system user you act as (adds\n" +
    "authorization_details urn:altinn:systemuser). Not a jwt-grant-generator key.",
  "systemuser.external_ref": "The externalRef the customer's system user was created with, if any (needs systemuser.org).",
  pid: "11-digit national identity number, for the APIs that take a pid claim.",
  "keystore.file":
    "Path to the keystore with your enterprise certificate (relative to the current directory,\n" +
    "else to the properties file), or base64: followed by the keystore bytes in base64.",
  "keystore.type": "JKS (default, as in jwt-grant-generator) or PKCS12. The file's real format wins, as in Java 9+.",
  "keystore.password": "Keystore password. Used exactly as written: Java keeps trailing spaces, so do we.",
  "keystore.alias": "Alias of the key entry (case-insensitive, as in Java). May be left out when the keystore holds one key.",
  "keystore.alias.password": "Password of the key entry. Defaults to keystore.password.",
  "keystore.kid": "Put this kid in the grant header instead of the certificate (x5c): a key registered on the client.",
  "keyvault.url":
    "Sign in Azure Key Vault instead of a local keystore: the vault URL, e.g.\n" +
    "https://my-vault.vault.azure.net/. Credentials come from DefaultAzureCredential\n" +
    "(az login, environment variables, managed identity).",
  "keyvault.certificate": "Name of the certificate in Key Vault whose key signs the grant (same key as the broker).",
  "keyvault.certificate.version": "Pin a certificate version (32 hex characters); the latest otherwise.",
  "keyvault.kid": "Put this kid in the header instead of x5c when signing in Key Vault (keystore.kid also works).",
  "altinn.exchange":
    "Exchange the Maskinporten token for an Altinn 3 platform token and print it: tt02 (with\n" +
    "Maskinporten test), prod (with prod) or an Altinn platform base URL. Not a jwt-grant-generator key.",
  "altinn.test_org": "true: ask Altinn for the TTD test organisation (?test=true; Digdir's own clients only).",
};

export function helpText(): string {
  const keys = Object.entries(KEY_HELP)
    .map(
      ([key, help]) =>
        `  ${key}\n${help
          .split("\n")
          .map((line) => `      ${line}`)
          .join("\n")}`,
    )
    .join("\n");
  return `Usage: maskinporten-token <client.properties> [json]
       maskinporten-token certificate csr|status|merge|cancel …   (key made in Key Vault; certificate --help)
       maskinporten-token --help

Makes a Maskinporten JWT grant from the same client.properties that Digdir's jwt-grant-generator
reads, signs it with a local keystore (JKS or PKCS#12) or in Azure Key Vault, and exchanges it for
an access token. Java .properties syntax: # and ! comments, = or : or space separators, \\uXXXX
escapes, lines continued with a trailing backslash.

Output (stdout):
  text (default)  "Generated JWT-grant:", the grant, then "Retrieved token-response:" and the
                  token response (only when there is a token endpoint).
  json            exactly one line: {"grant":"…","token":{…}} ("token" only with a token endpoint).
  With altinn.exchange, text mode adds "Retrieved Altinn token:" and the token, and json adds
  "altinn":"<token>".

Keys:
${keys}

Failures go to stderr with the cause (for Maskinporten: error, error_description and trace id);
passwords are never printed. Transient failures (5xx, timeouts, resets) are retried with a fresh
grant each time. Exit codes:
  0 success    2 wrong command line          3 properties file or configuration problem
  1 other      4 keystore or signing problem  5 Maskinporten rejected the request (4xx)
               6 Maskinporten unavailable, unreachable or answered nonsense
               7 Altinn refused the token exchange (4xx)   8 Altinn exchange unavailable
`;
}
