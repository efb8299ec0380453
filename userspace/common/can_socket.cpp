// SPDX-License-Identifier: Apache-2.0
#include "common/can_socket.h"

#include <linux/can/raw.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>

#include "common/logger.h"
#include "spsec/abi.h"

namespace spsec {

can_filter control_plane_filter() noexcept
{
	can_filter f{};
	f.can_id = CAN_EFF_FLAG | SPSEC_CTRL_BIT;
	f.can_mask = CAN_EFF_FLAG | CAN_RTR_FLAG | SPSEC_CTRL_BIT;
	return f;
}

Result<Fd> open_can_raw(const std::string& ifname, const CanSocketOptions& opts)
{
	if (ifname.empty() || ifname.size() >= IFNAMSIZ)
		return fail(cat("CAN interface name '", ifname, "' is empty or too long"));
	const unsigned ifindex = ::if_nametoindex(ifname.c_str());
	if (ifindex == 0)
		return fail_errno(errno, cat("CAN interface ", ifname));
	Fd fd(::socket(PF_CAN, SOCK_RAW | SOCK_CLOEXEC | (opts.nonblocking ? SOCK_NONBLOCK : 0),
	               CAN_RAW));
	if (!fd.valid())
		return fail_errno(errno,
		                  "creating a CAN_RAW socket (is the can-raw module loaded?)");
	int on = 1;
	if (opts.fd_frames &&
	    ::setsockopt(fd.get(), SOL_CAN_RAW, CAN_RAW_FD_FRAMES, &on, sizeof on) != 0)
		return fail_errno(errno, cat("enabling CAN FD frames on ", ifname));
	int off = 0;
	if (!opts.loopback &&
	    ::setsockopt(fd.get(), SOL_CAN_RAW, CAN_RAW_LOOPBACK, &off, sizeof off) != 0)
		return fail_errno(errno, cat("turning local loopback off on ", ifname));
	if (opts.filters) {
		const auto& f = *opts.filters;
		const auto size = static_cast<socklen_t>(f.size() * sizeof(can_filter));
		if (::setsockopt(fd.get(), SOL_CAN_RAW, CAN_RAW_FILTER,
		                 f.empty() ? nullptr : f.data(), size) != 0)
			return fail_errno(errno, cat("setting the receive filter on ", ifname));
	}
	if (opts.timestamps &&
	    ::setsockopt(fd.get(), SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) != 0)
		return fail_errno(errno, "enabling receive time stamps (SO_TIMESTAMPNS)");
	if (opts.mark != CanSocketOptions::Mark::None) {
		std::uint32_t mark = opts.mark_value;
		if (::setsockopt(fd.get(), SOL_SOCKET, SO_MARK, &mark, sizeof mark) != 0 &&
		    opts.mark == CanSocketOptions::Mark::Required)
			return fail_errno(
			        errno, "setting SO_MARK on the CAN socket (needs CAP_NET_ADMIN)");
	}
	sockaddr_can addr{};
	addr.can_family = AF_CAN;
	addr.can_ifindex = static_cast<int>(ifindex);
	if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
		return fail_errno(errno, cat("binding the CAN socket to ", ifname));
	return fd;
}

}  // namespace spsec
