// SPDX-License-Identifier: Apache-2.0
// The gateway's classical relay (daemon/gateway_relay.h): which sockets it needs and with which
// receive filters, which rule a frame falls under, and the frame conversions. The sockets
// themselves run in the vm tier (vm_gateway_classic).
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <map>

#include "core/config.h"
#include "daemon/daemon.h"
#include "daemon/gateway_relay.h"
#include "daemon_test_util.h"
#include "fake_can_port.h"
#include "fake_clock.h"
#include "fake_data_plane.h"
#include "spsec/abi.h"

using namespace spsec;

namespace {

const std::string kConfig =
        "interface: can0\n"
        "participant_id: 5\n"
        "aead: aes-gcm\n"
        "data_bitrate: 2000000\n"
        "key_store: /var/lib/spsec/keys\n"
        "secured_ids: [0x120, 0x121, 0x122, 0x123, 0x200, 0x201, 0x00001234, 0x00001235]\n"
        "transmit_ids: [0x120, 0x121, 0x122, 0x123, 0x00001234]\n"
        "gateway:\n"
        "  segments:\n"
        "    - {name: can1}\n"
        "    - {name: can2, frames: classic}\n"
        "    - {name: can3, frames: classic}\n"
        "  rules:\n"
        "    - {ids: 0x120-0x123, direction: to_secured, segment: can1}\n"
        "    - {ids: 0x200/0x7FE, direction: to_plain, segment: can1}\n"
        "    - {ids: 0x00001234, direction: to_secured, segment: can2}\n"
        "    - {ids: 0x201, direction: to_plain, segment: can2}\n"
        "    - {ids: 0x00001235, direction: to_plain, segment: can2}\n"
        "    - {ids: 0x200, direction: to_plain, segment: can3}\n";

GatewayConfig parsed()
{
	auto c = parse_config(kConfig, "gw.yaml");
	INFO((c ? std::string() : c.error().context));
	REQUIRE(c);
	return c->gateway;
}

// spsecd with a gateway section on fakes; `events` collects the event lines.
struct GwDaemon {
	spsec::test::TempDir dir;
	Logger log{-1, LogLevel::Error, false};
	FakeClock clock{7'000'000'000};
	FakeDataPlane dp;
	std::vector<std::string> events;
	std::unique_ptr<Daemon> d;

	GwDaemon()
	{
		spsec::test::write_file(
		        dir.file("keys"),
		        "format = 1\n"
		        "seed.key = "
		        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
		        "seed.salt = 0102030405060708\n"
		        "seed.id = 0x00000042\n",
		        0600);
		spsec::test::write_file(dir.file("spsecd.yaml"),
		                        "interface: vcan0\n"
		                        "participant_id: 5\n"
		                        "aead: aes-gcm\n"
		                        "data_bitrate: 1000000\n"
		                        "key_store: " +
		                                dir.file("keys") +
		                                "\ncontrol_socket: " + dir.file("ctl.sock") +
		                                "\npin_dir: " + dir.file("pins") +
		                                "\nsecured_ids: [0x120, 0x200]\n"
		                                "transmit_ids: [0x120]\n"
		                                "gateway:\n"
		                                "  segments:\n"
		                                "    - {name: seg1, frames: classic}\n"
		                                "  rules:\n"
		                                "    - {ids: 0x120, direction: to_secured, "
		                                "segment: seg1}\n"
		                                "    - {ids: 0x200, direction: to_plain, "
		                                "segment: seg1}\n");
		DaemonDeps deps;
		deps.log = &log;
		deps.clock = &clock;
		deps.data_plane = &dp;
		deps.open_can = [](const std::string&) -> Result<std::unique_ptr<CanPort>> {
			return std::make_unique<FakeCanPort>();
		};
		deps.notify = [](std::string_view) -> Result<bool> { return true; };
		deps.key_owner = ::geteuid();
		deps.state_dir = dir.path();
		deps.handle_signals = false;
		deps.realtime_ns = [] { return std::uint64_t{0}; };
		deps.on_event = [this](std::string_view l) { events.emplace_back(l); };
		d = std::make_unique<Daemon>(std::move(deps), dir.file("spsecd.yaml"));
	}
	[[nodiscard]] std::size_t seen(std::string_view name) const
	{
		std::size_t n = 0;
		for (const auto& e : events)
			if (e.find(cat("\"event\":\"", name, "\"")) != std::string::npos)
				n++;
		return n;
	}
	[[nodiscard]] std::size_t calls(std::string_view name) const
	{
		return static_cast<std::size_t>(std::count(dp.calls.begin(), dp.calls.end(), name));
	}
};

// The IDs a receive filter list passes, among `ids` (CAN_RAW: any filter matches).
std::vector<canid_t> passed(const std::vector<can_filter>& fs, const std::vector<canid_t>& ids)
{
	std::vector<canid_t> out;
	for (canid_t id : ids)
		for (const can_filter& f : fs)
			if ((id & f.can_mask) == (f.can_id & f.can_mask)) {
				out.push_back(id);
				break;
			}
	return out;
}

}  // namespace

TEST_CASE("the relay's sockets: to_secured rules of every segment, to_plain of classical ones",
          "[daemon][gateway]")
{
	const RelayPlan p = plan_relay(parsed());
	REQUIRE(p.segments.size() == 3u);
	CHECK(p.segments[0].name == "can1");
	CHECK_FALSE(p.segments[0].classic);
	CHECK_FALSE(p.segments[0].to_plain);  // a CAN FD segment's to_plain frames are can-gw's
	CHECK(p.segments[1].name == "can2");
	CHECK(p.segments[1].classic);
	CHECK(p.segments[1].to_plain);
	CHECK(p.segments[2].name == "can3");
	CHECK(p.segments[2].to_secured.empty());  // write-only
	CHECK(p.segments[2].to_plain);

	const std::vector<canid_t> ids = {0x11F,
	                                  0x120,
	                                  0x123,
	                                  0x124,
	                                  0x200,
	                                  0x201,
	                                  0x202,
	                                  0x120 | CAN_RTR_FLAG,
	                                  0x1234 | CAN_EFF_FLAG,
	                                  0x1235 | CAN_EFF_FLAG,
	                                  0x1234,
	                                  0x201 | CAN_EFF_FLAG};
	CHECK(passed(p.segments[0].to_secured, ids) == std::vector<canid_t>{0x120, 0x123});
	CHECK(passed(p.segments[1].to_secured, ids) == std::vector<canid_t>{0x1234 | CAN_EFF_FLAG});
	// from the secured side: the to_plain rules of can2 and can3, not can1's
	CHECK(passed(p.from_secured, ids) ==
	      std::vector<canid_t>{0x200, 0x201, 0x1235 | CAN_EFF_FLAG});
}

TEST_CASE("a frame's rule: direction and segment, data frames only", "[daemon][gateway]")
{
	const GatewayConfig g = parsed();
	using D = GatewayDirection;
	CHECK(relay_rule(g, D::ToSecured, "can1", 0x121) == 0);
	CHECK(relay_rule(g, D::ToSecured, "can2", 0x121) == -1);
	CHECK(relay_rule(g, D::ToSecured, "can2", 0x1234 | CAN_EFF_FLAG) == 2);
	CHECK(relay_rule(g, D::ToSecured, "can2", 0x1234) == -1);  // 11-bit 0x234 after masking
	CHECK(relay_rule(g, D::ToPlain, "can2", 0x201) == 3);
	CHECK(relay_rule(g, D::ToPlain, "can3", 0x200) == 5);
	CHECK(relay_rule(g, D::ToPlain, "can3", 0x201) == -1);
	CHECK(relay_rule(g, D::ToPlain, "can1", 0x201) == 1);
	CHECK(relay_rule(g, D::ToSecured, "can1", 0x121 | CAN_RTR_FLAG) == -1);
	CHECK(relay_rule(g, D::ToSecured, "can1", 0x121 | CAN_ERR_FLAG) == -1);
	CHECK(relay_rule(g, D::ToSecured, "can2", 0x1234 | CAN_EFF_FLAG | SPSEC_CTRL_BIT) == -1);
}

TEST_CASE("classical to CAN FD and back: ID and data as they were", "[daemon][gateway]")
{
	canfd_frame rx{};
	rx.can_id = 0x121;
	rx.len = 2;
	rx.flags = 0;
	rx.data[0] = 0xCA;
	rx.data[1] = 0xFE;
	rx.data[2] = 0x55;  // beyond len: not carried
	const canfd_frame fd = relay_to_fd(rx);
	CHECK(fd.can_id == 0x121u);
	CHECK(fd.len == 2u);
	CHECK(fd.flags == 0u);
	CHECK(fd.data[0] == 0xCA);
	CHECK(fd.data[1] == 0xFE);
	CHECK(fd.data[2] == 0);

	canfd_frame v{};
	v.can_id = 0x1235 | CAN_EFF_FLAG;
	v.len = 8;
	v.flags = CANFD_BRS;
	for (std::uint8_t i = 0; i < 8; i++)
		v.data[i] = static_cast<std::uint8_t>(0xA0 + i);
	auto c = relay_to_classical(v);
	REQUIRE(c);
	CHECK(c->can_id == (0x1235u | CAN_EFF_FLAG));
	CHECK(c->len == 8u);
	CHECK(c->len8_dlc == 0u);
	CHECK(std::memcmp(c->data, v.data, 8) == 0);
	v.len = 12;  // does not fit a classical frame
	CHECK_FALSE(relay_to_classical(v));
	v.len = 0;
	REQUIRE(relay_to_classical(v));
	CHECK(relay_to_classical(v)->len == 0u);
}

TEST_CASE("a gateway segment that goes and comes back is set up again", "[daemon][gateway][link]")
{
	GwDaemon g;
	REQUIRE(g.d->start());
	// seg1 does not exist in the test's namespace: spsecd knows it as gone (ifindex 0)
	g.d->on_link_events({{LinkEvent::Kind::Added, 7, "seg1", true}});
	CHECK(g.calls("reattach_gateway") == 1u);
	CHECK(g.seen("segment_attached") == 1u);
	// a flag change of the known segment, another interface: nothing
	g.d->on_link_events({{LinkEvent::Kind::Added, 7, "seg1", false}});
	g.d->on_link_events({{LinkEvent::Kind::Added, 8, "other", true}});
	CHECK(g.calls("reattach_gateway") == 1u);
	// gone (the removal may carry the old ifindex only), then back under a new ifindex
	g.d->on_link_events({{LinkEvent::Kind::Removed, 7, "", false}});
	CHECK(g.seen("segment_detached") == 1u);
	CHECK(g.d->data_plane_attached());  // the secured interface is not affected
	// the first set-up fails: no event, retried at the next link event
	g.dp.fail_reattach = true;
	g.d->on_link_events({{LinkEvent::Kind::Added, 9, "seg1", false}});
	CHECK(g.calls("reattach_gateway") == 2u);
	CHECK(g.seen("segment_attached") == 1u);
	g.dp.fail_reattach = false;
	g.d->on_link_events({{LinkEvent::Kind::Added, 9, "seg1", true}});
	CHECK(g.calls("reattach_gateway") == 3u);
	CHECK(g.seen("segment_attached") == 2u);
	// the secured interface's events still go their way
	g.d->on_link_events({{LinkEvent::Kind::Removed, 0, "vcan0", false}});
	CHECK_FALSE(g.d->data_plane_attached());
	// while it is away a segment's return waits for its re-attach (which sets up the gateway)
	g.d->on_link_events({{LinkEvent::Kind::Removed, 9, "seg1", false}});
	g.d->on_link_events({{LinkEvent::Kind::Added, 11, "seg1", true}});
	CHECK(g.calls("reattach_gateway") == 3u);
	g.d->teardown();
}

namespace {

// The pinned map spsec_gw_relay as the relay sees it: per rule, with the reads and writes
// counted and a write that can be made to fail.
struct FakeRelayStore final : RelayCountStore {
	FakeRelayStore(std::map<std::uint32_t, RelayRuleCount>* m, int* r, int* w, bool* f)
	    : map(m), reads(r), writes(w), fail_writes(f)
	{
	}
	std::map<std::uint32_t, RelayRuleCount>* map;
	int* reads;
	int* writes;
	bool* fail_writes;
	[[nodiscard]] Result<RelayRuleCount> read(std::uint32_t rule) const override
	{
		++*reads;
		return (*map)[rule];
	}
	[[nodiscard]] Result<void> write(std::uint32_t rule, const RelayRuleCount& c) override
	{
		if (*fail_writes)
			return fail_errno(EBADF,
			                  "writing spsec_gw_relay rule " + std::to_string(rule));
		++*writes;
		(*map)[rule] = c;
		return {};
	}
};

}  // namespace

TEST_CASE("the relay's counts: resumed from the store, written back per changed rule",
          "[daemon][gateway]")
{
	std::map<std::uint32_t, RelayRuleCount> map;
	int reads = 0, writes = 0;
	bool fail_writes = false;
	auto store = [&] {
		return std::make_unique<FakeRelayStore>(&map, &reads, &writes, &fail_writes);
	};
	// a previous spsecd left these; rule 1 is not the relay's (a CAN FD segment's to_plain)
	map[0] = {10, 0, 1};
	map[1] = {99, 99, 99};
	map[3] = {5, 2, 0};
	const std::vector<bool> served = {true, false, true, true};
	{
		auto c = RelayCounts::resume(served, store());
		REQUIRE(c);
		CHECK(reads == 3);  // the served rules only
		CHECK(c->counts()[0] == RelayRuleCount{10, 0, 1});
		CHECK(c->counts()[1] == RelayRuleCount{});
		CHECK(c->counts()[3] == RelayRuleCount{5, 2, 0});
		CHECK(c->add_relayed(0) == 10);
		CHECK(c->add_relayed(0) == 11);
		CHECK(c->add_too_long(3) == 2);
		CHECK(c->add_refused(2) == 0);              // the first: the relay logs it
		CHECK(map[0] == RelayRuleCount{10, 0, 1});  // nothing written before the flush
		REQUIRE(c->flush());
		CHECK(writes == 3);  // rules 0, 2, 3: one write each
		CHECK(map[0] == RelayRuleCount{12, 0, 1});
		CHECK(map[2] == RelayRuleCount{0, 0, 1});
		CHECK(map[3] == RelayRuleCount{5, 3, 0});
		CHECK(map[1] == RelayRuleCount{99, 99, 99});  // untouched
		REQUIRE(c->flush());
		CHECK(writes == 3);  // nothing changed, nothing written

		// a failed write keeps the rule changed for the next flush
		c->add_refused(0);
		fail_writes = true;
		auto f = c->flush();
		REQUIRE_FALSE(f);
		CHECK_THAT(f.error().message(), Catch::Contains("gateway rule 0"));
		CHECK(map[0] == RelayRuleCount{12, 0, 1});
		fail_writes = false;
		REQUIRE(c->flush());
		CHECK(map[0] == RelayRuleCount{12, 0, 2});
	}
	// spsecd restarted (or the relay re-opened on a reload): the counts go on
	auto again = RelayCounts::resume(served, store());
	REQUIRE(again);
	CHECK(again->counts()[0] == RelayRuleCount{12, 0, 2});
	CHECK(again->counts()[3] == RelayRuleCount{5, 3, 0});

	// without a store: from 0, in memory
	auto mem = RelayCounts::resume(served, nullptr);
	REQUIRE(mem);
	CHECK(mem->counts()[0] == RelayRuleCount{});
	mem->add_relayed(0);
	REQUIRE(mem->flush());
	CHECK(mem->counts()[0] == RelayRuleCount{1, 0, 0});
}

TEST_CASE("the relay does not open when its counts cannot be resumed", "[daemon][gateway]")
{
	auto c = parse_config(kConfig, "gw.yaml");
	REQUIRE(c);
	const Logger log{-1, LogLevel::Error, false};
	auto r = GatewayRelay::open(*c, log, []() -> Result<std::unique_ptr<RelayCountStore>> {
		return fail_errno(ENOENT, "opening /sys/fs/bpf/spsec/can0/spsec_gw_relay");
	});
	REQUIRE_FALSE(r);
	CHECK_THAT(r.error().message(),
	           Catch::Contains("gateway relay") && Catch::Contains("spsec_gw_relay"));
}
