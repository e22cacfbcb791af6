/**
 * The parts of the Lowkey Vault harness that do not need the emulator: reading a server's TLS
 * certificate to trust it, and reading Java's version.
 */
import { once } from "node:events";
import { createServer, get, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueLoopbackTlsCertificate } from "../../sandbox/pki.js";
import { fetchServerCertificatePem, freeLoopbackPort, parseJavaMajor } from "../support/lowkey-vault.js";

describe("fetchServerCertificatePem", () => {
  const tls = issueLoopbackTlsCertificate();
  let server: Server;
  let port: number;

  beforeAll(async () => {
    server = createServer(
      { key: tls.privateKey.export({ type: "pkcs8", format: "pem" }), cert: tls.certificatePem },
      (_request, response) => response.end("pong"),
    );
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.close();
    await once(server, "close");
  });

  const getWithCa = async (ca: string): Promise<string> => {
    const request = get(`https://127.0.0.1:${port}/`, { ca });
    const [response] = (await once(request, "response")) as [import("node:http").IncomingMessage];
    let body = "";
    for await (const chunk of response) body += String(chunk);
    return body;
  };

  it("returns the PEM of the certificate the server presents", async () => {
    const pem = await fetchServerCertificatePem(port);
    expect(pem.replace(/\r?\n/g, "")).toBe(tls.certificatePem.replace(/\r?\n/g, ""));
  });

  it("returns a PEM that verifies the server when used as the only CA", async () => {
    const pem = await fetchServerCertificatePem(port);
    await expect(getWithCa(pem)).resolves.toBe("pong");
  });

  it("does not make an unrelated certificate trusted (the check above can fail)", async () => {
    const stranger = issueLoopbackTlsCertificate();
    await expect(getWithCa(stranger.certificatePem)).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
  });
});

describe("parseJavaMajor", () => {
  it.each([
    ['openjdk version "17.0.15" 2025-04-15', 17],
    ['openjdk version "25.0.3" 2026-04-21 LTS', 25],
    ['openjdk version "21" 2023-09-19', 21],
    ['java version "1.8.0_392"', 8],
  ])("reads %s as %i", (output, major) => {
    expect(parseJavaMajor(output)).toBe(major);
  });

  it("returns undefined for output without a version", () => {
    expect(parseJavaMajor("bash: java: command not found")).toBeUndefined();
  });
});

describe("freeLoopbackPort", () => {
  it("returns a port that can be bound on 127.0.0.1", async () => {
    const port = await freeLoopbackPort();
    const server = createServer();
    server.listen(port, "127.0.0.1");
    await once(server, "listening");
    expect((server.address() as AddressInfo).port).toBe(port);
    server.close();
    await once(server, "close");
  });
});
