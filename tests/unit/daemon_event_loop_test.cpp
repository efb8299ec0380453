// SPDX-License-Identifier: Apache-2.0
// Event loop, Fd, timers, signals, logger.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/fd.h"
#include "common/logger.h"
#include "core/secret.h"
#include "daemon/clock.h"
#include "daemon/event_loop.h"
#include "fake_clock.h"

using namespace spsec;

namespace {

bool fd_open(int fd)
{
	return ::fcntl(fd, F_GETFD) != -1;
}

struct Pipe {
	Fd r, w;
	Pipe()
	{
		int p[2];
		REQUIRE(::pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
		r = Fd(p[0]);
		w = Fd(p[1]);
	}
	std::string drain()
	{
		std::string out;
		char buf[4096];
		ssize_t n;
		while ((n = ::read(r.get(), buf, sizeof buf)) > 0)
			out.append(buf, static_cast<std::size_t>(n));
		return out;
	}
};

// Key material must not be formattable: cat() refuses it at compile time.
static_assert(!Loggable<Key32>, "Key32 must not be loggable");
static_assert(!Loggable<std::span<const std::uint8_t>>, "raw bytes must not be loggable");
static_assert(Loggable<std::uint8_t> && Loggable<std::string> && Loggable<int>);

}  // namespace

TEST_CASE("Fd closes exactly once and moves ownership", "[daemon]")
{
	int raw;
	{
		Fd a(::open("/dev/null", O_RDONLY | O_CLOEXEC));
		raw = a.get();
		REQUIRE(fd_open(raw));
		Fd b(std::move(a));
		CHECK_FALSE(a.valid());
		CHECK(b.get() == raw);
		Fd c;
		c = std::move(b);
		CHECK(c.get() == raw);
		CHECK(fd_open(raw));
	}
	CHECK_FALSE(fd_open(raw));
}

TEST_CASE("event loop dispatches a readable fd to its handler", "[daemon]")
{
	Logger log(-1, LogLevel::Error, false);
	auto loop = EventLoop::create(log);
	REQUIRE(loop);
	Pipe p;
	int calls = 0;
	auto id = loop->watch(p.r.get(), EPOLLIN, "pipe", [&](std::uint32_t ev) {
		CHECK((ev & EPOLLIN) != 0);
		calls++;
		p.drain();
	});
	REQUIRE(id);
	CHECK(loop->name(*id) == "pipe");
	auto n = loop->run_once(0);
	REQUIRE(n);
	CHECK(*n == 0);
	REQUIRE(::write(p.w.get(), "x", 1) == 1);
	n = loop->run_once(1000);
	REQUIRE(n);
	CHECK(*n == 1);
	CHECK(calls == 1);

	// Watching the same fd twice is an error naming the source.
	auto dup = loop->watch(p.r.get(), EPOLLIN, "pipe-again", [](std::uint32_t) {});
	REQUIRE_FALSE(dup);
	CHECK(dup.error().context.find("pipe-again") != std::string::npos);
}

TEST_CASE("a source removed by an earlier handler of the same batch is not dispatched", "[daemon]")
{
	Logger log(-1, LogLevel::Error, false);
	auto loop = EventLoop::create(log);
	REQUIRE(loop);
	Pipe a, b;
	REQUIRE(::write(a.w.get(), "x", 1) == 1);
	REQUIRE(::write(b.w.get(), "x", 1) == 1);
	EventLoop::SourceId ida = 0, idb = 0;
	int ran = 0;
	// Whichever runs first removes both: only one handler may run.
	auto h = [&](std::uint32_t) {
		ran++;
		loop->unwatch(ida);
		loop->unwatch(idb);
	};
	ida = *loop->watch(a.r.get(), EPOLLIN, "a", h);
	idb = *loop->watch(b.r.get(), EPOLLIN, "b", h);
	auto n = loop->run_once(1000);
	REQUIRE(n);
	CHECK(ran == 1);
	CHECK(loop->size() == 0);
}

TEST_CASE("stop() ends run() after the current handler", "[daemon]")
{
	Logger log(-1, LogLevel::Error, false);
	auto loop = EventLoop::create(log);
	REQUIRE(loop);
	Pipe p;
	REQUIRE(::write(p.w.get(), "x", 1) == 1);
	REQUIRE(loop->watch(p.r.get(), EPOLLIN, "p", [&](std::uint32_t) { loop->stop(); }));
	REQUIRE(loop->run());
	CHECK(loop->stopped());
}

TEST_CASE("monotonic timer fires once, periodic timer counts, disarm stops it", "[daemon]")
{
	auto t = Timer::monotonic();
	REQUIRE(t);
	auto c = t->consume();
	REQUIRE(c);
	CHECK(*c == 0);  // not armed: nothing to read

	Logger log(-1, LogLevel::Error, false);
	auto loop = EventLoop::create(log);
	REQUIRE(loop);
	std::uint64_t fired = 0;
	REQUIRE(loop->watch(t->fd(), EPOLLIN, "timer",
	                    [&](std::uint32_t) { fired += *t->consume(); }));
	REQUIRE(t->arm_after(1'000'000));  // 1 ms
	REQUIRE(*loop->run_once(5000) == 1);
	CHECK(fired == 1);

	// Absolute deadline in the past fires at once.
	REQUIRE(t->arm_at(SystemClock().monotonic_ns() - 1));
	REQUIRE(*loop->run_once(5000) == 1);
	CHECK(fired == 2);

	REQUIRE(t->arm_after(1'000'000, 1'000'000));
	REQUIRE(*loop->run_once(5000) == 1);
	CHECK(fired >= 3);
	REQUIRE(t->disarm());
	(void)t->consume();
	CHECK(*t->consume() == 0);
}

TEST_CASE("signalfd delivers a blocked signal through the loop", "[daemon]")
{
	auto sfd = open_signalfd({SIGUSR2});
	REQUIRE(sfd);
	auto none = read_signal(sfd->get());
	REQUIRE(none);
	CHECK_FALSE(none->has_value());
	Logger log(-1, LogLevel::Error, false);
	auto loop = EventLoop::create(log);
	REQUIRE(loop);
	int got = 0;
	REQUIRE(loop->watch(sfd->get(), EPOLLIN, "signals", [&](std::uint32_t) {
		auto s = read_signal(sfd->get());
		REQUIRE(s);
		REQUIRE(s->has_value());
		got = **s;
	}));
	REQUIRE(::raise(SIGUSR2) == 0);
	REQUIRE(*loop->run_once(5000) == 1);
	CHECK(got == SIGUSR2);
}

TEST_CASE("wall-clock watch arms and reports no jump when nothing happened", "[daemon]")
{
	auto w = ClockJumpWatch::create();
	REQUIRE(w);
	auto j = w->consume();
	REQUIRE(j);
	CHECK_FALSE(*j);
}

TEST_CASE("fake clock moves only when told", "[daemon]")
{
	FakeClock c(5);
	CHECK(c.monotonic_ns() == 5);
	c.advance_ns(10);
	CHECK(c.monotonic_ns() == 15);
	c.set_ns(100);
	CHECK(c.monotonic_ns() == 100);
	SystemClock s;
	std::uint64_t a = s.monotonic_ns(), b = s.monotonic_ns();
	CHECK(b >= a);
}

TEST_CASE("logger writes one line per event, plain or with journal priorities", "[daemon]")
{
	Pipe p;
	Logger plain(p.w.get(), LogLevel::Info, false);
	plain.error("boom");
	plain.warning("careful");
	plain.info("hello");
	plain.debug("hidden");
	CHECK(p.drain() == "spsecd: error: boom\nspsecd: warning: careful\nspsecd: hello\n");

	Logger journal(p.w.get(), LogLevel::Verbose, true);
	journal.error("e");
	journal.warning("w");
	journal.info("i");
	journal.debug("d");
	journal.verbose("v");
	CHECK(p.drain() ==
	      "<3>spsecd: e\n<4>spsecd: w\n<6>spsecd: i\n<7>spsecd: d\n<7>spsecd: v\n");

	// A message of several lines is one record per line, each with the prefix and the
	// priority, so no line of a message can pass for a record of its own.
	plain.info("line1\n<3>spsecd: forged");
	CHECK(p.drain() == "spsecd: line1\nspsecd: <3>spsecd: forged\n");
	journal.error("a.yaml:2: x: bad\na.yaml: y: is required\n");
	journal.warning("w1\nw2");
	CHECK(p.drain() == "<3>spsecd: a.yaml:2: x: bad\n<3>spsecd: a.yaml: y: is required\n"
	                   "<4>spsecd: w1\n<4>spsecd: w2\n");
	// Other control characters still cannot break a line.
	plain.error("a\rb\tc\x7f");
	journal.info("");
	CHECK(p.drain() == "spsecd: error: a?b?c?\n<6>spsecd: \n");

	auto r = plain.fail(Error{2, "opening x"});
	CHECK(r.value().errno_value == 2);
	CHECK(p.drain() == "spsecd: error: opening x: No such file or directory\n");
}

TEST_CASE("logger detects the journal stream on stderr", "[daemon]")
{
	Pipe p;
	int saved = ::dup(STDERR_FILENO);
	REQUIRE(saved >= 0);
	REQUIRE(::dup2(p.w.get(), STDERR_FILENO) == STDERR_FILENO);
	struct stat st {};
	REQUIRE(::fstat(STDERR_FILENO, &st) == 0);
	std::string js = cat(static_cast<unsigned long long>(st.st_dev), ":",
	                     static_cast<unsigned long long>(st.st_ino));
	::setenv("JOURNAL_STREAM", js.c_str(), 1);
	Logger::to_stderr(LogLevel::Info).info("to journal");
	::setenv("JOURNAL_STREAM", "1:2", 1);
	Logger::to_stderr(LogLevel::Info).info("not journal");
	::unsetenv("JOURNAL_STREAM");
	REQUIRE(::dup2(saved, STDERR_FILENO) == STDERR_FILENO);
	::close(saved);
	CHECK(p.drain() == "<6>spsecd: to journal\nspsecd: not journal\n");
}

TEST_CASE("cat formats integers as numbers, hex32 pads", "[daemon]")
{
	std::uint8_t small = 7;
	CHECK(cat("a", small, " ", -3, " ", true, " ", std::string("s")) == "a7 -3 true s");
	CHECK(hex32(0x0aff0805) == "0x0aff0805");
	CHECK(parse_log_level("debug").value() == LogLevel::Debug);
	auto bad = parse_log_level("loud");
	REQUIRE_FALSE(bad);
	CHECK(bad.error().context.find("'loud'") != std::string::npos);
}
