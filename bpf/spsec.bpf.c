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

/* Load-time constant, set by the loader from the interface's flags: 1 when the device echoes
 * sent frames itself (IFF_ECHO, as every real CAN driver does). Its echo is then the skb tc
 * egress stamped, not the plain clone the CAN core makes for devices without IFF_ECHO. */
const volatile __u32 spsec_dev_echo = 0;

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
	__u32 echo = SPSEC_ECHO_NONE;
	int act;

	if (kind < 0) {
		spsec_count(SPSEC_R_RX_MALFORMED);
		return TC_ACT_SHOT;
	}
	/* A local echo keeps the sending socket: the CAN core's clone (can_send() ->
	 * can_skb_set_owner()) and a driver's echo skb (can_put_echo_skb() keeps skb->sk) alike;
	 * frames off the bus (vxcan peers, CAN drivers' rx) have none. */
	if (skb->sk)
		echo = spsec_dev_echo ? SPSEC_ECHO_STAMPED : SPSEC_ECHO_PLAIN;
	act = spsec_ingress_verdict((void *)(long)skb->data, (void *)(long)skb->data_end, kind,
				    echo);
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
	return spsec_egress_verdict(skb, (void *)(long)skb->data, (void *)(long)skb->data_end, kind,
				    skb->mark);
}
