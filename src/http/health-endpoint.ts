/**
 * GET /api/health: anonymous callers learn only healthy/unhealthy; an authenticated caller also
 * gets details for the profiles whose role it holds (expiry, last renewal, last error, days until
 * the signing certificate expires).
 */
import type { CallerVerifier, HeaderSource } from "../auth/index.js";
import type { AltinnStageStatus, BrokerPort, ProfileHealth } from "./broker-port.js";
import type { KeyRegistrationStatus } from "../keys/key-registration.js";
import type { Logger } from "../logging.js";
import { jsonResult, type HttpResult } from "./responses.js";
import { authenticate } from "./token-endpoint.js";

export interface HealthDependencies {
  broker: BrokerPort;
  verifier?: CallerVerifier;
  logger: Logger;
  now?: () => number;
}

/** Healthy unless some profile has no usable token and its last renewal failed. */
export function isHealthy(profiles: readonly ProfileHealth[], nowMs: number): boolean {
  return profiles.every((p) => (p.expiresAt !== undefined && p.expiresAt.getTime() > nowMs) || p.lastError === undefined);
}

export async function handleHealthRequest(headers: HeaderSource, deps: HealthDependencies): Promise<HttpResult> {
  const now = (deps.now ?? Date.now)();
  const profiles = await deps.broker.health();
  const healthy = isHealthy(profiles, now);
  const status = healthy ? 200 : 503;
  const summary = { status: healthy ? "healthy" : "unhealthy" };
  if (!headers.get("authorization")) return jsonResult(status, summary);

  // A presented token that does not authenticate, or a caller holding no profile's role, gets
  // exactly the anonymous answer (nothing to tell apart) and leaves an audit line.
  const authenticated = await authenticate(headers, deps.verifier);
  if (!("caller" in authenticated)) {
    deps.logger.log("warn", "health-request", { status, outcome: "anonymous-answer", reason: authenticated.reason });
    return jsonResult(status, summary);
  }
  const caller = authenticated.caller;
  const who = { callerAppId: caller.appId, callerObjectId: caller.objectId ?? null };
  const roles = new Set(caller.roles);
  const visible = profiles.filter((p) => roles.has(deps.broker.profile(p.profile)?.role ?? ""));
  if (visible.length === 0) {
    deps.logger.log("warn", "health-request", { status, outcome: "anonymous-answer", ...who, reason: "missing_role" });
    return jsonResult(status, summary);
  }
  deps.logger.log("info", "health-request", { status, outcome: "details", ...who, profiles: visible.map((p) => p.profile) });
  return jsonResult(status, {
    ...summary,
    profiles: visible.map((p) => ({
      profile: p.profile,
      tokenExpiresAt: p.expiresAt?.toISOString() ?? null,
      lastRenewalAt: p.lastRenewalAt?.toISOString() ?? null,
      consecutiveFailures: p.consecutiveFailures,
      lastError: p.lastError
        ? {
            at: p.lastError.at.toISOString(),
            ...(p.lastError.stage ? { stage: p.lastError.stage } : {}),
            code: p.lastError.code,
            message: p.lastError.message,
            traceId: p.lastError.traceId ?? null,
            errorUri: p.lastError.errorUri ?? null,
          }
        : null,
      ...(p.altinn ? { altinn: altinnHealth(p.altinn) } : {}),
      certificateNotAfter: p.certificateNotAfter?.toISOString() ?? null,
      certificateDaysLeft: p.certificateDaysLeft ?? null,
      ...(p.keyRegistration ? { keyRegistration: keyRegistrationHealth(p.keyRegistration) } : {}),
    })),
  });
}

/** The Altinn exchange stage of a profile, apart from Maskinporten's: which of the two is failing shows at a glance. */
function altinnHealth(stage: AltinnStageStatus): Record<string, unknown> {
  return {
    exchange: stage.exchange,
    testOrg: stage.testOrg,
    lastExchangeAt: stage.lastExchangeAt?.toISOString() ?? null,
    tokenExpiresAt: stage.tokenExpiresAt?.toISOString() ?? null,
    consecutiveFailures: stage.consecutiveFailures,
    lastError: stage.lastError
      ? {
          at: stage.lastError.at.toISOString(),
          code: stage.lastError.code,
          message: stage.lastError.message,
          status: stage.lastError.status ?? null,
          traceId: stage.lastError.traceId ?? null,
        }
      : null,
  };
}

/** What is registered on the profile's client, and how many days each registration has left. */
function keyRegistrationHealth(status: KeyRegistrationStatus): Record<string, unknown> {
  return {
    clientId: status.clientId,
    lastSyncAt: status.lastSyncAt?.toISOString() ?? null,
    registeredAt: status.registeredAt?.toISOString() ?? null,
    keys: status.keys.map((key) => ({
      kid: key.kid,
      role: key.role,
      expiresAt: key.expiresAt?.toISOString() ?? null,
      daysLeft: key.daysLeft ?? null,
    })),
    lastError: status.lastError
      ? {
          at: status.lastError.at.toISOString(),
          code: status.lastError.code,
          message: status.lastError.message,
          status: status.lastError.status ?? null,
        }
      : null,
  };
}
