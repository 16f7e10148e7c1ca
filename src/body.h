/* The create request's JSON body, as an object that curl reads from.
 * Local files are checked and measured when the create is called, but
 * their bytes are read and base64-encoded only while the request is being
 * sent, a chunk at a time, straight into curl's upload buffer: a create
 * waiting for a connection holds its fields and paths, no file bytes and no
 * descriptor, and one in flight holds one chunk. */
#ifndef OMH_BODY_H
#define OMH_BODY_H

#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>
#include "compat.h"

typedef struct omh_body omh_body;

/* The client's side of the input checks; a create's own fields override. */
typedef struct omh_body_opts {
  const char *model;          /* used when the fields name none */
  double max_audio_seconds;   /* > 0: replaces the model's audio limit */
  int allow_unmeasured_audio; /* send audio whose duration cannot be read */
  int table_path;             /* tests: skip the plain-fields path */
} omh_body_opts;

/* Checks the fields table at idx and the local files of the list at files
 * (0: none). Each file is a table { token, path, kind = "image" | "audio" |
 * "video" | "file", label, max_bytes?, max_seconds?, limit_note? }: token
 * is a string of [A-Za-z0-9_:.-] standing once, as a whole string value,
 * somewhere in the fields (at any depth); the file's bytes are sent there as
 * a data URI. max_seconds is the model's duration limit (an audio file's
 * is replaced by max_audio_seconds of the create or the client). Returns
 * the body; or NULL with an error object pushed (invalid_input: a file
 * refused). Raises on misuse (wrong types, a token not found once). The
 * caller's tables are not modified. */
omh_body *omh_body_prepare(lua_State *L, int idx, int files, const omh_body_opts *o);

/* Exact size of what omh_body_read produces from a rewind to the end. */
uint64_t omh_body_length(const omh_body *b);

#define OMH_BODY_FAILED ((size_t)-1)
/* Next bytes of the body into buf (at most n): the count, 0 at the end, or
 * OMH_BODY_FAILED when a file no longer is what was checked (see
 * omh_body_failure). */
size_t omh_body_read(omh_body *b, char *buf, size_t n);

/* Back to the first byte (files are re-read, and re-checked, from the start). */
void omh_body_rewind(omh_body *b);

/* Why the last read failed (an invalid_input message naming the file), or NULL. */
const char *omh_body_failure(const omh_body *b);

/* 1 once the last byte of the body has been handed out by omh_body_read
 * since the last rewind: before that, no server can hold the whole request. */
int omh_body_complete(const omh_body *b);

/* 1 when the body carries audio inline (a local file or a data: URI). */
int omh_body_inline_audio(const omh_body *b);

void omh_body_free(omh_body *b);

/* CURLOPT_READFUNCTION / CURLOPT_SEEKFUNCTION with the body as their data. */
size_t omh_body_curl_read(char *buf, size_t size, size_t nitems, void *body);
int omh_body_curl_seek(void *body, curl_off_t offset, int origin);

#endif
