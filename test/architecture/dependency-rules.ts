/**
 * The house rules on who may import whom, checked over a file tree (the repository in `npm test`,
 * a planted tree in the rule's own test). Import specifiers are read with a small parser of import
 * and export statements (the TypeScript 7 package has no JS compiler API); type-only imports count:
 * a core module that names an adapter's type still depends on it.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, posix, relative, sep } from "node:path";

/**
 * The core: rules, models and the ports they define. No `@azure/*`, no adapter, no I/O edges.
 * A directory ends in "/"; a file is named without its extension.
 */
export const CORE = [
  "src/errors",
  "src/maskinporten-error",
  "src/rules",
  "src/retry",
  "src/fetch-failure",
  "src/logging",
  "src/config/",
  "src/grant/",
  "src/renewal/",
  "src/token-store/",
  "src/http/",
  "src/customers/",
  "src/metrics",
  "src/monitoring/",
  "src/signing/", // the signer port and the in-process key signer (the CLI and tests sign with it)
  "src/keys/", // registration rules, plans and ports; except the self-service HTTP client (below)
  "src/certificate/", // DER, CSR and certificate parsing and policy; except the Key Vault adapter (below)
  "src/auth/", // except its JWKS fetcher, an adapter (below)
] as const;

/**
 * The adapters and the composition: they speak to Key Vault, Maskinporten, Altinn and Entra, or
 * wire everything together. The core may not import them; they import the core.
 */
export const ADAPTERS = [
  "src/keyvault/",
  "src/maskinporten/",
  "src/altinn/",
  "src/auth/entra-key-set",
  "src/keys/self-service-client",
  "src/certificate/keyvault-pending",
  "src/app/",
  "src/broker",
  "src/cli/",
] as const;

/** src/types holds ambient declarations only (.d.ts), which the check does not read. */

/** Development-only trees: what ships (src/, functions/, bin/) never imports them. */
export const DEVELOPMENT = ["sandbox/", "test/", "bench/", "soak/"] as const;
export const SHIPPED = ["src/", "functions/", "bin/"] as const;

/** `from` may import `to` although a rule forbids it: a known debt, with the reason it remains. */
export interface AllowedViolation {
  from: string;
  to: string;
  why: string;
}

export interface Violation {
  file: string;
  specifier: string;
  rule: string;
}

const SOURCE = /\.(?:ts|mts|cts|js|mjs|cjs)$/;
const SKIPPED_DIRS = new Set(["node_modules", "dist", ".build", ".git", ".sandbox", ".cache", "coverage"]);

// `import … from "x"`, `export … from "x"` (braces may span lines), `import "x"`, `import("x")`.
const STATIC_IMPORT = /^[ \t]*(?:import|export)\s+(?:type\s+)?[\w$*\s{},]*?\s*from\s*["']([^"']+)["']/gm;
const SIDE_EFFECT_IMPORT = /^[ \t]*import\s*["']([^"']+)["']/gm;
const DYNAMIC_IMPORT = /\bimport\(\s*["']([^"']+)["']\s*\)/g;

/** The module specifiers a source text imports, in order of appearance per kind. */
export function importSpecifiers(text: string): string[] {
  const found: string[] = [];
  for (const pattern of [STATIC_IMPORT, SIDE_EFFECT_IMPORT, DYNAMIC_IMPORT]) {
    for (const match of text.matchAll(pattern)) found.push(match[1]!);
  }
  return found;
}

/** Every source file under `root`, as a repository-relative posix path. */
export function sourceFiles(root: string, dir = root): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      // test/dotnet/*/bin and obj hold .NET build output, not sources.
      const dotnetOutput = (entry.name === "bin" || entry.name === "obj") && dir.includes(`${sep}dotnet${sep}`);
      if (!SKIPPED_DIRS.has(entry.name) && !dotnetOutput) {
        files.push(...sourceFiles(root, join(dir, entry.name)));
      }
    } else if (SOURCE.test(entry.name) && !entry.name.endsWith(".d.ts")) {
      files.push(relative(root, join(dir, entry.name)).split(sep).join("/"));
    }
  }
  return files.sort();
}

function withoutExtension(path: string): string {
  return path.replace(SOURCE, "");
}

function within(path: string, areas: readonly string[]): boolean {
  const bare = withoutExtension(path);
  return areas.some((area) => (area.endsWith("/") ? bare.startsWith(area) : bare === area));
}

function isCore(path: string): boolean {
  return within(path, CORE) && !within(path, ADAPTERS);
}

/** The repository path a relative specifier names; undefined for a package or `node:` import. */
function resolveSpecifier(file: string, specifier: string): string | undefined {
  if (!specifier.startsWith(".")) return undefined;
  return posix.normalize(posix.join(posix.dirname(file), specifier));
}

/** The rules one import breaks (none for an allowed one). */
export function brokenRules(file: string, specifier: string): string[] {
  const target = resolveSpecifier(file, specifier);
  const rules: string[] = [];
  if (target !== undefined && within(target, ["sandbox/"]) && !within(file, DEVELOPMENT)) {
    rules.push("only sandbox/, test/, bench/ and soak/ import sandbox/");
  }
  if (target !== undefined && within(file, SHIPPED) && within(target, DEVELOPMENT)) {
    rules.push("what ships (src/, functions/, bin/) never imports sandbox/, test/, bench/ or soak/");
  }
  if (target !== undefined && within(file, ["src/"]) && within(target, ["functions/"])) {
    rules.push("src/ never imports functions/ (function files are the thin edge)");
  }
  if (isCore(file)) {
    if (specifier.startsWith("@azure/")) rules.push("the core never imports @azure/*");
    if (target !== undefined && within(target, ADAPTERS)) rules.push("the core never imports an adapter");
  }
  return rules;
}

/** Every import under `root` that breaks a rule and is not in `allowed`. */
export function findViolations(root: string, allowed: readonly AllowedViolation[] = []): Violation[] {
  const violations: Violation[] = [];
  for (const file of sourceFiles(root)) {
    const text = readFileSync(join(root, file), "utf8");
    for (const specifier of importSpecifiers(text)) {
      const target = resolveSpecifier(file, specifier) ?? specifier;
      if (allowed.some((a) => a.from === withoutExtension(file) && a.to === withoutExtension(target))) continue;
      for (const rule of brokenRules(file, specifier)) violations.push({ file, specifier, rule });
    }
  }
  return violations;
}

/** Allow-list entries that no import needs any more: remove them. */
export function staleAllowances(root: string, allowed: readonly AllowedViolation[]): AllowedViolation[] {
  const used = new Set<string>();
  for (const file of sourceFiles(root)) {
    const text = readFileSync(join(root, file), "utf8");
    for (const specifier of importSpecifiers(text)) {
      if (brokenRules(file, specifier).length === 0) continue;
      const target = resolveSpecifier(file, specifier) ?? specifier;
      used.add(`${withoutExtension(file)} -> ${withoutExtension(target)}`);
    }
  }
  return allowed.filter((a) => !used.has(`${a.from} -> ${a.to}`));
}

export function repositoryRoot(): string {
  return join(dirname(new URL(import.meta.url).pathname), "..", "..");
}
