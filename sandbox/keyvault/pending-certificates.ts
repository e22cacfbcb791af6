/**
 * Certificates whose key is made in the vault, as Key Vault does them for an external CA
 * (issuer "Unknown"): `POST /certificates/{n}/create` makes the key and a CSR and answers 202 with
 * the pending operation; `GET|PATCH|DELETE /certificates/{n}/pending` read, cancel and drop it;
 * `POST /certificates/{n}/pending/merge` takes the issued chain (`x5c`, leaf first) and answers 201
 * with the certificate; `GET /certificates/{n}/versions` lists versions. Shapes follow the REST
 * reference and "Monitor and manage certificate creation" (learn.microsoft.com); the wording of
 * the errors that page does not show is ours (see the README's "Known limits").
 *
 * The private key is generated here and never leaves: no response carries it, and the
 * certificate's secret holds it only when the policy says exportable.
 */
import { createPublicKey, generateKeyPairSync, randomBytes, X509Certificate, type KeyObject } from "node:crypto";
import forge from "node-forge";
import { RestReply } from "./rest-reply.js";
import { certificateBundle } from "./rest-shapes.js";
import type { RequestContext, Route } from "./routes.js";
import { badParameter, notFound, VaultError } from "./vault-error.js";
import {
  assertValidName,
  certificateSecretValue,
  isPendingCertificate,
  newVersionId,
  type CertificateVersion,
  type PendingCertificateVersion,
  type VaultState,
} from "./vault-state.js";

/** Key Vault RBAC's data action and scope for a route (the shape of rbac.ts's DataActionRequest). */
export interface RouteAccess {
  dataAction: string;
  scope: string;
}
export type PendingCertificateRoute = Route & { access: RouteAccess };

interface PendingOperation {
  name: string;
  version: string;
  requestId: string;
  status: "inProgress" | "completed";
  cancellationRequested: boolean;
  privateKey: KeyObject;
  csrDer: Buffer;
}

const KEY_SIZES = [2048, 3072, 4096];
const STATUS_DETAILS = "Pending certificate created. Please Perform Merge to complete the request.";
const operations = new WeakMap<VaultState, Map<string, PendingOperation>>();

function operationsOf(state: VaultState): Map<string, PendingOperation> {
  let map = operations.get(state);
  if (!map) operations.set(state, (map = new Map()));
  return map;
}

const access = (name: string, action: string): RouteAccess => ({
  dataAction: `Microsoft.KeyVault/vaults/certificates/${action}`,
  scope: `/certificates/${name}`,
});

export function matchPendingCertificateRoute(method: string, pathname: string): PendingCertificateRoute | undefined {
  const [, , name, second, third, ...rest] = pathname.split("/");
  if (!name || rest.length > 0) return undefined;
  if (second === "create" && third === undefined && method === "POST") {
    return { kind: "certificateCreate", name, access: access(name, "create/action"), handle: (c) => createCertificate(c, name) };
  }
  if (second === "versions" && third === undefined && method === "GET") {
    return { kind: "certificateList", name, access: access(name, "read"), handle: (c) => listVersions(c, name) };
  }
  if (second !== "pending") return undefined;
  if (third === "merge" && method === "POST") {
    return { kind: "certificateMerge", name, access: access(name, "create/action"), handle: (c) => mergeCertificate(c, name) };
  }
  if (third !== undefined) return undefined;
  if (method === "GET")
    return {
      kind: "certificateOperation",
      name,
      access: access(name, "read"),
      handle: (c) => operationJson(c.state, pendingOf(c.state, name)),
    };
  if (method === "PATCH")
    return { kind: "certificateOperation", name, access: access(name, "update/action"), handle: (c) => cancelOperation(c, name) };
  if (method === "DELETE")
    return { kind: "certificateOperation", name, access: access(name, "update/action"), handle: (c) => deleteOperation(c, name) };
  return undefined;
}

function pendingOf(state: VaultState, name: string): PendingOperation {
  const operation = operationsOf(state).get(name.toLowerCase());
  if (!operation) {
    throw new VaultError(404, "PendingCertificateNotFound", `Pending certificate not found: ${name}`);
  }
  return operation;
}

