/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * Ascon-AEAD128 core (NIST SP 800-232) for SPsec frames: 128-bit nonce, AAD 5..59 bytes, 0..54
 * bytes of text, tag truncated to its first 8 bytes. SPsec keys it with bytes 16..31 of the
 * 32-byte key (spec §4), read straight from spsec_key_slot.key: the initialisation depends on the
 * nonce, so nothing can be precomputed.
 *
 * 64-bit lanes in the little-endian byte order of the final standard (IV 0x00001000808c0001),
 * explicit rotates (BPF has none). Bitwise only: constant time.
 */
#ifndef SPSEC_ASCON_H
#define SPSEC_ASCON_H

#include "spsec/abi.h"
#include "spsec_crypto_common.h"
#include "spsec_aead_io.h"

#define SPSEC_ASCON_AEAD128_IV 0x00001000808c0001ULL
#define SPSEC_ROR64(x, n)      (((x) >> (n)) | ((x) << (64 - (n))))

/* Rounds start..11 of the permutation on s[5]: start 0 is p12, start 4 is p8. */
SPSEC_NOINLINE int spsec_ascon_perm(__u64 *s, int start)
{
	__u64 x0 = s[0], x1 = s[1], x2 = s[2], x3 = s[3], x4 = s[4];
	__u64 t0, t1, t2, t3, t4;
	int r;

	SPSEC_ROLLED
	for (r = start; r < 12; r++) {
		/* round constant: (0xf - r) << 4 | r */
		x2 ^= (__u64)(((0xf - r) << 4) | r);
		/* substitution layer (bitsliced 5-bit S-box) */
		x0 ^= x4;
		x4 ^= x3;
		x2 ^= x1;
		t0 = x0 ^ (~x1 & x2);
		t1 = x1 ^ (~x2 & x3);
		t2 = x2 ^ (~x3 & x4);
		t3 = x3 ^ (~x4 & x0);
		t4 = x4 ^ (~x0 & x1);
		t1 ^= t0;
		t0 ^= t4;
		t3 ^= t2;
		t2 = ~t2;
		/* linear diffusion layer */
		x0 = t0 ^ SPSEC_ROR64(t0, 19) ^ SPSEC_ROR64(t0, 28);
		x1 = t1 ^ SPSEC_ROR64(t1, 61) ^ SPSEC_ROR64(t1, 39);
		x2 = t2 ^ SPSEC_ROR64(t2, 1) ^ SPSEC_ROR64(t2, 6);
		x3 = t3 ^ SPSEC_ROR64(t3, 10) ^ SPSEC_ROR64(t3, 17);
		x4 = t4 ^ SPSEC_ROR64(t4, 7) ^ SPSEC_ROR64(t4, 41);
	}
	s[0] = x0;
	s[1] = x1;
	s[2] = x2;
	s[3] = x3;
	s[4] = x4;
	return spsec_opaque_zero();
}

/* The 0x01 padding byte right after the last r (0..15) bytes of a block; branch-free so the
 * verifier does not split paths on r. */
SPSEC_INLINE void spsec_ascon_pad(__u64 *s, __u32 r)
{
	__u64 bit = 1ULL << (8 * (r & 7));
	__u64 hi = 0 - (__u64)((r >> 3) & 1); /* all ones when the byte is in the second lane */

	s[0] ^= bit & ~hi;
	s[1] ^= bit & hi;
}

/*
 * Runs Ascon-AEAD128 over io and returns the first 8 tag bytes (LE u64). dec == 0 encrypts io->buf
 * in place, dec == 1 decrypts it (the tag is then over the ciphertext that was in buf).
 */
SPSEC_INLINE __u64 spsec_ascon_run(const struct spsec_key_slot *k, struct spsec_aead_io *io,
				   int dec, int *err)
{
	__u64 k0 = spsec_ld64(k->key + 16), k1 = spsec_ld64(k->key + 24);
	__u32 aad_len = io->aad_len, len = io->len;
	__u64 s[5], in0, in1, m0, m1, o0, o1;
	int i;

	s[0] = SPSEC_ASCON_AEAD128_IV;
	s[1] = k0;
	s[2] = k1;
	s[3] = spsec_ld64(io->nonce);
	s[4] = spsec_ld64(io->nonce + 8);
	*err |= spsec_ascon_perm(s, 0);
	s[3] ^= k0;
	s[4] ^= k1;

	/* associated data: full blocks, then the padded last (possibly empty) block; the caller
	 * guarantees 0 < aad_len < 64, so the last block is one of the four */
	SPSEC_UNROLL
	for (i = 0; i < 4; i++) {
		s[0] ^= io->aad.w[2 * i];
		s[1] ^= io->aad.w[2 * i + 1];
		if (aad_len < 16 * (__u32)i + 16) {
			spsec_ascon_pad(s, aad_len - 16 * (__u32)i);
			*err |= spsec_ascon_perm(s, 4);
			break;
		}
		*err |= spsec_ascon_perm(s, 4);
	}
	s[4] ^= 1ULL << 63; /* domain separation */

	/* text: the same block structure, len < 64; bytes of buf beyond len are zero */
	SPSEC_UNROLL
	for (i = 0; i < 4; i++) {
		m0 = spsec_word_mask(len, 2 * (__u32)i);
		m1 = spsec_word_mask(len, 2 * (__u32)i + 1);
		in0 = io->buf.w[2 * i];
		in1 = io->buf.w[2 * i + 1];
		/* encrypt: c = s ^ p and s = c; decrypt: p = s ^ c and s = c (within the mask) */
		o0 = (s[0] ^ in0) & m0;
		o1 = (s[1] ^ in1) & m1;
		s[0] ^= dec ? o0 : in0;
		s[1] ^= dec ? o1 : in1;
		io->buf.w[2 * i] = o0;
		io->buf.w[2 * i + 1] = o1;
		if (len < 16 * (__u32)i + 16) {
			spsec_ascon_pad(s, len - 16 * (__u32)i);
			break;
		}
		*err |= spsec_ascon_perm(s, 4);
	}

	s[2] ^= k0;
	s[3] ^= k1;
	*err |= spsec_ascon_perm(s, 0);
	return s[3] ^ k0;
}

/* Lengths are checked and the tails zeroed by the caller (spsec_aead.h). */
SPSEC_NOINLINE int spsec_ascon_seal(const struct spsec_key_slot *k, struct spsec_aead_io *io)
{
	int err = 0;
	__u64 tag = spsec_ascon_run(k, io, 0, &err);

	__builtin_memcpy(io->tag, &tag, sizeof(tag));
	return err;
}

SPSEC_NOINLINE int spsec_ascon_open(const struct spsec_key_slot *k, struct spsec_aead_io *io)
{
	int err = 0;
	int ret = spsec_tag_verdict(spsec_ascon_run(k, io, 1, &err), spsec_ld64(io->tag));

	return ret | err;
}

#endif /* SPSEC_ASCON_H */
