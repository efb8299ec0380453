// SPDX-License-Identifier: Apache-2.0
// spsec_bench_gw: the classic user-space security gateway of the end-to-end benchmark
// (bench/vm_bench.sh), the comparison for the tc data plane. It does the data plane's job the
// way a user-space gateway would, with the project's core codec (userspace/core: stamp codec,
// OpenSSL EVP for AES-GCM and ChaCha20-Poly1305, the core's Ascon):
//   seal  read a plain frame from a CAN_RAW socket on the application side (--from), stamp and
//         seal it at T = max(now, last T of the ID + 1), write it to the bus side (--to)
//   open  read a secured frame from the bus side (--from), check/verify/decrypt it with
//         open_frame() (window, key, tag, padding, per-ID freshness), write the plain frame to
//         the application side (--to); a rejected frame is dropped and counted
//   relay copy each frame from --from to --to as it is, a classical frame as a CAN FD frame of
//         the same ID and data (no crypto: the tc data plane on --to stamps it). This is what
//         a gateway must do in user space for classical frames, which tc cannot convert
//         (docs/gateway.md); the gateway benchmark (bench/gw_bench.sh) measures its cost.
// One frame per read() and write(), as a simple gateway does. The keys and clock are those of
// tests/tools/spsec_dp_driver (same seed fill, csalt, seed salt, base T and T = base_t +
// CLOCK_MONOTONIC ns / tick_ns), so the gateway and the data plane could talk to each other.
//
// usage: spsec_bench_gw seal|open|relay --netns NS --from IF --to IF [--aead NAME] [--mode
// encrypt|auth]
//        [--tick-ns N] [--window W] [--base-t T] [--seed-fill HEXBYTE]
// Prints "ready" once both sockets are bound, runs until SIGTERM or SIGINT, then prints
// "gateway <mode>: frames=<n> rejected=<n> (<reason> <n> ...)" and exits 0.
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <memory>
#include <sched.h>
#include <string>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/can.h>

#include "common/can_socket.h"
#include "core/aead.h"
#include "core/key_schedule.h"
#include "core/stamp.h"
#include "core/timestamp.h"

namespace {

using namespace spsec;

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int)
{
	g_stop = 1;
}

[[noreturn]] void die(const std::string& what)
{
	std::fprintf(stderr, "spsec_bench_gw: %s\n", what.c_str());
	std::exit(2);
}

template <class T> T must(Result<T> r, const char* what)
{
	if (!r)
		die(std::string(what) + ": " + r.error().message());
	return std::move(*r);
}

std::uint64_t now_ns()
{
	timespec ts{};
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull +
	       static_cast<std::uint64_t>(ts.tv_nsec);
}

int can_socket(const std::string& ifname, bool rx)
{
	spsec::CanSocketOptions opts;
	if (!rx)
		opts.filters = std::vector<can_filter>{};  // send only
	return must(spsec::open_can_raw(ifname, opts), "opening the CAN socket").release();
}

CanFrame from_kernel(const canfd_frame& k, bool fd)
{
	CanFrame f;
	f.can_id = k.can_id;
	f.fd = fd;
	f.len = k.len;
	f.flags = fd ? k.flags : 0;
	std::copy_n(k.data, std::min<std::size_t>(k.len, fd ? 64 : 8), f.data.begin());
	return f;
}

canfd_frame to_kernel(const CanFrame& f)
{
	canfd_frame k{};
	k.can_id = f.can_id;
	k.len = f.len;
	k.flags = f.flags;
	std::copy_n(f.data.begin(), std::min<std::size_t>(f.len, 64), k.data);
	return k;
}

}  // namespace

