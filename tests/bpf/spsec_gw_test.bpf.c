// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * Test-only entry points of the gateway's segment verdict (bpf/spsec_gateway.h) for
 * BPF_PROG_TEST_RUN, which can set neither skb->protocol nor the ingress interface: CAN FD vs
 * classical is decided by length and the segment's ifindex comes from skb->cb[0]. The socket
 * check of spsec_gw_out (local senders pass) is the production entry's and is tested in
 * the VM.
 */
#include <linux/bpf.h>
#include <linux/can.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "spsec_gateway.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline int spsec_test_gw(struct __sk_buff *skb, __u32 dir)
{
	int kind = skb->len == CANFD_MTU ? 1 : skb->len == CAN_MTU ? 0 : -1;

	if (kind < 0) {
		spsec_count(SPSEC_R_RX_MALFORMED);
		return TC_ACT_SHOT;
	}
	return spsec_gw_seg_verdict((void *)(long)skb->data, (void *)(long)skb->data_end, kind, dir,
				    skb->cb[0]);
}

SEC("tc")
int spsec_test_gw_in(struct __sk_buff *skb)
{
	return spsec_test_gw(skb, SPSEC_GW_TO_SECURED);
}

SEC("tc")
int spsec_test_gw_out(struct __sk_buff *skb)
{
	return spsec_test_gw(skb, SPSEC_GW_TO_PLAIN);
}
