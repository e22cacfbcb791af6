/**
 * What a customer request changes in a profile's grant, and the cache key naming every input that
 * shapes it within one profile's cache (the profile's own settings are fixed for a runtime). The
 * token's fingerprint covers the same inputs, since it digests the profile as profileForCustomer
 * shapes it.
 */
import type { TokenProfile } from "../config/domain.js";
import type { CustomerClaim } from "./customer-settings.js";

export interface CustomerRequest {
  customer: string;
  externalRef?: string;
}

/** Every grant-shaping input a customer adds to the profile's own settings. */
export interface CustomerGrantShape {
  claim: CustomerClaim;
  customer: string;
  externalRef: string | null;
}

export function customerGrantShape(claim: CustomerClaim, request: CustomerRequest): CustomerGrantShape {
  return { claim, customer: request.customer, externalRef: request.externalRef ?? null };
}

/** Unambiguous: org numbers are digits and externalRef has no control characters. */
export function customerCacheKey(shape: CustomerGrantShape): string {
  return shape.externalRef === null ? `${shape.claim}\n${shape.customer}` : `${shape.claim}\n${shape.customer}\n${shape.externalRef}`;
}

/** The profile as the grant for this customer needs it: consumer_org, or one system-user detail. */
export function profileForCustomer(profile: TokenProfile, shape: CustomerGrantShape): TokenProfile {
  if (shape.claim === "consumer_org") return { ...profile, consumerOrg: shape.customer };
  return {
    ...profile,
    authorizationDetails: [
      {
        type: "urn:altinn:systemuser",
        systemuser_org: { authority: "iso6523-actorid-upis", ID: `0192:${shape.customer}` },
        ...(shape.externalRef !== null ? { externalRef: shape.externalRef } : {}),
      },
    ],
  };
}
