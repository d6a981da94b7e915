// C functions that look for one function's bytes in another's memory (tests of pooled and
// restored wasm memories): the filler writes a marker word everywhere it can, the scanner counts it.

// Writes a marker word over everything above its own data and stack, up to the end of its memory.
export const kFiller = `#include <springbok.h>
#include <stdint.h>
extern unsigned char __heap_base;
int handler(const char *input, size_t len) {
  volatile uint32_t *word = (volatile uint32_t *)(((uintptr_t)&__heap_base + 3) & ~(uintptr_t)3);
  volatile uint32_t *end = (volatile uint32_t *)(__builtin_wasm_memory_size(0) * 65536);
  while (word < end) *word++ = 0xA5C3E1F7u;
  sb_output("filled", 6);
  return 0;
}
`;

// Counts the marker words anywhere in its memory, from the first address the linker uses: "FOUND of WORDS".
export const kScanner = `#include <springbok.h>
#include <stdint.h>
#include <stdio.h>
int handler(const char *input, size_t len) {
  volatile const uint32_t *word = (volatile const uint32_t *)(uintptr_t)1024;
  volatile const uint32_t *end = (volatile const uint32_t *)(__builtin_wasm_memory_size(0) * 65536);
  unsigned long found = 0, words = 0;
  for (; word < end; word++, words++) if (*word == 0xA5C3E1F7u) found++;
  char text[64];
  int n = snprintf(text, sizeof text, "%lu of %lu", found, words);
  sb_output(text, (size_t)n);
  return 0;
}
`;
