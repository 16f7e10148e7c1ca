/* Base64 (RFC 4648, standard alphabet, '=' padding) encoder. */
#ifndef OMH_BASE64_H
#define OMH_BASE64_H

#include <stddef.h>

/* 4*ceil(n/3): the exact output size of omh_b64_encode for n input bytes. */
size_t omh_b64_encoded_len(size_t n);

/* Standard alphabet, '=' padding; dst must hold omh_b64_encoded_len(n) bytes;
 * no NUL written. When n is a multiple of 3 there is no padding, so a caller
 * can encode a stream in chunks of 3k bytes. Returns bytes written. */
size_t omh_b64_encode(char *dst, const unsigned char *src, size_t n);

#endif
