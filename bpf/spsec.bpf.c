// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * The spsec data plane's tc entry points. They only gate on what the skb says (protocol and
 * length) and hand the frame to the verdict functions in spsec_verdict.h.
 */
#include <linux/bpf.h>
#include <linux/can.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "spsec_verdict.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* 1 for a CAN FD skb, 0 for a classical CAN skb, -1 for anything else. CAN skbs are linear in
 * practice; pull to be sure, since the verdicts use direct packet access. */
static __always_inline int spsec_frame_kind(struct __sk_buff *skb)
{
	int kind = -1;

	if (skb->protocol == bpf_htons(ETH_P_CANFD) && skb->len == CANFD_MTU)
		kind = 1;
	else if (skb->protocol == bpf_htons(ETH_P_CAN) && skb->len == CAN_MTU)
		kind = 0;
	if (kind >= 0 && skb->data_end - skb->data < skb->len)
		bpf_skb_pull_data(skb, skb->len);
	return kind;
}

SEC("tc")
int spsec_ingress(struct __sk_buff *skb)
{
	int kind = spsec_frame_kind(skb);
	int act;

	if (kind < 0) {
		spsec_count(SPSEC_R_RX_MALFORMED);
		return TC_ACT_SHOT;
	}
	/* The CAN core's local echo of a frame sent here keeps the sending socket (can_send()
	 * -> can_skb_set_owner()); frames off the bus (vxcan, CAN drivers) have no socket. */
	act = spsec_ingress_verdict((void *)(long)skb->data, (void *)(long)skb->data_end, kind,
				    skb->sk != 0);
	return act;
}

SEC("tc")
int spsec_egress(struct __sk_buff *skb)
{
	int kind = spsec_frame_kind(skb);

	if (kind < 0) {
		spsec_count(SPSEC_R_TX_MALFORMED);
		return TC_ACT_SHOT;
	}
	return spsec_egress_verdict((void *)(long)skb->data, (void *)(long)skb->data_end, kind,
				    skb->mark);
}
