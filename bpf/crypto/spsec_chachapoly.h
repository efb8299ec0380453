/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * ChaCha20-Poly1305 core (RFC 8439) for SPsec frames: 96-bit nonce, AAD 5..59 bytes, 0..54 bytes of
 * text (one ChaCha block of key stream), tag truncated to 8 bytes. The key is read straight from
 * spsec_key_slot.key; nothing is precomputed.
 *
 * Poly1305 uses five 26-bit limbs (the "donna-32" layout): BPF has a 64x64->64 multiply only, and
 * every partial sum stays below 2^59. No secret-dependent branches or memory indexes: constant
 * time in BPF and natively.
 */
#ifndef SPSEC_CHACHAPOLY_H
#define SPSEC_CHACHAPOLY_H

#include "spsec/abi.h"
#include "spsec_crypto_common.h"
#include "spsec_aead_io.h"

#define SPSEC_ROTL32(v, n) (((v) << (n)) | ((v) >> (32 - (n))))

#define SPSEC_CHACHA_QR(a, b, c, d)                                                                \
	do {                                                                                       \
		a += b;                                                                            \
		d ^= a;                                                                            \
		d = SPSEC_ROTL32(d, 16);                                                           \
		c += d;                                                                            \
		b ^= c;                                                                            \
		b = SPSEC_ROTL32(b, 12);                                                           \
		a += b;                                                                            \
		d ^= a;                                                                            \
		d = SPSEC_ROTL32(d, 8);                                                            \
		c += d;                                                                            \
		b ^= c;                                                                            \
		b = SPSEC_ROTL32(b, 7);                                                            \
	} while (0)

/*
 * One ChaCha20 block for counter ctr, XORed into out[0..nw) as little-endian 64-bit words (nw is
 * 4 or 8, a constant at every call site). key: 32 bytes, nonce: 12. Writing through out lets block
 * 1 go straight into the io buffer and block 0 into the Poly1305 state: the 512-byte stack is
 * shared with the caller. out is __u64 because every reader of these buffers reads __u64 words:
 * storing through another type would break strict aliasing (gcc's and clang's interprocedural
 * analyses do exploit it).
 */
SPSEC_NOINLINE int spsec_chacha20_block(const __u8 *key, __u32 ctr, const __u8 *nonce, __u64 *out,
					int nw)
{
	__u32 x0 = 0x61707865, x1 = 0x3320646e, x2 = 0x79622d32, x3 = 0x6b206574;
	__u32 x4 = spsec_ld32(key), x5 = spsec_ld32(key + 4), x6 = spsec_ld32(key + 8);
	__u32 x7 = spsec_ld32(key + 12), x8 = spsec_ld32(key + 16), x9 = spsec_ld32(key + 20);
	__u32 x10 = spsec_ld32(key + 24), x11 = spsec_ld32(key + 28);
	__u32 x12 = ctr, x13 = spsec_ld32(nonce), x14 = spsec_ld32(nonce + 4);
	__u32 x15 = spsec_ld32(nonce + 8);
	int i;

	SPSEC_ROLLED
	for (i = 0; i < 10; i++) {
		SPSEC_CHACHA_QR(x0, x4, x8, x12);
		SPSEC_CHACHA_QR(x1, x5, x9, x13);
		SPSEC_CHACHA_QR(x2, x6, x10, x14);
		SPSEC_CHACHA_QR(x3, x7, x11, x15);
		SPSEC_CHACHA_QR(x0, x5, x10, x15);
		SPSEC_CHACHA_QR(x1, x6, x11, x12);
		SPSEC_CHACHA_QR(x2, x7, x8, x13);
		SPSEC_CHACHA_QR(x3, x4, x9, x14);
	}
	out[0] ^= (__u64)(x0 + 0x61707865) | ((__u64)(x1 + 0x3320646e) << 32);
	out[1] ^= (__u64)(x2 + 0x79622d32) | ((__u64)(x3 + 0x6b206574) << 32);
	out[2] ^= (__u64)(x4 + spsec_ld32(key)) | ((__u64)(x5 + spsec_ld32(key + 4)) << 32);
	out[3] ^= (__u64)(x6 + spsec_ld32(key + 8)) | ((__u64)(x7 + spsec_ld32(key + 12)) << 32);
	if (nw <= 4)
		return spsec_opaque_zero();
	out[4] ^= (__u64)(x8 + spsec_ld32(key + 16)) | ((__u64)(x9 + spsec_ld32(key + 20)) << 32);
	out[5] ^= (__u64)(x10 + spsec_ld32(key + 24)) | ((__u64)(x11 + spsec_ld32(key + 28)) << 32);
	out[6] ^= (__u64)(x12 + ctr) | ((__u64)(x13 + spsec_ld32(nonce)) << 32);
	out[7] ^=
		(__u64)(x14 + spsec_ld32(nonce + 4)) | ((__u64)(x15 + spsec_ld32(nonce + 8)) << 32);
	return spsec_opaque_zero();
}

