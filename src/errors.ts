/**
 * One error base class for the whole broker. `code` is stable and safe to match on; `message` is
 * for people and never contains a token, grant, signature or password; `cause` keeps the original.
 */
export class BrokerError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

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
  NoToken: "ERR_NO_TOKEN",
  UnknownProfile: "ERR_UNKNOWN_PROFILE",
  AltinnRejected: "ERR_ALTINN_REJECTED",
  AltinnUnavailable: "ERR_ALTINN_UNAVAILABLE",
  AltinnBadResponse: "ERR_ALTINN_BAD_RESPONSE",
  SelfServiceRejected: "ERR_SELF_SERVICE_REJECTED",
  SelfServiceUnavailable: "ERR_SELF_SERVICE_UNAVAILABLE",
  SelfServiceBadResponse: "ERR_SELF_SERVICE_BAD_RESPONSE",
  KeyRegistration: "ERR_KEY_REGISTRATION",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
