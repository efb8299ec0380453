/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * AES-256-GCM core (NIST SP 800-38D) for SPsec frames: 96-bit IV, AAD 5..59 bytes, 0..54 bytes of
 * text, tag truncated to 8 bytes.
 *
 * AES: four little-endian T-tables and the S-box in .rodata (spsec_aes_tables.h); the 60 round-key
 * words come precomputed in the key slot (spsec_key_slot.aes_rk, little-endian column words: word
 * i = LE32 of bytes 4i..4i+3 of the expanded key).
 * GHASH: the 64 KiB per-key table spsec_key_slot.gcm_table, entry T[i][b] = (b * x^(8i)) * H, i.e.
 * the product with H of the field element whose byte i is b and all other bytes 0, stored as two
 * host-order __u64: [0] = bytes 0..7 of the product read big-endian, [1] = bytes 8..15 likewise.
 * One multiplication is then 16 lookups and XORs.
 *
 * Not constant-time: T-table AES and table GHASH index memory with secret-dependent values (cache
 * timing). Acceptable only where no untrusted code shares the CPU caches; the ARX AEADs have no
 * such lookups.
 */
#ifndef SPSEC_AES_GCM_H
#define SPSEC_AES_GCM_H

#include "spsec/abi.h"
#include "spsec_crypto_common.h"
#include "spsec_aead_io.h"
#include "spsec_aes_tables.h"

#define SPSEC_AES256_ROUNDS 14

/* The AES block function of CTR and E_K(J0): the T-table below unless the including file brings
 * its own (the kernel's AES through the BPF crypto kfuncs, bpf/spsec_kaes.h). It
 * returns 0, or non-zero when the block could not be computed (the seal/open then fails). */
#ifndef SPSEC_AES_BLOCK
#define SPSEC_AES_BLOCK(k, blk) spsec_aes256_block((k)->aes_rk, (blk))
#endif

/* spsec_aes_ft[t][byte k of s], with the index pre-scaled to a byte offset: BPF has no scaled
 * addressing, so (s >> (8k - 2)) & 0x3fc saves an instruction per lookup. */
SPSEC_INLINE __u32 spsec_aes_ftb(int t, __u32 s, int k)
{
	__u32 off = k == 0 ? (s << 2) & 0x3fc : (s >> (8 * k - 2)) & 0x3fc;

	return *(const __u32 *)((const __u8 *)spsec_aes_ft[t] + off);
}

SPSEC_INLINE __u32 spsec_aes_final_col(__u32 a, __u32 b, __u32 c, __u32 d, __u32 rk)
{
	return ((__u32)spsec_aes_sbox[a & 0xff] | ((__u32)spsec_aes_sbox[(b >> 8) & 0xff] << 8) |
		((__u32)spsec_aes_sbox[(c >> 16) & 0xff] << 16) |
		((__u32)spsec_aes_sbox[(d >> 24) & 0xff] << 24)) ^
	       rk;
}

/* Encrypts one block in place; blk holds 4 little-endian column words. rk: 60 words. */
SPSEC_NOINLINE int spsec_aes256_block(const __u32 *rk, __u32 *blk)
{
	__u32 s0 = blk[0] ^ rk[0], s1 = blk[1] ^ rk[1], s2 = blk[2] ^ rk[2], s3 = blk[3] ^ rk[3];
	__u32 t0, t1, t2, t3;
	int r;

	SPSEC_ROLLED
	for (r = 1; r < SPSEC_AES256_ROUNDS; r++) {
		t0 = spsec_aes_ftb(0, s0, 0) ^ spsec_aes_ftb(1, s1, 1) ^ spsec_aes_ftb(2, s2, 2) ^
		     spsec_aes_ftb(3, s3, 3) ^ rk[4 * r];
		t1 = spsec_aes_ftb(0, s1, 0) ^ spsec_aes_ftb(1, s2, 1) ^ spsec_aes_ftb(2, s3, 2) ^
		     spsec_aes_ftb(3, s0, 3) ^ rk[4 * r + 1];
		t2 = spsec_aes_ftb(0, s2, 0) ^ spsec_aes_ftb(1, s3, 1) ^ spsec_aes_ftb(2, s0, 2) ^
		     spsec_aes_ftb(3, s1, 3) ^ rk[4 * r + 2];
		t3 = spsec_aes_ftb(0, s3, 0) ^ spsec_aes_ftb(1, s0, 1) ^ spsec_aes_ftb(2, s1, 2) ^
		     spsec_aes_ftb(3, s2, 3) ^ rk[4 * r + 3];
		s0 = t0;
		s1 = t1;
		s2 = t2;
		s3 = t3;
	}
	blk[0] = spsec_aes_final_col(s0, s1, s2, s3, rk[56]);
	blk[1] = spsec_aes_final_col(s1, s2, s3, s0, rk[57]);
	blk[2] = spsec_aes_final_col(s2, s3, s0, s1, rk[58]);
	blk[3] = spsec_aes_final_col(s3, s0, s1, s2, rk[59]);
	return spsec_opaque_zero();
}

