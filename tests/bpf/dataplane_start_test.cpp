// SPDX-License-Identifier: Apache-2.0
// spsecd's data-plane start (BpfDataPlane::open, userspace/daemon/bpf_data_plane.cpp) when it
// fails [bpf][loader]: no stray pinned maps behind a failed start, and never an interface left
// less filtered than before (an earlier spsecd's filters and maps stay). A reload
// (BpfDataPlane::reconfigure) that fails part-way [reload]: the running configuration stays in
// place, exactly. Root, a private bpffs and veth pairs (the host has no CAN; the programs drop
// non-CAN skbs, and can-gw's netlink calls fail: a natural failure at a reload's last step).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/can.h>
#include <net/if.h>

#include "bpf/gateway_maps.h"
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

namespace {

// A pinned map's entries, key bytes -> value bytes (plain maps only).
using MapDump = std::map<std::vector<unsigned char>, std::vector<unsigned char>>;

MapDump dump_pinned(const std::string& path, __u64 flags = 0)
{
	MapDump out;
	const int fd = bpf_obj_get(path.c_str());
	if (fd < 0)
		return out;
	bpf_map_info info{};
	__u32 len = sizeof info;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) {
		std::vector<unsigned char> key(info.key_size), next(info.key_size),
		        value(info.value_size);
		void* prev = nullptr;
		while (bpf_map_get_next_key(fd, prev, next.data()) == 0) {
			if (bpf_map_lookup_elem_flags(fd, next.data(), value.data(), flags) == 0)
				out[next] = value;
			key = next;
			prev = key.data();
		}
	}
	::close(fd);
	return out;
}

// What a reload may change, read from the pins and the kernel: the policy generation, policy
// and sender rules (the live generation's slots and uids), the gateway's rule word and live
// rules, and what is attached to the segment.
struct Installed {
	std::uint32_t policy_gen = 0;
	MapDump policy, snd_rules_live, snd_uids;
	std::uint32_t gw_word = 0;
	std::vector<std::vector<unsigned char>> gw_rules;
	std::optional<AttachMode> segment_mode;  // spsec's, as its pins or tc filters show
	bool segment_pins = false;
	std::uint32_t segment_tcx = 0;  // tcx programs on the segment, pinned or not

	bool operator==(const Installed&) const = default;
};

Installed installed(const std::string& dir, const char* segment)
{
	Installed s;
	auto state = dump_pinned(dir + "/" SPSEC_MAP_STATE, BPF_F_LOCK);
	if (state.size() == 1) {
		spsec_state st{};
		std::memcpy(&st, state.begin()->second.data(),
		            std::min(sizeof st, state.begin()->second.size()));
		s.policy_gen = st.policy_gen;
	}
	s.policy = dump_pinned(dir + "/" SPSEC_MAP_POLICY);
	for (const auto& [k, v] : dump_pinned(dir + "/" SPSEC_MAP_SNDRULE)) {
		std::uint32_t slot = 0;
		std::memcpy(&slot, k.data(), sizeof slot);
		if (slot / SPSEC_SENDER_RULES == (s.policy_gen & 1))
			s.snd_rules_live[k] = v;
	}
	s.snd_uids = dump_pinned(dir + "/" SPSEC_MAP_SNDUID);
	auto conf = dump_pinned(dir + "/" SPSEC_MAP_GW_CONF);
	if (conf.size() == 1)
		std::memcpy(&s.gw_word, conf.begin()->second.data(), sizeof s.gw_word);
	if (auto rules = read_pinned_gateway(dir))
		for (const auto& r : *rules) {
			const auto* b = reinterpret_cast<const unsigned char*>(&r.rule);
			s.gw_rules.emplace_back(b, b + sizeof r.rule);
		}
	const std::string seg_dir = dir + "/gw/" + segment;
	if (auto st = TcAttachment::query(segment, seg_dir))
		s.segment_mode = st->mode;
	s.segment_pins = exists(seg_dir + "/" + TcAttachment::kIngressLinkPin) ||
	                 exists(seg_dir + "/" + TcAttachment::kEgressLinkPin);
	// BPF_TCX_INGRESS, BPF_TCX_EGRESS (6.6+; a kernel without tcx answers EINVAL: none)
	for (const int type : {46, 47}) {
		__u32 flags = 0, count = 0;
		if (bpf_prog_query(static_cast<int>(if_nametoindex(segment)),
		                   static_cast<bpf_attach_type>(type), 0, &flags, nullptr,
		                   &count) == 0)
			s.segment_tcx += count;
	}
	return s;
}

