// SPDX-License-Identifier: Apache-2.0
// spsecd as a live SPsec participant: a Sync and participants on the in-process bus of
// daemon_bus_fixture.h. Time moves only when the test says so.
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/messages.h"
#include "daemon/daemon.h"
#include "daemon_bus_fixture.h"
#include "daemon_test_util.h"
#include "json_view.h"

using namespace spsec;
using namespace spsec::test;

namespace {

// The Sync sends heartbeats every second.
struct SyncHeartbeatPair : SecuredPair {
	SyncHeartbeatPair() : SecuredPair("{cycle: 1s}") {}
};
// Both send heartbeats every second.
struct HeartbeatPair : SecuredPair {
	HeartbeatPair() : SecuredPair("{cycle: 1s}", "{cycle: 1s}") {}
};

}  // namespace

TEST_CASE("the Sync draws csalt, installs the live key and goes Secure", "[daemon][protocol]")
{
	Bus bus;
	Node sync(bus.clock, 1, true, "{cycle: 'off'}");
	sync.start();
	CHECK(sync.state() == State::Secure);
	REQUIRE(sync.d->csalt());
	CHECK(*sync.d->csalt() == CommSalt{0, 1, 2, 3});  // the injected generator's first bytes
	CHECK(spsec::test::read_file(sync.dir.file("vcan0.csalt")) == "00010203\n");
	// T = 1: window 0, first half, no window -1.
	CHECK(sync.dp.installs == std::vector<std::uint64_t>{0});
	CHECK(sync.dp.last.state == SPSEC_STATE_SECURE);
	CHECK(sync.dp.last.clock_set);
	auto st = sync.status();
	CHECK(st.find("csalt_set")->as_bool() == true);
	CHECK(st.find("comm_key_windows")->items().size() == 1u);
	// Waiting -> Secure, both reported.
	auto states = sync.seen("state");
	REQUIRE(states.size() >= 2u);
	CHECK(states.back().find("to")->as_string() == "Secure");
}

TEST_CASE_METHOD(SyncAndParticipant, "a participant authenticates with the Sync and goes Secure",
                 "[daemon][protocol]")
{
	sync.start();
	part.start();
	CHECK(part.state() == State::Waiting);
	CHECK_FALSE(part.dp.last.clock_set);
	REQUIRE(part.can->sent.size() == 1u);  // the first PA request goes out at once
	CHECK(part.can->sent[0].can_id == pa_request_id(5));

	// Answered 4 ms later: RTT 4 ms, T = tim + 2 ms = tim + 20 ticks.
	bus.clock.advance_ns(4 * kMs);
	std::uint64_t sync_t = 0;
	bus.pump([&](canfd_frame& f) {
		if (f.can_id == pa_response_id(5))
			sync_t = sync.d->sync_clock()->now_t();
	});
	REQUIRE(bus.count(pa_response_id(5)) == 1u);
	CHECK(part.state() == State::Secure);
	CHECK(part.d->sync_clock()->now_t() == sync_t + 20);
	CHECK(part.d->csalt() == sync.d->csalt());
	CHECK(part.dp.last.state == SPSEC_STATE_SECURE);
	CHECK(part.dp.last.clock_set);
	CHECK(part.dp.installs == std::vector<std::uint64_t>{0});
	REQUIRE(part.seen("pa_ok").size() == 1u);
	CHECK(part.seen("pa_ok")[0].find("rtt_us")->as_u64() == 4000u);
	CHECK(sync.seen("pa_answered").size() == 1u);
}

TEST_CASE_METHOD(SyncAndParticipant, "PA responses that are late or forged are discarded",
                 "[daemon][protocol]")
{
	sync.start();
	part.start();

	// RTT 21 ms > pa_max_rtt (20 ms): discarded, still Waiting.
	bus.clock.advance_ns(21 * kMs);
	bus.pump();
	CHECK(part.state() == State::Waiting);
	REQUIRE(part.seen("pa_discarded").size() == 1u);
	CHECK(part.seen("pa_discarded")[0].find("rtt_us")->as_u64() == 21000u);

	// The retry comes 2 s after the first request; its response has a flipped tag bit.
	bus.advance(1900, 100);
	CHECK(bus.count(pa_request_id(5)) == 1u);
	bus.clock.advance_ns(100 * kMs);
	sync.d->run_timers();
	part.d->run_timers();
	bus.pump([](canfd_frame& f) {
		if (f.can_id == pa_response_id(5))
			f.data[19] ^= 1;  // last tag byte
	});
	CHECK(bus.count(pa_request_id(5)) == 2u);
	CHECK(part.state() == State::Waiting);
	CHECK(part.security_event("0x0000fe00"));
	CHECK_FALSE(part.d->sync_clock()->is_set());

	// The next retry gets through untouched.
	bus.advance(2000, 100);
	CHECK(part.state() == State::Secure);
}

