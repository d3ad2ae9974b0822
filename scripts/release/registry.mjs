#!/usr/bin/env node
// The rehearsal's registry process: Verdaccio with the given config, on 127.0.0.1 and a free port. It
// prints `listening <port>` once it accepts requests, and exits as soon as its stdin closes — so it
// ends with the rehearsal that started it, even when that one is killed.
// Usage: node scripts/release/registry.mjs <config.yaml>
import { createRequire } from 'node:module';

const { runServer } = createRequire(import.meta.url)('verdaccio');
const config = process.argv[2];
if (!config) {
  console.error('usage: node scripts/release/registry.mjs <config.yaml>');
  process.exit(2);
}
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
const app = await runServer(config);
const server = app.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
