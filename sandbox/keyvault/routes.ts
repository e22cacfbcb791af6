/**
 * Maps Key Vault REST paths to operation kinds and handlers. The SDK asks for "latest" with an
 * empty version segment (`/secrets/{name}/`), so an empty version means latest everywhere.
 */
import type { OperationKind } from "./operations.js";
import type { DataActionRequest } from "./rbac.js";
import { isDigestSigningAlgorithm, signDigest, hashFor } from "./digest-signing.js";
import { certificateBundle, certificatePolicy, keyBundle, secretBundle, secretItem } from "./rest-shapes.js";
import { matchPendingCertificateRoute } from "./pending-certificates.js";
import { badParameter } from "./vault-error.js";
import type { SecretInput, VaultState } from "./vault-state.js";

export interface RequestContext {
  state: VaultState;
  query: URLSearchParams;
  pathname: string;
  /** The parsed JSON body; throws BadParameter when it is not JSON. */
  body(): unknown;
}

export interface Route {
  kind: OperationKind;
  /** The object name the request is about, for name-scoped faults. */
  name?: string;
  /** What Key Vault RBAC requires for it. */
  access: DataActionRequest;
  handle(context: RequestContext): unknown;
}

const ACTIONS = "Microsoft.KeyVault/vaults/";
const on = (collection: "secrets" | "keys" | "certificates", name: string | undefined, action: string): DataActionRequest => ({
  dataAction: `${ACTIONS}${collection}/${action}`,
  scope: name === undefined ? "/" : `/${collection}/${name}`,
});

/** Key Vault's page size for list operations, and its maximum for `maxresults`. */
const PAGE_SIZE = 25;
/** Key Vault refuses secret values over 25 KiB. */
const MAX_SECRET_VALUE_LENGTH = 25 * 1024;

export function matchRoute(method: string, pathname: string): Route | undefined {
  const [empty, collection, name, second, third, ...rest] = pathname.split("/");
  if (empty !== "" || rest.length > 0) return undefined;

  if (collection === "secrets") {
    if (name === undefined || name === "") {
      return method === "GET" && second === undefined
        ? { kind: "secretList", access: on("secrets", undefined, "readMetadata/action"), handle: listSecrets }
        : undefined;
    }
    if (method === "GET" && second === "versions" && third === undefined) {
      return { kind: "secretList", name, access: on("secrets", name, "readMetadata/action"), handle: (c) => listSecretVersions(c, name) };
    }
    if (third !== undefined) return undefined;
    if (method === "PUT" && second === undefined) {
      return { kind: "secretSet", name, access: on("secrets", name, "setSecret/action"), handle: (c) => setSecret(c, name) };
    }
    if (method === "GET") {
      return {
        kind: "secretGet",
        name,
        access: on("secrets", name, "getSecret/action"),
        handle: (c) => secretBundle(c.state, c.state.getSecret(name, second)),
      };
    }
    if (method === "PATCH" && second) {
      return { kind: "secretUpdate", name, access: on("secrets", name, "update/action"), handle: (c) => updateSecret(c, name, second) };
    }
    return undefined;
  }

  if (collection === "keys" && name) {
    if (method === "GET" && third === undefined) {
      return { kind: "keyGet", name, access: on("keys", name, "read"), handle: (c) => keyBundle(c.state, c.state.getKey(name, second)) };
    }
    if (method === "POST" && third === "sign")
      return { kind: "sign", name, access: on("keys", name, "sign/action"), handle: (c) => sign(c, name, second) };
    return undefined;
  }

  // Create with issuer "Unknown", the pending operation, merge, versions: pending-certificates.ts.
  const pendingCertificateRoute = collection === "certificates" ? matchPendingCertificateRoute(method, pathname) : undefined;
  if (pendingCertificateRoute) return pendingCertificateRoute;

  if (collection === "certificates" && name && method === "GET" && third === undefined) {
    if (second === "policy") {
      return {
        kind: "certificateGet",
        name,
        access: on("certificates", name, "read"),
        handle: (c) => certificatePolicy(c.state, c.state.getCertificate(name, undefined)),
      };
    }
    // Like the service, the policy comes with "latest" only, not with a specific version.
    return {
      kind: "certificateGet",
      name,
      access: on("certificates", name, "read"),
      handle: (c) => certificateBundle(c.state, c.state.getCertificate(name, second), { withPolicy: !second }),
    };
  }
  return undefined;
}

function setSecret(context: RequestContext, name: string): unknown {
  const body = asObject(context.body(), "request body");
  const { value, contentType, tags, attributes } = body;
  if (typeof value !== "string") throw badParameter("Property 'value' is required and must be a string.");
  if (value.length > MAX_SECRET_VALUE_LENGTH) throw badParameter("Secret value is too large: the limit is 25 KB.");
  const input: SecretInput = { value, ...secretProperties({ contentType, tags, attributes }) };
  return secretBundle(context.state, context.state.setSecret(name, input));
}

