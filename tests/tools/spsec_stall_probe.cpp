// SPDX-License-Identifier: Apache-2.0
// spsec_stall_probe: records when the test VM stood still. Under TCG the host can leave the
// guest's vCPU unscheduled for seconds; the guest clock runs on, so a heartbeat stamped before
// such a stall is late at every receiver and the protocol reacts (EE00h, EF00h + pp), as it
// should. This probe tells those runs apart from product faults: at real-time priority it
// sleeps `period` ms at a time and logs every wake-up that came more than `report` ms late:
//
//   stall <CLOCK_MONOTONIC s when it was due> <ms late>
//
// The vm tier's lib.sh starts it for every test and prints what it logged with each failed check
// and in the summary. It never decides a check: a stall is reported, not excused.
//
// usage: spsec_stall_probe <log file> [period ms] [report ms]    (stops on SIGTERM)
#include <sched.h>
#include <sys/mman.h>
#include <time.h>

#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string_view>

namespace {

volatile std::sig_atomic_t g_stop = 0;

void on_term(int /*sig*/)
{
	g_stop = 1;
}

std::uint64_t now_ns()
{
	timespec ts{};
	::clock_gettime(CLOCK_MONOTONIC, &ts);
	return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
	       static_cast<std::uint64_t>(ts.tv_nsec);
}

bool parse_ms(const char* s, std::uint64_t& out)
{
	const std::string_view v(s);
	auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
	return ec == std::errc() && end == v.data() + v.size() && out > 0 && out <= 10'000;
}

}  // namespace

int main(int argc, char** argv)
{
	std::uint64_t period_ms = 10;
	std::uint64_t report_ms = 20;
	if (argc < 2 || argc > 4 || (argc > 2 && !parse_ms(argv[2], period_ms)) ||
	    (argc > 3 && !parse_ms(argv[3], report_ms))) {
		std::fprintf(stderr, "usage: spsec_stall_probe <log file> [period ms] [report ms] "
		                     "(each 1..10000)\n");
		return 2;
	}
	std::FILE* log = std::fopen(argv[1], "w");
	if (log == nullptr) {
		std::fprintf(stderr, "spsec_stall_probe: %s: %s\n", argv[1], std::strerror(errno));
		return 1;
	}
	std::setvbuf(log, nullptr, _IOLBF, 0);
	// Above everything the tests run (spsecd, candump, cangen): a late wake-up then means the
	// guest as a whole did not run, not that a test process took the CPU.
	sched_param sp{};
	sp.sched_priority = sched_get_priority_max(SCHED_FIFO);
	if (::sched_setscheduler(0, SCHED_FIFO, &sp) != 0)
		std::fprintf(log, "# no real-time priority (%s): stalls include guest load\n",
		             std::strerror(errno));
	(void)::mlockall(MCL_CURRENT | MCL_FUTURE);
	struct sigaction sa {};
	sa.sa_handler = on_term;
	::sigaction(SIGTERM, &sa, nullptr);
	::sigaction(SIGINT, &sa, nullptr);

	const std::uint64_t period = period_ms * 1'000'000u;
	const std::uint64_t report = report_ms * 1'000'000u;
	std::uint64_t due = now_ns() + period;
	while (g_stop == 0) {
		timespec ts{static_cast<time_t>(due / 1'000'000'000u),
		            static_cast<long>(due % 1'000'000'000u)};
		const int rc = ::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
		if (rc == EINTR)
			continue;
		const std::uint64_t now = now_ns();
		if (now > due + report)
			std::fprintf(log, "stall %llu.%06llu %llu\n",
			             static_cast<unsigned long long>(due / 1'000'000'000u),
			             static_cast<unsigned long long>(due % 1'000'000'000u / 1000u),
			             static_cast<unsigned long long>((now - due) / 1'000'000u));
		// The next wake-up from now: a stall is one line, not a burst of catch-up wake-ups.
		due = (now > due ? now : due) + period;
	}
	std::fclose(log);
	return 0;
}
