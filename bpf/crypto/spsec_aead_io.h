/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * The work area of one AEAD operation in the data plane: struct spsec_aead_io. It lives in a
 * per-CPU scratch array map, not on the 512-byte BPF stack. Separate from spsec_aead.h so C++ can
 * include the layout without the C cores.
 */
#ifndef SPSEC_AEAD_IO_H
#define SPSEC_AEAD_IO_H

#include <linux/types.h>

#define SPSEC_AEAD_MIN_AAD 5  /* LE32(id & 0x1FFFFFFF) || u8(L) */
#define SPSEC_AEAD_MAX_AAD 59 /* ... || payload (authentication-only, L <= 54) */
#define SPSEC_AEAD_MAX_LEN 54 /* S - 10 of a 64-byte frame */

struct spsec_aead_io {
	__u8 nonce[16]; /* 12 bytes used for AES-GCM and ChaCha20-Poly1305, 16 for Ascon */
	__u32 aad_len;	/* 5..59: LE32(id & 0x1FFFFFFF) || u8(L) [|| payload in auth-only mode] */
	__u32 len;	/* 0..54: bytes of buf to encrypt/decrypt (S-10 encrypting, 0 auth-only) */
	union {
		__u8 b[64];
		__u64 w[8];
	} aad; /* bytes beyond aad_len are ignored (the cores zero them) */
	union {
		__u8 b[64];
		__u64 w[8];
	} buf;	     /* bytes beyond len are ignored (the cores zero them) */
	__u8 tag[8]; /* seal: output; open: the received tag */
	__u8 pad0[8];
};

#ifdef __cplusplus
static_assert(sizeof(struct spsec_aead_io) == 168, "spsec_aead_io layout");
#else
_Static_assert(sizeof(struct spsec_aead_io) == 168, "spsec_aead_io layout");
#endif

#endif /* SPSEC_AEAD_IO_H */
