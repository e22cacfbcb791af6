import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import functions from "@azure/functions";
import { startSandbox } from "../sandbox/sandbox.js";
import { countingLogger } from "./counting-logger.js";
import { runLoad } from "./load.js";
const sandbox = await startSandbox({ port: 0, logger: countingLogger(), tokenLifetimeSeconds: 3600 });
const { tokenHandler } = await import("../functions/token.js");
const auth = [0, 1, 2, 3].map((i) => `Bearer ${sandbox.entra.mintToken({ roles: ["Token.skatt"], uti: `v${i}` })}`);
const sample = await fetch(`${sandbox.env.brokerUrl}/api/token/skatt`, { headers: { authorization: auth[0]! } });
const body = await sample.text();
const h = { "cache-control": "no-store", pragma: "no-cache", "content-type": "application/json" };
function toHeaders(req: IncomingMessage) { const o: Record<string, string> = {}; for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) o[k] = Array.isArray(v) ? v.join(", ") : v; return o; }
const variants: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
  bare: (_q, r) => { r.writeHead(200, h); r.end(body); },
  "async+headers copy": (q, r) => { void (async () => { toHeaders(q); await null; r.writeHead(200, h); r.end(body); })(); },
  "HttpRequest only": (q, r) => { void (async () => { new functions.HttpRequest({ method: "GET", url: "http://127.0.0.1" + q.url, headers: toHeaders(q), params: { profile: "skatt" } }); await null; r.writeHead(200, h); r.end(body); })(); },
  "HttpRequest+tokenHandler": (q, r) => { void (async () => { const res = await tokenHandler(new functions.HttpRequest({ method: "GET", url: "http://127.0.0.1" + q.url, headers: toHeaders(q), params: { profile: "skatt" } })); r.writeHead(res.status ?? 200, res.headers as Record<string, string>); r.end(JSON.stringify(res.jsonBody)); })(); },
};
const servers: Record<string, string> = {};
for (const [name, handler] of Object.entries(variants)) { const s = createServer(handler); await new Promise<void>((ok) => s.listen(0, "127.0.0.1", ok)); servers[name] = `http://127.0.0.1:${(s.address() as AddressInfo).port}/api/token/skatt`; }
servers["sandbox route"] = `${sandbox.env.brokerUrl}/api/token/skatt`;
for (const url of Object.values(servers)) await runLoad({ url, connections: 16, authorizations: auth, durationSeconds: 1 });
const acc: Record<string, number[]> = {};
for (let round = 0; round < 3; round++) for (const [name, url] of Object.entries(servers)) { const r = await runLoad({ url, connections: 16, authorizations: auth, durationSeconds: 3 }); (acc[name] ??= []).push(r.serverCpuMicrosPerRequest); console.error(name, Math.round(r.requestsPerSecond), r.serverCpuMicrosPerRequest.toFixed(0)); }
for (const [name, v] of Object.entries(acc)) console.log(name.padEnd(28), v.map((x) => x.toFixed(0)).join(" "));
process.exit(0);
