import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { DEFAULT_RENEW_RATIO, DEFAULT_RENEW_SCHEDULE, parseBrokerConfig } from "../../src/config/settings.js";
import { profileSettingPrefix } from "../../src/config/profile.js";
import { bicepParams, bicepVarBody, stripComments } from "./bicep-text.js";
import { formatLogLine } from "../../src/logging.js";
import { MaskinportenError } from "../../src/maskinporten-error.js";
import { METRIC_NAMES } from "../../src/app/otel-metrics.js";
import {
  alertQuery,
  alertQueryMatches,
  brokerSettingNames,
  checkAppSettings,
  checkContract,
  checkKeyVaultRoles,
  checkNoPlainSecrets,
  keyVaultCalls,
  looksSecret,
  roleAssignments,
  type InfraSources,
} from "./contract.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const read = (path: string) => readFileSync(join(root, path), "utf8");
const filesIn = (dir: string, suffix: string): Record<string, string> =>
  Object.fromEntries(
    readdirSync(join(root, dir), { recursive: true, encoding: "utf8" })
      .filter((name) => name.endsWith(suffix))
      .map((name) => [relative(root, join(root, dir, name)), read(join(dir, name))]),
  );

function realSources(): InfraSources {
  return {
    // Settings are read in src/config/ (settings.ts the entry, profile and signing beside it) and in
    // the customer and key-registration modules, all through one reader.
    settings: [
      "src/config/settings.ts",
      "src/config/profile.ts",
      "src/config/signing.ts",
      "src/customers/customer-settings.ts",
      "src/keys/settings.ts",
    ]
      .map(read)
      .join("\n"),
    runtime: read("src/app/runtime.ts"),
    functions: filesIn("functions", ".ts"),
    adapters: filesIn("src/keyvault", ".ts"),
    mainBicep: read("infra/main.bicep"),
    apiBicep: read("infra/app/api.bicep"),
    rbacBicep: read("infra/app/rbac.bicep"),
    rbacRolesJson: read("infra/rbac-roles.json"),
    bicepFiles: filesIn("infra", ".bicep"),
    parametersJson: read("infra/main.parameters.json"),
  };
}

/** A copy of `text` without the first line that contains `needle` (which must exist). */
function withoutLine(text: string, needle: string): string {
  const lines = text.split("\n");
  const index = lines.findIndex((line) => line.includes(needle));
  expect(index, `line with ${needle}`).toBeGreaterThanOrEqual(0);
  return [...lines.slice(0, index), ...lines.slice(index + 1)].join("\n");
}

/** A copy of rbac.bicep without one whole `resource <symbol> ...` declaration. */
function withoutResource(text: string, symbol: string): string {
  const start = text.indexOf(`resource ${symbol} `);
  expect(start, `resource ${symbol}`).toBeGreaterThanOrEqual(0);
  const next = text.indexOf("\nresource ", start + 1);
  const commentBefore = text.lastIndexOf("\n\n", start);
  return text.slice(0, commentBefore + 1) + (next === -1 ? "" : text.slice(next + 1));
}

