/**
 * Where one served request's time goes, stage by stage, measured in process (no sockets): the
 * Azure Functions HttpRequest the host hands the handler, the whole handler, and its parts. This
 * is the profile behind the token-endpoint ratio: what a request costs above the bare server.
 */
import { createHash, createPublicKey, verify as verifySignature } from "node:crypto";
import { performance } from "node:perf_hooks";
import functions from "@azure/functions";
import { getRuntime } from "../src/app/runtime.js";
import { VerifiedTokenCache } from "../src/auth/verified-token-cache.js";
import { handleTokenRequest } from "../src/http/token-endpoint.js";
import { formatLogLine } from "../src/logging.js";
import { startSandbox } from "../sandbox/sandbox.js";
import { countingLogger } from "./counting-logger.js";

export interface Stage {
  name: string;
  /** Mean wall time per call in µs (single-threaded, nothing else running). */
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
    stages.push({ name: "    verify caller, cache hit", micros: await timeAsync(n, () => runtime.verifier!.verify(authorization)) });
    stages.push({ name: "      cache key (SHA-256 of the token)", micros: timeSync(n, () => VerifiedTokenCache.keyOf(token)) });
    stages.push({ name: "    broker.serve (token in memory)", micros: await timeAsync(n, () => runtime.broker.serve(profile.name)) });
    stages.push({ name: "    audit log line", micros: timeSync(n, () => formatLogLine("info", "token-request", auditFields)) });
    // The sandbox records with OpenTelemetry as production does: what one served request adds.
    stages.push({
      name: "  metrics: cache lookup + request count + duration (OpenTelemetry)",
      micros: timeSync(n, () => {
        runtime.metrics.callerTokenCache(true);
        runtime.metrics.httpRequest({ route: "token", status: 200, profile: profile.name, durationMs: 0.3 });
      }),
    });

    // 200 more than measured: timeAsync warms up on the first 200, and each token is verified once.
    const fresh = Array.from({ length: options.uniqueTokens + 200 }, (_, k) => `Bearer ${sandbox.entra.mintToken({ roles, uti: `hot-${k}` })}`);
    let k = 0;
    stages.push({
      name: "verify caller, new token (jose, WebCrypto)",
      micros: await timeAsync(options.uniqueTokens, () => runtime.verifier!.verify(fresh[k++]!)),
    });
    // The floor under that: one RSA-2048 PKCS#1 v1.5 verification with node:crypto, nothing else.
    const jwks = (await (await sandbox.entra.fetch(`${sandbox.env.entraAuthorityHost}/${sandbox.env.tenantId}/discovery/v2.0/keys`)).json()) as {
      keys: Record<string, unknown>[];
    };
    const jwk = jwks.keys.find((key) => key["kid"] === sandbox.entra.currentKid) ?? jwks.keys[0]!;
    const publicKey = createPublicKey({ key: jwk, format: "jwk" });
    const [header, payload, signature] = token.split(".") as [string, string, string];
    const signingInput = Buffer.from(`${header}.${payload}`);
    const signatureBytes = Buffer.from(signature, "base64url");
    stages.push({
      name: "  RSA-2048 verify alone (node:crypto)",
      micros: timeSync(options.uniqueTokens, () => verifySignature("sha256", signingInput, publicKey, signatureBytes)),
    });
    stages.push({ name: "  SHA-256 of 1 KB (reference)", micros: timeSync(n, () => createHash("sha256").update(signingInput).digest()) });
    return stages;
  } finally {
    await sandbox.close();
  }
}

function timeSync(n: number, work: () => unknown): number {
  for (let i = 0; i < Math.min(n, 1000); i++) work();
  const start = performance.now();
  for (let i = 0; i < n; i++) work();
  return ((performance.now() - start) * 1000) / n;
}

async function timeAsync(n: number, work: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < Math.min(n, 200); i++) await work();
  const start = performance.now();
  for (let i = 0; i < n; i++) await work();
  return ((performance.now() - start) * 1000) / n;
}
