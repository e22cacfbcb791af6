import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/errors.js";
import { authorize, CallerAuthError } from "../../src/auth/index.js";
import { startEntraStandIn, type EntraStandIn } from "../../sandbox/entra/standin.js";
import { expectUnauthenticated, PROFILE_ROLE, verifierFor } from "./helpers.js";

let standIn: EntraStandIn;
beforeAll(async () => {
  standIn = await startEntraStandIn();
});
afterAll(async () => {
  await standIn.close();
});

/** The header as App Service Authentication builds it (claims mapped to the long names). */
function principalHeader(overrides: Record<string, string | null> = {}, roles: string[] = [PROFILE_ROLE]): string {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, string | null> = {
    aud: standIn.audience,
    iss: standIn.issuer,
    iat: String(now),
    nbf: String(now),
    exp: String(now + 3600),
    azp: "easy-auth-client",
    "http://schemas.microsoft.com/identity/claims/objectidentifier": "0b9f1d2e-3c4a-4b5c-9d6e-7f8a9b0c1d2e",
    "http://schemas.microsoft.com/identity/claims/tenantid": standIn.tenantId,
    ver: "2.0",
    ...overrides,
  };
  const principal = {
    auth_typ: "aad",
    claims: [
      ...Object.entries(claims)
        .filter((entry): entry is [string, string] => entry[1] !== null)
        .map(([typ, val]) => ({ typ, val })),
      ...roles.map((val) => ({ typ: "roles", val })),
    ],
    name_typ: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
    role_typ: "roles",
  };
  return Buffer.from(JSON.stringify(principal)).toString("base64");
}

const headers = (values: Record<string, string>) => new Headers(values);

describe("X-MS-CLIENT-PRINCIPAL", () => {
  it("is ignored unless trustAppServicePrincipalHeader is set", async () => {
    const verifier = verifierFor(standIn);
    await expectUnauthenticated(verifier.verifyRequest(headers({ "x-ms-client-principal": principalHeader() })), "missing_credentials");
  });

  it("is honoured when trusted: claims mapped back to a Caller", async () => {
    const verifier = verifierFor(standIn, { trustAppServicePrincipalHeader: true });
    const caller = await verifier.verifyRequest(headers({ "X-MS-CLIENT-PRINCIPAL": principalHeader() }));
    expect(caller).toMatchObject({
      appId: "easy-auth-client",
      objectId: "0b9f1d2e-3c4a-4b5c-9d6e-7f8a9b0c1d2e",
      tenantId: standIn.tenantId,
      roles: [PROFILE_ROLE],
      authenticatedBy: "app-service-principal",
    });
    expect(() => authorize(caller, PROFILE_ROLE)).not.toThrow();
  });

  it("falls back to the bearer token when the principal header is absent", async () => {
    const verifier = verifierFor(standIn, { trustAppServicePrincipalHeader: true });
    const caller = await verifier.verifyRequest(headers({ authorization: `Bearer ${standIn.mintToken({})}` }));
    expect(caller.authenticatedBy).toBe("bearer");
  });

  it.each([
    [
      "another tenant",
      { "http://schemas.microsoft.com/identity/claims/tenantid": "9d3c5b1a-0e2f-4a6b-8c7d-1e2f3a4b5c6d" },
      "invalid_tenant",
    ],
    ["another issuer", { iss: "https://login.microsoftonline.com/x/v2.0" }, "invalid_issuer"],
    ["another audience", { aud: "api://other" }, "invalid_audience"],
    ["expired", { exp: String(Math.floor(Date.now() / 1000) - 3600) }, "expired"],
    ["not yet valid", { nbf: String(Math.floor(Date.now() / 1000) + 3600) }, "not_yet_valid"],
    ["no exp", { exp: null }, "invalid_claims"],
    ["no app id", { azp: null }, "invalid_claims"],
    ["exp not a number", { exp: "soon" }, "invalid_principal_header"],
  ] as const)("refuses a principal from %s", async (_name, overrides, reason) => {
    const verifier = verifierFor(standIn, { trustAppServicePrincipalHeader: true });
    await expectUnauthenticated(verifier.verifyRequest(headers({ "x-ms-client-principal": principalHeader(overrides) })), reason);
  });

  it("forbids a trusted principal without the role", async () => {
    const verifier = verifierFor(standIn, { trustAppServicePrincipalHeader: true });
    const caller = await verifier.verifyRequest(headers({ "x-ms-client-principal": principalHeader({}, []) }));
    expect(() => authorize(caller, PROFILE_ROLE)).toThrow(expect.objectContaining({ code: ErrorCode.Forbidden }));
  });

  it("fuzz: random header values never authenticate and only fail with ERR_UNAUTHENTICATED", async () => {
    const verifier = verifierFor(standIn, { trustAppServicePrincipalHeader: true });
    const claim = fc.record({
      typ: fc.oneof(fc.constantFrom("aud", "iss", "exp", "roles", "tid", "__proto__"), fc.string()),
      val: fc.oneof(fc.string(), fc.integer()),
    });
    const principal = fc.record(
      { auth_typ: fc.constantFrom("aad", "github", 1), claims: fc.oneof(fc.array(claim), fc.anything()) },
      { requiredKeys: [] },
    );
    const value = fc.oneof(
      fc.string(),
      fc.base64String(),
      fc.oneof(principal, fc.anything()).map((p) => Buffer.from(JSON.stringify(p) ?? "").toString("base64")),
    );
    await fc.assert(
      fc.asyncProperty(value, async (header) => {
        try {
          await verifier.verifyRequest(headers({ "x-ms-client-principal": header }));
          return false;
        } catch (error) {
          return error instanceof CallerAuthError && error.code === ErrorCode.Unauthenticated;
        }
      }),
      { numRuns: 1_000 },
    );
  });
});
