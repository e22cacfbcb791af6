/**
 * `npm run bench`: the broker measured against the physical limit on this machine, in one run.
 * Progress goes to stderr; stdout gets the table and, on its last line, the summary with the
 * token-endpoint ratio. BENCH_QUICK=1 runs a shorter version (for trying the bench itself);
 * BENCH_PROFILE_DIR=<folder> also writes CPU profiles of the broker under load there.
 */
import { benchCli, type CliFigures } from "./cli.js";
import { benchColdStart, type ColdStartFigures } from "./cold-start.js";
import { benchHotPath, type Stage } from "./hot-path.js";
import { fixed, formatTable, mebibytes, ms, perSecond, verdict, type Row } from "./report.js";
import { benchRenewal, type RenewalFigures } from "./renewal.js";
import { benchTokenEndpoint, type EndpointFigures } from "./token-endpoint.js";
import { benchCustomerTokens, customerRows } from "./customers.js";

const quick = process.env.BENCH_QUICK === "1";
const TARGETS = { repeat: 0.8, unique: 0.5, coldStart: 1.5 };
const started = performance.now();
const progress = (line: string) => process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s] ${line}\n`);

async function main(): Promise<void> {
  progress(`token endpoint (${quick ? "quick" : "full"})`);
  const endpointSettings = quick
    ? { connections: 16, rounds: 1, repeatSeconds: 2, uniqueRequestsPerRun: 1500, warmupSeconds: 1, repeatIdentities: 4, layerSeconds: 1, layerRounds: 1 }
    : { connections: 16, rounds: 4, repeatSeconds: 4, uniqueRequestsPerRun: 3000, warmupSeconds: 2, repeatIdentities: 4, layerSeconds: 3, layerRounds: 2 };
  const profileDirectory = process.env.BENCH_PROFILE_DIR;
  const endpoint = await benchTokenEndpoint({ ...endpointSettings, ...(profileDirectory ? { profileDirectory } : {}) }, progress);
  progress("customer tokens");
  const customers = await benchCustomerTokens(quick ? { connections: 16, rounds: 1, seconds: 2, identities: 4 } : { connections: 16, rounds: 3, seconds: 4, identities: 4 }, progress);
  progress("hot path, stage by stage");
  const stages = await benchHotPath(quick ? { iterations: 5_000, uniqueTokens: 300 } : { iterations: 20_000, uniqueTokens: 1_500 });
  progress("renewal");
  const renewal = await benchRenewal({ renewals: quick ? 5 : 20 });
  progress("cold start and package size");
  const coldStart = await benchColdStart({ runs: quick ? 3 : 9 });
  progress("CLI");
  const cli = await benchCli({ runs: quick ? 3 : 9 });
  progress("done");

  process.stdout.write(`${formatTable([...endpointRows(endpoint), ...layerRows(endpoint), ...stageRows(stages), ...operationRows(endpoint, renewal), ...renewalRows(renewal), ...coldStartRows(coldStart), ...cliRows(cli), ...customerRows(customers)])}\n\n`);
  process.stdout.write(`${summary(endpoint, coldStart, cli)}\n`);
}

function endpointRows(figures: EndpointFigures): Row[] {
  const { settings } = figures;
  const section = "1 token endpoint";
  const rows: Row[] = [];
  for (const [name, pair, target, ratios] of [
    [`repeat callers (${settings.repeatIdentities} identities)`, figures.repeat, TARGETS.repeat, figures.repeatRatios],
    ["unique caller token per request", figures.unique, TARGETS.unique, figures.uniqueRatios],
  ] as const) {
    rows.push(
      {
        section,
        figure: `${name}: throughput`,
        value: perSecond(pair.broker.requestsPerSecond),
        baseline: perSecond(pair.bare.requestsPerSecond),
        ratio: fixed(pair.ratio),
        target: `>= ${fixed(target)}`,
        verdict: verdict(pair.ratio >= target),
      },
      {
        section,
        figure: `${name}: p50 / p99`,
        value: `${ms(pair.broker.p50Ms)} / ${ms(pair.broker.p99Ms)}`,
        baseline: `${ms(pair.bare.p50Ms)} / ${ms(pair.bare.p99Ms)}`,
        ratio: `${fixed(pair.broker.p50Ms / pair.bare.p50Ms)} / ${fixed(pair.broker.p99Ms / pair.bare.p99Ms)}`,
        target: "",
        verdict: "",
      },
      {
        section,
        figure: `${name}: server CPU per request`,
        value: `${Math.round(pair.broker.serverCpuMicrosPerRequest)} µs`,
        baseline: `${Math.round(pair.bare.serverCpuMicrosPerRequest)} µs`,
        ratio: fixed(pair.bare.serverCpuMicrosPerRequest / pair.broker.serverCpuMicrosPerRequest),
        target: "",
        verdict: "",
      },
      {
        section,
        figure: `${name}: ratio per round`,
        value: ratios.map((r) => fixed(r)).join(" "),
        baseline: "",
        ratio: "",
        target: "",
        verdict: "",
      },
    );
  }
  rows.push({
    section,
    figure: `load per run (response body ${figures.bodyBytes} B)`,
    value: `${settings.connections} conn, ${settings.repeatSeconds} s | ${settings.uniqueRequestsPerRun} req, x${settings.rounds}`,
    baseline: "",
    ratio: "",
    target: "",
    verdict: "",
  });
  rows.push({
    section,
    figure: "audit log lines per request / verified-token cache hits:misses",
    value: `${fixed(figures.logLinesPerRequest)} / ${figures.verifierCache.hits}:${figures.verifierCache.misses}`,
    baseline: "",
    ratio: "",
    target: "",
    verdict: "",
  });
  return rows;
}

function layerRows(figures: EndpointFigures): Row[] {
  const bare = figures.layers[0]?.cpuMicros ?? Number.NaN;
  let previous = bare;
  return figures.layers.map((layer, i) => {
    const row: Row = {
      section: "1 server CPU per request, layer by layer",
      figure: layer.name,
      value: `${Math.round(layer.cpuMicros)} µs${i === 0 ? "" : ` (+${Math.round(layer.cpuMicros - previous)})`}`,
      baseline: i === 0 ? "" : `${Math.round(bare)} µs`,
      ratio: i === 0 ? "" : fixed(bare / layer.cpuMicros),
      target: "",
      verdict: "",
    };
    previous = layer.cpuMicros;
    return row;
  });
}

function stageRows(list: Stage[]): Row[] {
  return list.map((stage) => ({
    section: "1 in process, per call",
    figure: stage.name,
    value: `${fixed(stage.micros, 1)} µs`,
    baseline: "",
    ratio: "",
    target: "",
    verdict: "",
  }));
}

function operationRows(endpoint: EndpointFigures, renewal: RenewalFigures): Row[] {
  const section = "2 operations";
  const per10k = (count: number) => (count * 10_000) / endpoint.operations.served;
  const keyVaultServing = sumOf(endpoint.operations.keyVault);
  const maskinportenServing = endpoint.operations.maskinporten["metadataRequests"]! + endpoint.operations.maskinporten["tokenRequests"]!;
  const kv = renewal.perRenewal.keyVault;
  const mp = renewal.perRenewal.maskinporten;
  const row = (figure: string, value: number, target: string, ok?: boolean): Row => ({
    section,
    figure,
    value: fixed(value, value % 1 === 0 ? 0 : 2),
    baseline: "",
    ratio: "",
    target,
    verdict: ok === undefined ? "" : verdict(ok),
  });
  const startup = endpoint.startupOperations;
  return [
    row(`Key Vault requests per 10,000 served (${endpoint.operations.served} served)`, per10k(keyVaultServing), "0", keyVaultServing === 0),
    row("Maskinporten requests per 10,000 served", per10k(maskinportenServing), "0", maskinportenServing === 0),
    row("Entra key set fetches per 10,000 served", per10k(endpoint.operations.entraJwks), "0", endpoint.operations.entraJwks === 0),
    row("Key Vault requests for an instance's first served request", sumOf(startup.keyVault), "0 (token read at start-up)", sumOf(startup.keyVault) === 0),
    row(`Key Vault signs per renewal (mean of ${renewal.renewals})`, kv["sign"]!, "1", kv["sign"] === 1),
    row("Key Vault secret writes per renewal", kv["secretSet"]!, "1", kv["secretSet"] === 1),
    row("Key Vault certificate reads per renewal", kv["certificateGet"]!, "0 (unchanged)", kv["certificateGet"] === 0),
    row("Key Vault key reads + 401 challenges per renewal", kv["keyGet"]! + kv["challenge"]!, "0", kv["keyGet"]! + kv["challenge"]! === 0),
    row("Key Vault secret reads per renewal", kv["secretGet"]!, "(no target)"),
    row("Maskinporten token requests per renewal", mp["tokenRequests"]!, "1", mp["tokenRequests"] === 1),
    row("Maskinporten metadata fetches per renewal", mp["metadataRequests"]!, "0 (cached)", mp["metadataRequests"] === 0),
    {
      section,
      figure: "first renewal of an instance (Key Vault + Maskinporten requests)",
      value: describeCounts({ ...renewal.first.keyVault, ...renewal.first.maskinporten }),
      baseline: "",
      ratio: "",
      target: "",
      verdict: "",
    },
  ];
}

function renewalRows(figures: RenewalFigures): Row[] {
  return [
    {
      section: "3 renewal",
      figure: `wall time of one renewal vs the stand-ins' own handling (${figures.requestsPerRenewal} requests)`,
      value: ms(figures.wallMs),
      baseline: ms(figures.standInMs),
      ratio: fixed(figures.ratio),
      target: "",
      verdict: "",
    },
  ];
}

