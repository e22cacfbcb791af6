/**
 * `fetch` that trusts the sandbox CA for https URLs (plain http passes through as it is). Node's
 * global fetch takes no CA option without the undici package, and trusting the CA process-wide
 * (NODE_EXTRA_CA_CERTS, tls.setDefaultCACertificates) would hide whether a client's own test-only
 * options suffice. Only what the stand-ins and the broker's key set fetch use: method, headers,
 * string/URLSearchParams/Uint8Array body, signal. Redirects are not followed.
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";

export type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

export function fetchTrusting(caPem: string): FetchLike {
  return (input, init = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(String(input));
      const headers = new Headers(init.headers);
      let body: Buffer | undefined;
      if (typeof init.body === "string") body = Buffer.from(init.body, "utf8");
      else if (init.body instanceof URLSearchParams) {
        body = Buffer.from(init.body.toString(), "utf8");
        if (!headers.has("content-type")) headers.set("content-type", "application/x-www-form-urlencoded;charset=UTF-8");
      } else if (init.body instanceof Uint8Array) body = Buffer.from(init.body);
      else if (init.body !== undefined && init.body !== null) throw new TypeError("fetchTrusting: unsupported body type");
      if (body !== undefined && typeof init.body === "string" && !headers.has("content-type")) {
        headers.set("content-type", "text/plain;charset=UTF-8");
      }
      if (body !== undefined) headers.set("content-length", String(body.length));

      const options = {
        method: init.method ?? "GET",
        headers: Object.fromEntries(headers.entries()),
        ...(init.signal ? { signal: init.signal } : {}),
      };
      const onResponse = (response: IncomingMessage) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("error", reject);
        response.on("end", () => {
          const responseHeaders = new Headers();
          for (const [name, value] of Object.entries(response.headersDistinct)) {
            for (const item of value ?? []) responseHeaders.append(name, item);
          }
          const status = response.statusCode ?? 500;
          const noBody = status === 204 || status === 304 || options.method === "HEAD";
          resolve(
            new Response(noBody ? null : Buffer.concat(chunks), {
              status,
              statusText: response.statusMessage ?? "",
              headers: responseHeaders,
            }),
          );
        });
      };
      const request =
        url.protocol === "https:" ? httpsRequest(url, { ...options, ca: caPem }, onResponse) : httpRequest(url, options, onResponse);
      request.on("error", reject);
      request.end(body);
    });
}
