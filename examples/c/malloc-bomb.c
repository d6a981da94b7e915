/* malloc-bomb.c: allocates and touches 1 MiB blocks until malloc returns NULL, then fails.
 * Under --memory-mb 8 it ends with ERR_MEMORY_BUDGET. */
#include <springbok.h>
#include <stdlib.h>
#include <string.h>

int handler(const char *input, size_t len) {
  (void)input; (void)len;
  for (;;) {
    char *block = malloc(1 << 20);
    if (block == NULL) return 1;
    memset(block, 0x5a, 1 << 20);
    __asm__ volatile("" : : "r"(block) : "memory"); /* the block escapes: the compiler may not drop the allocation */
  }
}
