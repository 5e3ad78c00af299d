#!/usr/bin/env node
// Sums vitest JSON reports into one closing line: "web: N passed, N failed".
import { existsSync, readFileSync } from 'node:fs';

let passed = 0;
let failed = 0;
let skipped = 0;
for (const f of process.argv.slice(2)) {
  if (!existsSync(f)) {
    failed++;
    console.error(`no report at ${f} (the run did not finish)`);
    continue;
  }
  const r = JSON.parse(readFileSync(f, 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests + (r.numTotalTests === 0 ? 1 : 0);
  skipped += r.numPendingTests + (r.numTodoTests ?? 0);
  // A file that failed to load has no tests but counts as a failure.
  for (const t of r.testResults ?? []) if (t.status === 'failed' && (t.assertionResults ?? []).length === 0) failed++;
}
console.log(`web: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);
