/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * Helpers shared by the AEAD cores. The cores are plain C with no BPF helpers, so the same source
 * compiles for the BPF target (clang -target bpf -O2 -mcpu=v3) and natively (unit tests, key
 * preparation, benchmarks).
 *
 * Verifier rules every core follows:
 *  - loops are bounded by constants; the block loops over the 64-byte buffers are unrolled so every
 *    buffer offset is a constant, and lengths only decide how many iterations run;
 *  - every table index is masked (& 0x3fc, & 0xff0, & 127) so the verifier can bound it;
 *  - no branches on lengths beyond the block loops (masks come from a table): every extra branch
 *    doubles the paths the verifier walks;
 *  - primitives used several times (AES block, GHASH multiply, ChaCha block, Poly1305 block, Ascon
 *    permutation) are noinline subprograms: one copy of the code, own stack frame.
 */
#ifndef SPSEC_CRYPTO_COMMON_H
#define SPSEC_CRYPTO_COMMON_H

#include <linux/types.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
/* The cores load little-endian wire words with native loads. */
#error "spsec AEAD cores support little-endian targets only"
#endif

#define SPSEC_INLINE static inline __attribute__((always_inline))
/*
 * BPF subprogram. Each returns spsec_opaque_zero() and every caller ORs that into its own result:
 * when clang can prove a static function's return value constant or unused, it drops it and r0
 * keeps whatever it last held; if that is a pointer to the caller's stack, the verifier rejects
 * the program ("cannot return stack pointer to the caller").
 */
#define SPSEC_NOINLINE static __attribute__((noinline))

#if defined(__clang__)
/* Rolled loops keep the code and the stack small; the verifier walks each iteration. */
#define SPSEC_ROLLED _Pragma("nounroll")
/* Unrolled block loops: offsets into the 64-byte buffers become constants. */
#define SPSEC_UNROLL _Pragma("unroll")
#else
/* gcc (native builds only): let the optimiser decide about round loops */
#define SPSEC_ROLLED
#define SPSEC_UNROLL _Pragma("GCC unroll 8")
#endif

/* 0, but opaque to the optimiser (see SPSEC_NOINLINE). */
SPSEC_INLINE int spsec_opaque_zero(void)
{
	int z = 0;

	__asm__ __volatile__("" : "+r"(z));
	return z;
}

SPSEC_INLINE __u32 spsec_ld32(const void *p)
{
	__u32 v;

	__builtin_memcpy(&v, p, sizeof(v));
	return v;
}

SPSEC_INLINE __u64 spsec_ld64(const void *p)
{
	__u64 v;

	__builtin_memcpy(&v, p, sizeof(v));
	return v;
}

