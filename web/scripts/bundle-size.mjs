#!/usr/bin/env node
// Prints the built app's asset sizes (raw and gzipped) and fails over the JS budget.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const BUDGET_JS_GZIP = 150 * 1024;
const assets = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'assets');
let jsGzip = 0;
for (const f of readdirSync(assets).sort()) {
  const buf = readFileSync(join(assets, f));
  const gz = gzipSync(buf, { level: 9 }).length;
  if (f.endsWith('.js')) jsGzip += gz;
  console.log(`  ${f.padEnd(32)} ${(buf.length / 1024).toFixed(1).padStart(7)} KB  ${(gz / 1024).toFixed(1).padStart(6)} KB gzipped`);
}
console.log(`  JS total: ${(jsGzip / 1024).toFixed(1)} KB gzipped (budget ${BUDGET_JS_GZIP / 1024} KB)`);
if (jsGzip > BUDGET_JS_GZIP) {
  console.error('the JS bundle is over budget');
  process.exit(1);
}
