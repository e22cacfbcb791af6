/**
 * The managed identities of one App Service / Azure Functions app and the token endpoint the
 * platform runs for it (api-version 2019-08-01): what `@azure/identity`'s ManagedIdentityCredential
 * calls, through MSAL's App Service source, when IDENTITY_ENDPOINT and IDENTITY_HEADER are set:
 *
 *   GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=<resource>[&client_id=<user-assigned>]
 *   X-IDENTITY-HEADER: {IDENTITY_HEADER}
 *   → 200 {"access_token","expires_on" (epoch seconds, string),"resource","token_type":"Bearer","client_id"}
 *
 * Decides requests and shapes the token's claims; knows nothing about HTTP or signing.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import type { EntraDirectory, ResourceRegistration } from "./directory.js";

export const APP_SERVICE_MSI_API_VERSION = "2019-08-01";
/** Managed identity tokens live a day (Entra's fixed lifetime for them). */
export const MANAGED_IDENTITY_TOKEN_LIFETIME_SECONDS = 24 * 60 * 60;
/** Entra dates `iat`/`nbf` five minutes back, for clock skew; real MI tokens show it too. */
const BACKDATE_SECONDS = 300;
/** The query parameters that name a user-assigned identity; App Service takes at most one. */
const IDENTITY_SELECTORS = ["client_id", "object_id", "principal_id", "mi_res_id"] as const;
/** The sandbox app's Azure resource coordinates, for `xms_mirid`. */
const SUBSCRIPTION_ID = "6c1f4d2e-8a3b-4c5d-9e7f-0a1b2c3d4e5f";
const RESOURCE_GROUP = "rg-maskinporten-broker";
const APP_NAME = "func-maskinporten-broker";

export interface ManagedIdentityOptions {
  /**
   * A user-assigned identity, selected by `client_id` (or `object_id`/`principal_id`/`mi_res_id`).
   * Default false: the app's system-assigned identity, which answers requests that name none. An
   * app has at most one system-assigned identity and any number of user-assigned ones.
   */
  userAssigned?: boolean;
  /** The identity's application (client) id; generated when absent. */
  clientId?: string;
  /** Its service principal's object id (`oid`, `sub`); generated when absent. */
  objectId?: string;
  /** A user-assigned identity's resource name (in `xms_mirid`); default `id-<client id prefix>`. */
  name?: string;
  /** App roles assigned to the identity, per resource (keyed by app id or Application ID URI). */
  roles?: Record<string, string[]>;
}

export interface ManagedIdentityEnvironment {
  IDENTITY_ENDPOINT: string;
  IDENTITY_HEADER: string;
}

export interface EnabledManagedIdentity {
  kind: "system-assigned" | "user-assigned";
  clientId: string;
  objectId: string;
  /** The identity's Azure resource id: what tokens carry in `xms_mirid`. */
  resourceId: string;
  /** What the platform puts in the app's environment (the same for all of its identities). */
  env: ManagedIdentityEnvironment;
}

interface IdentityRecord extends Omit<EnabledManagedIdentity, "env"> {
  roles: Record<string, string[]>;
}

export interface ManagedIdentityGrant {
  identity: Omit<EnabledManagedIdentity, "env">;
  resource: Required<ResourceRegistration>;
  /** The `resource` exactly as requested: v1 tokens carry it as `aud`, the response echoes it. */
  requestedResource: string;
  roles: string[];
}

/**
 * A refusal by the token endpoint, in its own error shape (not Entra's):
 * `{"statusCode":400,"message":"Unable to load the proper Managed Identity.","correlationId":"…"}`.
 */
export class ManagedIdentityError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = "ManagedIdentityError";
    this.status = status;
  }

  body(correlationId: string): { statusCode: number; message: string; correlationId: string } {
    return { statusCode: this.status, message: this.message, correlationId };
  }
}

/** Real App Service wording for an identity it does not have (seen in customer logs). */
const UNKNOWN_IDENTITY = "Unable to load the proper Managed Identity.";

export class AppServiceManagedIdentities {
  readonly #directory: EntraDirectory;
  readonly #endpoint: string;
  // Like the platform: one secret per app, compared as digests (equal length, nothing kept in clear).
  readonly #header = randomUUID();
  readonly #headerDigest = digest(this.#header);
  readonly #identities: IdentityRecord[] = [];

  constructor(directory: EntraDirectory, endpoint: string) {
    this.#directory = directory;
    this.#endpoint = endpoint;
  }