function coldStartRows(figures: ColdStartFigures): Row[] {
  const section = "4 cold start";
  const row = (figure: string, value: number, baseline: number, target?: number): Row => ({
    section,
    figure,
    value: ms(value),
    baseline: ms(baseline),
    ratio: fixed(value / baseline),
    target: target === undefined ? "" : `<= ${fixed(target)}`,
    verdict: target === undefined ? "" : verdict(value / baseline <= target),
  });
  const size = (figure: string, bytes: number): Row => ({ section, figure, value: mebibytes(bytes), baseline: "", ratio: "", target: "", verdict: "" });
  return [
    row(`import of the deployed package (dist/package) vs a bare app (median of ${figures.runs})`, figures.shipped.importMs, figures.bare.importMs, TARGETS.coldStart),
    row("before: import of dist/functions/*.js with node_modules", figures.unbundled.importMs, figures.bare.importMs),
    row("process start to entry imported (Node boot included)", figures.shipped.readyMs, figures.bare.readyMs),
    row("metrics chunk alone (OpenTelemetry SDK + Application Insights exporter), loaded in the background after the first invocation", figures.telemetry.importMs, figures.bare.importMs),
    row("if the exporter were imported statically: entry + metrics chunk", figures.eagerTelemetry.importMs, figures.bare.importMs, TARGETS.coldStart),
    size(`deployed package: ${figures.shippedFiles} files, no node_modules`, figures.shippedBytes),
    size(`before: dist + production node_modules (${figures.productionPackages} packages)`, figures.distBytes + figures.productionModulesBytes),
  ];
}

