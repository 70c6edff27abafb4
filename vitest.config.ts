import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "src/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    // Suites start real servers and databases; a shared 2-core machine needs room, not speed limits.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
  },
});
