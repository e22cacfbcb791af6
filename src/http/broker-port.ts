/**
 * The port the HTTP layer serves through: what an endpoint needs of the broker, defined here in
 * the core so that src/http/ never imports the composition root (src/broker.ts implements it).
 */
import type { TokenProfile } from "../config/domain.js";
import type { CustomerRequest } from "../customers/index.js";
import type { ErrorLogFields } from "../errors.js";
import type { KeyRegistrationStatus } from "../keys/key-registration.js";
import type { ProfileStatus } from "../renewal/profile-tokens.js";
import type { StoredToken } from "../token-store/stored-token.js";

export interface BrokerPort {
  /** The named profile, or the default profile when no name is given. */
  profile(name?: string): TokenProfile | undefined;
  /** A token for a caller (see ProfileTokens.serve). */
  serve(profileName: string): Promise<StoredToken>;
  /** What serve() would give without I/O, synchronously, or undefined (then call serve()). See ProfileTokens.servableFromMemory. */
  servableFromMemory(profileName: string): StoredToken | undefined;
  /** A token for one customer of a profile with PROFILE_<NAME>_CUSTOMERS (see CustomerTokens.serve). */
  serveCustomer(profileName: string, request: CustomerRequest): Promise<StoredToken>;
  /** What serveCustomer() would give without I/O, synchronously, or undefined (then call serveCustomer()). */
  customerServableFromMemory(profileName: string, request: CustomerRequest): StoredToken | undefined;
  /** What each profile holds and how its renewals went, from memory (no I/O). */
  health(): Promise<ProfileHealth[]>;
}

export interface ProfileHealth extends ProfileStatus {
  /** Profiles with an Altinn exchange: that stage on its own. */
  altinn?: AltinnStageStatus;
  certificateNotAfter?: Date;
  certificateDaysLeft?: number;
  /** Profiles with KEY_REGISTRATION=self-service: what is registered on the client, days left per key. */
  keyRegistration?: KeyRegistrationStatus;
}

/** The Altinn exchange stage of a profile, as src/altinn/issue.ts reports it. */
export interface AltinnStageStatus {
  /** The exchange URL (`?test=true` included when asked for). */
  exchange: string;
  testOrg: boolean;
  lastExchangeAt?: Date;
  /** Expiry of the last Altinn token received. */
  tokenExpiresAt?: Date;
  lastError?: ErrorLogFields & { at: Date };
  consecutiveFailures: number;
}
