/**
 * Deterministic fault injection: faults queue per target and each answers exactly `times`
 * requests, in the order they were injected, before the real behaviour resumes.
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Fault, FaultOptions } from "./types.js";

export type FaultTarget = NonNullable<FaultOptions["target"]>;

interface QueuedFault {
  fault: Fault;
  remaining: number;
}

export class FaultQueue {
  readonly #queues: Record<FaultTarget, QueuedFault[]> = { token: [], metadata: [] };

  add(fault: Fault, options: FaultOptions = {}): void {
    const times = options.times ?? 1;
    if (!(times === Infinity || (Number.isInteger(times) && times > 0))) {
      throw new TypeError("injectFault: times must be a positive integer or Infinity");
    }
    const target = options.target ?? "token";
    if (target !== "token" && target !== "metadata") throw new TypeError(`injectFault: unknown target ${String(target)}`);
    checkFault(fault);
    this.#queues[target].push({ fault, remaining: times });
  }

  clear(): void {
    this.#queues.token = [];
    this.#queues.metadata = [];
  }

  /** The fault for the next request to `target`, if any; counts it as used. */
  take(target: FaultTarget): Fault | undefined {
    const queue = this.#queues[target];
    const head = queue[0];
    if (!head) return undefined;
    if (--head.remaining <= 0) queue.shift();
    return head.fault;
  }
}

function checkFault(fault: Fault): void {
  switch (fault.kind) {
    case "status":
      if (!Number.isInteger(fault.status) || fault.status < 100 || fault.status > 599)
        throw new TypeError("injectFault: status must be 100-599");
      return;
    case "delay":
      if (!(fault.ms >= 0)) throw new TypeError("injectFault: delay ms must be >= 0");
      return;
    case "error":
      if (fault.status !== undefined && (!Number.isInteger(fault.status) || fault.status < 400 || fault.status > 599)) {
        throw new TypeError("injectFault: an error fault's status must be 400-599");
      }
      return;
    case "reset":
    case "malformed-json":
    case "truncated-json":
      return;
    default:
      throw new TypeError(`injectFault: unknown fault kind ${JSON.stringify((fault as { kind: unknown }).kind)}`);
  }
}

export interface FaultContext {
  target: FaultTarget;
  /** A realistic success body for the target, used to make a truncated answer. */
  successBody: () => string;
  /** Resolves true after `ms`, or false if the stand-in closes first. */
  sleep: (ms: number) => Promise<boolean>;
}

const JSON_HEADERS = { "content-type": "application/json;charset=UTF-8", "cache-control": "no-store" };

/**
 * Answers the request as the fault says. Returns "continue" when the request should then be
 * handled normally (a delay that ran its course), "answered" otherwise.
 */
export async function applyFault(
  fault: Fault,
  request: IncomingMessage,
  response: ServerResponse,
  context: FaultContext,
): Promise<"answered" | "continue"> {
  switch (fault.kind) {
    case "delay": {
      if (await context.sleep(fault.ms)) return "continue";
      request.socket.destroy();
      return "answered";
    }
    case "reset":
      // A TCP RST, as a load balancer dropping the connection would send.
      request.socket.resetAndDestroy();
      return "answered";
    case "status": {
      const isText = typeof fault.body === "string" || fault.body === undefined;
      const body = fault.body === undefined ? "" : isText ? (fault.body as string) : JSON.stringify(fault.body);
      const headers = isText ? { ...fault.headers } : { ...JSON_HEADERS, ...fault.headers };
      response.writeHead(fault.status, headers).end(body);
      return "answered";
    }
    case "error": {
      const description = /\(trace_id: [^)]*\)$/.test(fault.description)
        ? fault.description
        : `${fault.description} (trace_id: ${randomBytes(16).toString("hex")})`;
      response.writeHead(fault.status ?? 400, JSON_HEADERS).end(JSON.stringify({ error: fault.error, error_description: description }));
      return "answered";
    }
    case "malformed-json": {
      const body =
        context.target === "token" ? '{"access_token":,"token_type":"Bearer","expires_in":120}' : '{"issuer":,"token_endpoint":}';
      response.writeHead(200, JSON_HEADERS).end(body);
      return "answered";
    }
    case "truncated-json": {
      // A complete HTTP message whose JSON stops half-way, as a broken proxy buffer would give.
      const full = context.successBody();
      response.writeHead(200, JSON_HEADERS).end(full.slice(0, Math.floor(full.length / 2)));
      return "answered";
    }
  }
}
