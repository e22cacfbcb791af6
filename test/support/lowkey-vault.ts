/**
 * Starts Lowkey Vault (github.com/nagyesta/lowkey-vault, an independent Key Vault emulator) as a
 * `java -jar` child so the Key Vault adapters can be checked against something we did not write.
 * One instance serves the whole test run (see lowkey-vault-setup.ts); this module only knows how
 * to find Java and the jar, start it on free loopback ports, wait for it, trust it, and stop it.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { dirname, resolve } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { fileURLToPath } from "node:url";
import { Agent, request as httpsRequest } from "node:https";
import { request as httpRequest } from "node:http";

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const FETCH_SCRIPT = resolve(REPO_ROOT, "scripts/lowkey-vault.sh");
/** The fetch script's exit code for "the registry does not serve this artifact" (final). */
const EXIT_NOT_SERVED = 3;
const MIN_JAVA_MAJOR = 17;
const START_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 10_000;
/** Last lines of the child's output kept for a start failure message. */
const OUTPUT_TAIL_LINES = 30;

/**
 * Key Vault REST version the clients must ask for: the SDKs default to date-named versions
 * (2025-07-01, 2026-04-01) that Lowkey Vault does not serve; 7.4 is served from 3.x to 7.x.
 */
export const LOWKEY_KEY_VAULT_API_VERSION = "7.4";

/** What a test needs to reach the running emulator; plain data so globalSetup can `provide` it. */
export interface LowkeyVaultConnection {
  /** e.g. `https://127.0.0.1:41234`; a vault with this URI is registered at start. */
  vaultUrl: string;
  /** The emulator's self-signed TLS certificate: pass as `tlsOptions: { ca }` to each client. */
  caPem: string;
  /**
   * Environment for `ManagedIdentityCredential`: the IMDS flow pointed at the emulator's token
   * endpoint (`AZURE_POD_IDENTITY_AUTHORITY_HOST`). Apply before the credential is created.
   */
  identityEnv: Record<string, string>;
  /** Seconds from spawn to ready, for the report. */
  startSeconds: number;
}

export interface LowkeyVault extends LowkeyVaultConnection {
  stop(): Promise<void>;
}

/**
 * The Java to run: `LOWKEY_VAULT_JAVA`, else `$JAVA_HOME/bin/java`, else `java` on PATH. The
 * override exists because newer Lowkey Vault lines need a newer Java than the machine default.
 */
export function javaCommand(): string {
  const explicit = process.env.LOWKEY_VAULT_JAVA;
  if (explicit) return explicit;
  const javaHome = process.env.JAVA_HOME;
  return javaHome ? resolve(javaHome, "bin/java") : "java";
}

/**
 * Why the Lowkey tier cannot run here, or undefined when it can. Only a missing (or too old) JDK
 * is a reason: a missing jar is fetched, and a failed fetch is an error, not a skip.
 */
export function lowkeyVaultUnavailableReason(): string | undefined {
  const java = javaCommand();
  const probe = spawnSync(java, ["-version"], { encoding: "utf8" });
  if (probe.error) {
    return `no Java runtime: '${java} -version' failed (${(probe.error as NodeJS.ErrnoException).code ?? probe.error.message}); install Debian's openjdk-${MIN_JAVA_MAJOR}-jre-headless to run the Lowkey Vault tests`;
  }
  const major = parseJavaMajor(`${probe.stderr}${probe.stdout}`);
  if (major === undefined) return `could not read the Java version from '${java} -version'`;
  if (major < MIN_JAVA_MAJOR) {
    return `Java ${major} found at '${java}'; Lowkey Vault needs Java ${MIN_JAVA_MAJOR} or newer`;
  }
  return undefined;
}

/** `openjdk version "17.0.15"` → 17; `java version "1.8.0_392"` → 8. */
export function parseJavaMajor(versionOutput: string): number | undefined {
  const match = /version "(\d+)(?:\.(\d+))?/.exec(versionOutput);
  if (!match?.[1]) return undefined;
  const first = Number(match[1]);
  return first === 1 && match[2] ? Number(match[2]) : first;
}

export type JarResolution = { jarPath: string } | { notServed: string };

/**
 * Runs scripts/lowkey-vault.sh: the cached (or `LOWKEY_VAULT_JAR`) jar, or a fetch from Maven
 * Central. "Not served by the registry" is returned, not thrown, so the caller decides whether
 * that is fatal; every other failure throws.
 */
export function resolveLowkeyVaultJar(): JarResolution {
  const run = spawnSync("bash", [FETCH_SCRIPT], { encoding: "utf8", cwd: REPO_ROOT });
  if (run.error) throw new Error(`could not run ${FETCH_SCRIPT}`, { cause: run.error });
  const stderr = run.stderr.trim();
  if (run.status === 0) {
    const jarPath = run.stdout.trim().split("\n").pop();
    if (jarPath) return { jarPath };
    throw new Error(`${FETCH_SCRIPT} succeeded but printed no jar path`);
  }
  if (run.status === EXIT_NOT_SERVED) return { notServed: stderr };
  throw new Error(`fetching the Lowkey Vault jar failed (exit ${run.status}): ${stderr}`);
}

/** A free TCP port on 127.0.0.1 (bound, read, released; the short race is retried by the caller). */
export async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  server.close();
  await once(server, "close");
  if (address === null || typeof address === "string") throw new Error("no port from listen(0)");
  return address.port;
}

/**
 * The PEM of the certificate a TLS server presents (trust on first use: read once at start from
 * the process we just spawned on loopback, then verified on every later connection).
 */
