// SPDX-License-Identifier: Apache-2.0
#include "core/reasons.h"

#include <array>

namespace spsec {

namespace {

#define SPSEC_REASON_ROW_(id, code, name, dir, verdict, event, help)                               \
	ReasonInfo{SPSEC_R_##id,                                                                   \
	           name,                                                                           \
	           SPSEC_R_DIR_##dir == SPSEC_R_DIR_RX ? "rx" : "tx",                              \
	           SPSEC_R_VERDICT_##verdict == SPSEC_R_VERDICT_PASS,                              \
	           SPSEC_EV_##event,                                                               \
	           help},
constexpr ReasonInfo kReasons[] = {SPSEC_REASONS(SPSEC_REASON_ROW_)};
#undef SPSEC_REASON_ROW_

constexpr bool in_code_order()
{
	for (std::size_t i = 1; i < std::size(kReasons); i++)
		if (kReasons[i - 1].code >= kReasons[i].code)
			return false;
	return true;
}
static_assert(in_code_order(), "SPSEC_REASONS must list codes in increasing order");
static_assert(std::size(kReasons) == SPSEC_R_COUNT);

std::string_view event_label(std::uint32_t ev)
{
	switch (ev) {
	case SPSEC_EV_AUTH_FAIL:
		return "EE00h";
	case SPSEC_EV_INJECTION:
		return "DE03h";
	case SPSEC_EV_REPLAY:
		return "DE04h";
	case SPSEC_EV_TX_REFUSED:
		return "tx_refused";
	default:
		return "";
	}
}

}  // namespace

std::span<const ReasonInfo> reason_table() noexcept
{
	return kReasons;
}

const ReasonInfo* reason_info(std::uint32_t code) noexcept
{
	for (const auto& r : kReasons)
		if (r.code == code)
			return &r;
	return nullptr;
}

std::string reason_table_markdown()
{
	std::string out = "| # | Name | Direction | Verdict | Event | Meaning |\n"
	                  "|---|---|---|---|---|---|\n";
	for (const auto& r : kReasons) {
		std::string help;
		for (char c : r.help) {
			if (c == '|')
				help += "\\|";
			else
				help += c;
		}
		out += "| " + std::to_string(r.code) + " | " + std::string(r.name) + " | " +
		       std::string(r.direction) + " | " + (r.passed ? "pass" : "drop") + " | " +
		       std::string(event_label(r.event).empty() ? "—" : event_label(r.event)) +
		       " | " + help + " |\n";
	}
	return out;
}

}  // namespace spsec
