/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * The one ABI between the spsec data plane (bpf/, compiled by clang -target bpf) and user space
 * (userspace/, compiled by g++). Every map key and value, every reason code, every map name lives
 * here and nowhere else.
 *
 * Rules (see docs/data-plane.md):
 *  - only __u8/__u16/__u32/__u64 from <linux/types.h>; no bool, no enum-typed fields;
 *  - explicit padding members, always written as zero by user space;
 *  - numbers are host byte order (the data plane and the daemon run on the same CPU);
 *  - reason codes are stable: a retired code stays as SPSEC_R_UNUSEDn and is never reused;
 *  - a change to any struct layout bumps SPSEC_ABI_VERSION, and a daemon refuses to take over
 *    pinned maps of another ABI version.
 */
#ifndef SPSEC_ABI_H
#define SPSEC_ABI_H

#include <linux/types.h>
#include <linux/bpf.h> /* struct bpf_spin_lock */

#ifdef __cplusplus
#define SPSEC_ABI_ASSERT(e, m) static_assert(e, m)
#else
#define SPSEC_ABI_ASSERT(e, m) _Static_assert(e, m)
#endif

#define SPSEC_ABI_VERSION 1

/* ---- Protocol constants (spec §2, §4, §5) -------------------------------------------------- */

#define SPSEC_MAX_PAYLOAD     54	 /* largest L that fits a 64-byte secured frame */
#define SPSEC_STAMP_LEN	      10	 /* LE16 stamp word + 8-byte tag */
#define SPSEC_TAG_LEN	      8		 /* truncated AEAD tag */
#define SPSEC_MIN_SECURED_LEN 12	 /* smallest S */
#define SPSEC_MAX_WINDOW      2047	 /* largest acceptance window in ticks */
#define SPSEC_WINDOW_SHIFT    24	 /* key window e = T >> 24 */
#define SPSEC_CTRL_BIT	      (1u << 25) /* set in every control-plane (29-bit) CAN ID */

/* ---- Enumerations stored in __u32 fields ---------------------------------------------------- */

/* AEAD of the network (one per network). */
#define SPSEC_AEAD_NONE		    0
#define SPSEC_AEAD_AES256GCM	    1
#define SPSEC_AEAD_CHACHA20POLY1305 2
#define SPSEC_AEAD_ASCON128	    3

/* Data-plane mode. */
#define SPSEC_MODE_ENCRYPT   1 /* payload and padding encrypted */
#define SPSEC_MODE_AUTH_ONLY 2 /* payload in clear, authenticated as associated data */

/* Participant state (spec §1, status register 50h bits 0..3). Only SECURE and WARNING carry
 * secured traffic; in every other state the data plane drops secured traffic both ways. */
#define SPSEC_STATE_NOTSET	  0
#define SPSEC_STATE_WAITING	  1
#define SPSEC_STATE_SECURE	  2
#define SPSEC_STATE_WARNING	  3
#define SPSEC_STATE_CONFIGURATION 4
#define SPSEC_STATE_SHUTDOWN	  5

/* Local echo kinds, as the entry points tell the verdict code (not stored anywhere). */
#define SPSEC_ECHO_NONE	   0 /* a frame from the bus */
#define SPSEC_ECHO_PLAIN   1 /* the CAN core's echo clone, made before tc egress ran: plain */
#define SPSEC_ECHO_STAMPED 2 /* the device's echo (IFF_ECHO): the skb tc egress stamped */

/* Default action for a data-plane CAN ID that is in no policy entry. */
#define SPSEC_DEFAULT_DROP 0
#define SPSEC_DEFAULT_PASS 1

/* ---- Reason codes: index into the spsec_counters map --------------------------------------- */
/*
 * Every verdict of the data plane is counted under exactly one reason. This list is the one
 * definition of them (in the style of the kernel's include/net/dropreason-core.h): the enum below,
 * the data plane's pass/drop and event decisions, spsecd's and spsecctl's tables, the Prometheus
 * output and the docs table (checked by a unit test) are all generated from it.
 *
 *   X(ID, code, "name", direction, verdict, event, "help")
 *
 * ID       SPSEC_R_<ID>
 * code     stable number, never reused: a retired code stays as UNUSEDn. 1..31 are ingress
 *          verdicts, 32..63 egress verdicts (SPSEC_R_MAX is the size of the counters map)
 * name     label in `spsecctl stats`, JSON, Prometheus and event records
 * direction RX or TX
 * verdict  PASS (the frame goes on) or DROP
 * event    SPSEC_EV_<event> emitted (rate limited) with the verdict, or NONE
 * help     one line for humans
 */
