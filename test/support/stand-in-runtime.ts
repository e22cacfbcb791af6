/**
 * What every broker runtime built over the stand-ins shares: the settings that point it at them
 * (vault, Maskinporten issuer, signing certificate "cert" with its chain, Entra callers), and the
 * test-only options, exactly (a static Key Vault credential, trust of the Key Vault stand-in's CA,
 * Entra's key set fetched through the HTTPS stand-in's trusted fetch). Profiles are the test's own.
 */
import type { RuntimeOptions } from "../../src/app/runtime.js";
import type { EntraStandIn } from "../../sandbox/entra/standin.js";
import type { KeyVaultStandIn } from "../../sandbox/keyvault/index.js";
import type { MaskinportenStandIn } from "../../sandbox/maskinporten/index.js";
import type { issueEnterpriseCertificate } from "../../sandbox/pki.js";
import { staticCredential } from "./credentials.js";

export interface StandIns {
  kv: KeyVaultStandIn;
  mp: MaskinportenStandIn;
  entra: EntraStandIn;
  pki: ReturnType<typeof issueEnterpriseCertificate>;
}

export function standInSettings({ kv, mp, entra, pki }: StandIns): Record<string, string> {
  return {
    KEY_VAULT_URL: kv.url,
    MASKINPORTEN_ENVIRONMENT: mp.issuer,
    SIGNING_CERTIFICATE_NAME: "cert",
    SIGNING_CHAIN: pki.intermediate.certificateDer.toString("base64"),
    CALLER_TENANT_ID: entra.tenantId,
    CALLER_AUDIENCES: entra.audience,
    CALLER_AUTHORITY_HOST: entra.authorityHost,
  };
}

export function standInRuntimeOptions({
  kv,
  entra,
}: Pick<StandIns, "kv" | "entra">): Pick<RuntimeOptions, "credential" | "callerKeySetFetch" | "keyVaultClientOptions"> {
  return {
    credential: staticCredential(),
    callerKeySetFetch: entra.fetch,
    keyVaultClientOptions: { disableChallengeResourceVerification: true, tlsOptions: { ca: kv.caPem } },
  };
}
