// SPDX-License-Identifier: Apache-2.0
#include "core/timestamp.h"

#include <string>

namespace spsec {

Result<std::uint32_t> validate_window(std::uint64_t window)
{
	if (window > kMaxWindow)
		return fail("acceptance window " + std::to_string(window) +
		            " ticks is above the maximum " + std::to_string(kMaxWindow) +
		            " (a larger window makes the 12-bit timestamp ambiguous)");
	return static_cast<std::uint32_t>(window);
}

Result<std::uint64_t> tick_ns_from_bitrate(std::uint64_t bps)
{
	// The range covers every CAN FD data phase in use (the data phase may also run at the
	// nominal rate); outside it the tick would be absurdly long or shorter than a bit.
	constexpr std::uint64_t kMin = 10'000;
	constexpr std::uint64_t kMax = 20'000'000;
	constexpr std::uint64_t kNum = 100'000'000'000;  // 10^11 (spec §2)
	if (bps < kMin || bps > kMax)
		return fail("CAN FD data bit rate " + std::to_string(bps) +
		            " bit/s is outside 10000 .. 20000000 bit/s");
	if (kNum % bps != 0)
		return fail("CAN FD data bit rate " + std::to_string(bps) +
		            " bit/s does not give a whole-ns tick (tick = 10^11 / bit rate; e.g. "
		            "1000000 -> 100000 ns, 8000000 -> 12500 ns)");
	return kNum / bps;
}

bool FreshnessTable::fresh(std::uint32_t id_key, std::uint64_t t) const noexcept
{
	const auto it = last_.find(id_key);
	return it == last_.end() || t > it->second;
}

void FreshnessTable::accept(std::uint32_t id_key, std::uint64_t t)
{
	auto [it, inserted] = last_.try_emplace(id_key, t);
	if (!inserted && t > it->second)
		it->second = t;
}

std::optional<std::uint64_t> FreshnessTable::last(std::uint32_t id_key) const noexcept
{
	const auto it = last_.find(id_key);
	if (it == last_.end())
		return std::nullopt;
	return it->second;
}

std::uint64_t FreshnessTable::next_tx(std::uint32_t id_key, std::uint64_t now)
{
	const std::uint64_t t = next_tx_t(now, last(id_key));
	last_[id_key] = t;
	return t;
}

}  // namespace spsec
