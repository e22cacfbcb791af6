/**
 * The contract between the broker's code and infra/: every app setting the config reads is set by
 * the Bicep under the same name, every Key Vault call the adapters make is granted by a role
 * assignment on the single object it touches, and nothing secret is a plain parameter or an output.
 * Each check returns problems (empty = holds) so a test can also show that a broken copy fails.
 */
import { CertificateClient } from "@azure/keyvault-certificates";
import { CryptographyClient, KeyClient } from "@azure/keyvault-keys";
import { SecretClient } from "@azure/keyvault-secrets";
import { actionMatches, BUILT_IN_KEY_VAULT_ROLES } from "../../sandbox/keyvault/rbac.js";
import { bicepOutputs, bicepParams, bicepResources, bicepVarBody, stringEntries, stripComments, type BicepResource } from "./bicep-text.js";

export interface InfraSources {
  /** src/config/settings.ts */
  settings: string;
  /** Other broker files whose `settings.X` / `process.env.X` reads count too (src/app/runtime.ts). */
  runtime: string;
  /** functions/*.ts, for `%SETTING%` binding expressions such as the timer schedule. */
  functions: Record<string, string>;
  /** src/keyvault/*.ts: the adapters that call Key Vault. */
  adapters: Record<string, string>;
  mainBicep: string;
  apiBicep: string;
  rbacBicep: string;
  /** infra/rbac-roles.json: role definition ids and which Key Vault role each identity gets (rbac.bicep loads it). */
  rbacRolesJson: string;
  /** Every .bicep file, by path, for the secret checks. */
  bicepFiles: Record<string, string>;
  parametersJson: string;
}

// ---------------------------------------------------------------------------------------------
// App settings

export interface BrokerSettingNames {
  /** Names read as they are, e.g. KEY_VAULT_URL, SIGNING_KID. */
  global: string[];
  /** Read once per profile after PROFILE_<NAME>_, e.g. CLIENT_ID, SIGNING_KID. */
  profileSuffixes: string[];
}

/**
 * The setting names settings.ts reads, found in its text: quoted UPPER_SNAKE literals are global
 * names; `${p}SUFFIX` templates are per profile; `name("X")`/`version("X")` are signing settings,
 * read both app-wide and per profile through the `SIGNING_` prefix of the `name` helper.
 */
