/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * The data plane's AEAD entry points: spsec_aead_seal() and spsec_aead_open() on a struct
 * spsec_aead_io (spsec_aead_io.h), dispatching on spsec_key_slot.aead to the three cores:
 *   SPSEC_AEAD_AES256GCM        spsec_aes_gcm.h    (needs aes_rk and gcm_table in the slot)
 *   SPSEC_AEAD_CHACHA20POLY1305 spsec_chachapoly.h (uses key[0..31])
 *   SPSEC_AEAD_ASCON128         spsec_ascon.h      (uses key[16..31])
 * The slot is prepared by user space with spsec::prepare_key_slot() (userspace/bpf/key_material.h).
 *
 * NOTES for callers (changes against the first interface draft, all compatible):
 *  - bytes of io->aad past aad_len and of io->buf past len need NOT be zero: both functions zero
 *    them first. Both return -1 for aad_len outside 5..59, len outside 0..54 or an unknown aead.
 *  - the per-AEAD functions spsec_<aead>_seal/_open are noinline BPF subprograms themselves, so
 *    the three cores never share one stack frame; no wrapper subprograms are needed around them.
 *
 * No BPF helpers: the same code compiles natively (spsec_aead_native.c; the unit tests cross-check
 * it against OpenSSL and the Ascon KAT, and the BPF build against the native one).
 *
 * Verifier figures (clang-14 -O2 -mcpu=v3, probe.bpf.c; same on the 6.18 host and the Debian
 * 6.1.0-56 kernel): stack beyond the caller's frame, deepest chain: AES-GCM 72+40,
 * ChaCha20-Poly1305 144+160, Ascon 72+40 bytes; "processed" per seal or open: AES-GCM ~12k, ChaCha
 * ~9-12k, Ascon ~11k, the dispatching spsec_aead_seal/open (all three cores) ~35k, of the 1M limit.
 */
#ifndef SPSEC_AEAD_H
#define SPSEC_AEAD_H

#include "spsec/abi.h"
#include "spsec_aead_io.h"
#include "spsec_aes_gcm.h"
#include "spsec_chachapoly.h"
#include "spsec_ascon.h"

/* Checks the lengths and zeroes the bytes past them; 0 when usable, -1 otherwise. */
SPSEC_INLINE int spsec_aead_prepare_io(struct spsec_aead_io *io)
{
	__u32 aad_len = io->aad_len, len = io->len;

	if (aad_len < SPSEC_AEAD_MIN_AAD || aad_len > SPSEC_AEAD_MAX_AAD ||
	    len > SPSEC_AEAD_MAX_LEN)
		return -1;
	spsec_mask_tail(io->aad.w, aad_len);
	spsec_mask_tail(io->buf.w, len);
	return 0;
}

/*
 * Encrypts io->buf[0..len) in place (bytes beyond len end up zero) and writes the 8-byte truncated
 * tag to io->tag. Returns 0, or -1 for bad lengths (io untouched) or an unknown k->aead.
 */
SPSEC_INLINE int spsec_aead_seal(const struct spsec_key_slot *k, struct spsec_aead_io *io)
{
	__u32 aead = k->aead;

	if (spsec_aead_prepare_io(io))
		return -1;
	if (aead == SPSEC_AEAD_AES256GCM)
		return spsec_aes_gcm_seal(k, io);
	if (aead == SPSEC_AEAD_CHACHA20POLY1305)
		return spsec_chachapoly_seal(k, io);
	if (aead == SPSEC_AEAD_ASCON128)
		return spsec_ascon_seal(k, io);
	return -1;
}

/*
 * Computes the tag over AAD and ciphertext, compares its first 8 bytes with io->tag in constant
 * time and decrypts io->buf in place. Returns 0 when the tag matches; -1 when it does not, for bad
 * lengths, or an unknown k->aead. After -1 io->buf is all zero: nothing of a forged frame leaks.
 */
SPSEC_INLINE int spsec_aead_open(const struct spsec_key_slot *k, struct spsec_aead_io *io)
{
	__u32 aead = k->aead;
	int ret = -1;

	if (spsec_aead_prepare_io(io) == 0) {
		if (aead == SPSEC_AEAD_AES256GCM)
			ret = spsec_aes_gcm_open(k, io);
		else if (aead == SPSEC_AEAD_CHACHA20POLY1305)
			ret = spsec_chachapoly_open(k, io);
		else if (aead == SPSEC_AEAD_ASCON128)
			ret = spsec_ascon_open(k, io);
	}
	if (ret != 0)
		spsec_mask_tail(io->buf.w, 0);
	return ret;
}

#endif /* SPSEC_AEAD_H */
