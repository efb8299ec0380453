/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * The AEAD cores of spsec_aead.h compiled natively, plus the per-key precomputation of AES-GCM
 * material. Written in C so the very source the BPF program runs is what the tests check.
 */
#include "spsec_aead_native.h"

#include <string.h>

#include "spsec_aead.h"

int spsec_aead_native_seal(const struct spsec_key_slot *k, struct spsec_aead_io *io)
{
	return spsec_aead_seal(k, io);
}

int spsec_aead_native_open(const struct spsec_key_slot *k, struct spsec_aead_io *io)
{
	return spsec_aead_open(k, io);
}

static __u32 sub_word(__u32 t)
{
	return (__u32)spsec_aes_sbox[t & 0xff] | (__u32)spsec_aes_sbox[(t >> 8) & 0xff] << 8 |
	       (__u32)spsec_aes_sbox[(t >> 16) & 0xff] << 16 |
	       (__u32)spsec_aes_sbox[(t >> 24) & 0xff] << 24;
}

void spsec_aes256_expand_key(const __u8 key[32], __u32 rk[60])
{
	__u32 rcon = 1;
	int i;

	for (i = 0; i < 8; i++)
		rk[i] = spsec_ld32(key + 4 * i);
	for (i = 8; i < 60; i++) {
		__u32 t = rk[i - 1];

		if (i % 8 == 0) {
			/* RotWord on a little-endian word is a right rotation by one byte */
			t = sub_word((t >> 8) | (t << 24)) ^ rcon;
			rcon = (rcon << 1) ^ ((rcon & 0x80) ? 0x11b : 0);
		} else if (i % 8 == 4) {
			t = sub_word(t);
		}
		rk[i] = rk[i - 8] ^ t;
	}
}

void spsec_aes256_encrypt_native(const __u32 rk[60], __u8 block[16])
{
	__u32 w[4];

	memcpy(w, block, sizeof(w));
	spsec_aes256_block(rk, w);
	memcpy(block, w, sizeof(w));
}

static __u64 load_be64(const __u8 *p)
{
	return __builtin_bswap64(spsec_ld64(p));
}

static void store_entry(__u8 *e, __u64 hi, __u64 lo)
{
	memcpy(e, &hi, sizeof(hi));
	memcpy(e + 8, &lo, sizeof(lo));
}

void spsec_gcm_build_table(const __u8 h[16], __u8 table[16][256][16])
{
	/* v[n] = H * x^n for n = 0..127: in GCM's reflected bit order multiplying by x is a right
	 * shift of the big-endian 128-bit value, folding the dropped bit back in with R = 0xe1 ||
	 * 0^120 */
	__u64 vh[128], vl[128], th[256], tl[256];
	int n, i, b;

	vh[0] = load_be64(h);
	vl[0] = load_be64(h + 8);
	for (n = 1; n < 128; n++) {
		__u64 carry = vl[n - 1] & 1;

		vl[n] = (vl[n - 1] >> 1) | (vh[n - 1] << 63);
		vh[n] = (vh[n - 1] >> 1) ^ (0xe100000000000000ULL & (0 - carry));
	}
	/* Byte i of X holds the coefficients of x^(8i) .. x^(8i+7), most significant bit first: bit
	 * j of the byte (value 1 << j) is x^(8i + 7 - j). T[i][b] is linear in b. */
	for (i = 0; i < 16; i++) {
		th[0] = 0;
		tl[0] = 0;
		for (b = 1; b < 256; b++) {
			int j = __builtin_ctz((unsigned int)b);
			int rest = b & (b - 1);

			th[b] = th[rest] ^ vh[8 * i + 7 - j];
			tl[b] = tl[rest] ^ vl[8 * i + 7 - j];
			store_entry(table[i][b], th[b], tl[b]);
		}
		store_entry(table[i][0], 0, 0);
	}
	/* the scratch tables are derived from the hash key: wipe them (the asm keeps the stores) */
	memset(vh, 0, sizeof(vh));
	memset(vl, 0, sizeof(vl));
	memset(th, 0, sizeof(th));
	memset(tl, 0, sizeof(tl));
	__asm__ __volatile__("" : : "r"(vh), "r"(vl), "r"(th), "r"(tl) : "memory");
}
