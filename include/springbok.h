/*
 * springbok.h — the interface between a C (or LLVM IR) function and the springbok engine.
 *
 * A function defines `handler`; the engine calls it once per invocation with the input bytes and
 * runs it under the function's CPU and memory budget. Output is whatever the function appends with
 * sb_output. See doc/c.md for the whole contract, the allowed libc and the budgets.
 *
 * These three are the only springbok host functions a function may call: the runtime's own
 * (read_input, done, memory_refused, fuel, suspend) are refused at deploy if guest code calls them.
 * Every host call's work is charged to the CPU budget (one fuel unit per byte, 100 per call).
 */
#ifndef SPRINGBOK_H
#define SPRINGBOK_H

#include <stddef.h>
#include <stdint.h>

#define SB_IMPORT(name) __attribute__((import_module("springbok"), import_name(name)))

#ifdef __cplusplus
extern "C" {
#endif

/* Defined by the function. Return 0 for success; anything else fails the invocation (ERR_FUNCTION). */
int handler(const char *input, size_t len);

/* Appends bytes to the invocation's output. Past the engine's output limit the invocation ends with ERR_OUTPUT_TOO_LARGE. */
SB_IMPORT("output") void sb_output(const void *data, size_t len);

/* Appends one line to the invocation's bounded log (never the engine's stdout). printf to stdout/stderr also goes there. */
SB_IMPORT("log") void sb_log(const char *text, size_t len);

/* An outbound HTTP request, performed by the engine and charged to the function's network budget. */
typedef struct sb_fetch_request {
  const char *url;         size_t url_len;
  const char *method;      size_t method_len;   /* NULL or 0 length: GET */
  const char *headers;     size_t headers_len;  /* "Name: value\r\n" lines, may be empty */
  const void *body;        size_t body_len;
} sb_fetch_request;

/* Where the engine writes the answer. The caller provides the buffers; a longer body or header
 * block is cut to the capacity and *_len reports the full length, so truncation shows. */
typedef struct sb_fetch_response {
  int32_t status;                                  /* HTTP status */
  char *headers;           size_t headers_cap;     size_t headers_len;   /* "name: value\r\n" lines */
  void *body;              size_t body_cap;        size_t body_len;
} sb_fetch_response;

#define SB_OK 0
#define SB_ERR_NETWORK_BUDGET (-1)  /* host not allowed, or a request/byte/rate budget is used up */
#define SB_ERR_NETWORK (-2)         /* the request failed (DNS, connection, timeout, bad URL) */

/* Performs a request; the function waits (other functions run) until the answer is in.
 * Returns SB_OK and fills *response, or a negative SB_ERR_* code. */
SB_IMPORT("fetch") int32_t sb_fetch(const sb_fetch_request *request, sb_fetch_response *response);

#ifdef __cplusplus
}
#endif

#endif /* SPRINGBOK_H */