describe("infra contract: app settings", () => {
  it("finds exactly the settings settings.ts reads (update this list, then the Bicep, when it changes)", () => {
    const names = brokerSettingNames(realSources().settings);
    expect(names.global).toEqual([
      "CALLER_AUDIENCES",
      "CALLER_AUTHORITY_HOST",
      "CALLER_TENANT_ID",
      "CALLER_TRUST_APP_SERVICE_PRINCIPAL",
      "DEFAULT_PROFILE",
      "KEY_REGISTRATION_PROPAGATION_MINUTES",
      "KEY_REGISTRATION_RENEW_DAYS",
      "KEY_REGISTRATION_REPLACE_FOREIGN",
      "KEY_VAULT_SIGNS_PER_10S",
      "KEY_VAULT_SIGN_SHARE",
      "KEY_VAULT_URL",
      "MASKINPORTEN_ENVIRONMENT",
      "RENEW_BEFORE_EXPIRY_RATIO",
      "RENEW_SCHEDULE",
      "SELF_SERVICE_API_URL",
      "SELF_SERVICE_CLIENT_ID",
      "SELF_SERVICE_ENVIRONMENT",
      "SELF_SERVICE_SCOPES",
      "SELF_SERVICE_SIGNING_CERTIFICATE_NAME",
      "SELF_SERVICE_SIGNING_CERTIFICATE_VERSION",
      "SELF_SERVICE_SIGNING_CHAIN",
      "SIGNING_ALGORITHM",
      "SIGNING_CERTIFICATE_NAME",
      "SIGNING_CERTIFICATE_VERSION",
      "SIGNING_CHAIN",
      "SIGNING_KEY_NAME",
      "SIGNING_KEY_VERSION",
      "SIGNING_KID",
      "TOKEN_PROFILES",
    ]);
    expect(names.profileSuffixes).toEqual([
      "ALTINN_EXCHANGE",
      "ALTINN_TEST_ORG",
      "AUTHORIZATION_DETAILS",
      "CLIENT_ID",
      "CONSUMER_ORG",
      "CUSTOMERS",
      "CUSTOMER_CLAIM",
      "CUSTOMER_DENIED_SECONDS",
      "CUSTOMER_REQUESTS_PER_SECOND",
      "ENVIRONMENT",
      "ISS_ONBEHALFOF",
      "KEY_REGISTRATION",
      "MAX_CUSTOMERS",
      "PID",
      "RESOURCE",
      "ROLE",
      "SCOPES",
      "SECRET_NAME",
      "SIGNING_ALGORITHM",
      "SIGNING_CERTIFICATE_NAME",
      "SIGNING_CERTIFICATE_VERSION",
      "SIGNING_CHAIN",
      "SIGNING_KEY_NAME",
      "SIGNING_KEY_VERSION",
      "SIGNING_KID",
      "STORE_CUSTOMER_TOKENS",
      "SYSTEMUSER_EXTERNAL_REF",
      "SYSTEMUSER_ORG",
    ]);
  });

  it("sets every one of them, per profile where the broker reads them per profile", () => {
    expect(checkAppSettings(realSources())).toEqual([]);
  });

  it("reports an app-wide setting that the Bicep stops setting", () => {
    const sources = realSources();
    const broken = { ...sources, mainBicep: withoutLine(sources.mainBicep, "  SIGNING_KID: signingKid") };
    expect(checkAppSettings(broken)).toEqual(["app setting SIGNING_KID is read by settings.ts but not set by main.bicep brokerSettings"]);
  });

  it("reports a per-profile setting that the Bicep stops setting", () => {
    const sources = realSources();
    const broken = { ...sources, mainBicep: withoutLine(sources.mainBicep, "'${entry.prefix}SCOPES'") };
    expect(checkAppSettings(broken)).toEqual([
      "app setting PROFILE_<NAME>_SCOPES is read by settings.ts but not set per profile by main.bicep profileSettings",
    ]);
  });

  it("reports the timer schedule and the managed identity client id when they are not set", () => {
    const sources = realSources();
    const noSchedule = { ...sources, mainBicep: withoutLine(sources.mainBicep, "  RENEW_SCHEDULE: renewSchedule") };
    expect(checkAppSettings(noSchedule)).toContain("functions/renew.ts binds %RENEW_SCHEDULE% but main.bicep does not set RENEW_SCHEDULE");
    const noClientId = { ...sources, apiBicep: withoutLine(sources.apiBicep, "AZURE_CLIENT_ID: identityClientId") };
    expect(checkAppSettings(noClientId)).toEqual(["app setting AZURE_CLIENT_ID is read by the runtime but not set by api.bicep"]);
  });

  it("reports settings Flex Consumption rejects and key-based host storage", () => {
    const sources = realSources();
    const broken = {
      ...sources,
      apiBicep: sources.apiBicep.replace(
        "AzureWebJobsStorage__credential: 'managedidentity'",
        "FUNCTIONS_WORKER_RUNTIME: 'node'\n    AzureWebJobsStorage__credential: 'connectionstring'",
      ),
    };
    expect(checkAppSettings(broken)).toEqual([
      "api.bicep sets FUNCTIONS_WORKER_RUNTIME, which Flex Consumption rejects or which carries a key",
      "api.bicep: AzureWebJobsStorage must use the managed identity (AzureWebJobsStorage__credential: 'managedidentity')",
    ]);
  });

  it("builds the profile prefix the way the broker does", () => {
    expect(profileSettingPrefix("skatt-prod")).toBe("PROFILE_SKATT_PROD_");
    const sources = realSources();
    const broken = {
      ...sources,
      mainBicep: sources.mainBicep.replace("toUpper(replace(profile.name, '-', '_'))", "toUpper(profile.name)"),
    };
    expect(checkAppSettings(broken)).toEqual([
      "main.bicep: profile prefix is not 'PROFILE_${toUpper(replace(profile.name, '-', '_'))}_' as in profileSettingPrefix()",
    ]);
  });

  it("defaults the timer schedule and renewal ratio to the broker's own defaults", () => {
    const params = new Map(bicepParams(read("infra/main.bicep")).map((p) => [p.name, p.value]));
    expect(params.get("renewSchedule")).toBe(`'${DEFAULT_RENEW_SCHEDULE}'`);
    expect(params.get("renewBeforeExpiryRatio")).toBe(`'${DEFAULT_RENEW_RATIO}'`);
    const parameters = JSON.parse(read("infra/main.parameters.json")) as { parameters: Record<string, { value: string }> };
    expect(parameters.parameters.renewSchedule?.value).toBe(`\${RENEW_SCHEDULE=${DEFAULT_RENEW_SCHEDULE}}`);
  });

  it("uses the broker's default secret and role names for profiles that do not set them", () => {
    const entries = bicepVarBody(stripComments(read("infra/main.bicep")), "profileEntries") ?? "";
    expect(entries).toContain("secretName: profile.?secretName ?? 'maskinporten-${profile.name}'");
    expect(entries).toContain("role: profile.?role ?? 'Token.${profile.name}'");
  });

  it("ships a profiles.json whose settings the broker accepts", () => {
    const { profiles } = JSON.parse(read("infra/profiles.json")) as { profiles: { name: string; clientId: string; scopes: string[] }[] };
    const settings: Record<string, string> = {
      KEY_VAULT_URL: "https://kv-example.vault.azure.net/",
      MASKINPORTEN_ENVIRONMENT: "test",
      TOKEN_PROFILES: profiles.map((p) => p.name).join(","),
      SIGNING_CERTIFICATE_NAME: "maskinporten-signing",
    };
    for (const p of profiles) {
      settings[`${profileSettingPrefix(p.name)}CLIENT_ID`] = p.clientId;
      settings[`${profileSettingPrefix(p.name)}SCOPES`] = p.scopes.join(" ");
    }
    const config = parseBrokerConfig(settings);
    expect(config.profiles.map((p) => p.secretName)).toEqual(profiles.map((p) => `maskinporten-${p.name}`));
  });
});

