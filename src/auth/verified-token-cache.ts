import { hash } from "node:crypto";
import type { Caller } from "./caller.js";

export const DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES = 10_000;

interface Entry {
  caller: Caller;
  /** Epoch ms from which the entry may answer (the token's nbf minus clock tolerance). */
  usableFrom: number;
  /** Epoch ms at which the entry stops answering: never later than the token's exp. */
  usableUntil: number;
}

export interface VerifiedTokenCacheStats {
  size: number;
  hits: number;
  misses: number;
  evictions: number;
}

/**
 * Remembers successful verifications so that a repeat caller costs one SHA-256 instead of an RSA
 * verification. Keyed by the SHA-256 of the whole token: a changed byte is a different key, and no
 * token is kept in memory. Bounded LRU (a Map in insertion order, refreshed on hit). Only
 * successes are stored, so a flood of bad tokens cannot grow it.
 */
export class VerifiedTokenCache {
  readonly #entries = new Map<string, Entry>();
  readonly #maxEntries: number;
  #hits = 0;
  #misses = 0;
  #evictions = 0;

  constructor(maxEntries: number = DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES) {
    if (!Number.isInteger(maxEntries) || maxEntries < 0) throw new RangeError("maxEntries must be a non-negative integer");
    this.#maxEntries = maxEntries;
  }

  static keyOf(token: string): string {
    // One-shot hash: no Hash object per request (this runs on every served request).
    return hash("sha256", token, "base64");
  }

  get(key: string, nowMs: number): Caller | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) {
      this.#misses++;
      return undefined;
    }
    if (nowMs >= entry.usableUntil) {
      this.#entries.delete(key);
      this.#misses++;
      return undefined;
    }
    if (nowMs < entry.usableFrom) {
      // Only reachable when the clock goes backwards; verify again rather than trust the entry.
      this.#misses++;
      return undefined;
    }
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    this.#hits++;
    return entry.caller;
  }

  set(key: string, caller: Caller, usableFrom: number, usableUntil: number): void {
    if (this.#maxEntries === 0 || !(usableUntil > usableFrom)) return;
    this.#entries.delete(key);
    this.#entries.set(key, { caller, usableFrom, usableUntil });
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) break;
      this.#entries.delete(oldest.value);
      this.#evictions++;
    }
  }

  clear(): void {
    this.#entries.clear();
  }

  stats(): VerifiedTokenCacheStats {
    return { size: this.#entries.size, hits: this.#hits, misses: this.#misses, evictions: this.#evictions };
  }
}
