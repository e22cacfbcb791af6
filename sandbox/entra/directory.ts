/**
 * The stand-in's tenant directory: app registrations that expose an API (resources) and client
 * applications with a secret and app roles assigned per resource. Decides client-credentials
 * requests; knows nothing about HTTP.
 */
import { randomUUID, timingSafeEqual, createHash } from "node:crypto";
import { EntraProtocolError } from "./entra-errors.js";

export interface ResourceRegistration {
  /** The API's application (client) id: what v2 tokens carry in `aud`. */
  appId: string;
  /** Application ID URIs, e.g. `api://maskinporten-broker`. */
  identifierUris?: string[];
}

export interface ClientRegistration {
  clientId?: string;
  clientSecret: string;
  /** App roles assigned to the client, per resource (keyed by app id or identifier URI). */
  roles?: Record<string, string[]>;
  /** The client's service principal object id (`oid`, `sub`); generated when absent. */
  objectId?: string;
}

export interface RegisteredClient {
  clientId: string;
  objectId: string;
}

interface ClientRecord {
  clientId: string;
  secretDigest: Buffer;
  objectId: string;
  roles: Record<string, string[]>;
}

export interface ClientCredentialsGrant {
  client: RegisteredClient;
  resource: Required<ResourceRegistration>;
  roles: string[];
}

const DEFAULT_SCOPE_SUFFIX = "/.default";
const OIDC_RESERVED_SCOPES = new Set(["openid", "profile", "offline_access"]);

export class EntraDirectory {
  readonly #tenantId: string;
  readonly #resources: Required<ResourceRegistration>[] = [];
  readonly #clients = new Map<string, ClientRecord>();

  constructor(tenantId: string) {
    this.#tenantId = tenantId;
  }

  registerResource(resource: ResourceRegistration): void {
    this.#resources.push({ appId: resource.appId, identifierUris: [...(resource.identifierUris ?? [])] });
  }

  registerClient(registration: ClientRegistration): RegisteredClient {
    const clientId = registration.clientId ?? randomUUID();
    const record: ClientRecord = {
      clientId,
      secretDigest: digest(registration.clientSecret),
      objectId: registration.objectId ?? randomUUID(),
      roles: structuredClone(registration.roles ?? {}),
    };
    this.#clients.set(clientId.toLowerCase(), record);
    return { clientId, objectId: record.objectId };
  }

  /** Checks a client-credentials request as Entra would and says what the token must carry. */
  grantClientCredentials(request: { clientId: string; clientSecret?: string; scope: string }): ClientCredentialsGrant {
    const record = this.#clients.get(request.clientId.toLowerCase());
    if (record === undefined) {
      throw new EntraProtocolError(
        400,
        "unauthorized_client",
        700016,
        `Application with identifier '${request.clientId}' was not found in the directory '${this.#tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
      );
    }
    if (request.clientSecret === undefined || request.clientSecret === "") {
      throw new EntraProtocolError(
        401,
        "invalid_client",
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
      );
    }
    if (!timingSafeEqual(digest(request.clientSecret), record.secretDigest)) {
      throw new EntraProtocolError(
        401,
        "invalid_client",
        7000215,
        `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${record.clientId}'.`,
      );
    }

    // Entra ignores the OIDC scopes beside a /.default (MSAL for Java and Go add them to every request).
    const scopes = request.scope.split(/\s+/).filter((scope) => scope !== "" && !OIDC_RESERVED_SCOPES.has(scope));
    const defaultScopes = scopes.filter((scope) => scope.endsWith(DEFAULT_SCOPE_SUFFIX));
    if (scopes.length !== 1 || defaultScopes.length !== 1) {
      throw new EntraProtocolError(
        400,
        "invalid_scope",
        1002012,
        `The provided value for scope ${request.scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
      );
    }
    const identifier = scopes[0]!.slice(0, -DEFAULT_SCOPE_SUFFIX.length);
    const resource = this.#findResource(identifier);
    if (resource === undefined) throw this.unknownResource(identifier);

    return { client: { clientId: record.clientId, objectId: record.objectId }, resource, roles: this.rolesOn(resource, record.roles) };
  }

  /** The registered resource an app id or Application ID URI names (case-insensitive). */
  findResource(identifier: string): Required<ResourceRegistration> | undefined {
    return this.#findResource(identifier);
  }

  /** The app roles held on `resource`, from assignments keyed by its app id or any of its URIs. */
  rolesOn(resource: Required<ResourceRegistration>, assignments: Record<string, string[]>): string[] {
    const roles = new Set<string>();
    for (const [key, assigned] of Object.entries(assignments)) {
      if (this.#findResource(key) === resource) assigned.forEach((role) => roles.add(role));
    }
    return [...roles];
  }

  /** AADSTS500011, as Entra words it, for a resource no registration names. */
  unknownResource(identifier: string): EntraProtocolError {
    return new EntraProtocolError(
      400,
      "invalid_resource",
      500011,
      `The resource principal named ${identifier} was not found in the tenant named ${this.#tenantId}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
    );
  }

  #findResource(identifier: string): Required<ResourceRegistration> | undefined {
    const wanted = identifier.toLowerCase();
    return this.#resources.find(
      (resource) => resource.appId.toLowerCase() === wanted || resource.identifierUris.some((uri) => uri.toLowerCase() === wanted),
    );
  }
}

/** Secrets are compared as digests: equal length for timingSafeEqual, and no plain secret kept. */
function digest(secret: string): Buffer {
  return createHash("sha256").update(secret, "utf8").digest();
}
