/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * Prototype (not part of the data plane): AES-256-GCM with the AES block calls done by the kernel
 * through the BPF crypto kfuncs (Linux 6.10 and newer), GHASH still the table code in BPF.
 * BPF_PROG_TEST_RUN target of tests/unit/bpfcrypto_kfunc_bpf_test.cpp, which checks it against
 * the native cores. A separate object because a kernel without the kfuncs (6.1) cannot load it at
 * all: its BTF has no struct bpf_crypto_ctx for the kptr map and no kfuncs to call; a loader
 * would pick this object or the T-table one by the load-time probe (docs/kernels.md).
 *
 *   kfunc_set_key (syscall)  creates an "ecb(aes)" skcipher context for the 32-byte key in its
 *                            BPF_PROG_RUN context (never in a map) and stores it as the kptr of
 *                            key slot args->slot, releasing the one it replaces
 *   kfunc_clear_key (syscall) releases the context of slot args->slot
 *   probe_kgcm_seal / _open  (tc) the data plane's spsec_aead_seal/open on probe_keys[0] and
 *                            probe_io[0], as probe.bpf.c, but every AES-GCM E_K(block) is
 *                            bpf_crypto_encrypt with the context of slot 0; the key slot's aes_rk
 *                            is not read
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "spsec/abi.h"
#include "spsec_aead_io.h"

/* The kernel's types, matched by name (and kind) in its BTF; only the layout of the params is used
 * here, the context is opaque. */
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
 * STRUCT. clang 14 drops the tag on struct members but keeps it on parameters, so the release
 * kfunc's parameter carries it and cmake/btf_kptr_fix.py points kfunc_ctx_value.ctx at that type
 * after the build (libbpf skips the tag when it matches the kfunc against the kernel's). __kptr is
 * libbpf's btf_type_tag("kptr"). */
extern void bpf_crypto_ctx_release(struct bpf_crypto_ctx __kptr *ctx) __ksym;

#define KFUNC_SLOTS 2

struct kfunc_ctx_value {
	/* a kptr after cmake/btf_kptr_fix.py; spelled without the tag here, because clang 14 would
	 * then also emit the parameter's tagged type without its tag (one debug type for both) */
	struct bpf_crypto_ctx *ctx;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KFUNC_SLOTS);
	__type(key, __u32);
	__type(value, struct kfunc_ctx_value);
} kfunc_ctx SEC(".maps");

/* One block in and out of the kernel cipher: dynptrs need map (or packet) memory. */
struct kfunc_block {
	__u8 in[16];
	__u8 out[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kfunc_block);
} kfunc_scratch SEC(".maps");

/* E_K(blk) in place with the context of key slot 0; non-zero when there is none or the kernel
 * refused. */
static __attribute__((noinline)) int spsec_kfunc_aes_block(__u32 *blk)
{
	struct bpf_dynptr src, dst, siv;
	struct kfunc_ctx_value *v;
	struct bpf_crypto_ctx *ctx;
	struct kfunc_block *b;
	__u32 zero = 0;
	int ret;

	v = bpf_map_lookup_elem(&kfunc_ctx, &zero);
	b = bpf_map_lookup_elem(&kfunc_scratch, &zero);
	if (!v || !b)
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
	__builtin_memset(b->out, 0, sizeof(b->out));
	return ret != 0;
}

#define SPSEC_AES_BLOCK(k, blk) spsec_kfunc_aes_block(blk)
/* the T-table block function is then unused (and not emitted) */
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wunused-function"
#include "spsec_aead.h"
#pragma clang diagnostic pop

struct kfunc_key_args {
	__u32 slot;
	__s32 err; /* out: 0, or the negative errno of the context creation */
	__u8 key[32];
};

SEC("syscall")
int kfunc_set_key(struct kfunc_key_args *args)
{
	struct bpf_crypto_params params = {
		.type = "skcipher",
		.algo = "ecb(aes)",
		.key_len = 32,
	};
	struct bpf_crypto_ctx *ctx, *old;
	struct kfunc_ctx_value *v;
	__u32 slot = args->slot;
	int err = 0;

	v = bpf_map_lookup_elem(&kfunc_ctx, &slot);
	if (!v) {
		args->err = -2; /* ENOENT: no such slot */
		return 0;
	}
	__builtin_memcpy(params.key, args->key, 32);
	ctx = bpf_crypto_ctx_create(&params, sizeof(params), &err);
	/* the stack copy of the key goes now (the context keeps its own, freed with
	 * kfree_sensitive) */
	__builtin_memset(params.key, 0, 32);
	__asm__ __volatile__("" : : "r"(params.key) : "memory");
	if (!ctx) {
		args->err = err ? err : -22;
		return 0;
	}
	old = bpf_kptr_xchg(&v->ctx, ctx);
	if (old)
		bpf_crypto_ctx_release(old);
	args->err = 0;
	return 0;
}

SEC("syscall")
int kfunc_clear_key(struct kfunc_key_args *args)
{
	struct bpf_crypto_ctx *old;
	struct kfunc_ctx_value *v;
	__u32 slot = args->slot;

	v = bpf_map_lookup_elem(&kfunc_ctx, &slot);
	if (!v) {
		args->err = -2;
		return 0;
	}
	old = bpf_kptr_xchg(&v->ctx, NULL);
	if (old)
		bpf_crypto_ctx_release(old);
	args->err = 0;
	return 0;
}

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct spsec_key_slot);
} probe_keys SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct spsec_aead_io);
} probe_io SEC(".maps");

int probe_ret;

static __always_inline int kgcm_run(int seal)
{
	struct spsec_key_slot *k;
	struct spsec_aead_io *io;
	__u32 zero = 0;
	int ret = -2;

	k = bpf_map_lookup_elem(&probe_keys, &zero);
	io = bpf_map_lookup_elem(&probe_io, &zero);
	if (!k || !io)
		goto out;
	ret = seal ? spsec_aead_seal(k, io) : spsec_aead_open(k, io);
out:
	probe_ret = ret;
	return TC_ACT_OK;
}

SEC("tc")
int probe_kgcm_seal(struct __sk_buff *skb)
{
	return kgcm_run(1);
}

SEC("tc")
int probe_kgcm_open(struct __sk_buff *skb)
{
	return kgcm_run(0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
