/**
 * The TokenStore port over a Map, with the same never-regress rule as the Key Vault store. For unit
 * tests of the renewal logic; the Key Vault adapter has its own tests against the stand-ins.
 */
import { mayReplace, type StoredToken } from "../../src/token-store/stored-token.js";
import type { TokenStore } from "../../src/token-store/token-store.js";

export class MemoryTokenStore implements TokenStore {
  readonly versions = new Map<string, StoredToken[]>();
  reads = 0;
  writes = 0;
  failReads = false;
  failWrites = false;

  async read(_profile: string, secretName: string): Promise<StoredToken | undefined> {
    this.reads++;
    if (this.failReads) throw new Error("store unavailable");
    return this.versions.get(secretName)?.at(-1);
  }

  async write(profile: string, secretName: string, token: StoredToken) {
    const latest = await this.read(profile, secretName);
    if (latest && !mayReplace(latest, token)) return { current: latest, written: false };
    if (this.failWrites) throw new Error("store write failed");
    this.writes++;
    this.versions.set(secretName, [...(this.versions.get(secretName) ?? []), token]);
    return { current: token, written: true };
  }
}
