/**
 * A fresh caller token on every request, taken apart: three servers under the same load of fresh
 * tokens, alternating round by round:
 * - bare node:http answering a fixed body (the physical limit, as in token-endpoint.ts);
 * - the floor for any @azure/functions handler that verifies its caller: the HttpRequest, the
 *   Authorization header, one RSA-2048 RS256 check with node:crypto and the claims parsed, then a
 *   fixed answer (no caching, no claim rules, no logging, no metrics);
 * - the real token handler (as in layers.ts), whose verifier sees every token for the first time.
 * floor ÷ bare says what the programming model and the cryptography leave; ours ÷ floor is ours.
 */
import { verify, type KeyObject } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { hostHttpRequest, writeFunctionResponse } from "../sandbox/functions-host-io.js";
import { inAlternatingOrder, type HandlerUnderTest } from "./layers.js";
import { runLoad, type MeasuredLoad } from "./load.js";

export interface UniqueFloorOptions extends HandlerUnderTest {
  /** The Entra stand-in's signing key (what the caller tokens are signed with). */
  callerKey: KeyObject;
  /** A fresh set of `Bearer …` values for each call, never seen by the broker before. */
  freshAuthorizations: (count: number) => string[];
  requestsPerRun: number;
  connections: number;
  rounds: number;
}

export type UniqueServerId = "bare-http" | "verifying-floor" | "token-handler";

export interface UniqueServerFigures {
  id: UniqueServerId;
  cpuPerRound: number[];
  requestsPerSecondPerRound: number[];
}

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

export async function benchUniqueFloor(options: UniqueFloorOptions): Promise<UniqueServerFigures[]> {
  const { body, headers, profile, tokenHandler, callerKey } = options;
  const jsonBody = JSON.parse(body) as unknown;
  const requestFor = (request: IncomingMessage) => hostHttpRequest(request, { profile });
  const servers: [UniqueServerId, Handler][] = [
    ["bare-http", (_request, response) => response.writeHead(200, headers).end(body)],
    [
      "verifying-floor",
      (request, response) =>
        void (async () => {
          const token = requestFor(request).headers.get("authorization")?.slice("Bearer ".length) ?? "";
          const [header, payload, signature] = token.split(".") as [string, string, string];
          const valid = verify("sha256", Buffer.from(`${header}.${payload}`, "latin1"), callerKey, Buffer.from(signature, "base64url"));
          const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { exp?: unknown };
          await Promise.resolve();
          if (!valid || typeof claims.exp !== "number") writeFunctionResponse(response, { status: 401 });
          else writeFunctionResponse(response, { status: 200, headers, jsonBody });
        })(),
    ],
    [
      "token-handler",
      (request, response) =>
        void (async () => {
          writeFunctionResponse(response, await tokenHandler(requestFor(request)));
        })(),
    ],
  ];

  const listening: { id: UniqueServerId; server: Server; url: string }[] = [];
  try {
    for (const [id, handler] of servers) {
      const server = createServer(handler);
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      listening.push({ id, server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/token/${profile}` });
    }
    const load = (url: string, authorizations: readonly string[]) =>
      runLoad({ url, connections: options.connections, authorizations, amount: authorizations.length });
    const clean = (id: string, result: MeasuredLoad) => {
      if (result.non2xx > 0 || result.errors > 0) throw new Error(`unique floor, ${id}: ${result.non2xx} non-2xx, ${result.errors} errors`);
      return result;
    };
    // Warm-up: the JIT and the key set, on tokens of their own.
    for (const { id, url } of listening) clean(id, await load(url, options.freshAuthorizations(Math.min(500, options.requestsPerRun))));
    const figures = new Map<UniqueServerId, UniqueServerFigures>(
      listening.map(({ id }) => [id, { id, cpuPerRound: [], requestsPerSecondPerRound: [] }]),
    );
    for (let round = 0; round < options.rounds; round++) {
      // All three get the same fresh tokens in a round; only the token handler remembers any.
      const tokens = options.freshAuthorizations(options.requestsPerRun);
      for (const { id, url } of inAlternatingOrder(listening, round)) {
        const result = clean(id, await load(url, tokens));
        figures.get(id)!.cpuPerRound.push(result.serverCpuMicrosPerRequest);
        figures.get(id)!.requestsPerSecondPerRound.push(result.requestsPerSecond);
      }
    }
    return [...figures.values()];
  } finally {
    for (const { server } of listening) {
      server.closeAllConnections();
      server.close();
    }
  }
}
