/**
 * `maskinporten-token` as users run it: the bin shim in a child process, against the Maskinporten
 * stand-in, with keystores made in the test. The project is compiled once into a private folder
 * (so parallel test files and other builds never race on dist/), with the bin shim beside it.
 */
import { execFile, execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startMaskinportenStandIn, type MaskinportenStandIn } from "../../sandbox/maskinporten/index.js";
import { issueEnterpriseCertificate, type IssuedCertificate } from "../../sandbox/pki.js";
import { CLIENT_PROPERTY_KEYS } from "../../src/cli/client-config.js";
import { makeJks, makePkcs12, type KeyEntrySpec } from "../support/keystores.js";

const PROJECT = resolve(import.meta.dirname, "../..");
const NODE = process.execPath;
const ORG = "910000003";
const CONSUMER_ORG = "910000004";
const SYSTEM_USER_ORG = "310000019";
const PID = "01017012345";
const RESOURCE = "https://api.example.no/v1";
const STORE_PASSWORD = "Store-Pässword-1";
const KEY_PASSWORD = "Key-Pässword-2";
const SECRETS = [STORE_PASSWORD, KEY_PASSWORD];

let buildDir: string;
let binPath: string;
let work: string;
let mp: MaskinportenStandIn;
let leaf: IssuedCertificate;
let intermediate: IssuedCertificate;
let entry: KeyEntrySpec;

beforeAll(async () => {
  // node_modules/.cache: inside the project, so the build resolves packages from node_modules.
  mkdirSync(join(PROJECT, "node_modules/.cache"), { recursive: true });
  buildDir = mkdtempSync(join(PROJECT, "node_modules/.cache/maskinporten-token-test-"));
  try {
    execFileSync(
      NODE,
      [join(PROJECT, "node_modules/typescript/bin/tsc"), "-p", join(PROJECT, "tsconfig.json"), "--outDir", join(buildDir, "dist")],
      {
        cwd: PROJECT,
        stdio: "pipe",
      },
    );
  } catch {
    // tsc emits despite type errors elsewhere in the tree; what matters is that our entry exists.
  }
  if (!existsSync(join(buildDir, "dist/src/cli/main.js"))) throw new Error("the CLI did not compile");
  mkdirSync(join(buildDir, "bin"));
  binPath = join(buildDir, "bin/maskinporten-token.js");
  copyFileSync(join(PROJECT, "bin/maskinporten-token.js"), binPath);

  ({ leaf, intermediate } = issueEnterpriseCertificate({ organisationNumber: ORG }));
  entry = {
    alias: "virksomhetssertifikat",
    privateKey: leaf.privateKey,
    chain: [leaf.certificateDer, intermediate.certificateDer],
    keyPassword: KEY_PASSWORD,
  };
  // Maskinporten trusts the CAs' issuing certificates, so a leaf-only x5c (what the seed sends) chains.
  mp = await startMaskinportenStandIn({ trustedRoots: [intermediate.certificateDer] });
  mp.registerClient({
    clientId: "cli-client",
    organisationNumber: ORG,
    scopes: ["digdir:a", "digdir:b"],
    allowedResources: [RESOURCE],
    consumerOrgs: [CONSUMER_ORG],
    systemUsers: [{ customer: SYSTEM_USER_ORG, systemId: `${ORG}_cli`, externalRef: "cli-ref" }],
    tokenLifetimeSeconds: 599,
  });
  mp.registerClient({ clientId: "kid-client", organisationNumber: ORG, scopes: ["digdir:a"], keys: { "cli-kid": leaf.publicKey } });

  work = mkdtempSync(join(tmpdir(), "maskinporten-token-"));
  writeFileSync(join(work, "client.jks"), makeJks(STORE_PASSWORD, [entry]));
  writeFileSync(join(work, "client.p12"), makePkcs12({ storePassword: STORE_PASSWORD, keys: [entry] }));
}, 120_000);

afterAll(async () => {
  await mp?.close();
  if (work) rmSync(work, { recursive: true, force: true });
  if (buildDir) rmSync(buildDir, { recursive: true, force: true });
});

beforeEach(() => {
  mp.clearFaults();
  mp.resetCounters();
});

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

let fileCounter = 0;

/** Writes the properties (one entry per line, as given) and runs the bin shim on them. */
async function run(lines: string[], extraArgs: string[] = [], name?: string): Promise<Run> {
  const file = name ?? `client-${++fileCounter}.properties`;
  writeFileSync(join(work, file), lines.join("\n") + "\n", "latin1");
  return runBin([file, ...extraArgs]);
}

