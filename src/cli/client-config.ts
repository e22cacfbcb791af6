/**
 * `client.properties` → what the CLI will do. Pure: no file or network access. Reads the seed
 * tool's keys with the seed's meaning, plus Key Vault signing and an optional environment. Every
 * problem is collected so one run shows all of them; no message quotes a value (passwords, a pid).
 * The value rules are the broker's (src/rules.ts), so a file the CLI accepts the broker accepts too.
 */
import { BrokerError, ErrorCode } from "../errors.js";
import { environmentsExpected, maskinportenUrlProblem, resolveIssuer } from "../config/environments.js";
import {
  EXTERNAL_REF_EXPECTED,
  isExternalRef,
  KEY_VAULT_OBJECT_NAME,
  KEY_VAULT_OBJECT_NAME_EXPECTED,
  KEY_VAULT_VERSION,
  KEY_VAULT_VERSION_EXPECTED,
  NATIONAL_IDENTITY_NUMBER,
  NATIONAL_IDENTITY_NUMBER_EXPECTED,
  ORG_NUMBER,
  ORG_NUMBER_EXPECTED,
  parseUrl,
  parseVaultUrl,
} from "../rules.js";
import { KEYSTORE_TYPES, type KeystoreType } from "./keystore/keystore.js";
import { parseAltinnSettings } from "../config/altinn-target.js";
import type { AltinnExchangeTarget } from "../config/domain.js";
import type { JavaProperties } from "./properties.js";

/** Every key the CLI understands, in the order `--help` explains them. */
export const CLIENT_PROPERTY_KEYS = [
  "issuer",
  "audience",
  "token.endpoint",
  "environment",
  "scope",
  "resource",
  "consumer_org",
  "systemuser.org",
  "systemuser.external_ref",
  "pid",
  "keystore.file",
  "keystore.type",
  "keystore.password",
  "keystore.alias",
  "keystore.alias.password",
  "keystore.kid",
  "keyvault.url",
  "keyvault.certificate",
  "keyvault.certificate.version",
  "keyvault.kid",
  "altinn.exchange",
  "altinn.test_org",
] as const;
export type ClientPropertyKey = (typeof CLIENT_PROPERTY_KEYS)[number];

export type KeystoreSource = { kind: "path"; path: string } | { kind: "inline"; bytes: Buffer };

export type CliSigning =
  | {
      kind: "keystore";
      source: KeystoreSource;
      type: KeystoreType;
      /** Exactly as written: Java keeps leading/trailing whitespace in values, and so do we here. */
      storePassword: string;
      alias?: string;
      keyPassword?: string;
      kid?: string;
    }
  | { kind: "keyvault"; vaultUrl: string; certificateName: string; certificateVersion?: string; kid?: string };

export interface CliConfig {
  clientId: string;
  /** The grant's `aud`. */
  audience: string;
  /**
   * Where to send the grant: an explicit endpoint (the seed's `token.endpoint`), discovery from the
   * environment's issuer, or nowhere (the seed prints only the grant when `token.endpoint` is absent).
   */
  tokenRequest: { kind: "endpoint"; tokenEndpoint: string } | { kind: "discover"; issuer: string } | { kind: "none" };
  scopes: string[];
  /** Always a list: Maskinporten takes `resource` as a JSON array only. */
  resource?: string[];
  consumerOrg?: string;
  /** An Altinn system user: `authorization_details` of type urn:altinn:systemuser for this customer. */
  systemUser?: { org: string; externalRef?: string };
  pid?: string;
  signing: CliSigning;
  /** Exchange the Maskinporten token for an Altinn 3 token here, and print that too. */
  altinn?: AltinnExchangeTarget;
  /** Keys in the file that this tool does not know (typos, usually). */
  unknownKeys: string[];
}

/**
 * Validates the properties. Non-secret values are trimmed (Java keeps trailing blanks, which only
 * ever turns a working value into a failing one); passwords are used exactly as Java reads them.
 */
