// SPDX-License-Identifier: Apache-2.0
// bpf tier: read_pinned_counters (what `spsecctl stats` runs) against a real pinned PERCPU_ARRAY
// in a private bpffs mount. Needs root (bpf(), mount); otherwise prints SKIP and exits 77.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/mount.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bpf/counters.h"
#include "common/fd.h"
#include "daemon_test_util.h"

using namespace spsec;

namespace {

[[noreturn]] void skip(const std::string& why)
{
	std::printf("SKIP bpf: %s\n", why.c_str());
	std::fflush(stdout);
	std::_Exit(77);
}

// A bpffs mounted on a temporary directory for the test's lifetime.
class PrivateBpffs {
public:
	PrivateBpffs()
	{
		if (::mount("bpf", dir_.path().c_str(), "bpf", 0, nullptr) != 0)
			skip(std::string("cannot mount a bpffs: ") + std::strerror(errno));
	}
	~PrivateBpffs() { ::umount2(dir_.path().c_str(), MNT_DETACH); }
	PrivateBpffs(const PrivateBpffs&) = delete;
	PrivateBpffs& operator=(const PrivateBpffs&) = delete;
	[[nodiscard]] const std::string& path() const { return dir_.path(); }

private:
	spsec::test::TempDir dir_;
};

Fd make_map(bpf_map_type type, __u32 value_size)
{
	int fd = ::bpf_map_create(type, "spsec_counters", 4, value_size, SPSEC_R_MAX, nullptr);
	if (fd < 0 && (errno == EPERM || errno == ENOSYS))
		skip(std::string("bpf_map_create: ") + std::strerror(errno));
	REQUIRE(fd >= 0);
	return Fd(fd);
}

}  // namespace

TEST_CASE("pinned per-CPU counters are summed over every CPU", "[daemon][bpf]")
{
	PrivateBpffs fs;
	Fd map = make_map(BPF_MAP_TYPE_PERCPU_ARRAY, 8);
	int ncpu = ::libbpf_num_possible_cpus();
	REQUIRE(ncpu > 0);
	std::vector<std::uint64_t> per_cpu(static_cast<std::size_t>(ncpu));
	std::uint64_t want = 0;
	for (std::size_t i = 0; i < per_cpu.size(); i++) {
		per_cpu[i] = 1000 + i;
		want += 1000 + i;
	}
	__u32 key = SPSEC_R_RX_BAD_TAG;
	REQUIRE(::bpf_map_update_elem(map.get(), &key, per_cpu.data(), BPF_ANY) == 0);
	key = SPSEC_R_MAX - 1;
	REQUIRE(::bpf_map_update_elem(map.get(), &key, per_cpu.data(), BPF_ANY) == 0);
	std::string pin = fs.path() + "/" SPSEC_MAP_COUNTERS;
	REQUIRE(::bpf_obj_pin(map.get(), pin.c_str()) == 0);

	auto s = read_pinned_counters(fs.path());
	if (!s)
		FAIL(s.error().message());
	CHECK(s->by_reason[SPSEC_R_RX_BAD_TAG] == want);
	CHECK(s->by_reason[SPSEC_R_MAX - 1] == want);
	CHECK(s->by_reason[SPSEC_R_RX_OK] == 0);
	CHECK_THAT(format_prometheus(*s, "can0"),
	           Catch::Contains("reason=\"rx_bad_tag\"} " + std::to_string(want) + "\n"));
}

TEST_CASE("a pinned map of the wrong type is an ABI mismatch", "[daemon][bpf]")
{
	PrivateBpffs fs;
	Fd map = make_map(BPF_MAP_TYPE_ARRAY, 8);
	std::string pin = fs.path() + "/" SPSEC_MAP_COUNTERS;
	REQUIRE(::bpf_obj_pin(map.get(), pin.c_str()) == 0);
	auto s = read_pinned_counters(fs.path());
	REQUIRE_FALSE(s);
	CHECK_THAT(s.error().context, Catch::Contains("ABI mismatch"));
}