async function runBin(args: string[]): Promise<Run> {
  const result = await new Promise<Run>((resolvePromise) => {
    // Async on purpose: the stand-in answers from this process's event loop.
    execFile(NODE, [binPath, ...args], { cwd: work, env: { ...process.env, NODE_OPTIONS: "" } }, (error, stdout, stderr) => {
      const status = error ? (typeof error.code === "number" ? error.code : null) : 0;
      resolvePromise({ status, stdout, stderr });
    });
  });
  // Whatever happened, no password may show up in the output.
  for (const secret of SECRETS) {
    expect(result.stdout).not.toContain(secret);
    expect(result.stderr).not.toContain(secret);
  }
  return result;
}

function jks(extra: string[] = []): string[] {
  return [
    "# seed-style client.properties",
    "issuer=cli-client",
    `audience=${mp.issuer}`,
    `token.endpoint=${mp.tokenEndpoint}`,
    "scope=digdir:a digdir:b",
    "keystore.file=client.jks",
    `keystore.password=${STORE_PASSWORD}`,
    "keystore.alias=virksomhetssertifikat",
    `keystore.alias.password=${KEY_PASSWORD}`,
    ...extra,
  ];
}

function without(lines: string[], ...keys: string[]): string[] {
  return lines.filter((line) => !keys.some((key) => line.startsWith(`${key}=`)));
}

function parseText(stdout: string): { grant: string; token?: Record<string, unknown> } {
  const match = /^Generated JWT-grant:\n([\w-]+\.[\w-]+\.[\w-]+)\n(?:\nRetrieved token-response:\n(.+)\n)?$/.exec(stdout);
  if (!match) throw new Error(`unexpected text output:\n${stdout}`);
  return { grant: match[1]!, ...(match[2] ? { token: JSON.parse(match[2]) as Record<string, unknown> } : {}) };
}

function expectIssued(token: Record<string, unknown> | undefined, scope: string): void {
  expect(token).toBeDefined();
  expect(Object.keys(token!).sort()).toEqual(["access_token", "expires_in", "scope", "token_type"]);
  expect(token).toMatchObject({ token_type: "Bearer", expires_in: 599, scope });
  const claims = mp.verifyAccessToken(token!.access_token as string);
  expect(claims).toMatchObject({ client_id: "cli-client", scope });
}

