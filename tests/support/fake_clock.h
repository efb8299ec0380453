// SPDX-License-Identifier: Apache-2.0
// FakeClock: the daemon's Clock for tests and benches; time moves only when the test says so.
#pragma once

#include <cstdint>

#include "daemon/clock.h"

namespace spsec {

// For tests: time moves only when the test says so.
class FakeClock final : public Clock {
public:
	explicit FakeClock(std::uint64_t start_ns = 1'000'000'000u) noexcept : now_(start_ns) {}
	[[nodiscard]] std::uint64_t monotonic_ns() const noexcept override { return now_; }
	void advance_ns(std::uint64_t ns) noexcept { now_ += ns; }
	void set_ns(std::uint64_t ns) noexcept { now_ = ns; }

private:
	std::uint64_t now_;
};

}  // namespace spsec
