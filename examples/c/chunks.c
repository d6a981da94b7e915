/* chunks.c: calls sb_output several times. Input "N text": writes text N times, comma-separated.
 * "3 ab" -> "ab,ab,ab". */
#include <springbok.h>
#include <stdlib.h>
#include <string.h>

int handler(const char *input, size_t len) {
  char *rest;
  long n = strtol(input, &rest, 10);
  if (*rest == ' ') rest++;
  size_t text_len = len - (size_t)(rest - input);
  for (long i = 0; i < n; i++) {
    if (i > 0) sb_output(",", 1);
    sb_output(rest, text_len);
  }
  return 0;
}
