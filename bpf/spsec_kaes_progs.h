/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * The kernel-AES object's syscall programs (spsec_kaes.h), run by spsecd with BPF_PROG_RUN
 * (userspace/bpf/data_plane.cpp). bpf_crypto_ctx_create may sleep, so contexts are made here, not
 * in the tc programs. The context argument is struct spsec_kaes_args (abi.h); each program
 * writes its result to args->err (0 or a negative errno) and returns 0.
 *
 *   spsec_kaes_set  makes an "ecb(aes)" context from the 32-byte key of key slot args->slot as
 *                   spsec_keys holds it now (the key never passes through user space again),
 *                   records the slot's window and H with it, and releases the context it
 *                   replaces. -EINVAL when the slot is not a live AES-GCM slot.
 *   spsec_kaes_clr  releases the context of slot args->slot (none there is fine).
 *   spsec_kaes_prb  makes and releases a context for an all-zero key: can this kernel give
 *                   "ecb(aes)" at all (the loader's probe).
 */
#ifndef SPSEC_KAES_PROGS_H
#define SPSEC_KAES_PROGS_H

#include "spsec_kaes.h"
#include "spsec_maps.h"

static __always_inline struct bpf_crypto_ctx *spsec_kaes_create(const __u8 *key, int *err)
{
	struct bpf_crypto_params params = {
		.type = "skcipher",
		.algo = "ecb(aes)",
		.key_len = 32,
	};
	struct bpf_crypto_ctx *ctx;

	__builtin_memcpy(params.key, key, 32);
	ctx = bpf_crypto_ctx_create(&params, sizeof(params), err);
	/* the stack copy of the key goes now (the context keeps its own, freed with
	 * kfree_sensitive) */
	__builtin_memset(params.key, 0, 32);
	__asm__ __volatile__("" : : "r"(params.key) : "memory");
	if (!ctx && !*err)
		*err = -22; /* EINVAL */
	return ctx;
}

SEC("syscall")
int spsec_kaes_set(struct spsec_kaes_args *args)
{
	const struct spsec_key_slot *k;
	struct bpf_crypto_ctx *ctx, *old;
	struct spsec_kaes_val *v;
	__u32 slot = args->slot;
	int err = 0;

	k = bpf_map_lookup_elem(&spsec_keys, &slot);
	v = bpf_map_lookup_elem(&spsec_kaes_ctx, &slot);
	if (!k || !v) {
		args->err = -2; /* ENOENT: no such slot */
		return 0;
	}
	if (!k->live || k->aead != SPSEC_AEAD_AES256GCM) {
		args->err = -22; /* EINVAL */
		return 0;
	}
	ctx = spsec_kaes_create(k->key, &err);
	if (!ctx) {
		args->err = err;
		return 0;
	}
	/* what the frames check the context against; the slot is not live in any frame's
	 * snapshot while spsecd sets it */
	v->window = k->window;
	__builtin_memcpy(&v->h_check, k->gcm_h, sizeof(v->h_check));
	old = bpf_kptr_xchg(&v->ctx, ctx);
	if (old)
		bpf_crypto_ctx_release(old);
	args->err = 0;
	return 0;
}

SEC("syscall")
int spsec_kaes_clr(struct spsec_kaes_args *args)
{
	struct bpf_crypto_ctx *old;
	struct spsec_kaes_val *v;
	__u32 slot = args->slot;

	v = bpf_map_lookup_elem(&spsec_kaes_ctx, &slot);
	if (!v) {
		args->err = -2;
		return 0;
	}
	old = bpf_kptr_xchg(&v->ctx, NULL);
	if (old)
		bpf_crypto_ctx_release(old);
	v->window = 0;
	v->h_check = 0;
	args->err = 0;
	return 0;
}

SEC("syscall")
int spsec_kaes_prb(struct spsec_kaes_args *args)
{
	const __u8 zero_key[32] = {};
	struct bpf_crypto_ctx *ctx;
	int err = 0;

	ctx = spsec_kaes_create(zero_key, &err);
	if (ctx)
		bpf_crypto_ctx_release(ctx);
	args->err = ctx ? 0 : err;
	return 0;
}

#endif /* SPSEC_KAES_PROGS_H */
