/**
 * Figures 1 and 2 (serving side): GET /api/token/{profile} through the real function handler,
 * served by the sandbox on 127.0.0.1, against a bare node:http server answering a body of the
 * same size, under the same load from a separate process, in the same run. Two cases: a few
 * repeat callers, and a fresh caller token on every request. The stand-ins count every Key Vault,
 * Maskinporten and Entra request meanwhile.
 */
import { startSandbox, type Sandbox } from "../sandbox/sandbox.js";
import { startBareServer, type BareServer } from "./bare-server.js";
import { getRuntime } from "../src/app/runtime.js";
import { countingLogger } from "./counting-logger.js";
import { profiled } from "./cpu-profile.js";
import { benchLayers, type Layer } from "./layers.js";
import { benchUniqueFloor, type UniqueServerFigures } from "./unique-floor.js";
import { benchInterleaved, type InterleavedFigures } from "./interleaved.js";
import { createPublicKey } from "node:crypto";
import { runLoad, type MeasuredLoad } from "./load.js";

export interface EndpointSettings {
  connections: number;
  /** Rounds of (bare, broker) pairs per case; the median round is reported. */
  rounds: number;
  /** Duration of each measured repeat-caller run. */
  repeatSeconds: number;
  /** Requests (= distinct caller tokens) in each measured unique-token run. */
  uniqueRequestsPerRun: number;
  warmupSeconds: number;
  repeatIdentities: number;
  /** Seconds per run and rounds of the layer-by-layer breakdown (see layers.ts). */
  layerSeconds: number;
  layerRounds: number;
  /** Extra alternating rounds of the two layers behind the headline (see layers.ts). */
  headlineRounds: number;
  /** Rounds of the interleaved headline (see interleaved.ts), each layerSeconds long. */
  interleavedRounds: number;
  /** Rounds and requests per run of the fresh-token breakdown (see unique-floor.ts). */
  uniqueFloorRounds: number;
  uniqueFloorRequestsPerRun: number;
  /** When set, one more repeat and one more unique-token broker run are profiled into this folder. */
  profileDirectory?: string;
}

export interface CasePair {
  broker: MeasuredLoad;
  bare: MeasuredLoad;
  /** Throughput of the broker ÷ that of the bare server. */
  ratio: number;
}

export interface ServingOperations {
  served: number;
  keyVault: Record<string, number>;
  maskinporten: Record<string, number>;
  entraJwks: number;
}

export interface EndpointFigures {
  settings: EndpointSettings;
  bodyBytes: number;
  /** The round with the median ratio (of `rounds`). */
  repeat: CasePair;
  unique: CasePair;
  /** Every round's ratio, to show the spread. */
  repeatRatios: number[];
  uniqueRatios: number[];
  /** Stand-in requests while the broker served both measured runs. */
  operations: ServingOperations;
  /** Stand-in requests from start-up to the first served token (the one-off read per instance). */
  startupOperations: { keyVault: Record<string, number>; maskinporten: Record<string, number>; entraJwks: number };
  logLinesPerRequest: number;
  /** The verified-caller-token cache over both measured runs. */
  verifierCache: { hits: number; misses: number };
  /** Repeat-caller cost layer by layer, bare server to real handler (see layers.ts). */
  layers: Layer[];
  /** The headline: bare @azure/functions handler and ours answering in turn on one server (see interleaved.ts). */
  interleaved: InterleavedFigures;
  /** Fresh caller tokens: bare server, a minimal verifying handler and ours, round by round (see unique-floor.ts). */
  uniqueFloor: UniqueServerFigures[];
}

