import { BrokerError, ErrorCode, type AltinnErrorCode, type ErrorLogFields } from "../errors.js";

export type { AltinnErrorCode };
import { scrubSecrets } from "../logging.js";

export interface AltinnExchangeErrorDetails {
  /** HTTP status, when Altinn answered. */
  status?: number;
  /** What Altinn said, shortened and scrubbed: never a token. */
  bodySummary?: string;
  /** Altinn's ProblemDetails `traceId`, which Altinn support asks for. */
  traceId?: string;
  /** 5xx, 408, 429, timeouts, resets and garbled answers: worth another try. */
  transient: boolean;
  retryAfterMs?: number;
}

/**
 * The Altinn token exchange failed. The message holds the status and Altinn's words (summarised),
 * never the Maskinporten token sent or an Altinn token received.
 */
export class AltinnExchangeError extends BrokerError {
  declare readonly code: AltinnErrorCode;
  readonly status?: number;
  readonly bodySummary?: string;
  readonly traceId?: string;
  readonly transient: boolean;
  readonly retryAfterMs?: number;

  constructor(code: AltinnErrorCode, message: string, details: AltinnExchangeErrorDetails, options?: { cause?: unknown }) {
    super(code, message, options);
    this.transient = details.transient;
    if (details.status !== undefined) this.status = details.status;
    if (details.bodySummary !== undefined) this.bodySummary = details.bodySummary;
    if (details.traceId !== undefined) this.traceId = details.traceId;
    if (details.retryAfterMs !== undefined) this.retryAfterMs = details.retryAfterMs;
  }

  override logFields(): ErrorLogFields {
    return {
      ...super.logFields(),
      ...(this.traceId ? { traceId: this.traceId } : {}),
      ...(this.status !== undefined ? { status: this.status } : {}),
    };
  }
}

const MAX_SUMMARY = 200;

/**
 * Altinn answers refusals as ASP.NET ProblemDetails (`{"type","title","status","detail","traceId"}`:
 * 401 for a token it cannot read, verify or map to an organisation, 410 for the retired enterprise
 * user header) or as plain text (400 "Invalid token provider"). Keep title/detail/traceId, or the
 * first line of text; scrub anything token-shaped in case an answer ever echoes one.
 */
export function summariseAltinnBody(text: string): { summary?: string; traceId?: string } {
  const trimmed = text.trim();
  if (trimmed === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) {
    const fields = parsed as Record<string, unknown>;
    const words = [fields.title, fields.detail].filter((w): w is string => typeof w === "string" && w.length > 0);
    const traceId = typeof fields.traceId === "string" ? shorten(fields.traceId, 100) : undefined;
    return {
      ...(words.length > 0 ? { summary: shorten(words.join(": "), MAX_SUMMARY) } : {}),
      ...(traceId ? { traceId } : {}),
    };
  }
  if (typeof parsed === "string") return { summary: shorten(parsed, MAX_SUMMARY) };
  // HTML error pages from a gateway say nothing useful in their markup.
  if (/^<(!doctype|html)/i.test(trimmed)) return { summary: `an HTML page (${trimmed.length} bytes)` };
  return { summary: shorten(trimmed.split(/\r?\n/)[0]!, MAX_SUMMARY) };
}

function shorten(text: string, max: number): string {
  // Longer runs of the token alphabet than any word are cut too: an opaque token is not a JWT.
  const clean = scrubSecrets(text)
    .replace(/[A-Za-z0-9._~+/=-]{60,}/g, "[redacted]")
    .replace(/\s+/g, " ")
    .trim();
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

export function altinnRejection(status: number, bodyText: string, url: string, retryAfterMs: number | undefined): AltinnExchangeError {
  const { summary, traceId } = summariseAltinnBody(bodyText);
  const transient = status >= 500 || status === 429 || status === 408;
  const said = summary ? `: ${summary}` : "";
  const where = new URL(url).origin;
  const message = transient
    ? `Altinn token exchange at ${where} is unavailable (HTTP ${status}${said})`
    : `Altinn refused the token exchange at ${where} (HTTP ${status}${said})${status === 401 ? "; Altinn could not verify the Maskinporten token or map it to an organisation (check the Altinn environment matches the Maskinporten one)" : ""}`;
  return new AltinnExchangeError(
    transient ? ErrorCode.AltinnUnavailable : ErrorCode.AltinnRejected,
    traceId ? `${message} (traceId: ${traceId})` : message,
    {
      status,
      transient,
      ...(summary !== undefined ? { bodySummary: summary } : {}),
      ...(traceId !== undefined ? { traceId } : {}),
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    },
  );
}
