// SPDX-License-Identifier: Apache-2.0
// The SPsec synchronized clock T (spec §2) as a pure value: T(mono) = base_t + (mono - base_ns) /
// tick_ns, exactly what the data plane computes from spsec_state (base_ns, base_t, tick_ns) with
// bpf_ktime_get_ns(). Every time is passed in (CLOCK_MONOTONIC ns); daemon/sync_clock.h adds
// "now" on top of an injected Clock.
//
// Adjustments are forward-only: a newer T moves the clock forward; a T behind ours by at most
// 1 s is ignored (T never runs backwards, so a stamped frame's T is never reused); a T behind by
// more than 1 s is refused as an error (spec §2: "a backward step of the clock by more than 1 s
// is refused").
#pragma once

#include <cstdint>

#include "spsec/result.h"

namespace spsec {

class SyncTime {
public:
	// tick_ns > 0 (10^11 / data bit rate).
	explicit SyncTime(std::uint64_t tick_ns) noexcept : tick_ns_(tick_ns) {}

	[[nodiscard]] bool is_set() const noexcept { return set_; }
	[[nodiscard]] std::uint64_t tick_ns() const noexcept { return tick_ns_; }
	[[nodiscard]] std::uint64_t base_ns() const noexcept { return base_ns_; }
	[[nodiscard]] std::uint64_t base_t() const noexcept { return base_t_; }

	// T at the monotonic time `mono_ns` (>= base_ns); 0 when not set (T is never 0 once set).
	[[nodiscard]] std::uint64_t t_at(std::uint64_t mono_ns) const noexcept;
	// The monotonic time at which T reaches `t` (for arming timers), >= base_ns.
	[[nodiscard]] std::uint64_t mono_at(std::uint64_t t) const noexcept;

	// First synchronization against a frame (Parameter Authentication): T = `t` at the
	// monotonic time `at_ns` (the response's kernel receive time, <= now), so the time spent
	// since (reading, verifying) keeps counting on the new clock. Errors: t == 0.
	[[nodiscard]] Result<void> set_at(std::uint64_t t, std::uint64_t at_ns);
	// How far T = `t` (a received stamp) is ahead of this clock at the monotonic time `at_ns`,
	// in ns (negative: behind), T taken as the start of its tick. 0 when the clock is not set.
	[[nodiscard]] std::int64_t offset_ns(std::uint64_t t, std::uint64_t at_ns) const noexcept;

	// Takes over a clock a previous spsecd published (resume without a gap): T continues
	// exactly as the data plane computes it. Errors: base_t == 0, tick differs from ours.
	[[nodiscard]] Result<void> adopt(std::uint64_t base_ns, std::uint64_t base_t,
	                                 std::uint64_t tick_ns);

	enum class Adjust { Forward, Unchanged, IgnoredBehind };
	// Applies a received T (a verified Sync broadcast) valid at the monotonic time `at_ns` (the
	// broadcast's kernel receive time). Forward: the clock was re-based to T = `t` at `at_ns`;
	// Unchanged: already equal; IgnoredBehind: `t` is behind by <= 1 s and was ignored.
	// Errors: the clock is not set; `t` is behind by more than 1 s (refused, clock unchanged).
	[[nodiscard]] Result<Adjust> adjust_at(std::uint64_t t, std::uint64_t at_ns);

	// Forgets the synchronization (Security Abort).
	void reset() noexcept { set_ = false; }

private:
	std::uint64_t tick_ns_;
	std::uint64_t base_ns_ = 0;
	std::uint64_t base_t_ = 0;
	bool set_ = false;
};

}  // namespace spsec
