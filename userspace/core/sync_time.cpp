// SPDX-License-Identifier: Apache-2.0
#include "core/sync_time.h"

#include <string>

namespace spsec {

namespace {
constexpr std::uint64_t kMaxBackwardNs = 1'000'000'000;  // spec §2: 1 s
}

std::uint64_t SyncTime::t_at(std::uint64_t mono_ns) const noexcept
{
	if (!set_)
		return 0;
	std::uint64_t dt = mono_ns > base_ns_ ? mono_ns - base_ns_ : 0;
	return base_t_ + dt / tick_ns_;
}

std::uint64_t SyncTime::mono_at(std::uint64_t t) const noexcept
{
	if (t <= base_t_)
		return base_ns_;
	return base_ns_ + (t - base_t_) * tick_ns_;
}

Result<void> SyncTime::set_at(std::uint64_t t, std::uint64_t at_ns)
{
	if (t == 0)
		return fail("SPsec time T = 0 is invalid");
	base_ns_ = at_ns;
	base_t_ = t;
	set_ = true;
	return {};
}

std::int64_t SyncTime::offset_ns(std::uint64_t t, std::uint64_t at_ns) const noexcept
{
	if (!set_)
		return 0;
	// Differences first (two's complement), so neither T nor ns values need to fit an int64.
	const auto dt = static_cast<std::int64_t>(t - base_t_);
	const auto dns = static_cast<std::int64_t>(at_ns - base_ns_);
	return dt * static_cast<std::int64_t>(tick_ns_) - dns;
}

Result<void> SyncTime::adopt(std::uint64_t base_ns, std::uint64_t base_t, std::uint64_t tick_ns)
{
	if (base_t == 0)
		return fail("pinned clock has T = 0");
	if (tick_ns != tick_ns_)
		return fail("pinned clock ticks every " + std::to_string(tick_ns) +
		            " ns, the configuration says " + std::to_string(tick_ns_) + " ns");
	base_ns_ = base_ns;
	base_t_ = base_t;
	set_ = true;
	return {};
}

Result<SyncTime::Adjust> SyncTime::adjust_at(std::uint64_t t, std::uint64_t at_ns)
{
	if (!set_)
		return fail("adjusting an unsynchronized clock");
	std::uint64_t cur = t_at(at_ns);
	if (t == cur)
		return Adjust::Unchanged;
	if (t > cur) {
		// Re-base at at_ns: T(at_ns) = t, and from there T keeps counting at the same
		// tick. T(now) does not go backwards: t > T(at_ns) and both count from at_ns on
		// (at_ns before base_ns_ only moves the base earlier under a larger T).
		base_ns_ = at_ns;
		base_t_ = t;
		return Adjust::Forward;
	}
	std::uint64_t behind = cur - t;
	if (behind > kMaxBackwardNs / tick_ns_)
		return fail("refused a backward step of " + std::to_string(behind) + " ticks (" +
		            std::to_string(behind * tick_ns_ / 1'000'000) + " ms, more than 1 s)");
	return Adjust::IgnoredBehind;
}

}  // namespace spsec
