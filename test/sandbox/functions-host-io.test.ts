/**
 * The host's side of a handler, as the sandbox, the tests' host and the bench all play it: headers
 * handed on as the Functions host hands them, answers written as the worker writes them. Over a
 * real node:http server and client.
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { HttpResponseInit } from "@azure/functions";
import { afterEach, describe, expect, it } from "vitest";
import { hostHeaders, writeFunctionResponse } from "../../sandbox/functions-host-io.js";

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

async function exchange(
  rawHeaders: string[],
  answer: HttpResponseInit,
): Promise<{ handedOn: Record<string, string>; status: number; headers: IncomingHttpHeaders; body: string }> {
  let handedOn: Record<string, string> = {};
  server = createServer((request, response) => {
    handedOn = hostHeaders(request);
    writeFunctionResponse(response, answer);
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    // A flat [name, value, …] array keeps repeated headers as separate lines.
    const lines = ["Host", `127.0.0.1:${port}`, "Connection", "close", ...rawHeaders];
    const sent = httpRequest(`http://127.0.0.1:${port}/api/token`, { headers: lines as unknown as Record<string, string> }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve({ handedOn, status: response.statusCode ?? 0, headers: response.headers, body }));
    });
    sent.on("error", reject);
    sent.end();
  });
}

describe("hostHeaders", () => {
  it("hands on one lower-case name per header, repeated headers joined with a comma (both Authorization lines, not Node's first)", async () => {
    const { handedOn } = await exchange(
      ["Authorization", "Bearer a.b.c", "authorization", "Bearer d.e.f", "X-Forwarded-For", "10.0.0.1", "x-forwarded-for", "10.0.0.2"],
      { status: 204 },
    );
    expect(handedOn.authorization).toBe("Bearer a.b.c, Bearer d.e.f");
    expect(handedOn["x-forwarded-for"]).toBe("10.0.0.1, 10.0.0.2");
    expect(handedOn.host).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it("keeps a header named __proto__ as a plain entry: no header reaches a prototype", async () => {
    const { handedOn } = await exchange(["__proto__", "polluted"], { status: 204 });
    expect(Object.getPrototypeOf(handedOn)).toBeNull();
    expect(handedOn["__proto__"]).toBe("polluted");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("writeFunctionResponse", () => {
  it("serialises jsonBody with content-type application/json, as the worker does", async () => {
    const answer = await exchange([], { status: 201, headers: { "cache-control": "no-store" }, jsonBody: { a: 1 } });
    expect(answer).toMatchObject({ status: 201, body: '{"a":1}' });
    expect(answer.headers).toMatchObject({ "content-type": "application/json", "cache-control": "no-store" });
  });

  it("keeps a handler's own content-type, and sends a string body as it is", async () => {
    const text = '{"access_token":"x"}';
    const answer = await exchange([], { status: 200, headers: { "Content-Type": "application/json; charset=utf-8" }, body: text });
    expect(answer).toMatchObject({ status: 200, body: text });
    expect(answer.headers["content-type"]).toBe("application/json; charset=utf-8");
  });
});
