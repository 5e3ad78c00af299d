#!/usr/bin/env node
// Fails when src/sdk/api-types.ts is not what `npm run gen:api` makes from ../docs/openapi.json.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const web = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(join(tmpdir(), 'parley-api-types-'));
const fresh = join(dir, 'api-types.ts');
try {
  execFileSync(join(web, 'node_modules', '.bin', 'openapi-typescript'), ['../docs/openapi.json', '-o', fresh], {
    cwd: web,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const committed = readFileSync(join(web, 'src', 'sdk', 'api-types.ts'), 'utf8');
  if (readFileSync(fresh, 'utf8') !== committed) {
    console.error('web/src/sdk/api-types.ts is stale: docs/openapi.json changed. Run `npm run gen:api` in web/ and commit it.');
    process.exit(1);
  }
  console.log('api-types.ts matches docs/openapi.json');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
