import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const kInclude = new URL('../../include/', import.meta.url).pathname;

// The native stand-in for the engine's imports: the same handler source, linked against a main
// that passes argv[1] as the input and writes sb_output's bytes to stdout.
const kMain = `#include <springbok.h>
#include <stdio.h>
#include <string.h>
void sb_output(const void *data, size_t len) { fwrite(data, 1, len, stdout); }
void sb_log(const char *text, size_t len) { (void)text; (void)len; }
int32_t sb_fetch(const sb_fetch_request *request, sb_fetch_response *response) { (void)request; (void)response; return SB_ERR_NETWORK; }
int main(int argc, char **argv) { const char *input = argc > 1 ? argv[1] : ""; return handler(input, strlen(input)); }
`;

/**
 * Compiles `handlerPath` (a springbok C function) into a native executable in `dir` with
 * `clang -O2`, once; the process-per-invocation C baseline runs it.
 * @throws when clang fails (the caller reports the baseline as skipped).
 */
export async function buildNativeC (clang: string, handlerPath: string, dir: string, name: string): Promise<string> {
  const mainPath = join(dir, 'native-main.c');
  await writeFile(mainPath, kMain);
  const out = join(dir, name);
  // -w: springbok.h's wasm import attributes mean nothing to a native target; their warnings are noise.
  await promisify(execFile)(clang, ['-O2', '-w', '-I', kInclude, '-o', out, mainPath, handlerPath]);
  return out;
}
