import { describe, expect, it } from "vitest";
import { BrokerError } from "../../src/errors.js";
import { parseClientConfig } from "../../src/cli/client-config.js";
import { parseJavaProperties } from "../../src/cli/properties.js";

const BASE = ["issuer=my-client", "audience=https://test.maskinporten.no/", "scope=a:b", "keystore.file=ks.jks", "keystore.password=pw"];

function parse(lines: string[]) {
  return parseClientConfig(parseJavaProperties(lines.join("\n")), "client.properties");
}

function problems(lines: string[]): string {
  try {
    parse(lines);
  } catch (error) {
    expect(error).toBeInstanceOf(BrokerError);
    expect((error as BrokerError).code).toBe("ERR_CONFIG");
    return (error as BrokerError).message;
  }
  throw new Error("expected a configuration error");
}

describe("parseClientConfig", () => {
  it("reads a seed file: JKS by default, grant only without token.endpoint", () => {
    const config = parse(BASE);
    expect(config).toEqual({
      clientId: "my-client",
      audience: "https://test.maskinporten.no/",
      tokenRequest: { kind: "none" },
      scopes: ["a:b"],
      signing: { kind: "keystore", source: { kind: "path", path: "ks.jks" }, type: "JKS", storePassword: "pw" },
      unknownKeys: [],
    });
  });

  it("trims identifiers but keeps passwords exactly as Java reads them", () => {
    const config = parse([
      "issuer=my-client   ",
      "audience=https://test.maskinporten.no/  ",
      "token.endpoint=https://test.maskinporten.no/token \t",
      "scope=  a:b   c:d  ",
      "keystore.file=ks.p12 ",
      "keystore.type=pkcs12 ",
      "keystore.password=pw  ",
      "keystore.alias=alias ",
      "keystore.alias.password= kp ",
    ]);
    expect(config.clientId).toBe("my-client");
    expect(config.tokenRequest).toEqual({ kind: "endpoint", tokenEndpoint: "https://test.maskinporten.no/token" });
    expect(config.scopes).toEqual(["a:b", "c:d"]);
    // Java drops the blank after '=' but keeps trailing blanks.
    expect(config.signing).toEqual({
      kind: "keystore",
      source: { kind: "path", path: "ks.p12" },
      type: "PKCS12",
      storePassword: "pw  ",
      alias: "alias",
      keyPassword: "kp ",
    });
  });

  it("treats empty optional values as absent and splits several resources into an array", () => {
    expect(parse([...BASE, "resource=", "consumer_org=", "pid="])).not.toHaveProperty("resource");
    // Always an array, even for one value: Maskinporten takes resource only as a JSON array.
    expect(parse([...BASE, "resource=https://a.no/"]).resource).toEqual(["https://a.no/"]);
    expect(parse([...BASE, "resource=https://a.no/ https://b.no/"]).resource).toEqual(["https://a.no/", "https://b.no/"]);
  });

  it("decodes base64: keystores, whitespace allowed", () => {
    const config = parse([...BASE.filter((line) => !line.startsWith("keystore.file")), "keystore.file=base64:AAEC\\", "   AwQ="]);
    expect(config.signing).toMatchObject({ source: { kind: "inline", bytes: Buffer.from([0, 1, 2, 3, 4]) } });
    expect(problems([...BASE.filter((line) => !line.startsWith("keystore.file")), "keystore.file=base64:not base64!"])).toMatch(
      /not base64/,
    );
  });

  it("collects every problem in one message", () => {
    const message = problems(["keystore.type=BKS", "consumer_org=12345", "pid=abc", "keystore.file=x"]);
    for (const expected of [
      "issuer is missing",
      "scope is missing",
      "audience is missing",
      "keystore.type must be JKS or PKCS12",
      "keystore.password is missing",
      "consumer_org must be a 9-digit organisation number",
      "pid must be an 11-digit",
    ]) {
      expect(message).toContain(expected);
    }
  });

  it("refuses retired and insecure Maskinporten URLs", () => {
    const swap = (key: string, value: string) => [...BASE.filter((line) => !line.startsWith(`${key}=`)), `${key}=${value}`];
    expect(problems(swap("audience", "https://ver2.maskinporten.no/"))).toMatch(
      /retired Maskinporten host .*; use test \(https:\/\/test\.maskinporten\.no\/\)/,
    );
    expect(problems(swap("audience", "https://oidc.difi.no/idporten-oidc-provider/"))).toMatch(/retired/);
    expect(problems([...BASE, "token.endpoint=http://maskinporten.example/token"])).toMatch(/token\.endpoint: .*must use https/);
  });

  it("environment supplies the audience and turns on discovery when token.endpoint is missing", () => {
    const noAudience = BASE.filter((line) => !line.startsWith("audience="));
    expect(parse([...noAudience, "environment=prod"])).toMatchObject({
      audience: "https://maskinporten.no/",
      tokenRequest: { kind: "discover", issuer: "https://maskinporten.no/" },
    });
    expect(parse([...noAudience, "environment=test", "token.endpoint=https://test.maskinporten.no/token"]).tokenRequest).toEqual({
      kind: "endpoint",
      tokenEndpoint: "https://test.maskinporten.no/token",
    });
    expect(problems([...BASE, "environment=prod"])).toMatch(
      /audience and environment disagree \(the environment's issuer is https:\/\/maskinporten\.no\/\)/,
    );
  });

  it("reads Key Vault signing keys", () => {
    const noKeystore = BASE.filter((line) => !line.startsWith("keystore."));
    expect(
      parse([
        ...noKeystore,
        "keyvault.url=https://v.vault.azure.net/",
        "keyvault.certificate=mp-cert",
        "keyvault.certificate.version=0123456789abcdef0123456789abcdef",
        "keyvault.kid=k",
      ]).signing,
    ).toEqual({
      kind: "keyvault",
      vaultUrl: "https://v.vault.azure.net/",
      certificateName: "mp-cert",
      certificateVersion: "0123456789abcdef0123456789abcdef",
      kid: "k",
    });
    expect(
      problems([
        ...noKeystore,
        "keyvault.url=http://v.vault.azure.net/",
        "keyvault.certificate=bad name",
        "keyvault.certificate.version=1",
      ]),
    ).toMatch(
      /keyvault\.url must use https.*keyvault\.certificate must be 1-127 letters, digits and hyphens.*keyvault\.certificate\.version must be a 32-character/,
    );
  });

  it("refuses a vault URL with a path, as the broker's KEY_VAULT_URL does", () => {
    const noKeystore = BASE.filter((line) => !line.startsWith("keystore."));
    const withVault = (url: string) => [...noKeystore, `keyvault.url=${url}`, "keyvault.certificate=mp-cert"];
    for (const url of [
      "https://v.vault.azure.net/secrets/x",
      "https://v.vault.azure.net/?api-version=7.4",
      "https://user:pw@v.vault.azure.net/",
    ]) {
      const message = problems(withVault(url));
      expect(message).toContain("keyvault.url has a path, query or credentials");
      expect(message).not.toContain(url);
    }
    expect(parse(withVault("https://v.vault.azure.net")).signing).toMatchObject({ vaultUrl: "https://v.vault.azure.net/" });
  });

  it("refuses the token endpoint URL as audience (Digdir: aud is the issuer)", () => {
    const swap = (lines: string[]) => [...BASE.filter((line) => !line.startsWith("audience=")), ...lines];
    expect(problems(swap(["audience=https://test.maskinporten.no/token", "token.endpoint=https://test.maskinporten.no/token"]))).toContain(
      "audience is the token endpoint URL",
    );
    expect(problems(swap(["audience=https://test.maskinporten.no/token"]))).toContain("audience is the token endpoint URL");
    expect(problems(swap(["audience=https://mp.example.no/oauth2", "token.endpoint=https://mp.example.no/oauth2"]))).toContain(
      "audience is the token endpoint URL",
    );
  });

  it("accepts Skyporten's issuer as audience exactly, without a trailing slash", () => {
    const noAudience = BASE.filter((line) => !line.startsWith("audience="));
    expect(parse([...noAudience, "environment=skyporten-test"])).toMatchObject({
      audience: "https://test.sky.maskinporten.no",
      tokenRequest: { kind: "discover", issuer: "https://test.sky.maskinporten.no" },
    });
    expect(
      parse([...noAudience, "audience=https://sky.maskinporten.no", "token.endpoint=https://sky.maskinporten.no/token"]).audience,
    ).toBe("https://sky.maskinporten.no");
  });

  it("never quotes a pid or other value in its problems", () => {
    const message = problems([...BASE, "pid=0101701234 5", "consumer_org=98765x", "keystore.type=secretvalue"]);
    expect(message).not.toMatch(/0101701234|98765x|secretvalue/);
    expect(message).toContain("pid must be an 11-digit Norwegian national identity number");
  });

  it("reports unknown keys (typos) without failing, as Java would ignore them", () => {
    expect(parse([...BASE, "keystore.pasword=x", "audiance=y"]).unknownKeys).toEqual(["keystore.pasword", "audiance"]);
  });
});
