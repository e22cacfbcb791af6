/**
 * `maskinporten-token` with `altinn.exchange`: in process, against the Maskinporten and Altinn
 * stand-ins, with a PKCS#12 keystore made here.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startAltinnStandIn, type AltinnStandIn } from "../../sandbox/altinn/standin.js";
import { startMaskinportenStandIn, type MaskinportenStandIn } from "../../sandbox/maskinporten/index.js";
import { issueEnterpriseCertificate } from "../../sandbox/pki.js";
import { runCli, type CliEnvironment } from "../../src/cli/run.js";
import { makePkcs12 } from "../support/keystores.js";

const DIGDIR = "991825827";
let mp: MaskinportenStandIn;
let other: MaskinportenStandIn;
let altinn: AltinnStandIn;
let work: string;

beforeAll(async () => {
  const { leaf, intermediate } = issueEnterpriseCertificate({ organisationNumber: DIGDIR });
  [mp, other] = await Promise.all([
    startMaskinportenStandIn({ trustedRoots: [intermediate.certificateDer] }),
    startMaskinportenStandIn({ trustedRoots: [intermediate.certificateDer] }),
  ]);
  for (const standIn of [mp, other]) {
    standIn.registerClient({
      clientId: "so-client",
      organisationNumber: DIGDIR,
      scopes: ["altinn:serviceowner/instances.read"],
      tokenLifetimeSeconds: 120,
    });
  }
  altinn = await startAltinnStandIn({ maskinportenIssuer: mp.issuer });
  work = mkdtempSync(join(tmpdir(), "maskinporten-token-altinn-"));
  writeFileSync(
    join(work, "client.p12"),
    makePkcs12({ storePassword: "pw-altinn-cli", keys: [{ alias: "a", privateKey: leaf.privateKey, chain: [leaf.certificateDer] }] }),
  );
});
afterAll(async () => {
  await Promise.all([mp?.close(), other?.close(), altinn?.close()]);
  if (work) rmSync(work, { recursive: true, force: true });
});
beforeEach(() => altinn.clearFaults());

async function run(lines: string[], args: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  const file = join(work, `client-${Math.random().toString(36).slice(2)}.properties`);
  writeFileSync(file, lines.join("\n"));
  let stdout = "";
  let stderr = "";
  const env: CliEnvironment = {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    cwd: work,
    maskinporten: { retry: { baseDelayMs: 1, maxDelayMs: 2 } },
  };
  return { code: await runCli([file, ...args], env), stdout, stderr };
}

const properties = (standIn = mp, extra: string[] = [`altinn.exchange=${altinn.baseUrl}`]) => [
  "issuer=so-client",
  `environment=${standIn.issuer}`,
  "scope=altinn:serviceowner/instances.read",
  "keystore.file=client.p12",
  "keystore.type=PKCS12",
  "keystore.password=pw-altinn-cli",
  ...extra,
];

describe("maskinporten-token with altinn.exchange", () => {
  it("prints the grant, the token response and the Altinn token in text mode", async () => {
    const { code, stdout, stderr } = await run(properties(mp, [`altinn.exchange=${altinn.baseUrl}`, "altinn.test_org=true"]));
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const match = /\nRetrieved Altinn token:\n(\S+)\n$/.exec(stdout);
    expect(match).not.toBeNull();
    expect(stdout).toMatch(/^Generated JWT-grant:\n\S+\n\nRetrieved token-response:\n\{.*\}\n/);
    expect(await altinn.verifyAltinnToken(match![1]!)).toMatchObject({ "urn:altinn:org": "ttd", "urn:altinn:orgNumber": DIGDIR });
    expect(altinn.exchanges.at(-1)).toMatchObject({ outcome: "issued", testOrg: true });
  });

  it("prints one JSON line {grant, token, altinn} in json mode", async () => {
    const { code, stdout } = await run(properties(), ["json"]);
    expect(code).toBe(0);
    expect(stdout.split("\n")).toHaveLength(2);
    const output = JSON.parse(stdout) as { grant: string; token: { access_token: string }; altinn: string };
    expect(Object.keys(output)).toEqual(["grant", "token", "altinn"]);
    expect(output.altinn).not.toBe(output.token.access_token);
    expect(await altinn.verifyAltinnToken(output.altinn)).toMatchObject({ scope: "altinn:serviceowner/instances.read" });
  });

  it("exits 7 with Altinn's status and traceId when Altinn refuses the token, printing no token", async () => {
    // A token from another Maskinporten: Altinn cannot verify it.
    const { code, stdout, stderr } = await run(properties(other));
    expect(code).toBe(7);
    expect(stdout).toBe("");
    expect(stderr).toMatch(/Altinn refused the token exchange at http:\/\/127\.0\.0\.1:\d+ \(HTTP 401: Unauthorized\)/);
    expect(stderr).toMatch(/\n {2}status: 401\n {2}traceId: 00-[0-9a-f]{32}-[0-9a-f]{16}-00\n$/);
    for (const token of other.issuedTokens) expect(stderr).not.toContain(token.access_token);
  });

  it("retries an unavailable exchange and exits 8 when it stays down", async () => {
    altinn.injectFault({ kind: "status", status: 503, body: "Service Unavailable" }, { times: Infinity });
    const { code, stderr } = await run(properties());
    expect(code).toBe(8);
    expect(stderr.match(/Altinn exchange attempt \d failed, retrying/g)).toHaveLength(2);
    expect(stderr).toMatch(/unavailable \(HTTP 503: Service Unavailable\)/);
  });

  it("refuses mismatched environments and an exchange without a token request, as configuration problems", async () => {
    const mismatch = await run([
      "issuer=so-client",
      "audience=https://test.maskinporten.no/",
      "token.endpoint=https://test.maskinporten.no/token",
      "scope=s",
      "keystore.file=client.p12",
      "keystore.password=x",
      "altinn.exchange=prod",
    ]);
    expect(mismatch.code).toBe(3);
    expect(mismatch.stderr).toMatch(
      /altinn\.exchange: https:\/\/platform\.altinn\.no \(prod\) only accepts tokens from Maskinporten https:\/\/maskinporten\.no\//,
    );
    const grantOnly = await run([
      "issuer=so-client",
      "audience=https://test.maskinporten.no/",
      "scope=s",
      "keystore.file=client.p12",
      "keystore.password=x",
      "altinn.exchange=tt02",
      "altinn.test_org=maybe",
    ]);
    expect(grantOnly.code).toBe(3);
    expect(grantOnly.stderr).toContain('altinn.test_org: "maybe" is not true or false');
    const noToken = await run([
      "issuer=so-client",
      "audience=https://test.maskinporten.no/",
      "scope=s",
      "keystore.file=client.p12",
      "keystore.password=x",
      "altinn.exchange=tt02",
    ]);
    expect(noToken.code).toBe(3);
    expect(noToken.stderr).toContain("altinn.exchange needs a Maskinporten token to exchange: set token.endpoint or environment");
  });
});
