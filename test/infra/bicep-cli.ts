/**
 * The real Bicep compiler, run on a copy of infra/ (test/infra/bicep-compile.test.ts).
 *
 * One `bicep build main.bicep` compiles main.bicep and every module and type file it references,
 * and runs the linter with infra/bicepconfig.json on all of them: one .NET process start instead of
 * one per file. Diagnostics come back as SARIF.
 *
 * app/entra.bicep uses the Microsoft Graph extension, which Bicep restores from a container
 * registry this machine cannot reach; the copy gets a stand-in generated from the real file's
 * `param` declarations (verbatim, decorators included) and `output` names and types.
 */
import { execFile } from "node:child_process";
import { accessSync, constants, cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { delimiter, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { stripComments } from "./bicep-text.js";

const run = promisify(execFile);

export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
export const infraDir = join(repoRoot, "infra");
/** Where scripts/install-bicep.sh links the pinned CLI. */
export const cachedCli = join(repoRoot, ".cache", "bicep", "bicep");
/** The module that needs the Graph extension and is replaced by a stand-in. */
export const graphModule = "app/entra.bicep";

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** BICEP_CLI, else the cached pinned CLI, else `bicep` on PATH, else the one `az bicep install` puts in ~/.azure/bin. */
export function findBicepCli(env: NodeJS.ProcessEnv = process.env): { path?: string | undefined; looked: string[] } {
  const candidates = [
    ...(env.BICEP_CLI ? [resolve(env.BICEP_CLI)] : []),
    cachedCli,
    ...(env.PATH ?? "")
      .split(delimiter)
      .filter(Boolean)
      .map((dir) => join(dir, "bicep")),
    join(homedir(), ".azure", "bin", "bicep"),
  ];
  return { path: candidates.find(executable), looked: candidates };
}

export interface Diagnostic {
  file: string;
  line: number;
  level: "error" | "warning" | "note" | "none";
  code: string;
  message: string;
}

export interface BuildResult {
  ok: boolean;
  diagnostics: Diagnostic[];
  /** The compiled ARM template (absent when the build failed). */
  template?: ArmTemplate | undefined;
}

export interface ArmParameter {
  type: string;
  defaultValue?: unknown;
  allowedValues?: unknown[];
  metadata?: { description?: string };
}

export interface ArmTemplate {
  parameters: Record<string, ArmParameter>;
  outputs: Record<string, { type: string }>;
  definitions?: Record<string, { properties?: Record<string, { metadata?: { description?: string } }> }>;
}

interface Sarif {
  runs: {
    results: {
      ruleId: string;
      level?: Diagnostic["level"];
      message: { text: string };
      locations?: { physicalLocation: { artifactLocation: { uri: string }; region?: { startLine?: number } } }[];
    }[];
  }[];
}

/** Builds `main.bicep` in `dir` (a copy of infra/) and returns every diagnostic with its file relative to `dir`. */
export async function buildMain(cli: string, dir: string): Promise<BuildResult> {
  const outfile = join(dir, "main.json");
  const args = ["build", join(dir, "main.bicep"), "--outfile", outfile, "--no-restore", "--diagnostics-format", "sarif"];
  let stderr: string;
  let ok = true;
  try {
    ({ stderr } = await run(cli, args, { env: { ...process.env, BICEP_TELEMETRY_DISABLED: "1" }, maxBuffer: 16 << 20 }));
  } catch (error) {
    const failed = error as { stderr?: string; code?: number };
    if (typeof failed.stderr !== "string" || !failed.stderr.includes('"runs"')) throw error;
    stderr = failed.stderr;
    ok = false;
  }
  const sarif = JSON.parse(stderr.slice(stderr.indexOf("{"))) as Sarif;
  const diagnostics = sarif.runs.flatMap((r) =>
    r.results.map((result) => {
      const location = result.locations?.[0]?.physicalLocation;
      const uri = location?.artifactLocation.uri ?? "";
      const file = uri.startsWith("file://") ? fileURLToPath(uri) : resolve(dir, uri);
      return {
        file: relative(dir, file),
        line: location?.region?.startLine ?? 0,
        level: result.level ?? "warning",
        code: result.ruleId,
        message: result.message.text.replace(/\s*\[https:\/\/aka\.ms\/[^\]]*\]$/, ""),
      };
    }),
  );
  const template = ok ? (JSON.parse(readFileSync(outfile, "utf8")) as ArmTemplate) : undefined;
  return { ok, diagnostics, template };
}

/** Top-level declarations of a Bicep file, each with the decorator lines above it. */
function topLevelStatements(source: string): { keyword: string; text: string }[] {
  const statements: { keyword: string; text: string }[] = [];
  let decorators: string[] = [];
  let current: { keyword: string; lines: string[] } | undefined;
  let inDecorator = false;
  const flush = () => {
    if (current) statements.push({ keyword: current.keyword, text: current.lines.join("\n") });
    current = undefined;
  };
  for (const line of stripComments(source).split("\n")) {
    if (/^\S/.test(line)) {
      if (line.startsWith("@")) {
        flush();
        decorators.push(line);
        inDecorator = true;
        continue;
      }
      const keyword = /^(\w+)\b/.exec(line)?.[1];
      if (keyword && !/^[\]})]/.test(line)) {
        flush();
        current = { keyword, lines: [...decorators, line] };
        decorators = [];
        inDecorator = false;
        continue;
      }
    }
    if (inDecorator) decorators.push(line);
    else current?.lines.push(line);
  }
  flush();
  return statements;
}

