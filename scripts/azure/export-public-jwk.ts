/**
 * Prints the public key of the broker's signing certificate as a JWK, for Maskinporten clients that
 * authenticate with `kid` (a key registered on the client) instead of sending the certificate (x5c).
 * The key comes from Key Vault itself (keys/get on the certificate's key version), is checked
 * against the certificate, and gets the RFC 7638 thumbprint as kid unless you choose one.
 *
 *   npx node scripts/azure/export-public-jwk.ts --vault <name|url> --certificate <name> [options]
 *   npx node scripts/azure/export-public-jwk.ts --vault <name|url> --key <name> [options]
 *
 *   --version <v>   a certificate (or key) version; default: the current one
 *   --kid <kid>     kid to register; default: the key's JWK thumbprint
 *   --alg <alg>     RS256 (default), RS384 or RS512
 *   --x5c           add the certificate as x5c, which locks the client to this certificate
 *   --format <f>    portal (default: a JSON array, as Samarbeidsportalen's "Egne public nøkler" takes
 *                   it), jwks ({"keys": [...]}, as the self-service API takes it) or jwk (one object)
 *
 * Signs in like az does (DefaultAzureCredential); needs keys/get and certificates/get on the
 * objects (Key Vault Reader on the vault, which azd provision grants to whoever ran it).
 * Node 22 runs this file as it is; it imports nothing relative at run time for that reason.
 */
import { X509Certificate } from "node:crypto";
import { pathToFileURL } from "node:url";
import { DefaultAzureCredential, type TokenCredential } from "@azure/identity";
import { CertificateClient } from "@azure/keyvault-certificates";
import { KeyClient, type JsonWebKey as KeyVaultJsonWebKey } from "@azure/keyvault-keys";
import { calculateJwkThumbprint } from "jose";
import type { KeyVaultClientOptions } from "../../src/keyvault/connection.js";
import { parseVaultUrl } from "../../src/rules.js";

export const JWK_ALGORITHMS = ["RS256", "RS384", "RS512"] as const;
export type JwkAlgorithm = (typeof JWK_ALGORITHMS)[number];
export type JwkFormat = "portal" | "jwks" | "jwk";

export interface PublicJwk {
  kty: "RSA";
  kid: string;
  use: "sig";
  alg: JwkAlgorithm;
  n: string;
  e: string;
  /** Standard base64 DER, leaf only: registering it locks the client to this certificate. */
  x5c?: string[];
}

/** Maskinporten wants RSA keys of at least 2048 bits. */
const MIN_RSA_BITS = 2048;

function base64url(bytes: Uint8Array): string {
  // JWK integers carry no leading zero bytes (RFC 7518 §6.3.1); Key Vault may send one.
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  return Buffer.from(bytes.subarray(start)).toString("base64url");
}

/**
 * The public JWK of a Key Vault key (whose n and e Key Vault returns as bytes). With the
 * certificate's DER, checks that the certificate carries this very key: a key version that does
 * not belong to the certificate would make Maskinporten reject every grant.
 */
export async function publicJwkFromKeyVaultKey(
  key: KeyVaultJsonWebKey,
  options: { alg?: JwkAlgorithm; kid?: string; certificateDer?: Uint8Array; includeX5c?: boolean } = {},
): Promise<PublicJwk> {
  if (key.kty !== "RSA" && key.kty !== "RSA-HSM")
    throw new Error(`the key is ${key.kty ?? "of unknown type"}; Maskinporten needs an RSA key`);
  if (!key.n || !key.e) throw new Error("the key has no public modulus or exponent");
  const n = base64url(key.n);
  const e = base64url(key.e);
  const bits = Buffer.from(n, "base64url").length * 8;
  if (bits < MIN_RSA_BITS) throw new Error(`the key has ${bits} bits; Maskinporten needs at least ${MIN_RSA_BITS}`);

  let certificateBase64: string | undefined;
  if (options.certificateDer) {
    const certificate = new X509Certificate(Buffer.from(options.certificateDer));
    const fromCertificate = certificate.publicKey.export({ format: "jwk" });
    if (fromCertificate.n !== n || fromCertificate.e !== e) {
      throw new Error("the key does not match the certificate (wrong version?); register the key of the certificate the broker uses");
    }
    certificateBase64 = certificate.raw.toString("base64");
  }
  if (options.includeX5c && !certificateBase64) throw new Error("x5c needs the certificate; export from --certificate, not --key");

  const kid = options.kid ?? (await calculateJwkThumbprint({ kty: "RSA", n, e }, "sha256"));
  return {
    kty: "RSA",
    kid,
    use: "sig",
    alg: options.alg ?? "RS256",
    n,
    e,
    ...(options.includeX5c && certificateBase64 ? { x5c: [certificateBase64] } : {}),
  };
}

export interface ExportOptions {
  vaultUrl: string;
  credential: TokenCredential;
  clientOptions?: KeyVaultClientOptions;
  /** Export the key of this certificate (the usual case) ... */
  certificateName?: string;
  /** ... or of this plain key. */
  keyName?: string;
  version?: string;
  kid?: string;
  alg?: JwkAlgorithm;
  includeX5c?: boolean;
}

export interface ExportedJwk {
  jwk: PublicJwk;
  /** Versioned Key Vault key id the JWK belongs to. */
  keyId: string;
  /** The certificate version, to pin as SIGNING_CERTIFICATE_VERSION next to SIGNING_KID. */
  certificateVersion?: string;
}

