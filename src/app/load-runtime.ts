/**
 * getRuntime() for the function files, with the runtime module (the broker, the Key Vault SDKs and,
 * later, @azure/identity) loaded on the first invocation instead of when the worker imports the app.
 * In the deployed bundle that module is a separate chunk: importing the entry, and the indexing of
 * the functions that waits for it, costs little more than a bare @azure/functions app.
 */
import type { Runtime } from "./runtime.js";

let runtimeModule: typeof import("./runtime.js") | undefined;

export async function loadRuntime(): Promise<Runtime> {
  runtimeModule ??= await import("./runtime.js");
  return runtimeModule.getRuntime();
}

/** The runtime without waiting, once its module has loaded (else undefined): the per-request path. Throws as getRuntime(). */
export function loadedRuntime(): Runtime | undefined {
  return runtimeModule?.getRuntime();
}
