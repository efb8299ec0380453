// SPDX-License-Identifier: Apache-2.0
// CanPort: the daemon's view of the CAN bus for control-plane frames (spec §5), injected so unit
// tests run with FakeCanPort and no CAN support in the kernel.
//
// The real port is a CAN_RAW socket with CAN_RAW_FD_FRAMES, a receive filter that passes only
// 29-bit IDs with bit 25 set (the SPsec control plane) and no RTR frames, and SO_MARK =
// SPSEC_DAEMON_MARK so the data plane's egress program lets the daemon's control frames out
// (and drops control frames any other local process tries to send).
#pragma once

#include <linux/can.h>

#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "daemon/fd.h"
#include "spsec/result.h"

namespace spsec {

class CanPort {
public:
	virtual ~CanPort() = default;
	// Sends one frame (len <= 64; the kernel picks CAN vs CAN FD from the written size).
	// Errors: ENOBUFS (TX queue full), ENETDOWN, EMSGSIZE.
	[[nodiscard]] virtual Result<void> send(const canfd_frame& frame) = 0;
	// Receives one frame without blocking; nullopt when none is pending.
	[[nodiscard]] virtual Result<std::optional<canfd_frame>> receive() = 0;
	// The fd to watch for EPOLLIN, or -1 (fakes).
	[[nodiscard]] virtual int fd() const noexcept = 0;
};

// The receive filter of the control-plane socket: extended IDs with bit 25 set, no RTR.
[[nodiscard]] can_filter control_plane_filter() noexcept;

class CanRawPort final : public CanPort {
public:
	// Opens, configures and binds to `ifname`. Errors: no such interface, the kernel has no
	// CAN_RAW (EAFNOSUPPORT/EPROTONOSUPPORT), no CAP_NET_ADMIN for SO_MARK (EPERM), the
	// interface is not CAN FD capable (setsockopt CAN_RAW_FD_FRAMES fails).
	[[nodiscard]] static Result<CanRawPort> open(const std::string& ifname);

	[[nodiscard]] Result<void> send(const canfd_frame& frame) override;
	[[nodiscard]] Result<std::optional<canfd_frame>> receive() override;
	[[nodiscard]] int fd() const noexcept override { return fd_.get(); }

private:
	explicit CanRawPort(Fd fd) noexcept : fd_(std::move(fd)) {}
	Fd fd_;
};

// For tests: records sent frames, replays queued received frames.
class FakeCanPort final : public CanPort {
public:
	[[nodiscard]] Result<void> send(const canfd_frame& frame) override
	{
		sent.push_back(frame);
		return {};
	}
	[[nodiscard]] Result<std::optional<canfd_frame>> receive() override
	{
		if (inbox.empty())
			return std::optional<canfd_frame>{};
		canfd_frame f = inbox.front();
		inbox.pop_front();
		return std::optional<canfd_frame>{f};
	}
	[[nodiscard]] int fd() const noexcept override { return -1; }

	std::vector<canfd_frame> sent;
	std::deque<canfd_frame> inbox;
};

}  // namespace spsec
