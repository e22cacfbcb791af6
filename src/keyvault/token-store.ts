/**
 * Token store on Key Vault secrets. Key Vault has no conditional writes; the broker keeps a single
 * writer (the timer), and the store reads before it writes so that even a second writer never puts
 * an earlier-expiring token on top of a later one it can see, issued for the same settings
 * (fingerprint). A stored token for other settings is overwritten by the first new one.
 */
import { SecretClient } from "@azure/keyvault-secrets";
import { fromSecret, mayReplace, toSecret, type StoredToken } from "../token-store/stored-token.js";
import type { TokenStore } from "../token-store/token-store.js";
import type { KeyVaultConnection } from "./connection.js";
import { keyVaultError } from "./signer.js";

export function createKeyVaultTokenStore(options: KeyVaultConnection): TokenStore {
  const client = new SecretClient(options.vaultUrl, options.credential, options.clientOptions ?? {});

  async function read(profile: string, secretName: string): Promise<StoredToken | undefined> {
    try {
      const secret = await client.getSecret(secretName);
      return fromSecret(profile, {
        ...(secret.value !== undefined ? { value: secret.value } : {}),
        ...(secret.properties.tags ? { tags: secret.properties.tags } : {}),
      });
    } catch (error) {
      const status = (error as { statusCode?: number }).statusCode;
      // 404: never written. 403 on an expired/disabled secret version: nothing usable either.
      if (status === 404) return undefined;
      throw keyVaultError(`Key Vault secret "${secretName}" could not be read`, error);
    }
  }

  async function put(profile: string, secretName: string, token: StoredToken): Promise<void> {
    const shape = toSecret(profile, token);
    try {
      await client.setSecret(secretName, shape.value, {
        contentType: shape.contentType,
        notBefore: shape.notBefore,
        expiresOn: shape.expiresOn,
        tags: shape.tags,
      });
    } catch (error) {
      throw keyVaultError(`Key Vault secret "${secretName}" could not be written`, error);
    }
  }

  return {
    read,
    async write(profile, secretName, token) {
      const before = await read(profile, secretName);
      if (before && !mayReplace(before, token)) return { current: before, written: false };
      await put(profile, secretName, token);
      return { current: token, written: true };
    },
  };
}
