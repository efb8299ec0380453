// SPDX-License-Identifier: Apache-2.0
#include "daemon/can_port.h"

#include <linux/can/raw.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "daemon/logger.h"
#include "spsec/abi.h"

namespace spsec {

can_filter control_plane_filter() noexcept
{
	can_filter f{};
	f.can_id = CAN_EFF_FLAG | SPSEC_CTRL_BIT;
	f.can_mask = CAN_EFF_FLAG | CAN_RTR_FLAG | SPSEC_CTRL_BIT;
	return f;
}

Result<CanRawPort> CanRawPort::open(const std::string& ifname)
{
	if (ifname.empty() || ifname.size() >= IFNAMSIZ)
		return fail(cat("CAN interface name '", ifname, "' is empty or too long"));
	unsigned ifindex = ::if_nametoindex(ifname.c_str());
	if (ifindex == 0)
		return fail_errno(errno, cat("CAN interface ", ifname));
	Fd fd(::socket(PF_CAN, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, CAN_RAW));
	if (!fd.valid())
		return fail_errno(errno,
		                  "creating a CAN_RAW socket (is the can-raw module loaded?)");
	int on = 1;
	if (::setsockopt(fd.get(), SOL_CAN_RAW, CAN_RAW_FD_FRAMES, &on, sizeof on) != 0)
		return fail_errno(errno, cat("enabling CAN FD frames on ", ifname));
	can_filter filter = control_plane_filter();
	if (::setsockopt(fd.get(), SOL_CAN_RAW, CAN_RAW_FILTER, &filter, sizeof filter) != 0)
		return fail_errno(errno, "setting the control-plane receive filter");
	// The data plane passes control-plane frames on egress only with this mark.
	std::uint32_t mark = SPSEC_DAEMON_MARK;
	if (::setsockopt(fd.get(), SOL_SOCKET, SO_MARK, &mark, sizeof mark) != 0)
		return fail_errno(errno, "setting SO_MARK on the CAN socket (needs CAP_NET_ADMIN)");
	sockaddr_can addr{};
	addr.can_family = AF_CAN;
	addr.can_ifindex = static_cast<int>(ifindex);
	if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
		return fail_errno(errno, cat("binding the CAN socket to ", ifname));
	return CanRawPort(std::move(fd));
}

Result<void> CanRawPort::send(const canfd_frame& frame)
{
	ssize_t w;
	do {
		w = ::write(fd_.get(), &frame, sizeof frame);
	} while (w < 0 && errno == EINTR);
	if (w < 0)
		return fail_errno(errno, cat("sending CAN frame ", hex32(frame.can_id)));
	if (static_cast<std::size_t>(w) != sizeof frame)
		return fail(cat("short write of CAN frame ", hex32(frame.can_id)));
	return {};
}

Result<std::optional<canfd_frame>> CanRawPort::receive()
{
	canfd_frame f{};
	ssize_t r;
	do {
		r = ::read(fd_.get(), &f, sizeof f);
	} while (r < 0 && errno == EINTR);
	if (r < 0) {
		if (errno == EAGAIN)
			return std::optional<canfd_frame>{};
		return fail_errno(errno, "receiving from the CAN socket");
	}
	// A classical frame arrives as CAN_MTU (16) bytes; canfd_frame's prefix has the same
	// layout, so it is usable as is with len <= 8.
	if (r != static_cast<ssize_t>(CAN_MTU) && r != static_cast<ssize_t>(CANFD_MTU))
		return fail(cat("unexpected CAN frame size ", r));
	return std::optional<canfd_frame>{f};
}

}  // namespace spsec
