/**
 * How a profile's grant is signed, from the SIGNING_* settings: a Key Vault certificate (x5c, or
 * kid when registered) or a plain Key Vault key (kid only), with the algorithm Maskinporten allows.
 */
import { isSigningAlgorithm, SIGNING_ALGORITHMS } from "../signing/signer.js";
import { KEY_VAULT_OBJECT_NAME, KEY_VAULT_OBJECT_NAME_EXPECTED, KEY_VAULT_VERSION, KEY_VAULT_VERSION_EXPECTED } from "../rules.js";
import type { SigningSource } from "./domain.js";
import { splitList, type Reader } from "./reader.js";

/** Profile-level SIGNING_* settings override the app-wide ones, as a whole source. */
export function parseSigning(read: Reader, profilePrefix: string): SigningSource | undefined {
  const hasOwn = ["SIGNING_CERTIFICATE_NAME", "SIGNING_KEY_NAME"].some((s) => read.optional(profilePrefix + s) !== undefined);
  const p = hasOwn ? profilePrefix : "";
  const name = (suffix: string) => `${p}SIGNING_${suffix}`;

  const algText = read.optional(name("ALGORITHM")) ?? "RS256";
  const alg = isSigningAlgorithm(algText) ? algText : undefined;
  if (!alg) read.problem(name("ALGORITHM"), `is not allowed by Maskinporten; expected one of ${SIGNING_ALGORITHMS.join(", ")}`);
  const kid = read.optional(name("KID"));
  const certificateName = read.matching(
    name("CERTIFICATE_NAME"),
    KEY_VAULT_OBJECT_NAME,
    `a Key Vault certificate name: ${KEY_VAULT_OBJECT_NAME_EXPECTED}`,
  );
  const keyName = read.matching(name("KEY_NAME"), KEY_VAULT_OBJECT_NAME, `a Key Vault key name: ${KEY_VAULT_OBJECT_NAME_EXPECTED}`);
  const version = (suffix: string) => read.matching(name(suffix), KEY_VAULT_VERSION, KEY_VAULT_VERSION_EXPECTED);

  if (certificateName && keyName) {
    read.problem(name("KEY_NAME"), `set either ${name("CERTIFICATE_NAME")} or ${name("KEY_NAME")}, not both`);
    return undefined;
  }
  if (certificateName) {
    const chain = splitList(read.optional(name("CHAIN")) ?? "");
    for (const cert of chain) {
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(cert)) {
        read.problem(name("CHAIN"), "expected comma-separated standard-base64 DER certificates (intermediate CA first)");
        break;
      }
    }
    if (!alg) return undefined;
    const certificateVersion = version("CERTIFICATE_VERSION");
    return {
      kind: "certificate",
      certificateName,
      ...(certificateVersion ? { certificateVersion } : {}),
      ...(kid ? { kid } : {}),
      alg,
      chain,
    };
  }
  if (keyName) {
    if (!kid) {
      read.problem(
        name("KID"),
        `missing; a plain Key Vault key (${name("KEY_NAME")}) has no certificate for x5c, so the grant needs the kid registered on the Maskinporten client`,
      );
      return undefined;
    }
    if (!alg) return undefined;
    const keyVersion = version("KEY_VERSION");
    return { kind: "key", keyName, ...(keyVersion ? { keyVersion } : {}), kid, alg };
  }
  read.problem(
    "SIGNING_CERTIFICATE_NAME",
    `missing; name the Key Vault certificate holding the enterprise certificate (or set SIGNING_KEY_NAME and SIGNING_KID, or ${profilePrefix}SIGNING_CERTIFICATE_NAME for this profile)`,
  );
  return undefined;
}
