// SPDX-License-Identifier: Apache-2.0
// spsecd's clock against the frames' receive times: Parameter Authentication and Sync broadcasts
// use the time a frame arrived, never the time spsecd got round to it; a clock found behind the
// Sync's right after PA runs PA again; peers' clock offsets from their heartbeats' stamps. On the
// in-process bus of daemon_bus_fixture.h, where every frame is stamped with the fake clock when
// it is delivered.
#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "core/hex.h"
#include "core/key_schedule.h"
#include "core/messages.h"
#include "ctl/commands.h"
#include "daemon/can_port.h"
#include "daemon/daemon.h"
#include "daemon_bus_fixture.h"
#include "json_view.h"
#include "test_util.h"

using namespace spsec;
using namespace spsec::test;

namespace {

// Heartbeats every 250 ms, each watching the other.
struct MonitoredPair : SyncAndParticipant {
	MonitoredPair()
	    : SyncAndParticipant("{cycle: 250ms, monitor: [5]}", "{cycle: 250ms, monitor: [1]}")
	{
	}
};

}  // namespace

namespace {

std::uint64_t now_t(Node& n)
{
	return n.d->sync_clock()->now_t();
}

// A Sync broadcast sealed by the test with the bus's keys (kKeys, the Sync's csalt) at `t`.
canfd_frame sealed_broadcast(const Node& sync, std::uint64_t t)
{
	return to_kernel_frame(sealed_sync_broadcast(
	        key32("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"),
	        *sync.d->csalt(), {1, 2, 3, 4, 5, 6, 7, 8}, t));
}

// Starts both nodes and runs PA by hand: the request reaches the Sync at once, its response is
// held `delay_ms` on the way back, so the participant's clock ends up delay/2 behind the Sync's.
void start_with_late_pa_response(Bus& bus, Node& sync, Node& part, std::uint64_t delay_ms)
{
	sync.start();
	part.start();
	REQUIRE(part.can->sent.size() == 1u);
	sync.can->inbox.push_back({part.can->sent[0], bus.clock.monotonic_ns()});
	part.can->sent.clear();
	sync.d->process_can();
	REQUIRE(sync.can->sent.size() == 1u);
	bus.clock.advance_ns(delay_ms * kMs);
	part.can->inbox.push_back({sync.can->sent[0], bus.clock.monotonic_ns()});
	sync.can->sent.clear();
	part.d->process_can();
	REQUIRE(part.state() == State::Secure);
}

}  // namespace

TEST_CASE_METHOD(
        SyncAndParticipant,
        "PA sets T for the response's receive time: waking late and verifying slowly do not "
        "make the clock late",
        "[daemon][time]")
{
	sync.start();
	part.start();
	REQUIRE(part.can->sent.size() == 1u);

	// The response arrives 4 ms after the request left; spsecd reads it 5 ms later and
	// verifying it then takes 300 ms (OpenSSL's first use under emulation did).
	bus.clock.advance_ns(4 * kMs);
	part.can->on_receive = [&](const RxFrame&) { bus.clock.advance_ns(5 * kMs); };
	part.during_pa_verify = [&] { bus.clock.advance_ns(300 * kMs); };
	bus.pump();
	REQUIRE(part.state() == State::Secure);
	REQUIRE(part.seen("pa_ok").size() == 1u);
	CHECK(part.seen("pa_ok")[0].find("rtt_us")->as_u64() == 4000u);
	// T = tim + RTT/2 at the response's arrival (no time passed on the bus between the
	// Sync's T and that arrival), and both clocks have run the same 305 ms since.
	CHECK(now_t(part) == now_t(sync) + 20);
	CHECK(part.dp.last.base_ns + 305 * kMs == bus.clock.monotonic_ns());
}

