// SPDX-License-Identifier: Apache-2.0
// BpfDataPlane: the real DataPlanePort, over the loader (userspace/bpf/data_plane.h).
//
// open() loads the production object with its maps pinned in cfg.pin_dir (reusing maps a
// previous spsecd left there), attaches both tc programs to cfg.interface (tcx links pinned in
// cfg.pin_dir where the kernel has tcx, else netlink tc filters; a previous instance's programs
// are replaced atomically) and installs the configured policy. close() releases the handles but
// leaves the programs attached and the maps pinned: the data plane keeps enforcing after spsecd
// exits (fail closed).
//
// Compiled into spsecd only (not spsec_daemon), so the unit tests do not need the BPF skeleton.
#pragma once

#include <optional>
#include <vector>

#include "bpf/data_plane.h"
#include "bpf/gateway_maps.h"
#include "bpf/gateway_setup.h"
#include "bpf/ring_buffer.h"
#include "bpf/tc_attachment.h"
#include "common/logger.h"
#include "daemon/data_plane_port.h"

namespace spsec {

// The policy entries of a configuration: secured IDs (SECURED), plaintext IDs (PLAIN_RX |
// PLAIN_TX) and transmit IDs (OWN_TX) merged per ID, sorted by ID; the IDs of sender rule i
// (cfg.senders[i]) name rule i + 1.
[[nodiscard]] std::vector<PolicyEntry> policy_entries(const Config& cfg);

class BpfDataPlane final : public DataPlanePort {
public:
	// env_attach: SPSEC_ATTACH from the environment; it wins over the configuration's `attach`
	// key. Auto probes the kernel (tcx where it can), tc and tcx force (tc_attachment.h).
	// aes: which AES the data plane uses (kernel_features.h); nullopt probes the kernel
	// (kernel AES where it has the BPF crypto kfuncs and makes an ecb(aes) context).
	explicit BpfDataPlane(const Logger& log, std::optional<AttachPref> env_attach = {},
	                      std::optional<AesImpl> aes = {}) noexcept
	    : log_(log), env_attach_(env_attach), aes_(aes)
	{
	}

	// Errors: cfg.pin_dir is not <root>/<interface>, load/attach/policy failures (named).
	[[nodiscard]] Result<void> open(const Config& cfg, const SenderTable& senders) override;
	[[nodiscard]] Result<void> reconfigure(const Config& cfg,
	                                       const SenderTable& senders) override;
	[[nodiscard]] Result<std::vector<SenderRuleCount>> sender_counts() override;
	[[nodiscard]] Result<void> publish(const DataPlaneState& st) override;
	[[nodiscard]] Result<void> install_key(AeadKind aead, const Key32& key,
	                                       const KeySalt& seed_salt,
	                                       std::uint64_t window) override;
	[[nodiscard]] Result<void> wipe_keys() override;
	[[nodiscard]] std::optional<DataPlaneState> live_pinned_state() const noexcept override
	{
		return pinned_;
	}
	[[nodiscard]] Result<CounterSnapshot> counters() override;
	[[nodiscard]] int event_fd() const noexcept override;
	[[nodiscard]] Result<int> drain_events(const EventSink& sink) override;
	void close() noexcept override;
	void lost_interface() noexcept override;
	[[nodiscard]] Result<void> reattach(const Config& cfg) override;
	[[nodiscard]] Result<void> reattach_gateway(const Config& cfg) override;
	[[nodiscard]] DataPlaneFeatures features() const override { return features_; }

private:
	[[nodiscard]] Result<void> write_state(const Config& cfg, std::uint32_t state);
	// The gateway (cfg.gateway, docs/gateway.md): rules, segment programs, can-gw jobs;
	// `before` / after the policy (bpf/gateway_setup.h). A configuration without a gateway
	// section removes the jobs to and from the previous configuration's segments. The
	// segment programs attached stay (fail closed).
	[[nodiscard]] Result<void> gateway(const Config& cfg, bool before_policy);
	// cfg.gateway resolved (bpf/gateway_setup.h plan_gateway). Errors: a segment is missing.
	[[nodiscard]] Result<GatewayPlan> plan(const Config& cfg) const;
	// The ifindexes now of the running configuration's segments (those that exist).
	[[nodiscard]] std::vector<int> running_segments() const;
	// How the segments are attached: in the secured interface's mode, pinned in cfg.pin_dir/gw.
	[[nodiscard]] SegmentAttach segment_attach(const Config& cfg) const;
	[[nodiscard]] Result<void> open_gateway_maps();
	[[nodiscard]] Result<TcAttachment> attach(const Config& cfg) const;
	// What a reload changes and its rollback puts back (reconfigure()).
	struct Before {
		std::uint32_t policy_gen = 0;
		std::uint32_t gw_word = 0;
		std::vector<spsec_gw_rule> gw_rules;
		std::vector<CanGwJobStats> jobs;  // only when the reload touches the gateway
	};
	// Puts the running configuration back after a reload failed with `cause` part-way.
	// Returns the error for the caller: rolled back, or the rollback failed and what is in
	// place.
	[[nodiscard]] Error roll_back(const Error& cause, const Before& before,
	                              SegmentGuards& attached, int secured,
	                              const std::vector<int>& segments, bool gateway);

	const Logger& log_;
	std::optional<AttachPref> env_attach_;
	std::optional<AesImpl> aes_;
	DataPlaneFeatures features_;
	std::optional<LoadedDataPlane> dp_;
	std::optional<TcAttachment> tc_;
	std::optional<RingBuffer> events_;
	const EventSink* sink_ = nullptr;  // set only while drain_events runs
	std::optional<Config> cfg_;
	// the running configuration's sender rules, as installed (what a rollback puts back)
	std::vector<SenderRuleEntry> senders_;
	std::optional<AttachMode> mode_;  // the secured interface's, once attached
	std::optional<GatewayMaps> gw_maps_;
	std::uint32_t state_ = SPSEC_STATE_NOTSET;
	std::optional<DataPlaneState> pinned_;
};

}  // namespace spsec
