import type { Caller } from "./caller.js";

export const DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES = 10_000;
/**
 * Characters the cached header values may hold in all (one byte each: headers are latin1): 16 MiB.
 * 10,000 entries fit while tokens average up to 1.6 KB (Entra's are 1–3 KB); larger tokens mean
 * fewer entries, so a cache of 16 KiB tokens stays at ~1,000 of them instead of 160 MiB.
 */
export const DEFAULT_VERIFIED_TOKEN_CACHE_CHARACTERS = 16 * 1024 * 1024;
/**
 * The Map key: the value's last characters, from the signature segment (RS256 signatures are 342
 * base64url characters of RSA output, so 43 of them, 258 bits, spread entries evenly). A bucket
 * only; an entry answers for the byte-identical value alone.
 */
const KEY_CHARACTERS = 43;

interface Entry {
  key: string;
  /** The whole Authorization header value that was verified: a hit must equal it exactly. */
  value: string;
  caller: Caller;
  /** Epoch ms from which the entry may answer (the token's nbf minus clock tolerance). */
  usableFrom: number;
  /** Epoch ms at which the entry stops answering: never later than the token's exp. */
  usableUntil: number;
  /** Neighbours in recency order (a doubly linked list; `newer` of the newest is undefined). */
  newer: Entry | undefined;
  older: Entry | undefined;
}

export interface VerifiedTokenCacheStats {
  size: number;
  hits: number;
  misses: number;
  evictions: number;
  /** Characters of header values held (see DEFAULT_VERIFIED_TOKEN_CACHE_CHARACTERS). */
  characters: number;
}

/**
 * Remembers successful verifications so that a repeat caller costs a Map lookup and one string
 * comparison instead of an RSA verification (and, since the header value itself is the key, no
 * parsing and no hash either). An entry answers only for the byte-identical Authorization value
 * it was verified for: a changed byte anywhere is a miss. It holds that value, so a verified
 * caller token stays in memory until it expires or is evicted; the tokens are for this broker's
 * audience only and short-lived, and the process holds the Maskinporten tokens it serves anyway.
 * (Before, the key was the SHA-256 of the token: 1–2 µs per request, more than the rest of the
 * lookup; `npm run bench`, README Performance.) Bounded twice, by entries and by characters held;
 * LRU: a Map finds entries, a doubly linked list keeps their recency. A hit only relinks two
 * nodes: moving a Map entry to the end (delete + set) instead costs time linear in the Map's size
 * in V8. Only successes are stored, so a flood of bad tokens cannot grow it.
 */
export class VerifiedTokenCache {
  readonly #entries = new Map<string, Entry>();
  readonly #maxEntries: number;
  readonly #maxCharacters: number;
  #characters = 0;
  #newest: Entry | undefined;
  #oldest: Entry | undefined;
  #hits = 0;
  #misses = 0;
  #evictions = 0;

  constructor(maxEntries: number = DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES, maxCharacters: number = DEFAULT_VERIFIED_TOKEN_CACHE_CHARACTERS) {
    if (!Number.isInteger(maxEntries) || maxEntries < 0) throw new RangeError("maxEntries must be a non-negative integer");
    if (!Number.isInteger(maxCharacters) || maxCharacters < 0) throw new RangeError("maxCharacters must be a non-negative integer");
    this.#maxEntries = maxEntries;
    this.#maxCharacters = maxCharacters;
  }

  /**
   * The caller verified for exactly this value, if its entry may answer at `nowMs`. Counts a hit;
   * a miss is counted by countMiss(), so that only lookups of well-formed tokens count as misses.
   */
  get(value: string, nowMs: number): Caller | undefined {
    const entry = this.#entries.get(value.slice(-KEY_CHARACTERS));
    // Reaching the comparison takes the value's last 43 characters: nothing to learn from its timing.
    if (entry === undefined || entry.value !== value) return undefined;
    if (nowMs >= entry.usableUntil) {
      this.#remove(entry);
      return undefined;
    }
    // Only reachable when the clock goes backwards; verify again rather than trust the entry.
    if (nowMs < entry.usableFrom) return undefined;
    if (entry !== this.#newest) {
      this.#unlink(entry);
      this.#append(entry);
    }
    this.#hits++;
    return entry.caller;
  }

  countMiss(): void {
    this.#misses++;
  }

  set(value: string, caller: Caller, usableFrom: number, usableUntil: number): void {
    if (this.#maxEntries === 0 || !(usableUntil > usableFrom) || value.length > this.#maxCharacters) return;
    const key = value.slice(-KEY_CHARACTERS);
    // Another value with the same last characters (or this one again) gives way: at worst a miss later.
    const existing = this.#entries.get(key);
    if (existing !== undefined) this.#remove(existing);
    const entry: Entry = { key, value, caller, usableFrom, usableUntil, newer: undefined, older: undefined };
    this.#entries.set(key, entry);
    this.#characters += value.length;
    this.#append(entry);
    while ((this.#entries.size > this.#maxEntries || this.#characters > this.#maxCharacters) && this.#oldest !== undefined) {
      this.#remove(this.#oldest);
      this.#evictions++;
    }
  }

  clear(): void {
    this.#entries.clear();
    this.#characters = 0;
    this.#newest = undefined;
    this.#oldest = undefined;
  }

  stats(): VerifiedTokenCacheStats {
    return { size: this.#entries.size, hits: this.#hits, misses: this.#misses, evictions: this.#evictions, characters: this.#characters };
  }

  #remove(entry: Entry): void {
    this.#entries.delete(entry.key);
    this.#characters -= entry.value.length;
    this.#unlink(entry);
  }

  #append(entry: Entry): void {
    entry.older = this.#newest;
    entry.newer = undefined;
    if (this.#newest !== undefined) this.#newest.newer = entry;
    this.#newest = entry;
    this.#oldest ??= entry;
  }

  #unlink(entry: Entry): void {
    if (entry.newer !== undefined) entry.newer.older = entry.older;
    else this.#newest = entry.older;
    if (entry.older !== undefined) entry.older.newer = entry.newer;
    else this.#oldest = entry.newer;
    entry.newer = undefined;
    entry.older = undefined;
  }
}
