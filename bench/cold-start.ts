/**
 * Figure 4: cold start and deployed size. Each measurement is a fresh Node process importing an
 * app's entry (see import-timer.ts): the package azd deploys (dist/package, built here into a temp
 * folder by the same scripts/build-function-package.js that `npm run build` runs, entered through its
 * package.json `main` as the worker does), the unbundled dist/functions that shipped before, and a
 * bare @azure/functions app with one HTTP function. Runs alternate so that machine noise hits all
 * three alike; medians are reported.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
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
  /** The deployed package: dist/package's `main`. */
  shipped: StartFigures;
  /** dist/functions/*.js with node_modules, as deployed before the bundle. */
  unbundled: StartFigures;
  bare: StartFigures;
  /**
   * The metrics chunk (OpenTelemetry SDK + Application Insights exporter) on its own, as runtime.ts
   * loads it in the background after the first invocation (with the chunks it shares, e.g. the
   * Azure core pipeline, which the runtime has loaded by then: an upper bound).
   */
  telemetry: StartFigures;
  /** The entry and the metrics chunk together: what a static import of the exporter would cost at cold start. */
  eagerTelemetry: StartFigures;
  /** Every file of the deployed package, bytes, and how many files. */
  shippedBytes: number;
  shippedFiles: number;
  /** Compiled dist/functions + dist/src (JS and source maps), bytes. */
  distBytes: number;
  /** node_modules of the production dependency tree (package-lock.json, dev packages left out), bytes. */
  productionModulesBytes: number;
  productionPackages: number;
}

export async function benchColdStart(options: { runs: number }): Promise<ColdStartFigures> {
  const unbundled = readdirSync(join(DIST, "functions"))
    .filter((name) => name.endsWith(".js"))
    .map((name) => join(DIST, "functions", name));
  const bareApp = join(DIST, "bench", "bare-function-app.js");
  const folder = mkdtempSync(join(tmpdir(), "broker-package-"));
  try {
    execFileSync(process.execPath, [join(PROJECT, "scripts", "build-function-package.js"), "--outdir", folder], { stdio: "ignore" });
    const manifest = JSON.parse(readFileSync(join(folder, "package.json"), "utf8")) as { main: string };
    const shipped = join(folder, manifest.main);
    const telemetryChunk = readdirSync(folder)
      .filter((name) => name.startsWith("chunk-"))
      .map((name) => join(folder, name))
      .find((path) => readFileSync(path, "utf8").includes("AzureMonitorMetricExporter"));
    if (!telemetryChunk) throw new Error("no chunk of the package holds the Application Insights exporter");

    const samples = {
      shipped: [] as StartFigures[],
      unbundled: [] as StartFigures[],
      bare: [] as StartFigures[],
      telemetry: [] as StartFigures[],
      eagerTelemetry: [] as StartFigures[],
    };
    for (let i = 0; i < options.runs; i++) {
      samples.shipped.push(timeImport([shipped]));
      samples.unbundled.push(timeImport(unbundled));
      samples.bare.push(timeImport([bareApp]));
      samples.telemetry.push(timeImport([telemetryChunk]));
      samples.eagerTelemetry.push(timeImport([shipped, telemetryChunk]));
    }
    const summary = (list: StartFigures[]): StartFigures => ({
      importMs: median(list.map((s) => s.importMs)),
      readyMs: median(list.map((s) => s.readyMs)),
    });
    const production = productionModules();
    return {
      runs: options.runs,
      shipped: summary(samples.shipped),
      unbundled: summary(samples.unbundled),
      bare: summary(samples.bare),
      telemetry: summary(samples.telemetry),
      eagerTelemetry: summary(samples.eagerTelemetry),
      shippedBytes: folderBytes(folder),
      shippedFiles: readdirSync(folder, { recursive: true }).length,
      distBytes: folderBytes(join(DIST, "functions")) + folderBytes(join(DIST, "src")),
      productionModulesBytes: production.bytes,
      productionPackages: production.packages,
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
