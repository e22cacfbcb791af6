/**
 * vitest setup file (every test file): records what leaves the code under test and the secrets it
 * handled, and fails the file if any secret shows up in any recorded text. See leak-scan.ts.
 *
 * Recorded texts: console.* and process.stdout/stderr writes; every line of every jsonLogger and of
 * silentLogger (formatted as it would be written, so silenced brokers are scanned too); every
 * formatLogLine result (test loggers that format); every BrokerError message (all of the broker's
 * errors extend it); every HTTP result body (the 200 answer's access_token excepted, which is the
 * product); every metric any OpenTelemetry meter provider of the broker (createOtelMetrics) exported:
 * names, descriptions, attributes and values, collected when the provider shuts down or at the end.
 * Secrets: every grant createGrant returns, every access token parseTokenResponse accepts, every
 * caller token parseBearerToken extracts, every token read back from a secret, every keystore
 * password loadKeystoreKey is given, every token a Maskinporten stand-in issued and every token an
 * Entra stand-in minted in process, every Altinn token parseAltinnAnswer accepts and every token an
 * Altinn stand-in issued.
 *
 * The modules below are wrapped, not replaced: each export behaves exactly as before.
 */
import { appendFileSync } from "node:fs";
import { afterAll, expect, vi } from "vitest";
import { leakScan } from "./leak-scan.js";

leakScan.reset();

vi.mock("../../src/logging.js", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../src/logging.js")>();
  const { leakScan: scan } = await import("./leak-scan.js");
  const formatLogLine: typeof original.formatLogLine = (...args) => {
    const line = original.formatLogLine(...args);
    scan.record("log-line", line);
    return line;
  };
  return {
    ...original,
    formatLogLine,
    jsonLogger: (write?: (line: string) => void) =>
      original.jsonLogger((line) => {
        scan.record("log-line", line);
        (write ?? console.log)(line);
      }),
    silentLogger: {
      log: (level, event, fields) => scan.record("log-line", original.formatLogLine(level, event, fields)),
    } satisfies typeof original.silentLogger,
  };
});

vi.mock("../../src/errors.js", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../src/errors.js")>();
  const { leakScan: scan } = await import("./leak-scan.js");
  class BrokerError extends original.BrokerError {
    constructor(code: import("../../src/errors.js").ErrorCode, message: string, options?: { cause?: unknown }) {
      super(code, message, options);
      scan.record("error-message", this.message);
    }
  }
  return { ...original, BrokerError };
});

vi.mock("../../src/http/responses.js", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../src/http/responses.js")>();
  const { leakScan: scan } = await import("./leak-scan.js");
  const recorded =
    <A extends unknown[]>(make: (...args: A) => import("../../src/http/responses.js").HttpResult) =>
    (...args: A) => {
      const result = make(...args);
      const { access_token: _product, ...rest } = result.body;
      scan.record("http-body", JSON.stringify({ status: result.status, headers: result.headers, body: rest }));
      return result;
    };
  return {
    ...original,
    jsonResult: recorded(original.jsonResult),
    errorResult: recorded(original.errorResult),
    unauthorized: recorded(original.unauthorized),
    forbidden: recorded(original.forbidden),
    unavailable: recorded(original.unavailable),
  };
});

vi.mock("../../src/app/otel-metrics.js", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../src/app/otel-metrics.js")>();
  const { leakScan: scan } = await import("./leak-scan.js");
  const { MetricReader } = await import("@opentelemetry/sdk-metrics");
  class RecordingReader extends MetricReader {
    protected override async onForceFlush(): Promise<void> {}
    protected override async onShutdown(): Promise<void> {}
  }
  const createOtelMetrics: typeof original.createOtelMetrics = (options) => {
    let recorder: RecordingReader | undefined;
    const made = original.createOtelMetrics({
      ...options,
      readers: [...options.readers, (producers) => (recorder = new RecordingReader(producers))],
    });
    let recorded = false;
    const record = async () => {
      if (recorded) return;
      recorded = true;
      const { resourceMetrics } = await recorder!.collect();
      scan.record("metrics", JSON.stringify(resourceMetrics.scopeMetrics));
    };
    scan.addCollector(record);
    const shutdown = made.provider.shutdown.bind(made.provider);
    made.provider.shutdown = async (...args) => {
      await record();
      return shutdown(...args);
    };
    return made;
  };
  return { ...original, createOtelMetrics };
});

vi.mock("../../src/grant/grant.js", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../src/grant/grant.js")>();
  const { leakScan: scan } = await import("./leak-scan.js");
  const createGrant: typeof original.createGrant = async (...args) => {
    const grant = await original.createGrant(...args);
    scan.addToken(grant, "grant");
    return grant;
  };
  return { ...original, createGrant };
});

vi.mock("../../src/maskinporten/token-response.js", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../src/maskinporten/token-response.js")>();
  const { leakScan: scan } = await import("./leak-scan.js");
  const parseTokenResponse: typeof original.parseTokenResponse = (...args) => {
    const token = original.parseTokenResponse(...args);
    scan.addToken(token.accessToken, "maskinporten-token");
    return token;
  };
  return { ...original, parseTokenResponse };
});

