// SPDX-License-Identifier: Apache-2.0
// Rate limits for what unauthenticated bus input can make spsecd do. Pure: the caller passes
// the time (CLOCK_MONOTONIC ns), so tests drive them with a FakeClock.
//
//   EventLimiter  at most one report (log line and event) per key per period; the rest are
//                 counted, and the next report carries how many were suppressed before it
//   TokenBucket   at most `burst` operations at once, refilled at one per `interval_ns`
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <utility>

namespace spsec {

class EventLimiter {
public:
	explicit EventLimiter(std::uint64_t period_ns = 1'000'000'000) noexcept
	    : period_ns_(period_ns)
	{
	}

	// Report `key` now? nullopt: suppressed (counted). Otherwise the number suppressed since
	// the last report of `key`.
	[[nodiscard]] std::optional<std::uint64_t> admit(std::uint32_t key,
	                                                 std::uint64_t now_ns) noexcept
	{
		Entry& e = entries_[key];
		if (e.reported && now_ns - e.last_ns < period_ns_) {
			e.pending++;
			e.total++;
			total_++;
			return std::nullopt;
		}
		e.reported = true;
		e.last_ns = now_ns;
		return std::exchange(e.pending, 0);
	}

	// Suppressed reports of `key` since start-up.
	[[nodiscard]] std::uint64_t suppressed(std::uint32_t key) const noexcept
	{
		auto it = entries_.find(key);
		return it == entries_.end() ? 0 : it->second.total;
	}
	[[nodiscard]] std::uint64_t suppressed_total() const noexcept { return total_; }
	// Every key seen, with its suppressed count since start-up.
	template <class F> void for_each(F&& f) const
	{
		for (const auto& [k, e] : entries_)
			f(k, e.total);
	}

private:
	struct Entry {
		bool reported = false;
		std::uint64_t last_ns = 0;
		std::uint64_t pending = 0;  // suppressed since the last report
		std::uint64_t total = 0;
	};
	std::uint64_t period_ns_;
	std::map<std::uint32_t, Entry> entries_;  // keys: a few event codes, bounded
	std::uint64_t total_ = 0;
};

class TokenBucket {
public:
	TokenBucket(unsigned burst, std::uint64_t interval_ns) noexcept
	    : burst_(burst), interval_ns_(interval_ns), tokens_(burst)
	{
	}

	// Takes one token if there is one. The first call starts the refill clock.
	[[nodiscard]] bool take(std::uint64_t now_ns) noexcept
	{
		if (!started_) {
			started_ = true;
			last_ns_ = now_ns;
		}
		if (now_ns > last_ns_) {
			const std::uint64_t add = (now_ns - last_ns_) / interval_ns_;
			if (add > 0) {
				tokens_ = static_cast<unsigned>(
				        std::min<std::uint64_t>(burst_, tokens_ + add));
				last_ns_ =
				        tokens_ == burst_ ? now_ns : last_ns_ + add * interval_ns_;
			}
		}
		if (tokens_ == 0) {
			refused_++;
			return false;
		}
		tokens_--;
		return true;
	}
	[[nodiscard]] std::uint64_t refused() const noexcept { return refused_; }

private:
	unsigned burst_;
	std::uint64_t interval_ns_;
	unsigned tokens_;
	bool started_ = false;
	std::uint64_t last_ns_ = 0;
	std::uint64_t refused_ = 0;
};

}  // namespace spsec
