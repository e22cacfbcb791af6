import { describe, expect, it } from "vitest";
import type { AccessToken, TokenCredential } from "@azure/identity";
import { lazyCredential } from "../../src/app/lazy-credential.js";

describe("lazyCredential", () => {
  it("builds the credential once, on the first token request, from the real @azure/identity module", async () => {
    const built: string[] = [];
    const asked: string[][] = [];
    const credential = lazyCredential((identity) => {
      built.push(typeof identity.ManagedIdentityCredential);
      const inner: TokenCredential = {
        getToken: async (scopes): Promise<AccessToken> => {
          asked.push([scopes].flat());
          return { token: "opaque", expiresOnTimestamp: 1 };
        },
      };
      return inner;
    });
    expect(built).toEqual([]);
    const [first, second] = await Promise.all([credential.getToken("https://vault.azure.net/.default"), credential.getToken(["a", "b"])]);
    expect(first?.expiresOnTimestamp).toBe(1);
    expect(second?.expiresOnTimestamp).toBe(1);
    expect(built).toEqual(["function"]);
    expect(asked).toEqual([["https://vault.azure.net/.default"], ["a", "b"]]);
  });

  it("tries again after building the credential failed", async () => {
    let attempts = 0;
    const credential = lazyCredential(() => {
      attempts++;
      if (attempts === 1) throw new Error("no identity here");
      return { getToken: async () => ({ token: "opaque", expiresOnTimestamp: 2 }) };
    });
    await expect(credential.getToken("scope")).rejects.toThrow("no identity here");
    expect((await credential.getToken("scope"))?.expiresOnTimestamp).toBe(2);
    expect(attempts).toBe(2);
  });
});