#define SPSEC_REASONS(X)                                                                           \
	X(RX_OK, 1, "rx_ok", RX, PASS, NONE, "verified, fresh, rewritten to the plain frame")      \
	X(RX_CONTROL, 2, "rx_control", RX, PASS, NONE,                                             \
	  "well-formed control-plane frame (29-bit ID, bit 25), for spsecd")                       \
	X(RX_PLAIN, 3, "rx_plain", RX, PASS, NONE, "plaintext-allowed ID")                         \
	X(RX_LOCAL_ECHO, 4, "rx_local_echo", RX, PASS, NONE,                                       \
	  "local echo of a frame sent on this node, passed as it is (plain)")                      \
	X(RX_ERROR_FRAME, 5, "rx_error_frame", RX, PASS, NONE, "CAN error frame from the driver")  \
	X(RX_DEFAULT_PASS, 6, "rx_default_pass", RX, PASS, NONE,                                   \
	  "ID in no policy entry, default pass")                                                   \
	X(RX_NOT_SECURE, 7, "rx_not_secure", RX, DROP, NONE, "participant not in Secure/Warning")  \
	X(RX_UNKNOWN_ID, 8, "rx_unknown_id", RX, DROP, NONE,                                       \
	  "ID in no policy entry (default drop), or not allowed plain")                            \
	X(RX_CLASSIC, 9, "rx_classic", RX, DROP, NONE,                                             \
	  "classical CAN or RTR frame for a secured ID")                                           \
	X(RX_BAD_LENGTH, 10, "rx_bad_length", RX, DROP, NONE,                                      \
	  "S < 12 or not a valid CAN FD length")                                                   \
	X(RX_BAD_PAD_COUNT, 11, "rx_bad_pad_count", RX, DROP, NONE, "pad > S - 10")                \
	X(RX_BAD_PAD_BYTES, 12, "rx_bad_pad_bytes", RX, DROP, NONE,                                \
	  "padding not all 0xFF after decryption")                                                 \
	X(RX_OUTSIDE_WINDOW, 13, "rx_outside_window", RX, DROP, NONE,                              \
	  "|d| > acceptance window W, or T would be <= 0")                                         \
	X(RX_NO_KEY, 14, "rx_no_key", RX, DROP, NONE, "no live key for the frame's key window")    \
	X(RX_BAD_TAG, 15, "rx_bad_tag", RX, DROP, AUTH_FAIL, "AEAD tag mismatch")                  \
	X(RX_REPLAY, 16, "rx_replay", RX, DROP, REPLAY,                                            \
	  "T not greater than the ID's last accepted T")                                           \
	X(RX_INJECTION, 17, "rx_injection", RX, DROP, INJECTION,                                   \
	  "one of this node's transmit IDs arrived from the bus")                                  \
	X(RX_NO_CLOCK, 18, "rx_no_clock", RX, DROP, NONE, "synchronized clock not set")            \
	X(RX_MALFORMED, 19, "rx_malformed", RX, DROP, NONE,                                        \
	  "skb is neither a CAN nor a CAN FD frame")                                               \
	X(RX_CONTROL_INJECTION, 20, "rx_control_injection", RX, DROP, NONE,                        \
	  "reserved: control frame with our own source ID from the bus (spsecd checks)")           \
	X(RX_INTERNAL, 21, "rx_internal", RX, DROP, NONE,                                          \
	  "freshness map full or contended, scratch unavailable (fail closed)")                    \
	X(RX_ECHO_OPENED, 22, "rx_echo_opened", RX, PASS, NONE,                                    \
	  "device echo (IFF_ECHO) of a frame this node stamped, opened to the plain frame")        \
	X(RX_ECHO_FAILED, 23, "rx_echo_failed", RX, DROP, NONE,                                    \
	  "device echo of an own secured ID that did not open (policy or key changed)")            \
	X(GW_IN_ALLOWED, 24, "rx_gw_in_allowed", RX, PASS, NONE,                                   \
	  "gateway segment: a rule lets this frame cross to the secured bus (can-gw forwards it)") \
	X(GW_NO_RULE, 25, "rx_gw_no_rule", RX, PASS, NONE,                                         \
	  "gateway segment: no rule forwards this frame; it stays on this node")                   \
	X(GW_RATE_LIMITED, 26, "rx_gw_rate_limited", RX, DROP, NONE,                               \
	  "gateway segment: over its rule's rate limit")                                           \
	X(GW_CLASSIC, 27, "rx_gw_classic", RX, PASS, NONE,                                         \
	  "gateway segment: classical frame a rule allows; spsecd converts and forwards it")       \
	X(RX_NO_KERNEL_AES, 28, "rx_no_kernel_aes", RX, DROP, NONE,                                \
	  "kernel AES: the key slot has no AES context made from its key (fail closed)")           \
	X(TX_OK, 32, "tx_ok", TX, PASS, NONE, "padded, stamped (and encrypted) in place")          \
	X(TX_CONTROL, 33, "tx_control", TX, PASS, NONE,                                            \
	  "control-plane frame from spsecd (marked)")                                              \
	X(TX_PLAIN, 34, "tx_plain", TX, PASS, NONE, "plaintext-allowed ID")                        \
	X(TX_DEFAULT_PASS, 35, "tx_default_pass", TX, PASS, NONE,                                  \
	  "ID in no policy entry, default pass")                                                   \
	X(TX_NOT_SECURE, 36, "tx_not_secure", TX, DROP, NONE, "participant not in Secure/Warning") \
	X(TX_TOO_LONG, 37, "tx_too_long", TX, DROP, TX_REFUSED, "L > 54: cannot be secured")       \
	X(TX_CLASSIC, 38, "tx_classic", TX, DROP, TX_REFUSED,                                      \
	  "classical CAN frame for a secured ID")                                                  \
	X(TX_NO_KEY, 39, "tx_no_key", TX, DROP, TX_REFUSED, "no live key for T's key window")      \
	X(TX_UNKNOWN_ID, 40, "tx_unknown_id", TX, DROP, NONE,                                      \
	  "ID in no policy entry (default drop), or not allowed plain")                            \
	X(TX_NO_CLOCK, 41, "tx_no_clock", TX, DROP, NONE, "synchronized clock not set")            \
	X(TX_MALFORMED, 42, "tx_malformed", TX, DROP, NONE,                                        \
	  "skb is neither a CAN nor a CAN FD frame")                                               \
	X(TX_CONTROL_UNMARKED, 43, "tx_control_unmarked", TX, DROP, NONE,                          \
	  "control-plane frame not sent by spsecd")                                                \
	X(TX_INTERNAL, 44, "tx_internal", TX, DROP, NONE,                                          \
	  "tx map full or contended, scratch unavailable (fail closed)")                           \
	X(TX_NOT_OWN, 45, "tx_not_own", TX, DROP, TX_REFUSED,                                      \
	  "secured ID not in this node's transmit_ids: only its owner stamps it")                  \
	X(TX_T_LEAD, 46, "tx_t_lead", TX, DROP, TX_REFUSED,                                        \
	  "the ID's next T would run more than W/2 ticks ahead of the clock (flood)")              \
	X(TX_SENDER_DENIED, 47, "tx_sender_denied", TX, DROP, TX_REFUSED,                          \
	  "local socket not allowed by the ID's sender rule (uid, group or cgroup)")               \
	X(TX_SENDER_UNKNOWN, 48, "tx_sender_unknown", TX, DROP, TX_REFUSED,                        \
	  "ID has a sender rule, frame from no full local socket (nothing to check)")              \
	X(GW_OUT_ALLOWED, 49, "tx_gw_out_allowed", TX, PASS, NONE,                                 \
	  "gateway segment: verified frame a rule lets cross from the secured bus")                \
	X(GW_OUT_NOT_ALLOWED, 50, "tx_gw_out_not_allowed", TX, DROP, NONE,                         \
	  "gateway segment: frame from the kernel (can-gw) no rule lets cross")                    \
	X(GW_OUT_RATE_LIMITED, 51, "tx_gw_out_rate_limited", TX, DROP, NONE,                       \
	  "gateway segment: frame from the secured bus over its rule's rate limit")                \
	X(GW_LOCAL_TX, 52, "tx_gw_local_tx", TX, PASS, NONE,                                       \
	  "gateway segment: frame a local socket sent, not forwarded")                             \
	X(TX_NO_KERNEL_AES, 53, "tx_no_kernel_aes", TX, DROP, NONE,                                \
	  "kernel AES: the key slot has no AES context made from its key (fail closed)")

