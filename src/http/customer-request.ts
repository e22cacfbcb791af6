/**
 * The per-customer part of GET /api/token/{profile}?customer=<orgno>[&external_ref=<ref>]
 * (README "Per-customer tokens"): strict parsing of the query, and authorisation by role. Pure.
 */
import type { Caller } from "../auth/index.js";
import type { TokenProfile } from "../config/domain.js";
import type { CustomerRequest } from "../customers/index.js";
import { EXTERNAL_REF_EXPECTED, isExternalRef, isOrgNumber, ORG_NUMBER_EXPECTED } from "../rules.js";

/** Only the query parameters a token request reads. */
export interface QuerySource {
  getAll(name: string): string[];
  /** Parameters in all (URLSearchParams has it): an empty query is answered without a look-up. */
  readonly size?: number;
}

const NO_CUSTOMER: CustomerQuery = Object.freeze({ kind: "none" });

export type CustomerQuery =
  | { kind: "none" }
  | { kind: "customer"; request: CustomerRequest }
  /** 400 invalid_request; the description never repeats the value (it may be anything). */
  | { kind: "invalid"; description: string };

export function parseCustomerQuery(query: QuerySource | undefined): CustomerQuery {
  if (!query || query.size === 0) return NO_CUSTOMER;
  const customers = query.getAll("customer");
  const refs = query.getAll("external_ref");
  if (customers.length === 0) {
    return refs.length === 0 ? NO_CUSTOMER : { kind: "invalid", description: "external_ref is only allowed with customer." };
  }
  if (customers.length > 1 || refs.length > 1) return { kind: "invalid", description: "customer and external_ref may each be given once." };
  const customer = customers[0]!;
  if (!isOrgNumber(customer)) return { kind: "invalid", description: `customer must be ${ORG_NUMBER_EXPECTED}.` };
  if (refs.length === 0) return { kind: "customer", request: { customer } };
  const externalRef = refs[0]!;
  if (!isExternalRef(externalRef)) {
    return {
      kind: "invalid",
      description: `external_ref must be ${EXTERNAL_REF_EXPECTED}.`,
    };
  }
  return { kind: "customer", request: { customer, externalRef } };
}

/** Why a customer request may not go on, or undefined when it may. */
export type CustomerRefusal =
  | { status: 400; reason: "no_customer_tokens" | "external_ref_not_supported"; description: string }
  | { status: 403; reason: "missing_customer_role" | "customer_not_allowed"; description: string };

/**
 * `Token.<profile>` (the profile's role) allows every customer the profile allows;
 * `Token.<profile>.<orgno>` allows that customer only. The caller's roles are checked before the
 * profile's list, so a caller without any role learns nothing about which customers exist.
 */
export function checkCustomerRequest(caller: Caller, profile: TokenProfile, request: CustomerRequest): CustomerRefusal | undefined {
  const policy = profile.customers;
  if (!policy) return { status: 400, reason: "no_customer_tokens", description: "This token profile serves no customer tokens." };
  if (request.externalRef !== undefined && policy.claim !== "systemuser") {
    return { status: 400, reason: "external_ref_not_supported", description: "external_ref applies only to system-user profiles." };
  }
  const roles = caller.roles;
  if (!roles.includes(profile.role) && !roles.includes(`${profile.role}.${request.customer}`)) {
    return { status: 403, reason: "missing_customer_role", description: "The caller lacks the app role for this customer." };
  }
  if (policy.allowed !== "*" && !policy.allowed.has(request.customer)) {
    return { status: 403, reason: "customer_not_allowed", description: "This token profile does not serve that customer." };
  }
  return undefined;
}
