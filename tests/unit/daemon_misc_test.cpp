// SPDX-License-Identifier: Apache-2.0
// sd_notify, the CAN control-plane filter, counter names and exports.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstddef>
#include <cstring>
#include <set>
#include <string>

#include "bpf/counters.h"
#include "bpf/kernel_features.h"
#include "bpf/tc_attachment.h"
#include "common/atomic_file.h"
#include "common/fd.h"
#include "daemon/can_port.h"
#include "daemon/sd_notify.h"
#include "daemon_test_util.h"
#include "fake_can_port.h"
#include "json_view.h"

using namespace spsec;
using spsec::test::TempDir;

namespace {

std::string recv_dgram(int fd)
{
	char buf[256];
	ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
	REQUIRE(n >= 0);
	return std::string(buf, static_cast<std::size_t>(n));
}

}  // namespace

TEST_CASE("sd_notify sends one datagram to a path or an abstract socket", "[daemon]")
{
	TempDir dir;
	std::string path = dir.file("notify");
	Fd s(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	sockaddr_un addr{};
	addr.sun_family = AF_UNIX;
	std::memcpy(addr.sun_path, path.c_str(), path.size());
	REQUIRE(::bind(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
	auto r = sd_notify_to(path, "READY=1");
	REQUIRE(r);
	CHECK(*r);
	CHECK(recv_dgram(s.get()) == "READY=1");

	// Abstract: '@' stands for the leading NUL, the length is exact.
	std::string name = "@spsec-test-" + std::to_string(::getpid());
	Fd a(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	sockaddr_un aa{};
	aa.sun_family = AF_UNIX;
	std::memcpy(aa.sun_path + 1, name.data() + 1, name.size() - 1);
	REQUIRE(::bind(a.get(), reinterpret_cast<sockaddr*>(&aa),
	               static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size())) == 0);
	REQUIRE(sd_notify_to(name, "STOPPING=1"));
	CHECK(recv_dgram(a.get()) == "STOPPING=1");

	auto none = sd_notify_to("", "READY=1");
	REQUIRE(none);
	CHECK_FALSE(*none);
	CHECK_FALSE(sd_notify_to("relative/path", "READY=1"));
	CHECK_FALSE(sd_notify_to(dir.file("absent"), "READY=1"));
}

TEST_CASE("the CAN receive filter passes exactly the control plane", "[daemon]")
{
	can_filter f = control_plane_filter();
	auto passes = [&](canid_t id) { return (id & f.can_mask) == (f.can_id & f.can_mask); };
	CHECK(passes(CAN_EFF_FLAG | 0x0AFF0805));                       // PA request
	CHECK(passes(CAN_EFF_FLAG | 0x02210900));                       // Sync broadcast
	CHECK(passes(CAN_EFF_FLAG | 0x12020A05));                       // heartbeat
	CHECK_FALSE(passes(CAN_EFF_FLAG | 0x00000181));                 // data plane, 29-bit
	CHECK_FALSE(passes(0x181));                                     // 11-bit
	CHECK_FALSE(passes(CAN_EFF_FLAG | CAN_RTR_FLAG | 0x02210900));  // RTR
	CHECK_FALSE(passes(0x02210900));  // bit 25 but not an extended frame

	FakeCanPort p;
	canfd_frame fr{};
	fr.can_id = CAN_EFF_FLAG | 0x02210900;
	p.inbox.push_back({fr, 7});
	REQUIRE(p.send(fr));
	CHECK(p.sent.size() == 1);
	auto got = p.receive();
	REQUIRE(got);
	REQUIRE(got->has_value());
	CHECK((*got)->frame.can_id == fr.can_id);
	CHECK((*got)->rx_ns == 7u);
	CHECK_FALSE(p.receive()->has_value());
}

TEST_CASE("every reason code has one unique name", "[daemon]")
{
	std::set<std::string_view> names;
	std::set<std::uint32_t> codes;
	for (const auto& r : reason_table()) {
		CHECK(r.code < SPSEC_R_MAX);
		CHECK(names.insert(r.name).second);
		CHECK(codes.insert(r.code).second);
		CHECK(r.name.substr(0, 2) == r.direction);
		CHECK(reason_info(r.code) == &r);
	}
	CHECK(reason_info(SPSEC_R_UNUSED0) == nullptr);
	CHECK(reason_info(SPSEC_R_RX_BAD_TAG)->name == "rx_bad_tag");
	CHECK(reason_info(SPSEC_R_TX_CONTROL_UNMARKED)->name == "tx_control_unmarked");
	// every code the data plane can count is in the table (SPSEC_REASONS is the one source)
	CHECK(codes.size() == SPSEC_R_COUNT);
	REQUIRE(reason_info(SPSEC_R_RX_INTERNAL) != nullptr);
	REQUIRE(reason_info(SPSEC_R_TX_INTERNAL) != nullptr);
	CHECK(reason_info(SPSEC_R_RX_INTERNAL)->name == "rx_internal");
	CHECK_FALSE(reason_info(SPSEC_R_TX_INTERNAL)->passed);
	std::uint64_t pass_mask = 0;
	for (const auto& r : reason_table())
		if (r.passed)
			pass_mask |= 1ull << r.code;
	CHECK(pass_mask == SPSEC_R_PASS_MASK);
}

TEST_CASE("counters render as text, JSON and Prometheus textfile", "[daemon]")
{
	CounterSnapshot s;
	s.by_reason[SPSEC_R_RX_OK] = 12;
	s.by_reason[SPSEC_R_RX_BAD_TAG] = 3;
	s.by_reason[SPSEC_R_TX_OK] = 18446744073709551615u;

	std::string text = format_counters_text(s, false);
	CHECK_THAT(text, Catch::Contains("rx_ok") && Catch::Contains("rx_bad_tag") &&
	                         !Catch::Contains("rx_replay"));
	CHECK(format_counters_text(CounterSnapshot{}, false) == "no frames counted yet\n");

	auto j = parse_json_view(format_counters_json(s, "can0"));
	REQUIRE(j);
	CHECK(j->find("interface")->as_string() == "can0");
	CHECK(j->find("attach")->text() == "null");  // not known: null, never a guess
	CHECK(parse_json_view(format_counters_json(s, "can0", "tcx"))
	              ->find("attach")
	              ->as_string() == "tcx");
	CHECK(j->find("aes")->text() == "null");
	CHECK(parse_json_view(format_counters_json(s, "can0", "tcx", "kernel"))
	              ->find("aes")
	              ->as_string() == "kernel");
	CHECK(j->find("counters")->find("rx_bad_tag")->as_u64() == 3u);
	CHECK(j->find("counters")->find("tx_ok")->as_u64() == 18446744073709551615u);
	CHECK(j->find("counters")->members().size() == reason_table().size());
	std::size_t passes = 0;
	for (const auto& r : reason_table())
		passes += r.passed ? 1 : 0;
	REQUIRE(j->find("passes") != nullptr);
	CHECK(j->find("passes")->items().size() == passes);

	std::string prom = format_prometheus(s, "ca\"n0");
	CHECK_THAT(prom, Catch::StartsWith("# HELP spsec_frames_total "));
	CHECK_THAT(prom, Catch::Contains("# TYPE spsec_frames_total counter\n"));
	CHECK_THAT(prom,
	           Catch::Contains("spsec_frames_total{interface=\"ca\\\"n0\",direction=\"rx\","
	                           "verdict=\"drop\",reason=\"rx_bad_tag\"} 3\n"));
	CHECK_THAT(prom, Catch::Contains("reason=\"tx_ok\"} 18446744073709551615\n"));
	std::size_t samples = 0;
	for (std::size_t p = 0; (p = prom.find("\nspsec_frames_total{", p)) != std::string::npos;
	     p++)
		samples++;
	CHECK(samples == reason_table().size());
	// the fail-closed internal drops are visible in every output
	s.by_reason[SPSEC_R_RX_INTERNAL] = 5;
	s.by_reason[SPSEC_R_TX_INTERNAL] = 6;
	CHECK_THAT(format_counters_text(s, false),
	           Catch::Contains("rx_internal") && Catch::Contains("tx_internal"));
	CHECK(parse_json_view(format_counters_json(s, "can0"))
	              ->find("counters")
	              ->find("tx_internal")
	              ->as_u64() == 6u);
	CHECK_THAT(format_prometheus(s, "can0"),
	           Catch::Contains("verdict=\"drop\",reason=\"rx_internal\"} 5\n"));
}

TEST_CASE("the attached gauge and the attach-mode state set", "[daemon]")
{
	CHECK(format_prometheus_attached("can0", "tcx") ==
	      "# HELP spsec_data_plane_attached 1 when the spsec programs are on the interface "
	      "(tcx "
	      "links or tc filters).\n# TYPE spsec_data_plane_attached gauge\n"
	      "spsec_data_plane_attached{interface=\"can0\"} 1\n"
	      "# HELP spsec_data_plane_attach_mode 1 for how the spsec programs are attached: tcx "
	      "links (6.6+, cannot be replaced by other tools) or tc filters.\n"
	      "# TYPE spsec_data_plane_attach_mode gauge\n"
	      "spsec_data_plane_attach_mode{interface=\"can0\",mode=\"tc\"} 0\n"
	      "spsec_data_plane_attach_mode{interface=\"can0\",mode=\"tcx\"} 1\n");
	const std::string tc = format_prometheus_attached("can0", "tc");
	CHECK_THAT(tc, Catch::Contains("attached{interface=\"can0\"} 1\n"));
	CHECK_THAT(tc, Catch::Contains("mode=\"tc\"} 1\n"));
	CHECK_THAT(tc, Catch::Contains("mode=\"tcx\"} 0\n"));
	const std::string none = format_prometheus_attached("c\"0", "");
	CHECK_THAT(none, Catch::Contains("attached{interface=\"c\\\"0\"} 0\n"));
	CHECK_THAT(none, Catch::Contains("mode=\"tc\"} 0\n"));
	CHECK_THAT(none, Catch::Contains("mode=\"tcx\"} 0\n"));
}

TEST_CASE("write_file_atomic replaces with the given mode", "[daemon]")
{
	TempDir dir;
	std::string path = dir.file("spsec.prom");
	REQUIRE(write_file_atomic(path, "a\n", 0644));
	REQUIRE(write_file_atomic(path, "b\n", 0644));
	CHECK(spsec::test::read_file(path) == "b\n");
	struct stat st {};
	REQUIRE(::stat(path.c_str(), &st) == 0);
	CHECK((st.st_mode & 0777) == 0644);
	CHECK(dir.entries() == std::vector<std::string>{"spsec.prom"});
	auto bad = write_file_atomic(dir.file("no/such/dir"), "x", 0644);
	REQUIRE_FALSE(bad);
	CHECK(bad.error().errno_value == ENOENT);
}

TEST_CASE("reading pinned counters names a missing pin", "[daemon]")
{
	TempDir dir;
	auto r = read_pinned_counters(dir.path());
	REQUIRE_FALSE(r);
	CHECK_THAT(r.error().message(), Catch::Contains("spsec_counters"));
}

TEST_CASE("SPSEC_ATTACH values: auto probes, tc and tcx force, anything else is named", "[daemon]")
{
	auto a = parse_attach_mode("auto");
	REQUIRE(a);
	CHECK_FALSE(a->has_value());
	auto tc = parse_attach_mode("tc");
	REQUIRE(tc);
	CHECK(**tc == AttachMode::Tc);
	auto tcx = parse_attach_mode("tcx");
	REQUIRE(tcx);
	CHECK(**tcx == AttachMode::Tcx);
	for (const char* bad : {"", "TCX", "tcx ", "xdp"}) {
		auto r = parse_attach_mode(bad);
		REQUIRE_FALSE(r);
		CHECK(r.error().errno_value == EINVAL);
		CHECK_THAT(r.error().message(), Catch::Contains(std::string("'") + bad + "'"));
	}
	CHECK(std::string(attach_mode_name(AttachMode::Tcx)) == "tcx");
	CHECK(std::string(attach_mode_name(AttachMode::Tc)) == "tc");
}

TEST_CASE("SPSEC_AES values: auto probes, bpf and kernel force, anything else is named", "[daemon]")
{
	auto a = parse_aes_impl("auto");
	REQUIRE(a);
	CHECK_FALSE(a->has_value());
	auto b = parse_aes_impl("bpf");
	REQUIRE(b);
	CHECK(**b == AesImpl::Bpf);
	auto k = parse_aes_impl("kernel");
	REQUIRE(k);
	CHECK(**k == AesImpl::Kernel);
	for (const char* bad : {"", "KERNEL", "kernel ", "aesni", "t-table"}) {
		auto r = parse_aes_impl(bad);
		REQUIRE_FALSE(r);
		CHECK(r.error().errno_value == EINVAL);
		CHECK_THAT(r.error().message(), Catch::Contains(std::string("'") + bad + "'"));
	}
	CHECK(std::string(aes_impl_name(AesImpl::Kernel)) == "kernel");
	CHECK(std::string(aes_impl_name(AesImpl::Bpf)) == "bpf");
}

TEST_CASE("the kernel's ecb(aes) driver from /proc/crypto: the lskcipher of highest priority",
          "[daemon]")
{
	// as a 6.12 kernel with aesni_intel shows it after the BPF crypto kfuncs made a context:
	// aesni's own skcipher ecb(aes) has the higher priority but is not what they use
	const std::string text = "name         : ecb(aes)\n"
	                         "driver       : ecb-aes-aesni\n"
	                         "module       : aesni_intel\n"
	                         "priority     : 400\n"
	                         "type         : skcipher\n"
	                         "\n"
	                         "name         : ecb(aes)\n"
	                         "driver       : ecb(aes-generic)\n"
	                         "priority     : 100\n"
	                         "type         : lskcipher\n"
	                         "\n"
	                         "name         : ecb(aes)\n"
	                         "driver       : ecb(aes-aesni)\n"
	                         "priority     : 300\n"
	                         "type         : lskcipher\n"
	                         "\n"
	                         "name         : aes\n"
	                         "driver       : aes-aesni\n"
	                         "priority     : 300\n"
	                         "type         : cipher\n";
	CHECK(aes_driver_from_proc_crypto(text) == "ecb(aes-aesni)");
	// no lskcipher: the best of any type; none at all: ""
	CHECK(aes_driver_from_proc_crypto(text.substr(0, text.find("name         : ecb(aes)\n"
	                                                           "driver       : ecb(aes-g"))) ==
	      "ecb-aes-aesni");
	CHECK(aes_driver_from_proc_crypto("name : aes\ndriver : aes-generic\npriority : 100\n")
	              .empty());
	CHECK(aes_driver_from_proc_crypto("").empty());
}