export function parseClientConfig(properties: JavaProperties, source = "client.properties"): CliConfig {
  const problems: string[] = [];
  const text = (key: ClientPropertyKey): string | undefined => {
    const value = properties.get(key)?.trim();
    return value === undefined || value === "" ? undefined : value;
  };
  const secret = (key: ClientPropertyKey): string | undefined => properties.get(key);
  const required = (key: ClientPropertyKey, what: string): string | undefined => {
    const value = text(key);
    if (value === undefined) problems.push(`${key} is missing (${what})`);
    return value;
  };

  const clientId = required("issuer", "your Maskinporten client id");
  const scopeText = required("scope", "space-separated scopes");
  const scopes = scopeText ? scopeText.split(/\s+/) : [];

  const { audience, tokenRequest } = parseEndpoints(text, problems);

  const resource = text("resource")?.split(/\s+/);
  if (resource?.some((r) => parseUrl(r) === undefined))
    problems.push("resource must be absolute URIs (space-separated), e.g. https://api.example.no");

  const consumerOrg = text("consumer_org");
  if (consumerOrg !== undefined && !ORG_NUMBER.test(consumerOrg)) problems.push(`consumer_org must be ${ORG_NUMBER_EXPECTED}`);
  const systemUserOrg = text("systemuser.org");
  const externalRef = text("systemuser.external_ref");
  if (systemUserOrg !== undefined && !ORG_NUMBER.test(systemUserOrg)) problems.push(`systemuser.org must be ${ORG_NUMBER_EXPECTED}`);
  if (externalRef !== undefined && systemUserOrg === undefined) problems.push("systemuser.external_ref needs systemuser.org");
  if (externalRef !== undefined && !isExternalRef(externalRef)) {
    problems.push(`systemuser.external_ref must be ${EXTERNAL_REF_EXPECTED}`);
  }
  if (systemUserOrg !== undefined && consumerOrg !== undefined) {
    problems.push(
      "consumer_org and systemuser.org name the customer two ways; use one (consumer_org for a delegation, systemuser.org for an Altinn system user)",
    );
  }
  const pid = text("pid");
  if (pid !== undefined && !NATIONAL_IDENTITY_NUMBER.test(pid)) problems.push(`pid must be ${NATIONAL_IDENTITY_NUMBER_EXPECTED}`);

  const signing = parseSigning(text, secret, problems);
  const altinn = parseAltinnSettings(
    (key) => text(key as ClientPropertyKey),
    (key, message) => problems.push(`${key}: ${message}`),
    { exchange: "altinn.exchange", testOrg: "altinn.test_org" },
    audience,
  );
  if (altinn && tokenRequest.kind === "none") {
    problems.push("altinn.exchange needs a Maskinporten token to exchange: set token.endpoint or environment");
  }

  if (problems.length > 0 || !clientId || !audience || !signing) {
    throw new BrokerError(ErrorCode.Config, `${source}: ${problems.join("; ")}`);
  }
  const known = new Set<string>(CLIENT_PROPERTY_KEYS);
  return {
    clientId,
    audience,
    tokenRequest,
    scopes,
    ...(resource !== undefined ? { resource } : {}),
    ...(consumerOrg !== undefined ? { consumerOrg } : {}),
    ...(systemUserOrg !== undefined ? { systemUser: { org: systemUserOrg, ...(externalRef !== undefined ? { externalRef } : {}) } } : {}),
    ...(pid !== undefined ? { pid } : {}),
    signing,
    ...(altinn ? { altinn } : {}),
    unknownKeys: [...properties.keys()].filter((key) => !known.has(key)),
  };
}

type Text = (key: ClientPropertyKey) => string | undefined;

function parseEndpoints(text: Text, problems: string[]): { audience: string | undefined; tokenRequest: CliConfig["tokenRequest"] } {
  const environment = text("environment");
  let environmentIssuer: string | undefined;
  if (environment !== undefined) {
    const resolved = resolveIssuer(environment);
    if ("problem" in resolved) problems.push(`environment: ${resolved.problem}`);
    else environmentIssuer = resolved.issuer;
  }

  let audience = text("audience");
  const tokenEndpoint = text("token.endpoint");
  if (audience !== undefined) {
    const problem = maskinportenUrlProblem(audience);
    if (problem) problems.push(`audience: ${problem}`);
    else if (isTokenEndpointUrl(audience, tokenEndpoint)) {
      // Digdir: the token endpoint URL is no longer valid as audience; aud is the issuer exactly.
      problems.push(
        "audience is the token endpoint URL; Maskinporten wants the issuer as aud, e.g. https://test.maskinporten.no/ (or set environment=test|prod)",
      );
    } else if (environmentIssuer !== undefined && audience !== environmentIssuer) {
      problems.push(`audience and environment disagree (the environment's issuer is ${environmentIssuer}); set one of them`);
    }
  } else if (environmentIssuer !== undefined) {
    audience = environmentIssuer;
  } else {
    problems.push(
      `audience is missing (the Maskinporten issuer, e.g. https://test.maskinporten.no/), or set environment to ${environmentsExpected()}`,
    );
  }

  if (tokenEndpoint !== undefined) {
    const problem = maskinportenUrlProblem(tokenEndpoint);
    if (problem) problems.push(`token.endpoint: ${problem}`);
    return { audience, tokenRequest: { kind: "endpoint", tokenEndpoint } };
  }
  // Only a file that names an environment (a key the seed tool never had) gets discovery, so a seed
  // file without token.endpoint still prints just the grant.
  if (environmentIssuer !== undefined) return { audience, tokenRequest: { kind: "discover", issuer: environmentIssuer } };
  return { audience, tokenRequest: { kind: "none" } };
}

