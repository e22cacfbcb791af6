/**
 * JSON.parse keeps the last of two equal keys; a strict peer (Maskinporten is Java, whose JSON
 * readers refuse them) must not, or a grant could smuggle a second `aud` past a signature check
 * that saw the first. This finds duplicate keys in text that JSON.parse has already accepted.
 */

export type StrictJsonResult = { ok: true; value: Record<string, unknown> } | { ok: false; problem: string };

/** Parses a JSON object, refusing invalid JSON, non-objects and duplicate keys at any depth. */
export function parseStrictJsonObject(text: string): StrictJsonResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, problem: "not valid JSON" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, problem: "not a JSON object" };
  }
  const duplicate = findDuplicateKey(text);
  if (duplicate !== undefined) return { ok: false, problem: `duplicate member ${JSON.stringify(duplicate)}` };
  return { ok: true, value: value as Record<string, unknown> };
}

/** Assumes valid JSON: a string directly after `{` or `,` inside an object is a member name. */
function findDuplicateKey(text: string): string | undefined {
  // One entry per open container: the names seen so far for objects, null for arrays.
  const open: Array<Set<string> | null> = [];
  let previous = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      const end = endOfString(text, i);
      const names = open.at(-1);
      if (names && (previous === "{" || previous === ",")) {
        const name = JSON.parse(text.slice(i, end + 1)) as string;
        if (names.has(name)) return name;
        names.add(name);
      }
      previous = '"';
      i = end;
    } else if (c === "{") {
      open.push(new Set());
      previous = c;
    } else if (c === "[") {
      open.push(null);
      previous = c;
    } else if (c === "}" || c === "]") {
      open.pop();
      previous = c;
    } else if (c !== " " && c !== "\t" && c !== "\n" && c !== "\r") {
      previous = c;
    }
  }
  return undefined;
}

function endOfString(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === "\\") i++;
    else if (text[i] === '"') return i;
  }
  return text.length - 1;
}
