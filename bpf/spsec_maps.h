/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * The data plane's maps and the small helpers around them (counters, rate-limited events, the
 * locked state snapshot, the synchronized clock). Struct layouts live in include/spsec/abi.h.
 *
 * Pinned maps use LIBBPF_PIN_BY_NAME: the loader sets the object's pin_root_path to
 * SPSEC_PIN_ROOT/<ifname>, so a restarted daemon reuses them and a dead one leaves the firewall
 * enforcing. Scratch maps are never pinned.
 */
#ifndef SPSEC_MAPS_H
#define SPSEC_MAPS_H

#include <linux/bpf.h>
#include <linux/can.h>
#include <bpf/bpf_helpers.h>

#include "spsec/abi.h"

/*
 * Which AES the AES-GCM core uses is the one thing that differs between the two data-plane
 * objects, chosen by the loader by probing the kernel (docs/kernels.md): spsec_dp (this source
 * as it is, T-table AES in BPF, any kernel) and spsec_dp_kaes (-DSPSEC_KERNEL_AES: the kernel's
 * AES through the BPF crypto kfuncs, Linux 6.10+). A compile-time flavour and not rodata because
 * the kernel-AES object's kptr map cannot even be created on a kernel without the kfuncs.
 */
#ifdef SPSEC_KERNEL_AES
#include "spsec_kaes.h"
/* the T-table block function is then unused (and not emitted) */
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wunused-function"
#include "crypto/spsec_aead.h"
#pragma clang diagnostic pop
#else
#include "crypto/spsec_aead.h"
/* T-table AES: every key slot's AES is ready */
static __always_inline int spsec_kaes_ready(__u32 idx, const struct spsec_key_slot *k)
{
	return 1;
}
#endif

/*
 * spsec_state: configuration + clock + live key slots + live policy generation, one entry.
 * Writer: spsecd (BPF_F_LOCK updates). Reader: both programs, every frame, through
 * spsec_snapshot() under the entry's spin lock. Units: see struct spsec_state. Pinned.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct spsec_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} spsec_state SEC(".maps");

/*
 * spsec_keys: physical key slots with per-key AEAD material (65 KiB each for the AES-GCM table).
 * Writer: spsecd (spare slot first, then the index flip in spsec_state). Reader: both programs,
 * slot chosen by the parity of the frame's window. Holds secrets; pin directory is 0700. Pinned.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SPSEC_KEY_SLOTS);
	__type(key, __u32);
	__type(value, struct spsec_key_slot);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} spsec_keys SEC(".maps");

/*
 * spsec_policy: per-CAN-ID flags, two generations. Writer: spsecd (whole new generation, then
 * the flip of spsec_state.policy_gen, then deletion of the old one). Reader: both programs.
 * Pinned.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SPSEC_POLICY_MAX);
	__type(key, struct spsec_policy_key);
	__type(value, struct spsec_policy);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} spsec_policy SEC(".maps");

/*
 * spsec_rx_fresh: last accepted T (ticks) per secured CAN ID. Writer: ingress, with
 * compare-and-swap, only after a frame verified. spsecd may clear it. Plain HASH, not LRU: an
 * eviction would reopen a replay window; a full map fails closed. Pinned.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SPSEC_FRESH_MAX);
	__type(key, struct spsec_id_key);
	__type(value, struct spsec_fresh);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} spsec_rx_fresh SEC(".maps");

/*
 * spsec_tx_last: last T (ticks) this node stamped per secured CAN ID, so that two frames of one
 * ID never share a T (T = max(now, last + 1)). Writer: egress (compare-and-swap). Pinned, so a
 * restarted daemon cannot make the node reuse a T.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SPSEC_FRESH_MAX);
	__type(key, struct spsec_id_key);
	__type(value, struct spsec_fresh);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} spsec_tx_last SEC(".maps");

/*
 * spsec_counters: frames per verdict reason (SPSEC_R_*), per CPU. Writer: both programs.
 * Reader: spsecd / spsecctl stats / tests, summing over CPUs. Counters only grow. Pinned.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SPSEC_R_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} spsec_counters SEC(".maps");

/*
 * spsec_events: security events (struct spsec_event) for spsecd. Writer: both programs, rate
 * limited through spsec_evlimit. Reader: spsecd's ring buffer consumer. Pinned.
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SPSEC_EVENTS_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} spsec_events SEC(".maps");

/*
 * spsec_snd_rules: sender rules, SPSEC_SENDER_RULES per policy generation (slot = gen *
 * SPSEC_SENDER_RULES + rule). Writer: spsecd, with the policy's spare generation. Reader:
 * egress, for IDs whose policy entry names a rule. Pinned.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * SPSEC_SENDER_RULES);
	__type(key, __u32);
	__type(value, struct spsec_sender_rule);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} spsec_snd_rules SEC(".maps");

/*
 * spsec_snd_uids: (slot, uid) for every uid a rule allows. Writer: spsecd, with the rules.
 * Reader: egress. Pinned.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SPSEC_SENDER_UIDS);
	__type(key, struct spsec_sender_uid_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} spsec_snd_uids SEC(".maps");

/*
 * spsec_snd_count: frames allowed and denied per rule, per CPU. Writer: egress. Reader: spsecd
 * (spsecctl senders). Pinned.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SPSEC_SENDER_RULES);
	__type(key, __u32);
	__type(value, struct spsec_sender_count);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} spsec_snd_count SEC(".maps");

/*
 * spsec_evlimit: per-CPU, per-event-type budget of SPSEC_EV_PER_SEC events per second.
 * Writer and reader: both programs. Not pinned: losing a budget on reload is harmless.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SPSEC_EV_MAX);
	__type(key, __u32);
	__type(value, struct spsec_evlimit);
} spsec_evlimit SEC(".maps");

/* The parts of spsec_state one frame needs, copied under the lock so that a concurrent update
 * by spsecd is seen entirely or not at all. */
