/* matrix.c: malloc-heavy: multiplies two N x N matrices allocated row by row and outputs the
 * trace of the product. a[i][j] = i + j, b = 2I, so the trace is 2 * sum(2i) = 2N(N-1): "64" -> "8064". */
#include <springbok.h>
#include <stdio.h>
#include <stdlib.h>

static double **matrix(int n) {
  double **rows = malloc(sizeof(double *) * (size_t)n);
  if (rows == NULL) return NULL;
  for (int i = 0; i < n; i++) {
    rows[i] = malloc(sizeof(double) * (size_t)n);
    if (rows[i] == NULL) return NULL;
  }
  return rows;
}

int handler(const char *input, size_t len) {
  (void)len;
  int n = atoi(input);
  if (n <= 0 || n > 2048) return 2;
  double **a = matrix(n), **b = matrix(n), **c = matrix(n);
  if (a == NULL || b == NULL || c == NULL) return 1;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) { a[i][j] = i + j; b[i][j] = i == j ? 2.0 : 0.0; }
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      double sum = 0;
      for (int k = 0; k < n; k++) sum += a[i][k] * b[k][j];
      c[i][j] = sum;
    }
  double trace = 0;
  for (int i = 0; i < n; i++) trace += c[i][i];
  for (int i = 0; i < n; i++) { free(a[i]); free(b[i]); free(c[i]); }
  free(a); free(b); free(c);
  char text[64];
  int written = snprintf(text, sizeof text, "%.0f", trace);
  sb_output(text, (size_t)written);
  return 0;
}
