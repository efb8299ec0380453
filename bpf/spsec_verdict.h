/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * The data plane's verdicts, on a struct canfd_frame in packet memory (spec §4):
 *
 *   spsec_ingress_verdict()  classify, check geometry, reconstruct T, acceptance window, key of the
 *                            frame's window, tag, decrypt, pad bytes, per-ID freshness, then
 *                            rewrite the frame in place to the application's plain frame;
 *   spsec_egress_verdict()   pad, stamp and (in encrypting networks) encrypt frames of this
 *                            node's own secured IDs in place, with T = max(now, last T of this
 *                            ID + 1), at most W/2 ahead of now.
 *
 * Both count every frame under exactly one SPSEC_R_* reason and return TC_ACT_OK or TC_ACT_SHOT.
 * They do not look at skb->protocol: the entry points (bpf/spsec.bpf.c, and the test-only entry
 * in tests/bpf/spsec_test.bpf.c) gate on that and pass in what they learned from the skb.
 *
 * Working copies of the 64 data bytes live in the per-CPU spsec_scratch map and are moved as
 * eight 8-byte words: every byte access with a frame-dependent offset goes to the scratch value
 * with a masked index, so packet offsets stay constant for the verifier.
 */
#ifndef SPSEC_VERDICT_H
#define SPSEC_VERDICT_H

#include <linux/bpf.h>
#include <linux/can.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "spsec_maps.h"

#define SPSEC_WORDS (CANFD_MAX_DLEN / 8)

/* The CAN ID as policy and freshness maps key it: CAN_EFF_FLAG plus 29 bits, or 11 bits. */
static __always_inline __u32 spsec_norm_id(__u32 raw)
{
	if (raw & CAN_EFF_FLAG)
		return raw & (CAN_EFF_FLAG | CAN_EFF_MASK);
	return raw & CAN_SFF_MASK;
}

static __always_inline int spsec_is_control(__u32 raw)
{
	return (raw & CAN_EFF_FLAG) && (raw & SPSEC_CTRL_BIT);
}

/* SPSEC_EV_* emitted with each reason (SPSEC_REASONS in abi.h), 0 for none. */
#define SPSEC_R_EVENT_(id, code, name, dir, verdict, event, help) [code] = SPSEC_EV_##event,
static const __u8 spsec_reason_event[SPSEC_R_MAX] = { SPSEC_REASONS(SPSEC_R_EVENT_) };
#undef SPSEC_R_EVENT_

static __always_inline int spsec_state_carries_traffic(__u32 state)
{
	return state == SPSEC_STATE_SECURE || state == SPSEC_STATE_WARNING;
}

/*
 * Frame geometry as table lookups, not branch chains: every branch of a chain leaves a different
 * constant S on its path, and the 6.1 verifier then walks the rest of the program (the AEAD
 * subprograms included) once per S.
 */
static const __u8 spsec_secured_len_tab[64] = {
	12, 12, 12, 16, 16, 16, 16, 20, 20, 20, 20, 24, 24, 24, 24, 32, 32, 32, 32, 32, 32, 32,
	32, 48, 48, 48, 48, 48, 48, 48, 48, 48, 48, 48, 48, 48, 48, 48, 48, 64, 64, 64, 64, 64,
	64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 0,	0,  0,	0,  0,	0,  0,	0,  0,
};

static const __u8 spsec_valid_len_tab[128] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0,
	0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* S is a secured frame length: one of 12, 16, 20, 24, 32, 48, 64. */
static __always_inline int spsec_valid_secured_len(__u32 s)
{
	return s < 128 && spsec_valid_len_tab[s & 127];
}

/* Smallest secured length S >= l + 10, for l <= SPSEC_MAX_PAYLOAD. */
static __always_inline __u32 spsec_secured_len(__u32 l)
{
	return spsec_secured_len_tab[l & 63];
}

/*
 * The control-plane messages of spec §5, by (message type << 1 | ID bit 7): expected priority + 1
 * (0: no such message, SPSEC_CP_ANY_PRIO: any), fixed context byte + 1 (0: none) and the fewest
 * data bytes the message has (userspace/core/messages.cpp decodes the same layouts). One table of
 * 128 bytes: clang puts 32- and 64-byte constant arrays in mergeable .rodata.cst* sections,
 * which bpftool's linker then lays over each other.
 */
#define SPSEC_CP(type, dest) (((type) << 1) | (dest))
#define SPSEC_CP_ANY_PRIO    9

struct spsec_cp_rule {
	__u8 prio;    /* priority + 1, 0 = no such message, SPSEC_CP_ANY_PRIO */
	__u8 min_len; /* fewest data bytes */
	__u16 ctx;    /* fixed context byte + 1, 0 = none */
};

