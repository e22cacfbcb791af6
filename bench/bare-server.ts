/**
 * The physical limit on this machine: a bare `node:http` server that answers every request with a
 * fixed body of the broker's size and the broker's headers, doing nothing else.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface BareServer {
  url: string;
  close(): Promise<void>;
}

export async function startBareServer(body: string, headers: Record<string, string>): Promise<BareServer> {
  const server: Server = createServer((_request, response) => {
    response.writeHead(200, headers);
    response.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
