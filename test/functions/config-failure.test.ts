/**
 * A broken configuration answers 500 with a generic body from every HTTP function; the problems go
 * to the log for the operator.
 */
import functions from "@azure/functions";
import { expect, it, vi } from "vitest";
import { createRuntime, setRuntimeFactory } from "../../src/app/runtime.js";
import { healthHandler } from "../../functions/health.js";
import { tokenHandler } from "../../functions/token.js";

it("answers 500 without detail while the app settings are invalid", async () => {
  setRuntimeFactory(() => createRuntime({ settings: { TOKEN_PROFILES: "skatt" } }));
  const request = (path: string) =>
    new functions.HttpRequest({ method: "GET", url: `http://127.0.0.1/api/${path}`, params: { profile: "skatt" } });
  for (const response of [await tokenHandler(request("token/skatt")), await healthHandler(request("health"))]) {
    expect(response.status).toBe(500);
    expect(response.jsonBody).toEqual({ error: "server_error", error_description: "The broker is misconfigured; see its logs." });
    expect(JSON.stringify(response.jsonBody)).not.toContain("KEY_VAULT_URL");
  }
});

it("logs which settings are wrong on every request, never their values (a PID is personal data)", async () => {
  const pid = "0101701234 5";
  setRuntimeFactory(() =>
    createRuntime({
      settings: {
        KEY_VAULT_URL: "https://kv.vault.azure.net/",
        MASKINPORTEN_ENVIRONMENT: "test",
        TOKEN_PROFILES: "skatt",
        SIGNING_CERTIFICATE_NAME: "cert",
        PROFILE_SKATT_CLIENT_ID: "c",
        PROFILE_SKATT_SCOPES: "s",
        PROFILE_SKATT_PID: pid,
      },
    }),
  );
  const lines: string[] = [];
  const spy = vi.spyOn(console, "log").mockImplementation((line: unknown) => void lines.push(String(line)));
  try {
    const request = new functions.HttpRequest({ method: "GET", url: "http://127.0.0.1/api/token/skatt", params: { profile: "skatt" } });
    for (let i = 0; i < 3; i++) expect((await tokenHandler(request)).status).toBe(500);
  } finally {
    spy.mockRestore();
  }
  const logged = lines.filter((line) => line.includes('"runtime-unavailable"'));
  expect(logged).toHaveLength(3);
  for (const line of logged) {
    expect(line).toContain("PROFILE_SKATT_PID");
    expect(line).not.toContain("0101701234");
  }
});
