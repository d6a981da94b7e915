#!/usr/bin/env node
/**
 * Makes sure the Debian packages the C/LLVM plugin needs are present (the compilers and bubblewrap,
 * their jail): installs them when it can (root on a machine with apt-get), otherwise says exactly
 * what to install or allow (a jail bwrap cannot make here). Never fails: every other language runs
 * without them. Run by `npm test` and `npm run demo` before they start.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { findToolchain, kDebianPackages } from '../plugins/wasm/toolchain.ts';

const before = findToolchain();
if ('missing' in before) {
  const canInstall = process.getuid?.() === 0 && existsSync('/usr/bin/apt-get');
  if (canInstall) {
    process.stderr.write(`springbok: installing the C/LLVM toolchain and its jail: apt-get install -y ${kDebianPackages.join(' ')}\n`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    spawnSync('apt-get', ['install', '-y', '-qq', ...kDebianPackages], { stdio: 'inherit', env });
  }
  const after = findToolchain();
  if ('missing' in after) process.stderr.write(`springbok: ${after.missing}\nspringbok: C and LLVM functions will be refused at deploy (and their tests skipped); every other language runs.\n`);
}
