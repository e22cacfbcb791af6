/**
 * A broken configuration answers 500 with a generic body from every HTTP function; the problems go
 * to the log for the operator.
 */
import functions from "@azure/functions";
import { expect, it } from "vitest";
import { createRuntime, setRuntimeFactory } from "../../src/app/runtime.js";
import { healthHandler } from "../../functions/health.js";
import { tokenHandler } from "../../functions/token.js";

it("answers 500 without detail while the app settings are invalid", async () => {
  setRuntimeFactory(() => createRuntime({ settings: { TOKEN_PROFILES: "skatt" } }));
  const request = (path: string) => new functions.HttpRequest({ method: "GET", url: `http://127.0.0.1/api/${path}`, params: { profile: "skatt" } });
  for (const response of [await tokenHandler(request("token/skatt")), await healthHandler(request("health"))]) {
    expect(response.status).toBe(500);
    expect(response.jsonBody).toEqual({ error: "server_error", error_description: "The broker is misconfigured; see its logs." });
    expect(JSON.stringify(response.jsonBody)).not.toContain("KEY_VAULT_URL");
  }
});
