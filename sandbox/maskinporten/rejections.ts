/**
 * The stand-in's error answers, worded as Digdir's Maskinporten words them. Texts marked
 * "Digdir" are documented on docs.digdir.no (Feilsøking i Maskinporten, MP-xxx codes) or seen in
 * real answers; the others follow Digdir's pattern ("Invalid assertion. Client authentication
 * failed. <detail>") but are our own. Every description ends with `(trace_id: <32 hex>)`, and
 * answers with an MP code carry `error_uri` = `<issuer>errors/MP-xxx`, as the real service does.
 */

export interface RejectionSpec {
  status: number;
  /** OAuth error code. */
  error: string;
  /** Description without the trace id suffix, punctuation as Digdir's (sometimes none). */
  text: string;
  /** Digdir's MP-xxx code, when there is a documented one. */
  mpCode?: string;
  /** The stand-in's precise reason, for `grants[].reason` and the log; never sent to the client. */
  reason: string;
}

export class GrantRejection extends Error {
  readonly status: number;
  readonly error: string;
  readonly text: string;
  readonly mpCode: string | undefined;
  readonly reason: string;

  constructor(spec: RejectionSpec) {
    super(`${spec.error}: ${spec.reason}`);
    this.name = "GrantRejection";
    this.status = spec.status;
    this.error = spec.error;
    this.text = spec.text;
    this.mpCode = spec.mpCode;
    this.reason = spec.reason;
  }

  /** The JSON body Maskinporten would send. */
  body(issuer: string, traceId: string): Record<string, string> {
    const body: Record<string, string> = {
      error: this.error,
      error_description: `${this.text} (trace_id: ${traceId})`,
    };
    if (this.mpCode) body.error_uri = `${issuer}errors/${this.mpCode}`;
    return body;
  }
}

const CLIENT_AUTH_FAILED = "Invalid assertion. Client authentication failed.";

function invalidGrant(text: string, reason: string, mpCode?: string): GrantRejection {
  return new GrantRejection({ status: 400, error: "invalid_grant", text, reason, ...(mpCode ? { mpCode } : {}) });
}