function updateSecret(context: RequestContext, name: string, version: string): unknown {
  const { contentType, tags, attributes } = asObject(context.body(), "request body");
  return secretBundle(context.state, context.state.updateSecret(name, version, secretProperties({ contentType, tags, attributes })));
}

function secretProperties(input: { contentType: unknown; tags: unknown; attributes: unknown }): Omit<SecretInput, "value"> {
  const result: Omit<SecretInput, "value"> = {};
  if (input.contentType !== undefined && input.contentType !== null) {
    if (typeof input.contentType !== "string") throw badParameter("Property 'contentType' must be a string.");
    result.contentType = input.contentType;
  }
  if (input.tags !== undefined && input.tags !== null) {
    const tags = asObject(input.tags, "tags");
    for (const [key, value] of Object.entries(tags)) {
      if (typeof value !== "string") throw badParameter(`Tag '${key}' must have a string value.`);
    }
    result.tags = tags as Record<string, string>;
  }
  if (input.attributes !== undefined && input.attributes !== null) {
    const { enabled, nbf, exp } = asObject(input.attributes, "attributes");
    if (enabled !== undefined && enabled !== null) {
      if (typeof enabled !== "boolean") throw badParameter("Attribute 'enabled' must be a boolean.");
      result.enabled = enabled;
    }
    if (nbf !== undefined && nbf !== null) result.notBefore = epochSeconds(nbf, "nbf");
    if (exp !== undefined && exp !== null) result.expires = epochSeconds(exp, "exp");
  }
  return result;
}

function listSecrets(context: RequestContext): unknown {
  const latest = context.state.secrets
    .names()
    .map((name) => context.state.secrets.find(name, undefined)!)
    .map((secret) => secretItem(context.state, secret, undefined));
  return page(context, latest);
}

function listSecretVersions(context: RequestContext, name: string): unknown {
  // Like the service: an unknown name lists nothing rather than failing.
  const versions = context.state.secrets.versions(name).map((secret) => secretItem(context.state, secret, secret.version));
  return page(context, versions);
}

/** One page plus `nextLink` (absolute, with `$skiptoken`), as the SDK's pager follows it. */
function page(context: RequestContext, items: unknown[]): { value: unknown[]; nextLink: string | null } {
  const maxResultsParam = context.query.get("maxresults");
  const pageSize = maxResultsParam === null ? PAGE_SIZE : Number(maxResultsParam);
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > PAGE_SIZE) {
    throw badParameter(`Invalid maxresults: must be an integer from 1 to ${PAGE_SIZE}.`);
  }
  const skipToken = context.query.get("$skiptoken");
  const offset = skipToken === null ? 0 : Number(Buffer.from(skipToken, "base64url").toString("utf8"));
  if (!Number.isInteger(offset) || offset < 0) throw badParameter("Invalid $skiptoken.");
  const end = offset + pageSize;
  let nextLink: string | null = null;
  if (end < items.length) {
    const next = new URLSearchParams({
      "api-version": context.query.get("api-version") ?? "",
      $skiptoken: Buffer.from(String(end)).toString("base64url"),
      maxresults: String(pageSize),
    });
    nextLink = `${context.state.vaultUrl}${context.pathname}?${next.toString()}`;
  }
  return { value: items.slice(offset, end), nextLink };
}

function sign(context: RequestContext, name: string, version: string | undefined): unknown {
  const { alg, value } = asObject(context.body(), "request body");
  if (!isDigestSigningAlgorithm(alg)) {
    throw badParameter(
      `Invalid algorithm: ${typeof alg === "string" ? alg.slice(0, 20) : typeof alg}. Supported: RS256, RS384, RS512, PS256, PS384, PS512.`,
    );
  }
  if (typeof value !== "string" || !/^[A-Za-z0-9_-]*$/.test(value)) {
    throw badParameter("Property 'value' must be a base64url-encoded digest.");
  }
  const digest = Buffer.from(value, "base64url");
  const expected = hashFor(alg).length;
  if (digest.length !== expected) {
    throw badParameter(`Invalid digest length for ${alg}: expected ${expected} bytes, got ${digest.length}.`);
  }
  const key = context.state.usableKey(name, version, "sign");
  return {
    kid: context.state.id("keys", key.name, key.version),
    value: signDigest(key.privateKey, alg, digest).toString("base64url"),
  };
}

function asObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw badParameter(`The ${what} must be a JSON object.`);
  }
  return value as Record<string, unknown>;
}

function epochSeconds(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw badParameter(`Attribute '${what}' must be a number of seconds since the epoch.`);
  }
  return Math.floor(value);
}
