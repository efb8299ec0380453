// SPDX-License-Identifier: Apache-2.0
// The gateway's classical relay (docs/gateway.md, "Classical CAN"): what can-gw and tc cannot
// carry. tc cannot turn a 16-byte classical skb into a CAN FD one, nor can can-gw; a secured
// frame needs CAN FD (the stamp adds 10 bytes). So spsecd moves these frames itself:
//   to_secured: a CAN_RAW socket per segment with to_secured rules, whose receive filter is
//     those rules' IDs, reads the classical frames the segment's ingress program let through
//     (counted there per rule as `classical`, within the rule's rate; on a segment with
//     `frames: classic` every frame of a rule) and writes each as a CAN FD frame (same ID and
//     data, no BRS) to the secured interface, whose egress stamps it as this node's own.
//   to_plain: one CAN_RAW socket on the secured interface, filtered to the IDs of the to_plain
//     rules of classical segments, reads the frames its ingress verified and decrypted, and
//     writes each as a classical frame to the segments whose rule covers it, when its payload
//     has at most 8 bytes. The segment's egress program applies the rule to these frames (the
//     sockets carry SPSEC_GW_RELAY_MARK): counted as `forwarded`, or dropped over its rate.
// What the relay did per rule (relayed, too long for a classical segment, refused by the kernel)
// is kept in the secured interface's pinned map spsec_gw_relay (through RelayCountStore), so
// `spsecctl stats` shows it and it outlives spsecd; spsecd's status ("gateway_relay") shows
// the same numbers.
// The sockets do not loop back to other local sockets, like can-gw's jobs.
#pragma once

#include <linux/can.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/fd.h"
#include "common/json.h"
#include "common/logger.h"
#include "core/config.h"
#include "spsec/result.h"

namespace spsec {

// What the relay needs of a gateway section.
struct RelaySegment {
	std::string name;
	bool classic = false;
	// Receive filter for the to_secured rules of this segment (empty: no socket reads it).
	std::vector<can_filter> to_secured;
	bool to_plain = false;  // a to_plain rule targets this classical segment
};
struct RelayPlan {
	std::vector<RelaySegment> segments;    // segments the relay has a socket on, config order
	std::vector<can_filter> from_secured;  // to_plain rules of classical segments
	[[nodiscard]] bool empty() const noexcept { return segments.empty(); }
};

// The relay's sockets for `g`: a segment with to_secured rules (classical frames on a CAN FD
// segment, every frame on a classical one) or, classical, with to_plain rules.
[[nodiscard]] RelayPlan plan_relay(const GatewayConfig& g);

// The number of the first rule of direction `dir` on `segment` that covers the frame's ID
// (kernel form: CAN_EFF_FLAG with 29-bit IDs; RTR, error and control-plane frames never
// match), or -1.
[[nodiscard]] int relay_rule(const GatewayConfig& g, GatewayDirection dir,
                             const std::string& segment, canid_t can_id) noexcept;

// A received frame (classical or CAN FD) as the CAN FD frame the relay writes to the secured
// interface: ID, length and data as they were, flags 0 (no BRS), the rest zero.
//   classical 0x121 [2] CA FE  ->  CAN FD 0x121 [2] CA FE
[[nodiscard]] canfd_frame relay_to_fd(const canfd_frame& rx) noexcept;
// A verified frame as the classical frame written to a classical segment: nullopt when its
// payload has more than 8 bytes (it does not fit).
//   CAN FD 0x200 [3] 01 02 03  ->  classical 0x200 [3] 01 02 03;  CAN FD [12] -> nullopt
[[nodiscard]] std::optional<can_frame> relay_to_classical(const canfd_frame& rx) noexcept;

// Frames of one rule the relay handled.
struct RelayRuleCount {
	std::uint64_t relayed = 0;   // written (to_secured: to the secured interface; to_plain: to
	                             // the segment, where its egress program then decides)
	std::uint64_t too_long = 0;  // to_plain: payload over 8 bytes, not carried
	std::uint64_t refused = 0;   // the write failed (e.g. the egress program dropped it:
	                             // tx_not_secure, over the rule's rate; ENOBUFS)
	friend bool operator==(const RelayRuleCount&, const RelayRuleCount&) = default;
};

// Where the relay's counts live beyond the relay: in spsecd the pinned map spsec_gw_relay
// (bpf/gateway_maps.h RelayCountMap), in tests a fake. Keyed by rule number.
class RelayCountStore {
public:
	virtual ~RelayCountStore() = default;
	[[nodiscard]] virtual Result<RelayRuleCount> read(std::uint32_t rule) const = 0;
	[[nodiscard]] virtual Result<void> write(std::uint32_t rule, const RelayRuleCount& c) = 0;
};
// Opens the store when a relay is needed (none: the counts live in the relay only).
using OpenRelayCountStore = std::function<Result<std::unique_ptr<RelayCountStore>>()>;

// The relay's counts per rule: resumed from the store, counted in memory, written back to the
// store by flush() (the relay flushes after each wake-up: one map update per changed rule).
// spsecd is the store's only writer, so memory and store agree after each flush and status
// reads memory. The counts are kept per rule number and never zeroed, like the data plane's
// per-rule counters (spsec_gw_count), so that a rule's classical = relayed + refused holds
// across reloads and restarts.
class RelayCounts {
public:
	// `relay_rule[i]`: the relay serves rule i (only those are read from and written to the
	// store). Errors: the store could not be read (the rule named).
	[[nodiscard]] static Result<RelayCounts> resume(std::vector<bool> relay_rule,
	                                                std::unique_ptr<RelayCountStore> store);
	// Each returns the rule's count of that kind before this frame (0: the first).
	std::uint64_t add_relayed(int rule) { return add(rule, &RelayRuleCount::relayed); }
	std::uint64_t add_too_long(int rule) { return add(rule, &RelayRuleCount::too_long); }
	std::uint64_t add_refused(int rule) { return add(rule, &RelayRuleCount::refused); }
	// Writes the changed rules to the store. Errors: a write failed (the rule named); the
	// rules not written stay changed, for the next flush.
	[[nodiscard]] Result<void> flush();
	[[nodiscard]] const std::vector<RelayRuleCount>& counts() const noexcept { return counts_; }
	[[nodiscard]] bool served(std::size_t rule) const noexcept
	{
		return rule < relay_rule_.size() && relay_rule_[rule];
	}

private:
	RelayCounts() = default;
	std::uint64_t add(int rule, std::uint64_t RelayRuleCount::*kind);