  get env(): ManagedIdentityEnvironment {
    return { IDENTITY_ENDPOINT: this.#endpoint, IDENTITY_HEADER: this.#header };
  }

  enable(options: ManagedIdentityOptions = {}): EnabledManagedIdentity {
    const userAssigned = options.userAssigned ?? false;
    if (!userAssigned && this.#identities.some((identity) => identity.kind === "system-assigned")) {
      throw new Error("The app already has a system-assigned identity; enable more with { userAssigned: true }.");
    }
    const clientId = options.clientId ?? randomUUID();
    if (this.#identities.some((identity) => identity.clientId.toLowerCase() === clientId.toLowerCase())) {
      throw new Error(`A managed identity with client id ${clientId} is already enabled.`);
    }
    const providers = `/subscriptions/${SUBSCRIPTION_ID}/resourcegroups/${RESOURCE_GROUP}/providers`;
    const record: IdentityRecord = {
      kind: userAssigned ? "user-assigned" : "system-assigned",
      clientId,
      objectId: options.objectId ?? randomUUID(),
      resourceId: userAssigned
        ? `${providers}/Microsoft.ManagedIdentity/userAssignedIdentities/${options.name ?? `id-${clientId.slice(0, 8)}`}`
        : `${providers}/Microsoft.Web/sites/${APP_NAME}`,
      roles: structuredClone(options.roles ?? {}),
    };
    this.#identities.push(record);
    return { ...withoutRoles(record), env: this.env };
  }

  /** Checks a token request in the platform's order: the SSRF header first, then the query. */
  grant(request: { identityHeader: string | undefined; query: URLSearchParams }): ManagedIdentityGrant {
    if (request.identityHeader === undefined || request.identityHeader === "") {
      throw new ManagedIdentityError(401, "The request has no X-IDENTITY-HEADER header; send the value of IDENTITY_HEADER in it.");
    }
    if (!timingSafeEqual(digest(request.identityHeader), this.#headerDigest)) {
      throw new ManagedIdentityError(401, "The X-IDENTITY-HEADER header does not match this app's IDENTITY_HEADER.");
    }
    const apiVersion = request.query.get("api-version");
    if (apiVersion !== APP_SERVICE_MSI_API_VERSION) {
      throw new ManagedIdentityError(
        400,
        apiVersion === null
          ? `The api-version query parameter is required; use ${APP_SERVICE_MSI_API_VERSION}.`
          : `The api-version '${apiVersion.slice(0, 40)}' is not supported; use ${APP_SERVICE_MSI_API_VERSION}.`,
      );
    }
    const requestedResource = request.query.get("resource");
    if (requestedResource === null || requestedResource === "") {
      throw new ManagedIdentityError(400, "The resource query parameter is required.");
    }
    const identity = this.#select(request.query);
    // Entra resolves `https://vault.azure.net/` to Key Vault too, but v1 tokens keep the slash in
    // `aud` (which Key Vault then refuses: AKV10022), so it is tolerated here and echoed below.
    const resource = this.#directory.findResource(requestedResource) ?? this.#directory.findResource(requestedResource.replace(/\/$/, ""));
    if (resource === undefined) {
      // The platform passes Entra's refusal on as a 400 of its own shape.
      throw new ManagedIdentityError(400, this.#directory.unknownResource(requestedResource).message);
    }
    return { identity: withoutRoles(identity), resource, requestedResource, roles: this.#directory.rolesOn(resource, identity.roles) };
  }

  #select(query: URLSearchParams): IdentityRecord {
    const given = IDENTITY_SELECTORS.filter((name) => query.has(name));
    if (given.length > 1) {
      throw new ManagedIdentityError(400, `Only one of ${IDENTITY_SELECTORS.join(", ")} may be given; got ${given.join(" and ")}.`);
    }
    const selector = given[0];
    const wanted = selector === undefined ? undefined : (query.get(selector) ?? "").toLowerCase();
    const identity = this.#identities.find((candidate) => {
      if (wanted === undefined) return candidate.kind === "system-assigned";
      if (selector === "client_id") return candidate.clientId.toLowerCase() === wanted;
      if (selector === "mi_res_id") return candidate.resourceId.toLowerCase() === wanted;
      return candidate.objectId.toLowerCase() === wanted; // object_id, or its alias principal_id
    });
    if (identity === undefined) throw new ManagedIdentityError(400, UNKNOWN_IDENTITY);
    return identity;
  }
}

/**
 * The claims of a v1.0 app-only token as Entra issues it to a managed identity for Key Vault
 * (Key Vault, like most first-party resources, takes v1.0 tokens): `aud` = the resource as
 * requested, `appidacr: "2"` (the identity proves itself with a certificate), `xms_mirid` = the
 * identity's Azure resource id. `aio`, `rh`, `uti` are opaque in Entra and random here.
 */
export function managedIdentityTokenClaims(
  grant: ManagedIdentityGrant,
  context: { v1Issuer: string; v2?: { issuer: string; resources: readonly string[] }; tenantId: string; nowSeconds: number },
): Record<string, unknown> {
  const v1 = managedIdentityV1Claims(grant, context);
  if (!context.v2?.resources.includes(grant.requestedResource)) return v1;
  // A resource whose app registration asks for v2.0 tokens: v2 issuer, azp/azpacr for appid/appidacr.
  const { appid, appidacr, idp: _idp, ...rest } = v1;
  return { ...rest, iss: context.v2.issuer, azp: appid, azpacr: appidacr, ver: "2.0" };
}

function managedIdentityV1Claims(
  grant: ManagedIdentityGrant,
  context: { v1Issuer: string; tenantId: string; nowSeconds: number },
): Record<string, unknown> {
  const { identity } = grant;
  return {
    aud: grant.requestedResource,
    iss: context.v1Issuer,
    iat: context.nowSeconds - BACKDATE_SECONDS,
    nbf: context.nowSeconds - BACKDATE_SECONDS,
    exp: context.nowSeconds + MANAGED_IDENTITY_TOKEN_LIFETIME_SECONDS,
    aio: opaque(40),
    appid: identity.clientId,
    appidacr: "2",
    idp: context.v1Issuer,
    idtyp: "app",
    oid: identity.objectId,
    rh: `0.${opaque(60)}.`,
    ...(grant.roles.length > 0 ? { roles: grant.roles } : {}),
    sub: identity.objectId,
    tid: context.tenantId,
    uti: opaque(22),
    ver: "1.0",
    xms_mirid: identity.resourceId,
  };
}

function withoutRoles(record: IdentityRecord): Omit<EnabledManagedIdentity, "env"> {
  return { kind: record.kind, clientId: record.clientId, objectId: record.objectId, resourceId: record.resourceId };
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value, "utf8").digest();
}

function opaque(length: number): string {
  return randomBytes(Math.ceil((length * 3) / 4))
    .toString("base64url")
    .slice(0, length);
}
