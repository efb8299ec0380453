// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * Probes of the gateway benchmark (bench/gw_bench.sh), not product code: can tc redirect a CAN
 * skb to another CAN device, and can it turn a classical CAN skb (16 bytes, ETH_P_CAN) into a
 * CAN FD one (72 bytes, ETH_P_CANFD)?
 * gw_grow (section tc/grow): on tc ingress, grows a 16-byte skb to 72 bytes with
 * bpf_skb_change_tail(), sets the FD length field, and redirects it to gwp_cfg[0] (an ifindex). It
 * records in gwp_out: [0] frames seen, [1] change_tail return value (as __u64), [2] skb->len after,
 *   [3] skb->protocol after (host order), [4] bpf_skb_change_proto(ETH_P_CANFD) return value.
 * Loaded with `tc filter ... bpf da obj gw_probe.bpf.o sec tc/grow` (or tc/redirect), maps pinned
 * by name under /sys/fs/bpf/tc/globals.
 */
#include <linux/bpf.h>
#include <linux/can.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} gwp_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} gwp_out SEC(".maps");

static __always_inline void put(__u32 k, __u64 v)
{
	__u64 *p = bpf_map_lookup_elem(&gwp_out, &k);

	if (p)
		*p = v;
}

SEC("tc/grow")
int gw_grow(struct __sk_buff *skb)
{
	__u32 zero = 0, *to = bpf_map_lookup_elem(&gwp_cfg, &zero);
	__u64 *seen;
	__u32 k = 0;
	long r;

	if (!to || skb->len != CAN_MTU)
		return TC_ACT_OK;
	seen = bpf_map_lookup_elem(&gwp_out, &k);
	if (seen)
		*seen += 1;
	r = bpf_skb_change_tail(skb, CANFD_MTU, 0);
	put(1, (__u64)r);
	put(2, skb->len);
	put(3, bpf_ntohs(skb->protocol));
	r = bpf_skb_change_proto(skb, bpf_htons(ETH_P_CANFD), 0);
	put(4, (__u64)r);
	return bpf_redirect(*to, 0);
}

/*
 * gw_redirect: redirects every CAN FD skb to gwp_cfg[0] (tc ingress), recording in gwp_out[5]
 * frames seen and [6] the last bpf_clone_redirect() return value of a clone sent first (as
 * __u64). On 6.1 both fail for a CAN target: __bpf_redirect_common() refuses an skb whose
 * mac_header is not below its network_header ("no link layer header"), which a CAN skb never
 * has, and CAN devices (ARPHRD_CAN) take that path.
 */
SEC("tc/redirect")
int gw_redirect(struct __sk_buff *skb)
{
	__u32 zero = 0, *to = bpf_map_lookup_elem(&gwp_cfg, &zero);
	__u64 *seen;
	__u32 k = 5;

	if (!to || skb->len != CANFD_MTU)
		return TC_ACT_OK;
	seen = bpf_map_lookup_elem(&gwp_out, &k);
	if (seen)
		*seen += 1;
	put(6, (__u64)bpf_clone_redirect(skb, *to, 0));
	return bpf_redirect(*to, 0);
}

/*
 * gw_mark / gw_seemark: does skb->mark set on a segment's tc ingress survive can-gw to the
 * secured interface's tc egress? (The way to recognise a forwarded frame's driver echo later.)
 * gw_mark sets skb->mark = 0x47570001 ("GW"); gw_seemark records the mark of each CAN FD frame
 * in gwp_out[7].
 */
SEC("tc/mark")
int gw_mark(struct __sk_buff *skb)
{
	skb->mark = 0x47570001;
	return TC_ACT_OK;
}

SEC("tc/seemark")
int gw_seemark(struct __sk_buff *skb)
{
	if (skb->len == CANFD_MTU)
		put(7, skb->mark);
	return TC_ACT_OK;
}