export async function fetchServerCertificatePem(port: number, host = "127.0.0.1"): Promise<string> {
  const socket = tlsConnect({ host, port, rejectUnauthorized: false, servername: host === "127.0.0.1" ? undefined : host });
  try {
    await once(socket, "secureConnect");
    const certificate = socket.getPeerCertificate();
    if (!certificate?.raw) throw new Error(`no certificate from ${host}:${port}`);
    const base64 = certificate.raw.toString("base64").replace(/.{1,64}/g, "$&\n");
    return `-----BEGIN CERTIFICATE-----\n${base64}-----END CERTIFICATE-----\n`;
  } finally {
    socket.destroy();
  }
}

export interface StartLowkeyVaultOptions {
  /** The app jar; resolved with scripts/lowkey-vault.sh when absent (a "not served" then throws). */
  jarPath?: string;
}

/** Starts Lowkey Vault on free loopback ports and resolves once the vault answers over verified TLS. */
export async function startLowkeyVault(options: StartLowkeyVaultOptions = {}): Promise<LowkeyVault> {
  const jarPath = options.jarPath ?? jarOrThrow();
  let lastError: unknown;
  // Ports are picked before the JVM binds them; another process can win that race, so retry.
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      return await startOnce(jarPath);
    } catch (error) {
      lastError = error;
      if (!(error instanceof PortTakenError)) break;
    }
  }
  throw lastError;
}

function jarOrThrow(): string {
  const resolution = resolveLowkeyVaultJar();
  if ("jarPath" in resolution) return resolution.jarPath;
  throw new Error(`no Lowkey Vault jar: ${resolution.notServed}`);
}

class PortTakenError extends Error {}

async function startOnce(jarPath: string): Promise<LowkeyVault> {
  const vaultPort = await freeLoopbackPort();
  const tokenPort = await freeLoopbackPort();
  const startedAt = performance.now();
  const child = spawn(
    javaCommand(),
    [
      // Start-up cost dominates a test run's use of it: C1 only and the serial collector.
      "-XX:TieredStopAtLevel=1",
      "-XX:+UseSerialGC",
      "-jar",
      jarPath,
      `--server.port=${vaultPort}`,
      // The HTTPS connector listens on loopback only; the token connector follows app.token.port.
      "--server.address=127.0.0.1",
      `--app.token.port=${tokenPort}`,
      "--logging.level.root=WARN",
    ],
    // Own process group, so stop() can end the JVM and anything it started in one signal.
    { detached: true, stdio: ["ignore", "pipe", "pipe"], cwd: REPO_ROOT },
  );
  const output = tailCollector(child);
  const exited = once(child, "exit").then(([code, signal]) => ({ code, signal }));
  const killOnParentExit = () => signalGroup(child, "SIGKILL");
  process.once("exit", killOnParentExit);

  const stop = async (): Promise<void> => {
    process.removeListener("exit", killOnParentExit);
    if (child.exitCode !== null || child.signalCode !== null) return;
    signalGroup(child, "SIGTERM");
    const timer = setTimeout(() => signalGroup(child, "SIGKILL"), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  };

  try {
    const caPem = await waitUntilReady(vaultPort, tokenPort, exited, output);
    return {
      vaultUrl: `https://127.0.0.1:${vaultPort}`,
      caPem,
      identityEnv: { AZURE_POD_IDENTITY_AUTHORITY_HOST: `http://127.0.0.1:${tokenPort}` },
      startSeconds: Math.round((performance.now() - startedAt) / 100) / 10,
      stop,
    };
  } catch (error) {
    await stop();
    if (/Address already in use|Port \d+ was already in use/i.test(output.text())) {
      throw new PortTakenError("a chosen port was taken before Lowkey Vault bound it", { cause: error });
    }
    throw error;
  }
}

async function waitUntilReady(
  vaultPort: number,
  tokenPort: number,
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>,
  output: { text(): string },
): Promise<string> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  void exited.then((info) => (exitInfo = info));
  let lastProblem = "not started";
  while (Date.now() < deadline) {
    if (exitInfo) {
      throw new Error(
        `Lowkey Vault exited during start (code ${exitInfo.code}, signal ${exitInfo.signal}); last output:\n${output.text()}`,
      );
    }
    try {
      const caPem = await fetchServerCertificatePem(vaultPort);
      // The ping goes over TLS verified with the certificate just read: proves the PEM is usable.
      await expectPong(httpsRequest, `https://127.0.0.1:${vaultPort}/ping`, new Agent({ ca: caPem }));
      await expectPong(httpRequest, `http://127.0.0.1:${tokenPort}/ping`);
      return caPem;
    } catch (error) {
      lastProblem = error instanceof Error ? error.message : String(error);
      await new Promise((resolveDelay) => setTimeout(resolveDelay, 250));
    }
  }
  throw new Error(
    `Lowkey Vault was not ready within ${START_TIMEOUT_MS / 1000} s (${lastProblem}); last output:\n${output.text()}`,
  );
}

async function expectPong(
  send: typeof httpRequest | typeof httpsRequest,
  url: string,
  agent?: Agent,
): Promise<void> {
  const request = send(url, { method: "GET", ...(agent ? { agent } : {}) });
  request.end();
  const [response] = (await once(request, "response")) as [import("node:http").IncomingMessage];
  let body = "";
  for await (const chunk of response) body += String(chunk);
  agent?.destroy();
  if (response.statusCode !== 200 || body.trim() !== "pong") {
    throw new Error(`GET ${url} answered ${response.statusCode}`);
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

/**
 * Keeps the last lines of the child's output for start failure messages. The emulator logs the
 * tokens it issues at INFO; we run it at WARN and only ever show this tail when start fails,
 * before any token was issued.
 */
function tailCollector(child: ChildProcess): { text(): string } {
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
    if (lines.length > OUTPUT_TAIL_LINES) lines.splice(0, lines.length - OUTPUT_TAIL_LINES);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  return { text: () => lines.join("\n") };
}