function cliRows(figures: CliFigures): Row[] {
  return [
    {
      section: "5 CLI",
      figure: `maskinporten-token to a token vs node -e "" (median of ${figures.runs})`,
      value: ms(figures.cliMs),
      baseline: ms(figures.nodeMs),
      ratio: fixed(figures.cliMs / figures.nodeMs),
      target: "",
      verdict: "",
    },
    {
      section: "5 CLI",
      figure: "overhead over Node's own start",
      value: ms(figures.cliMs - figures.nodeMs),
      baseline: "",
      ratio: "",
      target: "",
      verdict: "",
    },
  ];
}

function summary(endpoint: EndpointFigures, coldStart: ColdStartFigures, cli: CliFigures): string {
  const keyVaultServing = sumOf(endpoint.operations.keyVault);
  return [
    `token endpoint vs bare node:http: repeat callers ${fixed(endpoint.repeat.ratio)} (target >= ${fixed(TARGETS.repeat)}), unique token per request ${fixed(endpoint.unique.ratio)} (target >= ${fixed(TARGETS.unique)})`,
    `Key Vault requests per 10,000 served: ${fixed((keyVaultServing * 10_000) / endpoint.operations.served, 0)}`,
    `cold start of the deployed package ${fixed(coldStart.shipped.importMs / coldStart.bare.importMs, 2)}x bare (target <= ${fixed(TARGETS.coldStart)})`,
    `CLI +${Math.round(cli.cliMs - cli.nodeMs)} ms over node`,
  ].join(" | ");
}

function sumOf(counts: Record<string, number>): number {
  return Object.values(counts).reduce((total, n) => total + n, 0);
}

const SHORT_NAMES: Record<string, string> = {
  certificateGet: "cert",
  keyGet: "key",
  sign: "sign",
  secretGet: "get",
  secretSet: "set",
  challenge: "401",
  metadataRequests: "metadata",
  tokenRequests: "token",
};

function describeCounts(counts: Record<string, number>): string {
  return Object.entries(SHORT_NAMES)
    .filter(([name]) => (counts[name] ?? 0) > 0)
    .map(([name, short]) => `${short} ${counts[name]}`)
    .join(", ");
}

// Last, so that every constant above is initialised before main() uses it.
await main();
