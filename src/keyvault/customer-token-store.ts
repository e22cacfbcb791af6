/**
 * Optional copy of customer tokens in Key Vault secrets for direct readers
 * (PROFILE_<NAME>_STORE_CUSTOMER_TOKENS). Write-only from the broker's side: it never reads these
 * back, so a token made under older settings is never served from here. Same shape as a profile's
 * token secret (README "Contracts") plus tags `customer` and `customer_claim`.
 */
import { SecretClient } from "@azure/keyvault-secrets";
import type { TokenProfile } from "../config/domain.js";
import { customerSecretName, type CustomerGrantShape } from "../customers/index.js";
import { toSecret, type StoredToken } from "../token-store/stored-token.js";
import type { KeyVaultConnection } from "./connection.js";
import { keyVaultError } from "./signer.js";

export function createCustomerTokenPublisher(options: KeyVaultConnection) {
  const client = new SecretClient(options.vaultUrl, options.credential, options.clientOptions ?? {});
  return async (profile: TokenProfile, shape: CustomerGrantShape, token: StoredToken): Promise<void> => {
    const secretName = customerSecretName(profile, shape.customer);
    const shapeOfSecret = toSecret(profile.name, token);
    try {
      await client.setSecret(secretName, shapeOfSecret.value, {
        contentType: shapeOfSecret.contentType,
        notBefore: shapeOfSecret.notBefore,
        expiresOn: shapeOfSecret.expiresOn,
        tags: { ...shapeOfSecret.tags, customer: shape.customer, customer_claim: shape.claim },
      });
    } catch (error) {
      throw keyVaultError(`Key Vault secret "${secretName}" could not be written`, error);
    }
  };
}