static const struct spsec_cp_rule spsec_cp_rules[32] = {
	[SPSEC_CP(0, 1)] = { 7 + 1, 20, 0xff + 1 }, /* ClientHello */
	[SPSEC_CP(0, 0)] = { 7 + 1, 16, 0xff + 1 }, /* ServerHello */
	[SPSEC_CP(1, 1)] = { 7 + 1, 8, 0 },	    /* ClientFinished: tag */
	[SPSEC_CP(1, 0)] = { 7 + 1, 8, 0 },	    /* ServerFinished */
	[SPSEC_CP(2, 1)] = { 7 + 1, 8, 0 },	    /* ReadInit: ct || tag */
	[SPSEC_CP(2, 0)] = { 7 + 1, 8, 0 },
	[SPSEC_CP(3, 1)] = { 7 + 1, 8, 0 }, /* ReadSeg */
	[SPSEC_CP(3, 0)] = { 7 + 1, 8, 0 },
	[SPSEC_CP(4, 1)] = { 7 + 1, 8, 0 }, /* WriteInit */
	[SPSEC_CP(4, 0)] = { 7 + 1, 8, 0 },
	[SPSEC_CP(5, 1)] = { 7 + 1, 8, 0 }, /* WriteSeg */
	[SPSEC_CP(5, 0)] = { 7 + 1, 8, 0 },
	[SPSEC_CP(6, 1)] = { 7 + 1, 8, 0 }, /* Terminate */
	[SPSEC_CP(6, 0)] = { 7 + 1, 8, 0 },
	[SPSEC_CP(8, 1)] = { 1 + 1, 20, 0x23 + 1 },		 /* PA response: tim csalt tag */
	[SPSEC_CP(8, 0)] = { 2 + 1, 16, 0xff + 1 },		 /* PA request: random16 */
	[SPSEC_CP(9, 0)] = { 0 + 1, 20, 0x21 + 1 },		 /* Sync: stamped LE64(T) LE16(0) */
	[SPSEC_CP(10, 0)] = { 4 + 1, SPSEC_MIN_SECURED_LEN, 0 }, /* heartbeat: stamped FF FF */
	[SPSEC_CP(11, 1)] = { SPSEC_CP_ANY_PRIO, 0, 0 },	 /* security event (no layout) */
	[SPSEC_CP(11, 0)] = { SPSEC_CP_ANY_PRIO, 0, 0 },
	[SPSEC_CP(12, 0)] = { 7 + 1, 5, 0 },		 /* internal event: reg LE32 */
	[SPSEC_CP(13, 1)] = { SPSEC_CP_ANY_PRIO, 0, 0 }, /* internal read (no layout) */
	[SPSEC_CP(13, 0)] = { SPSEC_CP_ANY_PRIO, 0, 0 },
};

/*
 * 1 when a frame with a control-plane ID (29-bit, bit 25) is a well-formed SPsec control-plane
 * message of spec §5: bit 24 clear, a known message type with its priority, fixed context and
 * direction bit, pp 0 only for the Sync broadcast, at least as long as the message: a CAN FD
 * frame (a secured length S for the stamped Sync broadcast and heartbeat) or a classical frame of
 * at most 8 bytes for messages that short. Anything else in
 * the range is no message of ours and follows the policy like any other ID.
 */
static __always_inline int spsec_control_well_formed(__u32 raw, __u32 len, __u32 fd)
{
	__u32 id = raw & CAN_EFF_MASK, type = (id >> 8) & 0xff, ix, prio, ctx;
	int ok = 1;

	if ((raw & CAN_RTR_FLAG) || (id & (1u << 24)) || type > 15)
		ok = 0;
	/* ID bits 11..7 are (type & 15) << 1 | bit 7. The empty asm hides what clang knows of
	 * the value, so it keeps the mask: without it 6.1's verifier saw an unbounded index. */
	ix = id >> 7;
	asm volatile("" : "+r"(ix));
	ix &= 31;
	prio = spsec_cp_rules[ix].prio;
	ctx = spsec_cp_rules[ix].ctx;
	if (!prio || (prio != SPSEC_CP_ANY_PRIO && prio - 1 != (id >> 26)))
		ok = 0;
	if (ctx && ctx - 1 != ((id >> 16) & 0xff))
		ok = 0;
	/* only the Sync broadcast has no participant */
	if ((type == 9) != ((id & 0x7f) == 0))
		ok = 0;
	/* The stamped messages (Sync broadcast, heartbeat) have a secured length S. The others
	 * may come at any CAN FD length from their own up to 64: vcan/vxcan carry unpadded frames
	 * and python-can, which the reference's Configurator uses, sends them so; spsecd accepts
	 * them too (docs/wire-format.md, "Control-plane frame lengths"). */
	if (fd ? len > 64 || ((type == 9 || type == 10) && !spsec_valid_secured_len(len)) : len > 8)
		ok = 0;
	if (len < spsec_cp_rules[ix].min_len)
		ok = 0;
	return ok;
}

/* Keeps the first n bytes (n <= 64) of an 8-word little-endian buffer and zeroes the rest.
 * Branch-free (spsec_word_mask() is a table lookup): a branch per word would multiply the paths
 * the verifier walks. */