#define SPSEC_M26 0x3ffffffULL

/* Poly1305 accumulator h and clamped key r in 26-bit limbs. */
struct spsec_poly1305 {
	__u64 h[5];
	__u64 r[5];
};

/* Absorbs one full 16-byte block (a, b: its two little-endian words), with the 2^128 bit. */
SPSEC_NOINLINE int spsec_poly1305_block(struct spsec_poly1305 *p, __u64 a, __u64 b)
{
	__u64 h0 = p->h[0], h1 = p->h[1], h2 = p->h[2], h3 = p->h[3], h4 = p->h[4];
	__u64 r0 = p->r[0], r1 = p->r[1], r2 = p->r[2], r3 = p->r[3], r4 = p->r[4];
	/* 2^130 = 5 (mod p): limb products that overflow limb 4 come back times 5 */
	__u64 s1 = r1 * 5, s2 = r2 * 5, s3 = r3 * 5, s4 = r4 * 5;
	__u64 d0, d1, d2, d3, d4, c;

	h0 += a & SPSEC_M26;
	h1 += (a >> 26) & SPSEC_M26;
	h2 += ((a >> 52) | (b << 12)) & SPSEC_M26;
	h3 += (b >> 14) & SPSEC_M26;
	h4 += (b >> 40) | (1ULL << 24);
	d0 = h0 * r0 + h1 * s4 + h2 * s3 + h3 * s2 + h4 * s1;
	d1 = h0 * r1 + h1 * r0 + h2 * s4 + h3 * s3 + h4 * s2;
	d2 = h0 * r2 + h1 * r1 + h2 * r0 + h3 * s4 + h4 * s3;
	d3 = h0 * r3 + h1 * r2 + h2 * r1 + h3 * r0 + h4 * s4;
	d4 = h0 * r4 + h1 * r3 + h2 * r2 + h3 * r1 + h4 * r0;
	c = d0 >> 26;
	h0 = d0 & SPSEC_M26;
	d1 += c;
	c = d1 >> 26;
	h1 = d1 & SPSEC_M26;
	d2 += c;
	c = d2 >> 26;
	h2 = d2 & SPSEC_M26;
	d3 += c;
	c = d3 >> 26;
	h3 = d3 & SPSEC_M26;
	d4 += c;
	c = d4 >> 26;
	h4 = d4 & SPSEC_M26;
	h0 += c * 5;
	c = h0 >> 26;
	h0 &= SPSEC_M26;
	h1 += c;
	p->h[0] = h0;
	p->h[1] = h1;
	p->h[2] = h2;
	p->h[3] = h3;
	p->h[4] = h4;
	return spsec_opaque_zero();
}

/* Absorbs the 64-byte buffer w (zero beyond len) as ceil(len / 16) zero-padded blocks. */
SPSEC_INLINE int spsec_poly1305_buf(struct spsec_poly1305 *p, const __u64 *w, __u32 len)
{
	int i, err = 0;

	SPSEC_UNROLL
	for (i = 0; i < 4; i++) {
		/* no break: a single-exit loop is what clang can unroll */
		if (len > 16 * (__u32)i)
			err |= spsec_poly1305_block(p, w[2 * i], w[2 * i + 1]);
	}
	return err;
}

