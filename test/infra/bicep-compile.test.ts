/**
 * infra/ through the real Bicep compiler and linter (the pinned CLI that scripts/install-bicep.sh
 * installs; .ci/run installs it and sets BICEP_REQUIRED=1, so there a missing CLI fails instead of
 * skipping). Also: the parameters azd passes (main.parameters.json) against main.bicep's declared
 * parameters, and the azd environment values the scripts read against its outputs.
 *
 * Not checked here, because the Graph extension cannot be restored offline: the inside of
 * app/entra.bicep (Graph resource types, property names and values, its expressions). main.bicep
 * is compiled against a stand-in with the same parameter declarations and output names and types.
 * BICEP_GRAPH_EXTENSION=<extension .tgz> compiles the real file against that extension as well
 * (README.md, "The Bicep compiler's checks", says how to make one).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bicepFiles,
  buildMain,
  findBicepCli,
  graphModule,
  infraCopy,
  infraDir,
  interfaceOf,
  repoRoot,
  standInModule,
  type BuildResult,
  type Diagnostic,
} from "./bicep-cli.js";

const cli = findBicepCli();
const graphExtension = process.env.BICEP_GRAPH_EXTENSION;
const required = process.env.BICEP_REQUIRED === "1";
const missingReason =
  `no Bicep CLI found (BICEP_CLI, .cache/bicep/bicep, bicep on PATH, ~/.azure/bin/bicep): run scripts/install-bicep.sh ` +
  `(restores the pinned CLI with dotnet into .cache/bicep) or set BICEP_CLI=<path to bicep>`;

const show = (diagnostics: Diagnostic[]) => diagnostics.map((d) => `${d.file}:${d.line} ${d.level} ${d.code}: ${d.message}`).join("\n");

/** Errors and warnings, except those in the generated stand-in (which is not the real file). */
const findings = (result: BuildResult) =>
  result.diagnostics.filter((d) => (d.level === "error" || d.level === "warning") && d.file !== graphModule);

/** Files main.bicep reaches through `module`, `import ... from` and `using`, transitively. */
function referencedFiles(): Set<string> {
  const seen = new Set<string>(["main.bicep"]);
  const queue = ["main.bicep"];
  while (queue.length > 0) {
    const file = queue.pop()!;
    const dir = file.includes("/") ? file.slice(0, file.lastIndexOf("/") + 1) : "";
    const text = readFileSync(join(infraDir, file), "utf8");
    for (const [, path] of text.matchAll(/(?:^module\s+\w+|^import\s.*\bfrom)\s+'([^']+\.bicep)'/gm)) {
      const target = join(dir, path!).split("\\").join("/");
      if (!seen.has(target)) {
        seen.add(target);
        queue.push(target);
      }
    }
  }
  return seen;
}

if (!cli.path) {
  // CI (BICEP_REQUIRED=1) fails without the CLI; elsewhere the run says so instead of counting a placeholder test.
  if (required) describe("Bicep CLI", () => it("is installed (BICEP_REQUIRED=1)", () => expect.fail(missingReason)));
  else console.warn(`infra/ not compiled: ${missingReason}`);
}

