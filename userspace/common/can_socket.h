// SPDX-License-Identifier: Apache-2.0
// The one way spsec opens a CAN_RAW socket: spsecd's control-plane port, spsecctl's Configurator
// link and the benchmarks all get their socket here, so the options (CAN FD frames, receive
// filter, SO_MARK, receive time stamps) are set in one order with one set of error messages.
#pragma once

#include <linux/can.h>

#include <optional>
#include <string>
#include <vector>

#include "common/fd.h"
#include "spsec/abi.h"
#include "spsec/result.h"

namespace spsec {

struct CanSocketOptions {
	bool nonblocking = false;  // SOCK_NONBLOCK
	// CAN_RAW_FILTER: nullopt keeps the kernel's default (receive everything); an empty list
	// receives nothing (a send-only socket).
	std::optional<std::vector<can_filter>> filters;
	// SO_TIMESTAMPNS: kernel receive stamps (CLOCK_REALTIME) in SCM_TIMESTAMPNS.
	bool timestamps = false;
	// SO_MARK = SPSEC_DAEMON_MARK, which the data plane's egress program requires of
	// control-plane frames. Required: a failure (no CAP_NET_ADMIN) is an error; BestEffort:
	// ignored (only needed where the spsec data plane is attached).
	enum class Mark { None, Required, BestEffort } mark = Mark::None;
	// The mark `mark` sets (the gateway relay's is SPSEC_GW_RELAY_MARK).
	std::uint32_t mark_value = SPSEC_DAEMON_MARK;
	// CAN_RAW_FD_FRAMES: off, the socket receives classical frames only.
	bool fd_frames = true;
	// CAN_RAW_LOOPBACK: off, other sockets of this host do not see what this one sends
	// (as with can-gw's jobs).
	bool loopback = true;
};

// The receive filter of the control plane: extended IDs with bit 25 set, no RTR.
[[nodiscard]] can_filter control_plane_filter() noexcept;

// Opens a CAN_RAW socket with CAN FD frames enabled (unless opts.fd_frames is off), applies `opts`
// and binds it to `ifname`. Errors, each naming the interface or the option: the name is empty or
// too long, no such interface, the kernel has no CAN_RAW (EAFNOSUPPORT/EPROTONOSUPPORT), the
// interface is not CAN FD capable, a setsockopt was refused (SO_MARK needs CAP_NET_ADMIN), bind
// failed.
[[nodiscard]] Result<Fd> open_can_raw(const std::string& ifname, const CanSocketOptions& opts);

}  // namespace spsec
