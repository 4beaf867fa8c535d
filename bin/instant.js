#!/usr/bin/env -S node --
// `--` ends node's own options: Node 20 reads `--env-file` even after the script name (nodejs/node#54232)
// and exits 9 on a missing file before the CLI could say which flag and what to do.
// The compiled CLI lives in dist/ (npm run build); this shim keeps the bin path stable.
import('../dist/src/cli/main.js').catch((error) => {
  if (error && error.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('dist/src/cli/main.js')) {
    console.error('instant: the CLI is not built yet. Run `npm run build` first.');
    process.exit(1);
  }
  throw error;
});
