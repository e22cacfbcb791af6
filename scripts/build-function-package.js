#!/usr/bin/env node
/**
 * Builds the function app package that `azd deploy` ships: dist/package/ (azure.yaml `dist`).
 *
 *   functions.js       every file in functions/ and what it imports, bundled by esbuild (ESM)
 *   chunk-*.js         code loaded on first use only (@azure/identity: the first token request)
 *   host.json          the Functions host configuration, as in the repository
 *   package.json       { type: module, main: functions.js }, no dependencies: nothing to install
 *
 * `@azure/functions-core` stays external: the Node worker provides it by intercepting require().
 * Nothing from sandbox/, bench/, soak/, test/ or scripts/ is reachable from functions/, so none of
 * it can end up in the bundle; test/infra/function-package.test.ts checks the package's contents.
 *
 * Usage: node scripts/build-function-package.js [--outdir <dir>]   (npm run build runs it)
 */
import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** The function files: each registers its functions with @azure/functions when imported. */
export function functionSources() {
  return readdirSync(join(root, "functions"))
    .filter((name) => name.endsWith(".ts") && !name.endsWith(".d.ts"))
    .sort()
    .map((name) => join(root, "functions", name));
}

export async function buildFunctionPackage(outdir = join(root, "dist", "package")) {
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const project = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const result = await build({
    stdin: {
      contents: functionSources()
        .map((file) => `import ${JSON.stringify(file)};`)
        .join("\n"),
      resolveDir: root,
      sourcefile: "functions-entry.js",
      loader: "js",
    },
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node22",
    outdir,
    entryNames: "functions",
    chunkNames: "chunk-[hash]",
    // Whitespace and syntax only: stack traces in Application Insights keep readable names.
    minifyWhitespace: true,
    minifySyntax: true,
    keepNames: true,
    legalComments: "none",
    external: ["@azure/functions-core"],
    // The CommonJS packages inside require() Node built-ins and @azure/functions-core; an ES module
    // has no require, so every output file gets one (the worker's interception still applies).
    banner: { js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);' },
    metafile: true,
    logLevel: "error",
  });
  copyFileSync(join(root, "host.json"), join(outdir, "host.json"));
  const manifest = {
    name: project.name,
    version: project.version,
    description: project.description,
    license: project.license,
    private: true,
    type: "module",
    main: "functions.js",
  };
  writeFileSync(join(outdir, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  return { outdir, metafile: result.metafile };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf("--outdir");
  const outdir = at > 0 ? resolve(process.argv[at + 1] ?? "") : undefined;
  const { outdir: written } = await buildFunctionPackage(outdir);
  const files = readdirSync(written).sort();
  process.stdout.write(`function package: ${written} (${files.join(", ")})\n`);
}