static __always_inline void spsec_keep_bytes(__u64 *w, __u32 n)
{
	int j;

#pragma unroll
	for (j = 0; j < SPSEC_WORDS; j++)
		w[j] &= spsec_word_mask(n, j);
}

/* Sets bytes from..63 to 0xFF. */
static __always_inline void spsec_fill_ff(__u64 *w, __u32 from)
{
	int j;

#pragma unroll
	for (j = 0; j < SPSEC_WORDS; j++)
		w[j] |= ~spsec_word_mask(from, j);
}

/* Nonzero unless bytes from..to-1 are all 0xFF. */
static __always_inline __u64 spsec_not_ff(const __u64 *w, __u32 from, __u32 to)
{
	__u64 bad = 0;
	int j;

#pragma unroll
	for (j = 0; j < SPSEC_WORDS; j++)
		bad |= ~w[j] & spsec_word_mask(to, j) & ~spsec_word_mask(from, j);
	return bad;
}

/*
 * Stages one AEAD operation in sc->io for the frame in sc->frame (payload || padding at [0,
 * L+pad)), with sc->t, sc->id, sc->l, sc->pad set (spec §4): nonce = LE64(T) || LE16(id & 0xFFFF)
 * || seed_salt[0..5] (AES-GCM/ChaCha use the first 12) AAD   = LE32(id & 0x1FFFFFFF) || u8(L) [||
 * payload in authentication-only networks] buf   = payload || padding (encrypting networks; nothing
 * in authentication-only ones) A subprogram of its own, so its stack frame is not part of the chain
 * down to the crypto cores.
 */
static __noinline int spsec_stage_io(struct spsec_scratch *sc, const struct spsec_key_slot *k)
{
	struct spsec_aead_io *io = &sc->io;
	__u32 l = sc->l & 63;
	__u64 head = (__u64)(sc->id & CAN_EFF_MASK) | ((__u64)l << 32);
	__u64 salt, t = sc->t;
	int i;

	__builtin_memcpy(&salt, k->salt, sizeof(salt));
	__builtin_memcpy(&io->nonce[0], &t, 8);
	salt = (__u64)(sc->id & 0xffff) | (salt << 16);
	__builtin_memcpy(&io->nonce[8], &salt, 8);

	if (sc->snap.mode == SPSEC_MODE_AUTH_ONLY) {
		/* payload starts at AAD byte 5: shift the frame words by 40 bits */
		io->aad.w[0] = head | (sc->frame.w[0] << 40);
#pragma unroll
		for (i = 1; i < SPSEC_WORDS; i++)
			io->aad.w[i] = (sc->frame.w[i - 1] >> 24) | (sc->frame.w[i] << 40);
		io->aad_len = 5 + l;
		spsec_keep_bytes(io->aad.w, 5 + l);
		io->len = 0;
#pragma unroll
		for (i = 0; i < SPSEC_WORDS; i++)
			io->buf.w[i] = 0;
	} else {
		io->aad.w[0] = head;
#pragma unroll
		for (i = 1; i < SPSEC_WORDS; i++)
			io->aad.w[i] = 0;
		io->aad_len = 5;
#pragma unroll
		for (i = 0; i < SPSEC_WORDS; i++)
			io->buf.w[i] = sc->frame.w[i];
		io->len = l + (sc->pad & 15);
		spsec_keep_bytes(io->buf.w, l + (sc->pad & 15));
	}
	return spsec_opaque_zero();
}

/*
 * The AEAD calls, as spsec_aead_seal()/spsec_aead_open() of bpf/crypto/spsec_aead.h make them,
 * but with each core in a subprogram of its own: inlined together, the three cores' locals share
 * one stack frame, and that frame plus the verdict's plus a core's block function exceeds the
 * 512-byte BPF stack. spsec_aead_prepare_io() is not called: spsec_stage_io() builds lengths
 * that are valid by construction (aad_len 5..59, len 0..54) and zeroes the tails itself, from
 * registers whose bounds the verifier knows. prepare_io's re-check of lengths loaded from memory
 * lets clang drop the table-index mask, and the 6.1 verifier then cannot bound the index.
 */
static __noinline int spsec_seal_aesgcm(const struct spsec_key_slot *k, struct spsec_aead_io *io)
{
	return spsec_aes_gcm_seal(k, io);
}

static __noinline int spsec_seal_chachapoly(const struct spsec_key_slot *k,
					    struct spsec_aead_io *io)
{
	return spsec_chachapoly_seal(k, io);
}

static __noinline int spsec_seal_ascon(const struct spsec_key_slot *k, struct spsec_aead_io *io)
{
	return spsec_ascon_seal(k, io);
}

static __noinline int spsec_open_aesgcm(const struct spsec_key_slot *k, struct spsec_aead_io *io)
{
	return spsec_aes_gcm_open(k, io);
}

