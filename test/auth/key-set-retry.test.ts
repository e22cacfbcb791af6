/**
 * A reset while fetching Entra's keys (a stale keep-alive socket, a proxy hiccup) is retried at once
 * instead of refusing every new caller for the whole failure cooldown.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createCallerVerifier } from "../../src/auth/index.js";
import { startEntraStandIn, type EntraStandIn } from "../../sandbox/entra/standin.js";

let entra: EntraStandIn;
let flaky: Server;
let keyRequests = 0;

beforeAll(async () => {
  entra = await startEntraStandIn();
  // Serves the stand-in's key set, but resets the connection of the first request.
  flaky = createServer((request, response) => {
    keyRequests++;
    if (keyRequests === 1) return void request.socket.destroy();
    // A failed fetch ends the connection (the verifier sees a reset) rather than going unhandled.
    entra
      .fetch(entra.jwksUri)
      .then((answer) => answer.text())
      .then(
        (keys) => response.writeHead(200, { "content-type": "application/json" }).end(keys),
        () => response.destroy(),
      );
  });
  await new Promise<void>((resolve) => flaky.listen(0, "127.0.0.1", resolve));
});
afterAll(async () => {
  flaky?.closeAllConnections();
  await new Promise((resolve) => flaky?.close(resolve));
  await entra?.close();
});

it("retries a reset key-set fetch once and accepts the caller", async () => {
  const authorityHost = `http://127.0.0.1:${(flaky.address() as AddressInfo).port}`;
  const verifier = createCallerVerifier({ tenantId: entra.tenantId, audiences: [entra.audience], authorityHost });
  const token = entra.mintToken({ iss: `${authorityHost}/${entra.tenantId}/v2.0`, roles: ["Token.p"] });
  await expect(verifier.verify(`Bearer ${token}`)).resolves.toMatchObject({ roles: ["Token.p"] });
  expect(keyRequests).toBe(2);
});
