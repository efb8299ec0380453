// SPDX-License-Identifier: GPL-2.0-only
/*
 * A tiny tc classifier for the vm tier's smoke test: it proves that a BPF program on a CAN
 * netdev's tc ingress decides which frames reach CAN_RAW sockets, on the VM's real kernel. It is
 * no part of the product.
 *
 * Verdicts: a CAN FD frame (skb->protocol ETH_P_CANFD, 72 bytes) is dropped when its ID is the
 * standard ID 0x124 or its first data byte is 0x55; every other frame passes, classic CAN frames
 * (ETH_P_CAN) included, whatever their ID and data.
 */
#include <linux/bpf.h>
#include <linux/can.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

/* Index into ft_counters. Each frame increments FT_SEEN and exactly one verdict counter. */
#define FT_SEEN		0 /* every frame the program ran on */
#define FT_PASS_FD	1 /* CAN FD frames passed */
#define FT_PASS_CLASSIC 2 /* classic CAN frames passed */
#define FT_PASS_OTHER	3 /* anything else (no CAN protocol, short frame) passed */
#define FT_DROP_ID	4 /* CAN FD frames dropped for ID 0x124 */
#define FT_DROP_DATA	5 /* CAN FD frames dropped for data[0] == 0x55 */
#define FT_NCOUNTERS	6

#define FT_DROP_CAN_ID 0x124
#define FT_DROP_BYTE   0x55

/* Frame counters, written by the program, read by the test with bpftool; value: frames (__u64). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FT_NCOUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} ft_counters SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&ft_counters, &idx);

	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline __u32 fd_verdict(const struct canfd_frame *cf)
{
	__u32 reason = FT_PASS_FD;

	if (!(cf->can_id & CAN_EFF_FLAG) && (cf->can_id & CAN_SFF_MASK) == FT_DROP_CAN_ID)
		reason = FT_DROP_ID;
	else if (cf->len > 0 && cf->data[0] == FT_DROP_BYTE)
		reason = FT_DROP_DATA;
	return reason;
}

SEC("tc")
int filter_test(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	const struct canfd_frame *cf = data;
	__u32 reason = FT_PASS_OTHER;

	count(FT_SEEN);
	if (skb->protocol == bpf_htons(ETH_P_CAN))
		reason = FT_PASS_CLASSIC;
	else if (skb->protocol == bpf_htons(ETH_P_CANFD) && (void *)(cf + 1) <= data_end)
		reason = fd_verdict(cf);
	count(reason);
	return reason == FT_DROP_ID || reason == FT_DROP_DATA ? TC_ACT_SHOT : TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
