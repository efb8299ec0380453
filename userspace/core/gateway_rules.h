// SPDX-License-Identifier: Apache-2.0
// The gateway's rules: the `gateway:` section of the spsecd configuration, parsed and validated
// whole (docs/gateway.md, docs/configuration.md), and what the data plane and can-gw are given.
//
//   gateway:
//     segments:                      # plain interfaces, at most SPSEC_GW_SEG_MAX
//       - {name: can1, frames: fd}   # frames: fd (default) or classic
//     rules:                         # at most SPSEC_GW_RULES_MAX; rule number = position
//       - {ids: 0x120, direction: to_secured, segment: can1}
//       - {ids: 0x200-0x20F, direction: to_plain, segment: can1, rate: 100, burst: 5}
//       - {ids: 0x300/0x7F0, direction: to_plain, segment: can1}
//
// ids: one CAN ID ("0x120", "0x00001234"), a range "LO-HI" (both in one format), or "ID/MASK"
// (the IDs x with x & MASK == ID; ID may have no bit outside MASK). Notation as config.h.
// direction: to_secured (from the segment onto the secured bus, stamped there as this node's
// own transmission: every ID the rule covers must be in secured_ids and transmit_ids) or
// to_plain (verified on the secured bus, to the segment: every ID covered must be in
// secured_ids and not in transmit_ids; plaintext IDs never cross, they are not verified).
// rate: frames per second (1..1000000), burst: frames (1..10000, default 1, only with rate).
//
// Refused, each naming file and line: unknown keys, bad values, a rule covering a control-plane
// ID (29-bit with bit 25) or an ID its direction does not allow, two rules of one direction and
// segment covering a common ID (overlap), one ID forwarded to_secured from two segments
// (contradiction: two sources for one transmit ID), a segment no rule names, the secured
// interface named as a segment.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "spsec/abi.h"
#include "spsec/result.h"

namespace YAML {
class Node;
}

namespace spsec {

struct CanId;

// The set of CAN IDs a rule covers, in the kernel's form (CanId::kernel_id(): CAN_EFF_FLAG for
// 29-bit IDs): x is covered when (x & mask) == value && lo <= x && x <= hi. mask always holds
// CAN_EFF_FLAG, so a rule covers IDs of one format only. This is the spsec_gw_rule match.
struct IdMatch {
	std::uint32_t value = 0;
	std::uint32_t mask = 0;
	std::uint32_t lo = 0;
	std::uint32_t hi = 0xFFFFFFFFu;
	bool extended = false;
	std::string text;  // as written, for messages

	[[nodiscard]] bool covers(std::uint32_t kernel_id) const noexcept
	{
		return (kernel_id & mask) == value && lo <= kernel_id && kernel_id <= hi;
	}
	[[nodiscard]] bool covers(const CanId& id) const noexcept;
	// Number of IDs covered.
	[[nodiscard]] std::uint64_t size() const noexcept;
	// The first covered ID (in kernel form) that `allowed` (sorted) does not hold, if any.
	[[nodiscard]] bool first_not_in(std::span<const CanId> allowed, CanId& out) const;
};

// Parses "0x120", "0x120-0x12F" or "0x120/0x7F0". Errors name the text and what is wrong.
[[nodiscard]] Result<IdMatch> parse_id_match(std::string_view text);

enum class GatewayDirection : std::uint32_t {
	ToSecured = SPSEC_GW_TO_SECURED,
	ToPlain = SPSEC_GW_TO_PLAIN,
};

struct GatewaySegment {
	std::string name;      // interface name
	bool classic = false;  // frames: classic (tc and can-gw cannot convert; spsecd does)
	int line = 0;          // 1-based line in the file
};

struct GatewayRule {
	IdMatch ids;
	GatewayDirection direction = GatewayDirection::ToSecured;
	std::string segment;
	std::uint32_t rate = 0;   // frames/s, 0 = no limit
	std::uint32_t burst = 0;  // frames, with rate only
	int line = 0;             // 1-based line in the file
};

struct GatewayConfig {
	std::vector<GatewaySegment> segments;  // empty: this node is no gateway
	std::vector<GatewayRule> rules;        // rule number = index
};

// What the gateway section is checked against: the rest of the configuration (sorted lists).
struct GatewayPolicy {
	std::string_view interface;  // the secured interface
	std::span<const CanId> secured_ids;
	std::span<const CanId> plaintext_ids;
	std::span<const CanId> transmit_ids;
};

// Parses and validates the `gateway:` node. Every problem is appended to `errors` as
// "<source>:<line>: gateway...: <why>"; the result is meaningful only when none was added.
[[nodiscard]] GatewayConfig parse_gateway(const YAML::Node& n, std::string_view source,
                                          const GatewayPolicy& policy,
                                          std::vector<std::string>& errors);

// The data plane's form of rule number `number` (< SPSEC_GW_RULES_MAX) on the segment with
// ifindex `seg_ifindex`; `classic_segment`: the segment carries classical frames only
// (SPSEC_GW_F_CLASSIC: its frames are spsecd's to convert).
[[nodiscard]] spsec_gw_rule to_bpf_rule(const GatewayRule& r, std::uint32_t number,
                                        std::uint32_t seg_ifindex, bool classic_segment);

// can-gw filters (struct can_filter: a frame passes when (can_id & mask) == (id & mask)) whose
// union is exactly the IDs the match covers, data frames only (RTR and error frames never
// match): one for an ID or a mask, the aligned power-of-two blocks of a range (at most 2 per
// ID bit).
struct CanGwFilter {
	std::uint32_t id = 0;
	std::uint32_t mask = 0;
};
[[nodiscard]] std::vector<CanGwFilter> cangw_filters(const IdMatch& m);

}  // namespace spsec
