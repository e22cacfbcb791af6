/**
 * Sandbox-only HTTP tools for the CSR onboarding demo (`npm start`), on 127.0.0.1:
 * `POST /certificates/issue` (body: a CSR in PEM) answers the issued chain as PEM, the sandbox CA
 * playing Buypass or Commfides; `GET /maskinporten/grants` lists the certificates Maskinporten's
 * stand-in saw in the latest accepted grants' x5c, so a user can watch the broker switch.
 */
import { createHash, X509Certificate } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { CertificateRequestRefused, issueForCsr } from "./enterprise-ca.js";
import type { IssuedCertificate } from "./pki.js";

export interface CertificateToolsOptions {
  issuer: IssuedCertificate;
  chainDer: Buffer[];
  organisationNumber: string;
  /** The Maskinporten stand-in's record of grants, newest last. */
  grants: () => readonly { header?: Record<string, unknown>; outcome: string; receivedAt: Date; claims?: Record<string, unknown> }[];
}

export interface CertificateTools {
  readonly baseUrl: string;
  readonly issueUrl: string;
  readonly grantsUrl: string;
  close(): Promise<void>;
}

const MAX_CSR_BYTES = 64 * 1024;

export async function startCertificateTools(options: CertificateToolsOptions): Promise<CertificateTools> {
  const server = createServer((request, response) => {
    void handle(request, response).catch(() => {
      if (!response.headersSent) response.writeHead(500).end();
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? "/", "http://127.0.0.1").pathname;
    if (request.method === "POST" && path === "/certificates/issue") {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of request) {
        size += (chunk as Buffer).length;
        if (size <= MAX_CSR_BYTES) chunks.push(chunk as Buffer);
      }
      if (size > MAX_CSR_BYTES) return text(response, 413, "CSR too large\n");
      try {
        const issued = issueForCsr(Buffer.concat(chunks), {
          issuer: options.issuer,
          chainDer: options.chainDer,
          organisationNumber: options.organisationNumber,
        });
        return text(response, 200, issued.pem, "application/x-pem-file");
      } catch (error) {
        if (error instanceof CertificateRequestRefused) return text(response, 400, `refused: ${error.message}\n`);
        throw error;
      }
    }
    if (request.method === "GET" && path === "/maskinporten/grants") {
      const accepted = options
        .grants()
        .filter((grant) => grant.outcome === "accepted")
        .slice(-10)
        .reverse()
        .map((grant) => {
          const x5c = grant.header?.x5c;
          const leaf = Array.isArray(x5c) && typeof x5c[0] === "string" ? new X509Certificate(Buffer.from(x5c[0], "base64")) : undefined;
          return {
            receivedAt: grant.receivedAt.toISOString(),
            clientId: grant.claims?.iss,
            ...(leaf
              ? {
                  x5c: {
                    subject: leaf.subject.split("\n").join(", "),
                    serialNumber: leaf.serialNumber,
                    notAfter: new Date(leaf.validTo).toISOString(),
                    sha256: createHash("sha256").update(leaf.raw).digest("hex"),
                  },
                }
              : { kid: grant.header?.kid }),
          };
        });
      return text(response, 200, `${JSON.stringify(accepted, null, 2)}\n`, "application/json");
    }
    return text(response, 404, "not found\n");
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    baseUrl,
    issueUrl: `${baseUrl}/certificates/issue`,
    grantsUrl: `${baseUrl}/maskinporten/grants`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function text(response: ServerResponse, status: number, body: string, contentType = "text/plain; charset=utf-8"): void {
  response.writeHead(status, { "Content-Type": contentType, "Content-Length": Buffer.byteLength(body), "Cache-Control": "no-store" });
  response.end(body);
}
