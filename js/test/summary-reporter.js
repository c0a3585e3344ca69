// Ends `npm test` with one plain line, "N passed, N failed", after vitest's own summary, so a
// CI log reader finds the result in a standard form. A test file that could not run (syntax
// error, failing import) and an error thrown outside any test each count as one failure.
export default class SummaryReporter {
  onTestRunEnd(testModules, unhandledErrors = []) {
    let passed = 0;
    let failed = unhandledErrors.length;
    for (const mod of testModules) {
      for (const test of mod.children.allTests()) {
        const state = test.result().state;
        if (state === "passed") passed += 1;
        else if (state === "failed") failed += 1;
      }
      failed += mod.errors().length > 0 ? 1 : 0;
    }
    process.stdout.write(`${passed} passed, ${failed} failed\n`);
  }
}