static __noinline int spsec_open_chachapoly(const struct spsec_key_slot *k,
					    struct spsec_aead_io *io)
{
	return spsec_chachapoly_open(k, io);
}

static __noinline int spsec_open_ascon(const struct spsec_key_slot *k, struct spsec_aead_io *io)
{
	return spsec_ascon_open(k, io);
}

/* 0, or -1 for bad lengths or an unknown AEAD (nothing sealed then). */
static __always_inline int spsec_seal(const struct spsec_key_slot *k, struct spsec_aead_io *io)
{
	__u32 aead = k->aead;
	int ret = -1;

	if (aead == SPSEC_AEAD_AES256GCM)
		ret = spsec_seal_aesgcm(k, io);
	else if (aead == SPSEC_AEAD_CHACHA20POLY1305)
		ret = spsec_seal_chachapoly(k, io);
	else if (aead == SPSEC_AEAD_ASCON128)
		ret = spsec_seal_ascon(k, io);
	return ret;
}

/* 0 when the tag matches (io->buf decrypted); -1 otherwise, io->buf then all zero. */
static __always_inline int spsec_open(const struct spsec_key_slot *k, struct spsec_aead_io *io)
{
	__u32 aead = k->aead;
	int ret = -1;

	if (aead == SPSEC_AEAD_AES256GCM)
		ret = spsec_open_aesgcm(k, io);
	else if (aead == SPSEC_AEAD_CHACHA20POLY1305)
		ret = spsec_open_chachapoly(k, io);
	else if (aead == SPSEC_AEAD_ASCON128)
		ret = spsec_open_ascon(k, io);
	if (ret != 0)
		spsec_mask_tail(io->buf.w, 0);
	return ret;
}

/* Loads the 64 data bytes of the frame into sc->frame. */
static __always_inline void spsec_load_frame(struct spsec_scratch *sc, const struct canfd_frame *cf)
{
	const __u64 *src = (const __u64 *)cf->data;
	int i;

#pragma unroll
	for (i = 0; i < SPSEC_WORDS; i++)
		sc->frame.w[i] = src[i];
}

static __always_inline void spsec_store_frame(struct canfd_frame *cf,
					      const struct spsec_scratch *sc)
{
	__u64 *dst = (__u64 *)cf->data;
	int i;

#pragma unroll
	for (i = 0; i < SPSEC_WORDS; i++)
		dst[i] = sc->frame.w[i];
}

/* Advances the last accepted T of `id` to t. Returns 0, SPSEC_R_RX_REPLAY when t is not newer,
 * SPSEC_R_RX_INTERNAL when the map is full or keeps changing under us. */
static __always_inline __u32 spsec_rx_fresh_advance(__u32 id, __u64 t)
{
	struct spsec_id_key key = { .can_id = id, .pad0 = 0 };
	struct spsec_fresh init = { .last_t = t };
	struct spsec_fresh *f;
	__u32 ret = SPSEC_R_RX_INTERNAL;
	__u64 old;
	int i;

	for (i = 0; i < 4; i++) {
		f = bpf_map_lookup_elem(&spsec_rx_fresh, &key);
		if (!f) {
			if (!bpf_map_update_elem(&spsec_rx_fresh, &key, &init, BPF_NOEXIST)) {
				ret = 0;
				break;
			}
			continue; /* another CPU inserted it first, or the map is full */
		}
		old = f->last_t;
		if (t <= old) {
			ret = SPSEC_R_RX_REPLAY;
			break;
		}
		/* strictly greater, and only ever forward even when CPUs race */
		if (__sync_val_compare_and_swap(&f->last_t, old, t) == old) {
			ret = 0;
			break;
		}
	}
	return ret;
}

/*
 * Claims the T of the next frame of `id`: max(now, last + 1), with compare-and-swap so that two
 * CPUs never stamp one ID with one T. Refuses (SPSEC_R_TX_T_LEAD, nothing claimed) when last + 1
 * is more than `lead` ticks ahead of now: a local flood of one ID would otherwise push its T out
 * of every receiver's window, for as long as the pinned map lives. Returns 0 with *t and *old
 * set (old: the value to restore with spsec_tx_unclaim() if the frame is dropped after all),
 * SPSEC_R_TX_T_LEAD, or SPSEC_R_TX_INTERNAL when the map is full or keeps changing under us.
 */
static __always_inline __u32 spsec_tx_claim(__u32 id, __u64 now, __u64 lead, __u64 *t, __u64 *old)
{
	struct spsec_id_key key = { .can_id = id, .pad0 = 0 };
	struct spsec_fresh init = { .last_t = now };
	struct spsec_fresh *f;
	__u32 ret = SPSEC_R_TX_INTERNAL;
	__u64 last, next;
	int i;

	for (i = 0; i < 4; i++) {
		f = bpf_map_lookup_elem(&spsec_tx_last, &key);
		if (!f) {
			if (!bpf_map_update_elem(&spsec_tx_last, &key, &init, BPF_NOEXIST)) {
				*t = now;
				*old = 0;
				ret = 0;
				break;
			}
			continue;
		}
		last = f->last_t;
		next = last >= now ? last + 1 : now;
		if (next - now > lead) {
			ret = SPSEC_R_TX_T_LEAD;
			break;
		}
		if (__sync_val_compare_and_swap(&f->last_t, last, next) == last) {
			*t = next;
			*old = last;
			ret = 0;
			break;
		}
	}
	return ret;
}

