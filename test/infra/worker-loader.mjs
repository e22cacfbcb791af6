/**
 * Loads a function app folder the way the Azure Functions Node worker does
 * (Azure/azure-functions-nodejs-worker: src/setupCoreModule.ts, src/startApp.ts, src/loadScriptFile.ts):
 * `@azure/functions-core` is served by intercepting Module.prototype.require, package.json `main`
 * is a glob relative to the folder, and each matching file is import()ed when it is an ES module
 * (.mjs, or package.json type "module") and require()d otherwise. Prints one JSON line: Node's
 * version, the files loaded, the programming model set, and every function registered with its bindings.
 *
 * Usage: node test/infra/worker-loader.mjs <function app folder>
 */
import { globSync, readFileSync } from "node:fs";
import Module, { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const folder = resolve(process.argv[2] ?? ".");
const registered = [];
const models = [];

class Disposable {
  constructor(callback) {
    this.callback = callback;
  }
  dispose() {
    this.callback?.();
  }
}

const coreApi = {
  version: "3.12.0",
  hostVersion: "4.1041.0",
  registerHook: () => new Disposable(),
  setProgrammingModel: (model) => models.push({ name: model.name, version: model.version }),
  getProgrammingModel: () => models.at(-1),
  log: () => {},
  registerFunction: (metadata) => {
    registered.push({
      name: metadata.name,
      bindings: Object.values(metadata.bindings ?? {})
        .map((binding) => `${binding.type}:${binding.direction}`)
        .sort(),
    });
    return new Disposable();
  },
  Disposable,
};

Module.prototype.require = new Proxy(Module.prototype.require, {
  apply(target, thisArg, args) {
    return args[0] === "@azure/functions-core" ? coreApi : Reflect.apply(target, thisArg, args);
  },
});

const packageJson = JSON.parse(readFileSync(join(folder, "package.json"), "utf8"));
const files = globSync(packageJson.main, { cwd: folder }).sort();
if (files.length === 0) throw new Error(`package.json main "${packageJson.main}" matches no file in ${folder}`);
const isESModule = (file) => (file.endsWith(".mjs") ? true : file.endsWith(".cjs") ? false : packageJson.type === "module");
for (const file of files) {
  const path = join(folder, file);
  if (isESModule(path)) await import(pathToFileURL(path).href);
  else createRequire(path)(path);
}
process.stdout.write(`${JSON.stringify({ node: process.versions.node, files, models, registered })}\n`);
