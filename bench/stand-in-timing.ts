/**
 * The stand-ins' own request handling time, measured from outside them: Node's HTTP server
 * diagnostics channels report when a request's headers arrive and when its response is finished,
 * for every node:http and node:https server in this process. Requests are attributed to a
 * stand-in by the local port they arrived on. Nothing in the stand-ins changes.
 */
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import type { IncomingMessage, ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";

interface ServerMessage {
  request: IncomingMessage;
  response: ServerResponse;
}

export interface StandInTiming {
  /** Handling time summed per port (ms) and requests counted, since the last reset. */
  totals(): Map<number, { ms: number; requests: number }>;
  reset(): void;
  stop(): void;
}

export function timeStandIns(ports: readonly number[]): StandInTiming {
  const watched = new Set(ports);
  const started = new WeakMap<ServerResponse, number>();
  let totals = new Map<number, { ms: number; requests: number }>();

  const onStart = (message: unknown) => {
    const { request, response } = message as ServerMessage;
    if (watched.has(request.socket.localPort ?? -1)) started.set(response, performance.now());
  };
  const onFinish = (message: unknown) => {
    const { request, response } = message as ServerMessage;
    const at = started.get(response);
    if (at === undefined) return;
    started.delete(response);
    const port = request.socket.localPort ?? -1;
    const entry = totals.get(port) ?? { ms: 0, requests: 0 };
    entry.ms += performance.now() - at;
    entry.requests++;
    totals.set(port, entry);
  };
  subscribe("http.server.request.start", onStart);
  subscribe("http.server.response.finish", onFinish);
  return {
    totals: () => new Map(totals),
    reset: () => {
      totals = new Map();
    },
    stop: () => {
      unsubscribe("http.server.request.start", onStart);
      unsubscribe("http.server.response.finish", onFinish);
    },
  };
}