/*
 * Gives back the T claimed for a frame that is dropped after all (no key, seal failed): only if
 * no other CPU has claimed a later T since, so the value stays monotonic and a T is never used
 * by two frames that were sent. A first claim (old == 0) is left: it equals the clock.
 */
static __always_inline void spsec_tx_unclaim(__u32 id, __u64 t, __u64 old)
{
	struct spsec_id_key key = { .can_id = id, .pad0 = 0 };
	struct spsec_fresh *f;

	if (!old)
		return;
	f = bpf_map_lookup_elem(&spsec_tx_last, &key);
	if (f)
		__sync_val_compare_and_swap(&f->last_t, t, old);
}

/* After a successful open: puts the clear payload || padding into sc->frame and checks the
 * padding. Returns 0, or SPSEC_R_RX_BAD_PAD_BYTES. */
static __noinline __u32 spsec_rx_plain(struct spsec_scratch *sc)
{
	__u32 l = sc->l & 63, end = l + (sc->pad & 15);
	int i;

	if (sc->snap.mode != SPSEC_MODE_AUTH_ONLY) {
#pragma unroll
		for (i = 0; i < SPSEC_WORDS; i++)
			sc->frame.w[i] = sc->io.buf.w[i];
	}
	if (spsec_not_ff(sc->frame.w, l, end))
		return SPSEC_R_RX_BAD_PAD_BYTES;
	/* the application's frame: L bytes, zero beyond, as the sender's socket wrote it */
	spsec_keep_bytes(sc->frame.w, l);
	return 0;
}

/*
 * Verifies a frame of a secured ID and rewrites it to the plain frame. Returns SPSEC_R_RX_OK or
 * the drop reason; *frame_t gets the reconstructed T once known.
 */
static __always_inline __u32 spsec_rx_secured(struct canfd_frame *cf, void *data_end,
					      struct spsec_scratch *sc, __u32 id, __u32 echo,
					      __u64 *frame_t)
{
	const struct spsec_snap *s = &sc->snap;
	const struct spsec_key_slot *k;
	__u32 sl, pad, word, i, ret;
	int no_aes = 0;
	__u64 local, t;
	__s32 d;

	if ((void *)(cf + 1) > data_end)
		return SPSEC_R_RX_MALFORMED;
	if (!s->clock_set || !s->tick_ns)
		return SPSEC_R_RX_NO_CLOCK;
	sl = cf->len;
	if (!spsec_valid_secured_len(sl))
		return SPSEC_R_RX_BAD_LENGTH;
	spsec_load_frame(sc, cf);

	word = sc->frame.b[(sl - 10) & 63] | ((__u32)sc->frame.b[(sl - 9) & 63] << 8);
	pad = word >> 12;
	if (pad > sl - SPSEC_STAMP_LEN)
		return SPSEC_R_RX_BAD_PAD_COUNT;

	/* nearest T to the local clock whose low 12 bits are the stamp's (spec §2); a device echo
	 * of our own frame may come back later than W after egress stamped it (queued behind
	 * bus arbitration), and needs no window: it never left this node's trust */
	local = spsec_now_t(s);
	d = (__s32)(((word & 0xfff) - ((__u32)local & 0xfff)) & 0xfff);
	if (d >= 2048)
		d -= 4096;
	if (!echo && (d < 0 ? -d : d) > (__s32)s->window)
		return SPSEC_R_RX_OUTSIDE_WINDOW;
	/* T is never 0 and never wraps below it */
	if (d < 0 && local <= (__u64)(-d))
		return SPSEC_R_RX_OUTSIDE_WINDOW;
	t = local + (__s64)d;
	if (!t || (d > 0 && t < local))
		return SPSEC_R_RX_OUTSIDE_WINDOW;
	*frame_t = t;

	k = spsec_key_for(s, t >> SPSEC_WINDOW_SHIFT, &no_aes);
	if (!k)
		return no_aes ? SPSEC_R_RX_NO_KERNEL_AES : SPSEC_R_RX_NO_KEY;

	sc->t = t;
	sc->id = id;
	sc->sl = sl;
	sc->pad = pad;
	sc->l = sl - SPSEC_STAMP_LEN - pad;
#pragma unroll
	for (i = 0; i < SPSEC_TAG_LEN; i++)
		sc->io.tag[i] = sc->frame.b[(sl - SPSEC_TAG_LEN + i) & 63];
	/* subprograms return an opaque 0 that callers use: see SPSEC_NOINLINE */
	if (spsec_stage_io(sc, k))
		return SPSEC_R_RX_INTERNAL;

	if (spsec_open(k, &sc->io))
		return SPSEC_R_RX_BAD_TAG;
	ret = spsec_rx_plain(sc);
	if (ret)
		return ret;
	/* the echo of our own frame is no replay: its T is in spsec_tx_last, not here */
	ret = echo ? 0 : spsec_rx_fresh_advance(id, t);
	if (ret)
		return ret;

	spsec_store_frame(cf, sc);
	cf->len = sc->l & 63;
	return SPSEC_R_RX_OK;
}