/* The first 8 tag bytes (LE u64) over io->aad and the ciphertext in io->buf. */
SPSEC_INLINE __u64 spsec_chachapoly_tag(const struct spsec_key_slot *k, struct spsec_aead_io *io,
					int *err)
{
	struct spsec_poly1305 p = { { 0 }, { 0 } };
	__u64 a, b, s_lo, c, g0, g1, g2, g3, g4, mask;
	__u64 h0, h1, h2, h3, h4;

	/* one-time key: the first 32 bytes of block 0 (r, then s), produced into the still unused
	 * accumulator h[0..3] rather than a buffer of its own: stack is scarce */
	*err |= spsec_chacha20_block(k->key, 0, io->nonce, p.h, 4);
	a = p.h[0];
	b = p.h[1];
	s_lo = p.h[2]; /* only the low 64 bits of s matter for an 8-byte tag */
	p.r[0] = a & 0x3ffffff;
	p.r[1] = (a >> 26) & 0x3ffff03;
	p.r[2] = ((a >> 52) | (b << 12)) & 0x3ffc0ff;
	p.r[3] = (b >> 14) & 0x3f03fff;
	p.r[4] = (b >> 40) & 0x00fffff;
	p.h[0] = p.h[1] = p.h[2] = p.h[3] = p.h[4] = 0;

	*err |= spsec_poly1305_buf(&p, io->aad.w, io->aad_len);
	*err |= spsec_poly1305_buf(&p, io->buf.w, io->len);
	*err |= spsec_poly1305_block(&p, io->aad_len, io->len);

	/* full carry, then h mod 2^130 - 5 by a constant-time select of h or h - p */
	h0 = p.h[0];
	h1 = p.h[1];
	h2 = p.h[2];
	h3 = p.h[3];
	h4 = p.h[4];
	c = h1 >> 26;
	h1 &= SPSEC_M26;
	h2 += c;
	c = h2 >> 26;
	h2 &= SPSEC_M26;
	h3 += c;
	c = h3 >> 26;
	h3 &= SPSEC_M26;
	h4 += c;
	c = h4 >> 26;
	h4 &= SPSEC_M26;
	h0 += c * 5;
	c = h0 >> 26;
	h0 &= SPSEC_M26;
	h1 += c;
	g0 = h0 + 5;
	c = g0 >> 26;
	g0 &= SPSEC_M26;
	g1 = h1 + c;
	c = g1 >> 26;
	g1 &= SPSEC_M26;
	g2 = h2 + c;
	c = g2 >> 26;
	g2 &= SPSEC_M26;
	g3 = h3 + c;
	c = g3 >> 26;
	g4 = h4 + c - (1ULL << 26);
	mask = (g4 >> 63) - 1; /* all ones when h >= p */
	h0 = (h0 & ~mask) | (g0 & mask);
	h1 = (h1 & ~mask) | (g1 & mask);
	h2 = (h2 & ~mask) | (g2 & mask);
	/* only bits 0..63 of (h + s) mod 2^128 are needed: limbs 0..2 cover bits 0..77; adding (not
	 * OR-ing) the limbs stays right even if the last carry left h1 = 2^26 */
	return (h0 + (h1 << 26) + (h2 << 52)) + s_lo;
}

/* XORs key stream block 1 into buf (len <= 54 < 64: one block covers it). */
SPSEC_INLINE int spsec_chacha20_xor(const struct spsec_key_slot *k, struct spsec_aead_io *io)
{
	int err;

	if (io->len == 0)
		return 0;
	err = spsec_chacha20_block(k->key, 1, io->nonce, io->buf.w, 8);
	spsec_mask_tail(io->buf.w, io->len);
	return err;
}

/* Lengths are checked and the tails zeroed by the caller (spsec_aead.h). */
SPSEC_NOINLINE int spsec_chachapoly_seal(const struct spsec_key_slot *k, struct spsec_aead_io *io)
{
	int err = spsec_chacha20_xor(k, io);
	__u64 tag = spsec_chachapoly_tag(k, io, &err);

	__builtin_memcpy(io->tag, &tag, sizeof(tag));
	return err;
}

SPSEC_NOINLINE int spsec_chachapoly_open(const struct spsec_key_slot *k, struct spsec_aead_io *io)
{
	int err = 0;
	int ret = spsec_tag_verdict(spsec_chachapoly_tag(k, io, &err), spsec_ld64(io->tag));

	if (ret == 0)
		err |= spsec_chacha20_xor(k, io);
	return ret | err;
}

#endif /* SPSEC_CHACHAPOLY_H */