vi.mock("../../src/altinn/altinn-token.js", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../src/altinn/altinn-token.js")>();
  const { leakScan: scan } = await import("./leak-scan.js");
  const parseAltinnAnswer: typeof original.parseAltinnAnswer = (...args) => {
    const token = original.parseAltinnAnswer(...args);
    scan.addToken(token.accessToken, "altinn-token");
    return token;
  };
  return { ...original, parseAltinnAnswer };
});

vi.mock("../../sandbox/altinn/standin.js", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../sandbox/altinn/standin.js")>();
  const { leakScan: scan } = await import("./leak-scan.js");
  const startAltinnStandIn: typeof original.startAltinnStandIn = async (...args) => {
    const standIn = await original.startAltinnStandIn(...args);
    scan.addSecretSource(() => standIn.issuedTokens.map((t) => [t.access_token, "altinn-token"] as const));
    return standIn;
  };
  return { ...original, startAltinnStandIn };
});

vi.mock("../../src/auth/bearer.js", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../src/auth/bearer.js")>();
  const { leakScan: scan } = await import("./leak-scan.js");
  const parseBearerToken: typeof original.parseBearerToken = (...args) => {
    const token = original.parseBearerToken(...args);
    scan.addToken(token, "caller-token");
    return token;
  };
  return { ...original, parseBearerToken };
});

vi.mock("../../src/token-store/stored-token.js", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../src/token-store/stored-token.js")>();
  const { leakScan: scan } = await import("./leak-scan.js");
  const fromSecret: typeof original.fromSecret = (...args) => {
    const token = original.fromSecret(...args);
    scan.addToken(token?.accessToken, "stored-token");
    return token;
  };
  return { ...original, fromSecret };
});

vi.mock("../../src/cli/keystore/keystore.js", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../src/cli/keystore/keystore.js")>();
  const { leakScan: scan } = await import("./leak-scan.js");
  const loadKeystoreKey: typeof original.loadKeystoreKey = (request) => {
    scan.addSecret(request.storePassword, "password");
    scan.addSecret(request.keyPassword, "password");
    return original.loadKeystoreKey(request);
  };
  return { ...original, loadKeystoreKey };
});

vi.mock("../../sandbox/maskinporten/standin.js", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../sandbox/maskinporten/standin.js")>();
  const { leakScan: scan } = await import("./leak-scan.js");
  const startMaskinportenStandIn: typeof original.startMaskinportenStandIn = async (...args) => {
    const standIn = await original.startMaskinportenStandIn(...args);
    scan.addSecretSource(() => standIn.issuedTokens.map((t) => [t.access_token, "maskinporten-token"] as const));
    return standIn;
  };
  return { ...original, startMaskinportenStandIn };
});

vi.mock("../../sandbox/entra/standin.js", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../sandbox/entra/standin.js")>();
  const { leakScan: scan } = await import("./leak-scan.js");
  const startEntraStandIn: typeof original.startEntraStandIn = async (...args) => {
    const standIn = await original.startEntraStandIn(...args);
    const mintToken = standIn.mintToken;
    // The object is a plain literal: its mintToken can be wrapped in place.
    (standIn as { mintToken: typeof mintToken }).mintToken = (body) => {
      const token = mintToken(body);
      scan.addToken(token, "caller-token");
      return token;
    };
    return standIn;
  };
  return { ...original, startEntraStandIn };
});

for (const method of ["log", "info", "warn", "error", "debug", "trace"] as const) {
  const original = console[method].bind(console);
  console[method] = (...args: unknown[]) => {
    leakScan.record("console", args.map((arg) => (typeof arg === "string" ? arg : safeInspect(arg))).join(" "));
    original(...args);
  };
}
for (const stream of ["stdout", "stderr"] as const) {
  const target = process[stream];
  const write = target.write.bind(target) as (...args: unknown[]) => boolean;
  target.write = ((chunk: unknown, ...rest: unknown[]) => {
    leakScan.record(stream, typeof chunk === "string" ? chunk : Buffer.isBuffer(chunk) ? chunk.toString("utf8") : "");
    return write(chunk, ...rest);
  }) as typeof target.write;
}

afterAll(async () => {
  await leakScan.collect();
  const findings = leakScan.scan();
  // LEAK_SCAN_STATS=<file>: one JSON line per test file, to show how much the scan covered.
  const statsFile = process.env.LEAK_SCAN_STATS;
  if (statsFile)
    appendFileSync(statsFile, JSON.stringify({ file: expect.getState().testPath, ...leakScan.stats(), findings: findings.length }) + "\n");
  expect(findings, "secrets found in logs, console output, error messages or HTTP error bodies").toEqual([]);
});

function safeInspect(value: unknown): string {
  try {
    return value instanceof Error ? `${value.name}: ${value.message}\n${value.stack ?? ""}` : (JSON.stringify(value) ?? String(value));
  } catch {
    return String(value);
  }
}
