// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * Test-only entry points for BPF_PROG_TEST_RUN. A test run cannot set skb->protocol (it is
 * derived from the buffer by eth_type_trans()) and its skbs have no socket, so these entries
 * decide CAN FD vs classical by length alone and take the local-echo kind from skb->cb[0]
 * (settable through ctx_in). Everything else is the production verdict code.
 */
#include <linux/bpf.h>
#include <linux/can.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "spsec/abi.h"

/*
 * The sending socket as the egress test entry shows it to the verdict: the real helpers on the
 * test run's skb (BPF_PROG_TEST_RUN gives it a socket of uid 0 in the cgroup of the process that
 * runs the test), or, when skb->cb[2] is SPSEC_TEST_WHO, the identity in spsec_test_who, so that
 * a test can try any uid and cgroup tree against the rules.
 */
#define SPSEC_TEST_WHO	      0x57484f3fu /* "WHO?" */
#define SPSEC_TEST_WHO_LEVELS 16

struct spsec_test_who {
	__u32 has_sk; /* 1: a full socket sent the frame */
	__u32 uid;
	__u64 cgroup[SPSEC_TEST_WHO_LEVELS]; /* the socket cgroup's ancestor ids by level, 0 beyond
					      */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct spsec_test_who);
} spsec_test_who SEC(".maps");

static __always_inline const struct spsec_test_who *spsec_test_fake(struct __sk_buff *skb)
{
	__u32 zero = 0;

	if (skb->cb[2] != SPSEC_TEST_WHO)
		return 0;
	return bpf_map_lookup_elem(&spsec_test_who, &zero);
}

static __always_inline int spsec_sender_sk(struct __sk_buff *skb)
{
	const struct spsec_test_who *w = spsec_test_fake(skb);
	struct bpf_sock *sk;

	if (w)
		return w->has_sk;
	sk = skb->sk;
	return sk && bpf_sk_fullsock(sk);
}

static __always_inline __u32 spsec_sender_uid(struct __sk_buff *skb)
{
	const struct spsec_test_who *w = spsec_test_fake(skb);

	return w ? w->uid : bpf_get_socket_uid(skb);
}

static __always_inline __u64 spsec_sender_cgroup(struct __sk_buff *skb, __u32 level)
{
	const struct spsec_test_who *w = spsec_test_fake(skb);

	if (w)
		return level < SPSEC_TEST_WHO_LEVELS
			       ? w->cgroup[level & (SPSEC_TEST_WHO_LEVELS - 1)]
			       : 0;
	return bpf_skb_ancestor_cgroup_id(skb, level);
}

#include "spsec_verdict.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* skb->cb[0] values that make the test entry treat the frame as a local echo: the CAN core's
 * plain clone, or a device's echo (IFF_ECHO) of the skb egress stamped */
#define SPSEC_TEST_ECHO		0x4543484fu /* "ECHO" */
#define SPSEC_TEST_ECHO_STAMPED 0x45434853u /* "ECHS" */
/* skb->cb[1] value that makes the egress test entry restore the frame after the verdict:
 * BPF_PROG_TEST_RUN with repeat > 1 runs on one skb, and the benchmark must seal the same plain
 * frame every time, and gives back the T it claimed (costs 9 loads, 9 stores and two map
 * operations, measured in the benchmark's baseline). */
#define SPSEC_TEST_RESTORE 0x52455354u /* "REST" */

static __always_inline int spsec_test_kind(struct __sk_buff *skb)
{
	if (skb->len == CANFD_MTU)
		return 1;
	if (skb->len == CAN_MTU)
		return 0;
	return -1;
}

SEC("tc")
int spsec_test_ingress(struct __sk_buff *skb)
{
	int kind = spsec_test_kind(skb);
	__u32 echo = SPSEC_ECHO_NONE;

	if (kind < 0) {
		spsec_count(SPSEC_R_RX_MALFORMED);
		return TC_ACT_SHOT;
	}
	if (skb->cb[0] == SPSEC_TEST_ECHO)
		echo = SPSEC_ECHO_PLAIN;
	else if (skb->cb[0] == SPSEC_TEST_ECHO_STAMPED)
		echo = SPSEC_ECHO_STAMPED;
	return spsec_ingress_verdict((void *)(long)skb->data, (void *)(long)skb->data_end, kind,
				     echo);
}

SEC("tc")
int spsec_test_egress(struct __sk_buff *skb)
{
	int kind = spsec_test_kind(skb);

	if (kind < 0) {
		spsec_count(SPSEC_R_TX_MALFORMED);
		return TC_ACT_SHOT;
	}
	if (kind == 1 && skb->cb[1] == SPSEC_TEST_RESTORE) {
		__u64 *p = (void *)(long)skb->data;
		__u64 saved[9]; /* CANFD_MTU / 8 */
		int i, act;

		if ((void *)(p + 9) > (void *)(long)skb->data_end)
			return TC_ACT_SHOT;
#pragma unroll
		for (i = 0; i < 9; i++)
			saved[i] = p[i];
		struct spsec_id_key key = { .can_id = spsec_norm_id((__u32)saved[0]), .pad0 = 0 };
		struct spsec_fresh last = { 0 }, *f;

		f = bpf_map_lookup_elem(&spsec_tx_last, &key);
		if (f)
			last.last_t = f->last_t;
		act = spsec_egress_verdict(skb, (void *)p, (void *)(long)skb->data_end, kind,
					   skb->mark);
#pragma unroll
		for (i = 0; i < 9; i++)
			p[i] = saved[i];
		/* and give back the T just claimed: with the clock frozen, every repeat would claim
		 * the next T until SPSEC_R_TX_T_LEAD refuses (lead = W/2) */
		if (f)
			bpf_map_update_elem(&spsec_tx_last, &key, &last, BPF_EXIST);
		else
			bpf_map_delete_elem(&spsec_tx_last, &key);
		return act;
	}
	return spsec_egress_verdict(skb, (void *)(long)skb->data, (void *)(long)skb->data_end, kind,
				    skb->mark);
}