#define SPSEC_R_MAX 64 /* size of the counters map; every code is below it */

/* SPSEC_R_<ID> = code */
enum spsec_reason {
	SPSEC_R_UNUSED0 = 0,
#define SPSEC_R_ENUM_(id, code, name, dir, verdict, event, help) SPSEC_R_##id = code,
	SPSEC_REASONS(SPSEC_R_ENUM_)
#undef SPSEC_R_ENUM_
};

#define SPSEC_R_DIR_RX	     0
#define SPSEC_R_DIR_TX	     1
#define SPSEC_R_VERDICT_DROP 0
#define SPSEC_R_VERDICT_PASS 1

/* Bit `code` set for every reason whose verdict is PASS. */
#define SPSEC_R_PASS_BIT_(id, code, name, dir, verdict, event, help)                               \
	| ((0ull + SPSEC_R_VERDICT_##verdict) << (code))
#define SPSEC_R_PASS_MASK (0ull SPSEC_REASONS(SPSEC_R_PASS_BIT_))

/* Number of defined reasons. */
#define SPSEC_R_COUNT_(id, code, name, dir, verdict, event, help) +1
#define SPSEC_R_COUNT						  (0 SPSEC_REASONS(SPSEC_R_COUNT_))

/* Every code fits the counters map, and ingress codes are below 32, egress codes above. */
#define SPSEC_R_CHECK_(id, code, name, dir, verdict, event, help)                                  \
	SPSEC_ABI_ASSERT((code) > 0 && (code) < SPSEC_R_MAX &&                                     \
				 ((code) < 32) == (SPSEC_R_DIR_##dir == SPSEC_R_DIR_RX),           \
			 "reason " name ": code out of its direction's range");
SPSEC_REASONS(SPSEC_R_CHECK_)

/* ---- Maps ----------------------------------------------------------------------------------- */
/*
 * All maps are pinned under SPSEC_PIN_ROOT/<ifname>/ so the data plane outlives the daemon: a dead
 * daemon leaves the firewall enforcing (fail closed: once the key window passes nothing verifies),
 * a restarted one takes the maps over without a gap. Names are <= 15 characters.
 */
#define SPSEC_PIN_ROOT "/sys/fs/bpf/spsec"

#define SPSEC_MAP_STATE	   "spsec_state"
#define SPSEC_MAP_KEYS	   "spsec_keys"
#define SPSEC_MAP_POLICY   "spsec_policy"
#define SPSEC_MAP_RX_FRESH "spsec_rx_fresh"
#define SPSEC_MAP_TX_LAST  "spsec_tx_last"
#define SPSEC_MAP_COUNTERS "spsec_counters"
#define SPSEC_MAP_EVENTS   "spsec_events"
#define SPSEC_MAP_EVLIMIT  "spsec_evlimit"
#define SPSEC_MAP_SNDRULE  "spsec_snd_rules"
#define SPSEC_MAP_SNDUID   "spsec_snd_uids"
#define SPSEC_MAP_SNDCNT   "spsec_snd_count"

#define SPSEC_KEY_SLOTS	   4	/* physical key slots; two are live, two are spare */
#define SPSEC_POLICY_MAX   4096 /* policy entries (both generations) */
#define SPSEC_FRESH_MAX	   4096 /* per-ID freshness entries */
#define SPSEC_EVENTS_BYTES (256 * 1024)

/* skb->mark of control-plane frames sent by spsecd (SO_MARK); other local control-plane frames
 * are dropped on egress so a local process cannot speak for the node. */
#define SPSEC_DAEMON_MARK 0x53505345u /* "SPSE" */

/* skb->mark that spsec_gw_in (a gateway segment's tc ingress) puts on the frames it passes.
 * can-gw's copies of them carry no socket, but keep the mark; so the ingress of a secured
 * interface that echoes (IFF_ECHO) knows the device's echo of a forwarded frame for a local
 * echo, not a frame from the bus (a driver's received skb starts with mark 0). Ignored on
 * devices without IFF_ECHO: vxcan passes a sender's mark on to its peer. */
#define SPSEC_GW_MARK 0x53504757u /* "SPGW" */

/* SO_MARK of spsecd's classical relay socket on a gateway segment: spsec_gw_out applies the
 * to_plain rules to these frames (counts, rate) as to can-gw's socket-less copies, instead of
 * passing them as a local application's. Only CAP_NET_ADMIN can set a mark; a frame carrying it
 * is checked more, never less. */
#define SPSEC_GW_RELAY_MARK 0x53505252u /* "SPRR" */

/*
 * spsec_state — ARRAY, 1 entry, key __u32 0.
 * Writer: spsecd (with BPF_F_LOCK, so the data plane always sees one consistent snapshot).
 * Reader: data plane, every frame, under the lock.
 * Lifetime: pinned; survives daemon restarts.
 *
 * T at monotonic time now_ns (bpf_ktime_get_ns(), CLOCK_MONOTONIC in user space) is
 *   base_t + (now_ns - base_ns) / tick_ns
 * clock_set == 0 means no synchronized time: every secured frame is dropped.
 */
struct spsec_state {
	struct bpf_spin_lock lock; /* taken by the data plane; user space writes with BPF_F_LOCK */
	__u32 abi_version;	   /* SPSEC_ABI_VERSION of the writer */
	__u32 state;		   /* SPSEC_STATE_* */
	__u32 aead;		   /* SPSEC_AEAD_* */
	__u32 mode;		   /* SPSEC_MODE_* */
	__u32 window;		   /* acceptance window W, ticks, 0..SPSEC_MAX_WINDOW */
	__u32 default_action;	   /* SPSEC_DEFAULT_* for IDs in no policy entry */
	__u32 policy_gen;	   /* live generation of spsec_policy entries (0 or 1) */
	__u32 key_slot[2]; /* physical slot in spsec_keys for even [0] and odd [1] windows */
	__u32 clock_set;   /* 1 once the clock is synchronized */
	__u32 pad0;	   /* zero */
	__u64 base_ns;	   /* CLOCK_MONOTONIC ns at which T == base_t */
	__u64 base_t;	   /* SPsec T at base_ns */
	__u64 tick_ns;	   /* ns per tick: 10^11 / data bit rate, > 0 */
};
SPSEC_ABI_ASSERT(sizeof(struct spsec_state) == 72, "spsec_state layout");

/*
 * spsec_keys — ARRAY, SPSEC_KEY_SLOTS entries, key __u32 physical slot.
 * Writer: spsecd writes a spare slot completely, then points spsec_state.key_slot[parity] at it
 * (one locked update), so the data plane never reads a half-written key. Spare slots are wiped.
 * Reader: data plane; the slot's window must equal the frame's window, else SPSEC_R_*_NO_KEY.
 * Lifetime: pinned. Holds key material: the pin directory is mode 0700.
 */
struct spsec_key_slot {
	__u64 window;		     /* key window e this key belongs to */
	__u32 live;		     /* 1 when this slot holds a usable key */
	__u32 aead;		     /* SPSEC_AEAD_* the material below is prepared for */
	__u8 salt[8];		     /* Seed Key pre-shared salt: the nonce tail */
	__u8 key[32];		     /* the 32-byte Communication Key */
	__u32 aes_rk[60];	     /* AES-256 encryption round keys (AES-GCM only) */
	__u8 gcm_h[16];		     /* GHASH key H = E_K(0^128) (AES-GCM only) */
	__u8 gcm_table[16][256][16]; /* T[i][b] = (b * x^(8i)) * H, 64 KiB (AES-GCM only) */
};
SPSEC_ABI_ASSERT(sizeof(struct spsec_key_slot) == 8 + 4 + 4 + 8 + 32 + 240 + 16 + 65536,
		 "spsec_key_slot layout");

/*
 * The BPF_PROG_RUN context of the kernel-AES object's syscall programs (bpf/spsec_kaes_progs.h:
 * spsec_kaes_set, spsec_kaes_clr, spsec_kaes_prb). Writer: spsecd (slot); the program (err).
 */
struct spsec_kaes_args {
	__u32 slot; /* physical key slot, index of spsec_keys */
	__s32 err;  /* out: 0, or the negative errno (ENOENT: no such slot; EINVAL: not a live
		     * AES-GCM slot; others from the kernel's crypto API) */
};
SPSEC_ABI_ASSERT(sizeof(struct spsec_kaes_args) == 8, "spsec_kaes_args layout");

/*
 * spsec_policy — HASH, SPSEC_POLICY_MAX entries.
 * Key: a CAN ID as the kernel stores it, with CAN_EFF_FLAG for 29-bit IDs and without RTR/ERR
 * flags, plus the policy generation. spsecd writes a whole new generation, flips
 * spsec_state.policy_gen, then deletes the old generation: a reload is never half-applied.
 * Reader: data plane, every data-plane frame.
 */
struct spsec_policy_key {
	__u32 can_id; /* (can_id & (CAN_EFF_FLAG | CAN_EFF_MASK)), std IDs & CAN_SFF_MASK */
	__u32 gen;    /* policy generation, 0 or 1 */
};
SPSEC_ABI_ASSERT(sizeof(struct spsec_policy_key) == 8, "spsec_policy_key layout");

#define SPSEC_POL_SECURED  (1u << 0) /* frames carry a Security Stamp */
#define SPSEC_POL_PLAIN_RX (1u << 1) /* plain frames of this ID may pass ingress */
#define SPSEC_POL_PLAIN_TX (1u << 2) /* plain frames of this ID may pass egress */
#define SPSEC_POL_OWN_TX                                                                           \
	(1u << 3) /* this node transmits this ID: from the bus = injection;                        \
		   * egress stamps a secured ID only with this flag */

struct spsec_policy {
	__u32 flags;   /* SPSEC_POL_* */
	__u32 senders; /* sender rule 1..SPSEC_SENDER_RULES-1 of a secured own-TX ID, or 0: any
			* local sender may use the ID (the behaviour without sender rules) */
};
SPSEC_ABI_ASSERT(sizeof(struct spsec_policy) == 8, "spsec_policy layout");

/*
 * Sender rules: which local sockets may send a secured transmit ID (docs/data-plane.md, "Sender
 * rules"). A policy entry names its rule (spsec_policy.senders); a frame of that ID passes egress
 * only when its socket's uid is in the rule's uid set or its socket's cgroup is one of the
 * rule's cgroups or below one. A socket's uid and cgroup are those of the process that created
 * it, at socket(2) time. Rules are written per policy generation, with the policy, and flip with
 * it: slot = gen * SPSEC_SENDER_RULES + rule.
 */
#define SPSEC_SENDER_RULES   64	  /* rules per generation; rule 0 means "no rule" */
#define SPSEC_SENDER_CGROUPS 8	  /* cgroups per rule */
#define SPSEC_SENDER_UIDS    4096 /* (rule, uid) entries, both generations */

struct spsec_sender_cgroup {
	__u64 id;    /* cgroup v2 id (kernfs node id: the directory's file handle); 0: the cgroup
		      * does not exist now, never matches (fail closed) */
	__u32 level; /* depth below the cgroup v2 root (root = 0, /system.slice = 1) */
	__u32 pad0;  /* zero */
};
SPSEC_ABI_ASSERT(sizeof(struct spsec_sender_cgroup) == 16, "spsec_sender_cgroup layout");

/*
 * spsec_snd_rules — ARRAY, 2 * SPSEC_SENDER_RULES entries, key __u32 slot.
 * Writer: spsecd, the spare generation's slots before the policy flip. Reader: egress, for
 * frames of IDs with a rule. Lifetime: pinned.
 */
struct spsec_sender_rule {
	__u32 n_cgroups; /* cgroup[0..n_cgroups) are in use, <= SPSEC_SENDER_CGROUPS */
	__u32 pad0;	 /* zero */
	struct spsec_sender_cgroup cgroup[SPSEC_SENDER_CGROUPS];
};
SPSEC_ABI_ASSERT(sizeof(struct spsec_sender_rule) == 8 + 16 * SPSEC_SENDER_CGROUPS,
		 "spsec_sender_rule layout");

/*
 * spsec_snd_uids — HASH, SPSEC_SENDER_UIDS entries, key spsec_sender_uid_key, value __u32 1.
 * The uids a rule allows (its uids, and the members of its groups as spsecd resolved them).
 * Writer: spsecd, with the rules. Reader: egress. Lifetime: pinned.
 */
struct spsec_sender_uid_key {
	__u32 slot; /* as for spsec_snd_rules */
	__u32 uid;  /* socket uid as bpf_get_socket_uid() returns it */
};
SPSEC_ABI_ASSERT(sizeof(struct spsec_sender_uid_key) == 8, "spsec_sender_uid_key layout");

/*
 * spsec_snd_count — PERCPU_ARRAY, SPSEC_SENDER_RULES entries, key __u32 rule (not slot: the
 * counts of a rule survive a re-resolution of its cgroups). Writer: egress. Reader: spsecd (sums
 * over CPUs; zeroes them when the rules change on reload). Lifetime: pinned.
 */
struct spsec_sender_count {
	__u64 allowed; /* frames whose socket the rule allows (then checked as every frame is) */
	__u64 denied;  /* frames dropped as SPSEC_R_TX_SENDER_DENIED or _UNKNOWN */
};
SPSEC_ABI_ASSERT(sizeof(struct spsec_sender_count) == 16, "spsec_sender_count layout");

/*
 * spsec_rx_fresh / spsec_tx_last — HASH (not LRU: an evicted entry would reopen a replay
 * window), SPSEC_FRESH_MAX entries each, key spsec_id_key.
 * spsec_rx_fresh: last accepted T per secured ID (ingress, advanced with compare-and-swap).
 * spsec_tx_last:  last T this node stamped per secured ID (egress: T = max(now, last + 1), refused
 *                 when that is more than W/2 ahead of now).
 * Writer: data plane. spsecd clears them when it wipes keys and prunes the entries of IDs the
 * live policy no longer secures after each policy replacement, so both stay bounded by the
 * policy. Lifetime: pinned.
 */
struct spsec_id_key {
	__u32 can_id; /* as in spsec_policy_key */
	__u32 pad0;   /* zero */
};
SPSEC_ABI_ASSERT(sizeof(struct spsec_id_key) == 8, "spsec_id_key layout");

struct spsec_fresh {
	__u64 last_t; /* SPsec T, ticks */
};
SPSEC_ABI_ASSERT(sizeof(struct spsec_fresh) == 8, "spsec_fresh layout");

/*
 * spsec_counters — PERCPU_ARRAY, SPSEC_R_MAX entries of __u64 frame counts, key = reason.
 * Writer: data plane. Reader: spsecd, `spsecctl stats` (sums over CPUs). Lifetime: pinned.
 */

/*
 * spsec_events — RINGBUF, SPSEC_EVENTS_BYTES. Writer: data plane, rate limited per CPU and type
 * through spsec_evlimit. Reader: spsecd. Lifetime: pinned.
 */
#define SPSEC_EV_NONE	    0 /* reason with no event (SPSEC_REASONS) */
#define SPSEC_EV_AUTH_FAIL  1 /* EE00h: a secured frame failed verification */
#define SPSEC_EV_INJECTION  2 /* DE03h: own transmit ID received from the bus */
#define SPSEC_EV_REPLAY	    3 /* DE04h: duplicate (replayed) frame ignored */
#define SPSEC_EV_TX_REFUSED 4 /* a local frame could not be secured and was dropped */
#define SPSEC_EV_MAX	    8

struct spsec_event {
	__u64 ts_ns;   /* bpf_ktime_get_ns() at the verdict */
	__u64 frame_t; /* reconstructed SPsec T of the frame, 0 when unknown */
	__u32 type;    /* SPSEC_EV_* */
	__u32 reason;  /* SPSEC_R_* */
	__u32 can_id;  /* as in spsec_policy_key */
	__u32 pad0;    /* zero */
};
SPSEC_ABI_ASSERT(sizeof(struct spsec_event) == 32, "spsec_event layout");

/*
 * spsec_evlimit — PERCPU_ARRAY, SPSEC_EV_MAX entries, key = event type.
 * At most SPSEC_EV_PER_SEC events of one type per CPU per second reach the ring buffer; the rest
 * are only counted, so a flood on the bus cannot flood user space.
 */
#define SPSEC_EV_PER_SEC 16

struct spsec_evlimit {
	__u64 second; /* bpf_ktime_get_ns() / 10^9 of the current budget */
	__u32 used;   /* events emitted in that second */
	__u32 pad0;   /* zero */
};
SPSEC_ABI_ASSERT(sizeof(struct spsec_evlimit) == 16, "spsec_evlimit layout");

/* ---- Gateway (plain segments <-> the secured interface) -------------------------------------- */
/*
 * A gateway node forwards frames between one secured interface and up to SPSEC_GW_SEG_MAX plain
 * segments by rules (userspace/core/gateway_rules.h parses the config's `gateway:` section). The
 * kernel's can-gw moves the frames, one job per rule part: segment -> secured interface, whose tc
 * egress stamps the frame as this node's own transmission, and secured interface -> segment,
 * after its tc ingress verified and decrypted the frame. On each segment, spsec_gw_in (tc
 * ingress) and spsec_gw_out (tc egress) apply the same rules: per-rule counters, rate
 * limits, and on egress nothing from the kernel that no rule allows (bpf/spsec_gateway.h). They
 * belong to the secured interface's loaded object: its maps below and spsec_counters.
 */
#define SPSEC_MAP_GW_CONF  "spsec_gw_conf"
#define SPSEC_MAP_GW_RULES "spsec_gw_rules"
#define SPSEC_MAP_GW_COUNT "spsec_gw_count"
#define SPSEC_MAP_GW_RATE  "spsec_gw_rate"
#define SPSEC_MAP_GW_RELAY "spsec_gw_relay"

#define SPSEC_GW_RULES_MAX 64 /* rules per generation; rule numbers are 0..63 */
#define SPSEC_GW_SEG_MAX   8  /* plain segments per gateway */

#define SPSEC_GW_TO_SECURED 1 /* from a plain segment to the secured bus */
#define SPSEC_GW_TO_PLAIN   2 /* verified on the secured bus, to a plain segment */

#define SPSEC_GW_F_CLASSIC (1u << 0) /* the segment is classical CAN only: tc does not forward */

/* Per-rule counters: spsec_gw_count index = rule * SPSEC_GW_CNT_N + SPSEC_GW_CNT_* */
#define SPSEC_GW_CNT_FWD     0 /* matched and let through to can-gw (in) or the segment (out) */
#define SPSEC_GW_CNT_RATE    1 /* matched, over the rule's rate: dropped */
#define SPSEC_GW_CNT_CLASSIC 2 /* to_secured, classical or classical segment: to spsecd's relay */
#define SPSEC_GW_CNT_N	     4 /* slots per rule (one spare) */

/*
 * spsec_gw_conf — ARRAY, 1 entry, key __u32 0, value __u32: live generation << 16 | number of
 * rules in it (0 = gateway off). One 32-bit word, so a reader never sees half of a flip.
 * Writer: spsecd, after writing the whole spare generation of spsec_gw_rules. Reader: the segment
 * programs, every frame. Pinned.
 */
#define SPSEC_GW_LIVE(gen, n) (((gen) << 16) | (n))

/*
 * spsec_gw_rules — ARRAY, 2 * SPSEC_GW_RULES_MAX entries, key gen * SPSEC_GW_RULES_MAX + i.
 * A frame with normalized ID id (as spsec_policy_key) matches a rule when
 *   (id & mask) == value && lo <= id && id <= hi
 * mask always holds CAN_EFF_FLAG, so 11-bit and 29-bit IDs never match each other's rules.
 * One ID: mask = CAN_EFF_FLAG | the format's ID bits, lo = 0, hi = ~0; a range: mask =
 * CAN_EFF_FLAG, lo..hi; a mask rule: lo = 0, hi = ~0. spsecd refuses overlapping rules of one
 * direction and segment, so at most one rule matches per (direction, segment).
 * Writer: spsecd. Reader: the segment programs. Pinned.
 */
struct spsec_gw_rule {
	__u32 value;	   /* ID bits that must match under mask */
	__u32 mask;	   /* ID bits compared, CAN_EFF_FLAG included */
	__u32 lo;	   /* lowest ID, inclusive */
	__u32 hi;	   /* highest ID, inclusive */
	__u32 dir;	   /* SPSEC_GW_TO_* */
	__u32 seg_ifindex; /* the plain segment frames come from (TO_SECURED) or go to (TO_PLAIN) */
	__u32 pad1;	   /* zero */
	__u32 rule;	   /* rule number 0..SPSEC_GW_RULES_MAX-1: counter and rate slot */
	__u32 flags;	   /* SPSEC_GW_F_* */
	__u32 pad0;	   /* zero */
	__u64 interval_ns; /* rate limit: 10^9 / frames per second; 0 = no limit */
	__u64 burst_ns;	   /* rate limit: (burst frames - 1) * interval_ns */
};
SPSEC_ABI_ASSERT(sizeof(struct spsec_gw_rule) == 56, "spsec_gw_rule layout");

/*
 * spsec_gw_count — PERCPU_ARRAY, SPSEC_GW_RULES_MAX * SPSEC_GW_CNT_N __u64 frame counts.
 * Writer: the segment programs. Reader: spsecd, spsecctl (sums over CPUs). Pinned.
 *
 * spsec_gw_rate — ARRAY, SPSEC_GW_RULES_MAX entries of struct spsec_gw_rate, key = rule.
 * The rate limit as a virtual scheduling clock (GCRA): a frame conforms when
 * tat - now <= burst_ns; then tat = max(tat, now) + interval_ns. Writer and reader: the segment
 * programs, under the entry's lock. spsecd zeroes an entry when the rule's limit changes. Pinned.
 */
struct spsec_gw_rate {
	struct bpf_spin_lock lock;
	__u32 pad0; /* zero */
	__u64 tat;  /* theoretical arrival time, bpf_ktime_get_ns() ns */
};
SPSEC_ABI_ASSERT(sizeof(struct spsec_gw_rate) == 16, "spsec_gw_rate layout");

/*
 * spsec_gw_relay — ARRAY, SPSEC_GW_RULES_MAX entries of struct spsec_gw_relay_count, key = rule.
 * What spsecd's classical relay did with the frames of a rule it serves (a to_secured rule, a
 * to_plain rule of a classical segment; docs/gateway.md "Classical CAN"). Writer: spsecd only
 * (the relay writes a rule's whole entry after each wake-up that changed it; no BPF program
 * touches the map). Reader: spsecd (status, and where the relay's counts resume at its start),
 * spsecctl stats. Kept per rule number, like spsec_gw_count: never zeroed by spsecd. Pinned.
 */
struct spsec_gw_relay_count {
	__u64 relayed;	/* frames written: to the secured interface (to_secured) or the segment */
	__u64 too_long; /* to_plain: payload over 8 bytes, not carried to the classical segment */
	__u64 refused;	/* the write failed (the egress program dropped it, a full queue) */
};
SPSEC_ABI_ASSERT(sizeof(struct spsec_gw_relay_count) == 24, "spsec_gw_relay_count layout");

#endif /* SPSEC_ABI_H */
