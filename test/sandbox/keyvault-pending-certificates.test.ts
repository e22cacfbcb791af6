/**
 * The Key Vault stand-in's pending-certificate protocol at the HTTP level: status codes and
 * headers the SDK relies on (202 + Location for create, 201 for merge), the operation's shape,
 * Key Vault's refusals, versions, and that no answer carries private key material.
 */
import { request } from "node:https";
import { CertificateClient } from "@azure/keyvault-certificates";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueForCsr } from "../../sandbox/enterprise-ca.js";
import { startKeyVaultStandIn, type KeyVaultStandIn } from "../../sandbox/keyvault/index.js";
import { issueEnterpriseCertificate } from "../../sandbox/pki.js";
import { staticCredential } from "../support/credentials.js";

const ORG = "991825827";
const pki = issueEnterpriseCertificate({ organisationNumber: ORG });
let kv: KeyVaultStandIn;
const bodies: string[] = [];

beforeAll(async () => {
  kv = await startKeyVaultStandIn();
});
afterAll(() => kv?.close());

function call(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(`${path}${path.includes("?") ? "&" : "?"}api-version=7.6`, kv.url),
      { method, ca: kv.caPem, headers: { authorization: "Bearer test", "content-type": "application/json" } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          bodies.push(text);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} });
        });
      },
    );
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const policy = (extra: Record<string, unknown> = {}) => ({
  policy: {
    key_props: { kty: "RSA", key_size: 2048, exportable: false, reuse_key: false },
    secret_props: { contentType: "application/x-pem-file" },
    x509_props: { subject: `CN=Rederi AS, O=Rederi AS, SERIALNUMBER=${ORG}, C=NO`, key_usage: ["digitalSignature"] },
    issuer: { name: "Unknown" },
    ...extra,
  },
});

