// SPDX-License-Identifier: Apache-2.0
#include "daemon/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "common/fd.h"
#include "common/logger.h"

namespace spsec {

Result<bool> sd_notify_to(std::string_view socket_path, std::string_view state)
{
	if (socket_path.empty())
		return false;
	if (socket_path[0] != '/' && socket_path[0] != '@')
		return fail(
		        cat("NOTIFY_SOCKET '", socket_path, "' is neither absolute nor abstract"));
	sockaddr_un addr{};
	addr.sun_family = AF_UNIX;
	if (socket_path.size() > sizeof addr.sun_path)
		return fail("NOTIFY_SOCKET path is too long");
	std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
	if (addr.sun_path[0] == '@')
		addr.sun_path[0] = '\0';
	// Abstract addresses are exactly as long as given (no terminating NUL counts).
	auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_path.size());

	Fd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	if (!fd.valid())
		return fail_errno(errno, "creating the notify socket");
	ssize_t r;
	do {
		r = ::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL,
		             reinterpret_cast<const sockaddr*>(&addr), len);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return fail_errno(errno, cat("sending '", state, "' to NOTIFY_SOCKET"));
	return true;
}

Result<bool> sd_notify(std::string_view state)
{
	const char* path = std::getenv("NOTIFY_SOCKET");
	return sd_notify_to(path ? std::string_view(path) : std::string_view(), state);
}

}  // namespace spsec