function createCertificate(context: RequestContext, name: string): RestReply {
  assertValidName(name);
  const state = context.state;
  const body = object(context.body(), "request body");
  const policy = object(body.policy ?? {}, "policy");
  const issuer = object(policy.issuer ?? {}, "policy.issuer");
  const issuerName = issuer.name ?? "Unknown";
  if (issuerName !== "Unknown") {
    throw badParameter(
      `The sandbox Key Vault creates certificates for an external CA only (issuer "Unknown"), not "${String(issuerName).slice(0, 40)}".`,
    );
  }
  const keyProps = object(policy.key_props ?? {}, "policy.key_props");
  const keyType = keyProps.kty ?? "RSA";
  if (keyType !== "RSA" && keyType !== "RSA-HSM")
    throw badParameter(`Key type ${String(keyType).slice(0, 20)} is not supported by the sandbox Key Vault (RSA, RSA-HSM).`);
  const keySize = keyProps.key_size ?? 2048;
  if (typeof keySize !== "number" || !KEY_SIZES.includes(keySize))
    throw badParameter("Property key_size has invalid value: 2048, 3072 or 4096.");
  // Key Vault's default for a created certificate is an exportable key.
  const exportable = keyProps.exportable ?? true;
  if (typeof exportable !== "boolean") throw badParameter("Property exportable must be a boolean.");
  const x509Props = object(policy.x509_props ?? {}, "policy.x509_props");
  if (typeof x509Props.subject !== "string" || x509Props.subject.trim() === "") throw badParameter("Property subject is required.");
  const subject = parseSubject(x509Props.subject);
  const keyUsage = stringList(x509Props.key_usage, "key_usage") ?? ["digitalSignature", "keyEncipherment"];
  const ekus = stringList(x509Props.ekus, "ekus") ?? ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"];
  const secretProps = object(policy.secret_props ?? {}, "policy.secret_props");
  const contentType = secretProps.contentType ?? "application/x-pkcs12";
  if (contentType !== "application/x-pkcs12" && contentType !== "application/x-pem-file")
    throw badParameter("Property contentType has invalid value.");

  const latest = state.certificates.versions(name).at(-1);
  if (latest && isPendingCertificate(latest)) {
    throw new VaultError(
      409,
      "Forbidden",
      "A new key vault certificate can not be created or imported while a pending key vault certificate's status is inProgress.",
    );
  }
  if (!latest && (state.secrets.has(name) || state.keys.has(name))) {
    throw new VaultError(409, "Conflict", `A secret or key named ${name} exists and is not managed by a certificate.`);
  }

  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: keySize, publicExponent: 0x10001 });
  const csrDer = certificationRequest(privateKey, subject, keyUsage, ekus);
  const version = newVersionId();
  const displayName = state.certificates.versions(name)[0]?.name ?? name;
  const key = state.importKey(displayName, privateKey, { version, managed: true });
  key.keyOps = keyOpsFor(keyUsage);
  const created = state.nowSeconds();
  const pending: PendingCertificateVersion = {
    kind: "pending",
    name: displayName,
    version,
    policy: {
      key_props: { exportable, kty: keyType, key_size: keySize, reuse_key: keyProps.reuse_key ?? false },
      secret_props: { contentType },
      x509_props: {
        subject: x509Props.subject,
        ekus,
        key_usage: keyUsage,
        validity_months: x509Props.validity_months ?? 12,
        basic_constraints: { ca: false },
      },
      ...(Array.isArray(policy.lifetime_actions) ? { lifetime_actions: policy.lifetime_actions } : {}),
      issuer: { name: "Unknown" },
      attributes: { enabled: true, created, updated: created },
    },
    csrDer,
    exportable,
    secretContentType: contentType,
    ...(isStringMap(body.tags) ? { tags: { ...body.tags } } : {}),
    attributes: { enabled: false, created, updated: created },
  };
  state.certificates.add(pending);
  const operation: PendingOperation = {
    name: displayName,
    version,
    requestId: randomBytes(16).toString("hex"),
    status: "inProgress",
    cancellationRequested: false,
    privateKey,
    csrDer,
  };
  operationsOf(state).set(name.toLowerCase(), operation);
  const location = `${state.id("certificates", displayName)}/pending?api-version=${context.query.get("api-version") ?? ""}&request_id=${operation.requestId}`;
  return new RestReply(202, operationJson(state, operation), { Location: location, "Retry-After": "10" });
}

