/**
 * `maskinporten-token keys list|sync` against the Key Vault, Maskinporten and self-service
 * stand-ins: the same registration code as the broker, driven from a client.properties file.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KEYS_EXIT_CODES, runKeysCli } from "../../src/cli/keys.js";
import { staticCredential } from "../support/credentials.js";
import { BASE_KID, KID_CLIENT, startHarness, type Harness } from "../keys/harness.js";

let h: Harness;
let dir: string;
beforeAll(async () => {
  h = await startHarness();
  dir = mkdtempSync(join(tmpdir(), "keys-cli-"));
});
afterAll(async () => {
  await h?.close();
});

function properties(extra: Record<string, string> = {}): string {
  const lines = {
    issuer: KID_CLIENT,
    environment: h.mp.issuer,
    "keyvault.url": h.kv.url,
    "keyvault.key": "signing-key",
    "keyvault.kid": BASE_KID,
    "selfservice.client_id": "admin-client",
    "selfservice.certificate": "virksomhetssertifikat",
    "selfservice.api_url": h.ss.baseUrl,
    "selfservice.chain": h.chainBase64,
    ...extra,
  };
  const file = join(dir, `client-${Math.random().toString(36).slice(2)}.properties`);
  writeFileSync(
    file,
    Object.entries(lines)
      .map(([k, v]) => `${k}=${v}`)
      .join("\n"),
  );
  return file;
}

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await runKeysCli(args, {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    cwd: dir,
    keyVault: {
      credential: staticCredential(),
      clientOptions: { disableChallengeResourceVerification: true, tlsOptions: { ca: h.kv.caPem } },
    },
    now: h.clock.now,
  });
  return { code, stdout, stderr };
}

describe("maskinporten-token keys", () => {
  it("list shows what sync would do and writes nothing; sync registers; list then shows the key and its days left", async () => {
    const file = properties();
    const listed = await run(["list", file]);
    expect(listed).toMatchObject({ code: 0, stderr: "" });
    expect(listed.stdout).toContain(`client ${KID_CLIENT}: would-post`);
    expect(listed.stdout).toMatch(/sync registers acme-kidp\.[0-9a-f]{32}/);
    expect(h.ss.requests.filter((r) => r.method === "POST")).toHaveLength(0);

    const synced = await run(["sync", file]);
    expect(synced.code).toBe(0);
    expect(synced.stdout).toContain("posted");
    const json = JSON.parse((await run(["list", file, "json"])).stdout);
    expect(json).toMatchObject({ clientId: KID_CLIENT, outcome: "unchanged", keys: [{ role: "current", daysLeft: 364 }] });
  });

  it("names the property, not the app setting, when the file is wrong", async () => {
    const file = properties({ "keyvault.kid": "", "selfservice.replace_foreign": "maybe" });
    const result = await run(["sync", file]);
    expect(result.code).toBe(KEYS_EXIT_CODES.config);
    expect(result.stderr).toContain("selfservice.replace_foreign: expected true or false");
    expect(result.stderr).toMatch(/keyvault\.kid/);
    expect(result.stderr).not.toMatch(/PROFILE_CLIENT_/);
  });

  it("exits 11 with Digdir's error when the self-service API refuses", async () => {
    h.ss.injectFault({
      kind: "status",
      status: 403,
      body: { error: "access_denied", error_description: "Klienten tilhører ikke organisasjonen" },
    });
    const result = await run(["list", properties()]);
    expect(result.code).toBe(KEYS_EXIT_CODES.selfServiceRejected);
    expect(result.stderr).toContain("error_description: Klienten tilhører ikke organisasjonen");
    expect(result.stderr).toContain("status: 403");
  });

  it("prints its usage for anything else", async () => {
    expect((await run(["delete", "x.properties"])).code).toBe(KEYS_EXIT_CODES.usage);
  });
});
