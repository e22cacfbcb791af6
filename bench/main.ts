/**
 * `npm run bench`: the broker measured against the physical limit on this machine, in one run.
 * Progress goes to stderr; stdout gets the table, a one-line summary, and last one JSON line with
 * the headline ratios (for scripts). BENCH_QUICK=1 runs a shorter version (for trying the bench
 * itself); BENCH_PROFILE_DIR=<folder> also writes CPU profiles of the broker under load there.
 */
import { benchCli, SEED_MEDIAN_MS, type CliFigures } from "./cli.js";
import { benchColdStart, type ColdStartFigures } from "./cold-start.js";
import { benchHostilePath, type HostilePathFigures } from "./hostile-path.js";
import { benchHotPath, type Stage } from "./hot-path.js";
import { fixed, formatTable, mebibytes, ms, perSecond, verdict, type Row } from "./report.js";
import { benchRenewal, median, type RenewalFigures } from "./renewal.js";
import { benchTokenEndpoint, type EndpointFigures } from "./token-endpoint.js";
import { benchCustomerTokens, customerRows } from "./customers.js";

const quick = process.env.BENCH_QUICK === "1";
const TARGETS = {
  repeat: 0.8,
  unique: 0.5,
  coldStart: 1.5,
  /** Our token handler's server CPU per request against a bare @azure/functions handler's (ratio bare ÷ ours). */
  repeatVsFunctionsHandler: 0.95,
  /** Installed CLI to a token, as a fraction of the Java seed's median. */
  cliVsSeed: 0.15,
  /** Installed CLI's `--help` over `node -e ""`, ms. */
  cliHelpOverNodeMs: 100,
};
const started = performance.now();
const progress = (line: string) =>
  process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s] ${line}\n`);

async function main(): Promise<void> {
  progress(`token endpoint (${quick ? "quick" : "full"})`);
  const endpointSettings = quick
    ? {
        connections: 16,
        rounds: 1,
        repeatSeconds: 2,
        uniqueRequestsPerRun: 1500,
        warmupSeconds: 1,
        repeatIdentities: 4,
        layerSeconds: 1,
        layerRounds: 1,
        headlineRounds: 0,
        interleavedRounds: 2,
        uniqueFloorRounds: 1,
        uniqueFloorRequestsPerRun: 1000,
      }
    : {
        connections: 16,
        rounds: 4,
        repeatSeconds: 4,
        uniqueRequestsPerRun: 3000,
        warmupSeconds: 2,
        repeatIdentities: 4,
        layerSeconds: 3,
        layerRounds: 3,
        headlineRounds: 8,
        interleavedRounds: 6,
        uniqueFloorRounds: 5,
        uniqueFloorRequestsPerRun: 4000,
      };
  const profileDirectory = process.env.BENCH_PROFILE_DIR;
  const endpoint = await benchTokenEndpoint({ ...endpointSettings, ...(profileDirectory ? { profileDirectory } : {}) }, progress);
  progress("customer tokens");
  const customers = await benchCustomerTokens(
    quick ? { connections: 16, rounds: 1, seconds: 2, identities: 4 } : { connections: 16, rounds: 3, seconds: 4, identities: 4 },
    progress,
  );
  progress("hot path, stage by stage");
  const stages = await benchHotPath(quick ? { iterations: 5_000, uniqueTokens: 300 } : { iterations: 20_000, uniqueTokens: 1_500 });
  progress("hostile caller path");
  const hostilePath = await benchHostilePath(quick ? { iterations: 500, oldRegexRuns: 1 } : { iterations: 3_000, oldRegexRuns: 3 });
  progress("renewal");
  const renewal = await benchRenewal({ renewals: quick ? 5 : 20 });
  progress("cold start and package size");
  const coldStart = await benchColdStart({ runs: quick ? 3 : 9 });
  progress("CLI");
  const cli = await benchCli({ runs: quick ? 3 : 9 });
  progress("done");

  process.stdout.write(
    `${formatTable([...headlineRows(endpoint), ...endpointRows(endpoint), ...layerRows(endpoint), ...uniqueFloorRows(endpoint), ...stageRows(stages), ...hostilePathRows(hostilePath), ...operationRows(endpoint, renewal), ...renewalRows(renewal), ...coldStartRows(coldStart), ...cliRows(cli), ...customerRows(customers)])}\n\n`,
  );
  process.stdout.write(`${summary(endpoint, coldStart, cli)}\n`);
  // Last line, for scripts: the headline ratios as one JSON object.
  process.stdout.write(`${JSON.stringify(headlineFigures(endpoint, coldStart, cli))}\n`);
}

/** Our token handler against a bare @azure/functions handler, round by round (see layers.ts). */
function versusFunctionsHandler(figures: EndpointFigures): { cpuRatio: number; cpuRatios: number[]; throughputRatio: number } {
  const baseline = figures.layers.find((layer) => layer.id === "functions-handler");
  const ours = figures.layers.find((layer) => layer.id === "token-handler");
  if (!baseline || !ours) return { cpuRatio: Number.NaN, cpuRatios: [], throughputRatio: Number.NaN };
  const cpuRatios = baseline.cpuPerRound.map((cpu, round) => cpu / ours.cpuPerRound[round]!);
  const throughputRatios = baseline.requestsPerSecondPerRound.map((rps, round) => ours.requestsPerSecondPerRound[round]! / rps);
  return { cpuRatio: median(cpuRatios), cpuRatios, throughputRatio: median(throughputRatios) };
}

function headlineRows(endpoint: EndpointFigures): Row[] {
  const { interleaved } = endpoint;
  const perRun = versusFunctionsHandler(endpoint);
  const baseline = endpoint.layers.find((layer) => layer.id === "functions-handler");
  const ours = endpoint.layers.find((layer) => layer.id === "token-handler");
  const section = "0 headline";
  const blank = { baseline: "", ratio: "", target: "", verdict: "" } as const;
  return [
    {
      section,
      figure: `repeat callers vs a bare @azure/functions handler: server CPU per request, the two answering in turn on one server (median of ${interleaved.rounds.length} rounds)`,
      value: `${Math.round(interleaved.oursCpuMicros)} µs`,
      baseline: `${Math.round(interleaved.bareCpuMicros)} µs`,
      ratio: fixed(interleaved.ratio),
      target: `>= ${fixed(TARGETS.repeatVsFunctionsHandler)}`,
      verdict: verdict(interleaved.ratio >= TARGETS.repeatVsFunctionsHandler),
    },
    {
      section,
      figure: "… ratio per round / our handler's synchronous work over the bare handler's, per request (µs)",
      value: `${interleaved.rounds.map((r) => fixed(r.ratio)).join(" ")} / ${interleaved.rounds.map((r) => `+${fixed(r.oursMicros - r.bareMicros, 1)}`).join(" ")}`,
      ...blank,
    },
    ...(interleaved.calibration
      ? [
          {
            section,
            figure: `… the method's check: the bare handler plus ${interleaved.calibration.addedMicros} µs of busy work, found as (per round)`,
            value: interleaved.calibration.measuredMicros.map((micros) => `+${fixed(micros, 1)} µs`).join(" "),
            ...blank,
          },
        ]
      : []),
    {
      section,
      figure: `… the same from separate runs, paired, order alternating (median of ${perRun.cpuRatios.length}; noisy: see README)`,
      value: ours ? `${Math.round(ours.cpuMicros)} µs` : "n/a",
      baseline: baseline ? `${Math.round(baseline.cpuMicros)} µs` : "n/a",
      ratio: fixed(perRun.cpuRatio),
      target: "",
      verdict: "",
    },
    {
      section,
      figure: "… ratio per round / throughput ratio",
      value: `${perRun.cpuRatios.map((r) => fixed(r)).join(" ")} / ${fixed(perRun.throughputRatio)}`,
      ...blank,
    },
  ];
}