function operationJson(state: VaultState, operation: PendingOperation): Record<string, unknown> {
  return {
    id: `${state.id("certificates", operation.name)}/pending`,
    issuer: { name: "Unknown" },
    csr: operation.csrDer.toString("base64"),
    cancellation_requested: operation.cancellationRequested,
    status: operation.status,
    ...(operation.status === "inProgress" ? { status_details: STATUS_DETAILS } : {}),
    request_id: operation.requestId,
    ...(operation.status === "completed" ? { target: state.id("certificates", operation.name) } : {}),
  };
}

function cancelOperation(context: RequestContext, name: string): unknown {
  const operation = pendingOf(context.state, name);
  const body = object(context.body(), "request body");
  if (body.cancellation_requested !== true) throw badParameter("Property cancellation_requested must be true.");
  if (operation.status !== "inProgress") throw badParameter(`The pending certificate ${name} is not in progress: it cannot be cancelled.`);
  operation.cancellationRequested = true;
  return operationJson(context.state, operation);
}

/** Drops the operation; an unmerged version and its key go with it ("the certificate is no longer created"). */
function deleteOperation(context: RequestContext, name: string): unknown {
  const state = context.state;
  const operation = pendingOf(state, name);
  operationsOf(state).delete(name.toLowerCase());
  if (operation.status === "inProgress") {
    state.certificates.remove(operation.name, operation.version);
    state.keys.remove(operation.name, operation.version);
  }
  return operationJson(state, operation);
}

function mergeCertificate(context: RequestContext, name: string): RestReply {
  const state = context.state;
  const operation = operationsOf(state).get(name.toLowerCase());
  if (!operation || operation.status !== "inProgress") {
    if (!state.certificates.has(name)) throw notFound("certificate", name);
    throw new VaultError(404, "PendingCertificateNotFound", `Pending certificate not found: ${name}`);
  }
  const body = object(context.body(), "request body");
  const chain = parseX5c(body.x5c);
  const leaf = chain[0]!;
  const pendingPublic = createPublicKey(operation.privateKey).export({ type: "spki", format: "der" });
  if (Buffer.compare(leaf.x509.publicKey.export({ type: "spki", format: "der" }), pendingPublic) !== 0) {
    throw badParameter("The public key of the end-entity certificate in x5c does not match the key of the pending certificate.");
  }
  const pending = state.getCertificate(operation.name, operation.version);
  if (!isPendingCertificate(pending)) throw new Error("pending version vanished");
  const notBefore = Math.floor(Date.parse(leaf.x509.validFrom) / 1000);
  const expires = Math.floor(Date.parse(leaf.x509.validTo) / 1000);
  const now = state.nowSeconds();
  const issued: CertificateVersion = {
    kind: "issued",
    name: pending.name,
    version: pending.version,
    der: leaf.der,
    chainDer: chain.slice(1).map(({ der }) => der),
    x509: leaf.x509,
    exportable: pending.exportable,
    secretContentType: pending.secretContentType,
    ...(pending.tags !== undefined ? { tags: pending.tags } : {}),
    attributes: { enabled: true, notBefore, expires, created: pending.attributes.created, updated: now },
  };
  state.certificates.replace(issued);
  const key = state.keys.find(pending.name, pending.version);
  if (key) Object.assign(key.attributes, { notBefore, expires, updated: now });
  state.secrets.add({
    name: pending.name,
    version: pending.version,
    value: certificateSecretValue(issued, pending.exportable ? operation.privateKey : undefined),
    contentType: pending.secretContentType,
    ...(pending.tags !== undefined ? { tags: { ...pending.tags } } : {}),
    attributes: { enabled: true, notBefore, expires, created: now, updated: now },
    managed: true,
    keyId: state.id("keys", pending.name, pending.version),
  });
  operation.status = "completed";
  return new RestReply(201, certificateBundle(state, issued, { withPolicy: true }), { Location: state.id("certificates", pending.name) });
}

function listVersions(context: RequestContext, name: string): unknown {
  const state = context.state;
  const value = state.certificates.versions(name).map((certificate) => {
    const bundle = certificateBundle(state, certificate, { withPolicy: false });
    return {
      id: bundle.id,
      ...(bundle.x5t ? { x5t: bundle.x5t } : {}),
      attributes: bundle.attributes,
      ...(bundle.tags ? { tags: bundle.tags } : {}),
    };
  });
  return { value, nextLink: null };
}

