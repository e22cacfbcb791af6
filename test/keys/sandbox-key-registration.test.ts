/**
 * The sandbox with key registration on (`SANDBOX_KEY_REGISTRATION=1` for `npm start`): the kid
 * profile's Key Vault key gets registered through the self-service stand-in by the broker's own
 * timer handler, and the broker serves that profile's token over HTTP to an Entra caller.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { formatLogLine, type Logger } from "../../src/logging.js";
import { startSandbox, type Sandbox } from "../../sandbox/sandbox.js";
import { sandboxCallerToken } from "../support/sandbox-caller.js";

let sandbox: Sandbox;
const logLines: string[] = [];
const logger: Logger = { log: (level, event, fields) => logLines.push(formatLogLine(level, event, fields)) };

beforeAll(async () => {
  // A schedule that never fires during the test: only the start tick runs.
  sandbox = await startSandbox({ port: 0, logger, keyRegistration: true, selfServicePropagationMs: 0, renewSchedule: "0 0 0 1 1 *" });
});
afterAll(() => sandbox?.close());

it("registers the kid profile's key at the first tick and serves its token", async () => {
  const registered = sandbox.selfService!.registeredKeys("sandbox-kid-client");
  expect(registered.map((k) => k.kid)).toEqual([expect.stringMatching(/^sandbox-kid\.[0-9a-f]{32}$/)]);
  expect(logLines.some((line) => line.includes('"event":"key-registration-posted"'))).toBe(true);

  const { brokerUrl } = sandbox.env;
  const callerToken = await sandboxCallerToken(sandbox);
  const served = await fetch(`${brokerUrl}/api/token/kid`, { headers: { authorization: `Bearer ${callerToken}` } });
  expect(served.status).toBe(200);
  const grant = sandbox.maskinporten.grants.filter((g) => g.claims?.iss === "sandbox-kid-client").at(-1)!;
  expect(grant).toMatchObject({ outcome: "accepted", header: { kid: registered[0]!.kid } });

  const health = (await (await fetch(`${brokerUrl}/api/health`, { headers: { authorization: `Bearer ${callerToken}` } })).json()) as {
    profiles: { profile: string; keyRegistration?: { keys: { kid: string; role: string; daysLeft: number }[] } }[];
  };
  expect(health.profiles.find((p) => p.profile === "kid")!.keyRegistration!.keys).toEqual([
    expect.objectContaining({ kid: registered[0]!.kid, role: "current", daysLeft: 364 }),
  ]);
});
