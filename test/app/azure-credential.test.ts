/**
 * createAzureCredential, the one credential code path (Azure, the sandbox, a laptop): which stock
 * credential the settings select. End to end it runs in the sandbox (ClientSecretCredential, see
 * test/integration/stock-clients.test.ts) and against the managed identity endpoint
 * (test/integration/managed-identity.test.ts).
 */
import { ClientSecretCredential, DefaultAzureCredential, ManagedIdentityCredential } from "@azure/identity";
import { describe, expect, it } from "vitest";
import { createAzureCredential } from "../../src/app/runtime.js";

const servicePrincipal = {
  AZURE_TENANT_ID: "5b1a8e3c-7d24-4f6a-9c0e-2f8d6b4a1e70",
  AZURE_CLIENT_ID: "0f6c2d84-3b1e-4a5f-8d97-6e2c1a9b4f30",
  AZURE_CLIENT_SECRET: "not-a-real-secret",
};

describe("createAzureCredential", async () => {
  it("uses the managed identity on an Azure host, even when a client secret is also set", async () => {
    expect(await createAzureCredential({ IDENTITY_ENDPOINT: "http://127.0.0.1:1/msi/token", ...servicePrincipal }).load()).toBeInstanceOf(
      ManagedIdentityCredential,
    );
  });

  it("uses the service principal outside Azure when tenant, client id and secret are all set", async () => {
    expect(await createAzureCredential(servicePrincipal).load()).toBeInstanceOf(ClientSecretCredential);
    expect(await createAzureCredential({ ...servicePrincipal, AZURE_AUTHORITY_HOST: "https://login.example.test" }).load()).toBeInstanceOf(
      ClientSecretCredential,
    );
  });

  it("falls back to the developer's identity when the service principal is incomplete", async () => {
    expect(
      await createAzureCredential({
        AZURE_TENANT_ID: servicePrincipal.AZURE_TENANT_ID,
        AZURE_CLIENT_ID: servicePrincipal.AZURE_CLIENT_ID,
      }).load(),
    ).toBeInstanceOf(DefaultAzureCredential);
    expect(await createAzureCredential({}).load()).toBeInstanceOf(DefaultAzureCredential);
  });
});