int main(int argc, char** argv)
{
	if (argc < 2)
		die("usage: spsec_bench_gw seal|open|relay --netns NS --from IF --to IF [options]");
	const std::string role = argv[1];
	if (role != "seal" && role != "open" && role != "relay")
		die("the first argument is seal, open or relay");
	std::string netns, from, to, aead_name = "aes-gcm", mode_name = "encrypt";
	std::uint64_t base_t = (0x100ull << SPSEC_WINDOW_SHIFT) + 1000, tick_ns = 100000;
	std::uint32_t window = 150;
	unsigned fill = 0x5a;
	for (int i = 2; i + 1 < argc; i += 2) {
		const std::string k = argv[i], v = argv[i + 1];
		if (k == "--netns")
			netns = v;
		else if (k == "--from")
			from = v;
		else if (k == "--to")
			to = v;
		else if (k == "--aead")
			aead_name = v;
		else if (k == "--mode")
			mode_name = v;
		else if (k == "--tick-ns")
			tick_ns = std::stoull(v, nullptr, 0);
		else if (k == "--window")
			window = static_cast<std::uint32_t>(std::stoul(v));
		else if (k == "--base-t")
			base_t = std::stoull(v, nullptr, 0);
		else if (k == "--seed-fill")
			fill = static_cast<unsigned>(std::stoul(v, nullptr, 16));
		else
			die("unknown option " + k);
	}
	if (from.empty() || to.empty() || tick_ns == 0)
		die("--from and --to are required, --tick-ns must be > 0");
	const AeadKind kind = must(parse_aead_name(aead_name), "--aead");
	const StampMode mode = mode_name == "auth" ? StampMode::AuthOnly : StampMode::Encrypt;
	const StampParams params{kind, mode,
	                         KeySalt{{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88}}};
	const OpenParams oparams{params, window};
	auto local_t = [&] { return base_t + now_ns() / tick_ns; };

	// the Communication Keys of the live windows, as spsec_dp_driver installs them
	Key32 seed;
	for (auto& b : seed.expose_mut())
		b = static_cast<std::uint8_t>(fill);
	const CommSalt csalt{{1, 2, 3, 4}};
	std::map<std::uint64_t, std::unique_ptr<Aead>> keys;
	const LiveWindows live = live_windows(local_t());
	for (std::uint64_t e : {live.current, live.other.value_or(live.current)})
		if (!keys.count(e))
			keys[e] = must(
			        Aead::create(kind, must(derive_comm_key(seed, e, csalt), "key")),
			        "AEAD");
	const KeyLookup lookup = [&](std::uint64_t e) -> Aead* {
		auto it = keys.find(e);
		return it == keys.end() ? nullptr : it->second.get();
	};

	if (!netns.empty()) {
		const std::string path = "/run/netns/" + netns;
		const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNET))
			die("entering " + netns + ": " + std::strerror(errno));
		::close(fd);
	}
	const int in = can_socket(from, true);
	const int out = can_socket(to, false);
	struct sigaction sa {};
	sa.sa_handler = on_signal;  // no SA_RESTART: read() returns EINTR
	sigaction(SIGTERM, &sa, nullptr);
	sigaction(SIGINT, &sa, nullptr);
	std::printf("ready\n");
	std::fflush(stdout);

	FreshnessTable fresh;
	std::uint64_t frames = 0, rejected = 0;
	std::map<std::uint32_t, std::uint64_t> reasons;
	while (!g_stop) {
		canfd_frame k{};
		const ssize_t n = ::read(in, &k, sizeof k);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die(std::string("read: ") + std::strerror(errno));
		}
		if (n != CANFD_MTU && n != CAN_MTU)
			continue;
		const CanFrame f = from_kernel(k, n == CANFD_MTU);
		frames++;
		CanFrame outf;
		if (role == "relay") {
			outf = f;
			outf.fd = true;
		} else if (role == "seal") {
			const std::uint64_t t = fresh.next_tx(can_id_key(f.can_id), local_t());
			Aead* a = lookup(key_window(t));
			auto s =
			        a ? seal_frame(*a, params, f, t) : Result<CanFrame>(fail("no key"));
			if (!s) {
				rejected++;
				reasons[SPSEC_R_MAX]++;
				continue;
			}
			outf = *s;
		} else {
			auto o = open_frame(oparams, f, local_t(), lookup, &fresh);
			if (!o) {
				rejected++;
				reasons[o.error().reason]++;
				continue;
			}
			outf = o->plain;
		}
		const canfd_frame w = to_kernel(outf);
		const std::size_t wlen = outf.fd ? CANFD_MTU : CAN_MTU;
		while (::write(out, &w, wlen) != static_cast<ssize_t>(wlen)) {
			if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR)
				die(std::string("write: ") + std::strerror(errno));
			if (g_stop)
				break;
		}
	}
	std::printf("gateway %s: frames=%llu rejected=%llu", role.c_str(),
	            static_cast<unsigned long long>(frames),
	            static_cast<unsigned long long>(rejected));
	for (const auto& [r, c] : reasons)
		std::printf(" %s=%llu",
		            r == SPSEC_R_MAX ? "seal_failed" : std::string(reason_name(r)).c_str(),
		            static_cast<unsigned long long>(c));
	std::printf("\n");
	return 0;
}