describe("infra contract: Key Vault roles", () => {
  it("sees the Key Vault calls the adapters make", () => {
    const calls = keyVaultCalls(realSources().adapters).map((c) => c.call);
    expect(calls).toEqual(
      expect.arrayContaining([
        "new CertificateClient",
        "CertificateClient.getCertificate",
        "new CryptographyClient",
        "CryptographyClient.sign",
        "KeyClient.getKey",
        "SecretClient.getSecret",
        "SecretClient.setSecret",
      ]),
    );
  });

  it("grants each of them to the broker on the single objects it touches", () => {
    expect(checkKeyVaultRoles(realSources())).toEqual([]);
    const broker = roleAssignments(read("infra/app/rbac.bicep"), read("infra/rbac-roles.json")).filter(
      (a) => a.principal === "identityPrincipalId",
    );
    expect(broker.map((a) => `${a.symbol} on ${a.scope?.type.split("@")[0]}`).sort()).toEqual([
      "certificateUser on Microsoft.KeyVault/vaults/certificates",
      "cryptoUser on Microsoft.KeyVault/vaults/keys",
      "monitoringMetricsPublisher on Microsoft.Insights/components",
      "secretsOfficer on Microsoft.KeyVault/vaults/secrets",
      "storageBlobDataOwner on Microsoft.Storage/storageAccounts",
    ]);
  });

  it("reports the token store's calls when the token secret role is removed", () => {
    const sources = realSources();
    const broken = { ...sources, rbacBicep: withoutResource(sources.rbacBicep, "secretsOfficer") };
    const problems = checkKeyVaultRoles(broken);
    expect(problems).toContain(
      "src/keyvault/token-store.ts calls SecretClient.setSecret (Microsoft.KeyVault/vaults/secrets/setSecret/action on each token-secret) but rbac.bicep grants it to the broker on no tokenSecretNames object",
    );
    expect(problems).toContain(
      "src/keyvault/token-store.ts calls SecretClient.getSecret (Microsoft.KeyVault/vaults/secrets/getSecret/action on each token-secret) but rbac.bicep grants it to the broker on no tokenSecretNames object",
    );
  });

  it("reports signing when the key role is removed or replaced by a role that cannot sign", () => {
    const sources = realSources();
    const removed = checkKeyVaultRoles({ ...sources, rbacBicep: withoutResource(sources.rbacBicep, "cryptoUser") });
    expect(removed).toContain(
      "src/keyvault/signer.ts calls CryptographyClient.sign (Microsoft.KeyVault/vaults/keys/sign/action on each signing-key) but rbac.bicep grants it to the broker on no signingKeyNames object",
    );
    // rbac-roles.json decides the role (for rbac.bicep and the sandbox alike).
    const roles = JSON.parse(sources.rbacRolesJson) as { keyVault: { broker: Record<string, string> } };
    roles.keyVault.broker["signingKey"] = "keyVaultCertificateUser";
    expect(checkKeyVaultRoles({ ...sources, rbacRolesJson: JSON.stringify(roles) })).toEqual([
      "src/keyvault/signer.ts calls CryptographyClient.sign (Microsoft.KeyVault/vaults/keys/sign/action on each signing-key) but rbac.bicep grants it to the broker on no signingKeyNames object",
    ]);
  });

  it("reports a broker role at vault scope as too broad", () => {
    const sources = realSources();
    const vaultWide = sources.rbacBicep.replace("scope: tokenSecrets[i]", "scope: vault");
    expect(checkKeyVaultRoles({ ...sources, rbacBicep: vaultWide })).toContain(
      "rbac.bicep secretsOfficer: Key Vault Secrets Officer for the broker is scoped to Microsoft.KeyVault/vaults@2023-07-01, not to single Key Vault objects",
    );
  });

  it("reports an adapter call nobody has mapped to a data action", () => {
    const sources = realSources();
    const adapters = { ...sources.adapters, "src/keyvault/cleanup.ts": "export const purge = (client) => client.beginDeleteSecret('x');" };
    expect(checkKeyVaultRoles({ ...sources, adapters })).toEqual([
      "src/keyvault/cleanup.ts calls SecretClient.beginDeleteSecret, which has no entry in KEY_VAULT_CALLS: add the data action it needs and a role assignment in rbac.bicep",
    ]);
  });
});

