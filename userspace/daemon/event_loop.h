// SPDX-License-Identifier: Apache-2.0
// The daemon's single-threaded epoll loop. Every event source is an fd with a
// name used in logs: a signalfd for SIGTERM/SIGINT/SIGHUP, timerfds on CLOCK_MONOTONIC for
// protocol timers, a CLOCK_REALTIME timerfd that fires when someone sets the wall clock, the
// CAN_RAW socket, the ring buffer's epoll fd, the control socket and its clients.
//
// Handlers run on the loop's thread, one at a time, and may watch/unwatch any source (including
// their own) while running: a source removed during a batch is not dispatched again.
#pragma once

#include <sys/epoll.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/fd.h"
#include "common/logger.h"
#include "spsec/result.h"

namespace spsec {

class EventLoop {
public:
	using SourceId = std::uint64_t;
	// Receives the epoll event bits (EPOLLIN, EPOLLOUT, EPOLLHUP, EPOLLERR).
	using Handler = std::function<void(std::uint32_t events)>;

	// Errors: epoll_create1 failed (EMFILE, ENOMEM).
	[[nodiscard]] static Result<EventLoop> create(const Logger& log);

	EventLoop(EventLoop&&) noexcept = default;
	EventLoop& operator=(EventLoop&&) noexcept = default;

	// Watches `fd` (not owned; it must outlive the watch) for `events`. Errors: epoll_ctl
	// failed (EEXIST when the fd is already watched, EPERM for regular files).
	[[nodiscard]] Result<SourceId> watch(int fd, std::uint32_t events, std::string name,
	                                     Handler handler);
	// Changes the event mask, e.g. adds EPOLLOUT while a client has queued output.
	[[nodiscard]] Result<void> modify(SourceId id, std::uint32_t events);
	// Stops watching; unknown ids are ignored. Call before closing the fd.
	void unwatch(SourceId id) noexcept;

	// Waits up to timeout_ms (-1: no limit) and dispatches what is ready. Returns how many
	// handlers ran (0 on timeout or EINTR). Errors: epoll_wait failed other than EINTR.
	[[nodiscard]] Result<int> run_once(int timeout_ms);
	// Dispatches until stop(). Errors: as run_once.
	[[nodiscard]] Result<void> run();
	void stop() noexcept { stop_ = true; }
	[[nodiscard]] bool stopped() const noexcept { return stop_; }

	[[nodiscard]] std::size_t size() const noexcept { return sources_.size(); }
	// The source's name, or "" when unknown.
	[[nodiscard]] std::string_view name(SourceId id) const noexcept;

private:
	struct Source {
		int fd;
		std::string name;
		std::shared_ptr<Handler> handler;  // shared: a handler may unwatch itself
	};
	EventLoop(Fd epfd, const Logger& log) noexcept : epfd_(std::move(epfd)), log_(&log) {}

	Fd epfd_;
	const Logger* log_;
	std::unordered_map<SourceId, Source> sources_;
	SourceId next_id_ = 1;
	bool stop_ = false;
};

// Blocks `signals` for the calling thread (so they are only ever delivered through the fd) and
// returns a non-blocking signalfd for them. Errors: sigprocmask or signalfd failed.
[[nodiscard]] Result<Fd> open_signalfd(std::initializer_list<int> signals);
// Reads one pending signal from a signalfd; nullopt when none is pending.
[[nodiscard]] Result<std::optional<int>> read_signal(int signal_fd);

// A timerfd on CLOCK_MONOTONIC (the clock of Clock::monotonic_ns and bpf_ktime_get_ns).
class Timer {
public:
	// Errors: timerfd_create failed.
	[[nodiscard]] static Result<Timer> monotonic();

	// Fires once after `delay_ns` (0 is treated as 1 ns: a zero value would disarm), then every
	// `interval_ns` if non-zero.
	[[nodiscard]] Result<void> arm_after(std::uint64_t delay_ns, std::uint64_t interval_ns = 0);
	// Fires once at the absolute CLOCK_MONOTONIC time `deadline_ns`.
	[[nodiscard]] Result<void> arm_at(std::uint64_t deadline_ns);
	[[nodiscard]] Result<void> disarm();
	// Reads the expiration count (0 when the timer has not fired: a spurious wake-up).
	[[nodiscard]] Result<std::uint64_t> consume();

	[[nodiscard]] int fd() const noexcept { return fd_.get(); }

private:
	explicit Timer(Fd fd) noexcept : fd_(std::move(fd)) {}
	Fd fd_;
};

// Becomes readable when CLOCK_REALTIME is set (settimeofday, NTP step): a CLOCK_REALTIME
// timerfd armed far in the future with TFD_TIMER_CANCEL_ON_SET. SPsec T does not depend on the
// wall clock; the daemon logs the jump so an operator can correlate it.
class ClockJumpWatch {
public:
	[[nodiscard]] static Result<ClockJumpWatch> create();
	// True when the wall clock was set since the last call; re-arms the watch.
	[[nodiscard]] Result<bool> consume();
	[[nodiscard]] int fd() const noexcept { return fd_.get(); }

private:
	explicit ClockJumpWatch(Fd fd) noexcept : fd_(std::move(fd)) {}
	[[nodiscard]] Result<void> arm();
	Fd fd_;
};

}  // namespace spsec
