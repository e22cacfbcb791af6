import type { TokenCredential } from "@azure/identity";
import type { SecretClientOptions } from "@azure/keyvault-secrets";

/**
 * Options shared by every Key Vault client we create. Production passes none. The sandbox and tests
 * pass `disableChallengeResourceVerification` and `tlsOptions.ca` to reach a stand-in on 127.0.0.1;
 * they are injected here and never switched on by default.
 */
export type KeyVaultClientOptions = Pick<
  SecretClientOptions,
  "disableChallengeResourceVerification" | "tlsOptions" | "retryOptions" | "additionalPolicies" | "userAgentOptions"
>;

export interface KeyVaultConnection {
  vaultUrl: string;
  credential: TokenCredential;
  clientOptions?: KeyVaultClientOptions;
}
