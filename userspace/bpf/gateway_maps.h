// SPDX-License-Identifier: Apache-2.0
// The gateway's maps in a loaded data-plane object (include/spsec/abi.h "Gateway",
// bpf/spsec_gateway.h): the typed writer spsecd uses to install the rules, and the reader of the
// per-rule counters. Borrows the maps of a loaded bpf_object (the production skeleton or the
// bpf tier's test object), like DataPlane.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <bpf/libbpf.h>

#include "common/fd.h"
#include "common/json.h"
#include "spsec/abi.h"
#include "spsec/result.h"

namespace spsec {

// Frames per SPSEC_GW_CNT_* kind of one rule, summed over CPUs.
using GatewayRuleCounters = std::array<std::uint64_t, SPSEC_GW_CNT_N>;

class GatewayMaps {
public:
	// Finds spsec_gw_conf, spsec_gw_rules, spsec_gw_count and spsec_gw_rate. Errors: a map is
	// missing (ENOENT, named).
	[[nodiscard]] static Result<GatewayMaps> from_object(bpf_object* obj);

	// Replaces the whole rule set atomically: writes `rules` into the spare generation, zeroes
	// the rate state of every rule whose limit differs from the live one's (a new limit starts
	// with a full burst), then switches spsec_gw_conf's one 32-bit word to it. An empty span
	// turns the gateway off (nothing crosses to a segment). Errors: more than
	// SPSEC_GW_RULES_MAX rules (E2BIG); a rule whose number is not its index, whose direction
	// is unknown, whose mask lacks CAN_EFF_FLAG, or with padding or unknown flags set (EINVAL,
	// the rule named); map update failed (the live generation is unchanged then).
	[[nodiscard]] Result<void> replace_rules(std::span<const spsec_gw_rule> rules);
	// The checks of replace_rules() alone, changing nothing (a reload validates first).
	[[nodiscard]] static Result<void> validate_rules(std::span<const spsec_gw_rule> rules);

	// spsec_gw_conf's word: live generation << 16 | rule count. Errors: map read failed.
	[[nodiscard]] Result<std::uint32_t> live_word() const;

	// The live rules, in order. Errors: map read failed.
	[[nodiscard]] Result<std::vector<spsec_gw_rule>> live_rules() const;

	// One rule's counters (every rule number 0..SPSEC_GW_RULES_MAX-1 has them, used or not).
	// Errors: rule out of range (EINVAL), map read failed.
	[[nodiscard]] Result<GatewayRuleCounters> rule_counters(std::uint32_t rule) const;

private:
	GatewayMaps() = default;

	bpf_map* conf_ = nullptr;
	bpf_map* rules_ = nullptr;
	bpf_map* count_ = nullptr;
	bpf_map* rate_ = nullptr;
};

// spsec_gw_relay through its pin: the classical relay's counts per rule (spsecd is the only
// writer; no BPF program touches the map). spsecd's relay resumes from it when it opens and
// writes a rule's entry after each wake-up that changed it, so the counts outlive spsecd.
class RelayCountMap {
public:
	// Opens <pin_dir>/spsec_gw_relay (bpf_obj_get: root or CAP_BPF). Errors: the pin is
	// missing or cannot be opened (the path named).
	[[nodiscard]] static Result<RelayCountMap> open_pinned(const std::string& pin_dir);

	// Errors: rule out of range (EINVAL), map access failed (the map named).
	[[nodiscard]] Result<spsec_gw_relay_count> get(std::uint32_t rule) const;
	[[nodiscard]] Result<void> put(std::uint32_t rule, const spsec_gw_relay_count& c) const;

private:
	explicit RelayCountMap(Fd fd) : fd_(std::move(fd)) {}
	Fd fd_;
};

// Does spsecd's classical relay serve this rule (and count it in spsec_gw_relay)? Every
// to_secured rule (the classical frames of a CAN FD segment too) and the to_plain rules of
// classical segments; to_plain rules of CAN FD segments are can-gw's alone.
[[nodiscard]] bool gateway_rule_relayed(const spsec_gw_rule& r) noexcept;

// One live rule with its counters, as `spsecctl stats` shows it.
struct GatewayRuleView {
	spsec_gw_rule rule{};
	GatewayRuleCounters counters{};
	spsec_gw_relay_count relay{};  // zero where the relay does not serve the rule
};

// The live rules of the data plane pinned in `pin_dir`, with their counters and the relay's
// counts, read through the pins (bpf_obj_get: root or CAP_BPF; works while spsecd is down).
// Empty when the pins have no gateway maps or no live rules; relay counts 0 when the pins
// predate spsec_gw_relay (an older spsecd's, until the next start creates it). Errors: a pin
// that exists cannot be opened or read.
[[nodiscard]] Result<std::vector<GatewayRuleView>> read_pinned_gateway(const std::string& pin_dir);

// "gateway rule 0: to_secured 0x120-0x123 from p1: forwarded 33, over rate 0, classical 2;
// relay: relayed 2, too long 0, refused 0" per rule (IDs in the configuration's notation, the
// segment by name in this network namespace, else by ifindex). The relay's part is on the lines
// of the rules it serves (gateway_rule_relayed()) that are on a classical segment or have
// relay or classical counts; "" for no rules.
[[nodiscard]] std::string format_gateway_text(const std::vector<GatewayRuleView>& rules);

// The "gateway" array of `spsecctl stats --json`: per rule {rule, direction, ids,
// segment_ifindex, forwarded, over_rate, classical} and, on the rules the relay serves,
// {relayed, too_long, refused}.
[[nodiscard]] Json format_gateway_json(const std::vector<GatewayRuleView>& rules);

// node_exporter textfile format: spsec_gateway_frames_total{interface, rule, direction, ids,
// segment, kind} per live rule and kind (forwarded, over_rate, classical; relayed, too_long,
// refused on the rules the relay serves); "" for no rules.
[[nodiscard]] std::string format_prometheus_gateway(const std::vector<GatewayRuleView>& rules,
                                                    std::string_view ifname);

// The IDs a rule covers in the configuration's notation: "0x120", "0x120-0x123",
// "0x200/0x7FE".
[[nodiscard]] std::string gateway_rule_ids(const spsec_gw_rule& r);

}  // namespace spsec