describe("infra contract: nothing secret in parameters or outputs", () => {
  it("holds for the shipped Bicep and parameters", () => {
    expect(checkNoPlainSecrets(realSources())).toEqual([]);
  });

  it("tells secret-looking names from names of secrets", () => {
    for (const name of [
      "signingKey",
      "pfxPassword",
      "storageAccountKey",
      "clientSecret",
      "accessToken",
      "APPLICATIONINSIGHTS_CONNECTION_STRING",
    ]) {
      expect(looksSecret(name), name).toBe(true);
    }
    for (const name of ["signingKeyName", "tokenSecretNames", "keyVaultName", "AZURE_KEY_VAULT_URL", "identityClientId", "signingKid"]) {
      expect(looksSecret(name), name).toBe(false);
    }
  });

  it("reports a plain secret parameter, a secret output and a storage key", () => {
    const sources = realSources();
    const main = sources.mainBicep
      .replace("param alertEmail string = ''", "param alertEmail string = ''\n\nparam pfxPassword string")
      .replace(
        "output AZURE_LOCATION string = location",
        "output AZURE_LOCATION string = location\noutput STORAGE_KEY string = stg.listKeys().keys[0].value",
      );
    const problems = checkNoPlainSecrets({ ...sources, bicepFiles: { ...sources.bicepFiles, "infra/main.bicep": main } });
    expect(problems).toEqual([
      "infra/main.bicep: param pfxPassword looks secret but is not @secure()",
      "infra/main.bicep: output STORAGE_KEY looks secret; outputs are stored in the deployment history",
      "infra/main.bicep: output STORAGE_KEY returns a key or secret value",
      "infra/main.bicep: reads a storage key or SAS; everything here authenticates with Entra ID",
    ]);
    const secured = main.replace("\nparam pfxPassword string", "\n@secure()\nparam pfxPassword string");
    expect(checkNoPlainSecrets({ ...sources, bicepFiles: { ...sources.bicepFiles, "infra/main.bicep": secured } })).not.toContain(
      "infra/main.bicep: param pfxPassword looks secret but is not @secure()",
    );
  });
});

