/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * Verifier probe and BPF_PROG_TEST_RUN target for the AEAD cores (not part of the data plane).
 * Each program takes the key from probe_keys[0] and the work area from the per-CPU probe_io[0],
 * as the data plane does, and returns the core's result (0 ok, -1 bad tag or bad input) in the
 * probe_ret global so the test can read it; the tc verdict is always TC_ACT_OK.
 *   probe_seal / probe_open        spsec_aead_seal/open (dispatch on the slot's aead)
 *   probe_<aead>_seal / _open      one core each, for per-AEAD verifier figures
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "spsec/abi.h"
#include "spsec_aead.h"

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

#define SPSEC_PROBE_SEAL 0
#define SPSEC_PROBE_OPEN 1

static __always_inline int probe_run(int aead, int op)
{
	struct spsec_key_slot *k;
	struct spsec_aead_io *io;
	__u32 zero = 0;
	int ret = -2;

	k = bpf_map_lookup_elem(&probe_keys, &zero);
	io = bpf_map_lookup_elem(&probe_io, &zero);
	if (!k || !io)
		goto out;
	if (aead == SPSEC_AEAD_NONE) {
		ret = op == SPSEC_PROBE_SEAL ? spsec_aead_seal(k, io) : spsec_aead_open(k, io);
		goto out;
	}
	if (spsec_aead_prepare_io(io))
		goto out;
	if (aead == SPSEC_AEAD_AES256GCM)
		ret = op == SPSEC_PROBE_SEAL ? spsec_aes_gcm_seal(k, io)
					     : spsec_aes_gcm_open(k, io);
	else if (aead == SPSEC_AEAD_CHACHA20POLY1305)
		ret = op == SPSEC_PROBE_SEAL ? spsec_chachapoly_seal(k, io)
					     : spsec_chachapoly_open(k, io);
	else
		ret = op == SPSEC_PROBE_SEAL ? spsec_ascon_seal(k, io) : spsec_ascon_open(k, io);
out:
	probe_ret = ret;
	return TC_ACT_OK;
}

SEC("tc")
int probe_seal(struct __sk_buff *skb)
{
	return probe_run(SPSEC_AEAD_NONE, SPSEC_PROBE_SEAL);
}

SEC("tc")
int probe_open(struct __sk_buff *skb)
{
	return probe_run(SPSEC_AEAD_NONE, SPSEC_PROBE_OPEN);
}

SEC("tc")
int probe_gcm_seal(struct __sk_buff *skb)
{
	return probe_run(SPSEC_AEAD_AES256GCM, SPSEC_PROBE_SEAL);
}

SEC("tc")
int probe_gcm_open(struct __sk_buff *skb)
{
	return probe_run(SPSEC_AEAD_AES256GCM, SPSEC_PROBE_OPEN);
}

SEC("tc")
int probe_chacha_seal(struct __sk_buff *skb)
{
	return probe_run(SPSEC_AEAD_CHACHA20POLY1305, SPSEC_PROBE_SEAL);
}

SEC("tc")
int probe_chacha_open(struct __sk_buff *skb)
{
	return probe_run(SPSEC_AEAD_CHACHA20POLY1305, SPSEC_PROBE_OPEN);
}

SEC("tc")
int probe_ascon_seal(struct __sk_buff *skb)
{
	return probe_run(SPSEC_AEAD_ASCON128, SPSEC_PROBE_SEAL);
}

SEC("tc")
int probe_ascon_open(struct __sk_buff *skb)
{
	return probe_run(SPSEC_AEAD_ASCON128, SPSEC_PROBE_OPEN);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
