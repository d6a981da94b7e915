/* spin.c: an infinite loop. Only the CPU budget (or the wall-clock budget) stops it. */
#include <springbok.h>

int handler(const char *input, size_t len) {
  (void)input; (void)len;
  volatile unsigned long counter = 0;
  for (;;) counter++;
}
