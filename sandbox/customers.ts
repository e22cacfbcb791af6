/**
 * The sandbox's per-customer profiles: a supplier acting for customers by `consumer_org`, and an
 * Altinn system user per customer. The Maskinporten stand-in knows which customer delegated what
 * and which system users exist; one customer of each profile has neither, so a refusal (403
 * access_denied) can be seen too.
 */
import type { ClientRegistration } from "./maskinporten/index.js";

export interface SandboxCustomer {
  customer: string;
  externalRef?: string;
}

interface CustomerEntry extends SandboxCustomer {
  /** Whether Maskinporten (the stand-in) accepts this customer: delegation or system user exists. */
  granted: boolean;
}

interface CustomerProfile {
  name: string;
  clientId: string;
  scopes: readonly string[];
  claim: "consumer_org" | "systemuser";
  customers: readonly CustomerEntry[];
}

// Synthetic org numbers with valid Brreg check digits (not real organisations).
export const CUSTOMER_PROFILES = [
  {
    name: "supplier",
    clientId: "sandbox-supplier-client",
    scopes: ["sandbox:regnskap.read"],
    claim: "consumer_org",
    customers: [
      { customer: "310000019", granted: true },
      { customer: "310000027", granted: true },
      { customer: "310000035", granted: true },
      { customer: "310000043", granted: false },
    ],
  },
  {
    name: "systemuser",
    clientId: "sandbox-systemuser-client",
    scopes: ["sandbox:systemuser.read"],
    claim: "systemuser",
    customers: [
      { customer: "310000051", granted: true },
      { customer: "310000078", externalRef: "kunde-78", granted: true },
      { customer: "310000086", granted: false },
    ],
  },
] as const satisfies readonly CustomerProfile[];

function isCustomerProfile(profile: object): profile is CustomerProfile {
  return "customers" in profile;
}

/** What the stand-in must know about this profile's customers. */
export function customerRegistration(profile: object): Partial<ClientRegistration> {
  if (!isCustomerProfile(profile)) return {};
  const granted = profile.customers.filter((c) => c.granted);
  if (profile.claim === "consumer_org") {
    return { delegations: Object.fromEntries(granted.map((c) => [c.customer, [...profile.scopes]])) };
  }
  return {
    systemUsers: granted.map((c) => ({
      customer: c.customer,
      systemId: `991825827_${profile.name}`,
      ...(c.externalRef ? { externalRef: c.externalRef } : {}),
    })),
  };
}

/** The profile's customer settings: every listed customer (refused ones too) is allowed. */
export function customerSettings(profile: object, prefix: string): Record<string, string> {
  if (!isCustomerProfile(profile)) return {};
  return {
    [`${prefix}CUSTOMERS`]: profile.customers.map((c) => c.customer).join(","),
    [`${prefix}CUSTOMER_CLAIM`]: profile.claim,
  };
}
