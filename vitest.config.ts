import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    testTimeout: 20_000,
    hookTimeout: 60_000,
    // Stand-ins bind 127.0.0.1 ports per test file; files run in parallel workers.
    pool: "forks",
    // Every test file: record logs, console output, error messages and HTTP bodies, and fail the
    // file if a token, grant, signature or keystore password shows up in them.
    setupFiles: ["test/support/leak-scan-setup.ts"],
    // `include` is set per project only: `extends: true` concatenates arrays with the root's.
    projects: [
      { extends: true, test: { name: "unit", include: ["test/**/*.test.ts"], exclude: ["test/lowkey/**"] } },
      {
        extends: true,
        test: {
          name: "lowkey",
          include: ["test/lowkey/**/*.test.ts"],
          // One Lowkey Vault JVM for the whole run; vitest runs it only when a lowkey file is selected.
          globalSetup: ["test/support/lowkey-vault-setup.ts"],
          // A cold JVM start can take longer than the stand-ins' hook budget.
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
