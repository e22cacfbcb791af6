import { ErrorCode } from "../errors.js";
import { MaskinportenError } from "../maskinporten-error.js";

// The error class is the port's failure contract and lives in the core; the parsing stays here.
export { MaskinportenError, type MaskinportenErrorCode, type MaskinportenErrorDetails } from "../maskinporten-error.js";

const TRACE_ID = /\(trace_id:\s*([^)\s]+)\s*\)/i;

export function extractTraceId(description: string | undefined): string | undefined {
  return description?.match(TRACE_ID)?.[1];
}

/** An OAuth error answer (`{"error","error_description"}`) or an unparseable failure status. */
export function rejectionError(status: number, body: unknown, retryAfterMs: number | undefined): MaskinportenError {
  const fields = typeof body === "object" && body !== null ? (body as Record<string, unknown>) : {};
  const error = typeof fields.error === "string" ? fields.error : undefined;
  const errorDescription = typeof fields.error_description === "string" ? fields.error_description : undefined;
  const traceId = extractTraceId(errorDescription);
  const errorUri = typeof fields.error_uri === "string" && fields.error_uri.length <= 2048 ? fields.error_uri : undefined;
  const transient = status >= 500 || status === 429 || status === 408;
  const what = error ? `${error}${errorDescription ? `: ${errorDescription}` : ""}` : "no OAuth error body";
  const message = transient
    ? `Maskinporten is unavailable (HTTP ${status}, ${what})`
    : `Maskinporten rejected the token request (HTTP ${status}, ${what})`;
  const withTrace = traceId && !message.includes(traceId) ? `${message} (trace_id: ${traceId})` : message;
  return new MaskinportenError(
    transient ? ErrorCode.MaskinportenUnavailable : ErrorCode.MaskinportenRejected,
    // error_uri names the documented cause (MP-xxx): it stays with the description wherever the message goes.
    errorUri ? `${withTrace} (error_uri: ${errorUri})` : withTrace,
    {
      status,
      transient,
      ...(error !== undefined ? { error } : {}),
      ...(errorDescription !== undefined ? { errorDescription } : {}),
      ...(traceId !== undefined ? { traceId } : {}),
      ...(errorUri !== undefined ? { errorUri } : {}),
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    },
  );
}