struct spsec_snap {
	__u32 state;
	__u32 aead;
	__u32 mode;
	__u32 window;
	__u32 default_action;
	__u32 policy_gen;
	__u32 key_even; /* physical slot of the even window's key */
	__u32 key_odd;	/* physical slot of the odd window's key */
	__u32 clock_set;
	__u64 base_ns;
	__u64 base_t;
	__u64 tick_ns;
};

/* Per-CPU working memory for one frame: the state snapshot, the AEAD's input/output and a copy
 * of the frame's 64 data bytes. Kept off the 512-byte BPF stack, which the crypto cores'
 * subprograms need. */
struct spsec_scratch {
	struct spsec_snap snap;
	/* the frame being secured or opened (set before the subprogram calls of spsec_verdict.h) */
	__u64 t;   /* its T */
	__u32 id;  /* its CAN ID, normalized (spsec_norm_id) */
	__u32 l;   /* payload length L */
	__u32 pad; /* number of 0xFF padding bytes */
	__u32 sl;  /* secured length S */
	struct spsec_aead_io io;
	union {
		__u8 b[CANFD_MAX_DLEN];
		__u64 w[CANFD_MAX_DLEN / 8];
	} frame;
};

/* spsec_scratch: one entry per CPU, overwritten by every frame. Never pinned. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct spsec_scratch);
} spsec_scratch SEC(".maps");

static __always_inline void spsec_count(__u32 reason)
{
	__u64 *c = bpf_map_lookup_elem(&spsec_counters, &reason);

	/* per-CPU slot: no other writer, no atomic needed */
	if (c)
		*c += 1;
}

static __always_inline void spsec_event(__u32 type, __u32 reason, __u32 can_id, __u64 frame_t)
{
	__u64 now = bpf_ktime_get_ns();
	__u64 second = now / 1000000000ULL;
	struct spsec_evlimit *lim;
	struct spsec_event *ev;

	lim = bpf_map_lookup_elem(&spsec_evlimit, &type);
	if (!lim)
		return;
	if (lim->second != second) {
		lim->second = second;
		lim->used = 0;
	}
	if (lim->used >= SPSEC_EV_PER_SEC)
		return;
	lim->used++;

	ev = bpf_ringbuf_reserve(&spsec_events, sizeof(*ev), 0);
	if (!ev)
		return;
	ev->ts_ns = now;
	ev->frame_t = frame_t;
	ev->type = type;
	ev->reason = reason;
	ev->can_id = can_id;
	ev->pad0 = 0;
	bpf_ringbuf_submit(ev, 0);
}

/* Copies the state under its lock. Returns 0, or -1 when the map has no entry (cannot happen
 * for an ARRAY, but the verifier needs the NULL check). */
static __always_inline int spsec_snapshot(struct spsec_snap *s)
{
	__u32 zero = 0;
	struct spsec_state *st = bpf_map_lookup_elem(&spsec_state, &zero);

	if (!st)
		return -1;
	bpf_spin_lock(&st->lock);
	s->state = st->state;
	s->aead = st->aead;
	s->mode = st->mode;
	s->window = st->window;
	s->default_action = st->default_action;
	s->policy_gen = st->policy_gen;
	s->key_even = st->key_slot[0];
	s->key_odd = st->key_slot[1];
	s->clock_set = st->clock_set;
	s->base_ns = st->base_ns;
	s->base_t = st->base_t;
	s->tick_ns = st->tick_ns;
	bpf_spin_unlock(&st->lock);
	return 0;
}

/* The synchronized clock: T = base_t + (now - base_ns) / tick_ns, also for now < base_ns.
 * Returns 0 when the clock is not set (T is never 0). */
static __always_inline __u64 spsec_now_t(const struct spsec_snap *s)
{
	__u64 now = bpf_ktime_get_ns();

	if (!s->clock_set || !s->tick_ns)
		return 0;
	if (now >= s->base_ns)
		return s->base_t + (now - s->base_ns) / s->tick_ns;
	return s->base_t - (s->base_ns - now) / s->tick_ns;
}

/* The key slot for window e, or NULL when the live slot of e's parity holds another window,
 * another AEAD, or nothing; also NULL, with *no_aes set to 1, when it is an AES-GCM slot whose
 * kernel AES context is missing or stale (kernel-AES object only, spsec_kaes.h). */
static __always_inline const struct spsec_key_slot *spsec_key_for(const struct spsec_snap *s,
								  __u64 window, int *no_aes)
{
	/* two named fields, not an array: clang would turn a variable index into pointer
	 * arithmetic on the stack, which the verifier refuses */
	__u32 idx = ((window & 1) ? s->key_odd : s->key_even) & (SPSEC_KEY_SLOTS - 1);
	const struct spsec_key_slot *k = bpf_map_lookup_elem(&spsec_keys, &idx);

	if (!k || !k->live || k->window != window || k->aead != s->aead)
		return 0;
	if (!spsec_kaes_ready(idx, k)) {
		*no_aes = 1;
		return 0;
	}
	return k;
}

static __always_inline const struct spsec_policy *spsec_policy_of(const struct spsec_snap *s,
								  __u32 id)
{
	struct spsec_policy_key key = { .can_id = id, .gen = s->policy_gen & 1 };

	return bpf_map_lookup_elem(&spsec_policy, &key);
}

static __always_inline struct spsec_scratch *spsec_scratch_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&spsec_scratch, &zero);
}

#ifdef SPSEC_KERNEL_AES
#include "spsec_kaes_progs.h"
#endif

#endif /* SPSEC_MAPS_H */
