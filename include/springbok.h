/*
 * springbok.h — the interface between a C (or LLVM IR) function and the springbok engine.
 *
 * A function defines `handler`; the engine calls it once per invocation with the input bytes and
 * runs it under the function's CPU and memory budget. Output is whatever the function appends with
 * sb_output. See doc/c.md for the whole contract, the allowed libc and the budgets.
 *
 * The functions declared here are the only springbok host functions a function may call: the runtime's own
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
#define SB_ERR_INVOKE_DENIED (-3)   /* sb_invoke: the deploy does not allow that callee (--allow-invoke) */
#define SB_ERR_INVOKE_DEPTH (-4)    /* sb_invoke: the chain of calls is as deep as the engine allows */
#define SB_ERR_INVOKE_BUDGET (-5)   /* sb_invoke: this invocation made its --invoke-calls calls */
#define SB_ERR_KV_BUDGET (-6)       /* sb_kv_put: the namespace would pass --kv-bytes, or a key or value is too long */
#define SB_ERR_KV_DENIED (-7)       /* sb_kv_*: that namespace is not granted (--kv), or granted read-only */
#define SB_ERR_NOT_FOUND (-8)       /* sb_kv_get: no such key */
/* sb_invoke: the callee failed; its code, as the engine reports it. */
#define SB_ERR_FUNCTION (-9)
#define SB_ERR_CPU_BUDGET (-10)
#define SB_ERR_MEMORY_BUDGET (-11)
#define SB_ERR_WALL_TIMEOUT (-12)
#define SB_ERR_TRAP (-13)
#define SB_ERR_OUTPUT_TOO_LARGE (-14)
#define SB_ERR_UNKNOWN_FUNCTION (-15)  /* sb_invoke: no function of that name */
#define SB_ERR_QUEUE_FULL (-16)        /* sb_invoke: the engine or the callee is at its limit of invocations */
#define SB_ERR_OTHER (-17)             /* any other engine code (cancelled, closing, internal) */

/* Performs a request; the function waits (other functions run) until the answer is in.
 * Returns SB_OK and fills *response, or a negative SB_ERR_* code. */
SB_IMPORT("fetch") int32_t sb_fetch(const sb_fetch_request *request, sb_fetch_response *response);

/* Calls another function (allowed by --allow-invoke): it runs as its own invocation under its own
 * budget while this one waits (other functions run; waiting uses no CPU budget). Writes at most
 * out_cap bytes of its output to out and returns the output's full length (more than out_cap: it
 * was cut), or a negative SB_ERR_* code: the callee's failure or the call's refusal. */
SB_IMPORT("invoke") int32_t sb_invoke(const char *name, size_t name_len, const void *input, size_t input_len, void *out, size_t out_cap);

/* The key-value store. ns NULL (or ns_len 0) is the function's own namespace; another must be
 * granted at deploy (--kv NS:ro or NS:rw). Each waits like sb_invoke. */

/* Writes at most out_cap bytes of the value to out; returns its full length, SB_ERR_NOT_FOUND, or a negative SB_ERR_* code. */
SB_IMPORT("kv_get") int32_t sb_kv_get(const char *ns, size_t ns_len, const char *key, size_t key_len, void *out, size_t out_cap);
/* Stores the value (durably, once it returns SB_OK), or returns a negative SB_ERR_* code. */
SB_IMPORT("kv_put") int32_t sb_kv_put(const char *ns, size_t ns_len, const char *key, size_t key_len, const void *value, size_t value_len);
/* Returns 1 when the key existed, 0 when not, or a negative SB_ERR_* code. */
SB_IMPORT("kv_delete") int32_t sb_kv_delete(const char *ns, size_t ns_len, const char *key, size_t key_len);
/* The keys that start with prefix (at most 1000, in byte order), each followed by a NUL byte, written
 * to out (at most out_cap bytes); returns the full length of that list, or a negative SB_ERR_* code. */
SB_IMPORT("kv_list") int32_t sb_kv_list(const char *ns, size_t ns_len, const char *prefix, size_t prefix_len, char *out, size_t out_cap);

#ifdef __cplusplus
}
#endif

#endif /* SPRINGBOK_H */
