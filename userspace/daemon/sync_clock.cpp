// SPDX-License-Identifier: Apache-2.0
#include "daemon/sync_clock.h"

#include "common/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "common/fd.h"
#include "common/logger.h"

namespace spsec {

namespace {
constexpr std::uint64_t kMaxBackwardNs = 1'000'000'000;  // spec §2: 1 s
}

std::uint64_t SyncClock::t_at(std::uint64_t mono_ns) const noexcept
{
	if (!set_)
		return 0;
	std::uint64_t dt = mono_ns > base_ns_ ? mono_ns - base_ns_ : 0;
	return base_t_ + dt / tick_ns_;
}

std::uint64_t SyncClock::now_t() const noexcept
{
	return t_at(clock_->monotonic_ns());
}

std::uint64_t SyncClock::mono_at(std::uint64_t t) const noexcept
{
	if (t <= base_t_)
		return base_ns_;
	return base_ns_ + (t - base_t_) * tick_ns_;
}

Result<void> SyncClock::set(std::uint64_t t)
{
	return set_at(t, clock_->monotonic_ns());
}

Result<void> SyncClock::set_at(std::uint64_t t, std::uint64_t at_ns)
{
	if (t == 0)
		return fail("SPsec time T = 0 is invalid");
	base_ns_ = at_ns;
	base_t_ = t;
	set_ = true;
	return {};
}

std::int64_t SyncClock::offset_ns(std::uint64_t t, std::uint64_t at_ns) const noexcept
{
	if (!set_)
		return 0;
	// Differences first (two's complement), so neither T nor ns values need to fit an int64.
	const auto dt = static_cast<std::int64_t>(t - base_t_);
	const auto dns = static_cast<std::int64_t>(at_ns - base_ns_);
	return dt * static_cast<std::int64_t>(tick_ns_) - dns;
}

Result<void> SyncClock::adopt(std::uint64_t base_ns, std::uint64_t base_t, std::uint64_t tick_ns)
{
	if (base_t == 0)
		return fail("pinned clock has T = 0");
	if (tick_ns != tick_ns_)
		return fail(cat("pinned clock ticks every ", tick_ns,
		                " ns, the configuration says ", tick_ns_, " ns"));
	base_ns_ = base_ns;
	base_t_ = base_t;
	set_ = true;
	return {};
}

Result<SyncClock::Adjust> SyncClock::adjust(std::uint64_t t)
{
	return adjust_at(t, clock_->monotonic_ns());
}

Result<SyncClock::Adjust> SyncClock::adjust_at(std::uint64_t t, std::uint64_t at_ns)
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
		return fail(cat("refused a backward step of ", behind, " ticks (",
		                behind * tick_ns_ / 1'000'000, " ms, more than 1 s)"));
	return Adjust::IgnoredBehind;
}

std::uint64_t TPersistence::boot_t(std::uint64_t floor_t) const noexcept
{
	std::uint64_t t = stored_ ? *stored_ + kBootMargin : 1;
	return t > floor_t ? t : floor_t;
}

std::optional<std::uint64_t> TPersistence::need_write(std::uint64_t now_t) const noexcept
{
	if (stored_ && *stored_ >= now_t && *stored_ - now_t >= kPersistAhead / 2)
		return std::nullopt;
	return now_t + kPersistAhead;
}

Result<std::optional<std::uint64_t>> read_persisted_t(const std::string& path)
{
	Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
	if (!fd.valid()) {
		if (errno == ENOENT)
			return std::optional<std::uint64_t>{};
		return fail_errno(errno, cat("opening persisted T ", path));
	}
	char buf[64];
	ssize_t n;
	do {
		n = ::read(fd.get(), buf, sizeof buf);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return fail_errno(errno, cat("reading persisted T ", path));
	std::string_view s(buf, static_cast<std::size_t>(n));
	constexpr std::string_view kPrefix = "spsec-t 1 ";
	auto corrupt = [&] {
		return fail(
		        cat("persisted T ", path,
		            " is corrupt (expected 'spsec-t 1 <T>'); refusing to guess T, which "
		            "must never repeat: restore it, or remove it only after every "
		            "participant's keys were renewed"));
	};
	if (s.substr(0, kPrefix.size()) != kPrefix || s.empty() || s.back() != '\n')
		return corrupt();
	s.remove_prefix(kPrefix.size());
	s.remove_suffix(1);
	if (s.empty() || s.size() > 20)
		return corrupt();
	std::uint64_t t = 0;
	for (char c : s) {
		if (c < '0' || c > '9')
			return corrupt();
		auto d = static_cast<std::uint64_t>(c - '0');
		if (t > (UINT64_MAX - d) / 10)
			return corrupt();
		t = t * 10 + d;
	}
	if (t == 0)
		return corrupt();
	return std::optional<std::uint64_t>{t};
}

Result<void> write_persisted_t(const std::string& path, std::uint64_t t)
{
	if (auto r = write_file_atomic(path, cat("spsec-t 1 ", t, "\n"), 0600); !r)
		return tl::unexpected(r.error().with_context("persisting T"));
	return {};
}

}  // namespace spsec
