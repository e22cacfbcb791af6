import { ErrorCode } from "../errors.js";
import { CallerAuthError } from "./auth-error.js";

/** An authenticated caller. Frozen: cached callers are shared between requests. */
export interface Caller {
  /** The client application's id (`azp` in v2 tokens, `appid` in v1). Goes into audit logs. */
  readonly appId: string;
  /** The service principal's (or user's) object id, when the token carries `oid`. */
  readonly objectId?: string;
  readonly tenantId: string;
  /** App roles assigned to the caller on the broker's app registration. */
  readonly roles: readonly string[];
  readonly tokenExpiresAt: Date;
  /** Which credential proved the identity. */
  readonly authenticatedBy: "bearer" | "app-service-principal";
}

/**
 * Deny by default: the caller must hold exactly `requiredRole` (app role values are
 * case-sensitive in Entra). No roles claim means no roles.
 */
export function authorize(caller: Caller, requiredRole: string): void {
  if (requiredRole === "" || !caller.roles.includes(requiredRole)) {
    throw new CallerAuthError(ErrorCode.Forbidden, "missing_role", `Caller ${caller.appId} lacks the app role required for this resource`);
  }
}
