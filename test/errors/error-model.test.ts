import { describe, expect, it } from "vitest";
import { AltinnExchangeError } from "../../src/altinn/errors.js";
import { KeySetUnavailableError } from "../../src/auth/auth-error.js";
import { CustomerDeniedError, CustomerErrorCode } from "../../src/customers/errors.js";
import { BrokerError, ErrorCode, errorCodeOf, errorLogFields } from "../../src/errors.js";
import { MaskinportenError, rejectionError } from "../../src/maskinporten/errors.js";

describe("error model", () => {
  it("every code is a distinct ERR_ string, the customer code among them", () => {
    const codes = Object.values(ErrorCode);
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) expect(code).toMatch(/^ERR_[A-Z_]+$/);
    expect(codes).toContain(CustomerErrorCode.Denied);
  });

  it("anything not a BrokerError is ERR_UNEXPECTED, with its message", () => {
    expect(errorLogFields(new TypeError("boom"))).toEqual({ code: ErrorCode.Unexpected, message: "boom" });
    expect(errorLogFields("plain")).toEqual({ code: ErrorCode.Unexpected, message: "plain" });
    expect(errorCodeOf(undefined)).toBe(ErrorCode.Unexpected);
    expect(errorCodeOf(new BrokerError(ErrorCode.KeyVault, "down"))).toBe(ErrorCode.KeyVault);
  });

  it("a Maskinporten rejection describes itself with error, error_uri, trace id and status", () => {
    const error = rejectionError(
      400,
      {
        error: "invalid_grant",
        error_description: "Invalid assertion (trace_id: abc123)",
        error_uri: "https://docs.digdir.no/errors/MP-100",
      },
      undefined,
    );
    expect(error.logFields()).toEqual({
      code: ErrorCode.MaskinportenRejected,
      message: error.message,
      traceId: "abc123",
      maskinportenError: "invalid_grant",
      errorUri: "https://docs.digdir.no/errors/MP-100",
      status: 400,
    });
    expect(errorLogFields(error)).toEqual(error.logFields());
  });

  it("an Altinn refusal and a customer refusal describe themselves too", () => {
    const altinn = new AltinnExchangeError(ErrorCode.AltinnRejected, "refused", { status: 401, traceId: "t-1", transient: false });
    expect(altinn.logFields()).toEqual({ code: ErrorCode.AltinnRejected, message: "refused", status: 401, traceId: "t-1" });
    const cause = new MaskinportenError(ErrorCode.MaskinportenRejected, "no", { transient: false, error: "forbidden", traceId: "t-2" });
    const denied = new CustomerDeniedError("skatt", "910000000", cause);
    expect(denied.cause).toBe(cause);
    expect(denied.logFields()).toMatchObject({ code: ErrorCode.CustomerDenied, maskinportenError: "forbidden", traceId: "t-2" });
  });

  it("the key set outage is a BrokerError that keeps its cause", () => {
    const cause = new Error("ECONNRESET");
    const error = new KeySetUnavailableError({ cause });
    expect(error).toBeInstanceOf(BrokerError);
    expect(error.name).toBe("KeySetUnavailableError");
    expect(error.code).toBe(ErrorCode.KeySetUnavailable);
    expect(error.cause).toBe(cause);
  });
});
