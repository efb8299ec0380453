/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * Native (user-space) build of the data-plane AEAD cores, for the daemon's key preparation and for
 * tests and benchmarks that compare the cores with OpenSSL. C linkage; usable from C++.
 */
#ifndef SPSEC_AEAD_NATIVE_H
#define SPSEC_AEAD_NATIVE_H

#include <linux/types.h>

#include "spsec/abi.h"
#include "spsec_aead_io.h"

#ifdef __cplusplus
extern "C" {
#endif

/* spsec_aead_seal() / spsec_aead_open() of spsec_aead.h, compiled natively. */
int spsec_aead_native_seal(const struct spsec_key_slot *k, struct spsec_aead_io *io);
int spsec_aead_native_open(const struct spsec_key_slot *k, struct spsec_aead_io *io);

/* AES-256 key expansion into the 60 little-endian column words the BPF core expects
 * (spsec_key_slot.aes_rk). */
void spsec_aes256_expand_key(const __u8 key[32], __u32 rk[60]);

/* Encrypts one 16-byte block in place with the BPF core's AES. */
void spsec_aes256_encrypt_native(const __u32 rk[60], __u8 block[16]);

/* Fills the 64 KiB GHASH table of spsec_key_slot.gcm_table for the hash key h (E_K(0), 16 bytes
 * as AES outputs them); layout as documented in spsec_aes_gcm.h. */
void spsec_gcm_build_table(const __u8 h[16], __u8 table[16][256][16]);

#ifdef __cplusplus
}
#endif

#endif /* SPSEC_AEAD_NATIVE_H */
