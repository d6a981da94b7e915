// @ts-check
// `npm run lint`: typescript-eslint's recommended type-checked rules, and @stylistic rules set to
// the style the code is written in (not a style it should move to).
import js from '@eslint/js';
import stylistic from '@stylistic/eslint-plugin';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  // Written by the experiments, not by hand.
  globalIgnores(['experiments/results/']),
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // node:test's test() and describe() return promises that the runner itself awaits.
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }] }],
      // Plugin methods are async by contract (compile, instantiate, close): a body with nothing to
      // await still turns its throws into rejections, which is the point.
      '@typescript-eslint/require-await': 'off',
      // A leading underscore marks a parameter a contract passes but this implementation ignores
      // (`_options`, `_reason`), or a binding kept only for its disposal (`await using _engine`).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // A caught value handed on unchanged keeps whatever was thrown, Error or not.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // `catch {}` marks a best-effort step (a cleanup, a probe) whose failure changes nothing.
      'no-empty': ['error', { allowEmptyCatch: true }],
      // Comments use zero-width spaces to write `/**/` inside a block comment.
      'no-irregular-whitespace': ['error', { skipComments: true }],
    },
  },
  stylistic.configs.customize({
    indent: 2,
    quotes: 'single',
    semi: true,
    braceStyle: '1tbs',
    arrowParens: true,
    commaDangle: 'always-multiline',
    quoteProps: 'as-needed',
  }),
  {
    rules: {
      '@stylistic/space-before-function-paren': ['error', 'always'],
      // Interfaces and multi-line type literals end members with semicolons; one-line type literals
      // (`{ code: number, stdout: string }`) separate them with commas.
      '@stylistic/member-delimiter-style': ['error', { multiline: { delimiter: 'semi', requireLast: true }, singleline: { delimiter: 'comma', requireLast: false } }],
      // Double quotes where the text holds single quotes (guest sources in tests, vega filter expressions).
      '@stylistic/quotes': ['error', 'single', { avoidEscape: true, allowTemplateLiterals: 'always' }],
      // A wrapped ternary or union starts its lines with `?`, `:` or `|`; a long message built of
      // template strings ends its lines with `+`.
      '@stylistic/operator-linebreak': ['error', 'before', { overrides: { '+': 'after' } }],
      // Off, as the code is deliberately compact: guard clauses on one line (`if (x) return y;`),
      // one-line listener bodies of two statements, several short items per line in long argument
      // lists and tables, and chained ternaries laid out one case per line.
      '@stylistic/max-statements-per-line': 'off',
      '@stylistic/list-style': 'off',
      '@stylistic/multiline-ternary': 'off',
    },
  },
  {
    // Guest functions (examples/, test/fixtures/) and this file: plain JavaScript, outside the TypeScript project.
    files: ['**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
  },
);
