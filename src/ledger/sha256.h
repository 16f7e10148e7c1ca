/* SHA-256 (FIPS 180-4), for the ledger's request fingerprints. */
#ifndef OMH_SHA256_H
#define OMH_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint32_t h[8];
  uint64_t len; /* bytes hashed so far */
  unsigned char buf[64];
  size_t used;
} omh_sha256;

void omh_sha256_init(omh_sha256 *s);
void omh_sha256_update(omh_sha256 *s, const void *data, size_t n);
/* Writes the 64 lowercase hex digits and a NUL into hex. */
void omh_sha256_hex(omh_sha256 *s, char hex[65]);

#endif
