/**
 * Leak scanner: remembers every secret the suite produced (Maskinporten access tokens, Entra caller
 * tokens, grants and their signatures, keystore passwords) and every text that left the code under
 * test (log lines, console output, error messages, HTTP error bodies), then looks for the one in
 * the other. The setup file (leak-scan-setup.ts) feeds it across the whole suite; the soak program
 * uses it on its own logs.
 *
 * Findings never carry the secret itself: a report that printed the leaked token would be a leak.
 */

export type SecretKind =
  "maskinporten-token" | "altinn-token" | "caller-token" | "grant" | "signature" | "password" | "stored-token" | "planted";

/** Where a scanned text came from: a console stream, a logger, an error message, an HTTP body. */
export type Channel = "console" | "stdout" | "stderr" | "log-line" | "error-message" | "http-body" | (string & {});

export interface LeakFinding {
  /** What leaked: a registered secret's kind, or a shape that is never legitimate in output. */
  kind: SecretKind | "jws-shape" | "private-key";
  channel: Channel;
  /** The text around the hit, with the secret replaced by a marker. */
  context: string;
}

/** Shorter secrets would match ordinary words and numbers; such passwords are not scanned for. */
export const MIN_SECRET_LENGTH = 6;
const MIN_TOKEN_LENGTH = 24;
/**
 * Token-like secrets (the token alphabet only) are found through an index of their first
 * PREFIX characters, so a scan costs one lookup per character of output rather than one search per
 * secret: suites register tens of thousands of (forged) caller tokens.
 */
const PREFIX = 24;
const TOKEN_ALPHABET = /^[A-Za-z0-9._~+/=-]+$/;
const TOKEN_RUN = /[A-Za-z0-9._~+/=-]{24,}/g;

// A compact JWS with a JSON header and JSON payload: a token or grant in the clear. The logger's
// scrubber redacts these; anything reaching output in this shape got past it.
const JWS_SHAPE = /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}/g;
const PRIVATE_KEY = /-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----/g;

export class LeakScanner {
  readonly #secrets = new Map<string, SecretKind>();
  /** First PREFIX characters → token-like secrets starting so. */
  readonly #byPrefix = new Map<string, string[]>();
  /** Secrets with other characters (passwords): searched for one by one. */
  readonly #others = new Set<string>();
  #texts: Array<{ channel: Channel; text: string }> = [];
  #sources: Array<() => Iterable<readonly [string, SecretKind]>> = [];
  #collectors = new Set<() => Promise<void>>();

