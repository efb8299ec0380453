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

std::uint64_t SyncClock::now_t() const noexcept
{
	return t_at(clock_->monotonic_ns());
}

Result<void> SyncClock::set(std::uint64_t t)
{
	return set_at(t, clock_->monotonic_ns());
}

Result<SyncClock::Adjust> SyncClock::adjust(std::uint64_t t)
{
	return adjust_at(t, clock_->monotonic_ns());
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