/** Reads the certificate (if any) and its key version from Key Vault and builds the public JWK. */
export async function exportPublicJwk(options: ExportOptions): Promise<ExportedJwk> {
  const clientOptions = options.clientOptions ?? {};
  let keyName = options.keyName;
  let keyVersion = options.version;
  let certificateDer: Uint8Array | undefined;
  let certificateVersion: string | undefined;
  if (options.certificateName) {
    const certificates = new CertificateClient(options.vaultUrl, options.credential, clientOptions);
    const certificate = options.version
      ? await certificates.getCertificateVersion(options.certificateName, options.version)
      : await certificates.getCertificate(options.certificateName);
    if (!certificate.cer || !certificate.keyId)
      throw new Error(`certificate ${options.certificateName} has no certificate or key yet (still pending?)`);
    // The certificate's keyId names the key version created with this certificate version.
    const match = /\/keys\/([^/]+)\/([^/?]+)/.exec(certificate.keyId);
    if (!match) throw new Error(`certificate ${options.certificateName} has an unexpected key id`);
    keyName = match[1]!;
    keyVersion = match[2]!;
    certificateDer = certificate.cer;
    certificateVersion = certificate.properties.version;
  }
  if (!keyName) throw new Error("name a certificate or a key");
  const key = await new KeyClient(options.vaultUrl, options.credential, clientOptions).getKey(
    keyName,
    keyVersion ? { version: keyVersion } : {},
  );
  if (!key.key || !key.id) throw new Error(`key ${keyName} came back without key material`);
  const jwk = await publicJwkFromKeyVaultKey(key.key, {
    ...(options.alg ? { alg: options.alg } : {}),
    ...(options.kid ? { kid: options.kid } : {}),
    ...(certificateDer ? { certificateDer } : {}),
    ...(options.includeX5c ? { includeX5c: true } : {}),
  });
  return { jwk, keyId: key.id, ...(certificateVersion ? { certificateVersion } : {}) };
}

export function formatJwk(jwk: PublicJwk, format: JwkFormat): string {
  const value = format === "jwk" ? jwk : format === "jwks" ? { keys: [jwk] } : [jwk];
  return JSON.stringify(value, null, 2);
}

/** `my-vault` → https://my-vault.vault.azure.net/; a URL must pass the broker's KEY_VAULT_URL rule. */
export function vaultUrlOf(vault: string): string {
  if (!vault.includes("://")) return `https://${vault}.vault.azure.net/`;
  const parsed = parseVaultUrl(vault);
  if ("problem" in parsed) throw new Error(`--vault ${parsed.problem}`);
  return parsed.url;
}

export interface CliArguments {
  vault: string;
  certificateName?: string;
  keyName?: string;
  version?: string;
  kid?: string;
  alg: JwkAlgorithm;
  includeX5c: boolean;
  format: JwkFormat;
}

export function parseArguments(argv: string[]): CliArguments {
  const values = new Map<string, string>();
  let includeX5c = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === "--x5c") {
      includeX5c = true;
      continue;
    }
    if (!["--vault", "--certificate", "--key", "--version", "--kid", "--alg", "--format"].includes(flag))
      throw new Error(`unknown argument ${flag}`);
    const value = argv[++i];
    if (value === undefined || value.startsWith("--")) throw new Error(`${flag} needs a value`);
    values.set(flag, value);
  }
  const vault = values.get("--vault");
  if (!vault) throw new Error("--vault is required");
  const certificateName = values.get("--certificate");
  const keyName = values.get("--key");
  if (Boolean(certificateName) === Boolean(keyName)) throw new Error("give exactly one of --certificate and --key");
  const alg = (values.get("--alg") ?? "RS256") as JwkAlgorithm;
  if (!JWK_ALGORITHMS.includes(alg)) throw new Error(`--alg must be one of ${JWK_ALGORITHMS.join(", ")}`);
  const format = (values.get("--format") ?? "portal") as JwkFormat;
  if (!["portal", "jwks", "jwk"].includes(format)) throw new Error("--format must be portal, jwks or jwk");
  const version = values.get("--version");
  const kid = values.get("--kid");
  return {
    vault,
    ...(certificateName ? { certificateName } : {}),
    ...(keyName ? { keyName } : {}),
    ...(version ? { version } : {}),
    ...(kid ? { kid } : {}),
    alg,
    includeX5c,
    format,
  };
}

async function main(argv: string[]): Promise<number> {
  let args: CliArguments;
  try {
    args = parseArguments(argv);
  } catch (error) {
    console.error(
      `export-public-jwk: ${(error as Error).message}\nusage: npx node scripts/azure/export-public-jwk.ts --vault <name|url> --certificate <name> [--version v] [--kid kid] [--alg RS256] [--x5c] [--format portal|jwks|jwk]`,
    );
    return 2;
  }
  try {
    const { jwk, keyId, certificateVersion } = await exportPublicJwk({
      vaultUrl: vaultUrlOf(args.vault),
      credential: new DefaultAzureCredential(),
      ...(args.certificateName ? { certificateName: args.certificateName } : {}),
      ...(args.keyName ? { keyName: args.keyName } : {}),
      ...(args.version ? { version: args.version } : {}),
      ...(args.kid ? { kid: args.kid } : {}),
      alg: args.alg,
      includeX5c: args.includeX5c,
    });
    console.log(formatJwk(jwk, args.format));
    console.error(`\nKey ${keyId}\nAfter registering it on the Maskinporten client, configure the broker with:`);
    console.error(`  azd env set SIGNING_KID ${jwk.kid}`);
    if (certificateVersion) console.error(`  azd env set SIGNING_CERTIFICATE_VERSION ${certificateVersion}`);
    console.error("  azd provision");
    return 0;
  } catch (error) {
    const status = (error as { statusCode?: number }).statusCode;
    console.error(`export-public-jwk: ${status ? `HTTP ${status}: ` : ""}${(error as Error).message.split("\n")[0]}`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
