/**
 * What an anonymous caller can make one request cost: GET /api/token/ + "eyJ"×5000 (a 15 KB path
 * that looks like the start of many JWTs) against a plain 401 (no Authorization header, a real
 * profile), both through the token function in process, with the real JSON logger (formatting and
 * scrubbing paid, the line thrown away). The regex the scrubber used before is timed on the same
 * audit line as a reference: it backtracked quadratically.
 */
import { performance } from "node:perf_hooks";
import functions from "@azure/functions";
import { formatLogLine } from "../src/logging.js";
import { startSandbox } from "../sandbox/sandbox.js";
import { countingLogger } from "./counting-logger.js";

export interface HostilePathFigures {
  pathBytes: number;
  plainMicros: number;
  hostileMicros: number;
  /** The pre-fix scrubber regex on the hostile request's audit line (one run). */
  oldRegexMicros: number;
}

const OLD_JWT_LIKE = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;

export async function benchHostilePath(options: { iterations: number; oldRegexRuns: number }): Promise<HostilePathFigures> {
  const sandbox = await startSandbox({ port: 0, logger: countingLogger(), tokenLifetimeSeconds: 3600 });
  try {
    const { tokenHandler } = await import("../functions/token.js");
    const host = new URL(sandbox.env.brokerUrl).host;
    const hostile = "eyJ".repeat(5_000);
    const request = (profile: string) =>
      new functions.HttpRequest({
        method: "GET",
        url: `${sandbox.env.brokerUrl}/api/token/${profile}`,
        headers: { host },
        params: { profile },
      });
    const plain = Array.from({ length: options.iterations }, () => request(sandbox.env.profiles[0]!.name));
    const bad = Array.from({ length: options.iterations }, () => request(hostile));
    for (const [name, list] of [
      ["plain", plain],
      ["hostile", bad],
    ] as const) {
      const answer = await tokenHandler(list[0]!);
      if (answer.status !== 401) throw new Error(`hostile path bench: the ${name} request got ${answer.status}, not 401`);
    }
    // Alternating rounds, best of each, so warm-up and JIT order favour neither.
    const plainRounds: number[] = [];
    const hostileRounds: number[] = [];
    for (let round = 0; round < 3; round++) {
      plainRounds.push(await perCall(plain, tokenHandler));
      hostileRounds.push(await perCall(bad, tokenHandler));
    }
    const plainMicros = Math.min(...plainRounds);
    const hostileMicros = Math.min(...hostileRounds);

    // The audit line as the old code built it (raw profile in it), scrubbed with the old regex.
    const oldLine = formatLogLine("warn", "token-request", {
      status: 401,
      outcome: "refused",
      requestedProfile: "x",
      reason: "missing_credentials",
    }).replace('"x"', JSON.stringify(hostile));
    const start = performance.now();
    for (let i = 0; i < options.oldRegexRuns; i++) oldLine.replace(OLD_JWT_LIKE, "[redacted-jwt]");
    const oldRegexMicros = ((performance.now() - start) * 1000) / options.oldRegexRuns;
    return { pathBytes: hostile.length, plainMicros, hostileMicros, oldRegexMicros };
  } finally {
    await sandbox.close();
  }
}

/** `work` may answer synchronously (the handlers do when they can); each call is awaited as the worker awaits it. */
async function perCall<T>(inputs: readonly T[], work: (input: T) => unknown): Promise<number> {
  for (let i = 0; i < Math.min(inputs.length, 200); i++) await work(inputs[i]!);
  const start = performance.now();
  for (const input of inputs) await work(input);
  return ((performance.now() - start) * 1000) / inputs.length;
}
