/**
 * A minimal stand-in for the Azure Functions host in front of the real token function: real HTTP on
 * 127.0.0.1, the route `/api/token/{profile?}`, and the request handed to `tokenHandler` as an
 * `HttpRequest` the way the host builds it. Repeated headers are joined with ", " as the host does
 * (Node's own `request.headers` would silently keep only the first Authorization header).
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import functions from "@azure/functions";
import { setRuntimeFactory, type Runtime } from "../../src/app/runtime.js";
import { hostHeaders, writeFunctionResponse } from "../../sandbox/functions-host-io.js";

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface FunctionsHost {
  url: string;
  /** Sends a GET with exactly these raw header lines (name, value pairs; repeats allowed). */
  get(path: string, rawHeaders?: Array<[string, string]>): Promise<RawResponse>;
  close(): Promise<void>;
}

export async function startFunctionsHost(runtime: Runtime): Promise<FunctionsHost> {
  setRuntimeFactory(() => runtime);
  const { tokenHandler } = await importQuietly(() => import("../../functions/token.js"));

  // Azure's front ends take headers well over Node's 16 KiB default; the broker's own limit must decide.
  const server: Server = createServer({ maxHeaderSize: 64 * 1024 }, (req, res) => {
    void handle(req).then(
      (result) => writeFunctionResponse(res, result),
      () => res.writeHead(500).end(),
    );
  });

  async function handle(req: IncomingMessage) {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const route = /^\/api\/token(?:\/([^/]+))?\/?$/.exec(url.pathname);
    if (req.method !== "GET" || !route) return { status: 404, jsonBody: { error: "not_found" } };
    const headers = hostHeaders(req);
    const params: Record<string, string> = route[1] ? { profile: decodeURIComponent(route[1]) } : {};
    return tokenHandler(new functions.HttpRequest({ method: "GET", url: url.href, headers, params }));
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    get(path, rawHeaders = []) {
      return new Promise<RawResponse>((resolve, reject) => {
        // A flat [name, value, name, value…] array keeps repeated headers as separate lines; Node
        // then adds no Host header of its own, and HTTP/1.1 requires one.
        const lines = [["host", new URL(url).host], ...rawHeaders].flat();
        const request = httpRequest(`${url}${path}`, { method: "GET", headers: lines as unknown as Record<string, string> }, (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("end", () =>
            resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString("utf8") }),
          );
        });
        request.on("error", reject);
        request.end();
      });
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Importing a function file outside the host makes @azure/functions warn that it runs in "test mode". */
async function importQuietly<T>(load: () => Promise<T>): Promise<T> {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (!String(args[0]).includes('"@azure/functions" package')) warn(...args);
  };
  try {
    return await load();
  } finally {
    console.warn = warn;
  }
}