describe.runIf(cli.path)("infra/ compiled and linted by the Bicep CLI", () => {
  let real: BuildResult;
  let planted: BuildResult;
  let withGraph: BuildResult | undefined;
  const copies: { remove(): void }[] = [];

  beforeAll(async () => {
    const realCopy = infraCopy();
    // Three planted mistakes, one per kind: a property the resource type does not have, a value of
    // the wrong type, and an output the Graph module does not declare.
    const plantedCopy = infraCopy((files) => {
      const storage = files.read("app/storage.bicep");
      files.write("app/storage.bicep", storage.replace("allowBlobPublicAccess: false", "allowBlobPublicAcess: false"));
      const vault = files.read("app/keyvault.bicep");
      files.write("app/keyvault.bicep", vault.replace("softDeleteRetentionInDays: 90", "softDeleteRetentionInDays: '90'"));
      const main = files.read("main.bicep");
      files.write("main.bicep", main.replace("entra.outputs.appId}", "entra.outputs.applicationId}"));
    });
    copies.push(realCopy, plantedCopy);
    const graphCopy = graphExtension ? infraCopy(undefined, { graphExtension }) : undefined;
    if (graphCopy) copies.push(graphCopy);
    [real, planted, withGraph] = await Promise.all([
      buildMain(cli.path!, realCopy.dir),
      buildMain(cli.path!, plantedCopy.dir),
      graphCopy ? buildMain(cli.path!, graphCopy.dir) : undefined,
    ]);
  }, 120_000);

  afterAll(() => copies.forEach((copy) => copy.remove()));

  it("compiles main.bicep with every module, with no compiler or linter error or warning", () => {
    expect(show(findings(real))).toBe("");
    expect(real.ok).toBe(true);
    expect(real.template).toBeDefined();
  });

  it.runIf(graphExtension)("compiles the real app/entra.bicep against the Graph extension in BICEP_GRAPH_EXTENSION", () => {
    const all = withGraph!.diagnostics.filter((d) => d.level === "error" || d.level === "warning");
    expect(show(all)).toBe("");
    expect(withGraph!.ok).toBe(true);
  });

  it("reaches every .bicep file under infra/ from main.bicep, so none goes uncompiled", () => {
    expect([...referencedFiles()].sort()).toEqual(bicepFiles());
  });

  it("fails on a wrong property name, a wrong value type and an unknown module output", () => {
    const found = findings(planted);
    expect(planted.ok).toBe(false);
    expect(found.find((d) => d.file === "app/storage.bicep" && /allowBlobPublicAcess/.test(d.message))?.code).toMatch(/^BCP0(37|89)$/);
    expect(found.find((d) => d.file === "app/keyvault.bicep" && /softDeleteRetentionInDays|"int"/.test(d.message))?.code).toMatch(
      /^BCP0(33|36)$/,
    );
    expect(found.find((d) => d.file === "main.bicep" && /applicationId/.test(d.message))?.code).toBe("BCP053");
  });

  it("turns every linter rule of the config into an error or names why it is off", () => {
    const text = readFileSync(join(infraDir, "bicepconfig.json"), "utf8");
    const rules = [...text.matchAll(/^(\s*\/\/[^\n]*\n)?\s*"([a-z0-9-]+)": \{ "level": "(\w+)" \}/gm)];
    expect(rules.length).toBeGreaterThan(40);
    for (const [, comment, rule, level] of rules) {
      if (level === "error") continue;
      expect(level, rule).toBe("off");
      expect(comment?.trim().length ?? 0, `${rule} is off without a reason`).toBeGreaterThan(20);
    }
  });

  it("gives every parameter of main.bicep and every profiles.json property a description", () => {
    const template = real.template!;
    const undocumented = Object.entries(template.parameters)
      .filter(([, p]) => !p.metadata?.description)
      .map(([name]) => name);
    expect(undocumented).toEqual([]);
    const profile = template.definitions?.tokenProfile?.properties ?? {};
    expect(Object.keys(profile).length).toBeGreaterThan(10);
    const signing = template.definitions?.profileSigning?.properties ?? {};
    const undocumentedProperties = Object.entries({ ...profile, ...signing })
      .filter(([, p]) => !p.metadata?.description)
      .map(([name]) => name);
    expect(undocumentedProperties).toEqual([]);
  });

  it("compiles the network hardening option: off by default, VNet, endpoints and firewall switched by vnetEnabled", () => {
    const template = real.template as unknown as {
      parameters: Record<string, { defaultValue?: unknown }>;
      resources: Record<string, { condition?: string; properties?: { parameters?: Record<string, { value?: unknown }> } }>;
    };
    expect(template.parameters.vnetEnabled?.defaultValue).toBe(false);
    for (const module of ["network", "keyVaultEndpoint", "storageBlobEndpoint"]) {
      expect(template.resources[module]?.condition, module).toBe("[parameters('vnetEnabled')]");
    }
    const passed = (module: string, name: string) => JSON.stringify(template.resources[module]?.properties?.parameters?.[name]?.value);
    expect(passed("keyVault", "privateNetworkOnly")).toContain("parameters('vnetEnabled')");
    expect(passed("storage", "privateNetworkOnly")).toContain("parameters('vnetEnabled')");
    expect(passed("api", "virtualNetworkSubnetId")).toContain("appSubnetId");
    expect(passed("keyVaultEndpoint", "groupId")).toBe('"vault"');
    expect(passed("storageBlobEndpoint", "groupId")).toBe('"blob"');
  });

  describe("main.parameters.json (what azd passes)", () => {
    const file = JSON.parse(readFileSync(join(infraDir, "main.parameters.json"), "utf8")) as {
      parameters: Record<string, { value: unknown }>;
    };
    const passed = Object.entries(file.parameters);
    const reference = (value: unknown) => (typeof value === "string" ? /^\$\{([A-Z0-9_]+)(?:=(.*))?\}$/s.exec(value) : null);

    it("names only parameters main.bicep declares, and provides every required one", () => {
      const declared = real.template!.parameters;
      expect(passed.map(([name]) => name).filter((name) => !(name in declared))).toEqual([]);
      const requiredParams = Object.entries(declared)
        .filter(([, p]) => !("defaultValue" in p))
        .map(([name]) => name);
      expect(requiredParams.length).toBeGreaterThan(0);
      expect(requiredParams.filter((name) => !(name in file.parameters))).toEqual([]);
    });

    it("passes azd ${VAR} / ${VAR=default} references whose defaults the parameter accepts", () => {
      const declared = real.template!.parameters;
      for (const [name, { value }] of passed) {
        const match = reference(value);
        expect(match, `${name}: ${JSON.stringify(value)} is not \${VAR} or \${VAR=default}`).not.toBeNull();
        const fallback = match![2];
        const param = declared[name]!;
        // A required parameter without a default gets its value from azd itself (AZURE_ENV_NAME, AZURE_LOCATION).
        if (fallback === undefined) {
          expect(["AZURE_ENV_NAME", "AZURE_LOCATION", "AZURE_PRINCIPAL_ID"], name).toContain(match![1]);
          continue;
        }
        const typed = param.type === "bool" ? fallback === "true" : param.type === "int" ? Number(fallback) : fallback;
        if (param.type === "bool") expect(["true", "false"], name).toContain(fallback);
        if (param.type === "int") expect(Number.isInteger(typed), name).toBe(true);
        if (param.allowedValues) expect(param.allowedValues, name).toContain(typed);
        if ("defaultValue" in param && typeof param.defaultValue !== "object") {
          expect(typed, `${name}: the file's default differs from main.bicep's`).toEqual(param.defaultValue);
        }
      }
    });

    it("covers every azd environment value the README and scripts tell users to set", () => {
      const texts = [
        readFileSync(join(repoRoot, "README.md"), "utf8"),
        ...["import-certificate.sh", "export-public-jwk.ts", "grant-caller-role.sh", "grant-secret-reader.sh"].map((f) =>
          readFileSync(join(repoRoot, "scripts/azure", f), "utf8"),
        ),
      ];
      const set = new Set(texts.flatMap((t) => [...t.matchAll(/azd env set ([A-Z][A-Z0-9_]+)/g)].map((m) => m[1]!)));
      const consumed = new Set(passed.map(([, { value }]) => reference(value)?.[1]).filter(Boolean));
      expect(set.size).toBeGreaterThan(2);
      expect([...set].filter((name) => !consumed.has(name))).toEqual([]);
    });

    it("outputs every azd environment value the scripts read", () => {
      const scripts = ["import-certificate.sh", "grant-caller-role.sh", "grant-secret-reader.sh"].map((f) =>
        readFileSync(join(repoRoot, "scripts/azure", f), "utf8"),
      );
      const read = new Set(scripts.flatMap((t) => [...t.matchAll(/(?:azd env get-value|azd_value) ([A-Z][A-Z0-9_]+)/g)].map((m) => m[1]!)));
      expect(read.size).toBeGreaterThan(1);
      expect([...read].filter((name) => !(name in real.template!.outputs))).toEqual([]);
    });
  });
});

describe("stand-in of the Graph module", () => {
  const real = readFileSync(join(infraDir, graphModule), "utf8");

  it("declares the real file's parameters verbatim and its outputs by name and type, and nothing that needs Graph", () => {
    const original = interfaceOf(real);
    const standIn = interfaceOf(standInModule(real));
    expect(original.params.map((p) => p.name)).toEqual(["uniqueName", "displayName", "identifierUri", "appRoles", "callerAssignments"]);
    expect(standIn.params).toEqual(original.params);
    expect(standIn.outputs).toEqual(original.outputs);
    expect(original.outputs.map((o) => o.name)).toEqual(["appId", "identifierUri", "servicePrincipalId"]);
    expect(standInModule(real)).not.toMatch(/extension|resource /);
  });
});
