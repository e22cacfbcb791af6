/**
 * The metrics port's pure parts: status classes, the bounded OAuth error label, Key Vault operation
 * kinds from REST paths, the deferred adapter (measurements before OpenTelemetry has loaded are
 * kept and replayed, in order), and the boundary: the core never imports OpenTelemetry.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { keyVaultOperationKind } from "../../src/keyvault/operation-metrics.js";
import { deferredMetrics, noMetrics, oauthErrorLabel, statusClassOf, type Metrics } from "../../src/metrics.js";

const root = fileURLToPath(new URL("../../", import.meta.url));

function recording(): { metrics: Metrics; calls: string[] } {
  const calls: string[] = [];
  const metrics: Metrics = { ...noMetrics };
  for (const name of Object.keys(noMetrics) as (keyof Metrics)[]) {
    (metrics as unknown as Record<string, (...args: unknown[]) => void>)[name] = (...args) =>
      calls.push(`${name} ${JSON.stringify(args[0])}`);
  }
  return { metrics, calls };
}

describe("metrics port", () => {
  it("classes statuses, with no answer as network", () => {
    expect([200, 204, 301, 404, 429, 503].map(statusClassOf)).toEqual(["2xx", "2xx", "3xx", "4xx", "4xx", "5xx"]);
    expect([undefined, 0, 42, 600, 200.5].map(statusClassOf)).toEqual(["network", "network", "network", "network", "network"]);
  });

  it("keeps Maskinporten's documented OAuth errors and folds anything else a server sends into other", () => {
    expect(oauthErrorLabel("invalid_grant")).toBe("invalid_grant");
    expect(oauthErrorLabel("invalid_client")).toBe("invalid_client");
    expect(oauthErrorLabel("eyJhbGciOi-anything-a-server-says")).toBe("other");
    expect(oauthErrorLabel(undefined)).toBeUndefined();
  });

  it("names Key Vault operations by kind, never by object", () => {
    const vault = "https://kv-broker.vault.azure.net";
    expect(keyVaultOperationKind("GET", `${vault}/secrets/maskinporten-skatt/?api-version=7.5`)).toBe("secret-get");
    expect(keyVaultOperationKind("GET", `${vault}/secrets/maskinporten-skatt/0123abcd?api-version=7.5`)).toBe("secret-get");
    expect(keyVaultOperationKind("PUT", `${vault}/secrets/maskinporten-skatt?api-version=7.5`)).toBe("secret-set");
    expect(keyVaultOperationKind("GET", `${vault}/secrets/maskinporten-skatt/versions?api-version=7.5`)).toBe("secret-list-versions");
    expect(keyVaultOperationKind("POST", `${vault}/keys/signing/0a1b2c/sign?api-version=7.5`)).toBe("key-sign");
    expect(keyVaultOperationKind("GET", `${vault}/keys/signing/0a1b2c?api-version=7.5`)).toBe("key-get");
    expect(keyVaultOperationKind("GET", `${vault}/certificates/signing/?api-version=7.5`)).toBe("certificate-get");
    expect(keyVaultOperationKind("DELETE", `${vault}/secrets/x`)).toBe("other");
    expect(keyVaultOperationKind("GET", "not a url")).toBe("other");
  });

  it("keeps measurements taken while the adapter loads and replays them in order", async () => {
    const { metrics: target, calls } = recording();
    let resolve!: (metrics: Metrics) => void;
    const deferred = deferredMetrics(new Promise((r) => (resolve = r)));
    deferred.callerTokenCache(false);
    deferred.renewal({ profile: "skatt", outcome: "renewed", trigger: "timer", durationMs: 3 });
    expect(calls).toEqual([]);
    resolve(target);
    await Promise.resolve();
    await Promise.resolve();
    deferred.callerTokenCache(true);
    expect(calls).toEqual([
      "callerTokenCache false",
      `renewal {"profile":"skatt","outcome":"renewed","trigger":"timer","durationMs":3}`,
      "callerTokenCache true",
    ]);
  });

  it("once loaded, hands every method straight to the adapter (no forwarding per call)", async () => {
    const { metrics: target } = recording();
    const deferred = deferredMetrics(Promise.resolve(target));
    await Promise.resolve();
    await Promise.resolve();
    for (const name of Object.keys(noMetrics) as (keyof Metrics)[]) {
      // A bound method of the adapter: calling it reaches the adapter with the same arguments and this.
      expect(deferred[name].name, name).toBe(`bound ${target[name].name}`);
    }
  });

  it("reports a failed load once and measures nothing after it", async () => {
    const errors: unknown[] = [];
    const deferred = deferredMetrics(Promise.reject(new Error("cannot load exporter")), (error) => errors.push(error));
    deferred.callerTokenCache(true);
    await new Promise((r) => setTimeout(r, 0));
    deferred.callerTokenCache(true);
    expect(errors).toHaveLength(1);
  });

  it("keeps OpenTelemetry out of the core: only the adapters in src/app import it", () => {
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory() ? files(join(dir, entry.name)) : entry.name.endsWith(".ts") ? [join(dir, entry.name)] : [],
      );
    const importers = files(join(root, "src"))
      .filter((file) => /from "@(opentelemetry|azure\/monitor-opentelemetry-exporter)/.test(readFileSync(file, "utf8")))
      .map((file) => relative(root, file).split("\\").join("/"));
    expect(importers.sort()).toEqual([
      "src/app/azure-monitor-metrics.ts",
      "src/app/otel-metrics.ts",
      "src/app/pre-aggregated-histogram.ts",
    ]);
  });
});
