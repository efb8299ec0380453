// SPDX-License-Identifier: Apache-2.0
// spsec_bench_vcan: the application pair of the end-to-end CAN FD benchmark (bench/vm_bench.sh).
// One process, two threads: the sender writes CAN FD frames of 48 bytes, IDs 100.. 100+I-1 in
// turn (--ids I, default 64: frame seq has ID 100 + seq % I), on a CAN_RAW socket of one network
// namespace; the receiver reads them on a CAN_RAW socket of another (the
// sockets keep the namespace they were created in). Each frame carries
//   [0..7] LE64 sequence number, [8..15] LE64 CLOCK_MONOTONIC ns at the sender's write(),
//   [16..47] a pattern of the sequence number (checked: a frame decrypted wrongly is "bad").
// Several IDs, as on a real bus: SPsec stamps the frames of one ID with strictly increasing T
// (per-ID freshness), so one ID carries at most one frame per tick.
// Same VM, same clock: latency = receiver's CLOCK_MONOTONIC after read() - the embedded stamp.
//
// Flow control: a window of at most K frames in flight (sent, not yet received); the receiver
// counts frames in shared memory and wakes the sender. Nothing is lost to a socket buffer: K
// frames (K <= 64) fit every queue on the path (CAN_RAW receive buffer ~200 frames, the backlog
// 1000). A missing frame is a gap in the sequence ("lost"); the run fails if any is lost, bad or
// out of order, or if no frame arrives for --timeout seconds.
//
// Two phases:
//   throughput  N frames with window K; frames/s = frames received / (last receive - first send)
//   latency     M frames with window 1 (each sent when the previous one arrived: no queueing);
//               p50 / p99 / max of the one-way latency
//
// usage: spsec_bench_vcan --label NAME --tx NS:IF --rx NS:IF [-n N] [-k K] [-m M] [--ids I]
//        [--timeout S]
// Prints "BENCH vcan_<label>_<what> <value> <unit>" lines and one
// "RESULT <label> sent=.. received=.. lost=.. bad=.. reordered=.. tx_retries=.." line per phase.
// Exit status 0 only when every frame of both phases arrived intact and in order.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <poll.h>
#include <sched.h>
#include <string>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <thread>
#include <time.h>
#include <unistd.h>
#include <vector>

#include <linux/can.h>

#include "common/can_socket.h"

