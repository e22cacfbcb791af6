/**
 * startLowkeyVault's process handling, checked with a stand-in for `java` (fixtures/
 * fake-lowkey-java.mjs) that takes the same arguments: free ports reach the child, readiness waits
 * for both /ping endpoints, the certificate is read and trusted, and stop() ends the whole process
 * group. The real emulator is exercised by lowkey-vault-smoke.test.ts.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { get } from "node:https";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueLoopbackTlsCertificate } from "../../sandbox/pki.js";
import { startLowkeyVault } from "../support/lowkey-vault.js";

const FAKE = resolve(import.meta.dirname, "fixtures/fake-lowkey-java.mjs");

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("startLowkeyVault with a stand-in java", () => {
  const tls = issueLoopbackTlsCertificate();
  let dir: string;
  let pidFile: string;
  const saved = { ...process.env };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "fake-lowkey-"));
    pidFile = join(dir, "grandchild.pid");
    const java = join(dir, "java");
    writeFileSync(java, `#!/bin/sh\nexec "${process.execPath}" "${FAKE}" "$@"\n`);
    chmodSync(java, 0o755);
    Object.assign(process.env, {
      LOWKEY_VAULT_JAVA: java,
      FAKE_LOWKEY_KEY: tls.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      FAKE_LOWKEY_CERT: tls.certificatePem,
      FAKE_LOWKEY_PID_FILE: pidFile,
    });
  });

  afterAll(() => {
    process.env = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  it("starts on loopback, trusts the served certificate, points IMDS at the token port, and stops the group", async () => {
    const vault = await startLowkeyVault({ jarPath: "/unused/lowkey-vault-app.jar" });
    try {
      expect(vault.vaultUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(vault.caPem.replace(/\n/g, "")).toBe(tls.certificatePem.replace(/\r?\n/g, ""));
      expect(vault.identityEnv).toEqual({
        AZURE_POD_IDENTITY_AUTHORITY_HOST: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      });
      const request = get(`${vault.vaultUrl}/ping`, { ca: vault.caPem });
      const [response] = (await once(request, "response")) as [import("node:http").IncomingMessage];
      response.resume();
      expect(response.statusCode).toBe(200);
    } finally {
      await vault.stop();
    }
    const grandchild = Number(readFileSync(pidFile, "utf8"));
    // The grandchild got the same SIGTERM; give the kernel a moment to reap it.
    for (let i = 0; i < 50 && isAlive(grandchild); i++) await new Promise((r) => setTimeout(r, 100));
    expect(isAlive(grandchild)).toBe(false);
  });

  it("fails with the child's own output when it exits during start", async () => {
    process.env.FAKE_LOWKEY_MODE = "crash";
    try {
      await expect(startLowkeyVault({ jarPath: "/unused/lowkey-vault-app.jar" })).rejects.toThrow(
        /exited during start \(code 1.*\n.*fake crash/s,
      );
    } finally {
      delete process.env.FAKE_LOWKEY_MODE;
    }
  });
});