/* Counts the verdict, emits its event (if the reason has one) and returns the tc action. Both
 * come from the SPSEC_REASONS table in abi.h. */
static __always_inline int spsec_finish(__u32 reason, __u32 id, __u64 frame_t)
{
	__u32 ev;

	reason &= SPSEC_R_MAX - 1;
	ev = spsec_reason_event[reason];
	spsec_count(reason);
	if (ev != SPSEC_EV_NONE)
		spsec_event(ev, reason, id, frame_t);
	return (SPSEC_R_PASS_MASK >> reason) & 1 ? TC_ACT_OK : TC_ACT_SHOT;
}

/*
 * Ingress. `cf` points at the frame in packet memory, `fd` is 1 for a 72-byte CAN FD skb and 0
 * for a 16-byte classical one, `echo` is SPSEC_ECHO_* for the local echo of a frame a local
 * socket sent: the CAN core's clone (plain, made before tc egress ran) passes as it is; a
 * device's echo (IFF_ECHO: every real CAN driver) is the skb egress stamped, so frames of own
 * secured IDs are opened and stripped like bus frames, without the injection and freshness
 * checks that exist for frames from the bus.
 */
static __always_inline int spsec_ingress_verdict(struct canfd_frame *cf, void *data_end, __u32 fd,
						 __u32 echo)
{
	const struct spsec_policy *pol;
	struct spsec_scratch *sc;
	__u64 frame_t = 0;
	__u32 raw, id = 0, reason, flags;

	if ((void *)cf + CAN_MTU > data_end) {
		reason = SPSEC_R_RX_MALFORMED;
		goto out;
	}
	raw = cf->can_id;
	id = spsec_norm_id(raw);
	if (echo == SPSEC_ECHO_PLAIN) {
		reason = SPSEC_R_RX_LOCAL_ECHO;
		goto out;
	}
	if (raw & CAN_ERR_FLAG) {
		reason = SPSEC_R_RX_ERROR_FRAME;
		goto out;
	}
	if (spsec_is_control(raw) && (echo || spsec_control_well_formed(raw, cf->len, fd))) {
		/* the daemon checks control-plane messages themselves; an echo of one is what
		 * spsecd sent (egress drops every other local control-plane frame) */
		reason = echo ? SPSEC_R_RX_LOCAL_ECHO : SPSEC_R_RX_CONTROL;
		goto out;
	}
	sc = spsec_scratch_get();
	if (!sc || spsec_snapshot(&sc->snap)) {
		reason = SPSEC_R_RX_INTERNAL;
		goto out;
	}
	pol = spsec_policy_of(&sc->snap, id);
	flags = pol ? pol->flags : 0;
	if (echo) {
		/* egress stamped exactly the frames of own secured IDs; the rest went out as is */
		if ((flags & (SPSEC_POL_SECURED | SPSEC_POL_OWN_TX)) !=
		    (SPSEC_POL_SECURED | SPSEC_POL_OWN_TX)) {
			reason = SPSEC_R_RX_LOCAL_ECHO;
			goto out;
		}
	} else if (!pol) {
		reason = sc->snap.default_action == SPSEC_DEFAULT_PASS ? SPSEC_R_RX_DEFAULT_PASS
								       : SPSEC_R_RX_UNKNOWN_ID;
		goto out;
	} else if (flags & SPSEC_POL_OWN_TX) {
		/* only we send this ID, and our own frames come back as echo: someone forges it */
		reason = SPSEC_R_RX_INJECTION;
		goto out;
	} else if (!(flags & SPSEC_POL_SECURED)) {
		reason = (flags & SPSEC_POL_PLAIN_RX) ? SPSEC_R_RX_PLAIN : SPSEC_R_RX_UNKNOWN_ID;
		goto out;
	}
	if (!fd || (raw & CAN_RTR_FLAG))
		reason = SPSEC_R_RX_CLASSIC;
	else if (!spsec_state_carries_traffic(sc->snap.state))
		reason = SPSEC_R_RX_NOT_SECURE;
	else
		reason = spsec_rx_secured(cf, data_end, sc, id, echo, &frame_t);
	if (echo)
		reason = reason == SPSEC_R_RX_OK ? SPSEC_R_RX_ECHO_OPENED : SPSEC_R_RX_ECHO_FAILED;
out:
	return spsec_finish(reason, id, frame_t);
}