function parseSigning(text: Text, secret: (key: ClientPropertyKey) => string | undefined, problems: string[]): CliSigning | undefined {
  const keystoreFile = text("keystore.file");
  const vaultUrl = text("keyvault.url");
  const certificateName = text("keyvault.certificate");

  if (keystoreFile !== undefined && (vaultUrl !== undefined || certificateName !== undefined)) {
    problems.push("set either keystore.file (local keystore) or keyvault.url + keyvault.certificate (Key Vault), not both");
    return undefined;
  }
  if (vaultUrl !== undefined || certificateName !== undefined) return parseKeyVaultSigning(text, problems);
  if (keystoreFile === undefined) {
    problems.push("keystore.file is missing (a path or base64:<keystore bytes>), or use keyvault.url + keyvault.certificate");
    return undefined;
  }

  let source: KeystoreSource | undefined;
  if (keystoreFile.startsWith("base64:")) {
    const encoded = keystoreFile.slice("base64:".length).replace(/\s+/g, "");
    if (encoded === "" || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(encoded)) problems.push("keystore.file: the text after base64: is not base64");
    else source = { kind: "inline", bytes: Buffer.from(encoded, "base64") };
  } else {
    source = { kind: "path", path: keystoreFile };
  }

  const typeText = text("keystore.type") ?? "JKS";
  const type = KEYSTORE_TYPES.find((candidate) => candidate === typeText.toUpperCase());
  if (!type) problems.push(`keystore.type must be ${KEYSTORE_TYPES.join(" or ")}`);

  const storePassword = secret("keystore.password");
  if (storePassword === undefined) problems.push("keystore.password is missing");

  const alias = text("keystore.alias");
  const keyPassword = secret("keystore.alias.password");
  const kid = text("keystore.kid");
  if (!source || !type || storePassword === undefined) return undefined;
  return {
    kind: "keystore",
    source,
    type,
    storePassword,
    ...(alias !== undefined ? { alias } : {}),
    ...(keyPassword !== undefined ? { keyPassword } : {}),
    ...(kid !== undefined ? { kid } : {}),
  };
}

function parseKeyVaultSigning(text: Text, problems: string[]): CliSigning | undefined {
  const vaultUrl = text("keyvault.url");
  const certificateName = text("keyvault.certificate");
  const certificateVersion = text("keyvault.certificate.version");
  const kid = text("keyvault.kid") ?? text("keystore.kid");
  let ok = true;
  let url: string | undefined;
  if (vaultUrl === undefined) {
    problems.push("keyvault.url is missing (e.g. https://my-vault.vault.azure.net/)");
    ok = false;
  } else {
    // The broker's KEY_VAULT_URL rule: https, no path.
    const parsed = parseVaultUrl(vaultUrl);
    if ("problem" in parsed) {
      problems.push(`keyvault.url ${parsed.problem}`);
      ok = false;
    } else url = parsed.url;
  }
  if (certificateName === undefined) {
    problems.push("keyvault.certificate is missing (the name of the certificate in Key Vault)");
    ok = false;
  } else if (!KEY_VAULT_OBJECT_NAME.test(certificateName)) {
    problems.push(`keyvault.certificate must be ${KEY_VAULT_OBJECT_NAME_EXPECTED}`);
    ok = false;
  }
  if (certificateVersion !== undefined && !KEY_VAULT_VERSION.test(certificateVersion)) {
    problems.push(`keyvault.certificate.version must be ${KEY_VAULT_VERSION_EXPECTED}`);
    ok = false;
  }
  if (!ok || url === undefined || certificateName === undefined) return undefined;
  return {
    kind: "keyvault",
    vaultUrl: url,
    certificateName,
    ...(certificateVersion !== undefined ? { certificateVersion } : {}),
    ...(kid !== undefined ? { kid } : {}),
  };
}

/** The configured token endpoint, or a Maskinporten-style `/token` URL, given as the audience. */
function isTokenEndpointUrl(audience: string, tokenEndpoint: string | undefined): boolean {
  if (tokenEndpoint !== undefined && audience.replace(/\/+$/, "") === tokenEndpoint.replace(/\/+$/, "")) return true;
  const url = parseUrl(audience);
  return url !== undefined && /\/token\/?$/.test(url.pathname);
}
