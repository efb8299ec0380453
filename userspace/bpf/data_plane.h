// SPDX-License-Identifier: Apache-2.0
// The daemon's handle on the data plane's maps (include/spsec/abi.h, bpf/spsec_maps.h), and the
// loader that opens the production object with its maps pinned under SPSEC_PIN_ROOT/<ifname>.
//
// DataPlane borrows the maps of a loaded bpf_object (the production skeleton, or the test-only
// object of tests/bpf), so tests drive exactly the writers the daemon uses. It assumes one
// writer (spsecd): each update of spsec_state is a read-modify-write whose write is done under
// the entry's spin lock (BPF_F_LOCK), so the data plane never sees half of one.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <bpf/libbpf.h>

#include "bpf/skeleton.h"
#include "core/sender_rules.h"
#include "spsec/abi.h"
#include "spsec/result.h"
#include "spsec_dp.skel.h"

namespace spsec {

// One policy entry: a CAN ID as the kernel stores it (CAN_EFF_FLAG | 29 bits, or 11 bits; no
// RTR/ERR flags) and its SPSEC_POL_* flags.
struct PolicyEntry {
	std::uint32_t can_id = 0;
	std::uint32_t flags = 0;
	// Sender rule 1..n of the `senders` passed with the policy, 0 for none (any local socket
	// may send the ID). Only for IDs with SPSEC_POL_SECURED | SPSEC_POL_OWN_TX.
	std::uint32_t senders = 0;
};

// One sender rule as the data plane holds it (abi.h: spsec_snd_rules, spsec_snd_uids).
struct SenderRuleEntry {
	spsec_sender_rule rule{};         // cgroups by id and level
	std::vector<std::uint32_t> uids;  // allowed socket uids
};

// The resolved rules (rule i + 1 = table[i]) as the maps hold them: the first
// SPSEC_SENDER_CGROUPS cgroups (config refuses more), uids sorted.
[[nodiscard]] std::vector<SenderRuleEntry> sender_rule_entries(const SenderTable& table);

// Frames allowed and denied per sender rule, index = rule (0 unused), summed over CPUs.
using SenderCounts = std::array<spsec_sender_count, SPSEC_SENDER_RULES>;

using Counters = std::array<std::uint64_t, SPSEC_R_MAX>;

struct FreshnessCounts {
	std::size_t rx = 0;  // entries in spsec_rx_fresh
	std::size_t tx = 0;  // entries in spsec_tx_last
};

class DataPlane {
public:
	// Finds the data plane's maps in a loaded object. Errors: a map is missing (ENOENT, named),
	// the object is not loaded yet (EBADF), the pinned state was written by a daemon of
	// another ABI version (EPROTO).
	[[nodiscard]] static Result<DataPlane> from_object(bpf_object* obj);

	// Participant state (SPSEC_STATE_*), AEAD (SPSEC_AEAD_*), mode (SPSEC_MODE_*), acceptance
	// window in ticks and default action (SPSEC_DEFAULT_*). Errors: a value out of range
	// (EINVAL, named), the map update failed.
	[[nodiscard]] Result<void> set_state(std::uint32_t state, std::uint32_t aead,
	                                     std::uint32_t mode, std::uint32_t window,
	                                     std::uint32_t default_action);

	// Synchronized clock: T = base_t + (CLOCK_MONOTONIC ns - base_ns) / tick_ns. Errors:
	// tick_ns == 0 or base_t == 0 (EINVAL), the map update failed.
	[[nodiscard]] Result<void> set_clock(std::uint64_t base_ns, std::uint64_t base_t,
	                                     std::uint64_t tick_ns);
	// Forgets the clock: every secured frame is dropped (SPSEC_R_*_NO_CLOCK) until set_clock().
	[[nodiscard]] Result<void> clear_clock();

	// Installs a prepared key slot (key_material.h: prepare_key_slot) for its window's parity:
	// writes it to a spare physical slot, flips spsec_state.key_slot[parity] to it under the
	// lock, then wipes the slot it replaced (a frame in flight on another CPU at that very
	// moment may fail verification; that is the price of not keeping old keys around).
	// Errors: slot.live != 1 or an unknown AEAD (EINVAL), map update failed.
	[[nodiscard]] Result<void> install_key(const spsec_key_slot& slot);
	// Overwrites every key slot with zeros (live = 0): from now on nothing verifies and
	// nothing is sealed (SPSEC_R_*_NO_KEY). Errors: map update failed (some slots may be
	// wiped).
	[[nodiscard]] Result<void> wipe_keys();
	// Empties spsec_rx_fresh and spsec_tx_last. Only for a new group key / clock epoch: old
	// frames stay out by the acceptance window, not by freshness, once this is done.
	[[nodiscard]] Result<void> clear_freshness();

