/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * The gateway's maps and rule logic (include/spsec/abi.h: "Gateway"). The kernel's can-gw
 * forwards frames between a plain segment and the secured interface, one can-gw job per rule
 * part, set up by spsecd: from a segment to the secured interface, whose tc egress stamps the
 * frame as this node's own transmission; and from the secured interface, after its tc ingress
 * verified and decrypted the frame, to the segments. tc cannot forward itself: bpf_redirect()
 * of a CAN skb fails on 6.1 (no link-layer header, -ERANGE), see docs/gateway.md.
 *
 * The programs here sit on each plain segment and decide with the same rules:
 *   spsec_gw_in   tc ingress: counts each frame under its rule, drops what is over the
 *                     rule's rate before can-gw sees it
 *   spsec_gw_out  tc egress, frames without a socket (can-gw's copies) and spsecd's relay's
 *                     (SPSEC_GW_RELAY_MARK): passes what a rule lets cross (rate
 *                     permitting), drops everything else
 *
 * Classical CAN frames: tc cannot turn a 16-byte ETH_P_CAN skb into a 72-byte ETH_P_CANFD one
 * (skb->protocol is read-only in tc, bpf_skb_change_proto() knows only IPv4/IPv6), nor can
 * can-gw; spsecd's relay converts them (a CAN_RAW socket per segment). They are rate-limited
 * and counted here like the others (rx_gw_classic) and left to the relay.
 *
 * The maps live here, not in spsec_maps.h, because only the gateway uses them.
 */
#ifndef SPSEC_GATEWAY_H
#define SPSEC_GATEWAY_H

#include <linux/bpf.h>
#include <linux/can.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "spsec_maps.h"
#include "spsec_verdict.h"

/* spsec_gw_conf: live generation and rule count (SPSEC_GW_LIVE). Writer: spsecd, one 32-bit
 * word after the whole spare generation is written. Reader: both paths. Pinned. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} spsec_gw_conf SEC(".maps");

/* spsec_gw_rules: two generations of SPSEC_GW_RULES_MAX rules (struct spsec_gw_rule). Writer:
 * spsecd (the spare generation only). Reader: both paths. Pinned. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * SPSEC_GW_RULES_MAX);
	__type(key, __u32);
	__type(value, struct spsec_gw_rule);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} spsec_gw_rules SEC(".maps");

/* spsec_gw_count: frames per rule and SPSEC_GW_CNT_* kind, per CPU. Writer: both paths.
 * Reader: spsecd, spsecctl, tests (sum over CPUs). Only grows. Pinned. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SPSEC_GW_RULES_MAX *SPSEC_GW_CNT_N);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} spsec_gw_count SEC(".maps");

/* spsec_gw_rate: per-rule rate limiter state (struct spsec_gw_rate), under its lock. Writer and
 * reader: both paths; spsecd zeroes a rule's entry when its limit changes. Pinned. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SPSEC_GW_RULES_MAX);
	__type(key, __u32);
	__type(value, struct spsec_gw_rate);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} spsec_gw_rate SEC(".maps");

/* spsec_gw_relay: what spsecd's classical relay did per rule (struct spsec_gw_relay_count).
 * Writer: spsecd only; no program here touches it. It is declared here so that the loader
 * creates and pins it with the others (both objects share it). Reader: spsecd, spsecctl.
 * Pinned. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SPSEC_GW_RULES_MAX);
	__type(key, __u32);
	__type(value, struct spsec_gw_relay_count);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} spsec_gw_relay SEC(".maps");

static __always_inline void spsec_gw_count_rule(__u32 rule, __u32 kind)
{
	__u32 key = (rule & (SPSEC_GW_RULES_MAX - 1)) * SPSEC_GW_CNT_N + kind;
	__u64 *c = bpf_map_lookup_elem(&spsec_gw_count, &key);

	if (c)
		*c += 1;
}

static __always_inline int spsec_gw_matches(const struct spsec_gw_rule *r, __u32 id)
{
	return (id & r->mask) == r->value && r->lo <= id && id <= r->hi;
}

/* 1 when the frame conforms to the rule's rate limit (and takes its share of it), else 0. */
static __always_inline int spsec_gw_rate_ok(const struct spsec_gw_rule *r)
{
	struct spsec_gw_rate *st;
	__u32 key = r->rule & (SPSEC_GW_RULES_MAX - 1);
	__u64 now, tat;
	int ok = 0;

	if (!r->interval_ns)
		return 1;
	st = bpf_map_lookup_elem(&spsec_gw_rate, &key);
	if (!st)
		return 0;
	now = bpf_ktime_get_ns();
	bpf_spin_lock(&st->lock);
	tat = st->tat > now ? st->tat : now;
	/* conforming while the schedule runs at most burst_ns ((burst - 1) intervals) ahead:
	 * exactly `burst` frames back to back, then one per interval */
	if (now + r->burst_ns >= tat) {
		st->tat = tat + r->interval_ns;
		ok = 1;
	}
	bpf_spin_unlock(&st->lock);
	return ok;
}

/* The live generation's first rule slot and its rule count; count 0 when the gateway is off. */
static __always_inline __u32 spsec_gw_live(__u32 *base)
{
	__u32 zero = 0, live, *conf = bpf_map_lookup_elem(&spsec_gw_conf, &zero);

	if (!conf)
		return 0;
	live = *(volatile __u32 *)conf;
	*base = (live >> 16) & 1 ? SPSEC_GW_RULES_MAX : 0;
	live &= 0xffff;
	return live > SPSEC_GW_RULES_MAX ? SPSEC_GW_RULES_MAX : live;
}

/*
 * The verdict on a plain segment. `cf`/`fd` as for the data plane's verdicts, `dir` the
 * direction of the rules that apply (SPSEC_GW_TO_SECURED on the segment's ingress,
 * SPSEC_GW_TO_PLAIN on its egress), `seg` the segment's ifindex. Counts the frame under one
 * SPSEC_R_GW_* reason and, when a rule matches, under that rule; returns the tc action.
 * Control-plane IDs, error and RTR frames never match a rule (spsecd refuses rules that name
 * control-plane IDs).
 */
static __noinline int spsec_gw_seg_verdict(struct canfd_frame *cf, void *data_end, __u32 fd,
					   __u32 dir, __u32 seg)
{
	const struct spsec_gw_rule *r, *hit = 0;
	__u32 base = 0, n, i, key, raw, id = 0, reason;

	if ((void *)cf + CAN_MTU > data_end) {
		reason = dir == SPSEC_GW_TO_SECURED ? SPSEC_R_RX_MALFORMED : SPSEC_R_TX_MALFORMED;
		goto out;
	}
	raw = cf->can_id;
	id = spsec_norm_id(raw);
	n = spsec_gw_live(&base);
	if (raw & (CAN_ERR_FLAG | CAN_RTR_FLAG) || spsec_is_control(raw))
		n = 0;
	for (i = 0; i < SPSEC_GW_RULES_MAX; i++) {
		if (i >= n)
			break;
		key = base + i;
		r = bpf_map_lookup_elem(&spsec_gw_rules, &key);
		if (!r)
			break;
		if (r->dir == dir && r->seg_ifindex == seg && spsec_gw_matches(r, id)) {
			hit = r;
			break;
		}
	}
	if (dir == SPSEC_GW_TO_SECURED) {
		if (!hit)
			reason = SPSEC_R_GW_NO_RULE;
		else if (!spsec_gw_rate_ok(hit))
			reason = SPSEC_R_GW_RATE_LIMITED;
		else if (!fd || (hit->flags & SPSEC_GW_F_CLASSIC))
			reason = SPSEC_R_GW_CLASSIC; /* spsecd's relay forwards it */
		else
			reason = SPSEC_R_GW_IN_ALLOWED;
	} else {
		if (!hit)
			reason = SPSEC_R_GW_OUT_NOT_ALLOWED;
		else if (!spsec_gw_rate_ok(hit))
			reason = SPSEC_R_GW_OUT_RATE_LIMITED;
		else
			reason = SPSEC_R_GW_OUT_ALLOWED;
	}
	if (hit)
		spsec_gw_count_rule(hit->rule, reason == SPSEC_R_GW_CLASSIC ? SPSEC_GW_CNT_CLASSIC
					       : reason == SPSEC_R_GW_RATE_LIMITED ||
							       reason == SPSEC_R_GW_OUT_RATE_LIMITED
						       ? SPSEC_GW_CNT_RATE
						       : SPSEC_GW_CNT_FWD);
out:
	return spsec_finish(reason, id, 0);
}

#endif /* SPSEC_GATEWAY_H */
