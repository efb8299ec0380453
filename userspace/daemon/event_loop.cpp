// SPDX-License-Identifier: Apache-2.0
#include "daemon/event_loop.h"

#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <ctime>
#include <vector>

namespace spsec {

namespace {

timespec to_timespec(std::uint64_t ns) noexcept
{
	timespec ts{};
	ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000u);
	ts.tv_nsec = static_cast<long>(ns % 1'000'000'000u);
	return ts;
}

}  // namespace

Result<EventLoop> EventLoop::create(const Logger& log)
{
	Fd ep(::epoll_create1(EPOLL_CLOEXEC));
	if (!ep.valid())
		return fail_errno(errno, "creating the epoll instance");
	return EventLoop(std::move(ep), log);
}

Result<EventLoop::SourceId> EventLoop::watch(int fd, std::uint32_t events, std::string name,
                                             Handler handler)
{
	SourceId id = next_id_++;
	epoll_event ev{};
	ev.events = events;
	ev.data.u64 = id;
	if (::epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, fd, &ev) != 0)
		return fail_errno(errno, cat("watching ", name, " (fd ", fd, ")"));
	log_->debug(cat("event source ", name, " added (fd ", fd, ")"));
	sources_.emplace(
	        id, Source{fd, std::move(name), std::make_shared<Handler>(std::move(handler))});
	return id;
}

Result<void> EventLoop::modify(SourceId id, std::uint32_t events)
{
	auto it = sources_.find(id);
	if (it == sources_.end())
		return fail(cat("modifying unknown event source ", id));
	epoll_event ev{};
	ev.events = events;
	ev.data.u64 = id;
	if (::epoll_ctl(epfd_.get(), EPOLL_CTL_MOD, it->second.fd, &ev) != 0)
		return fail_errno(errno, cat("modifying event source ", it->second.name));
	return {};
}

void EventLoop::unwatch(SourceId id) noexcept
{
	auto it = sources_.find(id);
	if (it == sources_.end())
		return;
	// EPOLL_CTL_DEL fails only if the fd was closed already (then epoll forgot it itself).
	(void)::epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, it->second.fd, nullptr);
	log_->debug(cat("event source ", it->second.name, " removed"));
	sources_.erase(it);
}

std::string_view EventLoop::name(SourceId id) const noexcept
{
	auto it = sources_.find(id);
	return it == sources_.end() ? std::string_view{} : std::string_view{it->second.name};
}

Result<int> EventLoop::run_once(int timeout_ms)
{
	std::array<epoll_event, 32> evs{};
	int n = ::epoll_wait(epfd_.get(), evs.data(), static_cast<int>(evs.size()), timeout_ms);
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		return fail_errno(errno, "waiting for events");
	}
	int ran = 0;
	for (int i = 0; i < n; i++) {
		const epoll_event& ev = evs[static_cast<std::size_t>(i)];
		auto it = sources_.find(ev.data.u64);
		if (it == sources_.end())
			continue;  // removed by an earlier handler of this batch
		std::shared_ptr<Handler> h = it->second.handler;
		log_->verbose(cat("event on ", it->second.name));
		(*h)(ev.events);
		ran++;
		if (stop_)
			break;
	}
	return ran;
}

Result<void> EventLoop::run()
{
	while (!stop_) {
		auto r = run_once(-1);
		if (!r)
			return tl::unexpected(r.error());
	}
	return {};
}

Result<Fd> open_signalfd(std::initializer_list<int> signals)
{
	sigset_t set;
	sigemptyset(&set);
	for (int s : signals)
		sigaddset(&set, s);
	// Blocked signals stay pending and are read from the fd; without the block the default
	// action (terminate) would run first.
	if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0)
		return fail_errno(errno, "blocking signals");
	Fd fd(::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
	if (!fd.valid())
		return fail_errno(errno, "creating the signalfd");
	return fd;
}

Result<std::optional<int>> read_signal(int signal_fd)
{
	signalfd_siginfo si{};
	ssize_t r;
	do {
		r = ::read(signal_fd, &si, sizeof si);
	} while (r < 0 && errno == EINTR);
	if (r < 0) {
		if (errno == EAGAIN)
			return std::optional<int>{};
		return fail_errno(errno, "reading the signalfd");
	}
	if (static_cast<std::size_t>(r) != sizeof si)
		return fail("short read from the signalfd");
	return std::optional<int>{static_cast<int>(si.ssi_signo)};
}

Result<Timer> Timer::monotonic()
{
	Fd fd(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
	if (!fd.valid())
		return fail_errno(errno, "creating a CLOCK_MONOTONIC timerfd");
	return Timer(std::move(fd));
}

Result<void> Timer::arm_after(std::uint64_t delay_ns, std::uint64_t interval_ns)
{
	itimerspec its{};
	its.it_value = to_timespec(delay_ns == 0 ? 1 : delay_ns);
	its.it_interval = to_timespec(interval_ns);
	if (::timerfd_settime(fd_.get(), 0, &its, nullptr) != 0)
		return fail_errno(errno, "arming a timer");
	return {};
}

Result<void> Timer::arm_at(std::uint64_t deadline_ns)
{
	itimerspec its{};
	its.it_value = to_timespec(deadline_ns == 0 ? 1 : deadline_ns);
	if (::timerfd_settime(fd_.get(), TFD_TIMER_ABSTIME, &its, nullptr) != 0)
		return fail_errno(errno, "arming a timer");
	return {};
}

Result<void> Timer::disarm()
{
	itimerspec its{};
	if (::timerfd_settime(fd_.get(), 0, &its, nullptr) != 0)
		return fail_errno(errno, "disarming a timer");
	return {};
}

Result<std::uint64_t> Timer::consume()
{
	std::uint64_t n = 0;
	ssize_t r;
	do {
		r = ::read(fd_.get(), &n, sizeof n);
	} while (r < 0 && errno == EINTR);
	if (r < 0) {
		if (errno == EAGAIN)
			return std::uint64_t{0};
		return fail_errno(errno, "reading a timer");
	}
	return n;
}

Result<ClockJumpWatch> ClockJumpWatch::create()
{
	Fd fd(::timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC));
	if (!fd.valid())
		return fail_errno(errno, "creating a CLOCK_REALTIME timerfd");
	ClockJumpWatch w(std::move(fd));
	if (auto r = w.arm(); !r)
		return tl::unexpected(r.error());
	return w;
}

Result<void> ClockJumpWatch::arm()
{
	// An absolute expiry far in the future never fires by itself; CANCEL_ON_SET makes the
	// fd readable (read fails with ECANCELED) whenever the realtime clock is set.
	itimerspec its{};
	its.it_value.tv_sec = static_cast<time_t>(0x7fffffff);
	if (::timerfd_settime(fd_.get(), TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its,
	                      nullptr) != 0)
		return fail_errno(errno, "arming the wall-clock watch");
	return {};
}

Result<bool> ClockJumpWatch::consume()
{
	std::uint64_t n = 0;
	ssize_t r = ::read(fd_.get(), &n, sizeof n);
	if (r < 0 && errno == ECANCELED) {
		if (auto a = arm(); !a)
			return tl::unexpected(a.error());
		return true;
	}
	if (r < 0 && errno != EAGAIN && errno != EINTR)
		return fail_errno(errno, "reading the wall-clock watch");
	return false;
}

}  // namespace spsec
