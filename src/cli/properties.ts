/**
 * Java `.properties` files, read the way `java.util.Properties.load` reads them, so a
 * `client.properties` that works with Digdir's jwt-grant-generator means the same thing here.
 *
 * The syntax (comments, `=`/`:`/whitespace separators, continuations, escapes, trailing
 * whitespace kept) comes from the `properties-file` package, checked against a real JVM in the
 * tests. The byte decoding is ours: Java's `load(InputStream)` reads ISO-8859-1, which is what a
 * Latin-1 file gets; a file that is valid UTF-8 is read as UTF-8 (as Java 9+ resource bundles do),
 * because a UTF-8 `æøå` could never have worked with the seed tool anyway.
 */
import { getProperties } from "properties-file";
import { BrokerError, ErrorCode } from "../errors.js";

export type JavaProperties = ReadonlyMap<string, string>;

const utf8 = new TextDecoder("utf-8", { fatal: true });
const latin1 = new TextDecoder("latin1");

/** Bytes → text: strict UTF-8 when valid, else ISO-8859-1 (Java's own choice for `load(InputStream)`). */
export function decodePropertiesBytes(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    return latin1.decode(bytes);
  }
}

/**
 * Parses `.properties` content. Keys repeat → last wins, as in Java. A malformed `\uXXXX` escape is
 * an error (Java throws too); the message names the line only, never its text, which may be a password.
 */
export function parseJavaProperties(content: Uint8Array | string, source = "properties file"): JavaProperties {
  const text = typeof content === "string" ? content : decodePropertiesBytes(content);
  let parsed: Record<string, string>;
  try {
    parsed = getProperties(text);
  } catch (error) {
    const line = findMalformedUnicodeEscapeLine(text);
    const where = line === undefined ? "" : ` on line ${line}`;
    // The library's message quotes the offending text, which may be part of a password: not kept.
    throw new BrokerError(ErrorCode.Properties, `${source}: malformed \\uXXXX escape${where} (Java rejects this file too)`, {
      cause: error instanceof Error ? new Error(error.name) : undefined,
    });
  }
  return new Map(Object.entries(parsed));
}

/** 1-based number of the first physical line with a `\u` escape not followed by four hex digits. */
function findMalformedUnicodeEscapeLine(text: string): number | undefined {
  const lines = text.split(/\r\n|\r|\n/);
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index] ?? "";
    // An escape starts at a backslash preceded by an even number of backslashes.
    for (const match of line.matchAll(/(?<!\\)((?:\\\\)*)\\u/g)) {
      const start = (match.index ?? 0) + match[0].length;
      if (!/^[0-9a-fA-F]{4}/.test(line.slice(start, start + 4))) return index + 1;
    }
  }
  return undefined;
}