  /** Registers a value that must never appear in output. Too-short values are ignored (see MIN_SECRET_LENGTH). */
  addSecret(value: unknown, kind: SecretKind): void {
    if (typeof value !== "string") return;
    const min = kind === "password" || kind === "planted" ? MIN_SECRET_LENGTH : MIN_TOKEN_LENGTH;
    if (value.length < min || this.#secrets.has(value)) return;
    this.#secrets.set(value, kind);
    if (value.length >= PREFIX && TOKEN_ALPHABET.test(value)) {
      const prefix = value.slice(0, PREFIX);
      const list = this.#byPrefix.get(prefix);
      if (list) list.push(value);
      else this.#byPrefix.set(prefix, [value]);
    } else {
      this.#others.add(value);
    }
  }

  /**
   * Registers a token: the whole value and, for a JWS, its signature on its own (a signature is what
   * makes a grant or token usable, and is what a careless "short" log would print).
   */
  addToken(value: unknown, kind: Exclude<SecretKind, "password" | "signature">): void {
    if (typeof value !== "string") return;
    this.addSecret(value, kind);
    const parts = value.split(".");
    if (parts.length === 3 && parts[2]) this.addSecret(parts[2], "signature");
  }

  /** A source read at scan time (e.g. a stand-in's record of issued tokens, which grows until then). */
  addSecretSource(source: () => Iterable<readonly [string, SecretKind]>): void {
    this.#sources.push(source);
  }

  /**
   * Text gathered asynchronously before a scan (exported metrics: collected from their meter
   * provider). collect() runs every collector once; a collector may also run earlier on its own.
   */
  addCollector(collect: () => Promise<void>): void {
    this.#collectors.add(collect);
  }

  async collect(): Promise<void> {
    const collectors = [...this.#collectors];
    this.#collectors.clear();
    await Promise.all(collectors.map((collect) => collect()));
  }

  record(channel: Channel, text: unknown): void {
    if (typeof text !== "string" || text.length === 0) return;
    this.#texts.push({ channel, text });
  }

  scan(): LeakFinding[] {
    for (const source of this.#sources) {
      for (const [value, kind] of source()) {
        if (kind === "signature" || kind === "password") this.addSecret(value, kind);
        else this.addToken(value, kind);
      }
    }
    const findings: LeakFinding[] = [];
    const found = (channel: Channel, text: string, at: number, secret: string) => {
      const kind = this.#secrets.get(secret)!;
      findings.push({ kind, channel, context: redactedContext(text, at, secret.length, kind) });
    };
    for (const { channel, text } of this.#texts) {
      for (const run of text.matchAll(TOKEN_RUN)) {
        for (let i = run.index; i + PREFIX <= run.index + run[0].length; i++) {
          for (const secret of this.#byPrefix.get(text.slice(i, i + PREFIX)) ?? []) {
            if (text.startsWith(secret, i)) found(channel, text, i, secret);
          }
        }
      }
      for (const secret of this.#others) {
        const at = text.indexOf(secret);
        if (at >= 0) found(channel, text, at, secret);
      }
      for (const [pattern, kind] of [
        [JWS_SHAPE, "jws-shape"],
        [PRIVATE_KEY, "private-key"],
      ] as const) {
        for (const match of text.matchAll(pattern)) {
          findings.push({ kind, channel, context: redactedContext(text, match.index, match[0].length, kind) });
        }
      }
    }
    return dedupe(findings);
  }

  /** Forgets findings' inputs: texts recorded so far (secrets stay known). */
  forgetTexts(): void {
    this.#texts = [];
  }

  /** How many secrets are known: pass to forgetSecretsSince() to drop those registered later. */
  checkpoint(): number {
    return this.#secrets.size;
  }

  /** Drops secrets registered after `checkpoint` (a flood test's throwaway tokens, once scanned). */
  forgetSecretsSince(checkpoint: number): void {
    let index = 0;
    for (const secret of [...this.#secrets.keys()]) {
      if (index++ < checkpoint) continue;
      this.#secrets.delete(secret);
      this.#others.delete(secret);
      const prefix = secret.slice(0, PREFIX);
      const list = this.#byPrefix.get(prefix)?.filter((s) => s !== secret);
      if (list && list.length > 0) this.#byPrefix.set(prefix, list);
      else this.#byPrefix.delete(prefix);
    }
  }

  reset(): void {
    this.#secrets.clear();
    this.#byPrefix.clear();
    this.#others.clear();
    this.#texts = [];
    this.#sources = [];
    this.#collectors.clear();
  }

  stats(): { texts: number; characters: number; secrets: number } {
    return {
      texts: this.#texts.length,
      characters: this.#texts.reduce((sum, { text }) => sum + text.length, 0),
      secrets: this.#secrets.size,
    };
  }
}

function redactedContext(text: string, at: number, length: number, kind: string): string {
  const before = text.slice(Math.max(0, at - 60), at);
  const after = text.slice(at + length, at + length + 60);
  // The surroundings may hold other secrets: keep only characters that cannot form a token.
  const tame = (s: string) => s.replace(/[A-Za-z0-9_-]{16,}/g, "[…]");
  return `${tame(before)}[${kind.toUpperCase()}]${tame(after)}`;
}

function dedupe(findings: LeakFinding[]): LeakFinding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const key = `${f.kind}\u0000${f.channel}\u0000${f.context}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The scanner of this test file's process (the setup file resets it before each file). */
export const leakScan = new LeakScanner();
