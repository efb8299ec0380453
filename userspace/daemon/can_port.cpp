// SPDX-License-Identifier: Apache-2.0
#include "daemon/can_port.h"

#include <sys/socket.h>
#include <unistd.h>

#include <time.h>

#include <cerrno>
#include <cstring>

#include "common/logger.h"

namespace spsec {

namespace {

std::uint64_t now_ns(clockid_t id) noexcept
{
	timespec ts{};
	::clock_gettime(id, &ts);
	return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
	       static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace

std::uint64_t stamp_to_monotonic(std::uint64_t stamp_real_ns, std::uint64_t real_before,
                                 std::uint64_t mono_now, std::uint64_t real_after,
                                 std::uint64_t max_age) noexcept
{
	// The wall-clock time that corresponds to mono_now: the middle of the two reads.
	const std::uint64_t real_now = real_before + (real_after - real_before) / 2;
	if (real_after < real_before || stamp_real_ns > real_now)
		return mono_now;
	const std::uint64_t age = real_now - stamp_real_ns;
	if (age > max_age || age > mono_now)
		return mono_now;
	return mono_now - age;
}

Result<CanRawPort> CanRawPort::open(const std::string& ifname)
{
	CanSocketOptions opts;
	opts.nonblocking = true;
	opts.filters = std::vector<can_filter>{control_plane_filter()};
	opts.timestamps = true;
	// The data plane passes control-plane frames on egress only with this mark.
	opts.mark = CanSocketOptions::Mark::Required;
	auto fd = open_can_raw(ifname, opts);
	if (!fd)
		return tl::unexpected(fd.error());
	return CanRawPort(std::move(*fd));
}

Result<std::uint64_t> CanRawPort::send(const canfd_frame& frame)
{
	ssize_t w;
	std::uint64_t before;
	do {
		before = now_ns(CLOCK_MONOTONIC);
		w = ::write(fd_.get(), &frame, sizeof frame);
	} while (w < 0 && errno == EINTR);
	if (w < 0)
		return fail_errno(errno, cat("sending CAN frame ", hex32(frame.can_id)));
	if (static_cast<std::size_t>(w) != sizeof frame)
		return fail(cat("short write of CAN frame ", hex32(frame.can_id)));
	// The frame left inside write(): its start bounds that from below (see can_port.h).
	return before;
}

Result<std::optional<RxFrame>> CanRawPort::receive()
{
	RxFrame rx;
	iovec iov{&rx.frame, sizeof rx.frame};
	alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
	msghdr msg{};
	ssize_t r;
	do {
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = control;
		msg.msg_controllen = sizeof control;
		r = ::recvmsg(fd_.get(), &msg, 0);
	} while (r < 0 && errno == EINTR);
	if (r < 0) {
		if (errno == EAGAIN)
			return std::optional<RxFrame>{};
		return fail_errno(errno, "receiving from the CAN socket");
	}
	const std::uint64_t real_before = now_ns(CLOCK_REALTIME);
	const std::uint64_t mono = now_ns(CLOCK_MONOTONIC);
	const std::uint64_t real_after = now_ns(CLOCK_REALTIME);
	// A classical frame arrives as CAN_MTU (16) bytes; canfd_frame's prefix has the same
	// layout, so it is usable as is with len <= 8.
	if (r != static_cast<ssize_t>(CAN_MTU) && r != static_cast<ssize_t>(CANFD_MTU))
		return fail(cat("unexpected CAN frame size ", r));
	rx.rx_ns = mono;
	for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS ||
		    c->cmsg_len < CMSG_LEN(sizeof(timespec)))
			continue;
		timespec ts{};
		std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
		if (ts.tv_sec <= 0)
			continue;  // no stamp (0): keep the read time
		const std::uint64_t stamp = static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
		                            static_cast<std::uint64_t>(ts.tv_nsec);
		rx.rx_ns = stamp_to_monotonic(stamp, real_before, mono, real_after, kMaxStampAge);
	}
	return std::optional<RxFrame>{rx};
}

}  // namespace spsec