describe("pending certificates in the Key Vault stand-in", () => {
  it("create answers 202 with Location and the operation; the version shows disabled without cer until the merge, which answers 201", async () => {
    const created = await call("POST", "/certificates/shape/create", policy());
    expect(created.status).toBe(202);
    expect(created.headers.location).toMatch(
      new RegExp(`^${kv.vaultUrl}/certificates/shape/pending\\?api-version=7\\.6&request_id=[0-9a-f]{32}$`),
    );
    expect(created.headers["retry-after"]).toBe("10");
    expect(created.json).toEqual({
      id: `${kv.vaultUrl}/certificates/shape/pending`,
      issuer: { name: "Unknown" },
      csr: expect.stringMatching(/^MII/),
      cancellation_requested: false,
      status: "inProgress",
      status_details: "Pending certificate created. Please Perform Merge to complete the request.",
      request_id: expect.stringMatching(/^[0-9a-f]{32}$/),
    });

    const latest = await call("GET", "/certificates/shape/");
    expect(latest.json).toMatchObject({ attributes: { enabled: false }, pending: { id: `${kv.vaultUrl}/certificates/shape/pending` } });
    expect(Object.keys(latest.json).sort()).toEqual(["attributes", "id", "pending", "policy"]);
    const version = String(latest.json.id).split("/").at(-1)!;
    expect((await call("GET", `/certificates/shape/${version}`)).json).not.toHaveProperty("cer");
    expect((await call("GET", "/certificates/shape/policy")).json).toMatchObject({
      key_props: { exportable: false, key_size: 2048 },
      issuer: { name: "Unknown" },
    });
    expect((await call("GET", `/keys/shape/${version}`)).json).toMatchObject({ key: { key_ops: ["sign", "verify"] } });

    const issued = issueForCsr(Buffer.from(String(created.json.csr), "base64"), { issuer: pki.intermediate });
    const merged = await call("POST", "/certificates/shape/pending/merge", {
      x5c: [issued.leafDer.toString("base64"), pki.intermediate.certificateDer.toString("base64")],
    });
    expect(merged.status).toBe(201);
    expect(merged.json).toMatchObject({
      id: `${kv.vaultUrl}/certificates/shape/${version}`,
      kid: `${kv.vaultUrl}/keys/shape/${version}`,
      cer: issued.leafDer.toString("base64"),
      attributes: { enabled: true },
    });
    expect((await call("GET", "/certificates/shape/pending")).json).toMatchObject({
      status: "completed",
      target: `${kv.vaultUrl}/certificates/shape`,
    });
    expect(await call("PATCH", "/certificates/shape/pending", { cancellation_requested: true })).toMatchObject({
      status: 400,
      json: { error: { code: "BadParameter" } },
    });
    expect((await call("GET", "/certificates/shape/versions")).json).toEqual({
      value: [
        {
          id: `${kv.vaultUrl}/certificates/shape/${version}`,
          x5t: expect.any(String),
          attributes: expect.objectContaining({ enabled: true }),
        },
      ],
      nextLink: null,
    });
  });

  it("answers Key Vault's errors: create or import while pending, bad x5c, cancel when not in progress, no pending", async () => {
    expect((await call("POST", "/certificates/busy/create", policy())).status).toBe(202);
    const again = await call("POST", "/certificates/busy/create", policy());
    expect(again).toMatchObject({
      status: 409,
      json: {
        error: { code: "Forbidden", message: expect.stringContaining("while a pending key vault certificate's status is inProgress") },
      },
    });
    expect(() => kv.importCertificate("busy", { privateKey: pki.leaf.privateKey, certificateDer: pki.leaf.certificateDer })).toThrow(
      /pending/,
    );
    const badX5c = await call("POST", "/certificates/busy/pending/merge", { x5c: ["bm90IGEgY2VydA=="] });
    expect(badX5c).toMatchObject({
      status: 400,
      json: { error: { code: "BadParameter", message: "Property x5c has invalid value X5C must has at least one valid item" } },
    });
    const wrongKey = await call("POST", "/certificates/busy/pending/merge", { x5c: [pki.leaf.certificateDer.toString("base64")] });
    expect(wrongKey).toMatchObject({ status: 400, json: { error: { code: "BadParameter" } } });
    expect((await call("PATCH", "/certificates/busy/pending", { cancellation_requested: true })).json).toMatchObject({
      cancellation_requested: true,
      status: "inProgress",
    });
    expect((await call("DELETE", "/certificates/busy/pending")).status).toBe(200);
    expect(await call("GET", "/certificates/busy/pending")).toMatchObject({
      status: 404,
      json: { error: { code: "PendingCertificateNotFound" } },
    });
    expect((await call("GET", "/certificates/busy/")).status).toBe(404);
    expect((await call("PATCH", "/certificates/busy/pending", { cancellation_requested: true })).status).toBe(404);
    expect((await call("POST", "/certificates/self/create", policy({ issuer: { name: "Self" } }))).status).toBe(400);
  });

  it("the SDK sees the same protocol: a pending certificate through getCertificateOperation, cancel and delete", async () => {
    const client = new CertificateClient(kv.url, staticCredential(), {
      disableChallengeResourceVerification: true,
      tlsOptions: { ca: kv.caPem },
    });
    const poller = await client.beginCreateCertificate("sdk", {
      issuerName: "Unknown",
      subject: "CN=sdk",
      exportable: false,
      keySize: 2048,
    });
    expect(poller.getOperationState().isCompleted).toBeFalsy();
    await poller.cancelOperation();
    const operation = (await client.getCertificateOperation("sdk")).getOperationState().certificateOperation!;
    expect(operation).toMatchObject({ status: "inProgress", cancellationRequested: true, issuerName: "Unknown" });
    expect(Buffer.from(operation.csr!).subarray(0, 1)[0]).toBe(0x30);
    await client.deleteCertificateOperation("sdk");
    await expect(client.getCertificate("sdk")).rejects.toMatchObject({ statusCode: 404 });
  });

  it("an exportable pending certificate's secret holds its key after the merge, a non-exportable one's never; no other answer carries a key", async () => {
    for (const [name, exportable] of [
      ["exp", true],
      ["noexp", false],
    ] as const) {
      const created = await call("POST", `/certificates/${name}/create`, policy({ key_props: { kty: "RSA", key_size: 2048, exportable } }));
      const issued = issueForCsr(Buffer.from(String(created.json.csr), "base64"), { issuer: pki.intermediate });
      expect((await call("POST", `/certificates/${name}/pending/merge`, { x5c: [issued.leafDer.toString("base64")] })).status).toBe(201);
      const secret = await call("GET", `/secrets/${name}/`);
      expect(String(secret.json.value).includes("PRIVATE KEY")).toBe(exportable);
      bodies.pop();
    }
    for (const body of bodies) {
      expect(body).not.toContain("PRIVATE KEY");
      expect(body).not.toMatch(/"(d|p|q|dp|dq|qi)":/);
    }
  });
});