	// Replaces the whole policy atomically: writes the entries as the spare generation, flips
	// spsec_state.policy_gen, deletes the old generation, then prunes the freshness maps: rx
	// entries of IDs the new policy does not verify, tx entries of IDs it does not stamp once
	// their T is behind the clock. So both maps stay bounded by the policy however many IDs
	// come and go across reloads. `senders` are the sender rules the entries name (rule i + 1
	// is senders[i]); they are written into the spare generation with the entries and go live
	// with them in the one flip. Errors: more than
	// SPSEC_POLICY_MAX / 2 entries (E2BIG), a duplicate or malformed ID or unknown flag bit
	// (EINVAL, the ID named), a control-plane ID (EINVAL), a sender rule number out of range
	// or on an ID that is not a secured own one, more than SPSEC_SENDER_RULES - 1 rules, more
	// than SPSEC_SENDER_CGROUPS cgroups in a rule or SPSEC_SENDER_UIDS / 2 uids in all
	// (EINVAL/E2BIG), map update failed (the live generation is unchanged then).
	[[nodiscard]] Result<void> replace_policy(std::span<const PolicyEntry> entries,
	                                          std::span<const SenderRuleEntry> senders = {});

	// Frames allowed and denied per sender rule. Errors: map read failed.
	[[nodiscard]] Result<SenderCounts> read_sender_counts() const;
	// Zeroes every rule's counters (spsecd does when the rules change). Errors: map update.
	[[nodiscard]] Result<void> zero_sender_counts();

	// Entries in spsec_rx_fresh and spsec_tx_last. Errors: map read failed.
	[[nodiscard]] Result<FreshnessCounts> freshness_entries() const;

	// Frames per reason, summed over CPUs. Errors: map read failed.
	[[nodiscard]] Result<Counters> read_counters() const;
	// The current state entry, read under its lock. Errors: map read failed.
	[[nodiscard]] Result<spsec_state> read_state() const;

	[[nodiscard]] bpf_map* events_map() const noexcept { return events_; }

private:
	DataPlane() = default;
	[[nodiscard]] Result<void> write_state(const spsec_state& st);
	[[nodiscard]] Result<void> prune_freshness(std::span<const PolicyEntry> entries,
	                                           const spsec_state& st);

	bpf_map* state_ = nullptr;
	bpf_map* keys_ = nullptr;
	bpf_map* policy_ = nullptr;
	bpf_map* rx_fresh_ = nullptr;
	bpf_map* tx_last_ = nullptr;
	bpf_map* counters_ = nullptr;
	bpf_map* events_ = nullptr;
	bpf_map* snd_rules_ = nullptr;
	bpf_map* snd_uids_ = nullptr;
	bpf_map* snd_count_ = nullptr;
};

// Creates SPSEC_PIN_ROOT (or `root`) and <root>/<ifname> with mode 0700 (the maps hold key
// material) and returns the directory. Errors: ifname empty, longer than IFNAMSIZ - 1, "." or
// "..", or containing '/' (EINVAL); mkdir/chmod failed.
[[nodiscard]] Result<std::string> make_pin_dir(std::string_view ifname,
                                               std::string_view root = SPSEC_PIN_ROOT);

// The production object, loaded, with its maps pinned in <pin root>/<ifname> (reused when they
// are already pinned there: a restarted daemon continues with the same keys, clock, freshness
// and counters), not attached yet (see TcAttachment).
struct LoadedDataPlane {
	Skeleton<spsec_dp> skel;
	DataPlane maps;
	// The pins this load created (maps not reused from an earlier load), and the pin
	// directory when this load created it: what remove_created_pins() takes away again.
	std::vector<std::string> created_pins;
	std::string created_dir;
};

struct LoadOptions {
	std::string pin_root = SPSEC_PIN_ROOT;
	bool pin = true;  // false: private maps (tests, benchmarks)
	// Whether the interface echoes sent frames itself (IFF_ECHO); unset: read from the
	// interface (device_echoes()). Decides how ingress treats local echoes (spsec.bpf.c).
	std::optional<bool> dev_echo;
};

// IFF_ECHO of the interface: true for every real CAN driver and `vcan echo=1`, false for vxcan
// and plain vcan. Errors: a bad name (EINVAL), no such interface (ENODEV), ioctl failures.
[[nodiscard]] Result<bool> device_echoes(std::string_view ifname);

// Errors: as device_echoes() unless opts.dev_echo is set, make_pin_dir(), Skeleton::open/load
// (verifier refusal, incompatible pinned maps, EPERM without CAP_BPF/CAP_NET_ADMIN),
// DataPlane::from_object. On an error no map this call pinned stays pinned (libbpf unpins them
// when load fails; this function after it).
[[nodiscard]] Result<LoadedDataPlane> load_data_plane(std::string_view ifname,
                                                      const LoadOptions& opts = {});

// For a start that fails before any program of `dp` was attached: unpins the maps this load
// created and removes the pin directory if this load created it and it is now empty, so the
// failed start leaves nothing behind. Maps reused from an earlier load stay pinned: they are
// that data plane's state, and its filters may still be attached and using them. Not for use
// once a program of `dp` may be attached: its maps are then the fail-closed state the next
// start reuses. Errors: a pin could not be removed (named; the others are still removed).
[[nodiscard]] Result<void> remove_created_pins(LoadedDataPlane& dp);

}  // namespace spsec
