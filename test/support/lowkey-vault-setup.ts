/**
 * vitest globalSetup of the "lowkey" project: starts ONE Lowkey Vault for every test file under
 * test/lowkey/ and provides its connection to them (`inject("lowkeyVault")`). Vitest runs a
 * project's globalSetup only when that project has files in the run, so other runs pay nothing.
 *
 * Skips (with the reason printed once) only when there is no usable Java, or when the Maven
 * registry does not serve the pinned jar; `LOWKEY_VAULT_REQUIRED=1` makes both fatal. A failed
 * fetch for any other reason, or a failed start, fails the run.
 */
import type { TestProject } from "vitest/node";
import {
  lowkeyVaultUnavailableReason,
  resolveLowkeyVaultJar,
  startLowkeyVault,
  type LowkeyVaultConnection,
} from "./lowkey-vault.js";

export type LowkeyVaultProvided =
  | { available: true; connection: LowkeyVaultConnection }
  | { available: false; reason: string };

declare module "vitest" {
  export interface ProvidedContext {
    lowkeyVault: LowkeyVaultProvided;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const required = process.env.LOWKEY_VAULT_REQUIRED === "1";
  const unavailable = (reason: string) => {
    if (required) throw new Error(`Lowkey Vault tests are required (LOWKEY_VAULT_REQUIRED=1) but cannot run: ${reason}`);
    console.warn(`\n[lowkey-vault] SKIPPING the Lowkey Vault tests: ${reason}\n`);
    project.provide("lowkeyVault", { available: false, reason });
    return async () => {};
  };

  const noJava = lowkeyVaultUnavailableReason();
  if (noJava) return unavailable(noJava);

  const jar = resolveLowkeyVaultJar();
  if ("notServed" in jar) return unavailable(jar.notServed);

  const vault = await startLowkeyVault({ jarPath: jar.jarPath });
  console.info(`[lowkey-vault] ${vault.vaultUrl} ready in ${vault.startSeconds} s`);
  const { stop, ...connection } = vault;
  project.provide("lowkeyVault", { available: true, connection });
  return stop;
}
