/**
 * Figure 4: cold start and deployed size. Each measurement is a fresh Node process importing an
 * app's entry (see import-timer.ts): the broker's built function files, the same bundled into one
 * file by esbuild, and a bare @azure/functions app with one HTTP function. Runs alternate so that
 * machine noise hits all three alike; medians are reported.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { build, type Plugin } from "esbuild";
import { median } from "./renewal.js";

const PROJECT = resolve(import.meta.dirname, "../..");
const DIST = join(PROJECT, "dist");

export interface StartFigures {
  /** Median time to import the entry (ms). */
  importMs: number;
  /** Median time from process start until the entry is imported (ms), Node's boot included. */
  readyMs: number;
}

export interface ColdStartFigures {
  runs: number;
  broker: StartFigures;
  bundled: StartFigures;
  /**
   * What-if: the bundle with @azure/identity (and MSAL under it) replaced by an empty stub, i.e.
   * what a credential without @azure/identity would leave. Not a deployable build.
   */
  bundledWithoutIdentity: StartFigures;
  bare: StartFigures;
  /** Compiled dist/functions + dist/src (JS and source maps), bytes. */
  distBytes: number;
  /** node_modules of the production dependency tree (package-lock.json, dev packages left out), bytes. */
  productionModulesBytes: number;
  productionPackages: number;
  /** The esbuild bundle: everything the functions need in one file, bytes. */
  bundleBytes: number;
  bundleWithoutIdentityBytes: number;
}

export async function benchColdStart(options: { runs: number }): Promise<ColdStartFigures> {
  const entries = readdirSync(join(DIST, "functions"))
    .filter((name) => name.endsWith(".js"))
    .map((name) => join(DIST, "functions", name));
  const bareApp = join(DIST, "bench", "bare-function-app.js");
  const folder = mkdtempSync(join(tmpdir(), "broker-bundle-"));
  try {
    const bundle = join(folder, "functions.mjs");
    await bundleFunctions(entries, bundle);
    const bundleWithoutIdentity = join(folder, "functions-without-identity.mjs");
    await bundleFunctions(entries, bundleWithoutIdentity, { stubIdentity: true });

    const samples = { broker: [] as StartFigures[], bundled: [] as StartFigures[], withoutIdentity: [] as StartFigures[], bare: [] as StartFigures[] };
    for (let i = 0; i < options.runs; i++) {
      samples.broker.push(timeImport(entries));
      samples.bundled.push(timeImport([bundle]));
      samples.withoutIdentity.push(timeImport([bundleWithoutIdentity]));
      samples.bare.push(timeImport([bareApp]));
    }
    const summary = (list: StartFigures[]): StartFigures => ({
      importMs: median(list.map((s) => s.importMs)),
      readyMs: median(list.map((s) => s.readyMs)),
    });
    const production = productionModules();
    return {
      runs: options.runs,
      broker: summary(samples.broker),
      bundled: summary(samples.bundled),
      bundledWithoutIdentity: summary(samples.withoutIdentity),
      bare: summary(samples.bare),
      distBytes: folderBytes(join(DIST, "functions")) + folderBytes(join(DIST, "src")),
      productionModulesBytes: production.bytes,
      productionPackages: production.packages,
      bundleBytes: statSync(bundle).size,
      bundleWithoutIdentityBytes: statSync(bundleWithoutIdentity).size,
    };
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

function timeImport(modules: string[]): StartFigures {
  // stderr ignored: outside the Functions host, @azure/functions warns that it runs in test mode.
  const output = execFileSync(process.execPath, [join(DIST, "bench", "import-timer.js"), ...modules], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });
  return JSON.parse(output.trim().split("\n").at(-1) ?? "{}") as StartFigures;
}

/**
 * One ESM file with every dependency inlined. The CommonJS packages inside call require() for
 * Node built-ins, which an ES module lacks: the banner provides one. `@azure/functions-core` is
 * the worker's own module and stays external.
 */
async function bundleFunctions(entries: string[], outfile: string, options: { stubIdentity?: boolean } = {}): Promise<void> {
  const stdin = entries.map((entry) => `import ${JSON.stringify(entry)};`).join("\n");
  const entry = join(tmpdir(), `broker-bundle-entry-${process.pid}.mjs`);
  writeFileSync(entry, stdin);
  try {
    await build({
      entryPoints: [entry],
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node22",
      minify: true,
      outfile,
      external: ["@azure/functions-core"],
      banner: { js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);' },
      logLevel: "error",
      plugins: options.stubIdentity ? [identityStub] : [],
    });
  } finally {
    rmSync(entry, { force: true });
  }
}

const identityStub: Plugin = {
  name: "identity-stub",
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^@azure\/identity$/ }, () => ({ path: "identity-stub", namespace: "identity-stub" }));
    pluginBuild.onLoad({ filter: /.*/, namespace: "identity-stub" }, () => ({
      contents: "export class DefaultAzureCredential {} export class ManagedIdentityCredential {}",
      loader: "js",
    }));
  },
};

/** The packages `npm install --omit=dev` would install, from the lock file, and their size here. */
function productionModules(): { bytes: number; packages: number } {
  const lock = JSON.parse(readFileSync(join(PROJECT, "package-lock.json"), "utf8")) as {
    packages: Record<string, { dev?: boolean; devOptional?: boolean; optional?: boolean }>;
  };
  let bytes = 0;
  let packages = 0;
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === "" || entry.dev || entry.devOptional) continue;
    const folder = join(PROJECT, path);
    try {
      // Nested node_modules are entries of their own: count each package's files once.
      bytes += folderBytes(folder, (name) => name !== "node_modules");
      packages++;
    } catch {
      // An optional package for another platform is in the lock file but not on disk.
    }
  }
  return { bytes, packages };
}

function folderBytes(folder: string, include: (name: string) => boolean = () => true): number {
  let total = 0;
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    if (!include(entry.name)) continue;
    const path = join(folder, entry.name);
    if (entry.isDirectory()) total += folderBytes(path, include);
    else if (entry.isFile()) total += statSync(path).size;
  }
  return total;
}
