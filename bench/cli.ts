/**
 * Figure 5: `maskinporten-token` from process start to a printed token, against the Maskinporten
 * stand-in with a local PKCS#12 keystore, against `node -e ""` (Node's own start and exit). Runs
 * alternate; medians are reported.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { startMaskinportenStandIn } from "../sandbox/maskinporten/index.js";
import { issueEnterpriseCertificate } from "../sandbox/pki.js";
import { makePkcs12Keystore } from "./keystore.js";
import { median } from "./renewal.js";

const PROJECT = resolve(import.meta.dirname, "../..");
const BIN = join(PROJECT, "bin", "maskinporten-token.js");
const ORGANISATION = "991825827";
// A throwaway password for a throwaway keystore in a private temp folder.
const PASSWORD = "bench-keystore-password";

export interface CliFigures {
  runs: number;
  cliMs: number;
  nodeMs: number;
  tokensIssued: number;
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
    const cli: number[] = [];
    const node: number[] = [];
    await timeRun([BIN, "client.properties", "json"], folder); // warm the file system cache
    for (let i = 0; i < options.runs; i++) {
      cli.push(await timeRun([BIN, "client.properties", "json"], folder));
      node.push(await timeRun(["-e", ""], folder));
    }
    return { runs: options.runs, cliMs: median(cli), nodeMs: median(node), tokensIssued: maskinporten.counters.tokensIssued };
  } finally {
    rmSync(folder, { recursive: true, force: true });
    await maskinporten.close();
  }
}

/** Wall time of one child process, in ms. Asynchronous: the stand-in answers from this process. */
function timeRun(args: string[], cwd: string): Promise<number> {
  const start = performance.now();
  return new Promise((resolvePromise, reject) => {
    execFile(process.execPath, args, { cwd, env: { ...process.env, NODE_OPTIONS: "" } }, (error, _stdout, stderr) => {
      // The CLI's output holds the token: it is neither kept nor shown, only its exit status.
      if (error) reject(new Error(`maskinporten-token failed: ${stderr.split("\n")[0] ?? error.message}`));
      else resolvePromise(performance.now() - start);
    });
  });
}
