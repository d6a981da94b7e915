/* primes.c: input N, output the number of primes below N (sieve of Eratosthenes). "1000000" -> "78498". */
#include <springbok.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int handler(const char *input, size_t len) {
  (void)len;
  long n = atol(input);
  if (n < 2) { sb_output("0", 1); return 0; }
  unsigned char *composite = calloc((size_t)n, 1);
  if (composite == NULL) return 1;
  long count = 0;
  for (long i = 2; i < n; i++) {
    if (composite[i]) continue;
    count++;
    if (i > n / i) continue; /* i * i would pass n (and overflow a 32-bit long on wasm32) */
    for (long j = i * i; j < n; j += i) composite[j] = 1;
  }
  free(composite);
  char text[32];
  int written = snprintf(text, sizeof text, "%ld", count);
  sb_output(text, (size_t)written);
  return 0;
}
