/**
 * The published CLI as a user gets it: `npm pack` of cli/ (whose prepack bundles the CLI), the
 * tarball installed with `npm install -g --prefix <temp>` offline (the bundle has no runtime
 * dependencies, so nothing is fetched), then `maskinporten-token` from that prefix's bin/ against
 * the Maskinporten stand-in. Also checks that each signing path loads only its own code.
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMaskinportenStandIn, type MaskinportenStandIn } from "../../sandbox/maskinporten/index.js";
import { issueEnterpriseCertificate } from "../../sandbox/pki.js";
import { makeJks, makePkcs12, type KeyEntrySpec } from "../support/keystores.js";

const PROJECT = resolve(import.meta.dirname, "../..");
const ORG = "910000006";
const PASSWORD = "Installed-Pässword-7";
// npm and the installed bin's `#!/usr/bin/env node` use the Node running the tests (22), not whatever
// `node` comes first on the PATH of this machine.
const PATH_WITH_OUR_NODE = [dirname(process.execPath), process.env.PATH ?? ""].join(delimiter);
const childEnv = (extra: Record<string, string> = {}) => ({ ...process.env, PATH: PATH_WITH_OUR_NODE, NODE_OPTIONS: "", ...extra });

let folder: string;
let prefix: string;
let bin: string;
let tarballFiles: string[];
let mp: MaskinportenStandIn;

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), "maskinporten-token-installed-"));
  const npm = (args: string[], cwd: string) =>
    execFileSync("npm", args, { cwd, env: childEnv(), encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const packed = JSON.parse(npm(["pack", "--json", "--pack-destination", folder], join(PROJECT, "cli"))) as {
    filename: string;
    files: { path: string }[];
  }[];
  tarballFiles = packed[0]!.files.map((file) => file.path);
  prefix = join(folder, "prefix");
  // --offline: anything the tarball needed from the registry would fail the install.
  npm(["install", "-g", "--prefix", prefix, "--offline", "--no-audit", "--no-fund", join(folder, packed[0]!.filename)], folder);
  bin = join(prefix, "bin", "maskinporten-token");

  const { leaf, intermediate } = issueEnterpriseCertificate({ organisationNumber: ORG });
  const entry: KeyEntrySpec = { alias: "virksomhet", privateKey: leaf.privateKey, chain: [leaf.certificateDer] };
  mp = await startMaskinportenStandIn({ trustedRoots: [intermediate.certificateDer] });
  mp.registerClient({ clientId: "installed-client", organisationNumber: ORG, scopes: ["digdir:installed"] });
  writeFileSync(join(folder, "client.jks"), makeJks(PASSWORD, [entry]));
  writeFileSync(join(folder, "client.p12"), makePkcs12({ storePassword: PASSWORD, keys: [entry] }));
  // Reports every file the ES module loader loads (sync hooks, Node 22.15+), to stderr.
  writeFileSync(
    join(folder, "trace-loads.mjs"),
    'import { registerHooks } from "node:module"; import { writeSync } from "node:fs";\n' +
      'registerHooks({ load(url, context, next) { if (url.startsWith("file:")) writeSync(2, `loaded ${url}\\n`); return next(url, context); } });\n',
  );
}, 180_000);

afterAll(async () => {
  await mp?.close();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

function runInstalled(args: string[], extraEnv: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolvePromise) => {
    // Async: the stand-in answers from this process's event loop.
    execFile(bin, args, { cwd: folder, env: childEnv(extraEnv) }, (error, stdout, stderr) => {
      resolvePromise({ status: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

function properties(name: string, keystore: string[]): string {
  const lines = [
    "issuer=installed-client",
    `audience=${mp.issuer}`,
    `token.endpoint=${mp.tokenEndpoint}`,
    "scope=digdir:installed",
    ...keystore,
  ];
  writeFileSync(join(folder, name), lines.join("\n") + "\n");
  return name;
}

const jksProperties = () =>
  properties("jks.properties", ["keystore.file=client.jks", `keystore.password=${PASSWORD}`, "keystore.alias=virksomhet"]);
const p12Properties = () =>
  properties("p12.properties", [
    "keystore.file=client.p12",
    "keystore.type=PKCS12",
    `keystore.password=${PASSWORD}`,
    "keystore.alias=virksomhet",
  ]);

/** The package's own files that the ES module loader loaded, relative to the package folder. */
function loadedPackageFiles(stderr: string): string[] {
  const packageUrl = `file://${join(prefix, "lib", "node_modules", "maskinporten-broker")}/`;
  return stderr
    .split("\n")
    .filter((line) => line.startsWith(`loaded ${packageUrl}`))
    .map((line) => line.slice(`loaded ${packageUrl}`.length));
}

