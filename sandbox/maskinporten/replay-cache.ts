/**
 * Remembers grant ids (per client) until the grant expires: after that an old grant is refused
 * as expired anyway, so the memory stays bounded by the request rate times 120 s.
 */
export class ReplayCache {
  readonly #expiresAtMs = new Map<string, number>();
  #insertsSincePrune = 0;

  /** True if this (client, jti) was presented before; otherwise records it and returns false. */
  seenBefore(clientId: string, jti: string, expiresAtMs: number, nowMs: number): boolean {
    const key = `${clientId}\u0000${jti}`;
    const known = this.#expiresAtMs.get(key);
    if (known !== undefined && known >= nowMs) return true;
    this.#expiresAtMs.set(key, expiresAtMs);
    if (++this.#insertsSincePrune >= 1_000) this.#prune(nowMs);
    return false;
  }

  #prune(nowMs: number): void {
    this.#insertsSincePrune = 0;
    for (const [key, expiresAtMs] of this.#expiresAtMs) {
      if (expiresAtMs < nowMs) this.#expiresAtMs.delete(key);
    }
  }
}
