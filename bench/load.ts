/**
 * Runs one load in a child process (see load-generator.ts) and returns its figures. The parent
 * keeps serving while it waits: the servers under test live in this process.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";

export interface LoadSpec {
  url: string;
  connections: number;
  /** Either a fixed number of requests… */
  amount?: number;
  /** …or a duration. */
  durationSeconds?: number;
  /** File with one Authorization header value per line, used round robin. */
  authorizationFile: string;
}

export interface LoadResult {
  /** Requests answered 2xx. */
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
  /** Distinct Authorization values sent (each exactly once in an amount run). */
  distinctAuthorizationsSent: number;
}

export interface MeasuredLoad extends LoadResult {
  /** CPU time (user + system) this process — the servers' — spent per answered request, in µs. */
  serverCpuMicrosPerRequest: number;
  /** The servers' CPU use over the run: near 1 means the server, not the generator, was the limit. */
  serverCpuShare: number;
}

export interface LoadOptions {
  url: string;
  connections: number;
  amount?: number;
  durationSeconds?: number;
  /** Authorization header values (`Bearer …`), round robin. */
  authorizations: readonly string[];
}

const GENERATOR = join(import.meta.dirname, "load-generator.js");

export async function runLoad(options: LoadOptions): Promise<MeasuredLoad> {
  // Caller tokens go through a private temp file, never argv or a log; the folder is removed after.
  const folder = mkdtempSync(join(tmpdir(), "broker-bench-"));
  const authorizationFile = join(folder, "authorizations.txt");
  writeFileSync(authorizationFile, options.authorizations.join("\n") + "\n", { mode: 0o600 });
  const spec: LoadSpec = {
    url: options.url,
    connections: options.connections,
    ...(options.amount !== undefined ? { amount: options.amount } : { durationSeconds: options.durationSeconds ?? 5 }),
    authorizationFile,
  };
  try {
    const cpuBefore = process.cpuUsage();
    const wallBefore = performance.now();
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, [GENERATOR, JSON.stringify(spec)], { maxBuffer: 1024 * 1024 }, (error, out, err) => {
        if (error) reject(new Error(`load generator failed: ${err.trim() || error.message}`));
        else resolve(out);
      });
    });
    const cpu = process.cpuUsage(cpuBefore);
    const cpuMicros = cpu.user + cpu.system;
    const wallMicros = (performance.now() - wallBefore) * 1000;
    const lastLine = stdout.trim().split("\n").at(-1) ?? "";
    const result = JSON.parse(lastLine) as LoadResult;
    // The window includes the generator's start-up, when this process idles: the share is a floor.
    return { ...result, serverCpuMicrosPerRequest: cpuMicros / result.requests, serverCpuShare: cpuMicros / wallMicros };
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}
