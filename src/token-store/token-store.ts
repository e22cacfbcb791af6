import type { StoredToken } from "./stored-token.js";

/** Where the current token of each profile lives (Key Vault secrets in production). */
export interface TokenStore {
  /** The latest stored token of a profile, read from the store (no caching here). */
  read(profile: string, secretName: string): Promise<StoredToken | undefined>;
  /**
   * Stores `token` unless the store already holds one with the same fingerprint that expires no
   * earlier; returns whichever token is current afterwards. A stored token with another
   * fingerprint (issued for other settings) is always replaced.
   */
  write(profile: string, secretName: string, token: StoredToken): Promise<{ current: StoredToken; written: boolean }>;
}
