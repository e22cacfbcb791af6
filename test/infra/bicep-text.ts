/**
 * Just enough reading of Bicep and TypeScript source text for the infra contract test. There is no
 * Bicep compiler on these machines, so the checks read the .bicep files as text: comments are
 * removed first, then declarations are found by their keyword and cut out by bracket counting.
 */

/** Removes `//` line comments and block comments, leaving string contents alone. */
export function stripComments(source: string): string {
  let out = "";
  let i = 0;
  let quote: string | undefined;
  while (i < source.length) {
    const c = source[i]!;
    const next = source[i + 1];
    if (quote) {
      out += c;
      if (c === "\\") {
        out += next ?? "";
        i += 2;
        continue;
      }
      if (c === quote) quote = undefined;
      i++;
      continue;
    }
    if (source.startsWith("'''", i)) {
      // Bicep multi-line string: no escapes, ends at the next '''.
      const end = source.indexOf("'''", i + 3);
      const stop = end === -1 ? source.length : end + 3;
      out += source.slice(i, stop);
      i = stop;
      continue;
    }
    if (c === "'" || c === '"' || c === "`") {
      quote = c;
      out += c;
      i++;
      continue;
    }
    if (c === "/" && next === "/") {
      while (i < source.length && source[i] !== "\n") i++;
      continue;
    }
    if (c === "/" && next === "*") {
      const end = source.indexOf("*/", i + 2);
      i = end === -1 ? source.length : end + 2;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}

const OPENERS: Record<string, string> = { "{": "}", "[": "]", "(": ")" };

/**
 * The text from `start` (which must be an opening bracket) to its matching close, inclusive.
 * Brackets inside strings are skipped, except `${...}` interpolations, which balance anyway.
 */
export function balancedFrom(source: string, start: number): string | undefined {
  const stack: string[] = [];
  let quote: string | undefined;
  for (let i = start; i < source.length; i++) {
    const c = source[i]!;
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (source.startsWith("'''", i)) {
      const end = source.indexOf("'''", i + 3);
      if (end === -1) return undefined;
      i = end + 2;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      continue;
    }
    const close = OPENERS[c];
    if (close) stack.push(close);
    else if (c === "}" || c === "]" || c === ")") {
      if (stack.pop() !== c) return undefined;
      if (stack.length === 0) return source.slice(start, i + 1);
    }
  }
  return undefined;
}

/** The body of `var <name> = ...`: from the first bracket after `=` to its match. */
export function bicepVarBody(source: string, name: string): string | undefined {
  const match = new RegExp(`^\\s*var\\s+${name}\\s*=\\s*`, "m").exec(source);
  if (!match) return undefined;
  const from = match.index + match[0].length;
  const open = source.slice(from).search(/[{[(]/);
  return open === -1 ? undefined : balancedFrom(source, from + open);
}

export interface BicepResource {
  symbol: string;
  type: string;
  existing: boolean;
  /** The collection a `[for ... in <source>: ...]` resource loops over, if any. */
  loopSource?: string;
  /** Declaration line through the end of its body. */
  body: string;
}

/** Every `resource` declaration of a file (top level and nested). */
export function bicepResources(source: string): BicepResource[] {
  const text = stripComments(source);
  const resources: BicepResource[] = [];
  const declaration = /^\s*resource\s+(\w+)\s+'([^']+)'\s*(existing\s*)?=\s*/gm;
  for (let match = declaration.exec(text); match; match = declaration.exec(text)) {
    const from = match.index + match[0].length;
    const open = text.slice(from).search(/[{[]/);
    const body = open === -1 ? "" : (balancedFrom(text, from + open) ?? "");
    const loop = /^\[\s*for\s+(?:\([^)]*\)|\w+)\s+in\s+([\w.]+)\s*:/.exec(body);
    resources.push({
      symbol: match[1]!,
      type: match[2]!,
      existing: Boolean(match[3]),
      ...(loop ? { loopSource: loop[1]! } : {}),
      body,
    });
  }
  return resources;
}

/** The simple `key: 'value'` string entries of an object body such as `var roleIds = { ... }`. */
export function stringEntries(objectBody: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const match of objectBody.matchAll(/^\s*(\w+)\s*:\s*'([^']*)'/gm)) entries.set(match[1]!, match[2]!);
  return entries;
}

export interface BicepDeclaration {
  name: string;
  type: string;
  /** Text after `=` up to the end of the line (outputs, parameter defaults). */
  value: string;
  secure: boolean;
}

/** `param` declarations, with whether an `@secure()` decorator precedes them. */
export function bicepParams(source: string): BicepDeclaration[] {
  const text = stripComments(source);
  const params: BicepDeclaration[] = [];
  const declaration = /^\s*param\s+(\w+)\s+([\w.[\]]+)(?:\s*=\s*(.*))?$/gm;
  let previousEnd = 0;
  for (let match = declaration.exec(text); match; match = declaration.exec(text)) {
    // Decorators sit between the previous declaration and this one.
    const decorators = text.slice(previousEnd, match.index);
    params.push({ name: match[1]!, type: match[2]!, value: match[3] ?? "", secure: /@secure\(\s*\)/.test(decorators) });
    previousEnd = match.index + match[0].length;
  }
  return params;
}

/** `output` declarations. */
export function bicepOutputs(source: string): BicepDeclaration[] {
  const text = stripComments(source);
  return [...text.matchAll(/^\s*output\s+(\w+)\s+([\w.[\]]+)\s*=\s*(.*)$/gm)].map((match) => ({
    name: match[1]!,
    type: match[2]!,
    value: match[3]!,
    secure: false,
  }));
}
