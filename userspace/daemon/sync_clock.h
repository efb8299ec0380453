// SPDX-License-Identifier: Apache-2.0
// The SPsec synchronized clock T (spec §2) on CLOCK_MONOTONIC, and the Sync role's persisted T.
//
// SyncClock: core/sync_time.h's SyncTime (T(now) = base_t + (now_ns - base_ns) / tick_ns, forward-
// only adjustments) with "now" taken from the daemon's Clock.
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

#include "core/sync_time.h"
#include "daemon/clock.h"
#include "spsec/result.h"

namespace spsec {

// SyncTime read against an injected Clock: "now" for the daemon's own use. The protocol engine
// (core/participant.h) uses the SyncTime part, with times passed in.
class SyncClock : public SyncTime {
public:
	// tick_ns > 0 (10^11 / data bit rate).
	SyncClock(const Clock& clock, std::uint64_t tick_ns) noexcept
	    : SyncTime(tick_ns), clock_(&clock)
	{
	}

	// T now; 0 when not set (T is never 0 once set).
	[[nodiscard]] std::uint64_t now_t() const noexcept;
	// First synchronization (Sync boot): T = `t` now. Errors: t == 0.
	[[nodiscard]] Result<void> set(std::uint64_t t);
	// As adjust_at() at the current time.
	[[nodiscard]] Result<Adjust> adjust(std::uint64_t t);

private:
	const Clock* clock_;
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
