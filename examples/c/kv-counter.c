/* kv-counter.c: kv from C. Input a key; increments the counter stored under it in the function's
 * own namespace and outputs the new value. sb_kv_get and sb_kv_put wait for the engine (the
 * stack is parked, no CPU used); a put is durable once it returns SB_OK. */
#include <springbok.h>
#include <stdio.h>
#include <stdlib.h>

int handler(const char *input, size_t len) {
  char stored[32];
  int got = sb_kv_get(NULL, 0, input, len, stored, sizeof stored - 1);
  long count = 0;
  if (got >= 0) {
    stored[got < (int)sizeof stored - 1 ? got : (int)sizeof stored - 1] = 0;
    count = strtol(stored, NULL, 10);
  } else if (got != SB_ERR_NOT_FOUND) {
    return 1;
  }
  char text[32];
  int n = snprintf(text, sizeof text, "%ld", count + 1);
  if (sb_kv_put(NULL, 0, input, len, text, n) != SB_OK) return 1;
  sb_output(text, n);
  return 0;
}