	std::unique_ptr<RelayCountStore> store_;
	std::vector<RelayRuleCount> counts_;
	std::vector<bool> relay_rule_;
	std::vector<bool> dirty_;
};

class GatewayRelay {
public:
	// Opens the sockets of `cfg.gateway`'s relay and resumes its counts from the store
	// `open_store` opens (an empty function: counts from 0, kept in memory). nullptr (no
	// error) when the gateway needs none. A segment interface that does not exist is left out
	// (logged; spsecd opens the relay again when it appears). Errors: a socket could not be
	// opened (the interface named), the store could not be opened or read: no socket stays
	// open.
	[[nodiscard]] static Result<std::unique_ptr<GatewayRelay>>
	open(const Config& cfg, const Logger& log, const OpenRelayCountStore& open_store = {});
	~GatewayRelay() = default;
	GatewayRelay(const GatewayRelay&) = delete;
	GatewayRelay& operator=(const GatewayRelay&) = delete;

	// An epoll fd, readable while a socket has frames waiting.
	[[nodiscard]] int fd() const noexcept { return epoll_.get(); }
	// Relays what waits (at most kMaxFramesPerWake per socket; the rest at the next wake-up),
	// then writes the changed counts to the store (a failure is logged once per relay and
	// retried at the next wake-up). A socket whose interface went away is dropped from the
	// relay (spsecd opens the relay again when the interface is back).
	void process();
	static constexpr int kMaxFramesPerWake = 64;

	// Per rule number (index = the configuration's rule number), as in the store after the
	// last wake-up.
	[[nodiscard]] const std::vector<RelayRuleCount>& counts() const noexcept
	{
		return counts_->counts();
	}
	// {"sockets":N,"rules":[{"rule":0,"relayed":..,"too_long":..,"refused":..}]} (rules the
	// relay serves only).
	[[nodiscard]] Json status() const;

private:
	struct Socket {
		Fd fd;
		std::string ifname;
		int segment = -1;  // index into segments_, -1: the secured interface
		bool dead = false;
	};
	GatewayRelay(const Logger& log, GatewayConfig g) : log_(log), gw_(std::move(g)) {}
	void on_segment_frames(Socket& s);
	void on_secured_frames(Socket& s);
	// Reads one frame; nullopt when none waits or the socket failed (then marked dead).
	[[nodiscard]] std::optional<canfd_frame> read_frame(Socket& s);
	void count_refused(int rule, std::string_view what, int err);

	const Logger& log_;
	GatewayConfig gw_;
	Fd epoll_;
	std::vector<Socket> sockets_;
	std::vector<std::string> segment_names_;  // index -> name
	int secured_ = -1;                        // index into sockets_ of the secured socket
	std::vector<int> segment_socket_;         // segment index -> index into sockets_, or -1
	std::optional<RelayCounts> counts_;
	bool flush_failed_ = false;  // logged once per relay
	// first refusal / too-long frame of a rule since this relay opened: logged
	std::vector<bool> logged_refused_, logged_too_long_;
};

}  // namespace spsec
