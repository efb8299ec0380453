// SPDX-License-Identifier: Apache-2.0
// DataPlanePort: what spsecd needs from the BPF data plane, as a small interface so the daemon's
// start-up, reload and teardown run in unit tests against FakeDataPlane (tests/support). The real
// implementation is BpfDataPlane (bpf_data_plane.h), over the loader in userspace/bpf/.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/config.h"
#include "core/key_schedule.h"
#include "core/reasons.h"
#include "core/secret.h"
#include "core/sender_rules.h"
#include "spsec/result.h"

namespace spsec {

// The clock and state the data plane needs in spsec_state (abi.h).
struct DataPlaneState {
	std::uint32_t state = SPSEC_STATE_NOTSET;  // SPSEC_STATE_*
	bool clock_set = false;
	std::uint64_t base_ns = 0;  // CLOCK_MONOTONIC ns at which T == base_t
	std::uint64_t base_t = 0;
	std::uint64_t tick_ns = 0;
};

// How the data plane is attached and what the kernel offers it (status "data_plane", the log).
struct DataPlaneFeatures {
	std::string attach;          // "tcx" or "tc" (tc_attachment.h); empty before open()
	bool crypto_kfuncs = false;  // BPF crypto kfuncs in the kernel (>= 6.10)
	// the data plane's AES: "kernel" (crypto kfuncs) or "bpf" (T-table); empty before open()
	std::string aes;
	std::string aes_driver;  // with "kernel": the kernel's driver of ecb(aes), "" unknown
};

class DataPlanePort {
public:
	virtual ~DataPlanePort() = default;
	// Loads and attaches the data plane for cfg.interface, or takes over the maps a previous
	// spsecd left pinned in cfg.pin_dir without a gap, with the policy and cfg.senders' rules
	// as `senders` resolved them (rule i + 1 = senders[i]). Errors: load/attach/pin failures.
	[[nodiscard]] virtual Result<void> open(const Config& cfg, const SenderTable& senders) = 0;
	// Applies a reloaded configuration, or the same one with its sender rules resolved anew
	// (policy generation flip; the per-rule counters restart when cfg.senders changed).
	// Errors: map updates failed; the previous policy then stays live.
	[[nodiscard]] virtual Result<void> reconfigure(const Config& cfg,
	                                               const SenderTable& senders) = 0;
	// Frames allowed and refused per sender rule since the rules were installed (index i =
	// rule i + 1). Errors: map read failed.
	[[nodiscard]] virtual Result<std::vector<SenderRuleCount>> sender_counts() = 0;
	// Publishes state and clock in one locked update of spsec_state.
	[[nodiscard]] virtual Result<void> publish(const DataPlaneState& st) = 0;
	// Installs the Communication Key of `window` in the slot of its parity (spare slot, then a
	// locked flip; the replaced key is wiped). Errors: key preparation or map update failed.
	[[nodiscard]] virtual Result<void> install_key(AeadKind aead, const Key32& key,
	                                               const KeySalt& seed_salt,
	                                               std::uint64_t window) = 0;
	// Wipes every key slot (Security Abort, Shutdown). Errors: map update failed.
	[[nodiscard]] virtual Result<void> wipe_keys() = 0;
	// What open() found pinned by a previous spsecd of the same ABI, when it was live (state
	// Secure or Warning with the clock set; keys are only ever installed by a daemon that went
	// Secure): spsecd then resumes without a gap (docs/operations.md). nullopt otherwise.
	[[nodiscard]] virtual std::optional<DataPlaneState> live_pinned_state() const noexcept = 0;
	// Sums the per-reason counters.
	[[nodiscard]] virtual Result<CounterSnapshot> counters() = 0;

	using EventSink = std::function<void(const spsec_event&)>;
	// The fd that becomes readable when data-plane events (spsec_events ring buffer) wait, or
	// -1 when there is none. Valid after open().
	[[nodiscard]] virtual int event_fd() const noexcept = 0;
	// Hands every waiting event to `sink` without blocking; returns how many. Errors: reading
	// the ring buffer failed.
	[[nodiscard]] virtual Result<int> drain_events(const EventSink& sink) = 0;
	// Releases user-space handles. The data plane stays attached and pinned, enforcing with
	// what it has (fail closed once the key window passes).
	virtual void close() noexcept = 0;
	// The interface is gone (its tc filters with it): forget the attachment, keep the loaded
	// programs and the pinned maps for reattach().
	virtual void lost_interface() noexcept = 0;
	// Attaches the loaded programs to the interface of that name again (it was re-created),
	// on the same pinned maps: state, clock, keys and policy are enforced at once. Errors: no
	// such interface yet, the kernel refused the filters.
	[[nodiscard]] virtual Result<void> reattach(const Config& cfg) = 0;
	// A gateway segment was re-created (its tc filters and can-gw jobs went with the old
	// device): sets the gateway up again on the live configuration (segment programs, rules
	// with the new ifindex, jobs). Errors: a segment is missing, the kernel refused.
	[[nodiscard]] virtual Result<void> reattach_gateway(const Config& cfg) = 0;
	// What open() chose and probed; the attach mode stays while the interface is away.
	[[nodiscard]] virtual DataPlaneFeatures features() const = 0;
};

}  // namespace spsec
