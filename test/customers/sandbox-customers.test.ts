/**
 * The sandbox ships per-customer profiles (README "Contracts", sandbox): env.json lists them with their
 * customers, and a caller gets a customer's token over HTTP, or Maskinporten's refusal.
 */
import { readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSandbox, type Sandbox, type SandboxEnv } from "../../sandbox/sandbox.js";
import { sandboxCallerToken } from "../support/sandbox-caller.js";

let sandbox: Sandbox;
const envFile = join(tmpdir(), `customers-sandbox-${process.pid}.json`);
let env: SandboxEnv;

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, envFile, logger: { log: () => {} } });
  env = JSON.parse(await readFile(envFile, "utf8")) as SandboxEnv;
});
afterAll(async () => {
  await sandbox?.close();
  await rm(envFile, { force: true });
});

const callerToken = () => sandboxCallerToken(sandbox);

async function get(path: string, token: string) {
  const response = await fetch(`${env.brokerUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe("sandbox per-customer profiles", () => {
  it("env.json lists a consumer_org and a system-user profile with customers", () => {
    const customerProfiles = env.profiles.filter((p) => p.customers);
    expect(customerProfiles.map((p) => [p.name, p.role])).toEqual([
      ["supplier", "Token.supplier"],
      ["systemuser", "Token.systemuser"],
    ]);
    for (const profile of customerProfiles) {
      expect(profile.customers!.length).toBeGreaterThanOrEqual(2);
      expect(profile.refusedCustomers!.length).toBeGreaterThanOrEqual(1);
    }
    expect(env.settings.PROFILE_SYSTEMUSER_CUSTOMER_CLAIM).toBe("systemuser");
  });

  it("the sandbox caller gets every listed customer's token, and Maskinporten's refusal for the others", async () => {
    const token = await callerToken();
    for (const profile of env.profiles.filter((p) => p.customers)) {
      for (const { customer, externalRef } of profile.customers!) {
        const query = new URLSearchParams({ customer, ...(externalRef ? { external_ref: externalRef } : {}) });
        const result = await get(`/api/token/${profile.name}?${query}`, token);
        expect(result.status, `${profile.name} ${customer}`).toBe(200);
        expect(result.body).toMatchObject({ profile: profile.name, customer });
        const claims = sandbox.maskinporten.verifyAccessToken(result.body.access_token as string) as Record<string, unknown>;
        if (profile.name === "supplier") expect(claims.consumer).toEqual({ authority: "iso6523-actorid-upis", ID: `0192:${customer}` });
      }
      for (const customer of profile.refusedCustomers!) {
        const result = await get(`/api/token/${profile.name}?customer=${customer}`, token);
        expect(result.status).toBe(403);
        expect(result.body.error).toBe("access_denied");
        expect(result.body.error_uri).toMatch(/errors\/MP-(251|303)$/);
      }
    }
  });

  it("a system user created with an externalRef is refused without it", async () => {
    const token = await callerToken();
    const withRef = env.profiles.find((p) => p.name === "systemuser")!.customers!.find((c) => c.externalRef)!;
    const result = await get(`/api/token/systemuser?customer=${withRef.customer}`, token);
    expect(result.status).toBe(403);
    expect(result.body.maskinporten_error).toBe("invalid_altinn_customer_configuration");
  });
});
