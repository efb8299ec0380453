// SPDX-License-Identifier: Apache-2.0
// Test fixture for the data plane under BPF_PROG_TEST_RUN: loads the test-only object
// (spsec_test.bpf.c: the production verdict code behind entries that need no skb->protocol and
// take the local-echo flag from skb->cb[0]) with private, unpinned maps, and drives it through the
// same DataPlane writers the daemon uses. Shared by tests/bpf and bench/.
//
// Compiled with SPSEC_TEST_KERNEL_AES, the fixture loads the kernel-AES build of that object
// (spsec_test_kaes: AES-GCM's AES through the BPF crypto kfuncs, bpf/spsec_kaes.h) instead, so
// the same tests run against both data-plane objects (bpf_dataplane, bpf_dataplane_kaes).
#pragma once

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/can.h>
#include <linux/pkt_cls.h>
#include <unistd.h>

#include "bpf/data_plane.h"
#include "bpf/kernel_features.h"
#include "bpf/key_material.h"
#include "bpf/libbpf_log.h"
#include "bpf/map_writer.h"
#include "bpf/ring_buffer.h"
#include "bpf/skeleton.h"
#include "core/aead.h"
#include "core/can_frame.h"
#include "core/key_schedule.h"
#include "host_env.h"
#include "spsec/abi.h"
#ifdef SPSEC_TEST_KERNEL_AES
#include "spsec_test_kaes.skel.h"
#else
#include "spsec_test.skel.h"
#endif

namespace spsec::test {

#ifdef SPSEC_TEST_KERNEL_AES
using TestSkel = spsec_test_kaes;
inline constexpr bool kKernelAes = true;
#else
using TestSkel = spsec_test;
inline constexpr bool kKernelAes = false;
#endif

// skb->cb[0] value that makes the test entries treat a frame as the CAN core's local echo
// (the plain clone), and one for a device's echo (IFF_ECHO) of the skb egress stamped.
inline constexpr std::uint32_t kEchoMagic = 0x4543484fu;
inline constexpr std::uint32_t kEchoStampedMagic = 0x45434853u;
// skb->cb[1] value that makes the egress test entry restore the plain frame after sealing, so
// that BPF_PROG_TEST_RUN with repeat > 1 seals the same frame every time (benchmarks).
inline constexpr std::uint32_t kRestoreMagic = 0x52455354u;

using Frame72 = std::array<std::uint8_t, CANFD_MTU>;

// A CanFrame as the kernel's struct canfd_frame (72 bytes) or can_frame (16 bytes).
inline std::vector<std::uint8_t> to_wire(const CanFrame& f)
{
	std::vector<std::uint8_t> out(f.fd ? CANFD_MTU : CAN_MTU, 0);
	std::memcpy(out.data(), &f.can_id, 4);
	out[4] = f.len;
	out[5] = f.fd ? f.flags : 0;
	const std::size_t n = f.fd ? 64 : 8;
	for (std::size_t i = 0; i < n && i < f.len; i++)
		out[8 + i] = f.data[i];
	return out;
}

inline CanFrame from_wire(const std::vector<std::uint8_t>& w)
{
	CanFrame f;
	std::memcpy(&f.can_id, w.data(), 4);
	f.len = w[4];
	f.fd = w.size() == CANFD_MTU;
	f.flags = f.fd ? w[5] : 0;
	const std::size_t n = f.fd ? 64 : 8;
	for (std::size_t i = 0; i < n; i++)
		f.data[i] = w[8 + i];
	return f;
}

inline std::uint64_t monotonic_ns()
{
	timespec ts{};
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull +
	       static_cast<std::uint64_t>(ts.tv_nsec);
}

struct RunResult {
	int retval = -1;  // TC_ACT_*
	std::vector<std::uint8_t> out;
	std::uint32_t duration_ns = 0;  // average per run when repeat > 1
};

// For `const bool g_gate = ...` after skip_binary_unless_bpf(): the kernel-AES build of a test
// binary skips (77, with the reason) where the kernel has no BPF crypto kfuncs (before 6.10).
inline bool skip_binary_unless_object()
{
	if (!kKernelAes)
		return true;
	auto k = crypto_kfuncs_available();
	if (!k || !*k) {
		std::printf("SKIP bpf: the kernel has no BPF crypto kfuncs (Linux 6.10+): the "
		            "kernel-AES data-plane object cannot load here (%s)\n",
		            k ? "not in its BTF" : k.error().message().c_str());
		std::fflush(stdout);
		std::_Exit(77);
	}
	return true;
}

class DpFixture {
public:
	// Loads the test object with private maps. Errors: as Skeleton::open/load.
	static Result<std::unique_ptr<DpFixture>> create();

	DataPlane& dp() { return *dp_; }
	TestSkel* skel() { return skel_.get(); }
	bpf_object* skel_object() { return skel_.object(); }

	// One BPF_PROG_TEST_RUN of the ingress (or egress) test entry. Errors: the syscall failed.
	Result<RunResult> run(bool ingress, const std::vector<std::uint8_t>& frame,
	                      std::uint32_t cb0 = 0, std::uint32_t mark = 0,
	                      std::uint32_t repeat = 1, std::uint32_t cb1 = 0);

	// Sets a clock whose T stays at `t` for the next ~36 years (tick 2^60 ns).
	Result<void> freeze_clock(std::uint64_t t)
	{
		return dp_->set_clock(monotonic_ns(), t, 1ull << 60);
	}

private:
	explicit DpFixture(Skeleton<TestSkel> s) : skel_(std::move(s)) {}
	Skeleton<TestSkel> skel_;
	std::optional<DataPlane> dp_;
};

inline Result<std::unique_ptr<DpFixture>> DpFixture::create()
{
	auto skel = Skeleton<TestSkel>::open();
	if (!skel)
		return tl::unexpected(skel.error());
	bpf_map* m;
	bpf_object__for_each_map(m, skel->object())
	{
		// private maps: never touch a running firewall's pins
		bpf_map__set_pin_path(m, nullptr);
	}
	if (auto r = skel->load(); !r)
		return tl::unexpected(r.error());
	std::unique_ptr<DpFixture> fx(new DpFixture(std::move(*skel)));
	auto dp = DataPlane::from_object(fx->skel_.object());
	if (!dp)
		return tl::unexpected(dp.error());
	fx->dp_.emplace(std::move(*dp));
	return fx;
}

inline Result<RunResult> DpFixture::run(bool ingress, const std::vector<std::uint8_t>& frame,
                                        std::uint32_t cb0, std::uint32_t mark, std::uint32_t repeat,
                                        std::uint32_t cb1)
{
	RunResult r;
	r.out.assign(frame.size(), 0);
	__sk_buff ctx{};
	ctx.cb[0] = cb0;
	ctx.cb[1] = cb1;
	ctx.mark = mark;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_out = r.out.data(),
	            .data_size_in = static_cast<__u32>(frame.size()),
	            .data_size_out = static_cast<__u32>(r.out.size()), .ctx_in = &ctx,
	            .ctx_size_in = sizeof ctx, .repeat = static_cast<int>(repeat));
	const int fd = bpf_program__fd(ingress ? skel_->progs.spsec_test_ingress
	                                       : skel_->progs.spsec_test_egress);
	if (bpf_prog_test_run_opts(fd, &opts))
		return fail_errno(errno, "BPF_PROG_TEST_RUN");
	r.retval = static_cast<int>(opts.retval);
	r.out.resize(opts.data_size_out);
	r.duration_ns = opts.duration;
	return r;
}

}  // namespace spsec::test
