/**
 * The leak scanner catches what it is meant to catch: secrets planted in each recorded channel
 * (through the very wrappers the setup file installs) are found, and nothing else is. Each test
 * clears what it planted, so this file's own final scan (from the setup file) stays clean.
 */
import { afterEach, describe, expect, it } from "vitest";
import { BrokerError, ErrorCode } from "../../src/errors.js";
import { errorResult, jsonResult } from "../../src/http/responses.js";
import { formatLogLine, jsonLogger, silentLogger } from "../../src/logging.js";
import { parseTokenResponse } from "../../src/maskinporten/token-response.js";
import { parseAltinnAnswer } from "../../src/altinn/altinn-token.js";
import { startEntraStandIn } from "../../sandbox/entra/standin.js";
import { createOtelMetrics } from "../../src/app/otel-metrics.js";
import { LeakScanner, leakScan } from "../support/leak-scan.js";

const OPAQUE = "opaque-Reference-token-7c1d9a0e55b34f7f9d2a61c0b8e4f3a2";
/** Distinct opaque tokens: none a prefix of another, so each plant is found exactly once. */
const opaque = (n: number) => `${n}-${OPAQUE}`;

afterEach(() => {
  leakScan.forgetTexts();
});

function tokenFromMaskinporten(accessToken: string): string {
  return parseTokenResponse(JSON.stringify({ access_token: accessToken, token_type: "Bearer", expires_in: 120 }), 200, Date.now(), [])
    .accessToken;
}

describe("leak scanner", () => {
  it("finds an opaque Maskinporten token that reached a log line (the scrubber only knows JWTs)", () => {
    const token = tokenFromMaskinporten(opaque(1));
    const lines: string[] = [];
    jsonLogger((line) => lines.push(line)).log("info", "renewal", { note: `got ${token}` });
    expect(lines[0]).toContain(opaque(1)); // the scrubber let it through: only the scan stands between it and a log
    expect(leakScan.scan()).toEqual([expect.objectContaining({ kind: "maskinporten-token", channel: "log-line" })]);
  });

  it("finds a token logged through the silent logger, which writes nothing but is still scanned", () => {
    silentLogger.log("warn", "oops", { token: tokenFromMaskinporten(opaque(2)) });
    expect(leakScan.scan().map((f) => f.channel)).toEqual(["log-line"]);
  });

  it("finds a JWT caller token in an error message and in console output, by value and by shape", async () => {
    const entra = await startEntraStandIn();
    try {
      const token = entra.mintToken({ roles: ["R"] });
      new BrokerError(ErrorCode.Unexpected, `refused ${token}`);
      console.log(`debugging ${token.split(".")[2]}`);
      const kinds = leakScan.scan().map((f) => `${f.channel}:${f.kind}`);
      expect(kinds).toEqual(expect.arrayContaining(["error-message:caller-token", "error-message:jws-shape", "console:signature"]));
    } finally {
      await entra.close();
    }
  });

  it("finds an Altinn token (every one the exchange accepts is registered) in console output", () => {
    const part = (json: string) => Buffer.from(json).toString("base64url");
    const jwt = `${part('{"alg":"RS256","typ":"JWT"}')}.${part(`{"exp":${Math.floor(Date.now() / 1000) + 1800}}`)}.${"altinnSignature0123456789".repeat(2)}`;
    const token = parseAltinnAnswer(JSON.stringify(jwt), 200, Date.now()).accessToken;
    console.log(`exchanged ${token}`);
    expect(leakScan.scan().map((f) => `${f.channel}:${f.kind}`)).toEqual(expect.arrayContaining(["console:altinn-token"]));
  });

  it("finds a secret in an HTTP error body, but not the token a 200 answer is meant to carry", () => {
    const token = tokenFromMaskinporten(opaque(3));
    jsonResult(200, { access_token: token, token_type: "Bearer" });
    expect(leakScan.scan()).toEqual([]);
    errorResult(500, "server_error", `failed for ${token}`);
    expect(leakScan.scan()).toEqual([expect.objectContaining({ kind: "maskinporten-token", channel: "http-body" })]);
  });

  it("finds a formatted line from a test's own logger and a private key anywhere", () => {
    formatLogLine("error", "x", { pem: "-----BEGIN PRIVATE KEY-----\nMIIE..." });
    expect(leakScan.scan()).toEqual([expect.objectContaining({ kind: "private-key", channel: "log-line" })]);
  });

  it("never prints the secret it found, and ignores values too short to be told from words", () => {
    const scanner = new LeakScanner();
    scanner.addSecret("Store-Pässword-1", "password");
    scanner.addSecret("pw", "password");
    scanner.record("stderr", "wrong password Store-Pässword-1 for keystore; pw");
    const findings = scanner.scan();
    expect(findings).toHaveLength(1);
    expect(findings[0]!.context).toBe("wrong password [PASSWORD] for keystore; pw");
    expect(JSON.stringify(findings)).not.toContain("Store-Pässword-1");
  });

  it("reads secret sources at scan time (a stand-in's issued tokens grow until then)", () => {
    const scanner = new LeakScanner();
    const issued: string[] = [];
    scanner.addSecretSource(() => issued.map((t) => [t, "maskinporten-token"] as const));
    scanner.record("log-line", `{"token":"${OPAQUE}"}`);
    issued.push(OPAQUE);
    expect(scanner.scan()).toHaveLength(1);
  });

  it("finds a token that reached an exported metric (an attribute here), collected from the meter provider", async () => {
    const token = tokenFromMaskinporten(opaque(9));
    const { metrics, provider } = createOtelMetrics({ readers: [] });
    metrics.renewal({ profile: token, outcome: "renewed", trigger: "timer", durationMs: 1 });
    await provider.shutdown();
    await leakScan.collect();
    // Found in both instruments the renewal feeds (the count and the duration).
    expect(leakScan.scan().map((f) => `${f.channel}:${f.kind}`)).toEqual(["metrics:maskinporten-token", "metrics:maskinporten-token"]);
  });
});