/* Byte offset of T[i][byte i of X] within gcm_table[i]; w is the big-endian half holding byte i. */
SPSEC_INLINE __u32 spsec_gh_off(int i, __u64 w)
{
	int sh = 52 - 8 * (i % 8);

	return (__u32)(sh < 0 ? (w << 4) & 0xff0 : (w >> sh) & 0xff0);
}

/* x = (x ^ (hi, lo)) * H, x[0] and x[1] the big-endian halves of the GHASH accumulator. */
SPSEC_NOINLINE int spsec_ghash_block(const struct spsec_key_slot *k, __u64 *x, __u64 hi, __u64 lo)
{
	__u64 xh = x[0] ^ hi, xl = x[1] ^ lo, zh = 0, zl = 0;
	const __u64 *e;
	int i;

	SPSEC_UNROLL
	for (i = 0; i < 8; i++) {
		e = (const __u64 *)((const __u8 *)k->gcm_table[i] + spsec_gh_off(i, xh));
		zh ^= e[0];
		zl ^= e[1];
	}
	SPSEC_UNROLL
	for (i = 8; i < 16; i++) {
		e = (const __u64 *)((const __u8 *)k->gcm_table[i] + spsec_gh_off(i, xl));
		zh ^= e[0];
		zl ^= e[1];
	}
	x[0] = zh;
	x[1] = zl;
	return spsec_opaque_zero();
}

/* Absorbs the 64-byte buffer w (zero beyond len) as ceil(len / 16) GHASH blocks. */
SPSEC_INLINE int spsec_ghash_buf(const struct spsec_key_slot *k, __u64 *x, const __u64 *w,
				 __u32 len)
{
	int i, err = 0;

	SPSEC_UNROLL
	for (i = 0; i < 4; i++) {
		/* no break: a single-exit loop is what clang can unroll */
		if (len > 16 * (__u32)i)
			err |= spsec_ghash_block(k, x, __builtin_bswap64(w[2 * i]),
						 __builtin_bswap64(w[2 * i + 1]));
	}
	return err;
}

/* XORs the CTR key stream (counter blocks 2, 3, ...) into ceil(len / 16) blocks of buf. */
SPSEC_INLINE int spsec_gcm_ctr(const struct spsec_key_slot *k, struct spsec_aead_io *io)
{
	__u32 n0 = spsec_ld32(io->nonce), n1 = spsec_ld32(io->nonce + 4);
	__u32 n2 = spsec_ld32(io->nonce + 8), len = io->len;
	__u32 blk[4];
	int i, err = 0;

	SPSEC_UNROLL
	for (i = 0; i < 4; i++) {
		if (len <= 16 * (__u32)i)
			continue;
		blk[0] = n0;
		blk[1] = n1;
		blk[2] = n2;
		blk[3] = __builtin_bswap32((__u32)i + 2);
		err |= SPSEC_AES_BLOCK(k, blk);
		io->buf.w[2 * i] ^= (__u64)blk[0] | ((__u64)blk[1] << 32);
		io->buf.w[2 * i + 1] ^= (__u64)blk[2] | ((__u64)blk[3] << 32);
	}
	/* the last block's key stream ran past len */
	spsec_mask_tail(io->buf.w, len);
	return err;
}

/* The first 8 bytes of the GCM tag over io->aad and the ciphertext in io->buf, as a LE u64. */
SPSEC_INLINE __u64 spsec_gcm_tag(const struct spsec_key_slot *k, struct spsec_aead_io *io, int *err)
{
	__u64 x[2] = { 0, 0 };
	__u32 blk[4];

	*err |= spsec_ghash_buf(k, x, io->aad.w, io->aad_len);
	*err |= spsec_ghash_buf(k, x, io->buf.w, io->len);
	*err |= spsec_ghash_block(k, x, (__u64)io->aad_len * 8, (__u64)io->len * 8);

	/* E_K(J0), J0 = IV || 0x00000001 */
	blk[0] = spsec_ld32(io->nonce);
	blk[1] = spsec_ld32(io->nonce + 4);
	blk[2] = spsec_ld32(io->nonce + 8);
	blk[3] = 0x01000000u;
	*err |= SPSEC_AES_BLOCK(k, blk);
	return __builtin_bswap64(x[0]) ^ ((__u64)blk[0] | ((__u64)blk[1] << 32));
}

/* Lengths are checked and the tails zeroed by the caller (spsec_aead.h). */
SPSEC_NOINLINE int spsec_aes_gcm_seal(const struct spsec_key_slot *k, struct spsec_aead_io *io)
{
	int err = spsec_gcm_ctr(k, io);
	__u64 tag = spsec_gcm_tag(k, io, &err);

	__builtin_memcpy(io->tag, &tag, sizeof(tag));
	return err;
}

SPSEC_NOINLINE int spsec_aes_gcm_open(const struct spsec_key_slot *k, struct spsec_aead_io *io)
{
	int err = 0;
	int ret = spsec_tag_verdict(spsec_gcm_tag(k, io, &err), spsec_ld64(io->tag));

	/* decrypt only what verified: a forged frame costs no CTR blocks */
	if (ret == 0)
		err |= spsec_gcm_ctr(k, io);
	return ret | err;
}

#endif /* SPSEC_AES_GCM_H */
