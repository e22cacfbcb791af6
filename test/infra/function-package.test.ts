/**
 * The package `azd deploy` ships is the esbuild bundle, and it starts the way the worker starts it.
 *
 * How azd packages this service (Azure/azure-dev, cli/azd/pkg/project): framework_service_node.go
 * runs `npm run build` and takes the folder `dist` names in azure.yaml; project_utils.go
 * (createDeployableZip) zips that folder, leaving out `.azure/`, `.funcignore`, `local.settings.json`
 * and what a `.funcignore` in that folder excludes; service_target_functionapp.go sends it to Flex
 * Consumption with remote build off when azure.yaml says `remoteBuild: false` (which azd refuses if
 * the project's .funcignore excludes node_modules). The test builds the package with the script
 * `npm run build` runs, lists what azd would zip, and loads it as the Node worker does.
 */
import { execFile } from "node:child_process";
import { existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { builtinModules } from "node:module";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Metafile } from "esbuild";

const run = promisify(execFile);
const root = new URL("../../", import.meta.url).pathname;
const read = (path: string) => readFileSync(join(root, path), "utf8");

/** The files azd's createDeployableZip puts in the zip for a `host: function` service with remote build off. */
function azdZipEntries(folder: string): string[] {
  const entries: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const isDir = (lstatSync(path).isSymbolicLink() ? statSync(path) : lstatSync(path)).isDirectory();
      if (isDir && name === ".azure") continue;
      if (!isDir && (name === ".funcignore" || name === "local.settings.json")) continue;
      if (isDir) walk(path);
      else entries.push(relative(folder, path));
    }
  };
  walk(folder);
  return entries;
}

/** Values of the `api` service in azure.yaml (flat keys only, which is all the file has). */
function azureYamlService(): Record<string, string> {
  const text = read("azure.yaml");
  const block = /^ {2}api:\n((?: {4}.*\n?)+)/m.exec(text)?.[1] ?? "";
  return Object.fromEntries([...block.matchAll(/^ {4}(\w+): *(.*?)\s*$/gm)].map((m) => [m[1]!, m[2]!]));
}