function headlineFigures(endpoint: EndpointFigures, coldStart: ColdStartFigures, cli: CliFigures): Record<string, number | string> {
  const round = (value: number, digits = 3) => (Number.isFinite(value) ? Number(value.toFixed(digits)) : Number.NaN);
  return {
    repeatVsFunctionsHandlerCpu: round(endpoint.interleaved.ratio),
    repeatVsFunctionsHandlerCpuSeparateRuns: round(versusFunctionsHandler(endpoint).cpuRatio),
    repeatVsFunctionsHandlerThroughput: round(versusFunctionsHandler(endpoint).throughputRatio),
    repeatVsNodeHttp: round(endpoint.repeat.ratio),
    uniqueVsNodeHttp: round(endpoint.unique.ratio),
    uniqueVsVerifyingFloorThroughput: round(uniqueFloorFigures(endpoint)?.oursVsFloorThroughput ?? Number.NaN),
    verifyingFloorVsNodeHttpThroughput: round(uniqueFloorFigures(endpoint)?.floorVsBareThroughput ?? Number.NaN),
    coldStartShippedVsBareApp: round(coldStart.shipped.importMs / coldStart.bare.importMs),
    coldStartUnbundledVsBareApp: round(coldStart.unbundled.importMs / coldStart.bare.importMs),
    cliTokenMs: Math.round(cli.installedMs),
    cliTokenVsSeed: round(cli.installedMs / SEED_MEDIAN_MS),
    cliHelpOverNodeMs: Math.round(cli.helpMs - cli.nodeMs),
    nodeStartMs: Math.round(cli.nodeMs),
    mode: quick ? "quick" : "full",
  };
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
      value: `${Math.round(layer.cpuMicros)} µs${i === 0 ? "" : ` (${signed(Math.round(layer.cpuMicros - previous))})`}`,
      baseline: i === 0 ? "" : `${Math.round(bare)} µs`,
      ratio: i === 0 ? "" : fixed(bare / layer.cpuMicros),
      target: "",
      verdict: "",
    };
    previous = layer.cpuMicros;
    return row;
  });
}

