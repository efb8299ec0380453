// SPDX-License-Identifier: Apache-2.0
// A bus of in-process spsecd instances for unit tests: each Node is a full Daemon with its own
// FakeDataPlane and FakeCanPort, Bus delivers every frame one node sends to every other node,
// all on one FakeClock. Time moves only when the test says so.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "core/messages.h"
#include "daemon/daemon.h"
#include "daemon_test_util.h"
#include "fake_daemon.h"
#include "json_view.h"

namespace spsec::test {

constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint64_t kTick = 100'000;  // 1 Mbit/s data phase

constexpr const char* kKeys =
        "format = 1\n"
        "seed.key = 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
        "seed.salt = 0102030405060708\n"
        "seed.id = 0x00000042\n";

struct Node {
	TempDir dir;
	// Warnings and errors go to <dir>/spsecd.log, so tests can count log lines.
	Fd log_fd{::open(dir.file("spsecd.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	                 0600)};
	Logger log{log_fd.get(), LogLevel::Warning, false};
	FakeDataPlane dp;
	FakeCanPort* can = nullptr;  // owned by the daemon
	std::unique_ptr<Daemon> d;
	std::vector<std::string> events;
	std::uint8_t rnd_counter = 0;
	bool connected = true;  // false: the node's frames do not reach the bus and back
	// Runs while the node verifies a PA response (a test makes fake time pass there).
	std::function<void()> during_pa_verify;
	FakeClock& clock_;

	Node(FakeClock& clock, int pp, bool sync, const std::string& heartbeat,
	     const std::string& keys = kKeys, const std::string& bitrate = "1000000",
	     int window = 150)
	    : clock_(clock)
	{
		spsec::test::write_file(dir.file("spsecd.yaml"),
		                        "interface: vcan0\nparticipant_id: " + std::to_string(pp) +
		                                "\nsync: " + (sync ? "on" : "off") +
		                                "\naead: aes-gcm\ndata_bitrate: " + bitrate +
		                                "\nacceptance_window: " + std::to_string(window) +
		                                "\nheartbeat: " + heartbeat +
		                                "\nkey_store: " + dir.file("keys") +
		                                "\ncontrol_socket: " + dir.file("ctl.sock") +
		                                "\npin_dir: " + dir.file("pins") + "\n");
		spsec::test::write_file(dir.file("keys"), keys, 0600);
		make_daemon();
	}
	// A new Daemon on the same files (config, key store, state dir), not started: spsecd
	// restarting. The old one is torn down first.
	void make_daemon()
	{
		d.reset();
		can = nullptr;
		DaemonDeps deps = fake_daemon_deps(log, clock_, dp, can, dir.path(), rnd_counter);
		deps.on_event = [this](std::string_view l) { events.emplace_back(l); };
		deps.verify_pa = [this](AeadKind a, const Key32& k, const Random16& r,
		                        const PaResponse& m) {
			if (during_pa_verify)
				during_pa_verify();
			return verify_pa_response(a, k, r, m);
		};
		d = std::make_unique<Daemon>(std::move(deps), dir.file("spsecd.yaml"));
	}
	// The daemon reports its teardown through on_event: it must go before `events`.
	~Node() { d.reset(); }
	Node(const Node&) = delete;
	Node& operator=(const Node&) = delete;

	void start()
	{
		auto r = d->start();
		if (!r)
			FAIL(r.error().message());
	}
	[[nodiscard]] State state() const { return d->sm_status().state; }
	[[nodiscard]] JsonValue status()
	{
		auto j = parse_json_view(d->status_json());
		REQUIRE(j);
		return *j;
	}
	// Events named `name` seen so far.
	[[nodiscard]] std::vector<JsonValue> seen(std::string_view name) const
	{
		std::vector<JsonValue> out;
		for (const auto& l : events) {
			auto j = parse_json_view(l);
			if (j && j->find("event")->as_string() == name)
				out.push_back(*j);
		}
		return out;
	}
	// Lines of the node's log (warnings and errors) that contain `part`.
	[[nodiscard]] std::size_t log_lines(std::string_view part) const
	{
		std::size_t n = 0;
		std::istringstream in(spsec::test::read_file(dir.file("spsecd.log")));
		for (std::string l; std::getline(in, l);)
			n += l.find(part) != std::string::npos ? 1u : 0u;
		return n;
	}
	[[nodiscard]] bool security_event(std::string_view code) const
	{
		for (const auto& e : seen("security_event"))
			if (e.find("code")->as_string() == code)
				return true;
		return false;
	}
};

struct Bus {
	FakeClock clock{5'000'000'000};
	std::vector<Node*> nodes;
	std::vector<canfd_frame> wire;  // everything that crossed the bus
	// Sees every frame that crosses the bus (a Configurator listening on it).
	std::function<void(const canfd_frame&)> tap;

	// Delivers queued frames until the bus is quiet; optional `tamper` edits each frame.
	void pump(const std::function<void(canfd_frame&)>& tamper = {})
	{
		for (int round = 0; round < 20; round++) {
			bool moved = false;
			for (Node* from : nodes) {
				if (from->d->can() == nullptr)
					continue;  // its interface is gone (no CAN socket)
				auto sent = std::move(from->can->sent);
				from->can->sent.clear();
				if (!from->connected)
					continue;
				for (auto f : sent) {
					moved = true;
					if (tamper)
						tamper(f);
					wire.push_back(f);
					if (tap)
						tap(f);
					for (Node* to : nodes)
						if (to != from && to->connected &&
						    to->d->can() != nullptr)
							to->can->inbox.push_back(
							        {f, clock.monotonic_ns()});
				}
			}
			for (Node* n : nodes)
				n->d->process_can();
			if (!moved)
				return;
		}
	}
	// Starts every node on the bus, in order, then delivers what they send until it is quiet.
	void start_all()
	{
		for (Node* n : nodes)
			n->start();
		pump();
	}
	// Advances time in `step_ms` steps, running every node's timers and the bus each step.
	void advance(std::uint64_t total_ms, std::uint64_t step_ms = 100)
	{
		for (std::uint64_t done = 0; done < total_ms; done += step_ms) {
			clock.advance_ns(std::min(step_ms, total_ms - done) * kMs);
			for (Node* n : nodes)
				n->d->run_timers();
			pump();
		}
	}
	[[nodiscard]] std::size_t count(std::uint32_t can_id) const
	{
		return static_cast<std::size_t>(
		        std::count_if(wire.begin(), wire.end(),
		                      [&](const canfd_frame& f) { return f.can_id == can_id; }));
	}
};

// A Sync (participant 1) and a participant (5) on one bus, heartbeats as given (off by default),
// not started. A fixture for TEST_CASE_METHOD: the test body sees bus, sync and part.
struct SyncAndParticipant {
	explicit SyncAndParticipant(const std::string& sync_heartbeat = "{cycle: 'off'}",
	                            const std::string& part_heartbeat = "{cycle: 'off'}")
	    : sync(bus.clock, 1, true, sync_heartbeat), part(bus.clock, 5, false, part_heartbeat)
	{
		bus.nodes = {&sync, &part};
	}
	Bus bus;
	Node sync;
	Node part;
};

// The same pair started: the participant has run Parameter Authentication and is Secure.
struct SecuredPair : SyncAndParticipant {
	explicit SecuredPair(const std::string& sync_heartbeat = "{cycle: 'off'}",
	                     const std::string& part_heartbeat = "{cycle: 'off'}")
	    : SyncAndParticipant(sync_heartbeat, part_heartbeat)
	{
		bus.start_all();
		REQUIRE(part.state() == State::Secure);
	}
};

}  // namespace spsec::test
