// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the unit tests: hex vectors, random bytes, zero checks.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

#include "core/hex.h"

namespace spsec::test {

// Hex test vectors through the project's own parser (core/hex.h). A malformed vector is a bug in
// the test itself, so it throws. "-" stands for the empty string, as in some vector files.
inline std::vector<std::uint8_t> hex(std::string_view s)
{
	if (s == "-")
		return {};
	auto bytes = parse_hex(s);
	if (!bytes)
		throw std::invalid_argument("test vector: " + bytes.error().message());
	return std::move(*bytes);
}

// n bytes from a seeded generator, so a failing case can be reproduced.
inline std::vector<std::uint8_t> random_bytes(std::mt19937_64& rng, std::size_t n)
{
	std::vector<std::uint8_t> b(n);
	for (auto& x : b)
		x = static_cast<std::uint8_t>(rng());
	return b;
}

inline bool all_zero(std::span<const std::uint8_t> s)
{
	for (auto b : s)
		if (b != 0)
			return false;
	return true;
}

}  // namespace spsec::test