/** Fresh caller tokens: bare server, the floor for any verifying handler, ours; paired by round (see unique-floor.ts). */
function uniqueFloorFigures(figures: EndpointFigures) {
  const of = (id: string) => figures.uniqueFloor.find((server) => server.id === id);
  const [bare, floor, ours] = [of("bare-http"), of("verifying-floor"), of("token-handler")];
  if (!bare || !floor || !ours) return undefined;
  const paired = (a: number[], b: number[]) => median(a.map((value, round) => value / b[round]!));
  return {
    bare,
    floor,
    ours,
    floorVsBareThroughput: paired(floor.requestsPerSecondPerRound, bare.requestsPerSecondPerRound),
    oursVsBareThroughput: paired(ours.requestsPerSecondPerRound, bare.requestsPerSecondPerRound),
    oursVsFloorThroughput: paired(ours.requestsPerSecondPerRound, floor.requestsPerSecondPerRound),
    /** Floor's server CPU per request ÷ ours. */
    oursVsFloorCpu: paired(floor.cpuPerRound, ours.cpuPerRound),
  };
}

function uniqueFloorRows(endpoint: EndpointFigures): Row[] {
  const figures = uniqueFloorFigures(endpoint);
  if (!figures) return [];
  const section = "1 fresh caller token per request, taken apart";
  const rounds = figures.bare.cpuPerRound.length;
  const row = (figure: string, server: { cpuPerRound: number[]; requestsPerSecondPerRound: number[] }, ratio: string): Row => ({
    section,
    figure,
    value: `${perSecond(median(server.requestsPerSecondPerRound))}, ${Math.round(median(server.cpuPerRound))} µs CPU`,
    baseline: `${perSecond(median(figures.bare.requestsPerSecondPerRound))} bare`,
    ratio,
    target: "",
    verdict: "",
  });
  return [
    row(`bare node:http, fixed body (the same tokens; ${rounds} rounds)`, figures.bare, ""),
    row(
      "floor: an @azure/functions handler that verifies (HttpRequest + RS256 with node:crypto + claims parsed)",
      figures.floor,
      fixed(figures.floorVsBareThroughput),
    ),
    row("the real token handler (verifier on a new token, audit line, metrics)", figures.ours, fixed(figures.oursVsBareThroughput)),
    {
      section,
      figure: "… the real handler against the floor: throughput / server CPU per request (floor ÷ ours)",
      value: `${fixed(figures.oursVsFloorThroughput)} / ${fixed(figures.oursVsFloorCpu)}`,
      baseline: "",
      ratio: "",
      target: "",
      verdict: "",
    },
  ];
}

/** +7, −3 (medians of noisy rounds can make a later layer look cheaper). */
function signed(value: number): string {
  return value < 0 ? `−${-value}` : `+${value}`;
}

