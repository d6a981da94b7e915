#!/usr/bin/env node
/** Prints the escape attempts as the Markdown table kept in doc/security.md. */
import { kEscapeAttempts } from './attempts.ts';

process.stdout.write('| # | language | attempt | result |\n|---|---|---|---|\n');
for (const [index, a] of kEscapeAttempts.entries()) {
  const result = a.deployError !== undefined ? 'refused at deploy (`ERR_COMPILE`)'
    : a.code !== undefined ? `\`${a.code}\``
      : `finds nothing: output \`${JSON.stringify(a.output).slice(1, -1)}\``;
  process.stdout.write(`| ${index + 1} | ${a.language} | ${a.attempt.replace(/\|/g, '\\|')} | ${result} |\n`);
}
