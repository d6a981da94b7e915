/* fib.c: input N, output fib(N) by naive recursion. "30" -> "832040". */
#include <springbok.h>
#include <stdio.h>
#include <stdlib.h>

static long long fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

int handler(const char *input, size_t len) {
  (void)len;
  char text[32];
  int n = snprintf(text, sizeof text, "%lld", fib(atoi(input)));
  sb_output(text, (size_t)n);
  return 0;
}