function hostilePathRows(figures: HostilePathFigures): Row[] {
  const section = "1 hostile caller, anonymous";
  const ratio = figures.hostileMicros / figures.plainMicros;
  return [
    {
      section,
      figure: `401 for a ${Math.round(figures.pathBytes / 1024)} KB path of "eyJ"×5000 vs a plain 401`,
      value: `${Math.round(figures.hostileMicros)} µs`,
      baseline: `${Math.round(figures.plainMicros)} µs`,
      ratio: fixed(ratio),
      target: "<= 5.00",
      verdict: verdict(ratio <= 5),
    },
    {
      section,
      figure: "  the scrubber regex before the fix, on that audit line (reference)",
      value: `${Math.round(figures.oldRegexMicros)} µs`,
      baseline: `${Math.round(figures.plainMicros)} µs`,
      ratio: fixed(figures.oldRegexMicros / figures.plainMicros),
      target: "",
      verdict: "",
    },
  ];
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
    row(
      "Key Vault requests for an instance's first served request",
      sumOf(startup.keyVault),
      "0 (token read at start-up)",
      sumOf(startup.keyVault) === 0,
    ),
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
  const size = (figure: string, bytes: number): Row => ({
    section,
    figure,
    value: mebibytes(bytes),
    baseline: "",
    ratio: "",
    target: "",
    verdict: "",
  });
  return [
    row(
      `import of the deployed package (dist/package) vs a bare app (median of ${figures.runs})`,
      figures.shipped.importMs,
      figures.bare.importMs,
      TARGETS.coldStart,
    ),
    row("before: import of dist/functions/*.js with node_modules", figures.unbundled.importMs, figures.bare.importMs),
    row("process start to entry imported (Node boot included)", figures.shipped.readyMs, figures.bare.readyMs),
    row(
      "metrics chunk alone (OpenTelemetry SDK + Application Insights exporter), loaded in the background after the first invocation",
      figures.telemetry.importMs,
      figures.bare.importMs,
    ),
    row(
      "if the exporter were imported statically: entry + metrics chunk",
      figures.eagerTelemetry.importMs,
      figures.bare.importMs,
      TARGETS.coldStart,
    ),
    size(`deployed package: ${figures.shippedFiles} files, no node_modules`, figures.shippedBytes),
    size(
      `before: dist + production node_modules (${figures.productionPackages} packages)`,
      figures.distBytes + figures.productionModulesBytes,
    ),
  ];
}

function cliRows(figures: CliFigures): Row[] {
  const section = "5 CLI";
  const row = (figure: string, value: number, baseline: string, ratio: string, target = "", ok?: boolean): Row => ({
    section,
    figure,
    value: ms(value),
    baseline,
    ratio,
    target,
    verdict: ok === undefined ? "" : verdict(ok),
  });
  const vsSeed = figures.installedMs / SEED_MEDIAN_MS;
  const helpOverNode = figures.helpMs - figures.nodeMs;
  return [
    row(
      `installed maskinporten-token to a token vs the Java seed's median (median of ${figures.runs})`,
      figures.installedMs,
      `seed ${ms(SEED_MEDIAN_MS)}`,
      fixed(vsSeed),
      `<= ${fixed(TARGETS.cliVsSeed)}`,
      vsSeed <= TARGETS.cliVsSeed,
    ),
    row(
      '… the same over node -e ""',
      figures.installedMs - figures.nodeMs,
      `node ${ms(figures.nodeMs)}`,
      fixed(figures.installedMs / figures.nodeMs),
    ),
    row(
      'installed maskinporten-token --help, over node -e ""',
      helpOverNode,
      `node ${ms(figures.nodeMs)}`,
      fixed(figures.helpMs / figures.nodeMs),
      `<= ${TARGETS.cliHelpOverNodeMs} ms`,
      helpOverNode <= TARGETS.cliHelpOverNodeMs,
    ),
    row(
      "unbundled, in this clone (node bin/maskinporten-token.js) to a token",
      figures.repoMs,
      `installed ${ms(figures.installedMs)}`,
      fixed(figures.repoMs / figures.installedMs),
    ),
    {
      section,
      figure: "npm pack + npm install -g --offline of the tarball (no runtime dependencies)",
      value: `${figures.installSeconds.toFixed(1)} s`,
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
    `repeat callers vs bare @azure/functions handler ${fixed(endpoint.interleaved.ratio)} by CPU (target >= ${fixed(TARGETS.repeatVsFunctionsHandler)})`,
    `CLI to a token ${Math.round(cli.installedMs)} ms = ${fixed(cli.installedMs / SEED_MEDIAN_MS)}x seed, --help +${Math.round(cli.helpMs - cli.nodeMs)} ms over node`,
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
