// SPDX-License-Identifier: Apache-2.0
// The SPsec synchronized clock T (spec §2) on CLOCK_MONOTONIC, and the Sync role's persisted T.
//
// SyncClock: T(now) = base_t + (now_ns - base_ns) / tick_ns, exactly what the data plane computes
// from spsec_state (base_ns, base_t, tick_ns) with bpf_ktime_get_ns(). Adjustments are
// forward-only: a newer T moves the clock forward; a T behind ours by at most 1 s is ignored (T
// never runs backwards, so a stamped frame's T is never reused); a T behind by more than 1 s is
// refused as an error (spec §2: "a backward step of the clock by more than 1 s is refused").
//
// TPersistence (Sync role): T must never repeat across restarts. The Sync writes ahead: before
// T reaches the stored value it stores now + kPersistAhead, so the stored value is always larger
// than every T used so far; at boot it continues from stored + kBootMargin (80 000 ticks, spec
// §2) and immediately writes ahead again before T is used. A wall-clock floor (T = realtime /
// tick) covers a lost T file on nodes with a sane clock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "daemon/clock.h"
#include "spsec/result.h"

namespace spsec {

class SyncClock {
public:
	// tick_ns > 0 (10^11 / data bit rate).
	SyncClock(const Clock& clock, std::uint64_t tick_ns) noexcept
	    : clock_(&clock), tick_ns_(tick_ns)
	{
	}

	[[nodiscard]] bool is_set() const noexcept { return set_; }
	[[nodiscard]] std::uint64_t tick_ns() const noexcept { return tick_ns_; }
	[[nodiscard]] std::uint64_t base_ns() const noexcept { return base_ns_; }
	[[nodiscard]] std::uint64_t base_t() const noexcept { return base_t_; }

	// T now; 0 when not set (T is never 0 once set).
	[[nodiscard]] std::uint64_t now_t() const noexcept;
	// T at the monotonic time `mono_ns` (>= base_ns).
	[[nodiscard]] std::uint64_t t_at(std::uint64_t mono_ns) const noexcept;
	// The monotonic time at which T reaches `t` (for arming timers), >= base_ns.
	[[nodiscard]] std::uint64_t mono_at(std::uint64_t t) const noexcept;

	// First synchronization (Sync boot): T = `t` now. Errors: t == 0.
	[[nodiscard]] Result<void> set(std::uint64_t t);
	// First synchronization against a frame (Parameter Authentication): T = `t` at the
	// monotonic time `at_ns` (the response's kernel receive time, <= now), so the time spent
	// since (reading, verifying) keeps counting on the new clock. Errors: t == 0.
	[[nodiscard]] Result<void> set_at(std::uint64_t t, std::uint64_t at_ns);
	// How far T = `t` (a received stamp) is ahead of this clock at the monotonic time `at_ns`,
	// in ns (negative: behind), T taken as the start of its tick. 0 when the clock is not set.
	[[nodiscard]] std::int64_t offset_ns(std::uint64_t t, std::uint64_t at_ns) const noexcept;

	// Takes over a clock a previous spsecd published (resume without a gap): T(now) continues
	// exactly as the data plane computes it. Errors: base_t == 0, tick differs from ours.
	[[nodiscard]] Result<void> adopt(std::uint64_t base_ns, std::uint64_t base_t,
	                                 std::uint64_t tick_ns);

	enum class Adjust { Forward, Unchanged, IgnoredBehind };
	// Applies a received T (a verified Sync broadcast). Forward: the clock jumped to `t`;
	// Unchanged: already equal; IgnoredBehind: `t` is behind by <= 1 s and was ignored.
	// Errors: the clock is not set; `t` is behind by more than 1 s (refused, clock unchanged).
	[[nodiscard]] Result<Adjust> adjust(std::uint64_t t);
	// As adjust(), with `t` valid at the monotonic time `at_ns` (the broadcast's kernel
	// receive time) instead of now: a forward step re-bases T = `t` at `at_ns`.
	[[nodiscard]] Result<Adjust> adjust_at(std::uint64_t t, std::uint64_t at_ns);

	// Forgets the synchronization (Security Abort).
	void reset() noexcept { set_ = false; }

private:
	const Clock* clock_;
	std::uint64_t tick_ns_;
	std::uint64_t base_ns_ = 0;
	std::uint64_t base_t_ = 0;
	bool set_ = false;
};

class TPersistence {
public:
	static constexpr std::uint64_t kBootMargin = 80'000;    // ticks added at boot (spec §2)
	static constexpr std::uint64_t kPersistAhead = 80'000;  // ticks reserved per write

	// `stored`: the value read from the file at boot, nullopt on first boot.
	explicit TPersistence(std::optional<std::uint64_t> stored) noexcept : stored_(stored) {}

	// The T to start the Sync's clock with: the largest of stored + kBootMargin, `floor_t` and
	// 1. spsecd passes CLOCK_REALTIME / tick as floor_t: defence in depth should the T file be
	// lost (T then still starts above every T used before, if the wall clock is sane).
	[[nodiscard]] std::uint64_t boot_t(std::uint64_t floor_t = 0) const noexcept;
	// The value to write now, or nullopt when the stored reservation still covers `now_t`
	// with at least half of kPersistAhead to spare. The caller writes it (durably) and then
	// calls written(); until written() returns, T must not pass the old reservation.
	[[nodiscard]] std::optional<std::uint64_t> need_write(std::uint64_t now_t) const noexcept;
	void written(std::uint64_t value) noexcept { stored_ = value; }
	[[nodiscard]] std::optional<std::uint64_t> stored() const noexcept { return stored_; }

private:
	std::optional<std::uint64_t> stored_;
};

// The file layer: one line "spsec-t 1 <decimal T>\n". read_persisted_t returns nullopt when the
// file does not exist. Errors: unreadable, or content not in that format (a corrupt file is an
// error, never silently a first boot, so T cannot restart from 1 by accident).
[[nodiscard]] Result<std::optional<std::uint64_t>> read_persisted_t(const std::string& path);
// Atomic, durable replace (temp file, fsync, rename, fsync directory), mode 0600.
[[nodiscard]] Result<void> write_persisted_t(const std::string& path, std::uint64_t t);

}  // namespace spsec
