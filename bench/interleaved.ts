/**
 * The headline, measured so that this VM's noise cancels out. Runs of a few seconds on a shared
 * 2-core VM differ by ±20 % in server CPU per request from one to the next, more than the
 * difference being measured: paired runs gave single-round ratios from 0.54 to 1.54 and medians
 * from 0.89 to 1.02 for the same build. Here one server answers every request with the bare
 * @azure/functions handler and with ours in turn, under one load, so both see the same machine at
 * the same moment:
 * - both build the same HttpRequest from the request and write their answer the same way
 *   (sandbox/functions-host-io.ts);
 * - the synchronous work of each request is timed on its own, before and after its one await;
 *   the gap (other requests' work runs there) is left out of both;
 * - with the server's CPU per request C for the whole run and the mean timed work b (bare) and
 *   o (ours), the bare handler's CPU per request is C − (o − b)/2 and ours C + (o − b)/2, and the
 *   ratio is the first over the second.
 * A request our handler answers asynchronously (it should not: repeat callers, held token) is
 * timed from start to answer, gap included, so it can only make ours look dearer.
 *
 * The method checks itself: a calibration run puts the bare handler against the bare handler plus
 * a known amount of busy work, and says how much of it the method finds.
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { hostHttpRequest, writeFunctionResponse } from "../sandbox/functions-host-io.js";
import type { HandlerUnderTest } from "./layers.js";
import { runLoad } from "./load.js";
import { median } from "./renewal.js";

export interface InterleavedOptions extends HandlerUnderTest {
  authorizations: readonly string[];
  connections: number;
  seconds: number;
  rounds: number;
  /** Busy work (µs) added to the bare handler in the calibration rounds; 0 for none. */
  calibrationMicros: number;
  calibrationRounds: number;
}

export interface InterleavedRound {
  /** Server CPU per request over the run, both kinds together (µs). */
  cpuMicros: number;
  /** Mean synchronous work per request (µs): the bare handler's, ours. */
  bareMicros: number;
  oursMicros: number;
  /** Bare handler's CPU per request ÷ ours (see above). */
  ratio: number;
  /** Requests our handler answered asynchronously (each timed with its gap). */
  oursAsync: number;
}

export interface InterleavedFigures {
  rounds: InterleavedRound[];
  /** Median of the rounds' ratios. */
  ratio: number;
  bareCpuMicros: number;
  oursCpuMicros: number;
  /** The calibration: busy work added, and the extra work per request the method measured (median of its rounds). */
  calibration?: { addedMicros: number; measuredMicros: number[] };
}

export async function benchInterleaved(options: InterleavedOptions): Promise<InterleavedFigures> {
  const { body, headers, profile } = options;
  let tokenHandler = options.tokenHandler;
  const jsonBody = JSON.parse(body) as unknown;
  const requestFor = (request: IncomingMessage) => hostHttpRequest(request, { profile });
  const totals = { bare: 0, bareCount: 0, ours: 0, oursCount: 0, oursAsync: 0, failed: 0 };
  let turn = 0;
  const server = createServer((request, response) => {
    const ours = (turn++ & 1) === 1;
    const started = performance.now();
    const httpRequest = requestFor(request);
    const pending = ours ? tokenHandler(httpRequest) : undefined;
    const beforeAwait = performance.now() - started;
    void (async () => {
      const result = ours ? await pending! : (await Promise.resolve(), { status: 200, headers, jsonBody });
      const resumed = performance.now();
      writeFunctionResponse(response, result);
      if (result.status !== 200) totals.failed++;
      if (!ours) {
        totals.bare += beforeAwait + performance.now() - resumed;
        totals.bareCount++;
      } else if (pending instanceof Promise) {
        totals.ours += performance.now() - started;
        totals.oursCount++;
        totals.oursAsync++;
      } else {
        totals.ours += beforeAwait + performance.now() - resumed;
        totals.oursCount++;
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/token/${profile}`;
  try {
    const load = (seconds: number) =>
      runLoad({ url, connections: options.connections, authorizations: options.authorizations, durationSeconds: seconds });
    await load(1); // warm-up
    const rounds: InterleavedRound[] = [];
    for (let round = 0; round < options.rounds; round++) {
      Object.assign(totals, { bare: 0, bareCount: 0, ours: 0, oursCount: 0, oursAsync: 0, failed: 0 });
      const result = await load(options.seconds);
      if (result.non2xx > 0 || result.errors > 0 || totals.failed > 0) {
        throw new Error(`interleaved headline: ${result.non2xx + totals.failed} refused, ${result.errors} errors`);
      }
      const bareMicros = (totals.bare * 1000) / totals.bareCount;
      const oursMicros = (totals.ours * 1000) / totals.oursCount;
      const half = (oursMicros - bareMicros) / 2;
      rounds.push({
        cpuMicros: result.serverCpuMicrosPerRequest,
        bareMicros,
        oursMicros,
        ratio: (result.serverCpuMicrosPerRequest - half) / (result.serverCpuMicrosPerRequest + half),
        oursAsync: totals.oursAsync,
      });
    }
    const cpu = median(rounds.map((r) => r.cpuMicros));
    const half = median(rounds.map((r) => (r.oursMicros - r.bareMicros) / 2));
    const figures: InterleavedFigures = {
      rounds,
      ratio: median(rounds.map((r) => r.ratio)),
      bareCpuMicros: cpu - half,
      oursCpuMicros: cpu + half,
    };
    if (options.calibrationMicros > 0 && options.calibrationRounds > 0) {
      // "Ours" becomes the bare handler's answer after a known amount of busy work.
      const spinMs = options.calibrationMicros / 1000;
      tokenHandler = () => {
        const until = performance.now() + spinMs;
        while (performance.now() < until);
        return { status: 200, headers, jsonBody };
      };
      const measuredMicros: number[] = [];
      for (let round = 0; round < options.calibrationRounds; round++) {
        Object.assign(totals, { bare: 0, bareCount: 0, ours: 0, oursCount: 0, oursAsync: 0, failed: 0 });
        await load(options.seconds);
        measuredMicros.push((totals.ours * 1000) / totals.oursCount - (totals.bare * 1000) / totals.bareCount);
      }
      figures.calibration = { addedMicros: options.calibrationMicros, measuredMicros };
    }
    return figures;
  } finally {
    server.closeAllConnections();
    server.close();
  }
}
