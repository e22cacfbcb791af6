import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    testTimeout: 20_000,
    hookTimeout: 60_000,
    // Stand-ins bind 127.0.0.1 ports per test file; files run in parallel workers.
    pool: "forks",
    // Every test file: record logs, console output, error messages and HTTP bodies, and fail the
    // file if a token, grant, signature or keystore password shows up in them. Property tests run
    // on a fixed seed (FC_SEED to change it).
    setupFiles: ["test/support/leak-scan-setup.ts", "test/support/fast-check-seed.ts"],
    include: ["test/**/*.test.ts"],
  },
});
