#!/usr/bin/env node
/**
 * Bundles the `maskinporten-token` CLI into cli/dist/ for the published package (cli/package.json):
 * no runtime dependencies, so it installs in a blink and offline. Each signing path's code is a
 * chunk of its own, loaded by the dynamic import() that chooses it: a keystore run never loads the
 * Azure SDK, a JKS run never loads node-forge. Plain JavaScript, so that any Node with npm can run
 * it from `npm pack` (prepack), whatever `node` is first on the PATH.
 *
 * Also writes cli/dist/THIRD-PARTY-NOTICES.txt: the licence of every package inlined in the bundle.
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { build } from "esbuild";

const PROJECT = resolve(import.meta.dirname, "..");
const OUT = join(PROJECT, "cli", "dist");

rmSync(OUT, { recursive: true, force: true });
const result = await build({
  absWorkingDir: PROJECT,
  entryPoints: { "maskinporten-token": "src/cli/main.ts" },
  bundle: true,
  splitting: true,
  platform: "node",
  format: "esm",
  target: "node22",
  outdir: OUT,
  chunkNames: "chunks/[name]-[hash]",
  minify: true,
  // Error classes and messages keep their names.
  keepNames: true,
  metafile: true,
  // Bundled CommonJS (node-forge, parts of the Azure SDK) calls require() for Node built-ins, which an
  // ES module lacks: each output file gets one.
  banner: { js: 'import { createRequire as __cr } from "node:module"; const require = __cr(import.meta.url);' },
  logLevel: "warning",
});

writeFileSync(join(OUT, "THIRD-PARTY-NOTICES.txt"), thirdPartyNotices(Object.keys(result.metafile.inputs)));
const files = Object.entries(result.metafile.outputs).map(([file, output]) => `${file} ${(output.bytes / 1024).toFixed(0)} KiB`);
process.stderr.write(`build-cli: ${files.join(", ")}\n`);

/** One section per package that has code in the bundle: name, version, licence text. */
function thirdPartyNotices(inputs) {
  const packages = new Map();
  for (const input of inputs) {
    const parts = input.split(/[\\/]/);
    const at = parts.lastIndexOf("node_modules");
    if (at < 0) continue;
    const nameParts = parts[at + 1]?.startsWith("@") ? parts.slice(at + 1, at + 3) : parts.slice(at + 1, at + 2);
    const folder = join(PROJECT, ...parts.slice(0, at + 1), ...nameParts);
    if (!packages.has(folder)) packages.set(folder, nameParts.join("/"));
  }
  const sections = [...packages.entries()]
    .sort(([, a], [, b]) => a.localeCompare(b))
    .map(([folder, name]) => {
      const manifest = JSON.parse(readFileSync(join(folder, "package.json"), "utf8"));
      const licenceFile = existsSync(folder) ? readdirSync(folder).find((file) => /^(licen[cs]e|copying)/i.test(file)) : undefined;
      const text = licenceFile
        ? readFileSync(join(folder, licenceFile), "utf8").trim()
        : `License: ${manifest.license ?? "see the package"}`;
      return `${name} ${manifest.version} (${manifest.license ?? "unknown"})\n\n${text}\n`;
    });
  return `maskinporten-token bundles the following packages.\n\n${sections.join(`\n${"-".repeat(72)}\n\n`)}`;
}
