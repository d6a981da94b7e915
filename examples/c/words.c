/* words.c: string processing of the input: reverses each word and upper-cases it, and logs the
 * word count with printf (which goes to the invocation's log). "hello big world" -> "OLLEH GIB DLROW". */
#include <springbok.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

int handler(const char *input, size_t len) {
  char *out = malloc(len + 1);
  if (out == NULL) return 1;
  size_t words = 0;
  for (size_t i = 0; i < len;) {
    if (isspace((unsigned char)input[i])) { out[i] = input[i]; i++; continue; }
    size_t end = i;
    while (end < len && !isspace((unsigned char)input[end])) end++;
    for (size_t k = 0; k < end - i; k++) out[i + k] = (char)toupper((unsigned char)input[end - 1 - k]);
    words++;
    i = end;
  }
  sb_output(out, len);
  printf("%zu words\n", words);
  free(out);
  return 0;
}
