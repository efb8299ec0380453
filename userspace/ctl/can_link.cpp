// SPDX-License-Identifier: Apache-2.0
#include "ctl/can_link.h"

#include <openssl/rand.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "common/can_socket.h"

namespace spsec::ctl {

Result<std::unique_ptr<CanRawLink>> CanRawLink::open(const std::string& ifname)
{
	CanSocketOptions opts;
	opts.filters = std::vector<can_filter>{control_plane_filter()};
	// Best effort: only needed when the spsec data plane is attached to this interface.
	opts.mark = CanSocketOptions::Mark::BestEffort;
	auto fd = open_can_raw(ifname, opts);
	if (!fd)
		return tl::unexpected(fd.error());
	return std::unique_ptr<CanRawLink>(new CanRawLink(std::move(*fd), ifname));
}

Result<void> CanRawLink::send(const CanFrame& f)
{
	const canfd_frame k = to_kernel_frame(f);
	const std::size_t size = f.fd ? CANFD_MTU : CAN_MTU;
	ssize_t w;
	do {
		w = ::write(fd_.get(), &k, size);
	} while (w < 0 && errno == EINTR);
	if (w < 0)
		return fail_errno(errno, "sending a session frame on " + ifname_);
	if (static_cast<std::size_t>(w) != size)
		return fail("short write of a session frame on " + ifname_);
	return {};
}

Result<std::optional<CanFrame>> CanRawLink::receive(std::uint64_t deadline_ns)
{
	for (;;) {
		const std::uint64_t now = now_ns();
		if (now >= deadline_ns)
			return std::optional<CanFrame>{};
		// Round up so the deadline has passed when poll returns 0.
		const std::uint64_t ms = (deadline_ns - now + 999'999) / 1'000'000;
		pollfd p{fd_.get(), POLLIN, 0};
		const int r = ::poll(&p, 1,
		                     static_cast<int>(std::min<std::uint64_t>(
		                             ms, std::numeric_limits<int>::max())));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return fail_errno(errno, "waiting for a session frame on " + ifname_);
		}
		if (r == 0)
			continue;
		canfd_frame k{};
		ssize_t n;
		do {
			n = ::read(fd_.get(), &k, sizeof k);
		} while (n < 0 && errno == EINTR);
		if (n < 0)
			return fail_errno(errno, "receiving from " + ifname_);
		if (n != static_cast<ssize_t>(CAN_MTU) && n != static_cast<ssize_t>(CANFD_MTU))
			continue;  // not a CAN frame: ignore
		return std::optional<CanFrame>{
		        from_kernel_frame(k, n == static_cast<ssize_t>(CANFD_MTU))};
	}
}

std::uint64_t CanRawLink::now_ns()
{
	timespec ts{};
	::clock_gettime(CLOCK_MONOTONIC, &ts);
	return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
	       static_cast<std::uint64_t>(ts.tv_nsec);
}

Result<SessionRun> run_session(FrameLink& link, ClientConfig cfg, SessionRng rng)
{
	SessionClient client(std::move(cfg), std::move(rng));
	SessionRun run;
	auto emit = [&](ClientOutput&& out) -> Result<void> {
		for (auto& e : out.events)
			run.events.push_back(std::move(e));
		for (const auto& f : out.frames) {
			auto s = link.send(f);
			if (!s)
				return tl::unexpected(s.error());
		}
		return {};
	};
	SessionClient::State before = client.state();
	if (auto s = emit(client.start(link.now_ns())); !s)
		return tl::unexpected(s.error());
	while (!client.finished()) {
		before = client.state();
		const auto deadline = client.next_deadline();
		if (!deadline)
			break;  // cannot happen for an unfinished client; do not spin
		auto f = link.receive(*deadline);
		if (!f)
			return tl::unexpected(f.error());
		ClientOutput out =
		        *f ? client.on_frame(**f, link.now_ns()) : client.on_tick(link.now_ns());
		if (auto s = emit(std::move(out)); !s)
			return tl::unexpected(s.error());
	}
	run.ok = client.state() == SessionClient::State::Done;
	run.results = client.results();
	run.error = client.error();
	if (!run.ok) {
		run.failed_in = before;
		if (!run.error)
			run.error = ClientError{0, "session ended without a result"};
	}
	return run;
}

SessionRng system_rng()
{
	return [](std::span<std::uint8_t> out) {
		if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
			std::fputs("spsecctl: the system CSPRNG failed; refusing to continue\n",
			           stderr);
			std::abort();
		}
	};
}

}  // namespace spsec::ctl