/** One factory per way a token request fails. */
export const reject = {
  // --- The HTTP request itself (our wording; OAuth codes from RFC 6749 §5.2).
  contentType: (reason: string) =>
    new GrantRejection({
      status: 400,
      error: "invalid_request",
      text: "Invalid request. Content-Type must be application/x-www-form-urlencoded.",
      reason,
    }),
  parameters: (reason: string) =>
    new GrantRejection({ status: 400, error: "invalid_request", text: `Invalid request. ${reason}.`, reason }),
  grantType: (reason: string) =>
    new GrantRejection({ status: 400, error: "unsupported_grant_type", text: "Unsupported grant type.", reason }),
  bodyTooLarge: (reason: string) =>
    new GrantRejection({ status: 413, error: "invalid_request", text: "Invalid request. Request body too large.", reason }),

  // --- The assertion's form. Digdir (MP-011): unknown claims, typos and broken JWTs.
  invalidParameter: (reason: string) =>
    new GrantRejection({
      status: 400,
      error: "invalid_request",
      text: "Invalid assertion. Invalid parameter value.",
      mpCode: "MP-011",
      reason,
    }),

  // --- Client authentication.
  unsupportedAlg: (reason: string) => invalidGrant(`${CLIENT_AUTH_FAILED} Invalid JWT header alg.`, reason),
  /** Digdir (MP-100). */
  unknownClient: (reason: string) => invalidGrant(CLIENT_AUTH_FAILED, reason, "MP-100"),
  /** Digdir (MP-110). */
  audience: (reason: string) => invalidGrant(`${CLIENT_AUTH_FAILED} Invalid JWT claim aud.`, reason, "MP-110"),
  /** Digdir (MP-123): x5c missing, a string instead of an array, not base64, not a certificate. */
  x5c: (reason: string) => invalidGrant(`${CLIENT_AUTH_FAILED} Invalid JWT header x5c.`, reason, "MP-123"),
  /** Digdir: the client has pre-registered keys but the grant names none. */
  requiresKid: (reason: string) =>
    invalidGrant(`${CLIENT_AUTH_FAILED} Invalid JWT. The client requires pre-registered jwk and no key identifier (kid) provided.`, reason),
  /** Digdir (MP-120): untrusted, expired or unregistered certificate. */
  certificate: (reason: string) => invalidGrant(`${CLIENT_AUTH_FAILED} The JWT is signed with an invalid certificate.`, reason, "MP-120"),
  /** Digdir (MP-122). */
  organisationNumber: (reason: string) =>
    invalidGrant(
      `${CLIENT_AUTH_FAILED} Invalid JWT. Invalid organization number for client. Does not match certificate orgno.`,
      reason,
      "MP-122",
    ),
  /** Digdir. */
  unknownKid: (reason: string) => invalidGrant(`${CLIENT_AUTH_FAILED} Unknown key identifier (kid) for client.`, reason),
  keyConflict: (reason: string) => invalidGrant(`${CLIENT_AUTH_FAILED} Invalid JWT. x5c and kid do not name the same key.`, reason),
  /** Digdir (MP-124). */
  signature: (reason: string) => invalidGrant(`${CLIENT_AUTH_FAILED} Invalid JWT signature.`, reason, "MP-124"),

  // --- Time and replay.
  claim: (name: string, reason: string) => invalidGrant(`${CLIENT_AUTH_FAILED} Invalid JWT claim ${name}.`, reason),
  /** Digdir (MP-130). */
  expired: (reason: string) => invalidGrant(`${CLIENT_AUTH_FAILED} JWT is expired.`, reason, "MP-130"),
  lifetime: (reason: string) => invalidGrant(`${CLIENT_AUTH_FAILED} Invalid JWT claim exp. exp - iat must not exceed 120 seconds.`, reason),
  /** Digdir ("Issue time is after now"). */
  issuedInFuture: (reason: string) => invalidGrant(`${CLIENT_AUTH_FAILED} Issue time is after now.`, reason),
  issuedTooEarly: (reason: string) =>
    invalidGrant(`${CLIENT_AUTH_FAILED} Invalid JWT claim iat. Issue time is more than 10 seconds before now.`, reason),
  /** Digdir (MP-012). */
  reused: (reason: string) => invalidGrant("Invalid assertion. Grant is used before.", reason, "MP-012"),

  // --- What the client asks for.
  noScope: (reason: string) =>
    new GrantRejection({ status: 400, error: "invalid_scope", text: "Token request contains no scopes.", reason }),
  /** Digdir (MP-200), seen as "Token request contains invalid scopes for client, a:b (trace_id: …)". */
  scope: (invalid: readonly string[], reason: string) =>
    new GrantRejection({
      status: 400,
      error: "invalid_scope",
      text: `Token request contains invalid scopes for client, ${invalid.join(" ")}`,
      mpCode: "MP-200",
      reason,
    }),
  /** RFC 8707's code; Digdir documents no wording. */
  resource: (invalid: readonly string[], reason: string) =>
    new GrantRejection({
      status: 400,
      error: "invalid_target",
      text: `Token request contains invalid resource for client, ${invalid.join(" ")}`,
      reason,
    }),
  /** Digdir: consumer_org equal to the client's own organisation. */
  consumerIsSupplier: (reason: string) =>
    new GrantRejection({
      status: 400,
      error: "invalid_request",
      text: "Validation of JWT claim failed: The combination consumer_org in claim and delegation scope on client is invalid.",
      reason,
    }),
  /** Digdir (MP-251), HTTP 403 `forbidden`. */
  notDelegated: (consumer: string, scopes: readonly string[], supplier: string, reason: string) =>
    new GrantRejection({
      status: 403,
      error: "forbidden",
      text: `Consumer ${consumer} has not delegated access to the scope ${scopes.join(" ")} to supplier ${supplier}.`,
      mpCode: "MP-251",
      reason,
    }),
  /**
   * Digdir/Altinn (MP-303, `invalid_altinn_customer_configuration`): no system user for this client
   * at the customer, or the grant's externalRef is not the one the system user was created with.
   * Altinn's troubleshooting page names the code and causes; the wording here is ours.
   */
  altinnCustomerConfiguration: (reason: string) =>
    new GrantRejection({
      status: 400,
      error: "invalid_altinn_customer_configuration",
      text: "Invalid Altinn customer configuration. No system user found for the client and party (check systemuser_org and externalRef).",
      mpCode: "MP-303",
      reason,
    }),
  /** Digdir (MP-301/302/303); `invalid_authorization_details` is RFC 9396's code. */
  authorizationDetailsType: (reason: string) =>
    new GrantRejection({
      status: 400,
      error: "invalid_authorization_details",
      text: "Unknown authorization details type.",
      mpCode: "MP-301",
      reason,
    }),
  authorizationDetailsFields: (reason: string) =>
    new GrantRejection({
      status: 400,
      error: "invalid_authorization_details",
      text: "Unknown fields in the authorization details.",
      mpCode: "MP-302",
      reason,
    }),
  authorizationDetailsValues: (reason: string) =>
    new GrantRejection({
      status: 400,
      error: "invalid_authorization_details",
      text: `Invalid authorization details values. ${reason}.`,
      mpCode: "MP-303",
      reason,
    }),
} as const;
