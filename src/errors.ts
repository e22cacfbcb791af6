/** Stable error codes. Add, never rename: operators alert on these. */
export const ErrorCode = {
  Config: "ERR_CONFIG",
  Signing: "ERR_SIGNING",
  KeyVault: "ERR_KEY_VAULT",
  MaskinportenRejected: "ERR_MASKINPORTEN_REJECTED",
  MaskinportenUnavailable: "ERR_MASKINPORTEN_UNAVAILABLE",
  MaskinportenBadResponse: "ERR_MASKINPORTEN_BAD_RESPONSE",
  Keystore: "ERR_KEYSTORE",
  Properties: "ERR_PROPERTIES",
  Unauthenticated: "ERR_UNAUTHENTICATED",
  Forbidden: "ERR_FORBIDDEN",
  /** Entra's signing keys could not be fetched: an outage, not the caller's fault. */
  KeySetUnavailable: "ERR_KEY_SET_UNAVAILABLE",
  NoToken: "ERR_NO_TOKEN",
  UnknownProfile: "ERR_UNKNOWN_PROFILE",
  AltinnRejected: "ERR_ALTINN_REJECTED",
  AltinnUnavailable: "ERR_ALTINN_UNAVAILABLE",
  AltinnBadResponse: "ERR_ALTINN_BAD_RESPONSE",
  /** An issued enterprise certificate or a CSR request that must not be merged or made. */
  Certificate: "ERR_CERTIFICATE",
  /** Maskinporten refused this customer (no delegation, no system user, wrong externalRef). */
  CustomerDenied: "ERR_CUSTOMER_DENIED",
  /** Anything thrown that is not a BrokerError: a bug or an unforeseen failure. */
  Unexpected: "ERR_UNEXPECTED",
  SelfServiceRejected: "ERR_SELF_SERVICE_REJECTED",
  SelfServiceUnavailable: "ERR_SELF_SERVICE_UNAVAILABLE",
  SelfServiceBadResponse: "ERR_SELF_SERVICE_BAD_RESPONSE",
  KeyRegistration: "ERR_KEY_REGISTRATION",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * What an error puts in a log line: its stable code, its safe message and, where the error has
 * them, the identifiers support asks for. Never a token, grant, signature or password.
 */
export type ErrorLogFields = {
  code: ErrorCode;
  message: string;
  /** HTTP status of the remote answer, when there was one. */
  status?: number;
  /** The remote party's trace id (Digdir's, Altinn's). */
  traceId?: string;
  /** Maskinporten's OAuth `error`. */
  maskinportenError?: string;
  /** Maskinporten's `error_uri` (Digdir's page for the error). */
  errorUri?: string;
};

/**
 * One error base class for the whole broker. `code` is stable and safe to match on; `message` is
 * for people and never contains a token, grant, signature or password; `cause` keeps the original.
 */
export class BrokerError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }

  /** The fields a log line carries for this error. Subclasses add their remote identifiers. */
  logFields(): ErrorLogFields {
    return { code: this.code, message: this.message };
  }
}

/** Log fields for anything thrown: a BrokerError describes itself; anything else is ERR_UNEXPECTED. */
export function errorLogFields(error: unknown): ErrorLogFields {
  if (error instanceof BrokerError) return error.logFields();
  return { code: ErrorCode.Unexpected, message: error instanceof Error ? error.message : String(error) };
}

/** The codes an Altinn exchange failure carries (the class is src/altinn/errors.ts's AltinnExchangeError). */
export type AltinnErrorCode = typeof ErrorCode.AltinnRejected | typeof ErrorCode.AltinnUnavailable | typeof ErrorCode.AltinnBadResponse;
const ALTINN_ERROR_CODES: ReadonlySet<ErrorCode> = new Set([
  ErrorCode.AltinnRejected,
  ErrorCode.AltinnUnavailable,
  ErrorCode.AltinnBadResponse,
]);

/** Whether a failure came from the Altinn exchange, told by its code (the core does not load the Altinn adapter). */
export function isAltinnFailure(error: unknown): boolean {
  return ALTINN_ERROR_CODES.has(errorCodeOf(error));
}

/** The stable code of anything thrown: ERR_UNEXPECTED unless it is a BrokerError. */
export function errorCodeOf(error: unknown): ErrorCode {
  return error instanceof BrokerError ? error.code : ErrorCode.Unexpected;
}