/*
 * The sending socket, as the tc helpers see it. The test entry point (tests/bpf) defines
 * SPSEC_TEST_WHO and these three itself, to give the verdict an identity of its choosing.
 *   spsec_sender_sk(skb)         1 when the skb belongs to a full local socket (every CAN
 *                                protocol sets skb->sk: raw, bcm, isotp, j1939); 0 for frames no
 *                                socket sent (can-gw and bpf_redirect forwarding)
 *   spsec_sender_uid(skb)        the socket's uid (sk_uid: the creator's fsuid at socket(2))
 *   spsec_sender_cgroup(skb, l)  id of the socket's cgroup v2 ancestor at level l (the cgroup
 *                                of the creator at socket(2)); 0 when it is shallower than l
 */
#ifndef SPSEC_TEST_WHO
static __always_inline int spsec_sender_sk(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;

	return sk && bpf_sk_fullsock(sk);
}

static __always_inline __u32 spsec_sender_uid(struct __sk_buff *skb)
{
	return bpf_get_socket_uid(skb);
}

static __always_inline __u64 spsec_sender_cgroup(struct __sk_buff *skb, __u32 level)
{
	return bpf_skb_ancestor_cgroup_id(skb, level);
}
#endif

/*
 * The sender rule `rule` of the live generation against the frame's socket: 0 when the socket's
 * uid is one the rule allows, or its cgroup is one of the rule's cgroups or below one;
 * SPSEC_R_TX_SENDER_DENIED when not, SPSEC_R_TX_SENDER_UNKNOWN when no full socket sent the
 * frame. Counts the frame in the rule's allowed or denied counter. A subprogram of its own: its
 * locals inlined into the verdict pushed the 6.1 verifier's combined stack of the egress chain
 * down to the AEAD cores past 512 bytes.
 */
static __noinline __u32 spsec_sender_check(struct __sk_buff *skb, const struct spsec_snap *s,
					   __u32 rule)
{
	__u32 slot = (s->policy_gen & 1) * SPSEC_SENDER_RULES + (rule & (SPSEC_SENDER_RULES - 1));
	struct spsec_sender_uid_key ukey = { .slot = slot };
	const struct spsec_sender_rule *r;
	struct spsec_sender_count *cnt;
	__u32 i, n, ret = SPSEC_R_TX_SENDER_DENIED;
	__u64 id;

	r = bpf_map_lookup_elem(&spsec_snd_rules, &slot);
	if (!spsec_sender_sk(skb)) {
		ret = SPSEC_R_TX_SENDER_UNKNOWN;
	} else if (r) {
		ukey.uid = spsec_sender_uid(skb);
		if (bpf_map_lookup_elem(&spsec_snd_uids, &ukey))
			ret = 0;
		n = r->n_cgroups;
		/* a bounded loop (the verifier has accepted those since 5.3) */
		for (i = 0; i < SPSEC_SENDER_CGROUPS && i < n && ret; i++) {
			id = r->cgroup[i].id;
			/* id 0: the cgroup did not exist when spsecd last looked */
			if (id && spsec_sender_cgroup(skb, r->cgroup[i].level) == id)
				ret = 0;
		}
	}
	rule &= SPSEC_SENDER_RULES - 1;
	cnt = bpf_map_lookup_elem(&spsec_snd_count, &rule);
	if (cnt) {
		/* per-CPU slot: no other writer */
		if (ret)
			cnt->denied += 1;
		else
			cnt->allowed += 1;
	}
	return ret;
}

/* Pads sc->frame: payload || 0xFF padding, zero beyond. */
static __noinline int spsec_tx_pad(struct spsec_scratch *sc)
{
	__u32 l = sc->l & 63;

	spsec_fill_ff(sc->frame.w, l);
	spsec_keep_bytes(sc->frame.w, l + (sc->pad & 15));
	return spsec_opaque_zero();
}

/* After sealing: ciphertext (or the clear payload || padding), stamp word and tag in sc->frame. */
static __noinline int spsec_tx_stamp(struct spsec_scratch *sc)
{
	__u32 sl = sc->sl & 127, word = ((sc->pad & 15) << 12) | ((__u32)sc->t & 0xfff);
	int i;

	if (sc->snap.mode != SPSEC_MODE_AUTH_ONLY) {
#pragma unroll
		for (i = 0; i < SPSEC_WORDS; i++)
			sc->frame.w[i] = sc->io.buf.w[i];
	}
	sc->frame.b[(sl - 10) & 63] = word & 0xff;
	sc->frame.b[(sl - 9) & 63] = word >> 8;
#pragma unroll
	for (i = 0; i < SPSEC_TAG_LEN; i++)
		sc->frame.b[(sl - SPSEC_TAG_LEN + i) & 63] = sc->io.tag[i];
	return spsec_opaque_zero();
}

/* Pads, stamps and seals a frame of a secured ID in place. Returns SPSEC_R_TX_OK or the reason
 * it cannot be sent; *frame_t gets the T once chosen. */