describe("the deployed function package", () => {
  let folder: string;
  let metafile: Metafile;

  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), "function-package-"));
    // The same script `npm run build` runs (checked below), in a child process as npm runs it.
    const script = `import { buildFunctionPackage } from ${JSON.stringify(join(root, "scripts/build-function-package.js"))};
      const { metafile } = await buildFunctionPackage(${JSON.stringify(folder)});
      process.stdout.write(JSON.stringify(metafile));`;
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], { cwd: root, maxBuffer: 64 << 20 });
    metafile = JSON.parse(stdout) as Metafile;
  }, 60_000);

  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it("is what azure.yaml tells azd to deploy, built by npm run build, with remote build off", () => {
    const service = azureYamlService();
    expect(service).toMatchObject({ project: ".", language: "js", host: "function", dist: "dist/package", remoteBuild: "false" });
    const scripts = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts;
    const build = scripts.build ?? "";
    const buildFunctions = scripts["build:functions"] ?? "";
    expect(`${build} ${build.includes("build:functions") ? buildFunctions : ""}`).toContain("node scripts/build-function-package.js");
    // azd refuses `remoteBuild: false` when the project's .funcignore excludes node_modules.
    if (existsSync(join(root, ".funcignore"))) expect(read(".funcignore")).not.toMatch(/^\/?node_modules\/?$/m);
  });

  it("holds the bundle, host.json and a dependency-free package.json, and nothing else", () => {
    const entries = azdZipEntries(folder);
    const chunks = entries.filter((name) => /^chunk-[A-Z0-9]+\.js$/.test(name));
    expect(entries.filter((name) => !chunks.includes(name))).toEqual(["functions.js", "host.json", "package.json"]);
    expect(chunks.length).toBeGreaterThan(0);
    expect(readFileSync(join(folder, "host.json"), "utf8")).toBe(read("host.json"));
    const manifest = JSON.parse(readFileSync(join(folder, "package.json"), "utf8")) as Record<string, unknown>;
    expect(manifest).toMatchObject({ type: "module", main: "functions.js" });
    expect(Object.keys(manifest).filter((key) => /dependencies|scripts/i.test(key))).toEqual([]);
    const bytes = entries.reduce((sum, name) => sum + statSync(join(folder, name)).size, 0);
    expect(bytes).toBeLessThan(4 << 20);
  });

  it("bundles functions/ and src/ only from this repository, with @azure/functions-core left to the worker", () => {
    const inputs = Object.keys(metafile.inputs).filter((path) => !path.includes("node_modules/"));
    expect(inputs.filter((path) => !/^(functions|src)\//.test(path) && path !== "functions-entry.js")).toEqual([]);
    expect(inputs.some((path) => path.startsWith("functions/token.ts"))).toBe(true);
    const external = Object.values(metafile.outputs).flatMap((output) => output.imports.filter((i) => i.external).map((i) => i.path));
    const builtin = (path: string) => path.startsWith("node:") || builtinModules.includes(path);
    expect([...new Set(external)].filter((path) => !builtin(path))).toEqual(["@azure/functions-core"]);
  });

  it("loads neither the broker's runtime, the Key Vault SDKs nor @azure/identity when the worker imports the entry", () => {
    const outputs = metafile.outputs;
    const key = (file: string) => Object.keys(outputs).find((path) => path.endsWith(`/${file}`))!;
    const loadedAtImport = new Set<string>();
    const visit = (path: string) => {
      if (loadedAtImport.has(path)) return;
      loadedAtImport.add(path);
      for (const i of outputs[path]!.imports) if (i.kind === "import-statement" && !i.external) visit(i.path);
    };
    visit(key("functions.js"));
    const staticInputs = [...loadedAtImport].flatMap((path) => Object.keys(outputs[path]!.inputs));
    expect(
      staticInputs.filter((input) => /node_modules\/@azure\/(identity|msal-|keyvault-)/.test(input) || input === "src/app/runtime.ts"),
    ).toEqual([]);
    expect(staticInputs).toContain("functions/token.ts");
    const allInputs = Object.values(outputs).flatMap((output) => Object.keys(output.inputs));
    for (const lazy of ["node_modules/@azure/identity/", "node_modules/@azure/keyvault-keys/", "src/app/runtime.ts"]) {
      expect(
        allInputs.some((input) => input.includes(lazy)),
        lazy,
      ).toBe(true);
    }
  });

  it("loads OpenTelemetry and the Application Insights exporter after the runtime, in the background, never with it", () => {
    const outputs = metafile.outputs;
    const staticClosure = (start: string) => {
      const seen = new Set<string>();
      const visit = (path: string) => {
        if (seen.has(path)) return;
        seen.add(path);
        for (const i of outputs[path]!.imports) if (i.kind === "import-statement" && !i.external) visit(i.path);
      };
      visit(start);
      return [...seen].flatMap((path) => Object.keys(outputs[path]!.inputs));
    };
    const telemetry = (input: string) => /node_modules\/(@opentelemetry|@azure\/monitor-opentelemetry-exporter)\//.test(input);
    const entry = Object.keys(outputs).find((path) => path.endsWith("/functions.js"))!;
    const runtimeChunk = Object.keys(outputs).find((path) => Object.keys(outputs[path]!.inputs).includes("src/app/runtime.ts"))!;
    expect(staticClosure(entry).filter(telemetry)).toEqual([]);
    expect(staticClosure(runtimeChunk).filter(telemetry)).toEqual([]);
    const exporterChunk = Object.keys(outputs).find((path) =>
      Object.keys(outputs[path]!.inputs).includes("src/app/azure-monitor-metrics.ts"),
    )!;
    expect(staticClosure(exporterChunk).some((input) => input.includes("node_modules/@azure/monitor-opentelemetry-exporter/"))).toBe(true);
    expect(staticClosure(exporterChunk).some((input) => input.includes("node_modules/@opentelemetry/sdk-metrics/"))).toBe(true);
  });

  it("registers token, health and renew when Node 22 loads it as the Functions worker does", async () => {
    const { stdout } = await run(process.execPath, [join(root, "test/infra/worker-loader.mjs"), folder], {
      cwd: tmpdir(),
      env: { PATH: process.env.PATH ?? "" },
    });
    const loaded = JSON.parse(stdout.trim().split("\n").at(-1)!) as {
      node: string;
      files: string[];
      models: { name: string }[];
      registered: { name: string; bindings: string[] }[];
    };
    expect(loaded.node).toMatch(/^22\./);
    expect(loaded.files).toEqual(["functions.js"]);
    expect(loaded.models.map((m) => m.name)).toContain("@azure/functions");
    expect(loaded.registered).toEqual([
      { name: "health", bindings: ["http:out", "httpTrigger:in"] },
      { name: "renew", bindings: ["timerTrigger:in"] },
      { name: "token", bindings: ["http:out", "httpTrigger:in"] },
    ]);
  });
});

describe("npm run build (tsconfig.json)", () => {
  it("compiles what ships only: functions/ and src/, never sandbox/, test/, bench/ or soak/", async () => {
    // tsc follows imports, so listing the compiled files also catches a shipped file importing a dev tree.
    const tsc = join(root, "node_modules/typescript/bin/tsc");
    const { stdout } = await run(process.execPath, [tsc, "-p", join(root, "tsconfig.json"), "--listFilesOnly"], {
      cwd: root,
      maxBuffer: 16 << 20,
    });
    const compiled = stdout
      .split("\n")
      .filter((line) => line.startsWith(root) && !line.includes("/node_modules/"))
      .map((line) => relative(root, line.trim()));
    expect(compiled.length).toBeGreaterThan(50);
    expect(compiled.filter((file) => !/^(functions|src)\//.test(file))).toEqual([]);
  }, 60_000);
});