// The running configuration: 0x123 and 0x124 secured, 0x123 sent by this node and only by uid
// 1000 (sender rule 1), no gateway.
Config running_config(const std::string& root)
{
	Config c = config_for("spt4", root);
	c.secured_ids = {CanId{0x123, false}, CanId{0x124, false}};
	c.transmit_ids = {CanId{0x123, false}};
	SenderRule r;
	r.ids = {CanId{0x123, false}};
	r.users = {"1000"};
	c.senders = {r};
	return c;
}
SenderTable running_senders()
{
	ResolvedSenderRule r;
	r.uids = {1000};
	return {r};
}

// The reload: other IDs and sender rule, and a gateway on the veth spg1 (0x123 from it to the
// secured bus).
Config gateway_config(const std::string& root)
{
	Config c = running_config(root);
	c.secured_ids = {CanId{0x123, false}, CanId{0x125, false}};
	c.gateway.segments = {GatewaySegment{"spg1", false, 1}};
	GatewayRule g;
	g.ids.value = 0x123;
	g.ids.mask = CAN_EFF_FLAG | CAN_SFF_MASK;
	g.ids.text = "0x123";
	g.direction = GatewayDirection::ToSecured;
	g.segment = "spg1";
	c.gateway.rules = {g};
	return c;
}
SenderTable gateway_senders()
{
	ResolvedSenderRule r;
	r.uids = {2000};
	return {r};
}

std::string describe(const Installed& s)
{
	return "policy gen " + std::to_string(s.policy_gen) + ", " +
	       std::to_string(s.policy.size()) + " policy entries, " +
	       std::to_string(s.snd_uids.size()) + " sender uids, gateway word " +
	       std::to_string(s.gw_word) + ", " + std::to_string(s.gw_rules.size()) +
	       " gateway rules, segment " +
	       (s.segment_mode ? attach_mode_name(*s.segment_mode) : "bare") +
	       (s.segment_pins ? " (pinned)" : "") + ", " + std::to_string(s.segment_tcx) +
	       " tcx programs on it";
}

}  // namespace

TEST_CASE("a reload that fails part-way leaves the running configuration in place",
          "[bpf][loader][reload]")
{
	const test::PrivateBpffs fs;
	if (!fs.mounted()) {
		WARN(fs.error());
		return;
	}
	test::VethPair veth("spt4", "spt5");
	test::VethPair seg("spg1", "spg2");
	if (!veth.created() || !seg.created()) {
		if (std::getenv("CI") != nullptr)
			FAIL("cannot create the veth pairs spt4/spt5, spg1/spg2");
		WARN("cannot create veth pairs: not tested here");
		return;
	}
	const std::string root = fs.path() + "/spsec";
	const std::string dir = root + "/spt4";
	const Logger log(2, LogLevel::Error, false, "dataplane_start_test");
	BpfDataPlane dp(log);
	{
		auto r = dp.open(running_config(root), running_senders());
		INFO((r ? std::string() : r.error().message()));
		REQUIRE(r);
	}
	const Installed before = installed(dir, "spg1");
	REQUIRE(before.policy.size() == 2);
	REQUIRE(before.snd_uids.size() == 1);
	REQUIRE_FALSE(before.segment_mode);
	REQUIRE(before.segment_tcx == 0);

	SECTION("can-gw refuses the new jobs (the host has no CAN): the last step fails")
	{
		auto r = dp.reconfigure(gateway_config(root), gateway_senders());
		REQUIRE_FALSE(r);
		INFO(r.error().message());
		CHECK_THAT(r.error().message(), Catch::Contains("rolled back"));
		const Installed after = installed(dir, "spg1");
		INFO("before: " << describe(before) << "; after: " << describe(after));
		CHECK(after == before);
	}
	SECTION("a sender rule on an ID this node does not send: refused before any change")
	{
		Config c = gateway_config(root);
		c.senders[0].ids = {CanId{0x125, false}};  // secured, but not a transmit ID
		auto r = dp.reconfigure(c, gateway_senders());
		REQUIRE_FALSE(r);
		INFO(r.error().message());
		CHECK_THAT(r.error().message(), Catch::Contains("does not stamp"));
		const Installed after = installed(dir, "spg1");
		INFO("before: " << describe(before) << "; after: " << describe(after));
		CHECK(after == before);
	}
	// and the data plane takes the next good reload
	Config next = running_config(root);
	next.secured_ids.push_back(CanId{0x126, false});
	auto ok = dp.reconfigure(next, running_senders());
	INFO((ok ? std::string() : ok.error().message()));
	REQUIRE(ok);
	const Installed later = installed(dir, "spg1");
	CHECK(later.policy_gen == (before.policy_gen ^ 1));
	CHECK(later.policy.size() == 3);
	CHECK(later.snd_uids.size() == 1);  // uid 1000, in the new generation's slot
	CHECK(later.gw_word == before.gw_word);
	dp.close();
	CHECK(veth.remove());
	CHECK(seg.remove());
}