static __always_inline __u32 spsec_tx_secured(struct canfd_frame *cf, void *data_end,
					      struct spsec_scratch *sc, __u32 id, __u64 *frame_t)
{
	const struct spsec_snap *s = &sc->snap;
	const struct spsec_key_slot *k;
	__u64 now, t = 0, old = 0;
	__u32 l, sl, ret;
	int no_aes = 0;

	if ((void *)(cf + 1) > data_end)
		return SPSEC_R_TX_MALFORMED;
	l = cf->len;
	if (l > SPSEC_MAX_PAYLOAD)
		return SPSEC_R_TX_TOO_LONG;
	now = spsec_now_t(s);
	if (!now)
		return SPSEC_R_TX_NO_CLOCK;
	/* receivers accept |d| <= W: half of it for our lead leaves half for clock error */
	ret = spsec_tx_claim(id, now, s->window / 2, &t, &old);
	if (ret)
		return ret;
	*frame_t = t;
	k = spsec_key_for(s, t >> SPSEC_WINDOW_SHIFT, &no_aes);
	if (!k) {
		spsec_tx_unclaim(id, t, old);
		return no_aes ? SPSEC_R_TX_NO_KERNEL_AES : SPSEC_R_TX_NO_KEY;
	}

	sl = spsec_secured_len(l);
	sc->t = t;
	sc->id = id;
	sc->l = l;
	sc->sl = sl;
	sc->pad = sl - SPSEC_STAMP_LEN - l;
	spsec_load_frame(sc, cf);
	/* subprograms return an opaque 0 that callers use: see SPSEC_NOINLINE */
	if ((spsec_tx_pad(sc) | spsec_stage_io(sc, k)) || spsec_seal(k, &sc->io) ||
	    spsec_tx_stamp(sc)) {
		spsec_tx_unclaim(id, t, old);
		return SPSEC_R_TX_INTERNAL;
	}
	spsec_store_frame(cf, sc);
	cf->len = sl;
	return SPSEC_R_TX_OK;
}

/*
 * Egress. `cf`/`fd` as for ingress; `mark` is skb->mark, SPSEC_DAEMON_MARK on control-plane
 * frames spsecd sends; `skb` is asked for the sending socket when the ID has a sender rule.
 */
static __always_inline int spsec_egress_verdict(struct __sk_buff *skb, struct canfd_frame *cf,
						void *data_end, __u32 fd, __u32 mark)
{
	const struct spsec_policy *pol;
	struct spsec_scratch *sc;
	__u64 frame_t = 0;
	__u32 raw, id = 0, reason;

	if ((void *)cf + CAN_MTU > data_end) {
		reason = SPSEC_R_TX_MALFORMED;
		goto out;
	}
	raw = cf->can_id;
	id = spsec_norm_id(raw);
	if (spsec_is_control(raw)) {
		/* only spsecd speaks for the node on the control plane */
		reason = mark == SPSEC_DAEMON_MARK ? SPSEC_R_TX_CONTROL
						   : SPSEC_R_TX_CONTROL_UNMARKED;
		goto out;
	}
	sc = spsec_scratch_get();
	if (!sc || spsec_snapshot(&sc->snap)) {
		reason = SPSEC_R_TX_INTERNAL;
		goto out;
	}
	pol = spsec_policy_of(&sc->snap, id);
	if (!pol) {
		reason = sc->snap.default_action == SPSEC_DEFAULT_PASS ? SPSEC_R_TX_DEFAULT_PASS
								       : SPSEC_R_TX_UNKNOWN_ID;
		goto out;
	}
	if (!(pol->flags & SPSEC_POL_SECURED)) {
		reason = (pol->flags & SPSEC_POL_PLAIN_TX) ? SPSEC_R_TX_PLAIN
							   : SPSEC_R_TX_UNKNOWN_ID;
		goto out;
	}
	if (!(pol->flags & SPSEC_POL_OWN_TX)) {
		/* another node's ID: stamping it would let any local process speak for that node,
		 * and both nodes would seal one ID at one T under one key (nonce reuse) */
		reason = SPSEC_R_TX_NOT_OWN;
		goto out;
	}
	if (pol->senders) {
		/* who may say what: only the sockets the ID's sender rule names */
		reason = spsec_sender_check(skb, &sc->snap, pol->senders);
		if (reason)
			goto out;
	}
	if (!fd || (raw & (CAN_RTR_FLAG | CAN_ERR_FLAG))) {
		reason = SPSEC_R_TX_CLASSIC;
		goto out;
	}
	if (!spsec_state_carries_traffic(sc->snap.state)) {
		reason = SPSEC_R_TX_NOT_SECURE;
		goto out;
	}
	reason = spsec_tx_secured(cf, data_end, sc, id, &frame_t);
out:
	return spsec_finish(reason, id, frame_t);
}

#endif /* SPSEC_VERDICT_H */
