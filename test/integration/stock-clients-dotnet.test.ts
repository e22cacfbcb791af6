/**
 * The README's .NET recipe, run: test/dotnet/secret-reader (stock Azure.Identity 1.21.0 +
 * Azure.Security.KeyVault.Secrets 4.12.0 from NuGet) reads every profile's token secret from the
 * sandbox, is refused what a reader may not do, and gets a token from the broker with its caller
 * token. Skips with a reason where there is no `dotnet`; DOTNET_REQUIRED=1 (set by .ci/run) makes
 * a missing `dotnet` a failure. The build is cached under .cache/dotnet (gitignored) and skipped
 * while the project's sources are older than its output.
 */
import { execFile, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Logger } from "../../src/logging.js";
import { startSandbox, type Sandbox } from "../../sandbox/sandbox.js";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../../", import.meta.url));
const project = join(root, "test/dotnet/secret-reader");
const artifacts = join(root, ".cache/dotnet/secret-reader");
const dll = join(artifacts, "bin/SecretReader/release/SecretReader.dll");
const dotnetEnv = { ...process.env, DOTNET_CLI_TELEMETRY_OPTOUT: "1", DOTNET_NOLOGO: "1", DOTNET_SKIP_FIRST_TIME_EXPERIENCE: "1" };

const hasDotnet = spawnSync("dotnet", ["--version"], { encoding: "utf8", env: dotnetEnv }).status === 0;
const required = process.env.DOTNET_REQUIRED === "1";

const sha256 = (value: string) => createHash("sha256").update(value, "utf8").digest("hex");

interface ReaderOutput {
  read: Record<string, { sha256: string; contentType: string }>;
  refused: Record<"certificateSecret" | "list" | "write", { status: number; code?: string; message?: string }>;
  broker: { status: number; profile?: string; sha256?: string };
}

it.runIf(!hasDotnet && required)("requires dotnet (DOTNET_REQUIRED=1): install the .NET SDK so the .NET client test runs", () => {
  expect.fail("DOTNET_REQUIRED=1 but `dotnet --version` failed: install the .NET SDK (8 or later) or unset DOTNET_REQUIRED");
});

describe.skipIf(!hasDotnet)(
  "stock .NET Azure.Identity + Azure.Security.KeyVault.Secrets against the sandbox (skipped when there is no dotnet)",
  () => {
    let sandbox: Sandbox;
    let dir: string;
    let output: ReaderOutput;
    let timings: { buildMs: number; runMs: number; built: boolean };

    beforeAll(async () => {
      const buildStarted = Date.now();
      const sourcesChanged =
        !existsSync(dll) ||
        ["Program.cs", "SecretReader.csproj"].some((file) => statSync(join(project, file)).mtimeMs > statSync(dll).mtimeMs);
      if (sourcesChanged) {
        await run("dotnet", ["build", project, "-c", "Release", "--artifacts-path", artifacts, "-nologo", "-v", "q"], {
          env: dotnetEnv,
          timeout: 300_000,
        });
      }
      const buildMs = Date.now() - buildStarted;

      dir = mkdtempSync(join(tmpdir(), "sandbox-dotnet-"));
      const quiet: Logger = { log: () => {} };
      sandbox = await startSandbox({ port: 0, logger: quiet, envFile: join(dir, "env.json") });
      const runStarted = Date.now();
      const { stdout } = await run("dotnet", [dll, join(dir, "env.json")], { env: dotnetEnv, timeout: 120_000 });
      timings = { buildMs, runMs: Date.now() - runStarted, built: sourcesChanged };
      console.info(
        `stock-clients-dotnet: build ${timings.built ? `${timings.buildMs} ms` : `skipped (cached, ${timings.buildMs} ms check)`}, run ${timings.runMs} ms`,
      );
      output = JSON.parse(stdout.trim().split("\n").at(-1)!) as ReaderOutput;
    }, 420_000);

    afterAll(async () => {
      await sandbox?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it("reads every profile's token secret, exactly the value the broker stored", async () => {
      expect(Object.keys(output.read).sort()).toEqual(sandbox.env.profiles.map((p) => p.secretName).sort());
      for (const profile of sandbox.env.profiles) {
        const stored = sandbox.keyVault.getSecretVersions(profile.secretName).at(-1)!;
        expect(output.read[profile.secretName]).toEqual({ sha256: sha256(stored.value), contentType: "application/jwt" });
        const claims = profile.altinnExchange
          ? await sandbox.altinn.verifyAltinnToken(stored.value)
          : sandbox.maskinporten.verifyAccessToken(stored.value);
        expect(claims).toMatchObject({ client_id: profile.clientId });
      }
    });

    it("is refused the certificate's secret, the list and a write with Key Vault's 403 ForbiddenByRbac", () => {
      for (const refusal of Object.values(output.refused)) {
        expect(refusal).toMatchObject({
          status: 403,
          code: "Forbidden",
          message: "Caller is not authorized to perform action on resource.",
        });
      }
    });

    it("gets the Maskinporten token from the broker's HTTP API with a caller token from the same credential", () => {
      const issued = new Set(sandbox.maskinporten.issuedTokens.map((t) => sha256(t.access_token)));
      expect(output.broker).toMatchObject({ status: 200, profile: sandbox.env.profiles[0]!.name });
      expect(issued.has(output.broker.sha256!)).toBe(true);
    });
  },
);
