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
#include <variant>
#include <vector>

#include <bpf/libbpf.h>

#include "bpf/kernel_features.h"
#include "bpf/skeleton.h"
#include "core/sender_rules.h"
#include "spsec/abi.h"
#include "spsec/result.h"
#include "spsec_dp.skel.h"
#include "spsec_dp_kaes.skel.h"

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
	// Finds the data plane's maps in a loaded object. An object with kernel AES (the syscall
	// programs of bpf/spsec_kaes_progs.h) gets the AES context of every live AES-GCM key slot
	// made here, from the key spsec_keys holds (contexts do not survive a reload of the
	// object; this is what lets a restarted daemon, or a switch of objects, go on with the
	// pinned keys before its programs are attached). Errors: a map is missing (ENOENT, named),
	// the object is not loaded yet (EBADF), the pinned state was written by a daemon of
	// another ABI version (EPROTO), a kernel AES context could not be made (the slot named,
	// the kernel's errno).
	[[nodiscard]] static Result<DataPlane> from_object(bpf_object* obj);

	// Kernel AES (the object has the syscall programs) or the T-table AES in BPF.
	[[nodiscard]] AesImpl aes() const noexcept
	{
		return kaes_set_ != nullptr ? AesImpl::Kernel : AesImpl::Bpf;
	}

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
	// With kernel AES the spare slot's AES context is made before the flip (for an AES-GCM
	// slot; any other slot's is released) and the replaced slot's is released with its wipe.
	// Errors: slot.live != 1 or an unknown AEAD (EINVAL), map update failed, the kernel could
	// not make the AES context (the spare slot is wiped again and nothing goes live).
	[[nodiscard]] Result<void> install_key(const spsec_key_slot& slot);
	// Overwrites every key slot with zeros (live = 0), releasing the kernel AES contexts
	// first: from now on nothing verifies and nothing is sealed (SPSEC_R_*_NO_KEY). Errors:
	// map update failed (some slots may be wiped).
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
	// prune = false leaves the freshness maps alone: a reload that may still be rolled back
	// prunes with prune_freshness() once it is complete (a pruned rx entry cannot be put back,
	// and without it a frame of an ID the rollback re-adds could be replayed once).
	[[nodiscard]] Result<void> replace_policy(std::span<const PolicyEntry> entries,
	                                          std::span<const SenderRuleEntry> senders = {},
	                                          bool prune = true);
	// The checks of replace_policy() alone, changing nothing (a reload validates first).
	[[nodiscard]] static Result<void> validate_policy(std::span<const PolicyEntry> entries,
	                                                  std::span<const SenderRuleEntry> senders);
	// replace_policy()'s pruning of the freshness maps by the live `entries`. Errors: map
	// read or update failed.
	[[nodiscard]] Result<void> prune_freshness(std::span<const PolicyEntry> entries);

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
	// Kernel AES only (no-ops otherwise): runs spsec_kaes_set / spsec_kaes_clr for `slot`.
	[[nodiscard]] Result<void> set_aes_context(std::uint32_t slot);
	[[nodiscard]] Result<void> clear_aes_context(std::uint32_t slot);
	[[nodiscard]] Result<void> restore_aes_contexts();
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
	// the kernel-AES object's syscall programs, null in the T-table object
	bpf_program* kaes_set_ = nullptr;
	bpf_program* kaes_clr_ = nullptr;
};

// The programs and maps of the production object that callers use by name, the same in both
// objects (spsec_dp and spsec_dp_kaes).
struct DataPlaneProgs {
	bpf_program* spsec_ingress = nullptr;
	bpf_program* spsec_egress = nullptr;
	bpf_program* spsec_gw_in = nullptr;
	bpf_program* spsec_gw_out = nullptr;
};
struct DataPlaneObjMaps {
	bpf_map* spsec_gw_rules = nullptr;
	bpf_map* spsec_gw_conf = nullptr;
};
struct DataPlaneView {
	DataPlaneProgs progs;
	DataPlaneObjMaps maps;
};

// One of the two production objects (bpf/CMakeLists.txt), owned; `obj->progs.spsec_ingress`
// reads as with a skeleton.
class DataPlaneObject {
public:
	template <class T> explicit DataPlaneObject(Skeleton<T> s) noexcept : skel_(std::move(s))
	{
		const T* t = std::get<Skeleton<T>>(skel_).get();
		view_.progs = {t->progs.spsec_ingress, t->progs.spsec_egress, t->progs.spsec_gw_in,
		               t->progs.spsec_gw_out};
		view_.maps = {t->maps.spsec_gw_rules, t->maps.spsec_gw_conf};
	}
	const DataPlaneView* operator->() const noexcept { return &view_; }
	[[nodiscard]] bpf_object* object() const noexcept
	{
		return std::visit([](const auto& s) { return s.object(); }, skel_);
	}

private:
	std::variant<Skeleton<spsec_dp>, Skeleton<spsec_dp_kaes>> skel_;
	DataPlaneView view_;
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
	DataPlaneObject skel;
	DataPlane maps;
	AesImpl aes = AesImpl::Bpf;
	// Why this AES (probe result or SPSEC_AES), and with kernel AES the kernel's driver of
	// "ecb(aes)" (kernel_aes_driver()): for the log.
	std::string aes_reason;
	std::string aes_driver;
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
	// Which object: unset probes (kernel AES when the kernel has the BPF crypto kfuncs and
	// makes an "ecb(aes)" context, else the T-table AES); set forces it (SPSEC_AES).
	std::optional<AesImpl> aes;
};

// IFF_ECHO of the interface: true for every real CAN driver and `vcan echo=1`, false for vxcan
// and plain vcan. Errors: a bad name (EINVAL), no such interface (ENODEV), ioctl failures.
[[nodiscard]] Result<bool> device_echoes(std::string_view ifname);

// Errors: as device_echoes() unless opts.dev_echo is set, make_pin_dir(), Skeleton::open/load
// (verifier refusal, incompatible pinned maps, EPERM without CAP_BPF/CAP_NET_ADMIN),
// DataPlane::from_object; opts.aes == Kernel where the kernel has no BPF crypto kfuncs
// (EOPNOTSUPP) or cannot make an "ecb(aes)" context (its errno), both named. On an error no map
// this call pinned stays pinned (libbpf unpins them when load fails; this function after it).
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
