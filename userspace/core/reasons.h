// SPDX-License-Identifier: Apache-2.0
// The data plane's verdict reasons as C++ sees them: one row per SPSEC_REASONS entry of
// include/spsec/abi.h, generated from that list, so a reason added there shows up in spsecctl,
// spsecd's status and events, the Prometheus output and the test driver without another edit.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "spsec/abi.h"

namespace spsec {

struct ReasonInfo {
	std::uint32_t code;          // SPSEC_R_*
	std::string_view name;       // stable label: "rx_ok", "rx_bad_tag", ...
	std::string_view direction;  // "rx" or "tx"
	bool passed;                 // true: the frame went on; false: dropped
	std::uint32_t event;    // SPSEC_EV_* the data plane emits with it, SPSEC_EV_NONE if none
	std::string_view help;  // one line for humans
};

// The data plane's per-reason frame counters (spsec_counters), summed over all CPUs: what spsecd's
// DataPlanePort reports and bpf/counters.h reads from bpffs.
struct CounterSnapshot {
	std::array<std::uint64_t, SPSEC_R_MAX> by_reason{};
};

// Every defined reason code, in code order.
[[nodiscard]] std::span<const ReasonInfo> reason_table() noexcept;
// The entry of `code`, or nullptr for unused codes.
[[nodiscard]] const ReasonInfo* reason_info(std::uint32_t code) noexcept;

// The reason table as the Markdown table of docs/data-plane.md ("| # | Name | Direction |
// Verdict | Event | Meaning |"), one row per reason, each line ending in '\n'.
[[nodiscard]] std::string reason_table_markdown();

}  // namespace spsec
