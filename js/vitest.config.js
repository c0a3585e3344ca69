import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    environment: "happy-dom",
    include: ["test/**/*.test.js"],
    reporters: ["default", "./test/summary-reporter.js"],
    // A test is judged by what it asserts, never by how fast a loaded 2-core CI machine runs it.
    testTimeout: 60_000,
  },
});