describe("infra contract: everything at once", () => {
  it("holds for the repository as it is", () => {
    expect(checkContract(realSources())).toEqual([]);
  });
});

describe("CI workflow for users' repositories", () => {
  it("runs every command .ci/run runs, on Node 22 with Java 17", () => {
    const ciRun = stripComments(read(".ci/run").replace(/^#.*$/gm, ""));
    const commands = ciRun
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => /^(npm\s|scripts\/)/.test(line));
    expect(commands).toContain("npm test");
    expect(commands).toContain("scripts/install-bicep.sh");
    const workflow = read(".github/workflows/ci.yml");
    for (const command of commands) expect(workflow).toMatch(new RegExp(`^\\s*- run: ${command}$`, "m"));
    expect(workflow).toMatch(/node-version: "22"/);
    expect(workflow).toMatch(/java-version: "17"/);
  });

  it("pins every action by commit, naming the tag", () => {
    const uses = [...read(".github/workflows/ci.yml").matchAll(/^\s*-?\s*uses:\s*(\S+)(.*)$/gm)];
    expect(uses.length).toBeGreaterThanOrEqual(3);
    for (const [, action, comment] of uses) {
      expect(action, action).toMatch(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/);
      expect(comment, action).toMatch(/# v\d+\.\d+\.\d+/);
    }
  });
});

describe("alert queries match the broker's log lines", () => {
  const alerts = read("infra/app/alerts.bicep");
  const kql = (name: string) => {
    const match = new RegExp(`var ${name} = '''([\\s\\S]*?)'''`).exec(alerts);
    expect(match, name).not.toBeNull();
    return alertQuery(match![1]!);
  };

  it("counts a failed renewal and nothing else, per profile", () => {
    const query = kql("renewalFailedQuery");
    const failed = formatLogLine("error", "renewal", {
      profile: "skatt",
      trigger: "timer",
      outcome: "failed",
      stage: "issue",
      code: "ERR_MASKINPORTEN_REJECTED",
    });
    expect(alertQueryMatches(query, failed)).toBe(true);
    expect(alertQueryMatches(query, `Executing 'Functions.renew' ${failed}`)).toBe(true);
    expect(alertQueryMatches(query, formatLogLine("info", "renewal", { profile: "skatt", outcome: "renewed" }))).toBe(false);
    expect(alertQueryMatches(query, formatLogLine("warn", "renewal-tick", { outcomes: [{ profile: "skatt", outcome: "failed" }] }))).toBe(
      false,
    );
    expect(query.projected).toContain("profile");
    // The broker really logs this shape.
    expect(read("src/renewal/profile-tokens.ts")).toMatch(/log\("error", "renewal", \{[\s\S]*?outcome: "failed"/);
  });

  it("watches each profile's freshest token through the remaining-lifetime metric", () => {
    const query = read("infra/app/alerts.bicep").match(/var tokenFreshnessQuery = '''([\s\S]*?)'''/)![1]!;
    expect(metricNamesIn(query)).toEqual([METRIC_NAMES.tokenRemainingLifetime]);
    expect(query).toMatch(/extend profile = tostring\(Properties\.profile\)/);
    // The freshest over instances (max), so an idle instance's old token does not fire it.
    expect(query).toMatch(/remainingSeconds = max\(Max\) by profile/);
    expect(alerts).toMatch(/metricMeasureColumn: 'remainingSeconds'\s+operator: 'LessThan'\s+threshold: tokenFreshnessAlertSeconds/);
  });

  it("alerts on the certificate's remaining days as a metric alert on the broker's gauge", () => {
    const rule = alerts.slice(alerts.indexOf("resource certificateExpiring 'Microsoft.Insights/metricAlerts@"));
    expect(rule).toMatch(/metricNamespace: 'azure\.applicationinsights'\s+metricName: '([^']+)'/);
    expect(/metricName: '([^']+)'/.exec(rule)![1]).toBe(METRIC_NAMES.certificateDaysLeft);
    expect(rule).toMatch(/timeAggregation: 'Minimum'\s+operator: 'LessThanOrEqual'\s+threshold: 30\s+skipMetricValidation: true/);
    expect(read("src/monitoring/monitoring.ts")).toMatch(/metrics\.certificateDaysLeft\(profile\.name, certificateDaysLeft\)/);
  });
});

const metricAttributes = [
  "profile",
  "outcome",
  "trigger",
  "stage",
  "status_class",
  "error",
  "route",
  "kind",
  "result",
  "http.response.status_code",
];
const metricNamesIn = (kql: string) => [...new Set([...kql.matchAll(/"(maskinporten_broker\.[\w.]+)"/g)].map((m) => m[1]!))];

describe("workbook queries match the broker's log lines and metric names", () => {
  const workbook = read("infra/app/workbook.bicep");
  const kql = (name: string) => {
    const match = new RegExp(`var ${name} = '''([\\s\\S]*?)'''`).exec(workbook);
    expect(match, name).not.toBeNull();
    return match![1]!;
  };
  const queries = [...workbook.matchAll(/var (\w+Query) = '''([\s\S]*?)'''/g)].map((m) => ({ name: m[1]!, kql: m[2]! }));

  it("shows the token freshness, renewals, callers, latency, status and expiry queries", () => {
    expect(queries.map((q) => q.name)).toEqual([
      "tokenFreshnessQuery",
      "renewalsQuery",
      "renewalFailuresQuery",
      "callersQuery",
      "latencyQuery",
      "statusQuery",
      "expiryQuery",
    ]);
    for (const { name } of queries) expect(workbook, name).toMatch(new RegExp(`queryItem\\('[^']+', '[^']+', ${name}, `));
  });

  it("reads only metrics the broker exports, by attributes it sets", () => {
    const known = new Set<string>(Object.values(METRIC_NAMES));
    const used = queries.flatMap((q) => metricNamesIn(q.kql));
    expect(used.filter((name) => !known.has(name))).toEqual([]);
    // Every instrument is on a chart (the key gauge too, ready for key registration).
    expect(new Set(used)).toEqual(known);
    const properties = queries.flatMap((q) => [...q.kql.matchAll(/Properties\.(\w+)/g)].map((m) => m[1]!));
    expect(properties.filter((p) => !metricAttributes.includes(p))).toEqual([]);
  });

  it("lists renewal failures with Maskinporten's error and trace id, from the broker's failed-renewal line", () => {
    const query = alertQuery(kql("renewalFailuresQuery"));
    const failed = formatLogLine("error", "renewal", {
      profile: "skatt",
      trigger: "timer",
      outcome: "failed",
      stage: "issue",
      code: "ERR_MASKINPORTEN_REJECTED",
      maskinportenError: "invalid_client",
      traceId: "2f3c",
      status: 400,
    });
    expect(alertQueryMatches(query, failed)).toBe(true);
    expect(alertQueryMatches(query, formatLogLine("info", "renewal", { profile: "skatt", outcome: "renewed" }))).toBe(false);
    expect(query.projected).toEqual(expect.arrayContaining(["profile", "stage", "code", "maskinportenError", "traceId", "errorUri"]));
    // The failure record really has these fields: a Maskinporten refusal describes itself with
    // them, and the renewal's failure line adds the stage.
    const refusal = new MaskinportenError("ERR_MASKINPORTEN_REJECTED", "refused", {
      status: 400,
      error: "invalid_client",
      traceId: "2f3c",
      errorUri: "https://maskinporten.no/errors/MP-100",
      transient: false,
    });
    expect(Object.keys(refusal.logFields())).toEqual(expect.arrayContaining(["code", "maskinportenError", "traceId", "errorUri"]));
    expect(read("src/renewal/profile-tokens.ts")).toMatch(/\bstage\??:/);
  });

  it("counts callers per profile from the token-request audit line", () => {
    const query = alertQuery(kql("callersQuery"));
    const served = formatLogLine("info", "token-request", {
      status: 200,
      outcome: "served",
      requestedProfile: "skatt",
      callerAppId: "app",
      callerObjectId: "obj",
      profile: "skatt",
    });
    expect(alertQueryMatches(query, served)).toBe(true);
    expect(alertQueryMatches(query, formatLogLine("info", "renewal", { profile: "skatt" }))).toBe(false);
    expect(query.projected).toEqual(expect.arrayContaining(["profile", "callerAppId", "outcome"]));
    const endpoint = read("src/http/token-endpoint.ts");
    expect(endpoint).toMatch(
      /"token-request", servedAuditFields\([\s\S]*?outcome: "served"[\s\S]*?callerAppId: caller\.appId[\s\S]*?profile: profileName/,
    );
  });
});
