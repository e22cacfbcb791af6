/**
 * Token store on Key Vault secrets. Key Vault has no conditional writes, so "never regress" is
 * kept by reading before writing and checking after: a racing broker that wrote an earlier-expiring
 * token after our check is overwritten once more with ours.
 */
import { SecretClient } from "@azure/keyvault-secrets";
import { fromSecret, toSecret, type StoredToken } from "../token-store/stored-token.js";
import type { TokenStore } from "../token-store/token-store.js";
import type { KeyVaultConnection } from "./connection.js";
import { keyVaultError } from "./signer.js";

export interface KeyVaultTokenStoreOptions extends KeyVaultConnection {
  /** Told when a racing writer's earlier-expiring token was found after our write and repaired. */
  onRepair?: (profile: string) => void;
}

export function createKeyVaultTokenStore(options: KeyVaultTokenStoreOptions): TokenStore {
  const client = new SecretClient(options.vaultUrl, options.credential, options.clientOptions ?? {});

  async function read(profile: string, secretName: string): Promise<StoredToken | undefined> {
    try {
      const secret = await client.getSecret(secretName);
      return fromSecret(profile, { ...(secret.value !== undefined ? { value: secret.value } : {}), ...(secret.properties.tags ? { tags: secret.properties.tags } : {}) });
    } catch (error) {
      const status = (error as { statusCode?: number }).statusCode;
      // 404: never written. 403 on an expired/disabled secret version: nothing usable either.
      if (status === 404) return undefined;
      throw keyVaultError(`Key Vault secret "${secretName}" could not be read`, error);
    }
  }

  async function put(secretName: string, profile: string, token: StoredToken): Promise<void> {
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
      if (before && before.expiresAt >= token.expiresAt) return { current: before, written: false };
      await put(secretName, profile, token);
      const after = await read(profile, secretName);
      if (after && after.expiresAt < token.expiresAt) {
        options.onRepair?.(profile);
        await put(secretName, profile, token);
        return { current: token, written: true };
      }
      return { current: after && after.expiresAt > token.expiresAt ? after : token, written: true };
    },
  };
}