/* spsec_mask_table[56 + n]: the low n bytes of a word set, for n in -56..64 clamped to 0..8. */
/* clang-format off */
static const __u64 spsec_mask_table[128] = {
	0x0000000000000000ULL, 0x0000000000000000ULL, 0x0000000000000000ULL, 0x0000000000000000ULL,
	0x0000000000000000ULL, 0x0000000000000000ULL, 0x0000000000000000ULL, 0x0000000000000000ULL,
	0x0000000000000000ULL, 0x0000000000000000ULL, 0x0000000000000000ULL, 0x0000000000000000ULL,
	0x0000000000000000ULL, 0x0000000000000000ULL, 0x0000000000000000ULL, 0x0000000000000000ULL,
	0x0000000000000000ULL, 0x0000000000000000ULL, 0x0000000000000000ULL, 0x0000000000000000ULL,
	0x0000000000000000ULL, 0x0000000000000000ULL, 0x0000000000000000ULL, 0x0000000000000000ULL,
	0x0000000000000000ULL, 0x0000000000000000ULL, 0x0000000000000000ULL, 0x0000000000000000ULL,
	0x0000000000000000ULL, 0x0000000000000000ULL, 0x0000000000000000ULL, 0x0000000000000000ULL,
	0x0000000000000000ULL, 0x0000000000000000ULL, 0x0000000000000000ULL, 0x0000000000000000ULL,
	0x0000000000000000ULL, 0x0000000000000000ULL, 0x0000000000000000ULL, 0x0000000000000000ULL,
	0x0000000000000000ULL, 0x0000000000000000ULL, 0x0000000000000000ULL, 0x0000000000000000ULL,
	0x0000000000000000ULL, 0x0000000000000000ULL, 0x0000000000000000ULL, 0x0000000000000000ULL,
	0x0000000000000000ULL, 0x0000000000000000ULL, 0x0000000000000000ULL, 0x0000000000000000ULL,
	0x0000000000000000ULL, 0x0000000000000000ULL, 0x0000000000000000ULL, 0x0000000000000000ULL,
	0x0000000000000000ULL, 0x00000000000000ffULL, 0x000000000000ffffULL, 0x0000000000ffffffULL,
	0x00000000ffffffffULL, 0x000000ffffffffffULL, 0x0000ffffffffffffULL, 0x00ffffffffffffffULL,
	0xffffffffffffffffULL, 0xffffffffffffffffULL, 0xffffffffffffffffULL, 0xffffffffffffffffULL,
	0xffffffffffffffffULL, 0xffffffffffffffffULL, 0xffffffffffffffffULL, 0xffffffffffffffffULL,
	0xffffffffffffffffULL, 0xffffffffffffffffULL, 0xffffffffffffffffULL, 0xffffffffffffffffULL,
	0xffffffffffffffffULL, 0xffffffffffffffffULL, 0xffffffffffffffffULL, 0xffffffffffffffffULL,
	0xffffffffffffffffULL, 0xffffffffffffffffULL, 0xffffffffffffffffULL, 0xffffffffffffffffULL,
	0xffffffffffffffffULL, 0xffffffffffffffffULL, 0xffffffffffffffffULL, 0xffffffffffffffffULL,
	0xffffffffffffffffULL, 0xffffffffffffffffULL, 0xffffffffffffffffULL, 0xffffffffffffffffULL,
	0xffffffffffffffffULL, 0xffffffffffffffffULL, 0xffffffffffffffffULL, 0xffffffffffffffffULL,
	0xffffffffffffffffULL, 0xffffffffffffffffULL, 0xffffffffffffffffULL, 0xffffffffffffffffULL,
	0xffffffffffffffffULL, 0xffffffffffffffffULL, 0xffffffffffffffffULL, 0xffffffffffffffffULL,
	0xffffffffffffffffULL, 0xffffffffffffffffULL, 0xffffffffffffffffULL, 0xffffffffffffffffULL,
	0xffffffffffffffffULL, 0xffffffffffffffffULL, 0xffffffffffffffffULL, 0xffffffffffffffffULL,
	0xffffffffffffffffULL, 0xffffffffffffffffULL, 0xffffffffffffffffULL, 0xffffffffffffffffULL,
	0xffffffffffffffffULL, 0xffffffffffffffffULL, 0xffffffffffffffffULL, 0xffffffffffffffffULL,
	0xffffffffffffffffULL, 0xffffffffffffffffULL, 0xffffffffffffffffULL, 0xffffffffffffffffULL,
	0xffffffffffffffffULL, 0xffffffffffffffffULL, 0xffffffffffffffffULL, 0xffffffffffffffffULL,
};
/* clang-format on */

/*
 * Mask of the bytes of little-endian word j (bytes 8j..8j+7) that lie below len (len <= 64): all
 * ones when the word is inside, zero when it is past the end, the low (len - 8j) bytes otherwise.
 * A table lookup on purpose: clang turns any clamp arithmetic into branches, and a branch per word
 * multiplies the paths the verifier walks (each outcome leaves a different range on len), which
 * blew Ascon past the 1M-instruction limit. The & 127 bounds the index for the verifier.
 */
SPSEC_INLINE __u64 spsec_word_mask(__u32 len, __u32 j)
{
	return spsec_mask_table[(len + 56 - 8 * j) & 127];
}

/* Zeroes the bytes of an 8-word buffer at and beyond len (len <= 64). */
SPSEC_INLINE void spsec_mask_tail(__u64 *w, __u32 len)
{
	int j;

	SPSEC_UNROLL
	for (j = 0; j < 8; j++)
		w[j] &= spsec_word_mask(len, (__u32)j);
}

/* 0 when a == b, -1 otherwise, without a data-dependent branch. */
SPSEC_INLINE int spsec_tag_verdict(__u64 a, __u64 b)
{
	__u64 d = a ^ b;

	/* (d | -d) has its top bit set iff d != 0 */
	return -(int)((d | (0 - d)) >> 63);
}

#endif /* SPSEC_CRYPTO_COMMON_H */
