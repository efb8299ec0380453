// SPDX-License-Identifier: Apache-2.0
// The participant protocol engine on its own: no daemon, no sockets, no clock. Two engines (a
// Sync and a participant) exchange the frames their Send actions carry; every receive time and
// "now" is chosen by the test.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "core/hex.h"
#include "core/key_schedule.h"
#include "core/participant.h"
#include "test_util.h"

using namespace spsec;

namespace {

using Act = ParticipantAction;
constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint64_t kT0 = 5'000'000'000;  // the test's first "now", ns
constexpr std::uint64_t kSyncT = 1'000'000;   // the Sync's T at kT0
const CommSalt kCsalt{0, 1, 2, 3};

const char* const kSeedHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const KeySalt kSeedSalt{1, 2, 3, 4, 5, 6, 7, 8};

// One node: its configuration, its clock and its engine.
struct Rig {
	Config cfg;
	SyncTime clock{100'000};  // 1 Mbit/s data phase: 100 us ticks
	Key32 seed = test::key32(kSeedHex);
	bool has_seed = true;
	std::uint8_t next_random = 0;
	// A verifier the test can refuse with.
	bool forge = false;
	std::unique_ptr<Participant> eng;  // refers to cfg, clock and this

	Rig(const Rig&) = delete;
	Rig& operator=(const Rig&) = delete;

	Rig(std::uint8_t pp, bool sync, HeartbeatCycle cycle = HeartbeatCycle::Off,
	    std::vector<std::uint8_t> monitor = {})
	{
		cfg.participant_id = pp;
		cfg.sync_role = sync;
		cfg.tick_ns = 100'000;
		cfg.heartbeat.cycle = cycle;
		cfg.heartbeat.monitor = std::move(monitor);
		ParticipantDeps d;
		d.seed = [this]() -> std::optional<SeedKeyRef> {
			if (!has_seed)
				return std::nullopt;
			return SeedKeyRef{&seed, kSeedSalt};
		};
		d.random = [this](std::span<std::uint8_t> out) -> Result<void> {
			for (auto& b : out)
				b = next_random++;
			return {};
		};
		d.verify_pa = [this](AeadKind k, const Key32& s, const Random16& r,
		                     const PaResponse& m) -> MsgResult<void> {
			if (forge)
				return tl::unexpected(MsgError{MsgErrc::BadTag});
			return verify_pa_response(k, s, r, m);
		};
		eng = std::make_unique<Participant>(cfg, clock, std::move(d));
	}
};

std::vector<const Act*> of_kind(const ParticipantActions& a, Act::Kind k)
{
	std::vector<const Act*> out;
	for (const Act& x : a)
		if (x.kind == k)
			out.push_back(&x);
	return out;
}

std::size_t events(const ParticipantActions& a, std::string_view name)
{
	std::size_t n = 0;
	for (const Act* x : of_kind(a, Act::Kind::Event))
		n += x->name == name;
	return n;
}

// The frames of the Send actions, each reported sent at `tx_ns`.
std::vector<CanFrame> sent(Rig& r, const ParticipantActions& a, std::uint64_t tx_ns)
{
	std::vector<CanFrame> out;
	for (const Act* x : of_kind(a, Act::Kind::Send)) {
		r.eng->on_sent(*x, tx_ns, tx_ns);
		out.push_back(*x->frame);
	}
	return out;
}

ControlKind kind_of(const CanFrame& f)
{
	auto c = classify_control_id(f.can_id);
	REQUIRE(c);
	return c->kind;
}

// Makes `s` a running Sync: clock set at kT0, csalt, keys, Secure.
void start_sync(Rig& s)
{
	REQUIRE(s.clock.set_at(kSyncT, kT0));
	s.eng->set_csalt(kCsalt);
	auto a = s.eng->apply(SmEvent::StartSecurity, kT0);
	REQUIRE(s.eng->status().state == State::Secure);
	CHECK(of_kind(a, Act::Kind::InstallKey).size() >= 1u);
}

// Runs PA: the participant's request at `now`, answered by the Sync at once, the response
// received `rtt` later. Returns the participant's actions for the response.
ParticipantActions run_pa(Rig& sync, Rig& part, std::uint64_t now, std::uint64_t rtt,
                          const ParticipantActions& with_request)
{
	auto req = sent(part, with_request, now);
	REQUIRE(req.size() == 1u);
	REQUIRE(kind_of(req[0]) == ControlKind::PaRequest);
	auto resp = sent(sync, sync.eng->on_frame(ControlKind::PaRequest, req[0], now, now), now);
	REQUIRE(resp.size() == 1u);
	return part.eng->on_frame(ControlKind::PaResponse, resp[0], now + rtt, now + rtt);
}

// A Sync broadcast sealed with the network's keys at T = `t`.
CanFrame broadcast_at(std::uint64_t t)
{
	return test::sealed_sync_broadcast(test::key32(kSeedHex), kCsalt, kSeedSalt, t);
}

}  // namespace

TEST_CASE("engine: PA sets T for the response's receive time and goes Secure", "[participant]")
{
	Rig sync(1, true);
	start_sync(sync);
	Rig part(5, false);
	auto start = part.eng->apply(SmEvent::StartSecurity, kT0);
	CHECK(part.eng->status().state == State::Waiting);
	CHECK(part.eng->due(Participant::Timer::PaRetry) == kT0 + 2000 * kMs);

	auto a = run_pa(sync, part, kT0, 4 * kMs, start);
	CHECK(events(a, "pa_ok") == 1u);
	CHECK(part.eng->status().state == State::Secure);
	// T = tim + RTT/2 (20 ticks) at the receive time; the Sync's T is tim there + 40.
	CHECK(part.clock.t_at(kT0 + 4 * kMs) == kSyncT + 20);
	CHECK(part.eng->csalt() == kCsalt);
	CHECK(of_kind(a, Act::Kind::InstallKey).size() >= 1u);
	CHECK(part.eng->due(Participant::Timer::PaRetry) == 0u);
	CHECK(part.eng->due(Participant::Timer::SyncWatchdog) == kT0 + 4 * kMs + 30'000 * kMs);
	CHECK(part.eng->next_deadline() ==
	      std::min(part.eng->due(Participant::Timer::KeyRoll),
	               part.eng->due(Participant::Timer::SyncWatchdog)));
}

TEST_CASE("engine: a PA response that does not verify changes nothing; the request is retried",
          "[participant]")
{
	Rig sync(1, true);
	start_sync(sync);
	Rig part(5, false);
	part.forge = true;
	auto a = run_pa(sync, part, kT0, 4 * kMs, part.eng->apply(SmEvent::StartSecurity, kT0));
	REQUIRE(of_kind(a, Act::Kind::PaAuthFailure).size() == 1u);
	CHECK(of_kind(a, Act::Kind::PaAuthFailure)[0]->code == event_code::kPaAuthFailure);
	CHECK(part.eng->status().state == State::Waiting);
	CHECK_FALSE(part.clock.is_set());
	CHECK(of_kind(a, Act::Kind::InstallKey).empty());
	// The retry timer is the only deadline; at it, a new request.
	CHECK(part.eng->next_deadline() == kT0 + 2000 * kMs);
	CHECK(part.eng->on_tick(kT0 + 1999 * kMs).empty());
	auto retry = part.eng->on_tick(kT0 + 2000 * kMs);
	REQUIRE(of_kind(retry, Act::Kind::Send).size() == 1u);
	CHECK(of_kind(retry, Act::Kind::Send)[0]->tx == Act::Tx::PaRequest);
}

TEST_CASE("engine: PA responses outside pa_max_rtt are discarded", "[participant]")
{
	Rig sync(1, true);
	start_sync(sync);
	Rig part(5, false);
	auto a = run_pa(sync, part, kT0, 21 * kMs, part.eng->apply(SmEvent::StartSecurity, kT0));
	CHECK(events(a, "pa_discarded") == 1u);
	CHECK(part.eng->status().state == State::Waiting);
	CHECK_FALSE(part.clock.is_set());
}

TEST_CASE("engine: no Seed Key, no PA request", "[participant]")
{
	Rig part(5, false);
	part.has_seed = false;
	auto a = part.eng->apply(SmEvent::StartSecurity, kT0);
	CHECK(of_kind(a, Act::Kind::Send).empty());
}

TEST_CASE("engine: the Sync broadcasts every 10 s and the participant applies it at its receive "
          "time",
          "[participant]")
{
	Rig sync(1, true);
	start_sync(sync);
	Rig part(5, false);
	(void)run_pa(sync, part, kT0, 0, part.eng->apply(SmEvent::StartSecurity, kT0));
	REQUIRE(part.eng->status().state == State::Secure);
	const std::uint64_t due = sync.eng->due(Participant::Timer::Broadcast);
	CHECK(due == kT0 + Participant::kSyncBroadcastNs);
	auto b = sent(sync, sync.eng->on_tick(due), due);
	REQUIRE(b.size() == 1u);
	CHECK(kind_of(b[0]) == ControlKind::SyncBroadcast);
	CHECK(sync.eng->due(Participant::Timer::Broadcast) == due + Participant::kSyncBroadcastNs);
	// Read 50 ms after it arrived: checked at the arrival, the watchdog runs from the read.
	auto a = part.eng->on_frame(ControlKind::SyncBroadcast, b[0], due, due + 50 * kMs);
	CHECK(events(a, "sync") == 1u);
	CHECK(of_kind(a, Act::Kind::SecurityEvent).empty());
	CHECK(part.eng->due(Participant::Timer::SyncWatchdog) == due + 50 * kMs + 30'000 * kMs);

	// A forged one is a security event (FE0Eh) and moves the participant to Warning.
	CanFrame forged = b[0];
	forged.data[0] ^= 0x40;
	auto f = part.eng->on_frame(ControlKind::SyncBroadcast, forged, due + kMs, due + kMs);
	REQUIRE(of_kind(f, Act::Kind::SecurityEvent).size() == 1u);
	CHECK(of_kind(f, Act::Kind::SecurityEvent)[0]->code == event_code::kSyncAuthFailure);
	CHECK(part.eng->status().state == State::Warning);
}

TEST_CASE("engine: a Sync that leaves Configuration in Warning broadcasts again", "[participant]")
{
	// Seen in vm_configurator: re-keyed last, with an alert pending from the switch-over, the
	// Sync exited Configuration into Warning and never broadcast again.
	Rig sync(1, true);
	start_sync(sync);
	const std::uint64_t t1 = kT0 + kMs;
	(void)sync.eng->security_event(event_code::kDataAuthFailure, "test", true, t1);
	REQUIRE(sync.eng->status().state == State::Warning);
	(void)sync.eng->apply(SmEvent::EnterConfig, t1 + kMs);
	REQUIRE(sync.eng->status().state == State::Configuration);
	CHECK(sync.eng->due(Participant::Timer::Broadcast) == 0u);
	(void)sync.eng->exit_configuration(t1 + 2 * kMs);
	REQUIRE(sync.eng->status().state == State::Warning);
	const std::uint64_t due = sync.eng->due(Participant::Timer::Broadcast);
	REQUIRE(due != 0u);
	auto b = sent(sync, sync.eng->on_tick(due), due);
	REQUIRE(b.size() == 1u);
	CHECK(kind_of(b[0]) == ControlKind::SyncBroadcast);
}

TEST_CASE("engine: no verifiable Sync broadcast for sync_abort: Security Abort, clock reset",
          "[participant]")
{
	Rig sync(1, true);
	start_sync(sync);
	Rig part(5, false);
	(void)run_pa(sync, part, kT0, 0, part.eng->apply(SmEvent::StartSecurity, kT0));
	const std::uint64_t abort_at = part.eng->due(Participant::Timer::SyncWatchdog);
	auto a = part.eng->on_tick(abort_at);
	REQUIRE(of_kind(a, Act::Kind::SyncAbort).size() == 1u);
	CHECK(of_kind(a, Act::Kind::WipeKeys).size() == 1u);
	CHECK(of_kind(a, Act::Kind::Republish).size() == 1u);
	CHECK(part.eng->status().state == State::Waiting);
	CHECK_FALSE(part.clock.is_set());
	CHECK_FALSE(part.eng->csalt());
	CHECK(part.eng->key_windows().empty());
}

TEST_CASE("engine: an authentic broadcast stamped ahead right after PA runs PA again, at most "
          "three times in a row",
          "[participant]")
{
	Rig sync(1, true);
	start_sync(sync);
	Rig part(5, false);
	std::uint64_t now = kT0;
	(void)run_pa(sync, part, now, 0, part.eng->apply(SmEvent::StartSecurity, now));
	REQUIRE(part.eng->status().state == State::Secure);
	std::size_t behind = 0;
	ParticipantActions last;
	for (int i = 0; i < 4; i++) {
		now += 100 * kMs;
		// 100 ms (1000 ticks) ahead of the Sync, which the participant follows.
		last = part.eng->on_frame(ControlKind::SyncBroadcast,
		                          broadcast_at(sync.clock.t_at(now) + 1000), now, now);
		behind += events(last, "clock_behind");
		if (events(last, "clock_behind") == 1u) {
			// PA again at once, answered: the clock is the Sync's once more.
			auto pa = run_pa(sync, part, now, 0, last);
			CHECK(events(pa, "pa_ok") == 1u);
		}
	}
	CHECK(behind == 3u);
	REQUIRE(of_kind(last, Act::Kind::SecurityEvent).size() == 1u);
	CHECK(of_kind(last, Act::Kind::SecurityEvent)[0]->code == event_code::kSyncAuthFailure);
}

TEST_CASE("engine: a stale authentic broadcast during probation is a security event, no PA",
          "[participant]")
{
	Rig sync(1, true);
	start_sync(sync);
	Rig part(5, false);
	(void)run_pa(sync, part, kT0, 0, part.eng->apply(SmEvent::StartSecurity, kT0));
	const std::uint64_t now = kT0 + 200 * kMs;
	auto a = part.eng->on_frame(ControlKind::SyncBroadcast,
	                            broadcast_at(sync.clock.t_at(now) - 1000), now, now);
	CHECK(events(a, "clock_behind") == 0u);
	CHECK(of_kind(a, Act::Kind::Send).empty());
	REQUIRE(of_kind(a, Act::Kind::SecurityEvent).size() == 1u);
}

TEST_CASE("engine: heartbeats in their slot; a watched peer silent for 2.5 cycles is reported",
          "[participant]")
{
	Rig sync(1, true, HeartbeatCycle::S1, {5});
	REQUIRE(sync.clock.set_at(kSyncT, kT0));
	sync.eng->set_csalt(kCsalt);
	(void)sync.eng->apply(SmEvent::StartSecurity, kT0);
	REQUIRE(sync.eng->status().state == State::Secure);
	// Slot: pp (1) ms after each full second of T.
	const std::uint64_t hb = sync.eng->due(Participant::Timer::Heartbeat);
	CHECK((sync.clock.t_at(hb) % 10'000) == 10u);
	auto a = sync.eng->on_tick(hb);
	REQUIRE(of_kind(a, Act::Kind::Send).size() == 1u);
	CHECK(of_kind(a, Act::Kind::Send)[0]->tx == Act::Tx::Heartbeat);
	sync.eng->on_sent(*of_kind(a, Act::Kind::Send)[0], hb, hb + 30'000);
	CHECK(sync.eng->last_heartbeat_sent_ns() == hb);
	CHECK(sync.eng->heartbeat_send_lag_max_ns() == 30'000u);

	// Participant 5 never sends: its monitor deadline is 2.5 s after Secure.
	const std::uint64_t missing_at = kT0 + 2500 * kMs;
	CHECK(sync.eng->check_peers(missing_at - 1).empty());
	auto m = sync.eng->check_peers(missing_at);
	REQUIRE(of_kind(m, Act::Kind::SecurityEvent).size() == 1u);
	CHECK(of_kind(m, Act::Kind::SecurityEvent)[0]->code == heartbeat_missing_event(5));
	CHECK(sync.eng->status().state == State::Warning);
	CHECK(sync.eng->peers().at(5).missing);
	// Reported once.
	CHECK(sync.eng->check_peers(missing_at + 10'000 * kMs).empty());
}

namespace {

// A running Sync (which watches 5) and participant 5 Secure through PA at kT0.
void secure_pair(Rig& sync, Rig& part)
{
	REQUIRE(sync.clock.set_at(kSyncT, kT0));
	sync.eng->set_csalt(kCsalt);
	(void)sync.eng->apply(SmEvent::StartSecurity, kT0);
	(void)run_pa(sync, part, kT0, 0, part.eng->apply(SmEvent::StartSecurity, kT0));
	REQUIRE(part.eng->status().state == State::Secure);
}

}  // namespace

TEST_CASE("engine: a heartbeat restamped when it is sent arrives in the window; the old one not",
          "[participant]")
{
	Rig sync(1, true, HeartbeatCycle::Off, {5});
	Rig part(5, false, HeartbeatCycle::S1);
	secure_pair(sync, part);
	const std::uint64_t hb = part.eng->due(Participant::Timer::Heartbeat);
	auto a = part.eng->on_tick(hb);
	REQUIRE(of_kind(a, Act::Kind::Send).size() == 1u);
	const Act& send = *of_kind(a, Act::Kind::Send)[0];
	// The Daemon gets to the write 40 ms later (W = 150 ticks = 15 ms): T is taken again.
	const std::uint64_t at = hb + 40 * kMs;
	auto fresh = part.eng->restamp_heartbeat(at);
	REQUIRE(fresh);
	part.eng->on_sent(send, at, at + 20'000, at);
	CHECK(part.eng->heartbeat_send_lag_max_ns() == 20'000u);
	auto ok = sync.eng->on_frame(ControlKind::Heartbeat, *fresh, at + 20'000, at + 20'000);
	CHECK(of_kind(ok, Act::Kind::SecurityEvent).empty());
	CHECK(sync.eng->peers().at(5).last_ns == at + 20'000);
	// The frame sealed at the tick would have failed the window there.
	auto late =
	        sync.eng->on_frame(ControlKind::Heartbeat, *send.frame, at + 20'000, at + 20'000);
	REQUIRE(of_kind(late, Act::Kind::SecurityEvent).size() == 1u);
	CHECK(of_kind(late, Act::Kind::SecurityEvent)[0]->code == event_code::kDataAuthFailure);
	// Not Secure or Warning any more: nothing to restamp (the Daemon sends the action's frame).
	(void)part.eng->apply(SmEvent::SyncLost, at);
	CHECK_FALSE(part.eng->restamp_heartbeat(at + kMs));
}

TEST_CASE("engine: a verified heartbeat records the peer, its offset, and ends its absence",
          "[participant]")
{
	Rig sync(1, true, HeartbeatCycle::Off, {5});
	Rig part(5, false, HeartbeatCycle::S1);
	secure_pair(sync, part);
	const std::uint64_t hb = part.eng->due(Participant::Timer::Heartbeat);
	auto frames = sent(part, part.eng->on_tick(hb), hb);
	REQUIRE(frames.size() == 1u);
	auto a = sync.eng->on_frame(ControlKind::Heartbeat, frames[0], hb, hb);
	CHECK(of_kind(a, Act::Kind::SecurityEvent).empty());
	REQUIRE(sync.eng->peers().count(5) == 1u);
	const Participant::Peer& p = sync.eng->peers().at(5);
	CHECK(p.last_ns == hb);
	CHECK(p.offsets.size() == 1u);
	// The same frame again is a replay: DE04h.
	auto r = sync.eng->on_frame(ControlKind::Heartbeat, frames[0], hb + kMs, hb + kMs);
	REQUIRE(of_kind(r, Act::Kind::SecurityEvent).size() == 1u);
	CHECK(of_kind(r, Act::Kind::SecurityEvent)[0]->code == event_code::kDuplicate);
}
