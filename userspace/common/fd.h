// SPDX-License-Identifier: Apache-2.0
// Fd: the one owner of a file descriptor. Move-only; the number is reachable only through the
// explicit get(), so an fd never converts to int by accident (no operator int), and the destructor
// closes it exactly once. A default-constructed or moved-from Fd holds -1.
#pragma once

#include <unistd.h>

#include <utility>

namespace spsec {

class Fd {
public:
	Fd() noexcept = default;
	explicit Fd(int fd) noexcept : fd_(fd) {}
	~Fd() { reset(); }

	Fd(const Fd&) = delete;
	Fd& operator=(const Fd&) = delete;
	Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
	Fd& operator=(Fd&& o) noexcept
	{
		if (this != &o) {
			reset();
			fd_ = std::exchange(o.fd_, -1);
		}
		return *this;
	}

	[[nodiscard]] int get() const noexcept { return fd_; }
	[[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }
	// Gives up ownership without closing.
	[[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }
	// Closes now. close() errors are ignored on purpose: on Linux the fd is gone either way and
	// retrying could close an fd another part of the process just got.
	void reset() noexcept
	{
		if (fd_ >= 0)
			::close(fd_);
		fd_ = -1;
	}

private:
	int fd_ = -1;
};

}  // namespace spsec
