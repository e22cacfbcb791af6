/**
 * Azure RBAC in the Key Vault stand-in: a request is allowed only when a role assignment of the
 * caller, at the vault or at that object, has a built-in role whose data actions cover it; else
 * 403 Forbidden / ForbiddenByRbac, lists included, whether or not the object exists. And the
 * bearer refusals Key Vault words: AKV10022 for another audience, AKV10032 otherwise.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEntraBearerAuthenticator } from "../../sandbox/entra/access-token-check.js";
import { startEntraStandIn, type EntraStandIn } from "../../sandbox/entra/standin.js";
import { BUILT_IN_KEY_VAULT_ROLES, KEY_VAULT_RESOURCE, startKeyVaultStandIn, type KeyVaultStandIn } from "../../sandbox/keyvault/index.js";
import { actionMatches } from "../../sandbox/keyvault/rbac.js";
import { generateRsaKeyPair, issueCertificate } from "../../sandbox/pki.js";
import { fetchTrusting, type FetchLike } from "../../sandbox/trusted-fetch.js";

const API = "api-version=7.5";
let kv: KeyVaultStandIn;
let call: FetchLike;

/** A token the default acceptToken takes; the stand-in reads `oid` from it. */
const tokenFor = (oid: string) =>
  `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from(JSON.stringify({ oid, appid: "app-" + oid.slice(0, 4) })).toString("base64url")}.`;

