/**
 * The self-service API adapter against the stand-in: Digdir's error bodies in their shapes are kept
 * (OAuth-style, Spring-style, plain text) and scrubbed; the bearer token never shows up in an error.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/errors.js";
import { SelfServiceError } from "../../src/keys/ports.js";
import { createSelfServiceClient } from "../../src/keys/self-service-client.js";
import { startHarness, type Harness } from "./harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzY29wZSI6ImlkcG9ydGVuOmRjci5yZWFkIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ";
const client = () => createSelfServiceClient({ baseUrl: h.ss.baseUrl, accessToken: async () => TOKEN, timeoutMs: 2_000 });

async function failure(call: () => Promise<unknown>): Promise<SelfServiceError> {
  try {
    await call();
  } catch (error) {
    expect(error).toBeInstanceOf(SelfServiceError);
    expect(String((error as Error).message)).not.toContain(TOKEN);
    return error as SelfServiceError;
  }
  throw new Error("expected a failure");
}

describe("self-service API client", () => {
  it("keeps a Spring-style error body's message", async () => {
    h.ss.injectFault({
      kind: "status",
      status: 400,
      body: { status: 400, error: "Bad Request", message: "kid must be unique", path: "/api/v1/clients/x/jwks" },
    });
    const error = await failure(() => client().putJwks("x", [{ kty: "RSA", kid: "k" }]));
    expect(error).toMatchObject({
      code: ErrorCode.SelfServiceRejected,
      status: 400,
      error: "Bad Request",
      description: "kid must be unique",
      transient: false,
    });
  });

  it("keeps the start of a text body, with anything JWT-shaped scrubbed", async () => {
    h.ss.injectFault({ kind: "status", status: 502, body: `upstream said no; token ${TOKEN}` });
    const error = await failure(() => client().getJwks("x"));
    expect(error).toMatchObject({ code: ErrorCode.SelfServiceUnavailable, status: 502, transient: true });
    expect(error.body).toBe("upstream said no; token [redacted-jwt]");
  });

  it("reports an unreachable API as unavailable, naming the origin", async () => {
    const down = createSelfServiceClient({ baseUrl: "http://127.0.0.1:9", accessToken: async () => TOKEN, timeoutMs: 2_000 });
    const error = await failure(() => down.getJwks("x"));
    expect(error).toMatchObject({ code: ErrorCode.SelfServiceUnavailable, transient: true });
    expect(error.message).toContain("http://127.0.0.1:9");
  });

  it("is refused by the stand-in without a valid Maskinporten token, with the scopes named", async () => {
    const error = await failure(() => client().getJwks("kid-client"));
    expect(error).toMatchObject({ status: 401, error: "invalid_token" });
    expect(error.message).toContain("idporten:dcr scopes");
  });
});