TEST_CASE_METHOD(
        SecuredPair,
        "a Sync broadcast is checked and applied at its receive time, however late it is read",
        "[daemon][time]")
{
	const std::uint64_t offset = now_t(part) - now_t(sync);

	// spsecd reads the broadcast 50 ms (500 ticks, W = 150) after it arrived.
	part.can->on_receive = [&](const RxFrame& f) {
		if (f.frame.can_id == sync_broadcast_id())
			bus.clock.advance_ns(50 * kMs);
	};
	bus.advance(10'000, 500);
	REQUIRE(bus.count(sync_broadcast_id()) == 1u);
	CHECK(part.seen("sync").size() == 1u);
	CHECK_FALSE(part.security_event("0x0000fe0e"));
	CHECK(part.state() == State::Secure);
	CHECK(now_t(part) - now_t(sync) == offset);
}

TEST_CASE("a clock found behind the Sync's right after PA runs PA again at once", "[daemon][time]")
{
	// W = 20 ticks (2 ms): a 10 ms one-sided delay leaves the participant 5 ms behind.
	Bus bus;
	Node sync(bus.clock, 1, true, "{cycle: 'off'}", kKeys, "1000000", 20);
	Node part(bus.clock, 5, false, "{cycle: 'off'}", kKeys, "1000000", 20);
	bus.nodes = {&sync, &part};
	// The request reaches the Sync at once; its response is held 10 ms on the way back.
	start_with_late_pa_response(bus, sync, part, 10);
	CHECK(now_t(sync) - now_t(part) == 50);

	// The first Sync broadcast fails the window: authentic and 5 ms ahead, so PA again at
	// once, not a security event and no wait for sync_abort.
	bus.advance(10'000, 500);
	REQUIRE(bus.count(sync_broadcast_id()) == 1u);
	REQUIRE(part.seen("clock_behind").size() == 1u);
	CHECK(part.seen("clock_behind")[0].find("behind_us")->as_u64() == 5000u);
	CHECK_FALSE(part.security_event("0x0000fe0e"));
	CHECK(part.seen("pa_ok").size() == 2u);
	CHECK(part.state() == State::Secure);
	CHECK(now_t(part) == now_t(sync));
	// The next broadcast passes and ends the probation.
	bus.advance(10'000, 500);
	CHECK(part.seen("sync").size() == 1u);
	CHECK(part.seen("clock_behind").size() == 1u);
	CHECK(part.state() == State::Secure);
}

TEST_CASE_METHOD(
        SecuredPair,
        "only an authentic broadcast stamped ahead starts PA again: garbage and stale ones "
        "stay security events",
        "[daemon][time]")
{
	auto inject = [&](const canfd_frame& f) {
		part.can->inbox.push_back({f, bus.clock.monotonic_ns()});
		part.d->process_can();
	};

	SECTION("garbage on the broadcast ID")
	{
		canfd_frame g = sealed_broadcast(sync, now_t(sync) + 1000);
		g.data[g.len - 1] ^= 1;  // one tag bit
		inject(g);
	}
	SECTION("an authentic broadcast 100 ms old (a replay or a delay)")
	{
		inject(sealed_broadcast(sync, now_t(sync) - 1000));
	}
	CHECK(part.security_event("0x0000fe0e"));
	CHECK(part.seen("clock_behind").empty());
	CHECK(part.seen("pa_ok").size() == 1u);
	CHECK(part.can->sent.empty());
}

TEST_CASE_METHOD(
        SecuredPair,
        "an authentic broadcast stamped ahead starts PA again at most three times in a row",
        "[daemon][time]")
{
	// Authentic broadcasts 100 ms ahead, as a Sync whose clock runs ahead would send: each
	// starts one PA (answered at once); the fourth in a row is left to the usual path.
	for (int i = 0; i < 4; i++) {
		part.can->inbox.push_back(
		        {sealed_broadcast(sync, now_t(sync) + 1000), bus.clock.monotonic_ns()});
		part.d->process_can();
		bus.pump();
	}
	CHECK(part.seen("clock_behind").size() == 3u);
	CHECK(part.seen("pa_ok").size() == 4u);
	CHECK(part.security_event("0x0000fe0e"));
}

TEST_CASE_METHOD(MonitoredPair,
                 "status reports each peer's clock offset from its heartbeats' stamps",
                 "[daemon][time]")
{
	// PA's response is held 10 ms on the way back: the participant ends up 5 ms behind.
	start_with_late_pa_response(bus, sync, part, 10);
	auto peer = [](Node& n, int pp) {
		auto st = n.status();
		for (const auto& p : st.find("peers")->items())
			if (p.find("pp")->as_u64() == static_cast<std::uint64_t>(pp))
				return p;
		FAIL("peer " << pp << " not in status");
		return JsonValue{};
	};
	// 3 s of heartbeats (before the first Sync broadcast would step the participant).
	bus.advance(3'000, 1);
	REQUIRE(part.state() == State::Secure);
	// The fake bus has no delay and heartbeats leave at the start of a tick: exact values.
	auto s5 = peer(sync, 5);
	CHECK(s5.find("offset_us")->text() == "-5000");
	CHECK(s5.find("offset_last_us")->text() == "-5000");
	CHECK(s5.find("offset_samples")->as_u64() == 8u);
	CHECK(peer(part, 1).find("offset_us")->text() == "5000");
	CHECK(ctl::peer_offset_lines(sync.status()) ==
	      "peer 5: offset -5.00 ms (last -5.00 ms, 8 heartbeats)\n");
	CHECK(ctl::peer_offset_lines(part.status()) ==
	      "peer 1: offset 5.00 ms (last 5.00 ms, 8 heartbeats)\n");
}

TEST_CASE("a kernel receive stamp moves to CLOCK_MONOTONIC by its age", "[daemon][time]")
{
	constexpr std::uint64_t kMax = CanRawPort::kMaxStampAge;
	// Received 3 ms before the read: monotonic read 1000 s, wall clock 1.7e9 s.
	const std::uint64_t real = 1'700'000'000'000'000'000u;
	CHECK(stamp_to_monotonic(real - 3 * kMs, real - 100, 1'000'000'000'000u, real + 100,
	                         kMax) == 1'000'000'000'000u - 3 * kMs);
	// A stamp in the future or older than the limit (the wall clock was stepped): read time.
	CHECK(stamp_to_monotonic(real + kMs, real, 5'000, real, kMax) == 5'000u);
	CHECK(stamp_to_monotonic(real - kMax - 1, real, 10 * kMax, real, kMax) == 10 * kMax);
	// Never before the monotonic epoch.
	CHECK(stamp_to_monotonic(real - 3 * kMs, real, kMs, real, kMax) == kMs);
}

TEST_CASE_METHOD(MonitoredPair,
                 "an authentic heartbeat that fails the window is counted with how far off it was",
                 "[daemon][time]")
{
	bus.start_all();
	bus.advance(1'000, 1);
	REQUIRE(part.state() == State::Secure);
	// The Sync's next heartbeat reaches the participant 30 ms (300 ticks, W = 150) late.
	canfd_frame hb{};
	for (int i = 0; i < 300 && hb.can_id == 0; i++) {
		bus.clock.advance_ns(kMs);
		sync.d->run_timers();
		part.d->run_timers();
		for (const auto& f : sync.can->sent)
			if (classify_control_id(f.can_id) &&
			    classify_control_id(f.can_id)->kind == ControlKind::Heartbeat)
				hb = f;
		sync.can->sent.clear();
		bus.pump();
	}
	REQUIRE(hb.can_id != 0);
	bus.clock.advance_ns(30 * kMs);
	part.can->inbox.push_back({hb, bus.clock.monotonic_ns()});
	part.d->process_can();
	CHECK(part.security_event("0x0000ee00"));
	JsonValue st = part.status();
	for (const auto& p : st.find("peers")->items()) {
		if (p.find("pp")->as_u64() != 1u)
			continue;
		CHECK(p.find("window_misses")->as_u64() == 1u);
		CHECK(p.find("window_miss_worst_us")->text() == "-30000");
	}
	// Garbage on a heartbeat ID is not counted: only authentic frames are samples.
	canfd_frame bad = hb;
	bad.data[bad.len - 1] ^= 1;
	part.can->inbox.push_back({bad, bus.clock.monotonic_ns()});
	part.d->process_can();
	st = part.status();
	for (const auto& p : st.find("peers")->items())
		if (p.find("pp")->as_u64() == 1u)
			CHECK(p.find("window_misses")->as_u64() == 1u);
	// Late by more than half a stamp period (330 ms > 2048 ticks): still recognised.
	bus.clock.advance_ns(300 * kMs);
	part.can->inbox.push_back({hb, bus.clock.monotonic_ns()});
	part.d->process_can();
	st = part.status();
	for (const auto& p : st.find("peers")->items()) {
		if (p.find("pp")->as_u64() != 1u)
			continue;
		CHECK(p.find("window_misses")->as_u64() == 2u);
		CHECK(p.find("window_miss_worst_us")->text() == "-330000");
	}
	auto misses = [&]() {
		const JsonValue now = part.status();
		for (const auto& p : now.find("peers")->items())
			if (p.find("pp")->as_u64() == 1u)
				return std::make_pair(p.find("window_misses")->as_u64().value_or(0),
				                      p.find("window_miss_worst_us")->text());
		return std::make_pair(std::uint64_t{0}, std::string());
	};
	// 410 ms late (4100 ticks): we reconstruct T + 4096, within W of ours, so the tag fails
	// rather than the window (its report is suppressed: one per second). Still an authentic
	// heartbeat, recognised as one.
	bus.clock.advance_ns(80 * kMs);
	part.can->inbox.push_back({hb, bus.clock.monotonic_ns()});
	part.d->process_can();
	CHECK(misses() == std::make_pair(std::uint64_t{3}, std::string("-410000")));
	// 2.5 s late (six stamp periods): recognised too.
	bus.clock.advance_ns(2'090 * kMs);
	part.can->inbox.push_back({hb, bus.clock.monotonic_ns()});
	part.d->process_can();
	CHECK(misses() == std::make_pair(std::uint64_t{4}, std::string("-2500000")));
	CHECK(part.status().find("heartbeat")->find("rejections_unexamined")->as_u64() == 0u);
	// A flood of forged heartbeats: 16 are examined at once (the budget, refilled in 5 s),
	// the other 4 only counted.
	bus.clock.advance_ns(5'000 * kMs);
	for (int i = 0; i < 20; i++) {
		bad.data[0] ^= static_cast<std::uint8_t>(i);
		part.can->inbox.push_back({bad, bus.clock.monotonic_ns()});
	}
	part.d->process_can();
	CHECK(misses().first == 4u);
	CHECK(part.status().find("heartbeat")->find("rejections_unexamined")->as_u64() == 4u);
}