/** `param` declarations and `output` names/types of a Bicep file. */
export function interfaceOf(source: string): { params: { name: string; text: string }[]; outputs: { name: string; type: string }[] } {
  const statements = topLevelStatements(source);
  const params = statements
    .filter((s) => s.keyword === "param")
    .map((s) => ({ name: /^param\s+(\w+)/m.exec(s.text)![1]!, text: s.text.trimEnd() }));
  const outputs = statements
    .filter((s) => s.keyword === "output")
    .map((s) => {
      const [, name, type] = /^output\s+(\w+)\s+(\w+)/m.exec(s.text)!;
      return { name: name!, type: type! };
    });
  return { params, outputs };
}

/**
 * A module with the same parameters (declarations copied verbatim) and outputs (same names and
 * types) as `source`, and nothing else: it compiles without the extension `source` needs, and is
 * clean under the project's linter rules (every parameter is used, no output is a literal).
 */
export function standInModule(source: string): string {
  const { params, outputs } = interfaceOf(source);
  if (params.length === 0 || outputs.length === 0) throw new Error("stand-in: no params or outputs found");
  const valueOf: Record<string, string> = {
    string: "string(inputs)",
    int: "length(inputs)",
    bool: "empty(inputs)",
    array: "inputs",
    object: "{ inputs: inputs }",
  };
  const lines = [
    "// Generated stand-in (test/infra/bicep-cli.ts): same params and outputs, no resources.",
    ...params.map((p) => p.text),
    "",
    `var inputs = [\n${params.map((p) => `  ${p.name}`).join("\n")}\n]`,
    "",
    ...outputs.map((o) => {
      const value = valueOf[o.type];
      if (!value) throw new Error(`stand-in: output ${o.name} has type ${o.type}, which the stand-in cannot produce`);
      return `output ${o.name} ${o.type} = ${value}`;
    }),
  ];
  return lines.join("\n") + "\n";
}

/**
 * A temporary copy of infra/ with the Graph module replaced by its stand-in; `edit` may change files
 * first. With `graphExtension` (a local extension .tgz) the real Graph module stays, and the copy's
 * bicepconfig.json points the extension at that file instead of the registry.
 */
export function infraCopy(
  edit?: (files: { read(path: string): string; write(path: string, text: string): void }) => void,
  options: { graphExtension?: string } = {},
): {
  dir: string;
  remove(): void;
} {
  const dir = mkdtempSync(join(tmpdir(), "bicep-infra-"));
  cpSync(infraDir, dir, { recursive: true });
  const files = {
    read: (path: string) => readFileSync(join(dir, path), "utf8"),
    write: (path: string, text: string) => writeFileSync(join(dir, path), text),
  };
  if (options.graphExtension) {
    const config = files.read("bicepconfig.json");
    const pointed = config.replace(/("microsoftGraphV1":\s*)"[^"]*"/, `$1${JSON.stringify(resolve(options.graphExtension))}`);
    if (pointed === config) throw new Error("bicepconfig.json: no microsoftGraphV1 extension to point at the local file");
    files.write("bicepconfig.json", pointed);
  } else {
    files.write(graphModule, standInModule(readFileSync(join(infraDir, graphModule), "utf8")));
  }
  edit?.(files);
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Every .bicep file under infra/, relative to it. */
export function bicepFiles(): string[] {
  return readdirSync(infraDir, { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".bicep"))
    .map((name) => name.split("\\").join("/"))
    .sort();
}
