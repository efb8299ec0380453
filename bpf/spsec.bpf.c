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
#include "spsec_gateway.h"

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
	 * frames off the bus (vxcan peers, CAN drivers' rx) have none. A gateway's frames, which
	 * can-gw sends without a socket, are told by the mark spsec_gw_in put on them, on a device
	 * that echoes: a driver's received frame starts with mark 0. Not on one that does not:
	 * vxcan hands its peer the sender's skb, mark included, so a gateway's frames arrive at
	 * the next node with it. */
	if (skb->sk)
		echo = spsec_dev_echo ? SPSEC_ECHO_STAMPED : SPSEC_ECHO_PLAIN;
	else if (spsec_dev_echo && skb->mark == SPSEC_GW_MARK)
		echo = SPSEC_ECHO_STAMPED;
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

/*
 * The gateway's guards on a plain segment (spsec_gateway.h). can-gw does the forwarding; these
 * count every frame per rule, apply the rules' rate limits, and on egress refuse what no rule
 * lets cross from the secured bus.
 */
SEC("tc")
int spsec_gw_in(struct __sk_buff *skb)
{
	int kind = spsec_frame_kind(skb), act;

	if (kind < 0) {
		spsec_count(SPSEC_R_RX_MALFORMED);
		return TC_ACT_SHOT;
	}
	act = spsec_gw_seg_verdict((void *)(long)skb->data, (void *)(long)skb->data_end, kind,
				   SPSEC_GW_TO_SECURED, skb->ingress_ifindex);
	/* what can-gw forwards from here must be known as this node's own when the secured
	 * interface echoes it (see spsec_ingress) */
	if (act == TC_ACT_OK)
		skb->mark = SPSEC_GW_MARK;
	return act;
}

SEC("tc")
int spsec_gw_out(struct __sk_buff *skb)
{
	int kind = spsec_frame_kind(skb);

	if (kind < 0) {
		spsec_count(SPSEC_R_TX_MALFORMED);
		return TC_ACT_SHOT;
	}
	/* can-gw's copies carry no socket (they are clones of received skbs); a local
	 * application's frames do. spsecd's classical relay has a socket, and its mark asks for
	 * the rules (a mark needs CAP_NET_ADMIN: it can only add checks). */
	if (skb->sk && skb->mark != SPSEC_GW_RELAY_MARK)
		return spsec_finish(SPSEC_R_GW_LOCAL_TX, 0, 0);
	return spsec_gw_seg_verdict((void *)(long)skb->data, (void *)(long)skb->data_end, kind,
				    SPSEC_GW_TO_PLAIN, skb->ifindex);
}
