#!/usr/bin/env node
/**
 * Makes sure the Debian packages the project needs beside npm are present: the compilers and
 * bubblewrap (their jail) for the C/LLVM plugin, and nats-server for the cluster's tests and
 * benchmark. Installs them when it can (root on a machine with apt-get), otherwise says exactly
 * what to install or allow (a jail bwrap cannot make here). Never fails: every other language runs
 * without the toolchain, and a single engine without nats-server. Run by `npm test` and `npm run
 * demo` before they start.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { findNatsServer } from '../engine/cluster/local-nats-cluster.ts';
import { findToolchain, kDebianPackages } from '../plugins/wasm/toolchain.ts';

interface Need {
  readonly what: string;
  readonly packages: readonly string[];
  /** Why it is missing, or undefined when it is there. */
  readonly missing: () => string | undefined;
  /** What runs without it. */
  readonly without: string;
}

const kNeeds: readonly Need[] = [
  {
    what: 'the C/LLVM toolchain and its jail',
    packages: kDebianPackages,
    missing: () => { const found = findToolchain(); return 'missing' in found ? found.missing : undefined; },
    without: 'C and LLVM functions will be refused at deploy (and their tests skipped); every other language runs.',
  },
  {
    what: 'nats-server (the cluster tests and benchmark)',
    packages: ['nats-server'],
    missing: () => findNatsServer() === undefined ? 'nats-server not found; on Debian: apt-get install -y nats-server' : undefined,
    without: 'the cluster tests are skipped and serve --cluster needs a NATS server from elsewhere; a single engine runs as before.',
  },
];

const absent = kNeeds.filter((need) => need.missing() !== undefined);
if (absent.length > 0 && process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')) {
  const packages = absent.flatMap((need) => need.packages);
  process.stderr.write(`springbok: installing ${absent.map((need) => need.what).join(' and ')}: apt-get install -y ${packages.join(' ')}\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  spawnSync('apt-get', ['install', '-y', '-qq', ...packages], { stdio: 'inherit', env });
}
for (const need of absent) {
  const missing = need.missing();
  if (missing !== undefined) process.stderr.write(`springbok: ${missing}\nspringbok: ${need.without}\n`);
}