namespace {

constexpr canid_t kBaseId = 0x100;
constexpr std::size_t kLen = 48;
std::uint64_t g_ids = 64;  // a power of two <= 256

canid_t id_of(std::uint64_t seq)
{
	return kBaseId + static_cast<canid_t>(seq % g_ids);
}

[[noreturn]] void die(const std::string& what)
{
	std::fprintf(stderr, "spsec_bench_vcan: %s\n", what.c_str());
	std::exit(2);
}

std::uint64_t now_ns()
{
	timespec ts{};
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull +
	       static_cast<std::uint64_t>(ts.tv_nsec);
}

void put64(std::uint8_t* p, std::uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

std::uint64_t get64(const std::uint8_t* p)
{
	std::uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
	return v;
}

std::uint8_t pattern(std::uint64_t seq, std::size_t i)
{
	return static_cast<std::uint8_t>(seq * 31 + i * 7 + 1);
}

void enter_netns(const std::string& ns)
{
	if (ns.empty())
		return;
	const std::string path = "/run/netns/" + ns;
	const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("opening " + path + ": " + std::strerror(errno));
	if (setns(fd, CLONE_NEWNET))
		die("entering " + ns + ": " + std::strerror(errno));
	::close(fd);
}

// A CAN_RAW socket with CAN FD frames on `ifname` in namespace `ns`; `rx` = receive the benchmark's
// IDs only, else receive nothing.
int can_socket(const std::string& ns, const std::string& ifname, bool rx)
{
	enter_netns(ns);
	spsec::CanSocketOptions opts;
	opts.filters = std::vector<can_filter>{};
	if (rx)
		opts.filters->push_back(
		        {kBaseId, (CAN_SFF_MASK & ~static_cast<canid_t>(g_ids - 1)) | CAN_EFF_FLAG |
		                          CAN_RTR_FLAG});
	auto s = spsec::open_can_raw(ifname, opts);
	if (!s)
		die(s.error().message() + (ns.empty() ? "" : " in " + ns));
	return s->release();
}

struct Shared {
	std::mutex m;
	std::condition_variable cv;
	std::uint64_t received = 0;  // frames received (in order) so far in this phase
	bool done = false;           // receiver gave up or finished
};

struct PhaseResult {
	std::uint64_t sent = 0, received = 0, lost = 0, bad = 0, reordered = 0, tx_retries = 0;
	std::uint64_t first_tx_ns = 0, last_rx_ns = 0;
	std::vector<double> lat_us;
};

// Receives `n` frames (or gives up after `timeout_s` without a frame), recording latencies.
void receive(int s, std::uint64_t n, int timeout_s, Shared& sh, PhaseResult& r)
{
	std::uint64_t expect = 0;
	r.lat_us.reserve(n);
	while (expect < n) {
		pollfd p{s, POLLIN, 0};
		const int pr = ::poll(&p, 1, timeout_s * 1000);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			break;  // timeout: the rest is lost
		canfd_frame f{};
		const ssize_t k = ::read(s, &f, sizeof f);
		const std::uint64_t t = now_ns();
		if (k < 0) {
			if (errno == EINTR)
				continue;
			die(std::string("read: ") + std::strerror(errno));
		}
		if (k != CANFD_MTU || f.len != kLen) {
			r.bad++;
			continue;
		}
		const std::uint64_t seq = get64(f.data);
		bool intact = f.can_id == id_of(seq);
		for (std::size_t i = 16; i < kLen; i++)
			intact = intact && f.data[i] == pattern(seq, i);
		if (!intact) {
			r.bad++;
			continue;
		}
		if (seq < expect) {
			r.reordered++;
			continue;
		}
		r.lost += seq - expect;  // a gap: frames that never came
		r.lat_us.push_back(static_cast<double>(t - get64(f.data + 8)) / 1000.0);
		r.last_rx_ns = t;
		r.received++;
		expect = seq + 1;
		{
			std::lock_guard<std::mutex> g(sh.m);
			sh.received = expect;  // gaps count as done, or the window would stall
		}
		sh.cv.notify_one();
	}
	{
		std::lock_guard<std::mutex> g(sh.m);
		sh.done = true;
	}
	sh.cv.notify_one();
}

// One phase: frames 0..n-1, at most `window` in flight. The previous phase has been received
// whole (or failed the run), so no frame of it is still on the path.
PhaseResult run_phase(int tx, int rx, std::uint64_t n, std::uint64_t window, int timeout_s)
{
	Shared sh;
	PhaseResult r, rr;
	std::thread rt([&] { receive(rx, n, timeout_s, sh, rr); });
	canfd_frame f{};
	f.len = kLen;
	f.flags = CANFD_BRS;
	for (std::uint64_t i = 0; i < n; i++) {
		{
			std::unique_lock<std::mutex> lk(sh.m);
			if (!sh.cv.wait_for(lk, std::chrono::seconds(timeout_s),
			                    [&] { return sh.done || i - sh.received < window; }) ||
			    sh.done)
				break;
		}
		f.can_id = id_of(i);
		put64(f.data, i);
		for (std::size_t b = 16; b < kLen; b++)
			f.data[b] = pattern(i, b);
		for (;;) {
			const std::uint64_t t = now_ns();
			put64(f.data + 8, t);
			if (i == 0)
				r.first_tx_ns = t;
			if (::write(tx, &f, CANFD_MTU) == CANFD_MTU)
				break;
			if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR)
				die(std::string("write: ") + std::strerror(errno));
			r.tx_retries++;  // a full queue: wait for it and resend (counted)
			pollfd p{tx, POLLOUT, 0};
			::poll(&p, 1, 10);
		}
		r.sent++;
	}
	rt.join();
	r.received = rr.received;
	r.lost = rr.lost + (r.sent - std::min(r.sent, rr.received + rr.lost));
	r.bad = rr.bad;
	r.reordered = rr.reordered;
	r.last_rx_ns = rr.last_rx_ns;
	r.lat_us = std::move(rr.lat_us);
	return r;
}

double percentile(std::vector<double> v, double p)
{
	if (v.empty())
		return 0;
	std::sort(v.begin(), v.end());
	std::size_t idx = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size()));
	return v[std::min(idx, v.size() - 1)];
}

