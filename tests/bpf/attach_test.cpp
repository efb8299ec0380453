// SPDX-License-Identifier: Apache-2.0
// How the data plane is attached [bpf][attach]: tcx links where the kernel has them (>= 6.6),
// netlink tc filters otherwise or when forced, through spsecd's own code path (BpfDataPlane) and
// TcAttachment. Root, a private bpffs and veth pairs (no CAN on the host: the programs count a
// non-CAN skb as rx_malformed / tx_malformed and drop it, which is how these tests see them run).
#include <catch2/catch.hpp>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/socket.h>

#include "bpf/data_plane.h"
#include "bpf/kernel_features.h"
#include "bpf/tc_attachment.h"
#include "common/fd.h"
#include "daemon/bpf_data_plane.h"
#include "host_env.h"

using namespace spsec;

namespace {

const bool g_gate = test::skip_binary_unless_bpf();

constexpr auto kTcxIngress = static_cast<bpf_attach_type>(46);  // BPF_TCX_INGRESS (6.6 UAPI)

// tcx came with Linux 6.6: what the probe must find on the running kernel.
bool kernel_has_tcx()
{
	utsname u{};
	if (uname(&u) != 0)
		return false;
	int major = 0, minor = 0;
	if (std::sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return false;
	return major > 6 || (major == 6 && minor >= 6);
}

bool exists(const std::string& p)
{
	struct stat st {};
	return ::stat(p.c_str(), &st) == 0;
}

unsigned prog_id(int prog_fd)
{
	bpf_prog_info info{};
	__u32 len = sizeof info;
	return bpf_obj_get_info_by_fd(prog_fd, &info, &len) == 0 ? info.id : 0;
}

// The ID of the link pinned at `pin`, 0 when there is none.
unsigned link_id(const std::string& pin)
{
	const Fd fd(bpf_obj_get(pin.c_str()));
	if (!fd.valid())
		return 0;
	bpf_link_info info{};
	__u32 len = sizeof info;
	return bpf_obj_get_info_by_fd(fd.get(), &info, &len) == 0 ? info.id : 0;
}

// Programs on the interface's tcx ingress chain, whoever attached them.
unsigned tcx_ingress_count(const char* ifname)
{
	__u32 flags = 0, count = 0;
	const unsigned idx = if_nametoindex(ifname);
	if (idx == 0 ||
	    bpf_prog_query(static_cast<int>(idx), kTcxIngress, 0, &flags, nullptr, &count) != 0)
		return 0;
	return count;
}

// A veth pair both ends up, without IPv6 (whose router solicitations would be counted too).
struct QuietVeth {
	test::VethPair pair;
	bool up = false;
	QuietVeth(const char* a, const char* b) : pair(a, b)
	{
		if (!pair.created())
			return;
		for (const char* dev : {a, b})  // absent where IPv6 is off altogether: fine
			(void)std::system((std::string("sysctl -qw net.ipv6.conf.") + dev +
			                   ".disable_ipv6=1 >/dev/null 2>&1")
			                          .c_str());
		up = std::system(
		             (std::string("ip link set ") + a + " up && ip link set " + b + " up")
		                     .c_str()) == 0;
	}
};

// Sends one Ethernet frame (not CAN) out of `ifname`. The spsec egress program drops it, so
// sendto may report ENOBUFS: only the counters tell.
void send_ethernet(const char* ifname)
{
	const Fd s(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
	REQUIRE(s.valid());
	sockaddr_ll to{};
	to.sll_family = AF_PACKET;
	to.sll_ifindex = static_cast<int>(if_nametoindex(ifname));
	to.sll_halen = ETH_ALEN;
	unsigned char frame[60] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02,
	                           0,    0,    0,    0,    1,    0x88, 0xb5};
	(void)::sendto(s.get(), frame, sizeof frame, 0, reinterpret_cast<const sockaddr*>(&to),
	               sizeof to);
}

std::uint64_t count_of(BpfDataPlane& dp, std::uint32_t reason)
{
	auto c = dp.counters();
	REQUIRE(c);
	return c->by_reason[reason];
}

// The ingress of a veth runs in softirq context after the peer's send returned: wait for the
// counter to reach `want`, bounded (the bound is not the assertion).
bool wait_count(BpfDataPlane& dp, std::uint32_t reason, std::uint64_t want)
{
	const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
	while (count_of(dp, reason) < want) {
		if (std::chrono::steady_clock::now() > end)
			return false;
		::usleep(1000);
	}
	return true;
}

// Both programs run on `dev` (egress: a frame sent out of it; ingress: one sent by its peer).
void check_programs_run(BpfDataPlane& dp, const char* dev, const char* peer)
{
	const std::uint64_t tx = count_of(dp, SPSEC_R_TX_MALFORMED);
	const std::uint64_t rx = count_of(dp, SPSEC_R_RX_MALFORMED);
	send_ethernet(dev);
	CHECK(count_of(dp, SPSEC_R_TX_MALFORMED) == tx + 1);
	send_ethernet(peer);
	CHECK(wait_count(dp, SPSEC_R_RX_MALFORMED, rx + 1));
	CHECK(count_of(dp, SPSEC_R_RX_MALFORMED) == rx + 1);
}

Config config_for(const std::string& ifname, const std::string& root)
{
	Config c;
	c.interface = ifname;
	c.pin_dir = root + "/" + ifname;
	c.secured_ids = {CanId{0x123, false}};
	return c;
}

std::string read_all(const std::string& path)
{
	std::ifstream f(path);
	std::stringstream ss;
	ss << f.rdbuf();
	return ss.str();
}

}  // namespace

TEST_CASE("the tcx probe answers as the running kernel's version says", "[bpf][attach]")
{
	auto tcx = tcx_supported(1);  // lo
	INFO((tcx ? std::string() : tcx.error().message()));
	REQUIRE(tcx);
	CHECK(*tcx == kernel_has_tcx());
	auto none = tcx_supported(999999);
	if (kernel_has_tcx()) {  // older kernels refuse the attach type before the interface
		REQUIRE_FALSE(none);
		CHECK(none.error().errno_value == ENODEV);
	}
	// The crypto kfunc probe answers (6.10 and newer have them; the answer is reported only).
	auto k = crypto_kfuncs_available();
	INFO((k ? std::string() : k.error().message()));
	CHECK(k);
}

TEST_CASE("spsecd attaches with tcx links where the kernel has them, netlink tc when forced",
          "[bpf][attach]")
{
	const test::PrivateBpffs fs;
	if (!fs.mounted()) {
		WARN(fs.error());
		return;
	}
	QuietVeth veth("spt6", "spt7");
	if (!veth.up) {
		if (std::getenv("CI") != nullptr)  // under CI a skipped test is a failure
			FAIL("cannot create and raise the veth pair spt6/spt7");
		WARN("cannot create a veth pair: attachment not tested here (the vm tier tests "
		     "it)");
		return;
	}
	const std::string root = fs.path() + "/spsec";
	const std::string dir = root + "/spt6";
	const std::string in_pin = dir + "/" + TcAttachment::kIngressLinkPin;
	const std::string eg_pin = dir + "/" + TcAttachment::kEgressLinkPin;
	char tmpl[] = "/tmp/spsec-attach-log-XXXXXX";
	const Fd logfd(::mkstemp(tmpl));
	REQUIRE(logfd.valid());
	const std::string logpath = tmpl;
	const Logger log(logfd.get(), LogLevel::Info, false, "attach_test");
	const Config cfg = config_for("spt6", root);
	const AttachMode expect = kernel_has_tcx() ? AttachMode::Tcx : AttachMode::Tc;

	unsigned first_in_link = 0;
	{
		BpfDataPlane dp(log);
		auto r = dp.open(cfg, {});
		INFO((r ? std::string() : r.error().message()));
		REQUIRE(r);
		CHECK(dp.features().attach == attach_mode_name(expect));
		CHECK_THAT(read_all(logpath),
		           Catch::Contains(std::string("(attach ") + attach_mode_name(expect)));
		auto st = TcAttachment::query("spt6", dir);
		REQUIRE(st);
		REQUIRE(st->mode == expect);
		CHECK(st->ingress_prog_id != 0);
		CHECK(st->egress_prog_id != 0);
		check_programs_run(dp, "spt6", "spt7");
		if (expect == AttachMode::Tcx) {
			CHECK(exists(in_pin));
			CHECK(exists(eg_pin));
			first_in_link = link_id(in_pin);
			// No tc filter next to the links.
			auto tc_only = TcAttachment::query("spt6", "");
			REQUIRE(tc_only);
			CHECK_FALSE(tc_only->mode);
			// What tcx changes: deleting the clsact qdisc (all a tc user can do) leaves
			// the programs in place.
			(void)std::system("tc qdisc del dev spt6 clsact >/dev/null 2>&1");
			auto after = TcAttachment::query("spt6", dir);
			REQUIRE(after);
			CHECK(after->mode == AttachMode::Tcx);
			CHECK(after->ingress_prog_id == st->ingress_prog_id);
			check_programs_run(dp, "spt6", "spt7");
		}
		dp.close();
		// Fail closed: the programs stay after spsecd is gone (tcx: by their pins).
		auto closed = TcAttachment::query("spt6", dir);
		REQUIRE(closed);
		CHECK(closed->mode == expect);
		CHECK(closed->ingress_prog_id == st->ingress_prog_id);
	}
	if (expect != AttachMode::Tcx) {
		WARN("this kernel has no tcx: the tcx half is tested in the vm tier (6.12)");
		return;
	}

	SECTION("a restarted spsecd updates the pinned links in place; the interface comes back")
	{
		BpfDataPlane dp(log);
		const unsigned before = TcAttachment::query("spt6", dir)->ingress_prog_id;
		REQUIRE(dp.open(cfg, {}));
		auto st = TcAttachment::query("spt6", dir);
		REQUIRE(st);
		CHECK(st->mode == AttachMode::Tcx);
		CHECK(st->ingress_prog_id != before);     // the new program ...
		CHECK(link_id(in_pin) == first_in_link);  // ... in the same link
		CHECK(tcx_ingress_count("spt6") == 1u);   // not a second one beside it
		check_programs_run(dp, "spt6", "spt7");

		// The interface vanishes and returns (a USB adapter re-plugged): the pinned link is
		// defunct, the re-attach replaces it on the new device, same pinned maps.
		dp.lost_interface();
		REQUIRE(veth.pair.remove());
		QuietVeth again("spt6", "spt7");
		REQUIRE(again.up);
		auto gone = TcAttachment::query("spt6", dir);
		REQUIRE(gone);
		CHECK_FALSE(gone->mode);  // a defunct link's pin is not an attachment
		auto r = dp.reattach(cfg);
		INFO((r ? std::string() : r.error().message()));
		REQUIRE(r);
		CHECK(dp.features().attach == "tcx");
		auto back = TcAttachment::query("spt6", dir);
		REQUIRE(back);
		CHECK(back->mode == AttachMode::Tcx);
		CHECK(link_id(in_pin) != first_in_link);
		check_programs_run(dp, "spt6", "spt7");
		dp.close();
	}
	// Opens dp with c and checks it is attached with `want` (status and kernel) and filters.
	auto opens_with = [&](BpfDataPlane& dp, const Config& c, AttachMode want) {
		auto r = dp.open(c, {});
		INFO((r ? std::string() : r.error().message()));
		REQUIRE(r);
		CHECK(dp.features().attach == attach_mode_name(want));
		auto st = TcAttachment::query("spt6", dir);
		REQUIRE(st);
		CHECK(st->mode == want);
		check_programs_run(dp, "spt6", "spt7");
	};
	SECTION("forced tc (SPSEC_ATTACH=tc) uses netlink tc and takes the tcx links away")
	{
		BpfDataPlane dp(log, AttachPref::Tc);
		opens_with(dp, cfg, AttachMode::Tc);
		CHECK_FALSE(exists(in_pin));
		CHECK_FALSE(exists(eg_pin));
		CHECK(tcx_ingress_count("spt6") == 0u);
		dp.close();
		// And back to auto: tcx links again, the tc filters removed behind them.
		BpfDataPlane dp2(log);
		opens_with(dp2, cfg, AttachMode::Tcx);
		auto tc_only = TcAttachment::query("spt6", "");
		REQUIRE(tc_only);
		CHECK_FALSE(tc_only->mode);
		dp2.close();
	}
	SECTION("the configuration's attach: tc forces tc; SPSEC_ATTACH=auto overrides it")
	{
		Config tc_cfg = cfg;
		tc_cfg.attach = AttachPref::Tc;
		BpfDataPlane dp(log);
		opens_with(dp, tc_cfg, AttachMode::Tc);
		dp.close();
		// the environment's auto wins over the file's tc: probed, tcx here
		BpfDataPlane dp2(log, AttachPref::Auto);
		opens_with(dp2, tc_cfg, AttachMode::Tcx);
		dp2.close();
	}
	::unlink(logpath.c_str());
}

TEST_CASE("TcAttachment with tcx links: pinned, detached, unpinned ones go with the object",
          "[bpf][attach]")
{
	const test::PrivateBpffs fs;
	if (!fs.mounted()) {
		WARN(fs.error());
		return;
	}
	QuietVeth veth("spt8", "spt9");
	if (!veth.up) {
		if (std::getenv("CI") != nullptr)
			FAIL("cannot create and raise the veth pair spt8/spt9");
		WARN("cannot create a veth pair: not tested here");
		return;
	}
	LoadOptions lo;
	lo.pin = false;
	auto a = load_data_plane("spt8", lo);
	REQUIRE(a);
	const int in = bpf_program__fd(a->skel->progs.spsec_ingress);
	const int eg = bpf_program__fd(a->skel->progs.spsec_egress);
	if (!kernel_has_tcx()) {
		// SPSEC_ATTACH=tcx on an older kernel: refused with the reason, nothing attached.
		AttachOptions forced;
		forced.mode = AttachMode::Tcx;
		forced.link_pin_dir = fs.path();
		auto r = TcAttachment::attach("spt8", in, eg, forced);
		REQUIRE_FALSE(r);
		CHECK(r.error().errno_value == EOPNOTSUPP);
		CHECK_THAT(r.error().message(), Catch::Contains("spt8") &&
		                                        Catch::Contains("no tcx") &&
		                                        Catch::Contains("6.6"));
		auto st = TcAttachment::query("spt8", fs.path());
		REQUIRE(st);
		CHECK_FALSE(st->mode);
		WARN("this kernel has no tcx (Linux 6.6 or newer): the tcx cases run on 6.6 and "
		     "newer");
		return;
	}
	AttachOptions opts;
	opts.mode = AttachMode::Tcx;
	opts.link_pin_dir = fs.path();
	{
		auto att = TcAttachment::attach("spt8", in, eg, opts);
		INFO((att ? std::string() : att.error().message()));
		REQUIRE(att);
		CHECK(att->mode() == AttachMode::Tcx);
		CHECK_FALSE(att->created_qdisc());
		auto st = TcAttachment::query("spt8", fs.path());
		REQUIRE(st);
		CHECK(st->mode == AttachMode::Tcx);
		CHECK(st->ingress_prog_id == prog_id(in));
		CHECK(st->egress_prog_id == prog_id(eg));
		REQUIRE(att->detach());
		CHECK_FALSE(exists(fs.path() + "/" + TcAttachment::kIngressLinkPin));
		auto none = TcAttachment::query("spt8", fs.path());
		REQUIRE(none);
		CHECK_FALSE(none->mode);
		CHECK(tcx_ingress_count("spt8") == 0u);
		REQUIRE(att->detach());  // idempotent
	}
	{
		AttachOptions unpinned;
		unpinned.mode = AttachMode::Tcx;
		auto att = TcAttachment::attach("spt8", in, eg, unpinned);
		REQUIRE(att);
		CHECK(tcx_ingress_count("spt8") == 1u);
	}
	CHECK(tcx_ingress_count("spt8") == 0u);  // the object took its links with it
	auto bad = TcAttachment::attach("spt8", in, -1, opts);
	REQUIRE_FALSE(bad);
	CHECK_THAT(bad.error().message(), Catch::Contains("tcx egress link") &&
	                                          Catch::Contains("spt8") &&
	                                          Catch::Contains("ingress link stays"));
	// Fail closed: the ingress link made before the egress failed stays, pinned.
	CHECK(tcx_ingress_count("spt8") == 1u);
	CHECK(exists(fs.path() + "/" + TcAttachment::kIngressLinkPin));
}
