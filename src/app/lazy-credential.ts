/**
 * A TokenCredential that loads @azure/identity (and MSAL under it) on its first token request, not
 * when the function app is imported. In the deployed bundle @azure/identity is a separate chunk, so
 * the worker's import of the entry, and with it the indexing of the functions, does not wait for it;
 * the first Key Vault call pays for the load once instead.
 */
import type { TokenCredential } from "@azure/identity";

type Identity = typeof import("@azure/identity");

export interface LazyCredential extends TokenCredential {
  /** The underlying credential, built on first call (getToken calls this). */
  load(): Promise<TokenCredential>;
}

export function lazyCredential(create: (identity: Identity) => TokenCredential): LazyCredential {
  let credential: Promise<TokenCredential> | undefined;
  const load = () =>
    (credential ??= import("@azure/identity").then(create).catch((error: unknown) => {
      // A failed load is not remembered: the next request tries again.
      credential = undefined;
      throw error;
    }));
  return {
    load,
    async getToken(scopes, options) {
      return (await load()).getToken(scopes, options);
    },
  };
}
