// SPDX-License-Identifier: Apache-2.0
// spsecd's data-plane start (BpfDataPlane::open, userspace/daemon/bpf_data_plane.cpp) when it
// fails [bpf][loader]: no stray pinned maps behind a failed start, and never an interface left
// less filtered than before (an earlier spsecd's filters and maps stay). Root, a private bpffs
// and a veth pair (the host has no CAN; the programs drop non-CAN skbs).
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <net/if.h>

#include "bpf/libbpf_log.h"
#include "bpf/tc_attachment.h"
#include "daemon/bpf_data_plane.h"
#include "dp_fixture.h"
#include "host_env.h"

using namespace spsec;

namespace {

const bool g_gate = test::skip_binary_unless_bpf();

bool exists(const std::string& p)
{
	struct stat st {};
	return ::stat(p.c_str(), &st) == 0;
}

// The program ID on `ifname`'s ingress, tcx link (pinned in <root>/<ifname>) or tc filter
// alike, 0 when there is none.
unsigned ingress_prog(const char* ifname, const std::string& root)
{
	auto st = TcAttachment::query(ifname, root + "/" + ifname);
	return st ? st->ingress_prog_id : 0;
}

Config config_for(const std::string& ifname, const std::string& root)
{
	Config c;
	c.interface = ifname;
	c.pin_dir = root + "/" + ifname;
	c.secured_ids = {CanId{0x123, false}};
	return c;
}

// More IDs than the data plane's policy holds: parse_config refuses this, so only a Config
// built in code reaches BpfDataPlane::open with it (the stand-in for any failure between
// loading the maps and attaching the filters).
Config oversized(Config c)
{
	c.secured_ids.clear();
	for (std::uint32_t i = 0; i <= SPSEC_POLICY_MAX / 2; i++)
		c.secured_ids.push_back(CanId{0x10000 + i, true});
	return c;
}

}  // namespace

TEST_CASE("a failing start leaves no stray pinned maps and never unfilters the interface",
          "[bpf][loader]")
{
	const test::PrivateBpffs fs;
	if (!fs.mounted()) {
		WARN(fs.error());
		return;
	}
	const std::string root = fs.path() + "/spsec";
	const Logger log(2, LogLevel::Error, false, "dataplane_start_test");

	SECTION("a missing interface is refused before any map is created")
	{
		BpfDataPlane dp(log);
		auto r = dp.open(config_for("nosuchif9", root), {});
		REQUIRE_FALSE(r);
		CHECK_THAT(r.error().message(), Catch::Contains("nosuchif9"));
		CHECK_FALSE(exists(root + "/nosuchif9"));
	}
	SECTION("on a veth: the maps of a failed first start go, an earlier daemon's stay")
	{
		test::VethPair veth("spt4", "spt5");
		if (!veth.created()) {
			if (std::getenv("CI") !=
			    nullptr)  // under CI a skipped section is a failure
				FAIL("cannot create the veth pair spt4/spt5");
			WARN("cannot create a veth pair: not tested here");
		} else {
			const std::string dir = root + "/spt4";
			{
				BpfDataPlane dp(log);
				auto r = dp.open(oversized(config_for("spt4", root)), {});
				REQUIRE_FALSE(r);
				CHECK_THAT(r.error().message(),
				           Catch::Contains("installing the policy"));
				CHECK_FALSE(exists(dir));  // neither the maps nor their directory
				CHECK(ingress_prog("spt4", root) == 0);
			}
			// A daemon that started, then exited: filters attached, maps pinned.
			{
				BpfDataPlane dp(log);
				auto r = dp.open(config_for("spt4", root), {});
				INFO((r ? std::string() : r.error().message()));
				REQUIRE(r);
				dp.close();
			}
			const unsigned live = ingress_prog("spt4", root);
			REQUIRE(live != 0);
			REQUIRE(exists(dir + "/" SPSEC_MAP_KEYS));
			// The next start fails before attaching: the earlier daemon's filter and
			// the maps it uses stay (fail closed).
			{
				BpfDataPlane dp(log);
				auto r = dp.open(oversized(config_for("spt4", root)), {});
				REQUIRE_FALSE(r);
			}
			CHECK(ingress_prog("spt4", root) == live);
			for (const char* m : {SPSEC_MAP_STATE, SPSEC_MAP_KEYS, SPSEC_MAP_POLICY})
				CHECK(exists(dir + "/" + m));
			CHECK(veth.remove());
		}
	}
}
