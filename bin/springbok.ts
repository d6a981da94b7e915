#!/usr/bin/env node
import { enableCompileCache } from 'node:module';

// Type stripping and compiling our modules costs ~0.3 s per start; the cache makes later starts cheap.
enableCompileCache();
const { main } = await import('../dispatchers/cli/main.ts');
process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
