import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/errors.js";
import { CallerAuthError } from "../../src/auth/auth-error.js";
import { parseBearerToken } from "../../src/auth/bearer.js";

const JWS = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

function reasonOf(value: unknown, maxLength?: number): string {
  try {
    parseBearerToken(value, maxLength);
  } catch (error) {
    expect(error).toBeInstanceOf(CallerAuthError);
    expect((error as CallerAuthError).code).toBe(ErrorCode.Unauthenticated);
    return (error as CallerAuthError).reason;
  }
  return "accepted";
}

describe("parseBearerToken", () => {
  it.each([[`Bearer ${JWS}`], [`bearer ${JWS}`], [`BEARER ${JWS}`], [`Bearer    ${JWS}`], [` \tBearer ${JWS}\t `]])(
    "accepts %j",
    (value) => {
      expect(parseBearerToken(value)).toBe(JWS);
    },
  );

  it.each([
    [undefined, "missing_credentials"],
    [null, "missing_credentials"],
    ["", "missing_credentials"],
    ["   ", "missing_credentials"],
    [42, "malformed_header"],
    [["Bearer", JWS], "malformed_header"],
    [JWS, "malformed_header"],
    ["Bearer", "malformed_header"],
    ["Bearer ", "malformed_header"],
    [`Bearer\t${JWS}`, "malformed_header"],
    [`Basic ${JWS}`, "malformed_header"],
    [`Bearerx ${JWS}`, "malformed_header"],
    [`Bearer ${JWS} ${JWS}`, "malformed_header"],
    [`Bearer ${JWS}, Bearer ${JWS}`, "malformed_header"],
    [`Bearer ${JWS}=`, "malformed_header"],
    [`Bearer ${JWS.replace("_", "/")}+`, "malformed_header"],
    [`Bearer ${JWS}\n`, "malformed_header"],
    [`Bearer a.b`, "malformed_token"],
    [`Bearer a.b.c.d`, "malformed_token"],
    [`Bearer a.b.c.d.e.f`, "malformed_token"],
    [`Bearer a.b.`, "malformed_token"],
    [`Bearer .b.c`, "malformed_token"],
    [`Bearer a.b.c.d.e`, "encrypted_token"],
    [`Bearer a..c.d.e`, "encrypted_token"],
  ])("refuses %j as %s", (value, reason) => {
    expect(reasonOf(value)).toBe(reason);
  });

  it("refuses values over the limit before looking at them", () => {
    expect(reasonOf(`Bearer ${JWS}`, 10)).toBe("token_too_large");
    expect(reasonOf(`Bearer ${"a".repeat(16 * 1024)}.b.c`)).toBe("token_too_large");
    expect(parseBearerToken(`Bearer ${JWS}`, `Bearer ${JWS}`.length)).toBe(JWS);
  });

  it("fuzz: arbitrary values either yield one compact JWS or ERR_UNAUTHENTICATED", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything(),
          fc.string(),
          fc.string().map((s) => `Bearer ${s}`),
        ),
        (value) => {
          let token: string;
          try {
            token = parseBearerToken(value);
          } catch (error) {
            return error instanceof CallerAuthError && error.code === ErrorCode.Unauthenticated;
          }
          return typeof value === "string" && COMPACT_JWS.test(token) && value.includes(token);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it("fuzz: structured near-misses around the Bearer grammar", () => {
    const base64url = fc.stringMatching(/^[A-Za-z0-9_-]{0,12}$/);
    const anySegment = fc.oneof(base64url, fc.string({ maxLength: 6 }));
    const scheme = fc.constantFrom("Bearer", "bearer", "BeArEr", "Basic", "Bearer:", "", "Token", "DPoP");
    const separator = fc.constantFrom(" ", "  ", "\t", "", ",", " , ");
    const value = fc
      .tuple(scheme, separator, fc.array(anySegment, { minLength: 0, maxLength: 7 }), fc.constantFrom("", " ", "\n", "=", ", Bearer a.b.c"))
      .map(([s, sep, parts, tail]) => `${s}${sep}${parts.join(".")}${tail}`);
    fc.assert(
      fc.property(value, (header) => {
        let token: string;
        try {
          token = parseBearerToken(header);
        } catch (error) {
          return error instanceof CallerAuthError && error.code === ErrorCode.Unauthenticated;
        }
        return COMPACT_JWS.test(token) && /^bearer +/i.test(header.trim());
      }),
      { numRuns: 3_000 },
    );
  });
});