describe("the packed tarball", () => {
  it("holds the bundle, the bin shim, README and licences only: no sources, tests or source maps", () => {
    expect(tarballFiles).toContain("bin/maskinporten-token.js");
    expect(tarballFiles).toContain("dist/maskinporten-token.js");
    expect(tarballFiles).toContain("dist/THIRD-PARTY-NOTICES.txt");
    expect(tarballFiles).toContain("package.json");
    for (const file of tarballFiles) expect(file).toMatch(/^(bin\/maskinporten-token\.js|dist\/.+\.(js|txt)|package\.json|README\.md)$/);
  });

  it("declares no runtime dependencies, the same version as the project, and the Node it needs", () => {
    const installed = JSON.parse(
      readFileSync(join(prefix, "lib", "node_modules", "maskinporten-broker", "package.json"), "utf8"),
    ) as Record<string, unknown>;
    const project = JSON.parse(readFileSync(join(PROJECT, "package.json"), "utf8")) as Record<string, unknown>;
    expect(installed["dependencies"]).toBeUndefined();
    expect(installed["version"]).toBe(project["version"]);
    expect(installed["engines"]).toEqual(project["engines"]);
    expect(installed["bin"]).toEqual({ "maskinporten-token": "bin/maskinporten-token.js" });
  });
});

describe("maskinporten-token installed with npm install -g", () => {
  it("--help explains the keys and exit codes", async () => {
    const result = await runInstalled(["--help"]);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^Usage: maskinporten-token <client\.properties> \[json\]/);
    expect(result.stdout).toContain("keystore.alias.password");
  });

  it("gets a token with a JKS keystore, loading neither node-forge nor the Azure SDK", async () => {
    const result = await runInstalled([jksProperties(), "json"], { NODE_OPTIONS: `--import=${join(folder, "trace-loads.mjs")}` });
    expect(result.status).toBe(0);
    const output = JSON.parse(result.stdout) as { token: { access_token: string } };
    expect(mp.verifyAccessToken(output.token.access_token)).toMatchObject({ client_id: "installed-client", scope: "digdir:installed" });
    const loaded = loadedPackageFiles(result.stderr);
    expect(loaded).toContain("dist/maskinporten-token.js");
    expect(loaded.filter((file) => /keystore-pkcs12|signer|identity|esm-/.test(file))).toEqual([]);
    expect(result.stdout + result.stderr).not.toContain(PASSWORD);
  });

  it("gets a token with a PKCS#12 keystore, loading its reader but not the Azure SDK", async () => {
    const result = await runInstalled([p12Properties(), "json"], { NODE_OPTIONS: `--import=${join(folder, "trace-loads.mjs")}` });
    expect(result.status).toBe(0);
    const output = JSON.parse(result.stdout) as { token: { access_token: string } };
    expect(mp.verifyAccessToken(output.token.access_token)).toMatchObject({ client_id: "installed-client" });
    const loaded = loadedPackageFiles(result.stderr);
    expect(loaded.some((file) => file.includes("keystore-pkcs12"))).toBe(true);
    expect(loaded.filter((file) => /signer|identity|esm-/.test(file))).toEqual([]);
  });

  it("Key Vault signing loads the bundled Azure SDK and reports a failed credential as a Key Vault problem", async () => {
    // The environment credential, sent to a closed port: the bundled @azure/identity must load and run.
    const name = properties("kv.properties", ["keyvault.url=https://127.0.0.1:9/", "keyvault.certificate=maskinporten"]);
    const result = await runInstalled([name, "json"], {
      AZURE_TOKEN_CREDENTIALS: "EnvironmentCredential",
      AZURE_TENANT_ID: "00000000-0000-4000-8000-000000000001",
      AZURE_CLIENT_ID: "00000000-0000-4000-8000-000000000002",
      AZURE_CLIENT_SECRET: "not-a-secret",
      AZURE_AUTHORITY_HOST: "https://127.0.0.1:9",
    });
    expect(result.stdout).toBe("");
    expect(result.status).toBe(4);
    // The challenge request to the vault fails first (after the SDK's own retries): proof the SDK ran.
    expect(result.stderr).toMatch(/^maskinporten-token: Key Vault certificate "maskinporten" could not be read: ECONNREFUSED/);
    expect(result.stderr).not.toContain("not-a-secret");
  }, 60_000);
});
