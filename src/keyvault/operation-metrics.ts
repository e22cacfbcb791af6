/**
 * A pipeline policy for every Key Vault client: one measurement per operation (retries and the
 * authentication challenge included, as the caller sees it), by kind, status and duration.
 */
import type { KeyVaultOperationKind, Metrics } from "../metrics.js";
import type { KeyVaultClientOptions } from "./connection.js";

type AdditionalPolicy = NonNullable<KeyVaultClientOptions["additionalPolicies"]>[number];

/** What a Key Vault REST call does, from its method and path (never its object names). */
export function keyVaultOperationKind(method: string, url: string): KeyVaultOperationKind {
  let path: string[];
  try {
    path = new URL(url).pathname.split("/").filter(Boolean);
  } catch {
    return "other";
  }
  const [collection, , third, fourth] = path;
  if (collection === "secrets") {
    if (method === "PUT" && path.length === 2) return "secret-set";
    if (method === "GET" && third === "versions") return "secret-list-versions";
    if (method === "GET" && path.length >= 2) return "secret-get";
  }
  if (collection === "keys") {
    if (method === "POST" && (third === "sign" || fourth === "sign")) return "key-sign";
    if (method === "GET" && path.length >= 2) return "key-get";
  }
  if (collection === "certificates" && method === "GET" && path.length >= 2) return "certificate-get";
  return "other";
}

export function keyVaultMetricsPolicy(metrics: Metrics): AdditionalPolicy {
  return {
    position: "perCall",
    policy: {
      name: "maskinportenBrokerKeyVaultMetrics",
      async sendRequest(request, next) {
        const startedMs = performance.now();
        const kind = keyVaultOperationKind(request.method, request.url);
        try {
          const response = await next(request);
          metrics.keyVaultOperation({ kind, status: response.status, durationMs: performance.now() - startedMs });
          return response;
        } catch (error) {
          const status = (error as { statusCode?: unknown }).statusCode;
          metrics.keyVaultOperation({ kind, ...(typeof status === "number" ? { status } : {}), durationMs: performance.now() - startedMs });
          throw error;
        }
      },
    },
  };
}
