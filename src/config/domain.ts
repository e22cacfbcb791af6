/**
 * The broker's domain: what a token profile is, how its grant is signed, who may call, and the
 * whole validated configuration. Types only; parsing lives beside them in src/config/ (settings.ts
 * is the entry), and every layer (renewal, keyvault, http, CLI) imports the domain from here.
 */
import type { SigningAlgorithm } from "../signing/signer.js";
import type { CustomerPolicy, SignBudget } from "../customers/customer-settings.js";
import type { SelfServiceConfig } from "../keys/settings.js";

export type SigningSource =
  | {
      kind: "certificate";
      certificateName: string;
      certificateVersion?: string;
      /** Set → header `kid` (key registered on the client); unset → header `x5c`. */
      kid?: string;
      alg: SigningAlgorithm;
      /** Extra CA certificates (standard base64 DER) appended to x5c after the leaf. */
      chain: string[];
    }
  | { kind: "key"; keyName: string; keyVersion?: string; kid: string; alg: SigningAlgorithm };

export interface AltinnExchangeTarget {
  /** The request URL exactly: exchange endpoint, plus `?test=true` when `testOrg`. Names the target (secret tag `altinn`). */
  url: string;
  /** Ask for the TTD test organisation (`?test=true`). */
  testOrg: boolean;
}

export interface TokenProfile {
  name: string;
  clientId: string;
  scopes: string[];
  /** Always a list: Digdir's grant page says "currently only array supported" for `resource`. */
  resource?: string[];
  consumerOrg?: string;
  pid?: string;
  issOnBehalfOf?: string;
  authorizationDetails?: unknown[];
  /** Maskinporten issuer (the grant's `aud`), trailing slash kept. */
  issuer: string;
  /** Key Vault secret holding this profile's current token. */
  secretName: string;
  /** Entra app role a caller needs to fetch this profile's token. */
  role: string;
  signing: SigningSource;
  /**
   * Set: the profile's token is the Altinn 3 token this Maskinporten token is exchanged for. Part of
   * what shapes the token (the fingerprint must include `altinn.url`).
   */
  altinn?: AltinnExchangeTarget;
  /** Set when the profile serves per-customer tokens (`PROFILE_<NAME>_CUSTOMERS`). */
  customers?: CustomerPolicy;
  /** `PROFILE_<NAME>_KEY_REGISTRATION=self-service`: the broker keeps the kid's key registered (src/keys/). */
  keyRegistration?: "self-service";
}

export interface CallerAuthConfig {
  tenantId: string;
  audiences: string[];
  authorityHost: string;
  trustAppServicePrincipal: boolean;
}

export interface BrokerConfig {
  keyVaultUrl: string;
  profiles: TokenProfile[];
  defaultProfile: string;
  renewal: {
    /** NCRONTAB (6 fields, UTC) for the timer function. */
    schedule: string;
    /** Renew when less than this share of the token's lifetime is left. */
    renewWhenRemainingRatio: number;
  };
  /** Undefined when CALLER_TENANT_ID is unset: the HTTP function then refuses every caller. */
  callers?: CallerAuthConfig;
  /** Key Vault signs this instance may spend on customer grants. */
  signBudget?: SignBudget;
  /** Digdir's self-service admin client; undefined (off) unless SELF_SERVICE_CLIENT_ID is set. */
  selfService?: SelfServiceConfig;
}
