/**
 * Figure 5: `maskinporten-token` from process start to a printed token, against the Maskinporten
 * stand-in with a local PKCS#12 keystore. The CLI runs as users get it: cli/ packed with `npm pack`
 * (its prepack bundles it) and installed with `npm install -g --prefix <temp> --offline`, started
 * through the installed bin/. Beside it: `--help` of the same, the unbundled build in this clone
 * (`node bin/maskinporten-token.js`, which imports dist/src), and `node -e ""` (Node's own start
 * and exit). Runs alternate; medians are reported. The Java seed cannot be built on this machine
 * kind (Maven Central is unreachable), so its measured median is a constant: SEED_MEDIAN_MS.
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { startMaskinportenStandIn } from "../sandbox/maskinporten/index.js";
import { issueEnterpriseCertificate } from "../sandbox/pki.js";
import { makePkcs12Keystore } from "./keystore.js";
import { median } from "./renewal.js";

const PROJECT = resolve(import.meta.dirname, "../..");
const REPO_BIN = join(PROJECT, "bin", "maskinporten-token.js");
const ORGANISATION = "991825827";
// A throwaway password for a throwaway keystore in a private temp folder.
const PASSWORD = "bench-keystore-password";
/**
 * Digdir's jwt-grant-generator (Java) to a token, same stand-in, same keystore, 20 runs on this
 * machine kind: 1.1–2.4 s, median 1.55 s (issue #18).
 */
export const SEED_MEDIAN_MS = 1550;
/** The installed CLI and `node` must be the Node running the bench (22), not the PATH's first. */
const ENV = { ...process.env, NODE_OPTIONS: "", PATH: [dirname(process.execPath), process.env.PATH ?? ""].join(delimiter) };

export interface CliFigures {
  runs: number;
  /** Installed (packed, bundled) CLI to a token. */
  installedMs: number;
  /** Installed CLI, `--help`. */
  helpMs: number;
  /** `node bin/maskinporten-token.js` in this clone (tsc output, node_modules): to a token. */
  repoMs: number;
  nodeMs: number;
  tokensIssued: number;
  /** Seconds to pack and install the tarball (not a target; says whether install is instant). */
  installSeconds: number;
}

export async function benchCli(options: { runs: number }): Promise<CliFigures> {
  const pki = issueEnterpriseCertificate({ organisationNumber: ORGANISATION });
  // The CLI sends the leaf alone (as the seed tool does): the stand-in trusts the issuing CA.
  const maskinporten = await startMaskinportenStandIn({ trustedRoots: [pki.intermediate.certificateDer] });
  maskinporten.registerClient({ clientId: "bench-cli", organisationNumber: ORGANISATION, scopes: ["bench:scope"] });
  const folder = mkdtempSync(join(tmpdir(), "broker-bench-cli-"));
  try {
    writeFileSync(
      join(folder, "client.p12"),
      makePkcs12Keystore({ privateKey: pki.leaf.privateKey, chainDer: [pki.leaf.certificateDer], password: PASSWORD, alias: "bench" }),
      { mode: 0o600 },
    );
    writeFileSync(
      join(folder, "client.properties"),
      [
        "issuer=bench-cli",
        `audience=${maskinporten.issuer}`,
        `token.endpoint=${maskinporten.tokenEndpoint}`,
        "scope=bench:scope",
        "keystore.file=client.p12",
        "keystore.type=PKCS12",
        `keystore.password=${PASSWORD}`,
        "keystore.alias=bench",
      ].join("\n") + "\n",
      { mode: 0o600 },
    );
    const installStarted = performance.now();
    const installed = installPackedCli(folder);
    const installSeconds = (performance.now() - installStarted) / 1000;
    const node = process.execPath;
    const samples = { installed: [] as number[], help: [] as number[], repo: [] as number[], node: [] as number[] };
    // Warm the file system cache.
    await timeRun(installed, ["client.properties", "json"], folder);
    await timeRun(node, [REPO_BIN, "client.properties", "json"], folder);
    for (let i = 0; i < options.runs; i++) {
      samples.installed.push(await timeRun(installed, ["client.properties", "json"], folder));
      samples.help.push(await timeRun(installed, ["--help"], folder));
      samples.repo.push(await timeRun(node, [REPO_BIN, "client.properties", "json"], folder));
      samples.node.push(await timeRun(node, ["-e", ""], folder));
    }
    return {
      runs: options.runs,
      installedMs: median(samples.installed),
      helpMs: median(samples.help),
      repoMs: median(samples.repo),
      nodeMs: median(samples.node),
      tokensIssued: maskinporten.counters.tokensIssued,
      installSeconds,
    };
  } finally {
    rmSync(folder, { recursive: true, force: true });
    await maskinporten.close();
  }
}

/** `npm pack` of cli/ into the folder, installed globally into a prefix there; returns the installed bin. */
function installPackedCli(folder: string): string {
  const npm = (args: string[], cwd: string) =>
    execFileSync("npm", args, { cwd, env: ENV, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const [packed] = JSON.parse(npm(["pack", "--json", "--pack-destination", folder], join(PROJECT, "cli"))) as { filename: string }[];
  const prefix = join(folder, "prefix");
  npm(["install", "-g", "--prefix", prefix, "--offline", "--no-audit", "--no-fund", join(folder, packed!.filename)], folder);
  return join(prefix, "bin", "maskinporten-token");
}

/** Wall time of one child process, in ms. Asynchronous: the stand-in answers from this process. */
function timeRun(command: string, args: string[], cwd: string): Promise<number> {
  const start = performance.now();
  return new Promise((resolvePromise, reject) => {
    execFile(command, args, { cwd, env: ENV }, (error, _stdout, stderr) => {
      // The CLI's output holds the token: it is neither kept nor shown, only its exit status.
      if (error) reject(new Error(`maskinporten-token failed: ${stderr.split("\n")[0] ?? error.message}`));
      else resolvePromise(performance.now() - start);
    });
  });
}
