/**
 * The token endpoint's cost taken apart under the same load: servers that each add one layer of
 * what a served request goes through, from the bare node:http server up to the real function
 * handler. Their CPU per request, side by side in one run, says where the gap to the bare server
 * comes from (the profile behind the token-endpoint ratio).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { hostHeaders, hostHttpRequest, writeFunctionResponse } from "../sandbox/functions-host-io.js";
import type { HttpRequest, HttpResponseInit } from "@azure/functions";
import { runLoad } from "./load.js";
import { median } from "./renewal.js";

export interface Layer {
  /** "bare-http", "adapter", "functions-handler" (a bare @azure/functions handler), "token-handler". */
  id: LayerId;
  name: string;
  /** Median server CPU per served request (µs). */
  cpuMicros: number;
  requestsPerSecond: number;
  /** Each round's figures, in round order (layers alternate within a round, so round i of two layers pair up). */
  cpuPerRound: number[];
  requestsPerSecondPerRound: number[];
}

/** What the serving benches put side by side: the real handler, and the broker's answer for the baselines to send. */
export interface HandlerUnderTest {
  /** The real handler (functions/token.ts), already wired to a runtime. */
  tokenHandler: (request: HttpRequest) => HttpResponseInit | Promise<HttpResponseInit>;
  profile: string;
  /** The broker's response body and headers, as a sample request got them. */
  body: string;
  headers: Record<string, string>;
}

export interface LayerOptions extends HandlerUnderTest {
  authorizations: readonly string[];
  connections: number;
  seconds: number;
  rounds: number;
  /**
   * More rounds of just the bare @azure/functions handler and the real one, alternating, appended
   * to theirs: the headline ratio compares those two, and on a shared VM 3 rounds are too few.
   */
  headlineRounds?: number;
}

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

/**
 * Round by round, the runs go forwards and backwards (ABBA…). In a fixed order the later run of a
 * pair pays for the garbage the earlier one left (old-space collection): measured on this VM, the
 * real handler came out at 0.86 of the bare @azure/functions handler when always run second, and
 * at 1.06 when the order alternated (median of 16-20 paired rounds each).
 */
export function inAlternatingOrder<T>(runs: readonly T[], round: number): readonly T[] {
  return round % 2 === 0 ? runs : [...runs].reverse();
}
export type LayerId = "bare-http" | "adapter" | "functions-handler" | "token-handler";

export async function benchLayers(options: LayerOptions): Promise<Layer[]> {
  const { body, headers, profile, tokenHandler } = options;
  const jsonBody = JSON.parse(body) as unknown;
  const requestFor = (request: IncomingMessage) => hostHttpRequest(request, { profile });
  // As the worker answers (a string body as it is, jsonBody serialised): the same for every layer.
  const answer = writeFunctionResponse;
  const layers: [LayerId, string, Handler][] = [
    ["bare-http", "bare node:http, fixed body", (_request, response) => response.writeHead(200, headers).end(body)],
    [
      "adapter",
      "+ adapter: async, headers to a record, JSON body",
      (request, response) =>
        void (async () => {
          hostHeaders(request);
          // The microtask hop every async handler pays, deliberately.
          await Promise.resolve();
          answer(response, { status: 200, headers, jsonBody });
        })(),
    ],
    [
      // The ceiling the programming model sets: what any @azure/functions HTTP handler costs.
      "functions-handler",
      "+ HttpRequest = bare @azure/functions handler (fixed answer)",
      (request, response) =>
        void (async () => {
          requestFor(request);
          await Promise.resolve();
          answer(response, { status: 200, headers, jsonBody });
        })(),
    ],
    [
      "token-handler",
      "+ the real token handler",
      // As the worker calls a handler: one await of whatever it returns (the baseline's one microtask hop).
      (request, response) =>
        void (async () => {
          answer(response, await tokenHandler(requestFor(request)));
        })(),
    ],
  ];

  const servers: { id: LayerId; name: string; server: Server; url: string }[] = [];
  try {
    for (const [id, name, handler] of layers) {
      const server = createServer(handler);
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      servers.push({ id, name, server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/token/${profile}` });
    }
    const load = (url: string, durationSeconds: number) =>
      runLoad({ url, connections: options.connections, authorizations: options.authorizations, durationSeconds });
    for (const { url } of servers) await load(url, 1); // warm-up
    const samples = new Map<string, { cpu: number[]; rps: number[] }>();
    for (let round = 0; round < options.rounds; round++) {
      for (const { name, url } of inAlternatingOrder(servers, round)) {
        const result = await load(url, options.seconds);
        if (result.non2xx > 0 || result.errors > 0) throw new Error(`layer "${name}": ${result.non2xx} non-2xx, ${result.errors} errors`);
        const entry = samples.get(name) ?? { cpu: [], rps: [] };
        entry.cpu.push(result.serverCpuMicrosPerRequest);
        entry.rps.push(result.requestsPerSecond);
        samples.set(name, entry);
      }
    }
    const pair = servers.filter(({ id }) => id === "functions-handler" || id === "token-handler");
    for (let round = 0; round < (options.headlineRounds ?? 0); round++) {
      for (const { name, url } of inAlternatingOrder(pair, options.rounds + round)) {
        const result = await load(url, options.seconds);
        if (result.non2xx > 0 || result.errors > 0) throw new Error(`layer "${name}": ${result.non2xx} non-2xx, ${result.errors} errors`);
        samples.get(name)!.cpu.push(result.serverCpuMicrosPerRequest);
        samples.get(name)!.rps.push(result.requestsPerSecond);
      }
    }
    return servers.map(({ id, name }) => ({
      id,
      name,
      cpuMicros: median(samples.get(name)!.cpu),
      requestsPerSecond: median(samples.get(name)!.rps),
      cpuPerRound: samples.get(name)!.cpu,
      requestsPerSecondPerRound: samples.get(name)!.rps,
    }));
  } finally {
    for (const { server } of servers) {
      server.closeAllConnections();
      server.close();
    }
  }
}
