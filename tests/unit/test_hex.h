// SPDX-License-Identifier: Apache-2.0
// Hex test vectors through the project's own parser (core/hex.h). A malformed vector is a bug in
// the test itself, so it throws. "-" stands for the empty string, as in some vector files.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

#include "core/hex.h"

namespace spsec::test {

inline std::vector<std::uint8_t> hex(std::string_view s)
{
	if (s == "-")
		return {};
	auto bytes = parse_hex(s);
	if (!bytes)
		throw std::invalid_argument("test vector: " + bytes.error().message());
	return std::move(*bytes);
}

}  // namespace spsec::test
