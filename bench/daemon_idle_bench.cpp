// SPDX-License-Identifier: Apache-2.0
// Idle spsecd on the host, natively: the CPU a daemon spends on an idle secured bus (heartbeats,
// Sync broadcasts, timers), to set beside the VM's idle figure (bench/vm_bench.sh, part idle),
// which TCG inflates. The host kernel has no CAN, so the bus is in-process: N full Daemons
// (the same code as spsecd: state machine, heartbeat sealing and AES-GCM verification, timers,
// their real timerfds and control sockets) on FakeCanPorts, a fake clock moved in 10 ms steps
// through S simulated seconds. What the fake bus leaves out, the kernel's per-frame cost (epoll
// wake-up, CAN_RAW recv, timerfd re-arm), is measured separately on real fds in the same run and
// added per wake-up.
//
//   spsec_bench_daemon_idle [--nodes N (2..9, default 9)] [--seconds S (default 300)]
//
// Output: "BENCH <name> <value> <unit>" lines; the estimate against the target (< 1 % of one core
// per daemon with a 250 ms heartbeat and 8 peers).
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "daemon/daemon.h"
#include "fake_daemon.h"

using namespace spsec;

namespace {

constexpr std::uint64_t kMs = 1'000'000;

[[noreturn]] void die(const std::string& what)
{
	std::fprintf(stderr, "spsec_bench_daemon_idle: %s\n", what.c_str());
	std::exit(1);
}

double cpu_seconds()
{
	timespec ts{};
	::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

void bench(const char* name, double value, const char* unit)
{
	std::printf("BENCH %s %.4f %s\n", name, value, unit);
}

struct Node {
	std::string dir;
	Logger log{-1, LogLevel::Error, false};
	FakeDataPlane dp;
	FakeCanPort* can = nullptr;
	std::unique_ptr<Daemon> d;
	std::uint8_t rnd = 0;
	std::uint64_t received = 0;

	Node(FakeClock& clock, const std::string& root, int pp, int nodes)
	    : dir(root + "/n" + std::to_string(pp))
	{
		std::filesystem::create_directories(dir);
		{
			std::ofstream k(dir + "/keys");
			k << "format = 1\nseed.key = "
			     "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
			     "seed.salt = 0102030405060708\nseed.id = 0x00000042\n";
		}
		std::filesystem::permissions(dir + "/keys",
		                             std::filesystem::perms::owner_read |
		                                     std::filesystem::perms::owner_write);
		std::ofstream c(dir + "/spsecd.yaml");
		c << "interface: vcan0\nparticipant_id: " << pp
		  << "\nsync: " << (pp == 1 ? "on" : "off")
		  << "\naead: aes-gcm\ndata_bitrate: 1M\nheartbeat: {cycle: 250ms, monitor: "
		  << (nodes > 1 ? "all" : "[]") << "}\nkey_store: " << dir
		  << "/keys\ncontrol_socket: " << dir << "/ctl.sock\npin_dir: " << dir << "/pins\n";
		c.close();
		DaemonDeps deps = test::fake_daemon_deps(log, clock, dp, can, dir, rnd);
		d = std::make_unique<Daemon>(std::move(deps), dir + "/spsecd.yaml");
	}
};

// One frame per wake-up as the kernel delivers it to spsecd: epoll_wait on a ready fd, read it,
// re-arm a timerfd. An eventfd stands in for the CAN_RAW socket (the host has no CAN).
double kernel_wakeup_us()
{
	int ep = ::epoll_create1(EPOLL_CLOEXEC);
	int ev = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	int tf = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (ep < 0 || ev < 0 || tf < 0)
		die("epoll/eventfd/timerfd");
	epoll_event e{};
	e.events = EPOLLIN;
	if (::epoll_ctl(ep, EPOLL_CTL_ADD, ev, &e) != 0)
		die("epoll_ctl");
	constexpr int kRounds = 200'000;
	const double t0 = cpu_seconds();
	for (int i = 0; i < kRounds; i++) {
		std::uint64_t one = 1;
		if (::write(ev, &one, sizeof one) != sizeof one)
			die("eventfd write");
		epoll_event out{};
		if (::epoll_wait(ep, &out, 1, -1) != 1)
			die("epoll_wait");
		std::uint64_t v = 0;
		if (::read(ev, &v, sizeof v) != sizeof v)  // the frame
			die("eventfd read");
		(void)::read(ev, &v, sizeof v);  // the EAGAIN that ends spsecd's receive loop
		itimerspec its{};
		its.it_value.tv_sec = 1;
		if (::timerfd_settime(tf, 0, &its, nullptr) != 0)
			die("timerfd_settime");
	}
	const double us = (cpu_seconds() - t0) / kRounds * 1e6;
	::close(tf);
	::close(ev);
	::close(ep);
	return us;
}

}  // namespace

int main(int argc, char** argv)
{
	int nodes = 9;
	int seconds = 300;
	for (int i = 1; i + 1 < argc; i += 2) {
		const std::string o = argv[i];
		const int v = std::atoi(argv[i + 1]);
		if (o == "--nodes" && v >= 2 && v <= 9)
			nodes = v;
		else if (o == "--seconds" && v >= 10)
			seconds = v;
		else
			die("usage: spsec_bench_daemon_idle [--nodes 2..9] [--seconds S >= 10]");
	}
	char tmpl[] = "/tmp/spsec-idle-bench-XXXXXX";
	if (::mkdtemp(tmpl) == nullptr)
		die("mkdtemp");
	const std::string root = tmpl;
	FakeClock clock(5'000'000'000);
	std::vector<std::unique_ptr<Node>> bus;
	for (int pp = 1; pp <= nodes; pp++)
		bus.push_back(std::make_unique<Node>(clock, root, pp, nodes));
	auto pump = [&] {
		for (int round = 0; round < 10; round++) {
			bool moved = false;
			for (auto& from : bus) {
				auto sent = std::move(from->can->sent);
				from->can->sent.clear();
				for (const auto& f : sent) {
					moved = true;
					for (auto& to : bus)
						if (to != from) {
							to->can->inbox.push_back({f, 0});
							to->received++;
						}
				}
			}
			for (auto& n : bus)
				n->d->process_can();
			if (!moved)
				return;
		}
	};
	auto advance = [&](std::uint64_t ms) {
		for (std::uint64_t done = 0; done < ms; done += 10) {
			clock.advance_ns(10 * kMs);
			for (auto& n : bus)
				n->d->run_timers();
			pump();
		}
	};
	for (auto& n : bus)
		if (auto r = n->d->start(); !r)
			die(r.error().message());
	pump();
	advance(5000);  // PA, keys, first heartbeats
	for (auto& n : bus)
		if (n->d->sm_status().state != State::Secure)
			die("a node did not reach Secure");
	std::uint64_t rx0 = 0;
	for (auto& n : bus)
		rx0 += n->received;

	// The harness's own cost (stepping the clock, timer checks) is included: an upper bound.
	const double t0 = cpu_seconds();
	advance(static_cast<std::uint64_t>(seconds) * 1000);
	const double cpu = cpu_seconds() - t0;
	std::uint64_t rx = 0;
	for (auto& n : bus)
		rx += n->received;
	rx -= rx0;
	for (auto& n : bus)
		if (n->d->sm_status().state != State::Secure)
			die("a node left Secure during the run (a security event): not idle");

	const double per_daemon_pct = cpu / nodes / seconds * 100.0;
	const double frames_per_s = static_cast<double>(rx) / nodes / seconds;
	const double wake_us = kernel_wakeup_us();
	// Every received frame is one wake-up; sent heartbeats and timers add about one per cycle.
	const double wakeups_per_s = frames_per_s + 4.0 + 1.0;
	const double estimate = per_daemon_pct + wakeups_per_s * wake_us / 1e6 * 100.0;
	std::printf("# %d daemons, 250 ms heartbeat, monitor all (%d peers each), %d s simulated\n",
	            nodes, nodes - 1, seconds);
	bench("idle_native_daemon_work", per_daemon_pct, "%_of_one_core_per_daemon");
	bench("idle_native_frames_received", frames_per_s, "frames/s_per_daemon");
	bench("idle_native_kernel_wakeup", wake_us, "us");
	bench("idle_native_estimate", estimate, "%_of_one_core_per_daemon");
	std::printf("BENCH idle_native_estimate_over_target %.4f ratio (target < 1: %s)\n",
	            estimate / 1.0, estimate < 1.0 ? "met" : "missed");
	bus.clear();
	std::error_code ec;
	std::filesystem::remove_all(root, ec);
	return 0;
}
