/**
 * Production metrics: the broker's instruments exported to Application Insights every minute by
 * @azure/monitor-opentelemetry-exporter, authenticated with the function app's managed identity
 * (Application Insights has local auth off: Entra ID only, role Monitoring Metrics Publisher in
 * infra/app/rbac.bicep). The connection string names the resource and its ingestion endpoint; it
 * carries no secret. runtime.ts loads this module in the background (a lazy chunk in the bundle).
 */
import type { TokenCredential } from "@azure/identity";
import { AzureMonitorMetricExporter, type AzureMonitorExporterOptions } from "@azure/monitor-opentelemetry-exporter";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import type { Settings } from "../config/reader.js";
import { createOtelMetrics, type OtelMetrics } from "./otel-metrics.js";

export const EXPORT_INTERVAL_MS = 60_000;

export interface AzureMonitorMetricsOptions {
  connectionString: string;
  credential: TokenCredential;
  settings: Settings;
  /** Test-only: trust of a stand-in ingestion endpoint's CA. Production passes none. */
  tlsOptions?: AzureMonitorExporterOptions["tlsOptions"];
}

export function startAzureMonitorMetrics(options: AzureMonitorMetricsOptions): OtelMetrics {
  const exporter = new AzureMonitorMetricExporter({
    connectionString: options.connectionString,
    credential: options.credential,
    ...(options.tlsOptions ? { tlsOptions: options.tlsOptions } : {}),
  });
  // Cloud role name and instance, as the Functions host reports its own telemetry.
  const site = options.settings.WEBSITE_SITE_NAME;
  const instance = options.settings.WEBSITE_INSTANCE_ID;
  const resource = resourceFromAttributes({
    "service.name": site ?? "maskinporten-broker",
    ...(instance ? { "service.instance.id": instance } : {}),
  });
  return createOtelMetrics({
    readers: [(producers) => new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: EXPORT_INTERVAL_MS, ...producers })],
    resource,
  });
}