describe("maskinporten-token: success", () => {
  it("JKS (the default type), text mode: labelled grant and token response, exit 0", async () => {
    const result = await run(jks());
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    const { grant, token } = parseText(result.stdout);
    expect(decodeProtectedHeader(grant)).toEqual({ alg: "RS256", x5c: [leaf.certificateDer.toString("base64")] });
    const claims = decodeJwt(grant);
    expect(claims).toMatchObject({ aud: mp.issuer, iss: "cli-client", scope: "digdir:a digdir:b" });
    expect(Object.keys(claims).sort()).toEqual(["aud", "exp", "iat", "iss", "jti", "scope"]);
    expectIssued(token, "digdir:a digdir:b");
    expect(mp.counters.tokensIssued).toBe(1);
  });

  it("PKCS12, json mode: exactly one line {grant, token}", async () => {
    const result = await run([...without(jks(), "keystore.file"), "keystore.file=client.p12", "keystore.type=PKCS12"], ["json"]);
    expect(result.status).toBe(0);
    expect(result.stdout.endsWith("\n")).toBe(true);
    expect(result.stdout.trimEnd().split("\n")).toHaveLength(1);
    const output = JSON.parse(result.stdout) as { grant: string; token: Record<string, unknown> };
    expect(Object.keys(output)).toEqual(["grant", "token"]);
    expect(decodeProtectedHeader(output.grant).x5c).toEqual([leaf.certificateDer.toString("base64")]);
    expectIssued(output.token, "digdir:a digdir:b");
  });

  it("keystore.kid: header names the registered key instead of x5c", async () => {
    const lines = [...without(jks(), "issuer", "scope"), "issuer=kid-client", "scope=digdir:a", "keystore.kid=cli-kid"];
    const result = await run(lines, ["json"]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    const output = JSON.parse(result.stdout) as { grant: string; token: { access_token: string } };
    expect(decodeProtectedHeader(output.grant)).toEqual({ alg: "RS256", kid: "cli-kid" });
    expect(mp.verifyAccessToken(output.token.access_token)).toMatchObject({ client_id: "kid-client" });
  });

  it("base64: keystore bytes inline in the properties file (PKCS12 and JKS)", async () => {
    const p12 = makePkcs12({ storePassword: STORE_PASSWORD, keys: [entry] }).toString("base64");
    const fromP12 = await run([...without(jks(), "keystore.file"), `keystore.file=base64:${p12}`, "keystore.type=PKCS12"], ["json"]);
    expect(fromP12.status).toBe(0);
    expectIssued((JSON.parse(fromP12.stdout) as { token: Record<string, unknown> }).token, "digdir:a digdir:b");

    // Java line continuations may split a long value; the base64 survives them.
    const jksText = makeJks(STORE_PASSWORD, [entry]).toString("base64");
    const half = Math.floor(jksText.length / 2);
    const fromJks = await run(
      [...without(jks(), "keystore.file"), `keystore.file=base64:${jksText.slice(0, half)}\\`, `    ${jksText.slice(half)}`],
      ["json"],
    );
    expect(fromJks.status).toBe(0);
  });

  it("resource (always as a JSON array), consumer_org and pid go into the grant", async () => {
    const result = await run(jks([`resource=${RESOURCE}`, `consumer_org=${CONSUMER_ORG}`, `pid=${PID}`]), ["json"]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    const output = JSON.parse(result.stdout) as { grant: string; token: Record<string, unknown> };
    expect(decodeJwt(output.grant)).toMatchObject({ resource: [RESOURCE], consumer_org: CONSUMER_ORG, pid: PID });
    expect(mp.verifyAccessToken(output.token.access_token as string)).toMatchObject({ consumer: { ID: `0192:${CONSUMER_ORG}` } });
  });

  it("without token.endpoint prints the grant only, in both modes, and calls nobody", async () => {
    const text = await run(without(jks(), "token.endpoint"));
    expect(text.status).toBe(0);
    expect(parseText(text.stdout).token).toBeUndefined();
    expect(text.stdout).not.toContain("Retrieved token-response");

    const json = await run(without(jks(), "token.endpoint"), ["json"]);
    expect(json.status).toBe(0);
    const output = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(Object.keys(output)).toEqual(["grant"]);
    expect(decodeJwt(output.grant as string)).toMatchObject({ aud: mp.issuer, iss: "cli-client" });
    expect(mp.counters.tokenRequests + mp.counters.metadataRequests).toBe(0);
  });

  it("environment instead of audience/token.endpoint: metadata discovery", async () => {
    const result = await run([...without(jks(), "audience", "token.endpoint"), `environment=${mp.issuer}`], ["json"]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    const output = JSON.parse(result.stdout) as { grant: string; token: Record<string, unknown> };
    expect(decodeJwt(output.grant).aud).toBe(mp.issuer);
    expectIssued(output.token, "digdir:a digdir:b");
    expect(mp.counters.metadataRequests).toBe(1);
  });

  it("retries a transient failure with a fresh grant and says so on stderr", async () => {
    mp.injectFault({ kind: "status", status: 503, body: { error: "server_error", error_description: "busy (trace_id: 0123abcd)" } });
    const result = await run(jks(), ["json"]);
    expect(result.status).toBe(0);
    expect(result.stderr).toMatch(/attempt 1 failed, retrying with a fresh grant: Maskinporten is unavailable \(HTTP 503/);
    expect(mp.counters.tokenRequests).toBe(2);
    expectIssued((JSON.parse(result.stdout) as { token: Record<string, unknown> }).token, "digdir:a digdir:b");
  });

  it("--help explains every key and the exit codes", async () => {
    const result = await runBin(["--help"]);
    expect(result.status).toBe(0);
    for (const key of CLIENT_PROPERTY_KEYS) expect(result.stdout).toContain(`\n  ${key}\n`);
    expect(result.stdout).toMatch(/Exit codes:/);
  });
});

describe("maskinporten-token: failures exit non-zero with the cause on stderr", () => {
  it("systemuser.org and systemuser.external_ref: an Altinn system-user grant for one customer", async () => {
    const result = await run(jks([`systemuser.org=${SYSTEM_USER_ORG}`, "systemuser.external_ref=cli-ref"]), ["json"]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    const output = JSON.parse(result.stdout) as { grant: string };
    expect(decodeJwt(output.grant).authorization_details).toEqual([
      {
        type: "urn:altinn:systemuser",
        systemuser_org: { authority: "iso6523-actorid-upis", ID: `0192:${SYSTEM_USER_ORG}` },
        externalRef: "cli-ref",
      },
    ]);
  });

  it("a system user refused by Maskinporten → 5 with invalid_altinn_customer_configuration, and bad systemuser keys → 3", async () => {
    const refused = await run(jks([`systemuser.org=${SYSTEM_USER_ORG}`]));
    expect(refused.status).toBe(5);
    expect(refused.stderr).toMatch(/error: invalid_altinn_customer_configuration/);
    const bad = await run(jks(["systemuser.org=12345", "systemuser.external_ref=a\u0001b", `consumer_org=${CONSUMER_ORG}`]));
    expect(bad.status).toBe(3);
    expect(bad.stderr).toMatch(/systemuser\.org must be a 9-digit/);
  });

  async function expectFailure(result: Run, status: number, pattern: RegExp): Promise<void> {
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(pattern);
    expect(result.status).toBe(status);
  }

  it("wrong command line → 2", async () => {
    await expectFailure(await runBin([]), 2, /usage: maskinporten-token <client\.properties> \[json\]/);
    await expectFailure(await runBin(["a.properties", "yaml"]), 2, /unexpected argument "yaml"/);
  });

  it("missing properties file → 3", async () => {
    await expectFailure(await runBin(["nope.properties"]), 3, /cannot read nope\.properties: no such file/);
  });

  it("missing keys → 3, all named at once", async () => {
    const result = await run(without(jks(), "issuer", "scope", "keystore.password"));
    await expectFailure(result, 3, /issuer is missing.*scope is missing.*keystore\.password is missing/);
  });

  it("a retired seed-era host → 3, pointing at the current issuer", async () => {
    const result = await run([
      ...without(jks(), "audience", "token.endpoint"),
      "audience=https://oidc-ver2.difi.no/idporten-oidc-provider/",
      "token.endpoint=https://oidc-ver2.difi.no/idporten-oidc-provider/token",
    ]);
    await expectFailure(result, 3, /audience: names a retired Maskinporten host .*; use test \(https:\/\/test\.maskinporten\.no\/\)/);
  });

  it("wrong keystore password → 4", async () => {
    const result = await run([...without(jks(), "keystore.password"), "keystore.password=not-the-one"]);
    await expectFailure(result, 4, /client\.jks: wrong keystore password \(keystore\.password\)/);
  });

  it("wrong key password → 4", async () => {
    const result = await run([...without(jks(), "keystore.alias.password"), "keystore.alias.password=not-the-one"]);
    await expectFailure(result, 4, /wrong key password for alias "virksomhetssertifikat" \(keystore\.alias\.password\)/);
  });

  it("unknown alias → 4, listing the aliases", async () => {
    const result = await run([...without(jks(), "keystore.alias"), "keystore.alias=other"]);
    await expectFailure(result, 4, /no entry with alias "other"; aliases in the keystore: "virksomhetssertifikat" \(private key\)/);
  });

  it("missing keystore file or not a keystore → 4", async () => {
    await expectFailure(
      await run([...without(jks(), "keystore.file"), "keystore.file=missing.jks"]),
      4,
      /cannot read keystore\.file missing\.jks: no such file/,
    );
    writeFileSync(join(work, "not-a-keystore.jks"), "hello");
    await expectFailure(
      await run([...without(jks(), "keystore.file"), "keystore.file=not-a-keystore.jks"]),
      4,
      /not-a-keystore\.jks: not a JKS or PKCS#12 keystore/,
    );
  });

  it("Maskinporten rejects → 5 with error, error_description and trace id", async () => {
    const result = await run([...without(jks(), "scope"), "scope=digdir:not-granted"]);
    await expectFailure(result, 5, /Maskinporten rejected the token request \(HTTP 400, invalid_scope/);
    expect(result.stderr).toMatch(
      /\n {2}error: invalid_scope\n {2}error_description: .+\(trace_id: [0-9a-f]+\)\n {2}error_uri: http:\/\/127\.0\.0\.1:\d+\/errors\/MP-\d+\n {2}trace_id: [0-9a-f]+\n$/,
    );
    expect(result.stderr.split("\n")[0]).toMatch(/\(error_uri: http:\/\/127\.0\.0\.1:\d+\/errors\/MP-\d+\)$/);
    expect(mp.counters.tokenRequests).toBe(1); // a 4xx is not retried
  });

  it("Maskinporten keeps failing → 6 after three attempts", async () => {
    mp.injectFault({ kind: "status", status: 503 }, { times: Infinity });
    const result = await run(jks());
    await expectFailure(result, 6, /Maskinporten is unavailable \(HTTP 503/);
    expect(mp.counters.tokenRequests).toBe(3);
  });

  it("invalid token response → 6", async () => {
    mp.injectFault({ kind: "malformed-json" }, { times: Infinity });
    await expectFailure(await run(jks()), 6, /Maskinporten sent an invalid token response/);
  });

  it("network error → 6", async () => {
    const closed = await startMaskinportenStandIn();
    const deadEndpoint = closed.tokenEndpoint;
    await closed.close();
    const result = await run([...without(jks(), "token.endpoint"), `token.endpoint=${deadEndpoint}`]);
    await expectFailure(result, 6, /Maskinporten could not be reached at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
  });
});
