import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 20_000,
    hookTimeout: 60_000,
    // Stand-ins bind 127.0.0.1 ports per test file; files run in parallel workers.
    pool: "forks",
  },
});