namespace {

// The id of the BPF link pinned at `pin`, 0 when there is none.
std::uint32_t pinned_link_id(const std::string& pin)
{
	const int fd = bpf_obj_get(pin.c_str());
	if (fd < 0)
		return 0;
	bpf_link_info info{};
	__u32 len = sizeof info;
	const std::uint32_t id = bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.id : 0;
	::close(fd);
	return id;
}

// tcx programs on `ifname`'s ingress and egress (0 0 on a kernel without tcx).
std::pair<std::uint32_t, std::uint32_t> tcx_programs(const char* ifname)
{
	std::uint32_t n[2] = {0, 0};
	for (int d = 0; d < 2; d++) {
		__u32 flags = 0, count = 0;
		if (bpf_prog_query(static_cast<int>(if_nametoindex(ifname)),
		                   static_cast<bpf_attach_type>(46 + d), 0, &flags, nullptr,
		                   &count) == 0)
			n[d] = count;
	}
	return {n[0], n[1]};
}

}  // namespace

TEST_CASE("the segment programs stay after spsecd, in the secured interface's mode",
          "[bpf][loader][gateway]")
{
	const test::PrivateBpffs fs;
	if (!fs.mounted()) {
		WARN(fs.error());
		return;
	}
	test::VethPair veth("spt4", "spt5");
	std::optional<test::VethPair> seg;
	seg.emplace("spg1", "spg2");
	if (!veth.created() || !seg->created()) {
		if (std::getenv("CI") != nullptr)
			FAIL("cannot create the veth pairs spt4/spt5, spg1/spg2");
		WARN("cannot create veth pairs: not tested here");
		return;
	}
	const std::string root = fs.path() + "/spsec";
	const std::string dir = root + "/spt4";
	const std::string seg_dir = dir + "/gw/spg1";
	const std::string in_pin = seg_dir + "/" + TcAttachment::kIngressLinkPin;
	const Logger log(2, LogLevel::Error, false, "dataplane_start_test");
	// A classical segment: its rules need no can-gw job (spsecd's relay carries its frames),
	// so the set-up works on this host, which has no CAN.
	Config c = config_for("spt4", root);
	c.transmit_ids = {CanId{0x123, false}};
	c.gateway.segments = {GatewaySegment{"spg1", true, 1}};
	GatewayRule g;
	g.ids.value = 0x123;
	g.ids.mask = CAN_EFF_FLAG | CAN_SFF_MASK;
	g.ids.text = "0x123";
	g.segment = "spg1";
	c.gateway.rules = {g};
	auto tcx = tcx_supported(static_cast<int>(if_nametoindex("spt4")));
	REQUIRE(tcx);
	if (!*tcx)
		WARN("this kernel has no tcx: the tc mode only");

	{
		BpfDataPlane dp(log);
		auto r = dp.open(c, {});
		INFO((r ? std::string() : r.error().message()));
		REQUIRE(r);
		dp.close();
	}
	// spsecd has exited: the programs stay on the segment, attached like the secured
	// interface, their links (tcx) pinned
	auto sec = TcAttachment::query("spt4", dir);
	auto st = TcAttachment::query("spg1", seg_dir);
	REQUIRE(sec);
	REQUIRE(st);
	REQUIRE(st->mode);
	CHECK(st->mode == sec->mode);
	CHECK(st->ingress_prog_id != 0);
	CHECK(st->egress_prog_id != 0);
	const std::uint32_t link = pinned_link_id(in_pin);
	CHECK((link != 0) == *tcx);
	{
		// a restart swaps its programs into the same links, never a second pair
		BpfDataPlane dp(log);
		auto r = dp.open(c, {});
		INFO((r ? std::string() : r.error().message()));
		REQUIRE(r);
		auto again = TcAttachment::query("spg1", seg_dir);
		REQUIRE(again);
		CHECK(again->mode == st->mode);
		CHECK(again->ingress_prog_id != st->ingress_prog_id);
		CHECK(pinned_link_id(in_pin) == link);
		if (*tcx)
			CHECK(tcx_programs("spg1") == std::make_pair(1u, 1u));
		// the segment is deleted and made again: the defunct pins are replaced
		REQUIRE(seg->remove());
		seg.emplace("spg1", "spg2");
		REQUIRE(seg->created());
		auto back = dp.reattach_gateway(c);
		INFO((back ? std::string() : back.error().message()));
		REQUIRE(back);
		auto now = TcAttachment::query("spg1", seg_dir);
		REQUIRE(now);
		CHECK(now->mode == st->mode);
		CHECK(now->ingress_prog_id == again->ingress_prog_id);
		if (*tcx) {
			CHECK(pinned_link_id(in_pin) != link);
			CHECK(tcx_programs("spg1") == std::make_pair(1u, 1u));
		}
		dp.close();
	}
	CHECK(veth.remove());
	CHECK(seg->remove());
}