export async function benchTokenEndpoint(settings: EndpointSettings, progress: (line: string) => void): Promise<EndpointFigures> {
  const logger = countingLogger();
  // A long token lifetime keeps renewal out of the measured window: this measures serving only.
  const sandbox = await startSandbox({ port: 0, logger, tokenLifetimeSeconds: 3600 });
  let bare: BareServer | undefined;
  try {
    const profile = sandbox.env.profiles[0]!;
    const url = `${sandbox.env.brokerUrl}/api/token/${profile.name}`;
    const callerToken = (i: number, kind: string) =>
      `Bearer ${sandbox.entra.mintToken({
        roles: sandbox.env.profiles.map((p) => p.role),
        azp: `00000000-0000-4000-8000-${kind}${String(i).padStart(11, "0")}`.slice(0, 36),
        oid: crypto.randomUUID(),
        uti: `${kind}-${i}`,
      })}`;

    // The first request of the instance: JWKS fetch; the token itself is already held (startup tick).
    const startup = snapshot(sandbox);
    const sample = await fetch(url, { headers: { authorization: callerToken(0, "1") } });
    const body = await sample.text();
    if (sample.status !== 200) throw new Error(`the broker refused the sample request: ${sample.status} ${body}`);
    const startupOperations = difference(startup, snapshot(sandbox));
    const headers: Record<string, string> = {};
    sample.headers.forEach((value, name) => {
      if (!["date", "connection", "keep-alive", "content-length", "transfer-encoding"].includes(name)) headers[name] = value;
    });
    bare = await startBareServer(body, headers);
    const bareUrl = `${bare.url}/api/token/${profile.name}`;

    const repeatCallers = Array.from({ length: settings.repeatIdentities }, (_, i) => callerToken(i, "2"));
    const perRun = settings.uniqueRequestsPerRun;
    // One set per round, one for the warm-up, and one for the profiled run if there is one.
    const tokenSets = settings.rounds + 1 + (settings.profileDirectory ? 1 : 0);
    progress(`token endpoint: minting ${perRun * tokenSets} unique caller tokens`);
    // The bare server is sent the same tokens as the broker in the same round: it ignores them.
    const uniqueTokens = Array.from({ length: perRun * tokenSets }, (_, i) => callerToken(i, "3"));
    const tokensOfRun = (run: number) => uniqueTokens.slice(run * perRun, (run + 1) * perRun);

    const load = (target: string, authorizations: readonly string[], amountOrSeconds: { amount: number } | { durationSeconds: number }) =>
      runLoad({ url: target, connections: settings.connections, authorizations, ...amountOrSeconds });
    const ensureClean = (name: string, result: MeasuredLoad) => {
      if (result.errors > 0 || result.non2xx > 0) {
        throw new Error(`${name}: ${result.errors} errors and ${result.non2xx} non-2xx answers; the figures would be meaningless`);
      }
      return result;
    };

    progress("token endpoint: warm-up");
    await load(bareUrl, repeatCallers, { durationSeconds: settings.warmupSeconds });
    await load(url, repeatCallers, { durationSeconds: settings.warmupSeconds });
    await load(url, tokensOfRun(settings.rounds), { amount: perRun });

    const before = snapshot(sandbox);
    const linesBefore = logger.lines;
    const cacheBefore = getRuntime().verifier!.cacheStats();
    const repeatRounds: CasePair[] = [];
    const uniqueRounds: CasePair[] = [];
    // Bare and broker alternate, round after round, so that a noisy neighbour hits both alike.
    for (let round = 0; round < settings.rounds; round++) {
      progress(`token endpoint: round ${round + 1}/${settings.rounds}`);
      // Forwards and backwards in turn (see inAlternatingOrder): neither always pays the other's garbage.
      const brokerFirst = round % 2 === 1;
      const repeatRun = (target: string) => load(target, repeatCallers, { durationSeconds: settings.repeatSeconds });
      const repeatFirst = await repeatRun(brokerFirst ? url : bareUrl);
      const repeatSecond = await repeatRun(brokerFirst ? bareUrl : url);
      const repeatBare = ensureClean("bare, repeat", brokerFirst ? repeatSecond : repeatFirst);
      const repeatBroker = ensureClean("broker, repeat", brokerFirst ? repeatFirst : repeatSecond);
      repeatRounds.push(pair(repeatBroker, repeatBare));
      const uniqueRun = (target: string) => load(target, tokensOfRun(round), { amount: perRun });
      const uniqueFirst = await uniqueRun(brokerFirst ? url : bareUrl);
      const uniqueSecond = await uniqueRun(brokerFirst ? bareUrl : url);
      const uniqueBare = ensureClean("bare, unique", brokerFirst ? uniqueSecond : uniqueFirst);
      const uniqueBroker = ensureClean("broker, unique", brokerFirst ? uniqueFirst : uniqueSecond);
      if (uniqueBroker.distinctAuthorizationsSent !== uniqueBroker.requests)
        throw new Error("the unique-token run did not send each token once");
      uniqueRounds.push(pair(uniqueBroker, uniqueBare));
    }
    const operations = difference(before, snapshot(sandbox));
    const cacheAfter = getRuntime().verifier!.cacheStats();
    const served = [...repeatRounds, ...uniqueRounds].reduce((total, round) => total + round.broker.requests, 0);
    const logLinesPerRequest = (logger.lines - linesBefore) / served;

    if (settings.profileDirectory) {
      const directory = settings.profileDirectory;
      progress(`token endpoint: CPU profiles into ${directory}`);
      await profiled(directory, "token-endpoint-repeat", () => load(url, repeatCallers, { durationSeconds: settings.repeatSeconds }));
      await profiled(directory, "token-endpoint-unique", () => load(url, tokensOfRun(settings.rounds + 1), { amount: perRun }));
    }

    progress("token endpoint: layer by layer");
    // The sandbox imported the handlers already: this is the same module, wired to the same runtime.
    const { tokenHandler } = await import("../functions/token.js");
    const underTest = { tokenHandler, profile: profile.name, body, headers };
    const layers = await benchLayers({
      ...underTest,
      authorizations: repeatCallers,
      connections: settings.connections,
      seconds: settings.layerSeconds,
      rounds: settings.layerRounds,
      headlineRounds: settings.headlineRounds,
    });

    progress("token endpoint: headline, the bare @azure/functions handler and ours in turn on one server");
    const interleaved = await benchInterleaved({
      ...underTest,
      authorizations: repeatCallers,
      connections: settings.connections,
      seconds: settings.layerSeconds,
      rounds: settings.interleavedRounds,
      calibrationMicros: 5,
      calibrationRounds: 2,
    });

    progress("token endpoint: fresh caller tokens, against a minimal verifying handler");
    const keys = (await (
      await sandbox.entra.fetch(`${sandbox.env.entraAuthorityHost}/${sandbox.env.tenantId}/discovery/v2.0/keys`)
    ).json()) as { keys: (Record<string, unknown> & { kid?: string })[] };
    const callerJwk = keys.keys.find((key) => key.kid === sandbox.entra.currentKid) ?? keys.keys[0]!;
    let minted = 0;
    const uniqueFloor = await benchUniqueFloor({
      ...underTest,
      callerKey: createPublicKey({ key: callerJwk as import("node:crypto").JsonWebKey, format: "jwk" }),
      freshAuthorizations: (count) => Array.from({ length: count }, () => callerToken(minted++, "4")),
      requestsPerRun: settings.uniqueFloorRequestsPerRun,
      connections: settings.connections,
      rounds: settings.uniqueFloorRounds,
    });

    return {
      settings,
      bodyBytes: Buffer.byteLength(body),
      uniqueFloor,
      interleaved,
      repeat: medianRound(repeatRounds),
      unique: medianRound(uniqueRounds),
      repeatRatios: repeatRounds.map((r) => r.ratio),
      uniqueRatios: uniqueRounds.map((r) => r.ratio),
      operations: { served, ...operations },
      startupOperations,
      logLinesPerRequest,
      verifierCache: { hits: cacheAfter.hits - cacheBefore.hits, misses: cacheAfter.misses - cacheBefore.misses },
      layers,
    };
  } finally {
    await bare?.close();
    await sandbox.close();
  }
}

function pair(broker: MeasuredLoad, bare: MeasuredLoad): CasePair {
  return { broker, bare, ratio: broker.requestsPerSecond / bare.requestsPerSecond };
}

function medianRound(rounds: CasePair[]): CasePair {
  const sorted = [...rounds].sort((a, b) => a.ratio - b.ratio);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

interface Snapshot {
  keyVault: Record<string, number>;
  maskinporten: Record<string, number>;
  entraJwks: number;
}

function snapshot(sandbox: Sandbox): Snapshot {
  return {
    keyVault: { ...sandbox.keyVault.counters },
    maskinporten: { ...sandbox.maskinporten.counters },
    entraJwks: sandbox.entra.jwksRequests,
  };
}

function difference(before: Snapshot, after: Snapshot): Snapshot {
  const diff = (a: Record<string, number>, b: Record<string, number>) =>
    Object.fromEntries(Object.keys(b).map((key) => [key, (b[key] ?? 0) - (a[key] ?? 0)]));
  return {
    keyVault: diff(before.keyVault, after.keyVault),
    maskinporten: diff(before.maskinporten, after.maskinporten),
    entraJwks: after.entraJwks - before.entraJwks,
  };
}
