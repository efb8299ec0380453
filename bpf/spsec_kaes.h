/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * Kernel AES for the data plane's AES-256-GCM: every AES block (the CTR key stream and E_K(J0)) is
 * a bpf_crypto_encrypt() on an "ecb(aes)" context the kernel made from the key slot's key. Only in
 * the kernel-AES object (spsec_dp_kaes, built with -DSPSEC_KERNEL_AES; Linux 6.10+): a kernel
 * without the BPF crypto kfuncs cannot create spsec_kaes_ctx (its BTF has no struct
 * bpf_crypto_ctx), so the loader picks this object or the T-table one (spsec_dp) by probing
 * (docs/kernels.md). GHASH stays the table code of spsec_aes_gcm.h.
 *
 * Fail closed: a frame whose AES-GCM key slot has no context, or a context made for other key
 * material than the slot now holds, is dropped as SPSEC_R_*_NO_KERNEL_AES before any crypto
 * (spsec_kaes_ready); a context that vanishes mid-frame makes the AEAD fail (seal: TX_INTERNAL,
 * open: the frame does not verify). The T-table AES is never a fallback in this object: its round
 * keys are not read.
 */
#ifndef SPSEC_KAES_H
#define SPSEC_KAES_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "spsec/abi.h"

/* The kernel's types, matched by name in its BTF; only the layout of the params is used, the
 * context is opaque. */
struct bpf_crypto_ctx {
	int opaque;
};
struct bpf_crypto_params {
	char type[14];
	__u8 reserved[2];
	char algo[128];
	__u8 key[256];
	__u32 key_len;
	__u32 authsize;
};

extern struct bpf_crypto_ctx *bpf_crypto_ctx_create(const struct bpf_crypto_params *params,
						    __u32 params__sz, int *err) __ksym;
extern int bpf_crypto_encrypt(struct bpf_crypto_ctx *ctx, const struct bpf_dynptr *src,
			      const struct bpf_dynptr *dst, const struct bpf_dynptr *siv) __ksym;
/* A referenced kptr: the kernel finds it in a map value by member -> PTR -> TYPE_TAG "kptr" ->
 * STRUCT. clang 14 drops the tag on struct members but keeps it on parameters, so this parameter
 * carries it and cmake/btf_kptr_fix.py points spsec_kaes_val.ctx at that type after the build.
 * __kptr is libbpf's btf_type_tag("kptr"). */
extern void bpf_crypto_ctx_release(struct bpf_crypto_ctx __kptr *ctx) __ksym;

/* The key material a context was made from, to tell a stale context from the slot's own. */
struct spsec_kaes_val {
	/* a referenced kptr after cmake/btf_kptr_fix.py; spelled without the tag (clang 14 would
	 * otherwise lose the parameter's tag too) */
	struct bpf_crypto_ctx *ctx;
	__u64 window;  /* spsec_key_slot.window when the context was made */
	__u64 h_check; /* the first 8 bytes of spsec_key_slot.gcm_h (H = E_K(0)) then */
};

/*
 * spsec_kaes_ctx: the kernel AES context of each key slot, same index as spsec_keys. Writer: the
 * syscall programs spsec_kaes_set/spsec_kaes_clr, which spsecd runs (BPF_PROG_RUN) when it
 * writes or wipes a slot, before a written slot goes live. Reader: both tc programs, per AES
 * block. Not pinned: kptrs are not carried over to a new object, so every load re-creates the
 * contexts of the live slots from the pinned spsec_keys (DataPlane::from_object) before its
 * programs are attached; the old programs keep their own map until they are replaced.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SPSEC_KEY_SLOTS);
	__type(key, __u32);
	__type(value, struct spsec_kaes_val);
} spsec_kaes_ctx SEC(".maps");

/* One block in and out of the kernel cipher (dynptrs need map memory), and the key slot of the
 * frame being processed, set by spsec_kaes_ready() before the AEAD runs. */
struct spsec_kaes_blk {
	__u32 slot;
	__u32 pad;
	__u8 in[16];
	__u8 out[16];
};

/* spsec_kaes_blk: per CPU, overwritten by every frame. Never pinned. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct spsec_kaes_blk);
} spsec_kaes_blk SEC(".maps");

/* 1 when key slot idx (holding k) may be used: not AES-GCM, or its context exists and was made
 * from the key material the slot holds now. Then records idx for spsec_kaes_block(). */
static __always_inline int spsec_kaes_ready(__u32 idx, const struct spsec_key_slot *k)
{
	const struct spsec_kaes_val *v;
	struct spsec_kaes_blk *b;
	__u32 zero = 0;
	__u64 h;

	if (k->aead != SPSEC_AEAD_AES256GCM)
		return 1;
	v = bpf_map_lookup_elem(&spsec_kaes_ctx, &idx);
	b = bpf_map_lookup_elem(&spsec_kaes_blk, &zero);
	if (!v || !b || !v->ctx)
		return 0;
	__builtin_memcpy(&h, k->gcm_h, sizeof(h));
	if (v->window != k->window || v->h_check != h)
		return 0;
	b->slot = idx;
	return 1;
}

/* E_K(blk) in place with the context of the slot spsec_kaes_ready() recorded; non-zero when it
 * has none (any more) or the kernel refused. */
static __attribute__((noinline)) int spsec_kaes_block(__u32 *blk)
{
	struct bpf_dynptr src, dst, siv;
	struct spsec_kaes_val *v;
	struct bpf_crypto_ctx *ctx;
	struct spsec_kaes_blk *b;
	__u32 zero = 0, slot;
	int ret;

	b = bpf_map_lookup_elem(&spsec_kaes_blk, &zero);
	if (!b)
		return 1;
	slot = b->slot & (SPSEC_KEY_SLOTS - 1);
	v = bpf_map_lookup_elem(&spsec_kaes_ctx, &slot);
	if (!v)
		return 1;
	ctx = v->ctx; /* RCU-protected: tc programs run under rcu_read_lock */
	if (!ctx)
		return 1;
	__builtin_memcpy(b->in, blk, 16);
	bpf_dynptr_from_mem(b->in, sizeof(b->in), 0, &src);
	bpf_dynptr_from_mem(b->out, sizeof(b->out), 0, &dst);
	bpf_dynptr_from_mem(b->in, 0, 0, &siv); /* ecb: no IV */
	ret = bpf_crypto_encrypt(ctx, &src, &dst, &siv);
	__builtin_memcpy(blk, b->out, 16);
	/* the key stream block stays in the frame's scratch only */
	__builtin_memset(b->out, 0, sizeof(b->out));
	return ret != 0;
}

#define SPSEC_AES_BLOCK(k, blk) spsec_kaes_block(blk)

#endif /* SPSEC_KAES_H */
