// SPDX-License-Identifier: Apache-2.0
// Clock: the daemon's only source of time, injected so tests drive timers without sleeping
// (FakeClock, tests/support/fake_clock.h).
// monotonic_ns() is CLOCK_MONOTONIC, the clock bpf_ktime_get_ns() reads in the data plane.
#pragma once

#include <time.h>

#include <cstdint>

namespace spsec {

class Clock {
public:
	virtual ~Clock() = default;
	// Nanoseconds of CLOCK_MONOTONIC (never goes backwards).
	[[nodiscard]] virtual std::uint64_t monotonic_ns() const noexcept = 0;
};

class SystemClock final : public Clock {
public:
	[[nodiscard]] std::uint64_t monotonic_ns() const noexcept override
	{
		timespec ts{};
		::clock_gettime(CLOCK_MONOTONIC, &ts);
		return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
		       static_cast<std::uint64_t>(ts.tv_nsec);
	}
};

}  // namespace spsec