async function request(oid: string, method: string, path: string, body?: unknown) {
  const response = await call(`${kv.vaultUrl}${path}${path.includes("?") ? "&" : "?"}${API}`, {
    method,
    headers: { authorization: `Bearer ${tokenFor(oid)}`, "content-type": "application/json" },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return {
    status: response.status,
    body: (await response.json()) as { error?: { code: string; message: string; innererror?: { code: string } } },
  };
}

function expectForbidden(result: Awaited<ReturnType<typeof request>>, action: string, resource: string) {
  expect(result.status).toBe(403);
  expect(result.body.error).toMatchObject({ code: "Forbidden", innererror: { code: "ForbiddenByRbac" } });
  const message = result.body.error!.message;
  expect(message.startsWith("Caller is not authorized to perform action on resource.\r\n")).toBe(true);
  expect(message).toContain(`Action: '${action}'`);
  expect(message).toContain(`/providers/microsoft.keyvault/vaults/kv-sandbox${resource}'`);
  expect(message).toContain("Assignment: (not found)");
}

const SIGN = { alg: "RS256", value: Buffer.alloc(32, 1).toString("base64url") };

beforeAll(async () => {
  kv = await startKeyVaultStandIn({ enforceRbac: true });
  call = fetchTrusting(kv.caPem);
  kv.setSecret("token-a", "value-a");
  kv.setSecret("token-b", "value-b");
  const leaf = issueCertificate({ commonName: "Org" });
  kv.importCertificate("cert", { privateKey: leaf.privateKey, certificateDer: leaf.certificateDer });
  kv.importKey("plain", generateRsaKeyPair().privateKey);
});
afterAll(() => kv?.close());

describe("Key Vault stand-in RBAC", () => {
  it("refuses a caller without assignments everything, existing or not, lists included", async () => {
    const nobody = randomUUID();
    expectForbidden(
      await request(nobody, "GET", "/secrets/token-a/"),
      "Microsoft.KeyVault/vaults/secrets/getSecret/action",
      "/secrets/token-a",
    );
    expectForbidden(
      await request(nobody, "GET", "/secrets/no-such/"),
      "Microsoft.KeyVault/vaults/secrets/getSecret/action",
      "/secrets/no-such",
    );
    expectForbidden(await request(nobody, "GET", "/secrets"), "Microsoft.KeyVault/vaults/secrets/readMetadata/action", "");
    expectForbidden(
      await request(nobody, "PUT", "/secrets/token-a", { value: "x" }),
      "Microsoft.KeyVault/vaults/secrets/setSecret/action",
      "/secrets/token-a",
    );
    expect(kv.counters.forbidden).toBeGreaterThanOrEqual(4);
    expect(kv.getSecretVersions("token-a")).toHaveLength(1);
  });

  it("Secrets User on one secret: reads it and its versions, nothing else", async () => {
    const reader = randomUUID();
    kv.assignRole({ principalId: reader, role: "Key Vault Secrets User", scope: "/secrets/token-a" });
    const read = await request(reader, "GET", "/secrets/token-a/");
    expect(read.status).toBe(200);
    expect((await request(reader, "GET", "/secrets/TOKEN-A/")).status).toBe(200); // names are case-insensitive
    expect((await request(reader, "GET", "/secrets/token-a/versions")).status).toBe(200);
    expectForbidden(
      await request(reader, "PUT", "/secrets/token-a", { value: "x" }),
      "Microsoft.KeyVault/vaults/secrets/setSecret/action",
      "/secrets/token-a",
    );
    expectForbidden(
      await request(reader, "GET", "/secrets/token-b/"),
      "Microsoft.KeyVault/vaults/secrets/getSecret/action",
      "/secrets/token-b",
    );
    expectForbidden(await request(reader, "GET", "/secrets"), "Microsoft.KeyVault/vaults/secrets/readMetadata/action", "");
    expectForbidden(await request(reader, "GET", "/keys/plain/"), "Microsoft.KeyVault/vaults/keys/read", "/keys/plain");
  });

  it("Secrets Officer on a secret writes it; a missing secret is still 404 for someone allowed to read it", async () => {
    const officer = randomUUID();
    kv.assignRole({ principalId: officer, role: "b86a8fe4-44ce-4948-aee5-eccb2c155cd7", scope: "/secrets/token-new" });
    expect((await request(officer, "GET", "/secrets/token-new/")).body.error?.code).toBe("SecretNotFound");
    expect((await request(officer, "PUT", "/secrets/token-new", { value: "v" })).status).toBe(200);
    expect((await request(officer, "GET", "/secrets/token-new/")).status).toBe(200);
  });

  it("Crypto User signs with its key only; Certificate User reads the certificate but not its key's sign", async () => {
    const signer = randomUUID();
    kv.assignRole({ principalId: signer, role: "Key Vault Crypto User", scope: "/keys/plain" });
    expect((await request(signer, "GET", "/keys/plain/")).status).toBe(200);
    expect((await request(signer, "POST", "/keys/plain//sign", SIGN)).status).toBe(200);
    expectForbidden(await request(signer, "POST", "/keys/cert//sign", SIGN), "Microsoft.KeyVault/vaults/keys/sign/action", "/keys/cert");

    const certificateUser = randomUUID();
    kv.assignRole({ principalId: certificateUser, role: "Key Vault Certificate User", scope: "/certificates/cert" });
    expect((await request(certificateUser, "GET", "/certificates/cert/")).status).toBe(200);
    expectForbidden(
      await request(certificateUser, "POST", "/keys/cert//sign", SIGN),
      "Microsoft.KeyVault/vaults/keys/sign/action",
      "/keys/cert",
    );
    expectForbidden(
      await request(certificateUser, "GET", "/secrets/cert/"),
      "Microsoft.KeyVault/vaults/secrets/getSecret/action",
      "/secrets/cert",
    );
  });

  it("Reader on the vault lists and reads metadata but never a secret value or a signature", async () => {
    const reader = randomUUID();
    kv.assignRole({ principalId: reader, role: "Key Vault Reader", scope: "/" });
    expect((await request(reader, "GET", "/secrets")).status).toBe(200);
    expect((await request(reader, "GET", "/keys/plain/")).status).toBe(200);
    expect((await request(reader, "GET", "/certificates/cert/")).status).toBe(200);
    expectForbidden(
      await request(reader, "GET", "/secrets/token-a/"),
      "Microsoft.KeyVault/vaults/secrets/getSecret/action",
      "/secrets/token-a",
    );
    expectForbidden(await request(reader, "POST", "/keys/plain//sign", SIGN), "Microsoft.KeyVault/vaults/keys/sign/action", "/keys/plain");
  });

  it("Administrator on the vault may do everything", async () => {
    const admin = randomUUID();
    kv.assignRole({ principalId: admin, role: "Key Vault Administrator", scope: "/" });
    for (const [method, path, body] of [
      ["GET", "/secrets", undefined],
      ["GET", "/secrets/token-b/", undefined],
      ["PUT", "/secrets/token-b", { value: "v2" }],
      ["POST", "/keys/plain//sign", SIGN],
      ["GET", "/certificates/cert/policy", undefined],
    ] as const) {
      expect((await request(admin, method, path, body)).status, `${method} ${path}`).toBe(200);
    }
  });

  it("refuses unknown roles and malformed scopes when assigning", () => {
    expect(() => kv.assignRole({ principalId: randomUUID(), role: "Key Vault Superuser", scope: "/" })).toThrow(/Unknown Key Vault role/);
    expect(() => kv.assignRole({ principalId: randomUUID(), role: "Key Vault Reader", scope: "/subscriptions/x" })).toThrow(/scope/);
  });

  it("matches Azure's action wildcards, also in the middle, ignoring case", () => {
    expect(actionMatches("Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/keys/read")).toBe(true);
    expect(actionMatches("Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/secrets/getSecret/action")).toBe(false);
    expect(actionMatches("Microsoft.KeyVault/vaults/secrets/*", "microsoft.keyvault/vaults/secrets/setsecret/action")).toBe(true);
    expect(BUILT_IN_KEY_VAULT_ROLES.map((role) => role.name)).toEqual(
      expect.arrayContaining([
        "Key Vault Secrets User",
        "Key Vault Secrets Officer",
        "Key Vault Crypto User",
        "Key Vault Certificate User",
        "Key Vault Certificates Officer",
        "Key Vault Reader",
        "Key Vault Administrator",
      ]),
    );
  });
});

describe("Key Vault stand-in bearer refusals (Entra-checked)", () => {
  let entra: EntraStandIn;
  let vault: KeyVaultStandIn;
  beforeAll(async () => {
    entra = await startEntraStandIn();
    vault = await startKeyVaultStandIn({
      tenantId: entra.tenantId,
      enforceRbac: true,
      authenticate: createEntraBearerAuthenticator(entra, { audiences: [KEY_VAULT_RESOURCE] }),
    });
  });
  afterAll(async () => {
    await Promise.all([vault?.close(), entra?.close()]);
  });

  const get = async (token: string) => {
    const response = await fetchTrusting(vault.caPem)(`${vault.vaultUrl}/secrets/x/?${API}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    return {
      status: response.status,
      challenge: response.headers.get("www-authenticate"),
      body: (await response.json()) as { error: { code: string; message: string } },
    };
  };

  it("AKV10022 for a token meant for another audience, with Key Vault's wording", async () => {
    const refused = await get(entra.mintToken({ aud: "https://vault.azure.net/", oid: randomUUID(), iss: entra.v1Issuer }));
    expect(refused.status).toBe(401);
    expect(refused.challenge).toBe(vault.challenge);
    expect(refused.body.error).toEqual({
      code: "Unauthorized",
      message: "AKV10022: Invalid audience. Expected https://vault.azure.net, found: https://vault.azure.net/.",
    });
  });

  it("AKV10032 for another issuer or tenant, a bad signature or no token subject", async () => {
    const issuer = await get(entra.mintToken({ aud: KEY_VAULT_RESOURCE, oid: randomUUID(), iss: "https://sts.windows.net/someone/" }));
    expect(issuer.body.error.message).toMatch(
      /^AKV10032: Invalid issuer\. Expected one of .*, found https:\/\/sts\.windows\.net\/someone\/\.$/,
    );
    const token = entra.mintToken({ aud: KEY_VAULT_RESOURCE, oid: randomUUID() });
    const tampered = `${token.slice(0, -4)}AAAA`;
    expect((await get(tampered)).body.error.message).toMatch(/^AKV10032: /);
    expect((await get(entra.mintToken({ aud: KEY_VAULT_RESOURCE }))).body.error.message).toMatch(/^AKV10032: /);
  });

  it("a good token without role assignments gets 403 ForbiddenByRbac, naming the caller", async () => {
    const oid = randomUUID();
    const refused = await get(entra.mintToken({ aud: KEY_VAULT_RESOURCE, oid, azp: "my-app" }));
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toContain(`Caller: appid=my-app;oid=${oid};iss=${entra.issuer}\r\n`);
  });
});
