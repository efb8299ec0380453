// SPDX-License-Identifier: Apache-2.0
#include "common/control_client.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/logger.h"

namespace spsec {

Result<sockaddr_un> control_socket_address(const std::string& path)
{
	sockaddr_un addr{};
	addr.sun_family = AF_UNIX;
	if (path.empty() || path.size() >= sizeof addr.sun_path)
		return fail(cat("control socket path '", path, "' is empty or longer than ",
		                sizeof addr.sun_path - 1, " bytes"));
	std::memcpy(addr.sun_path, path.data(), path.size());
	return addr;
}

Result<Fd> control_connect(const std::string& path, int timeout_ms)
{
	auto addr = control_socket_address(path);
	if (!addr)
		return tl::unexpected(addr.error());
	Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	if (!fd.valid())
		return fail_errno(errno, "creating a socket");
	if (timeout_ms > 0) {
		timeval tv{};
		tv.tv_sec = timeout_ms / 1000;
		tv.tv_usec = (timeout_ms % 1000) * 1000;
		if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
		    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0)
			return fail_errno(errno, "setting socket timeouts");
	}
	if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) != 0) {
		int e = errno;
		if (e == ENOENT || e == ECONNREFUSED)
			return fail_errno(e, cat("connecting to ", path, " (is spsecd running?)"));
		return fail_errno(e, cat("connecting to ", path));
	}
	return fd;
}

Result<void> control_write(int fd, std::string_view data)
{
	while (!data.empty()) {
		ssize_t w = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return fail_errno(errno, "writing to the control socket");
		data.remove_prefix(static_cast<std::size_t>(w));
	}
	return {};
}

Result<std::string> control_read_line(int fd, std::string& buffer)
{
	for (;;) {
		std::size_t nl = buffer.find('\n');
		if (nl != std::string::npos) {
			std::string line = buffer.substr(0, nl);
			buffer.erase(0, nl + 1);
			return line;
		}
		char buf[4096];
		ssize_t r = ::recv(fd, buf, sizeof buf, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return fail_errno(errno, "reading from the control socket");
		if (r == 0)
			return fail("spsecd closed the connection");
		buffer.append(buf, static_cast<std::size_t>(r));
	}
}

}  // namespace spsec
