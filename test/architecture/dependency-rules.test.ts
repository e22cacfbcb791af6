import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  ADAPTERS,
  CORE,
  findViolations,
  importSpecifiers,
  repositoryRoot,
  sourceFiles,
  staleAllowances,
  type AllowedViolation,
} from "./dependency-rules.js";

/**
 * Known debts: imports that break a rule and stay until the work named beside them is done. Shrink
 * this list; never grow it without a reason a reviewer accepts. A stale entry fails the suite.
 */
const ALLOWED: readonly AllowedViolation[] = [
  {
    from: "src/auth/verifier",
    to: "src/auth/entra-key-set",
    why: "the key set is injectable (CallerVerifierOptions.keySet, a plain JWTVerifyGetKey); the verifier builds Entra's by default so that its callers need not, and keeps its key-set settings in one place",
  },
];

describe("dependency rules of the repository", () => {
  it("no import breaks a rule beyond the allow-list", () => {
    expect(findViolations(repositoryRoot(), ALLOWED)).toEqual([]);
  });

  it("every allow-list entry is still needed", () => {
    expect(staleAllowances(repositoryRoot(), ALLOWED)).toEqual([]);
  });
});

describe("the dependency rule check", () => {
  let root: string | undefined;
  afterEach(() => {
    if (root) rmSync(root, { recursive: true, force: true });
    root = undefined;
  });

  function tree(files: Record<string, string>): string {
    root = mkdtempSync(join(tmpdir(), "dependency-rules-"));
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    return root;
  }

  it("reads static, multi-line, type-only, re-export, side-effect and dynamic imports, not comments", () => {
    const text = [
      `import { a } from "./a.js";`,
      `import type { B } from '../b.js';`,
      `import {`,
      `  c,`,
      `  type D,`,
      `} from "./c.js";`,
      `export { e } from "./e.js";`,
      `export * from "./f.js";`,
      `import "./g.js";`,
      `const h = await import("./h.js");`,
      ` * import { no } from "./in-a-comment.js";`,
      `const s = "x from './not-an-import.js'";`,
    ].join("\n");
    expect(importSpecifiers(text).sort()).toEqual(["../b.js", "./a.js", "./c.js", "./e.js", "./f.js", "./g.js", "./h.js"]);
  });

  it("catches planted violations of every rule and leaves the allowed directions alone", () => {
    const planted = tree({
      "src/renewal/bad.ts": `import { SecretClient } from "@azure/keyvault-secrets";\nimport type { X } from "../keyvault/token-store.js";\n`,
      "src/http/bad.ts": `import type { Broker } from "../broker.js";\n`,
      "src/cli/bad.ts": `import { withRuntime } from "../../functions/with-runtime.js";\n`,
      "src/errors.ts": `import { startSandbox } from "../sandbox/sandbox.js";\n`,
      "functions/bad.ts": `import { helper } from "../test/support/credentials.js";\n`,
      "bin/bad.js": `await import("../bench/main.js");\n`,
      "scripts/bad.mjs": `import "../sandbox/main.js";\n`,
      // Allowed: adapters import the core and @azure/*, the sandbox and tests import anything.
      "src/keyvault/token-store.ts": `import { SecretClient } from "@azure/keyvault-secrets";\nimport { ErrorCode } from "../errors.js";\n`,
      "src/broker.ts": `import { createKeyVaultTokenStore } from "./keyvault/token-store.js";\n`,
      "sandbox/sandbox.ts": `import { createBroker } from "../src/broker.js";\n`,
      "test/ok.test.ts": `import { startSandbox } from "../sandbox/sandbox.js";\nimport { x } from "../src/keyvault/token-store.js";\n`,
      "src/renewal/fine.ts": `import { ErrorCode } from "../errors.js";\nimport { createHash } from "node:crypto";\nimport { base64url } from "jose";\n`,
    });
    const found = findViolations(planted).map((v) => `${v.file} ${v.specifier}: ${v.rule}`);
    expect(found.sort()).toEqual(
      [
        "bin/bad.js ../bench/main.js: what ships (src/, functions/, bin/) never imports sandbox/, test/, bench/ or soak/",
        "functions/bad.ts ../test/support/credentials.js: what ships (src/, functions/, bin/) never imports sandbox/, test/, bench/ or soak/",
        "scripts/bad.mjs ../sandbox/main.js: only sandbox/, test/, bench/ and soak/ import sandbox/",
        "src/cli/bad.ts ../../functions/with-runtime.js: src/ never imports functions/ (function files are the thin edge)",
        "src/errors.ts ../sandbox/sandbox.js: only sandbox/, test/, bench/ and soak/ import sandbox/",
        "src/errors.ts ../sandbox/sandbox.js: what ships (src/, functions/, bin/) never imports sandbox/, test/, bench/ or soak/",
        "src/http/bad.ts ../broker.js: the core never imports an adapter",
        "src/renewal/bad.ts ../keyvault/token-store.js: the core never imports an adapter",
        "src/renewal/bad.ts @azure/keyvault-secrets: the core never imports @azure/*",
      ].sort(),
    );
  });

  it("skips allowed imports and reports allow-list entries nothing needs", () => {
    const planted = tree({ "src/http/bad.ts": `import type { Broker } from "../broker.js";\n` });
    const allowed = [
      { from: "src/http/bad", to: "src/broker", why: "planted" },
      { from: "src/http/gone", to: "src/broker", why: "stale" },
    ];
    expect(findViolations(planted, allowed)).toEqual([]);
    expect(staleAllowances(planted, allowed).map((a) => a.why)).toEqual(["stale"]);
  });
});

describe("the rule's coverage", () => {
  it("places every source file under src/ in the core or among the adapters", () => {
    const placed = (file: string) =>
      [...CORE, ...ADAPTERS].some((area) => (area.endsWith("/") ? file.startsWith(area) : file.replace(/\.[cm]?[jt]s$/, "") === area));
    expect(sourceFiles(repositoryRoot()).filter((file) => file.startsWith("src/") && !placed(file))).toEqual([]);
  });
});