void split(const std::string& a, std::string& ns, std::string& ifname)
{
	const auto c = a.find(':');
	if (c == std::string::npos) {
		ns.clear();
		ifname = a;
	} else {
		ns = a.substr(0, c);
		ifname = a.substr(c + 1);
	}
}

bool result_line(const char* label, const char* phase, const PhaseResult& r, std::uint64_t n)
{
	std::printf("RESULT %s %s sent=%llu received=%llu lost=%llu bad=%llu reordered=%llu "
	            "tx_retries=%llu\n",
	            label, phase, static_cast<unsigned long long>(r.sent),
	            static_cast<unsigned long long>(r.received),
	            static_cast<unsigned long long>(r.lost), static_cast<unsigned long long>(r.bad),
	            static_cast<unsigned long long>(r.reordered),
	            static_cast<unsigned long long>(r.tx_retries));
	return r.sent == n && r.received == n && r.lost == 0 && r.bad == 0 && r.reordered == 0;
}

}  // namespace

int main(int argc, char** argv)
{
	std::string label = "run", txa, rxa;
	std::uint64_t n = 20000, k = 32, m = 2000;
	int timeout_s = 10;
	for (int i = 1; i + 1 < argc; i += 2) {
		const std::string o = argv[i], v = argv[i + 1];
		if (o == "--label")
			label = v;
		else if (o == "--tx")
			txa = v;
		else if (o == "--rx")
			rxa = v;
		else if (o == "-n")
			n = std::stoull(v);
		else if (o == "-k")
			k = std::stoull(v);
		else if (o == "-m")
			m = std::stoull(v);
		else if (o == "--ids")
			g_ids = std::stoull(v);
		else if (o == "--timeout")
			timeout_s = std::stoi(v);
		else
			die("unknown option " + o);
	}
	if (txa.empty() || rxa.empty() || n == 0 || m == 0 || k == 0 || k > 64 || g_ids == 0 ||
	    g_ids > 256 || (g_ids & (g_ids - 1)))
		die("usage: spsec_bench_vcan --label NAME --tx NS:IF --rx NS:IF [-n N] [-k K<=64] "
		    "[-m M] [--ids 1|2|4..256] [--timeout S]");
	std::string txns, txif, rxns, rxif;
	split(txa, txns, txif);
	split(rxa, rxns, rxif);
	const int rx = can_socket(rxns, rxif, true);
	const int tx = can_socket(txns, txif, false);

	const PhaseResult thr = run_phase(tx, rx, n, k, timeout_s);
	const bool ok1 = result_line(label.c_str(), "throughput", thr, n);
	const double secs = static_cast<double>(thr.last_rx_ns - thr.first_tx_ns) / 1e9;
	const double fps = secs > 0 ? static_cast<double>(thr.received) / secs : 0;

	const PhaseResult lat = run_phase(tx, rx, m, 1, timeout_s);
	const bool ok2 = result_line(label.c_str(), "latency", lat, m);

	std::printf("BENCH vcan_%s_fps %.0f frames/s\n", label.c_str(), fps);
	std::printf("BENCH vcan_%s_lat_p50 %.1f us\n", label.c_str(), percentile(lat.lat_us, 50));
	std::printf("BENCH vcan_%s_lat_p99 %.1f us\n", label.c_str(), percentile(lat.lat_us, 99));
	std::printf("BENCH vcan_%s_lat_max %.1f us\n", label.c_str(), percentile(lat.lat_us, 100));
	std::printf("BENCH vcan_%s_loaded_lat_p50 %.1f us\n", label.c_str(),
	            percentile(thr.lat_us, 50));
	std::fflush(stdout);
	::close(tx);
	::close(rx);
	return ok1 && ok2 ? 0 : 1;
}
