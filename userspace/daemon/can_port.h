// SPDX-License-Identifier: Apache-2.0
// CanPort: the daemon's view of the CAN bus for control-plane frames (spec §5), injected so unit
// tests run with FakeCanPort (tests/support/fake_can_port.h) and no CAN support in the kernel.
//
// The real port is a CAN_RAW socket with CAN_RAW_FD_FRAMES, a receive filter that passes only
// 29-bit IDs with bit 25 set (the SPsec control plane) and no RTR frames, and SO_MARK =
// SPSEC_DAEMON_MARK so the data plane's egress program lets the daemon's control frames out
// (and drops control frames any other local process tries to send).
//
// Time stamps: SPsec's clock must be set and checked against the moment a frame crossed the
// bus, not the moment spsecd got round to it (a stall or a slow verification would otherwise
// enter T). Every received frame carries the kernel's receive time, and send() returns the
// time the frame went out, both on CLOCK_MONOTONIC (the clock of SyncClock and of
// bpf_ktime_get_ns()):
//   - receive: SO_TIMESTAMPNS stamps the skb when the driver hands it to the stack
//     (netif_rx / netif_receive_skb). That stamp is CLOCK_REALTIME; it is moved to
//     CLOCK_MONOTONIC by its age: rx_mono = mono_now - (real_now - stamp), with real_now read
//     on both sides of mono_now (the error is that pair's spread, well under a microsecond).
//     A wall-clock step between the receive and the read would falsify the age; an age below
//     0 or above kMaxStampAge is therefore not trusted and the read time is used instead.
//   - send: Linux CAN transmits synchronously inside write() (can_send -> dev_queue_xmit ->
//     the driver's xmit; on vcan/vxcan the peer's netif_rx runs inside it), so the frame is
//     handed to the driver after the monotonic read just before write(), which send()
//     returns. A lower bound, not a midpoint: a response is then never stamped before its
//     request's send time, so PA's RTT is never under-measured and its error bound of RTT/2
//     holds even when write() itself stalls (under emulation a midpoint once came out after
//     the response's receive stamp). Kernel TX stamps (SOF_TIMESTAMPING_TX_SOFTWARE through the
//     error queue) are not used: on 6.1 vcan and vxcan do deliver them, but from inside that
//     same synchronous write(), so they would cost an error-queue read per frame for no better
//     time; on a real controller they are taken at the driver's xmit, before the frame waits
//     for arbitration, so they would not measure the bus either (docs/architecture.md, "Time").
#pragma once

#include <linux/can.h>

#include <cstdint>
#include <optional>
#include <string>

#include "common/can_socket.h"
#include "common/fd.h"
#include "spsec/result.h"

namespace spsec {

// One received frame and when it arrived.
struct RxFrame {
	canfd_frame frame{};
	// CLOCK_MONOTONIC ns at which the kernel received the frame; 0: unknown (a fake without
	// stamps), the daemon then takes the time it handles the frame.
	std::uint64_t rx_ns = 0;
};

class CanPort {
public:
	virtual ~CanPort() = default;
	// Sends one frame (len <= 64; the kernel picks CAN vs CAN FD from the written size).
	// Returns the CLOCK_MONOTONIC ns at which it went out (0: unknown, a fake).
	// Errors: ENOBUFS (TX queue full), ENETDOWN, EMSGSIZE.
	[[nodiscard]] virtual Result<std::uint64_t> send(const canfd_frame& frame) = 0;
	// Receives one frame without blocking, with its receive time; nullopt when none is
	// pending.
	[[nodiscard]] virtual Result<std::optional<RxFrame>> receive() = 0;
	// The fd to watch for EPOLLIN, or -1 (fakes).
	[[nodiscard]] virtual int fd() const noexcept = 0;
};

class CanRawPort final : public CanPort {
public:
	// A kernel receive stamp older than this when read is not trusted (see above).
	static constexpr std::uint64_t kMaxStampAge = 5'000'000'000;

	// Opens, configures and binds to `ifname`. Errors: no such interface, the kernel has no
	// CAN_RAW (EAFNOSUPPORT/EPROTONOSUPPORT), no CAP_NET_ADMIN for SO_MARK (EPERM), the
	// interface is not CAN FD capable (setsockopt CAN_RAW_FD_FRAMES fails), SO_TIMESTAMPNS
	// refused.
	[[nodiscard]] static Result<CanRawPort> open(const std::string& ifname);

	[[nodiscard]] Result<std::uint64_t> send(const canfd_frame& frame) override;
	[[nodiscard]] Result<std::optional<RxFrame>> receive() override;
	[[nodiscard]] int fd() const noexcept override { return fd_.get(); }

private:
	explicit CanRawPort(Fd fd) noexcept : fd_(std::move(fd)) {}
	Fd fd_;
};

// The monotonic time of a kernel receive stamp: `mono_now` minus the stamp's age on the wall
// clock (`real_before`/`real_after` read around `mono_now`). Falls back to `mono_now` when the
// age is negative or above `max_age` (the wall clock was stepped in between). Pure, for tests.
[[nodiscard]] std::uint64_t stamp_to_monotonic(std::uint64_t stamp_real_ns,
                                               std::uint64_t real_before, std::uint64_t mono_now,
                                               std::uint64_t real_after,
                                               std::uint64_t max_age) noexcept;

}  // namespace spsec