export function brokerSettingNames(settingsSource: string): BrokerSettingNames {
  const text = stripComments(settingsSource);
  const signingSuffixes = new Set([...text.matchAll(/\b(?:name|version)\("([A-Z][A-Z0-9_]*)"\)/g)].map((m) => m[1]!));
  const signingPrefix = /=>\s*`\$\{p\}([A-Z_]+)\$\{suffix\}`/.exec(text)?.[1];
  if (!signingPrefix) throw new Error("settings.ts: cannot find how the signing settings are named (`${p}SIGNING_${suffix}`)");
  const signing = [...signingSuffixes].map((suffix) => signingPrefix + suffix);

  const quoted = [...text.matchAll(/"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"/g)].map((m) => m[1]!);
  const global = new Set([...quoted.filter((name) => !signingSuffixes.has(name)), ...signing]);

  // A whole template literal `${p}SUFFIX`: `${p}SIGNING_${suffix}` is the signing helper, not a name.
  const templated = [...text.matchAll(/\$\{(?:p|profilePrefix|profileSettingPrefix\([^)]*\))\}([A-Z][A-Z0-9_]*[A-Z0-9])`/g)].map(
    (m) => m[1]!,
  );
  const profileSuffixes = new Set([...templated, ...signing]);
  return { global: [...global].sort(), profileSuffixes: [...profileSuffixes].sort() };
}

/** Settings other broker files read directly from the environment (e.g. AZURE_CLIENT_ID). */
export function runtimeSettingNames(runtimeSource: string): string[] {
  const text = stripComments(runtimeSource);
  const names = [...text.matchAll(/\b(?:settings|process\.env)\.([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]!);
  // Set by the platform on every Azure host, never by us; and the service principal settings that
  // only a broker outside Azure (the sandbox) uses.
  const platform = new Set([
    "IDENTITY_ENDPOINT",
    "MSI_ENDPOINT",
    "WEBSITE_INSTANCE_ID",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_AUTHORITY_HOST",
  ]);
  return [...new Set(names)].filter((name) => !platform.has(name)).sort();
}

export interface BicepSettingNames {
  global: Set<string>;
  profileSuffixes: Set<string>;
  /** Settings api.bicep adds itself (host storage, telemetry, identity). */
  platform: Set<string>;
}

export function bicepSettingNames(mainBicep: string, apiBicep: string): BicepSettingNames {
  const main = stripComments(mainBicep);
  const brokerBody = bicepVarBody(main, "brokerSettings") ?? "";
  const profileBody = bicepVarBody(main, "profileSettings") ?? "";
  const global = new Set([...brokerBody.matchAll(/^\s*([A-Z][A-Z0-9_]*)\s*:/gm)].map((m) => m[1]!));
  const profileSuffixes = new Set([...profileBody.matchAll(/'\$\{entry\.prefix\}([A-Z0-9_]+)'\s*:/g)].map((m) => m[1]!));
  const appSettings = bicepResources(apiBicep).find(
    (r) => r.type.startsWith("Microsoft.Web/sites/config@") && /name:\s*'appsettings'/.test(r.body),
  );
  const platform = new Set([...(appSettings?.body ?? "").matchAll(/^\s*([A-Za-z][A-Za-z0-9_]*)\s*:\s*(?!\{)/gm)].map((m) => m[1]!));
  return { global, profileSuffixes, platform };
}

/** Settings Flex Consumption rejects or that would put a key into the app's configuration. */
const FORBIDDEN_APP_SETTINGS = [
  "FUNCTIONS_WORKER_RUNTIME",
  "FUNCTIONS_EXTENSION_VERSION",
  "WEBSITE_RUN_FROM_PACKAGE",
  "AzureWebJobsStorage",
  "APPINSIGHTS_INSTRUMENTATIONKEY",
];

export function checkAppSettings(sources: InfraSources): string[] {
  const problems: string[] = [];
  const broker = brokerSettingNames(sources.settings);
  const bicep = bicepSettingNames(sources.mainBicep, sources.apiBicep);
  const main = stripComments(sources.mainBicep);
  const api = stripComments(sources.apiBicep);

  if (!bicepVarBody(main, "brokerSettings")) problems.push("main.bicep: var brokerSettings (the broker's app-wide settings) is missing");
  if (!bicepVarBody(main, "profileSettings")) problems.push("main.bicep: var profileSettings (the PROFILE_<NAME>_* settings) is missing");
  for (const name of broker.global) {
    if (!bicep.global.has(name)) problems.push(`app setting ${name} is read by settings.ts but not set by main.bicep brokerSettings`);
  }
  for (const suffix of broker.profileSuffixes) {
    if (!bicep.profileSuffixes.has(suffix)) {
      problems.push(`app setting PROFILE_<NAME>_${suffix} is read by settings.ts but not set per profile by main.bicep profileSettings`);
    }
  }
  // The per-profile prefix must be built exactly like profileSettingPrefix(): upper case, - to _.
  if (!/prefix:\s*'PROFILE_\$\{toUpper\(replace\(profile\.name,\s*'-',\s*'_'\)\)\}_'/.test(main)) {
    problems.push("main.bicep: profile prefix is not 'PROFILE_${toUpper(replace(profile.name, '-', '_'))}_' as in profileSettingPrefix()");
  }
  // Both maps must reach the function app's appsettings.
  if (!/brokerSettings:\s*union\(\s*brokerSettings\s*,\s*profileSettings\s*\)/.test(main)) {
    problems.push("main.bicep: the api module does not receive union(brokerSettings, profileSettings)");
  }
  if (!/properties:\s*union\(\s*brokerSettings\s*,/.test(api)) problems.push("api.bicep: appsettings do not include brokerSettings");

  for (const name of runtimeSettingNames(sources.runtime)) {
    if (!bicep.platform.has(name) && !bicep.global.has(name))
      problems.push(`app setting ${name} is read by the runtime but not set by api.bicep`);
  }
  for (const [file, source] of Object.entries(sources.functions)) {
    for (const match of stripComments(source).matchAll(/%([A-Z][A-Z0-9_]*)%/g)) {
      if (!bicep.global.has(match[1]!)) problems.push(`${file} binds %${match[1]}% but main.bicep does not set ${match[1]}`);
    }
  }
  for (const name of FORBIDDEN_APP_SETTINGS) {
    if (bicep.platform.has(name) || bicep.global.has(name))
      problems.push(`api.bicep sets ${name}, which Flex Consumption rejects or which carries a key`);
  }
  if (!/AzureWebJobsStorage__credential:\s*'managedidentity'/.test(api)) {
    problems.push("api.bicep: AzureWebJobsStorage must use the managed identity (AzureWebJobsStorage__credential: 'managedidentity')");
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Key Vault operations and role assignments

export type KeyVaultObject = "signing-certificate" | "signing-key" | "token-secret";

export interface KeyVaultOperation {
  /** `Client.method` or `new Client` as called in an adapter. */
  call: string;
  dataAction: string;
  object: KeyVaultObject;
}

/**
 * What each SDK call needs (learn.microsoft.com/azure/key-vault/general/rbac-guide). A call an
 * adapter makes that is not listed here fails the check: add it with the data action it needs.
 */
export const KEY_VAULT_CALLS: Record<string, Omit<KeyVaultOperation, "call">> = {
  "CertificateClient.getCertificate": { dataAction: "Microsoft.KeyVault/vaults/certificates/read", object: "signing-certificate" },
  "CertificateClient.getCertificateVersion": { dataAction: "Microsoft.KeyVault/vaults/certificates/read", object: "signing-certificate" },
  // While a renewal waits for its merge the signer looks for the newest issued version (listing is certificates/read too).
  "CertificateClient.listPropertiesOfCertificateVersions": {
    dataAction: "Microsoft.KeyVault/vaults/certificates/read",
    object: "signing-certificate",
  },
  "KeyClient.getKey": { dataAction: "Microsoft.KeyVault/vaults/keys/read", object: "signing-key" },
  // The client GETs the key before its first sign (and falls back to remote-only on a 403).
  "new CryptographyClient": { dataAction: "Microsoft.KeyVault/vaults/keys/read", object: "signing-key" },
  "CryptographyClient.sign": { dataAction: "Microsoft.KeyVault/vaults/keys/sign/action", object: "signing-key" },
  "SecretClient.getSecret": { dataAction: "Microsoft.KeyVault/vaults/secrets/getSecret/action", object: "token-secret" },
  "SecretClient.setSecret": { dataAction: "Microsoft.KeyVault/vaults/secrets/setSecret/action", object: "token-secret" },
  "SecretClient.listPropertiesOfSecretVersions": {
    dataAction: "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
    object: "token-secret",
  },
};

/** Creating a client sends nothing; its methods do. */
const NO_REQUEST_CALLS = new Set(["new SecretClient", "new KeyClient", "new CertificateClient"]);

/**
 * Data actions of the built-in Key Vault roles, by role definition id: the very table the sandbox's
 * Key Vault stand-in enforces (sandbox/keyvault/rbac.ts), so the infra check and the sandbox cannot
 * disagree about what a role allows.
 */
export const ROLE_DATA_ACTIONS: Record<string, { name: string; dataActions: readonly string[] }> = Object.fromEntries(
  BUILT_IN_KEY_VAULT_ROLES.map((role) => [role.id, { name: role.name, dataActions: role.dataActions }]),
);

const CLIENT_CLASSES = { SecretClient, KeyClient, CryptographyClient, CertificateClient } as const;

/** Every Key Vault SDK call in the adapters: `new X(` and `.method(` for each SDK method name. */
export function keyVaultCalls(adapters: Record<string, string>): { file: string; call: string }[] {
  const methods = new Map<string, string[]>();
  for (const [className, cls] of Object.entries(CLIENT_CLASSES)) {
    for (const method of Object.getOwnPropertyNames(cls.prototype)) {
      if (method === "constructor") continue;
      methods.set(method, [...(methods.get(method) ?? []), className]);
    }
  }
  const calls: { file: string; call: string }[] = [];
  for (const [file, source] of Object.entries(adapters)) {
    const text = stripComments(source);
    for (const className of Object.keys(CLIENT_CLASSES)) {
      if (new RegExp(`\\bnew\\s+${className}\\s*\\(`).test(text)) calls.push({ file, call: `new ${className}` });
    }
    for (const match of text.matchAll(/\.(\w+)\s*\(/g)) {
      for (const className of methods.get(match[1]!) ?? []) calls.push({ file, call: `${className}.${match[1]}` });
    }
  }
  const seen = new Set<string>();
  return calls.filter(({ file, call }) => !seen.has(file + call) && seen.add(file + call));
}

/** Which rbac.bicep loop holds the objects of each kind the broker touches. */
const OBJECT_SCOPES: Record<KeyVaultObject, { type: string; loopSource: string }> = {
  "signing-certificate": { type: "Microsoft.KeyVault/vaults/certificates", loopSource: "signingCertificateNames" },
  "signing-key": { type: "Microsoft.KeyVault/vaults/keys", loopSource: "signingKeyNames" },
  "token-secret": { type: "Microsoft.KeyVault/vaults/secrets", loopSource: "tokenSecretNames" },
};

export interface RoleAssignment {
  symbol: string;
  roleId: string | undefined;
  principal: string;
  scope: BicepResource | undefined;
  scopeSymbol: string;
  /** Where in rbac-roles.json (`keyVault.<principal>.<object>`) the role comes from, if it does. */
  fromJson?: { principal: string; object: string };
}

/** infra/rbac-roles.json, as rbac.bicep and the sandbox read it. */
export interface RbacRoles {
  roleDefinitionIds: Record<string, string>;
  keyVault: Record<string, Record<string, string>>;
}

/**
 * rbac.bicep's role assignments with the role each assigns: a literal id, `roleIds.<name>` or
 * `roleIds[keyVaultRoles.<principal>.<object>]`, where roleIds and keyVaultRoles come from
 * rbac-roles.json (loadJsonContent) or, in an older rbac.bicep, a literal `var roleIds = {…}`.
 */
export function roleAssignments(rbacBicep: string, rbacRolesJson: string): RoleAssignment[] {
  const resources = bicepResources(rbacBicep);
  const rbacRoles = JSON.parse(rbacRolesJson) as RbacRoles;
  const literalIds = stringEntries(bicepVarBody(stripComments(rbacBicep), "roleIds") ?? "");
  const roleIds = literalIds.size > 0 ? literalIds : new Map(Object.entries(rbacRoles.roleDefinitionIds));
  return resources
    .filter((r) => r.type.startsWith("Microsoft.Authorization/roleAssignments@"))
    .map((r) => {
      const scopeSymbol = /^\s*scope:\s*(\w+)/m.exec(r.body)?.[1] ?? "(resource group)";
      const fromJson = /roleDefinitions'\s*,\s*roleIds\[keyVaultRoles\.(\w+)\.(\w+)\]\)/.exec(r.body);
      const roleName = fromJson
        ? rbacRoles.keyVault[fromJson[1]!]?.[fromJson[2]!]
        : /roleDefinitions'\s*,\s*roleIds\.(\w+)\)/.exec(r.body)?.[1];
      const literalId = /roleDefinitions'\s*,\s*'([0-9a-f-]{36})'\)/.exec(r.body)?.[1];
      return {
        symbol: r.symbol,
        roleId: literalId ?? (roleName ? roleIds.get(roleName) : undefined),
        ...(fromJson ? { fromJson: { principal: fromJson[1]!, object: fromJson[2]! } } : {}),
        principal: /^\s*principalId:\s*([\w.]+)/m.exec(r.body)?.[1] ?? "",
        scope: resources.find((s) => s.symbol === scopeSymbol),
        scopeSymbol,
      };
    });
}

/** Whether a role's data actions cover `wanted`, wildcards matched as Key Vault (and the sandbox) match them. */
function grants(dataActions: readonly string[], wanted: string): boolean {
  return dataActions.some((action) => actionMatches(action, wanted));
}

/** The parameter rbac.bicep knows the broker's identity by. */
export const BROKER_PRINCIPAL = "identityPrincipalId";

export function checkKeyVaultRoles(sources: InfraSources): string[] {
  const problems: string[] = [];
  const assignments = roleAssignments(sources.rbacBicep, sources.rbacRolesJson);
  const broker = assignments.filter((a) => a.principal === BROKER_PRINCIPAL);

  for (const { file, call } of keyVaultCalls(sources.adapters)) {
    if (NO_REQUEST_CALLS.has(call)) continue;
    const need = KEY_VAULT_CALLS[call];
    if (!need) {
      problems.push(
        `${file} calls ${call}, which has no entry in KEY_VAULT_CALLS: add the data action it needs and a role assignment in rbac.bicep`,
      );
      continue;
    }
    const where = OBJECT_SCOPES[need.object];
    const granted = broker.some(
      (a) =>
        a.scope?.type.startsWith(`${where.type}@`) &&
        a.scope.loopSource === where.loopSource &&
        a.roleId !== undefined &&
        grants(ROLE_DATA_ACTIONS[a.roleId]?.dataActions ?? [], need.dataAction),
    );
    if (!granted) {
      problems.push(
        `${file} calls ${call} (${need.dataAction} on each ${need.object}) but rbac.bicep grants it to the broker on no ${where.loopSource} object`,
      );
    }
  }

  // Narrowest scope: Key Vault rights on single objects only, never on the vault or above.
  for (const a of broker) {
    const role = a.roleId ? ROLE_DATA_ACTIONS[a.roleId] : undefined;
    if (!role) continue; // storage and telemetry roles are checked by their own scope below
    if (!a.scope || !/^Microsoft\.KeyVault\/vaults\/\w+@/.test(a.scope.type)) {
      problems.push(
        `rbac.bicep ${a.symbol}: ${role.name} for the broker is scoped to ${a.scope?.type ?? a.scopeSymbol}, not to single Key Vault objects`,
      );
    }
  }
  for (const a of assignments) {
    if (!a.roleId) problems.push(`rbac.bicep ${a.symbol}: cannot tell which role it assigns`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Nothing secret as a plain parameter or an output

const IDENTIFIER_SUFFIX = /(name|names|id|ids|uri|url|version|type|kind|sku|schedule|ratio)$/i;
const SECRET_WORDS =
  /(secret|password|passwd|passphrase|pwd|credential|connection_?string|sas|apikey|api_key|accountkey|account_key|privatekey|private_key|certificatedata|pfx|p12)/i;

/** True for names that would hold a secret value (not the name or id of something secret). */
export function looksSecret(name: string): boolean {
  if (IDENTIFIER_SUFFIX.test(name)) return false;
  return SECRET_WORDS.test(name) || /key$/i.test(name) || /token$/i.test(name);
}

export function checkNoPlainSecrets(sources: InfraSources): string[] {
  const problems: string[] = [];
  for (const [file, source] of Object.entries(sources.bicepFiles)) {
    for (const param of bicepParams(source)) {
      if (looksSecret(param.name) && !param.secure) problems.push(`${file}: param ${param.name} looks secret but is not @secure()`);
    }
    for (const output of bicepOutputs(source)) {
      if (looksSecret(output.name))
        problems.push(`${file}: output ${output.name} looks secret; outputs are stored in the deployment history`);
      if (/\blist\w*\(|\.listKeys\(|secrets?\.properties\.value/i.test(output.value)) {
        problems.push(`${file}: output ${output.name} returns a key or secret value`);
      }
    }
    if (/\blistKeys\(|\blistAccountSas\(|\blistServiceSas\(/.test(stripComments(source))) {
      problems.push(`${file}: reads a storage key or SAS; everything here authenticates with Entra ID`);
    }
  }
  const parameters = (JSON.parse(sources.parametersJson) as { parameters?: Record<string, unknown> }).parameters ?? {};
  for (const name of Object.keys(parameters)) {
    if (looksSecret(name))
      problems.push(`main.parameters.json: ${name} looks secret; pass secrets as @secure() params or keep them in Key Vault`);
  }
  return problems;
}

export function checkContract(sources: InfraSources): string[] {
  return [...checkAppSettings(sources), ...checkKeyVaultRoles(sources), ...checkNoPlainSecrets(sources)];
}

// ---------------------------------------------------------------------------------------------
// Alert queries against the broker's log lines

export interface AlertQuery {
  /** Terms the query requires with `Message has "..."`. */
  terms: string[];
  /** `tostring(entry.<field>) == "<value>"` conditions on the parsed JSON. */
  equals: Record<string, string>;
  /** Fields the query projects from the entry (`name = tostring(entry.<field>)`). */
  projected: string[];
}

/** The parts of alerts.bicep's KQL that decide which log lines count. */
export function alertQuery(kql: string): AlertQuery {
  return {
    terms: [...kql.matchAll(/Message has "([^"]+)"/g)].map((m) => m[1]!),
    equals: Object.fromEntries([...kql.matchAll(/tostring\(entry\.(\w+)\)\s*==\s*"([^"]+)"/g)].map((m) => [m[1]!, m[2]!])),
    projected: [...kql.matchAll(/\w+\s*=\s*to\w+\(entry\.(\w+)\)/g)].map((m) => m[1]!),
  };
}

/**
 * Whether a log line, as the host writes it to AppTraces.Message, is one the query counts. Mirrors
 * the KQL: term filter, the JSON object taken out of the message, field equality.
 */
export function alertQueryMatches(query: AlertQuery, message: string): boolean {
  const terms = new Set(message.split(/[^A-Za-z0-9_-]+/).filter(Boolean));
  if (!query.terms.every((term) => terms.has(term))) return false;
  const json = /(\{.*\})/.exec(message)?.[1];
  if (!json) return false;
  const entry = JSON.parse(json) as Record<string, unknown>;
  return Object.entries(query.equals).every(([field, value]) => String(entry[field]) === value);
}
