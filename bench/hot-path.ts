/**
 * Where one served request's time goes, stage by stage, measured in process (no sockets): the
 * Azure Functions HttpRequest the host hands the handler, the whole handler, and its parts. This
 * is the profile behind the token-endpoint ratio: what a request costs above the bare server.
 */
import { createHash, createPublicKey, hash, verify as verifySignature } from "node:crypto";
import { performance } from "node:perf_hooks";
import functions from "@azure/functions";
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet } from "jose";
import { getRuntime } from "../src/app/runtime.js";
import { VerifiedTokenCache } from "../src/auth/verified-token-cache.js";
import { handleTokenRequest } from "../src/http/token-endpoint.js";
import { formatLogLine } from "../src/logging.js";
import { startSandbox } from "../sandbox/sandbox.js";
import { countingLogger } from "./counting-logger.js";

export interface Stage {
  name: string;
  /** µs per call: mean wall time, or CPU time where the name says so. */
  micros: number;
}

export async function benchHotPath(options: { iterations: number; uniqueTokens: number }): Promise<Stage[]> {
  const sandbox = await startSandbox({ port: 0, logger: countingLogger(), tokenLifetimeSeconds: 3600 });
  try {
    // The sandbox imported the handlers already; this import is the same module instance.
    const { tokenHandler } = await import("../functions/token.js");
    const profile = sandbox.env.profiles[0]!;
    const roles = sandbox.env.profiles.map((p) => p.role);
    const authorization = `Bearer ${sandbox.entra.mintToken({ roles, uti: "hot-path" })}`;
    const url = `${sandbox.env.brokerUrl}/api/token/${profile.name}`;
    const headers = { host: new URL(url).host, connection: "keep-alive", authorization };
    const makeRequest = () => new functions.HttpRequest({ method: "GET", url, headers, params: { profile: profile.name } });
    const runtime = getRuntime();
    const headerMap = new Map(Object.entries(headers));
    const auditFields = {
      status: 200,
      outcome: "served",
      requestedProfile: profile.name,
      callerAppId: "8e4d1c7a-2b5f-4c3e-9a60-7d1f3e8b2c54",
      callerObjectId: "5f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b",
      profile: profile.name,
      tokenExpiresAt: new Date().toISOString(),
    };
    const token = authorization.slice("Bearer ".length);

    const first = await tokenHandler(makeRequest());
    if (first.status !== 200) throw new Error(`hot path: the handler answered ${first.status}`);

    const stages: Stage[] = [];
    const n = options.iterations;
    stages.push({ name: "HttpRequest from the host's request", micros: timeSync(n, makeRequest) });
    const requests = Array.from({ length: n }, makeRequest);
    let i = 0;
    stages.push({ name: "token handler, repeat caller (all below)", micros: await timeAsync(n, () => tokenHandler(requests[i++ % n]!)) });
    stages.push({
      name: "  handleTokenRequest (no HttpRequest)",
      micros: await timeAsync(n, () => handleTokenRequest({ headers: headerMap, profile: profile.name }, runtime)),
    });
    stages.push({
      name: "    caller from the verified-token cache (no await)",
      micros: timeSync(n, () => runtime.verifier!.cachedCaller(headerMap)),
    });
    // A fresh copy of the header value per call, as every request brings (V8 keeps a string's hash).
    const cache = new VerifiedTokenCache();
    cache.set(
      authorization,
      Object.freeze({ appId: "a", tenantId: "t", roles: [], tokenExpiresAt: new Date(8e15), authenticatedBy: "bearer" as const }),
      0,
      8e15,
    );
    const copies = Array.from({ length: 1000 }, () => Buffer.from(authorization, "latin1").toString("latin1"));
    let c = 0;
    stages.push({ name: "      cache lookup (the header value is the key)", micros: timeSync(n, () => cache.get(copies[c++ % 1000]!, 1)) });
    stages.push({
      name: "      for reference: SHA-256 of the token (the key before)",
      micros: timeSync(n, () => hash("sha256", token, "base64")),
    });
    stages.push({ name: "    token from memory (no await)", micros: timeSync(n, () => runtime.broker.servableFromMemory(profile.name)) });
    // A repeat caller's audit fields are one frozen object (token-endpoint.ts): its part of the line is made once.
    const frozenAuditFields = Object.freeze({ ...auditFields });
    stages.push({ name: "    audit log line", micros: timeSync(n, () => formatLogLine("info", "token-request", frozenAuditFields)) });
    stages.push({
      name: "      for reference: the same line from a new fields object",
      micros: timeSync(n, () => formatLogLine("info", "token-request", { ...auditFields })),
    });
    // The sandbox records with OpenTelemetry as production does: what one served request adds.
    stages.push({
      name: "  metrics: cache lookup + request count + duration (OpenTelemetry)",
      micros: timeSync(n, () => {
        runtime.metrics.callerTokenCache(true);
        runtime.metrics.httpRequest({ route: "token", status: 200, profile: profile.name, durationMs: 0.3 });
      }),
    });

    // The verifier on new tokens, against jose's jwtVerify (what it used before) and one bare RSA
    // verification: alternating in 4 rounds (a noisy neighbour hits all three alike), median of the
    // rounds, CPU time (jose's WebCrypto work runs on libuv's thread pool: process CPU counts it).
    const jwks = (await (
      await sandbox.entra.fetch(`${sandbox.env.entraAuthorityHost}/${sandbox.env.tenantId}/discovery/v2.0/keys`)
    ).json()) as {
      keys: Record<string, unknown>[];
    };
    const jwk = jwks.keys.find((key) => key["kid"] === sandbox.entra.currentKid) ?? jwks.keys[0]!;
    const publicKey = createPublicKey({ key: jwk, format: "jwk" });
    const [header, payload, signature] = token.split(".") as [string, string, string];
    const signingInput = Buffer.from(`${header}.${payload}`);
    const signatureBytes = Buffer.from(signature, "base64url");
    const localKeySet = createLocalJWKSet(jwks as unknown as JSONWebKeySet);
    const joseOptions = { algorithms: ["RS256"], issuer: entraIssuers(sandbox), audience: [sandbox.env.audience, sandbox.env.audienceUri] };
    const rounds = 4;
    const perRound = Math.max(50, Math.floor(options.uniqueTokens / rounds));
    // Each token is verified once by the verifier (its cache would answer a second time); 200 more for the warm-up.
    const fresh = Array.from(
      { length: rounds * perRound + 200 },
      (_, k) => `Bearer ${sandbox.entra.mintToken({ roles, uti: `hot-${k}` })}`,
    );
    let k = 0;
    for (let w = 0; w < 200; w++) {
      await runtime.verifier!.verify(fresh[k++]!);
      await jwtVerify(fresh[w]!.slice("Bearer ".length), localKeySet, joseOptions);
    }
    const samples = { ours: [] as number[], jose: [] as number[], rsa: [] as number[] };
    for (let round = 0; round < rounds; round++) {
      const from = k;
      samples.ours.push(await cpuAsync(perRound, () => runtime.verifier!.verify(fresh[k++]!)));
      let j = from;
      samples.jose.push(await cpuAsync(perRound, () => jwtVerify(fresh[j++]!.slice("Bearer ".length), localKeySet, joseOptions)));
      samples.rsa.push(await cpuAsync(perRound, async () => verifySignature("sha256", signingInput, publicKey, signatureBytes)));
    }
    stages.push({ name: "verify caller, new token (node:crypto RS256, jose claims), CPU", micros: medianOf(samples.ours) });
    stages.push({ name: "  for reference: jose jwtVerify alone (WebCrypto), CPU", micros: medianOf(samples.jose) });
    // The floor: one RSA-2048 PKCS#1 v1.5 verification with node:crypto, nothing else.
    stages.push({ name: "  RSA-2048 verify alone (node:crypto), CPU", micros: medianOf(samples.rsa) });
    stages.push({ name: "  SHA-256 of 1 KB (reference)", micros: timeSync(n, () => createHash("sha256").update(signingInput).digest()) });
    return stages;
  } finally {
    await sandbox.close();
  }
}

/** The issuer the Entra stand-in puts in its tokens (whatever version it mints). */
function entraIssuers(sandbox: { entra: { mintToken(claims: Record<string, unknown>): string } }): string[] {
  const iss = decodeJwt(sandbox.entra.mintToken({})).iss;
  return iss ? [iss] : [];
}

/** CPU time (user + system, every thread of the process) per call, in µs. */
async function cpuAsync(n: number, work: () => Promise<unknown>): Promise<number> {
  const before = process.cpuUsage();
  for (let i = 0; i < n; i++) await work();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / n;
}

function medianOf(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

function timeSync(n: number, work: () => unknown): number {
  for (let i = 0; i < Math.min(n, 1000); i++) work();
  const start = performance.now();
  for (let i = 0; i < n; i++) work();
  return ((performance.now() - start) * 1000) / n;
}

/** `work` may answer synchronously (the handlers do when they can); each call is awaited as the worker awaits it. */
async function timeAsync(n: number, work: () => unknown): Promise<number> {
  for (let i = 0; i < Math.min(n, 200); i++) await work();
  const start = performance.now();
  for (let i = 0; i < n; i++) await work();
  return ((performance.now() - start) * 1000) / n;
}