/** Key Vault's own wording for a bad x5c (seen by users merging a PKCS#7 block). */
function parseX5c(value: unknown): { der: Buffer; x509: X509Certificate }[] {
  const invalid = () => badParameter("Property x5c has invalid value X5C must has at least one valid item");
  if (!Array.isArray(value) || value.length === 0) throw invalid();
  return value.map((entry) => {
    if (typeof entry !== "string") throw invalid();
    const der = Buffer.from(entry, "base64");
    try {
      return { der, x509: new X509Certificate(der) };
    } catch {
      throw invalid();
    }
  });
}

const SUBJECT_TYPES: Record<string, string> = {
  CN: "2.5.4.3",
  SERIALNUMBER: "2.5.4.5",
  C: "2.5.4.6",
  L: "2.5.4.7",
  S: "2.5.4.8",
  ST: "2.5.4.8",
  O: "2.5.4.10",
  OU: "2.5.4.11",
  "OID.2.5.4.97": "2.5.4.97",
  ORGANIZATIONIDENTIFIER: "2.5.4.97",
  E: "1.2.840.113549.1.9.1",
};

/** `CN=x, O="a, b", SERIALNUMBER=…, C=NO` → attributes in the order written. */
function parseSubject(subject: string): { type: string; value: string }[] {
  const attributes: { type: string; value: string }[] = [];
  const pattern = /\s*([A-Za-z0-9.]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,]*)\s*(?:,|$)/y;
  let match: RegExpExecArray | null;
  while (pattern.lastIndex < subject.length && (match = pattern.exec(subject)) !== null) {
    const type = SUBJECT_TYPES[match[1]!.toUpperCase()];
    if (!type) throw badParameter(`Property subject has an attribute the sandbox Key Vault does not know: ${match[1]!.slice(0, 30)}`);
    const raw = match[2]!.trim();
    attributes.push({ type, value: raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, "$1") : raw });
  }
  if (attributes.length === 0 || pattern.lastIndex < subject.length)
    throw badParameter("Property subject is not a valid X.500 distinguished name.");
  // RFC 4514 writes the most specific RDN first; the encoded name starts with the least (C=NO).
  return attributes.reverse();
}

function certificationRequest(
  privateKey: KeyObject,
  subject: { type: string; value: string }[],
  keyUsage: string[],
  ekus: string[],
): Buffer {
  const forgeKey = forge.pki.privateKeyFromPem(privateKey.export({ type: "pkcs8", format: "pem" }).toString()) as forge.pki.rsa.PrivateKey;
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e);
  csr.setSubject(
    subject.map(({ type, value }) =>
      type === "2.5.4.6"
        ? { type, value }
        : ({ type, value, valueTagClass: forge.asn1.Type.UTF8 } as unknown as forge.pki.CertificateField),
    ),
  );
  const usage = Object.fromEntries(keyUsage.map((name) => [name, true]));
  csr.setAttributes([
    {
      name: "extensionRequest",
      extensions: [
        { name: "keyUsage", critical: true, ...usage },
        // forge wants the names it knows (its oid map goes both ways) and OIDs only for the rest.
        ...(ekus.length > 0
          ? [
              {
                name: "extKeyUsage",
                ...Object.fromEntries(ekus.map((oid) => [(forge.pki.oids as Record<string, string>)[oid] ?? oid, true])),
              },
            ]
          : []),
        { name: "basicConstraints", cA: false },
      ],
    },
  ]);
  csr.sign(forgeKey, forge.md.sha256.create());
  return Buffer.from(forge.asn1.toDer(forge.pki.certificationRequestToAsn1(csr)).getBytes(), "binary");
}

/** Key Vault derives key_ops from key usage. */
function keyOpsFor(keyUsage: string[]): string[] {
  const ops = new Set<string>();
  if (keyUsage.includes("digitalSignature") || keyUsage.includes("nonRepudiation")) ops.add("sign").add("verify");
  if (keyUsage.includes("keyEncipherment")) ops.add("wrapKey").add("unwrapKey");
  if (keyUsage.includes("dataEncipherment")) ops.add("encrypt").add("decrypt");
  return [...ops];
}

function object(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw badParameter(`The ${what} must be a JSON object.`);
  return value as Record<string, unknown>;
}

function stringList(value: unknown, what: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !value.every((entry) => typeof entry === "string"))
    throw badParameter(`Property ${what} must be an array of strings.`);
  return value as string[];
}

function isStringMap(value: unknown): value is Record<string, string> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === "string");
}