TEST_CASE("a participant with another Seed Key never gets Secure", "[daemon][protocol]")
{
	Bus bus;
	Node sync(bus.clock, 1, true, "{cycle: 'off'}");
	std::string other = kKeys;
	other[other.find("0001020304")] = 'f';
	Node part(bus.clock, 5, false, "{cycle: 'off'}", other);
	bus.nodes = {&sync, &part};
	sync.start();
	part.start();
	bus.advance(5000, 100);
	CHECK(part.state() == State::Waiting);
	CHECK(part.security_event("0x0000fe00"));
	CHECK(part.dp.installs.empty());
}

TEST_CASE_METHOD(SecuredPair,
                 "Sync broadcasts keep participants Secure; their loss aborts to Waiting",
                 "[daemon][protocol]")
{
	// 60 s with broadcasts every 10 s: no abort.
	bus.advance(60'000, 500);
	CHECK(bus.count(sync_broadcast_id()) == 6u);
	CHECK(part.seen("sync").size() == 6u);
	CHECK(part.state() == State::Secure);

	// The Sync goes silent: 30 s after the last verified broadcast the participant aborts.
	sync.connected = false;
	bus.advance(29'000, 500);
	CHECK(part.state() == State::Secure);
	bus.advance(2'000, 500);
	CHECK(part.state() == State::Waiting);
	CHECK(part.security_event("0x0000fe0f"));
	CHECK(part.dp.wipes == 1);
	CHECK(part.dp.slots.empty());
	CHECK_FALSE(part.d->csalt());
	CHECK_FALSE(part.d->sync_clock()->is_set());
	CHECK_FALSE(part.dp.last.clock_set);
	CHECK(part.dp.last.state == SPSEC_STATE_WAITING);
	CHECK(part.seen("keys_wiped").size() == 1u);

	// The Sync returns: PA retries (every 2 s) bring the participant back.
	sync.connected = true;
	bus.advance(2'500, 100);
	CHECK(part.state() == State::Secure);
	CHECK(part.d->csalt() == sync.d->csalt());
}

TEST_CASE_METHOD(SecuredPair, "a forged Sync broadcast is a security event and is not applied",
                 "[daemon][protocol]")
{
	bus.clock.advance_ns(10'000 * kMs);
	sync.d->run_timers();
	bus.pump([](canfd_frame& f) {
		if (f.can_id == sync_broadcast_id())
			f.data[0] ^= 0x40;  // ciphertext of T
	});
	CHECK(part.security_event("0x0000fe0e"));
	CHECK(part.state() == State::Warning);
	CHECK(part.seen("sync").empty());
	// Quiet for the hold time: back to Secure.
	bus.advance(5'100, 100);
	CHECK(part.state() == State::Secure);
}

TEST_CASE_METHOD(SecuredPair, "keys roll over: K(e+1) ahead at 2^23, both nodes follow",
                 "[daemon][protocol]")
{
	// 2^23 ticks of 100 us = 838.9 s: step through with 10 s broadcasts.
	bus.advance(840'000, 5'000);
	CHECK(sync.dp.installs == std::vector<std::uint64_t>{0, 1});
	CHECK(part.dp.installs == std::vector<std::uint64_t>{0, 1});
	CHECK(part.state() == State::Secure);
	// Past 2^24: window 1 current, window 0 still live in its slot until the half.
	bus.advance(840'000, 5'000);
	CHECK(sync.d->sync_clock()->now_t() >> 24 == 1u);
	CHECK(part.dp.slots == std::map<unsigned, std::uint64_t>{{0, 0}, {1, 1}});
	// Past 1.5 * 2^24: K(2) replaces K(0).
	bus.advance(840'000, 5'000);
	CHECK(part.dp.installs == std::vector<std::uint64_t>{0, 1, 2});
	CHECK(part.dp.slots == std::map<unsigned, std::uint64_t>{{0, 2}, {1, 1}});
	CHECK(part.state() == State::Secure);
	CHECK(part.seen("security_event").empty());
}

TEST_CASE("heartbeats flow in Secure; a missing one raises EF00h+pp", "[daemon][protocol]")
{
	Bus bus;
	Node sync(bus.clock, 1, true, "{cycle: 1s, monitor: [5, 6]}");
	Node a(bus.clock, 5, false, "{cycle: 1s, monitor: [1, 6]}");
	Node b(bus.clock, 6, false, "{cycle: 1s, monitor: [1, 5]}");
	bus.nodes = {&sync, &a, &b};
	bus.start_all();
	REQUIRE(a.state() == State::Secure);
	REQUIRE(b.state() == State::Secure);
	bus.advance(3'000, 50);
	CHECK(bus.count(0x80000000u | heartbeat_id(5, 2)) >= 2u);
	CHECK(bus.count(0x80000000u | heartbeat_id(1, 2)) >= 2u);
	auto st = a.status();
	const auto& peers = st.find("peers")->items();
	REQUIRE(peers.size() == 2u);
	CHECK(peers[0].find("pp")->as_u64() == 1u);
	CHECK(peers[0].find("state")->as_string() == "Secure");
	CHECK(peers[0].find("missing")->as_bool() == false);
	CHECK(peers[0].find("last_heartbeat_ms_ago")->as_u64() <= 1000u);
	CHECK(st.find("heartbeat")->find("sending")->as_bool() == true);
	CHECK(sync.seen("security_event").empty());

	// Node 6 falls silent: 2.5 cycles later the others raise EF06h and go Warning.
	// Its last heartbeat is at most 1 s old now: missing between 1.5 s and 2.5 s from here.
	b.connected = false;
	bus.advance(1'400, 50);
	CHECK_FALSE(a.security_event("0x0000ef06"));
	bus.advance(1'200, 50);
	CHECK(a.security_event("0x0000ef06"));
	CHECK(sync.security_event("0x0000ef06"));
	CHECK(a.state() == State::Warning);
	CHECK(a.status().find("alert")->as_bool() == true);
	// Heartbeats of a Warning node carry its status: Warning 03h | alert 80h.
	bus.advance(1'100, 50);
	CHECK(bus.count(0x80000000u | heartbeat_id(5, 0x83)) >= 1u);
	// It returns: heartbeat_back, and after the hold time Secure again.
	b.connected = true;
	bus.advance(1'100, 50);
	CHECK(a.seen("heartbeat_back").size() == 1u);
	bus.advance(5'000, 50);
	CHECK(a.state() == State::Secure);
}

TEST_CASE_METHOD(SyncHeartbeatPair, "a heartbeat with our own ID is an injection",
                 "[daemon][protocol]")
{
	// Up to the Sync's first heartbeat, so it is replayed within the acceptance window.
	for (int i = 0; i < 1200 && bus.count(0x80000000u | heartbeat_id(1, 2)) == 0; i++)
		bus.advance(1, 1);
	REQUIRE(bus.count(0x80000000u | heartbeat_id(1, 2)) == 1u);
	// Replay the Sync's heartbeat frame into the Sync itself: its own ID from the bus.
	canfd_frame hb{};
	for (const auto& f : bus.wire)
		if (f.can_id == (0x80000000u | heartbeat_id(1, 2)))
			hb = f;
	sync.can->inbox.push_back({hb, bus.clock.monotonic_ns()});
	sync.d->process_can();
	// A replayed frame fails freshness first (DE04h) if it was seen; the Sync never receives
	// its own frames, so this one is fresh and names our own ID.
	CHECK(sync.security_event("0x0000de03"));
	CHECK(sync.state() == State::Warning);
}

TEST_CASE("data-plane security events move Secure to Warning and back", "[daemon][protocol]")
{
	Bus bus;
	Node sync(bus.clock, 1, true, "{cycle: 'off'}");
	sync.start();
	spsec_event e{};
	e.type = SPSEC_EV_AUTH_FAIL;
	e.reason = SPSEC_R_RX_BAD_TAG;
	sync.dp.inject(e);
	REQUIRE(sync.d->run_once(100));
	CHECK(sync.state() == State::Warning);
	CHECK(sync.dp.last.state == SPSEC_STATE_WARNING);
	bus.clock.advance_ns(5'001 * kMs);
	sync.d->run_timers();
	CHECK(sync.state() == State::Secure);
}

TEST_CASE_METHOD(SyncAndParticipant,
                 "a restarted participant resumes a live pinned data plane without a gap",
                 "[daemon][protocol]")
{
	sync.start();
	// What a killed spsecd left: Secure, clock running 3 ticks behind the Sync.
	DataPlaneState pinned;
	pinned.state = SPSEC_STATE_SECURE;
	pinned.clock_set = true;
	pinned.base_ns = bus.clock.monotonic_ns() - 2 * kMs;
	pinned.base_t = sync.d->sync_clock()->now_t() - 23;
	pinned.tick_ns = kTick;
	part.dp.pinned = pinned;
	part.start();
	// Nothing published: the data plane keeps enforcing with what it has.
	CHECK(part.dp.calls == std::vector<std::string>{"open vcan0"});
	CHECK(part.state() == State::Secure);
	CHECK(part.status().find("resumed")->as_bool() == true);
	CHECK(part.seen("resumed").size() == 1u);
	CHECK(part.d->sync_clock()->now_t() == pinned.base_t + 20);
	REQUIRE(part.can->sent.size() == 1u);
	CHECK(part.can->sent[0].can_id == pa_request_id(5));

	// Our own PA takes over: the clock and keys are ours now, the state never left Secure.
	bus.pump();
	CHECK(part.status().find("resumed")->as_bool() == false);
	CHECK(part.dp.calls.back() == "publish 2");
	CHECK(std::count(part.dp.calls.begin(), part.dp.calls.end(), "publish 1") == 0);
	CHECK(part.dp.installs == std::vector<std::uint64_t>{0});
	CHECK(part.d->sync_clock()->now_t() == sync.d->sync_clock()->now_t());
	CHECK(part.seen("state").empty());
}

TEST_CASE("a participant resumed in Warning leaves it after warning_hold, as if it began then",
          "[daemon][protocol]")
{
	// The killed spsecd's hold and abort timers died with it: the restarted one arms them
	// again, else the node would stay in Warning for good.
	Bus bus;
	Node sync(bus.clock, 1, true, "{cycle: 'off'}");
	Node part(bus.clock, 5, false, "{cycle: 'off'}");
	bus.nodes = {&sync, &part};
	sync.start();
	DataPlaneState pinned;
	pinned.state = SPSEC_STATE_WARNING;
	pinned.clock_set = true;
	pinned.base_ns = bus.clock.monotonic_ns();
	pinned.base_t = sync.d->sync_clock()->now_t();
	pinned.tick_ns = kTick;
	part.dp.pinned = pinned;
	part.start();
	CHECK(part.state() == State::Warning);
	CHECK(part.status().find("alert")->as_bool() == true);
	bus.pump();  // our own PA: the state stays Warning
	CHECK(part.status().find("resumed")->as_bool() == false);
	CHECK(part.state() == State::Warning);
	bus.advance(4'900, 100);
	CHECK(part.state() == State::Warning);
	bus.advance(200, 100);  // warning_hold (5 s) after the resume
	CHECK(part.state() == State::Secure);
	CHECK(part.dp.last.state == SPSEC_STATE_SECURE);
	CHECK(part.status().find("alert")->as_bool() == false);
}

TEST_CASE("a resumed participant without a Sync aborts after sync_abort", "[daemon][protocol]")
{
	Bus bus;
	Node part(bus.clock, 5, false, "{cycle: 'off'}");
	bus.nodes = {&part};
	DataPlaneState pinned;
	pinned.state = SPSEC_STATE_WARNING;
	pinned.clock_set = true;
	pinned.base_ns = bus.clock.monotonic_ns();
	pinned.base_t = 1000;
	pinned.tick_ns = kTick;
	part.dp.pinned = pinned;
	part.start();
	CHECK(part.state() == State::Warning);
	bus.advance(29'900, 100);
	CHECK(part.state() == State::Secure);       // warning_hold ended the Warning, no abort yet
	CHECK(bus.count(pa_request_id(5)) == 15u);  // every 2 s
	bus.advance(200, 100);
	CHECK(part.state() == State::Waiting);
	CHECK(part.security_event("0x0000fe0f"));
	CHECK_FALSE(part.dp.last.clock_set);
}

TEST_CASE("a restarted Sync resumes with its persisted csalt and the pinned clock",
          "[daemon][protocol]")
{
	Bus bus;
	auto sync = std::make_unique<Node>(bus.clock, 1, true, "{cycle: 'off'}");
	Node part(bus.clock, 5, false, "{cycle: 'off'}");
	bus.nodes = {sync.get(), &part};
	sync->start();
	part.start();
	bus.pump();
	REQUIRE(part.state() == State::Secure);
	const CommSalt csalt = *sync->d->csalt();
	const DataPlaneState pinned = sync->dp.last;
	bus.advance(3'000, 500);

	// kill -9 and restart on the same state directory and pinned maps.
	Node again(bus.clock, 1, true, "{cycle: 'off'}");
	again.rnd_counter = 100;  // a fresh draw would differ from the first csalt
	spsec::test::write_file(again.dir.file("vcan0.t"),
	                        spsec::test::read_file(sync->dir.file("vcan0.t")));
	spsec::test::write_file(again.dir.file("vcan0.csalt"),
	                        spsec::test::read_file(sync->dir.file("vcan0.csalt")));
	const std::uint64_t t_before = sync->d->sync_clock()->now_t();
	sync.reset();
	again.dp.pinned = pinned;
	again.start();
	bus.nodes = {&again, &part};
	CHECK(again.state() == State::Secure);
	CHECK(again.d->csalt() == csalt);
	CHECK(again.d->sync_clock()->now_t() == t_before);
	CHECK(std::count(again.dp.calls.begin(), again.dp.calls.end(), "publish 1") == 0);
	// Its broadcasts still verify at the participant.
	bus.advance(10'500, 500);
	CHECK(part.seen("sync").size() >= 1u);
	CHECK(part.security_event("0x0000fe0e") == false);
}

TEST_CASE("a Sync broadcast more than 1 s behind is refused, the clock stays", "[daemon][protocol]")
{
	// 100 kbit/s: 1 ms ticks, so the widest acceptance window (2047 ticks) lets a frame 1.5 s
	// behind through the stamp check and the clock rule decides.
	Bus bus;
	auto sync =
	        std::make_unique<Node>(bus.clock, 1, true, "{cycle: 'off'}", kKeys, "100k", 2047);
	Node part(bus.clock, 5, false, "{cycle: 'off'}", kKeys, "100k", 2047);
	bus.nodes = {sync.get(), &part};
	sync->start();
	part.start();
	bus.pump();
	REQUIRE(part.state() == State::Secure);
	DataPlaneState pinned = sync->dp.last;
	pinned.base_t -= 1500;  // a Sync whose clock is 1.5 s behind

	Node again(bus.clock, 1, true, "{cycle: 'off'}", kKeys, "100k", 2047);
	spsec::test::write_file(again.dir.file("vcan0.t"),
	                        spsec::test::read_file(sync->dir.file("vcan0.t")));
	spsec::test::write_file(again.dir.file("vcan0.csalt"),
	                        spsec::test::read_file(sync->dir.file("vcan0.csalt")));
	sync.reset();
	again.dp.pinned = pinned;
	again.start();
	bus.nodes = {&again, &part};
	const std::uint64_t before = part.d->sync_clock()->now_t();
	bus.advance(10'000, 1'000);
	REQUIRE(bus.count(sync_broadcast_id()) == 1u);
	CHECK(part.seen("sync_refused").size() == 1u);
	CHECK(part.seen("sync").empty());
	CHECK(part.d->sync_clock()->now_t() == before + 10'000);
	CHECK(part.state() == State::Secure);
}

// ---- unauthenticated input: rate-limited reports, no Security Abort --------------------------

namespace {

CanFrame garbage_sync_broadcast(std::uint8_t n)
{
	CanFrame f;
	f.can_id = sync_broadcast_id();
	f.fd = true;
	f.len = 16;
	f.data[0] = n;
	return f;
}

}  // namespace

TEST_CASE_METHOD(SecuredPair,
                 "garbage on the Sync-broadcast ID: one report per second, the rest counted",
                 "[daemon][protocol][flood]")
{
	// 301 frames over 3 s (one every 10 ms).
	for (int i = 0; i < 301; i++) {
		part.can->inbox.push_back(
		        {to_kernel_frame(garbage_sync_broadcast(static_cast<std::uint8_t>(i)))});
		part.d->process_can();
		bus.clock.advance_ns(10 * kMs);
	}
	std::size_t events = 0;
	std::uint64_t reported_suppressed = 0;
	for (const auto& e : part.seen("security_event"))
		if (e.find("code")->as_string() == "0x0000fe0e") {
			events++;
			reported_suppressed += e.find("suppressed")->as_u64().value_or(0);
		}
	// One per started second: 0 s, 1 s, 2 s, 3 s.
	CHECK(events <= 4u);
	CHECK(events >= 3u);
	CHECK(part.log_lines("security event 0x0000fe0e") == events);
	const auto st = part.status();
	const auto total = st.find("suppressed")->find("0x0000fe0e")->as_u64();
	CHECK(total == 301u - events);
	CHECK(st.find("suppressed")->find("total")->as_u64() == total);
	// The reports that got through say how many were dropped before them.
	CHECK(reported_suppressed <= *total);
	CHECK(reported_suppressed >= *total - 100);
	// Register 51h still has it, and the node is in Warning.
	CHECK(st.find("last_event")->as_string() == "0x0000fe0e");
	CHECK(part.state() == State::Warning);
}

TEST_CASE_METHOD(SecuredPair, "unauthenticated input alone never drives a node into Security Abort",
                 "[daemon][protocol][flood]")
{
	const int wipes = part.dp.wipes;
	// One forged Sync broadcast every 4 s for 60 s (warning_hold 5 s, warning_abort 15 s),
	// and a forged data-plane authentication failure in between.
	for (int i = 0; i < 15; i++) {
		part.can->inbox.push_back(
		        {to_kernel_frame(garbage_sync_broadcast(static_cast<std::uint8_t>(i)))});
		part.d->process_can();
		spsec_event ev{};
		ev.type = SPSEC_EV_AUTH_FAIL;
		ev.reason = SPSEC_R_RX_BAD_TAG;
		ev.can_id = 0x123;
		part.dp.inject(ev);
		(void)part.d->run_once(0);
		bus.advance(4000, 500);
		CHECK(part.state() == State::Warning);
	}
	CHECK(part.dp.wipes == wipes);  // no Security Abort: keys never wiped
	CHECK(part.seen("keys_wiped").empty());
	// The forgeries stop: back to Secure after warning_hold.
	bus.advance(6000, 500);
	CHECK(part.state() == State::Secure);
	CHECK_FALSE(part.d->sm_status().alert);
}

TEST_CASE("authenticated evidence still aborts a sustained Warning", "[daemon][protocol][flood]")
{
	// A second Seed-Key holder sends heartbeats with participant 5's ID: verified frames,
	// DE03h every second. That Warning is sustained and ends in a Security Abort.
	Bus bus;
	Node sync(bus.clock, 1, true, "{cycle: 'off'}");
	Node part(bus.clock, 5, false, "{cycle: 1s}");
	Node impostor(bus.clock, 5, false, "{cycle: 1s}");
	bus.nodes = {&sync, &part, &impostor};
	bus.start_all();
	REQUIRE(part.state() == State::Secure);
	bus.advance(3000);
	REQUIRE(part.state() == State::Warning);
	REQUIRE(part.d->sm_status().abort_armed);
	// The impostor goes quiet; forged frames keep the Warning up, and the abort armed by
	// the authenticated evidence fires at timeouts.warning_abort (15 s).
	impostor.connected = false;
	for (int i = 0; i < 5 && part.seen("keys_wiped").empty(); i++) {
		part.can->inbox.push_back(
		        {to_kernel_frame(garbage_sync_broadcast(static_cast<std::uint8_t>(i)))});
		part.d->process_can();
		bus.advance(4000, 500);
	}
	CHECK(part.seen("keys_wiped").size() == 1u);
	const auto states = part.seen("state");
	CHECK(std::any_of(states.begin(), states.end(), [](const JsonValue& e) {
		return e.find("from")->as_string() == "Warning" &&
		       e.find("to")->as_string() == "Waiting";
	}));
}

TEST_CASE("the control-plane receive path does bounded work per wake-up", "[daemon][protocol]")
{
	Bus bus;
	Node part(bus.clock, 5, false, "{cycle: 'off'}");
	bus.nodes = {&part};
	bus.start_all();
	for (int i = 0; i < 1000; i++)
		part.can->inbox.push_back(
		        {to_kernel_frame(garbage_sync_broadcast(static_cast<std::uint8_t>(i)))});
	part.d->process_can();
	// A small bound (64), not the whole queue nor hundreds.
	const std::size_t read = 1000u - part.can->inbox.size();
	CHECK(read == static_cast<std::size_t>(Daemon::kMaxFramesPerWake));
	CHECK(read <= 64u);
	// The rest is read on later wake-ups (the socket stays readable).
	while (!part.can->inbox.empty())
		part.d->process_can();
}

TEST_CASE("register_store() refers to the locked keys, it copies none", "[daemon][protocol]")
{
	Bus bus;
	const std::string k1(64, '1');
	Node part(bus.clock, 5, false, "{cycle: 'off'}",
	          std::string(kKeys) + "provisioning.key = " + k1 +
	                  "\nprovisioning.salt = eeeeeeeeeeeeeeee\nprovisioning.id = 0x00000101\n");
	part.start();
	const RegisterStore store = part.d->register_store();
	for (KeySlotId slot : {KeySlotId::Provisioning, KeySlotId::Seed}) {
		INFO(key_slot_name(slot));
		const KeySlot& k = store.key(slot);
		REQUIRE(k.present);
		// No copy of the key in the store (heap memory): all zero.
		const auto bytes = k.key.expose();
		CHECK(std::all_of(bytes.begin(), bytes.end(),
		                  [](std::uint8_t b) { return b == 0; }));
		// The key itself is reached by reference, and it is the right one.
		REQUIRE(k.ref != nullptr);
		CHECK(k.material().expose()[0] == (slot == KeySlotId::Seed ? 0x00 : 0x11));
		CHECK(k.material().expose()[1] == (slot == KeySlotId::Seed ? 0x01 : 0x11));
	}
	CHECK_FALSE(store.key(KeySlotId::Integrator).present);
}

// ---- the interface is re-created --------------------------------------------------------------

namespace {

// One RTM_NEWLINK/RTM_DELLINK message as the kernel sends it: nlmsghdr, ifinfomsg, IFLA_IFNAME.
std::vector<std::uint8_t> link_message(std::uint16_t type, int ifindex, const std::string& name,
                                       bool up)
{
	std::vector<std::uint8_t> m(NLMSG_LENGTH(sizeof(ifinfomsg)));
	ifinfomsg ifi{};
	ifi.ifi_index = ifindex;
	ifi.ifi_flags = up ? static_cast<unsigned>(IFF_UP) : 0u;
	std::memcpy(m.data() + NLMSG_HDRLEN, &ifi, sizeof ifi);
	rtattr ra{};
	ra.rta_type = IFLA_IFNAME;
	ra.rta_len = static_cast<unsigned short>(RTA_LENGTH(name.size() + 1));
	std::vector<std::uint8_t> a(RTA_SPACE(name.size() + 1));
	std::memcpy(a.data(), &ra, sizeof ra);
	std::memcpy(a.data() + RTA_LENGTH(0), name.c_str(), name.size() + 1);
	m.insert(m.end(), a.begin(), a.end());
	nlmsghdr h{};
	h.nlmsg_len = static_cast<std::uint32_t>(m.size());
	h.nlmsg_type = type;
	std::memcpy(m.data(), &h, sizeof h);
	return m;
}

}  // namespace

TEST_CASE("rtnetlink link messages are parsed, malformed ones skipped", "[daemon][link]")
{
	auto del = link_message(RTM_DELLINK, 7, "can0", false);
	auto add = link_message(RTM_NEWLINK, 9, "can0", true);
	std::vector<std::uint8_t> both = del;
	both.resize(NLMSG_ALIGN(both.size()));
	both.insert(both.end(), add.begin(), add.end());
	const auto evs = parse_link_messages(both);
	REQUIRE(evs.size() == 2u);
	CHECK(evs[0] == LinkEvent{LinkEvent::Kind::Removed, 7, "can0", false});
	CHECK(evs[1] == LinkEvent{LinkEvent::Kind::Added, 9, "can0", true});
	// Truncated anywhere: nothing read past the end, no event from the broken message.
	for (std::size_t n = 0; n < add.size(); n++) {
		auto part = parse_link_messages(std::span<const std::uint8_t>(add.data(), n));
		CHECK(part.empty());
	}
	// A length field that claims more than the datagram holds.
	auto bad = add;
	nlmsghdr h{};
	std::memcpy(&h, bad.data(), sizeof h);
	h.nlmsg_len += 100;
	std::memcpy(bad.data(), &h, sizeof h);
	CHECK(parse_link_messages(bad).empty());
}

TEST_CASE_METHOD(HeartbeatPair,
                 "the interface is deleted and re-created: detached, then attached again",
                 "[daemon][link]")
{
	CHECK(part.status().find("data_plane")->find("attached")->as_bool() == true);

	part.d->on_link_events({{LinkEvent::Kind::Removed, 0, "vcan0", false}});
	CHECK_FALSE(part.d->data_plane_attached());
	CHECK(part.dp.calls.back() == "lost_interface");
	CHECK(part.d->can() == nullptr);
	REQUIRE(part.seen("data_plane_detached").size() == 1u);
	const auto st = part.status();
	const JsonValue* dp = st.find("data_plane");
	CHECK(dp->find("attached")->as_bool() == false);
	CHECK(dp->find("detaches")->as_u64() == 1u);
	CHECK(part.log_lines("data plane detached") == 1u);
	// Without the device nothing is sent; the state and keys are kept for the return.
	bus.advance(2000);
	CHECK(part.state() == State::Secure);

	// Another interface coming and going is none of its business.
	part.d->on_link_events({{LinkEvent::Kind::Added, 12, "vcan1", true}});
	CHECK_FALSE(part.d->data_plane_attached());

	// It returns (new ifindex) but the first attach fails: retried at the next event.
	part.dp.fail_reattach = true;
	part.d->on_link_events({{LinkEvent::Kind::Added, 13, "vcan0", false}});
	CHECK_FALSE(part.d->data_plane_attached());
	part.dp.fail_reattach = false;
	bus.clock.advance_ns(5 * kMs);
	part.d->on_link_events({{LinkEvent::Kind::Added, 13, "vcan0", true}});
	CHECK(part.d->data_plane_attached());
	CHECK(part.dp.calls.back() == "reattach vcan0");
	REQUIRE(part.d->can() != nullptr);
	const auto att = part.seen("data_plane_attached");
	REQUIRE(att.size() == 1u);
	CHECK(att[0].find("detached_ms")->as_u64() == 2005u);
	CHECK(part.status().find("data_plane")->find("attached")->as_bool() == true);
	// The new CAN socket is in use: heartbeats go out again.
	const std::size_t hb = part.can->sent.size();
	bus.advance(2000);
	CHECK(bus.count(heartbeat_id(5, 0x02)) > 0u);
	(void)hb;
	// A flag change of the re-attached device changes nothing.
	part.d->on_link_events({{LinkEvent::Kind::Added, 13, "vcan0", false}});
	CHECK(part.seen("data_plane_attached").size() == 1u);
}

TEST_CASE_METHOD(HeartbeatPair, "status names the attach mode and the probed kernel features",
                 "[daemon][link]")
{
	// As the data plane reports them: the status reads them at every request.
	const JsonValue* dp = nullptr;
	auto st = part.status();
	dp = st.find("data_plane");
	REQUIRE(dp != nullptr);
	CHECK(dp->find("attach")->as_string() == "tc");
	CHECK(dp->find("crypto_kfuncs")->as_bool() == false);
	CHECK(dp->find("aes")->as_string() == "bpf");
	CHECK(dp->find("aes_driver") == nullptr);  // only with kernel AES
	part.dp.feats = DataPlaneFeatures{"tcx", true, "kernel", "ecb(aes-aesni)"};
	st = part.status();
	dp = st.find("data_plane");
	CHECK(dp->find("attach")->as_string() == "tcx");
	CHECK(dp->find("crypto_kfuncs")->as_bool() == true);
	CHECK(dp->find("aes")->as_string() == "kernel");
	CHECK(dp->find("aes_driver")->as_string() == "ecb(aes-aesni)");
	// Not attached yet (empty): null, not a made-up mode.
	part.dp.feats = DataPlaneFeatures{};
	st = part.status();
	const JsonValue* none = st.find("data_plane")->find("attach");
	REQUIRE(none != nullptr);
	CHECK(none->text() == "null");
}

TEST_CASE("a re-creation seen only as a new ifindex is a detach and a re-attach", "[daemon][link]")
{
	Bus bus;
	Node part(bus.clock, 5, false, "{cycle: 'off'}");
	bus.nodes = {&part};
	bus.start_all();
	// Event overflow lost the DELLINK: the NEWLINK carries another ifindex than ours.
	part.d->on_link_events({{LinkEvent::Kind::Added, 4242, "vcan0", true}});
	CHECK(part.seen("data_plane_detached").size() == 1u);
	CHECK(part.seen("data_plane_attached").size() == 1u);
	CHECK(part.d->data_plane_attached());
}
