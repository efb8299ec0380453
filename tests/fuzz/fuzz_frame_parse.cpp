// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the can-utils frame parser and the candump -L line parser (core/can_frame.h).
// Properties: never crash; whatever parses prints back to text that parses to the same frame.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/can_frame.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
	const std::string_view text(reinterpret_cast<const char*>(data), size);

	if (auto f = spsec::parse_can_frame(text)) {
		const std::string printed = spsec::format_can_frame(*f);
		auto again = spsec::parse_can_frame(printed);
		if (!again || !(*again == *f) || spsec::format_can_frame(*again) != printed)
			std::abort();
	}
	if (auto l = spsec::parse_candump_line(text)) {
		const std::string printed = spsec::format_candump_line(*l);
		auto again = spsec::parse_candump_line(printed);
		if (!again || !(again->frame == l->frame) || again->sec != l->sec ||
		    again->usec != l->usec || again->ifname != l->ifname ||
		    again->direction != l->direction)
			std::abort();
	}
	return 0;
}
