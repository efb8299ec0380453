// SPDX-License-Identifier: Apache-2.0
// spsecd's participant side of Configurator sessions, end to end in one process: the real
// `spsecctl configure` command (run_configure) talks through a FrameLink to full Daemons on the
// fake bus of daemon_bus_fixture.h. Every attack compares the key store file, the registers
// file and the daemon's status before and after.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/hex.h"
#include "ctl/can_link.h"
#include "ctl/commands.h"
#include "daemon/register_overlay.h"
#include "daemon_bus_fixture.h"

using namespace spsec;
using spsec::test::Bus;
using spsec::test::kKeys;
using spsec::test::kMs;
using spsec::test::Node;
using spsec::test::read_file;
using spsec::test::write_file;

namespace {

// The Configurator's end of the fake bus: what it sends reaches every node, what the nodes
// send queues up for it. Waiting moves the shared FakeClock and runs the nodes' timers.
class DaemonBusLink final : public ctl::FrameLink {
public:
	explicit DaemonBusLink(Bus& b) : bus_(b)
	{
		bus_.tap = [this](const canfd_frame& f) {
			queue_.push_back(from_kernel_frame(f, true));
		};
	}
	~DaemonBusLink() override { bus_.tap = nullptr; }
	DaemonBusLink(const DaemonBusLink&) = delete;
	DaemonBusLink& operator=(const DaemonBusLink&) = delete;

	Result<void> send(const CanFrame& f) override
	{
		if (drop && drop(f))
			return {};  // lost on the way (the test plays a Configurator that vanishes)
		const canfd_frame k = to_kernel_frame(f);
		bus_.wire.push_back(k);
		for (Node* n : bus_.nodes)
			if (n->connected)
				n->can->inbox.push_back({k, bus_.clock.monotonic_ns()});
		for (Node* n : bus_.nodes)
			n->d->process_can();
		bus_.pump();
		return {};
	}
	Result<std::optional<CanFrame>> receive(std::uint64_t deadline) override
	{
		while (queue_.empty() && bus_.clock.monotonic_ns() < deadline) {
			bus_.clock.advance_ns(
			        std::min<std::uint64_t>(kMs, deadline - bus_.clock.monotonic_ns()));
			for (Node* n : bus_.nodes)
				n->d->run_timers();
			bus_.pump();
		}
		if (queue_.empty())
			return std::optional<CanFrame>{};
		CanFrame f = queue_.front();
		queue_.pop_front();
		return std::optional<CanFrame>{f};
	}
	std::uint64_t now_ns() override { return bus_.clock.monotonic_ns(); }

	// Frames of the Configurator that never reach the bus.
	std::function<bool(const CanFrame&)> drop;

private:
	Bus& bus_;
	std::deque<CanFrame> queue_;
};

struct Outcome {
	int rc = -1;
	std::string out;
	std::string err;
};

Outcome configure(Bus& bus, std::vector<std::string> args,
                  std::function<bool(const CanFrame&)> drop = {})
{
	ctl::CtlEnv env;
	env.open_link = [&bus,
	                 drop](const std::string&) -> Result<std::unique_ptr<ctl::FrameLink>> {
		auto link = std::make_unique<DaemonBusLink>(bus);
		link->drop = drop;
		return std::unique_ptr<ctl::FrameLink>(std::move(link));
	};
	auto next = std::make_shared<std::uint8_t>(0x40);
	env.rng = [next](std::span<std::uint8_t> b) {
		for (auto& x : b)
			x = (*next)++;
	};
	Outcome o;
	o.rc = ctl::run_configure(args, env);
	o.out = env.out;
	o.err = env.err;
	return o;
}

std::vector<std::string> session(int pp, const std::string& key, const std::string& file = "")
{
	std::vector<std::string> a = {"--interface",      "vcan0",          "--participant",
	                              std::to_string(pp), "--key-selector", key};
	if (!file.empty()) {
		a.push_back("--key-file");
		a.push_back(file);
	}
	return a;
}

std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b)
{
	a.insert(a.end(), b.begin(), b.end());
	return a;
}

bool contains(const std::string& s, const std::string& part)
{
	return s.find(part) != std::string::npos;
}

// A key file with one key of `role`: 32 bytes of `fill`, salt 8 bytes of fill ^ FF.
std::string key_file(const Node& n, const std::string& name, const std::string& role,
                     std::uint8_t fill, std::uint32_t id)
{
	const std::vector<std::uint8_t> key(32, fill);
	const std::vector<std::uint8_t> salt(8, static_cast<std::uint8_t>(fill ^ 0xFF));
	const std::string path = n.dir.file(name);
	write_file(path,
	           "format = 1\n" + role + ".key = " + format_hex(key) + "\n" + role + ".salt = " +
	                   format_hex(salt) + "\n" + role + ".id = " + hex32(id) + "\n",
	           0600);
	return path;
}

// kKeys' Seed Key as a Configurator's key file.
std::string seed_file(const Node& n)
{
	const std::string path = n.dir.file("seed.keys");
	write_file(path, kKeys, 0600);
	return path;
}

// A node's key store with a Provisioning (0x11, ID 101h) and an Integrator Key (0x22, 202h)
// besides kKeys' Seed Key: a node commissioned earlier.
std::string provisioned_keys()
{
	const std::string k1(64, '1'), k2(64, '2');
	return std::string(kKeys) + "provisioning.key = " + k1 +
	       "\nprovisioning.salt = eeeeeeeeeeeeeeee\nprovisioning.id = 0x00000101\n" +
	       "integrator.key = " + k2 +
	       "\nintegrator.salt = dddddddddddddddd\nintegrator.id = 0x00000202\n";
}

// The Integrator Key of provisioned_keys() as a Configurator's key file.
std::string integrator_file(const Node& n)
{
	const std::string path = n.dir.file("integrator.keys");
	write_file(path,
	           "format = 1\nintegrator.key = " + std::string(64, '2') +
	                   "\nintegrator.salt = dddddddddddddddd\nintegrator.id = 0x00000202\n",
	           0600);
	return path;
}

void check_no_key_material(const Outcome& o, const Node& n)
{
	// No key or salt in hex reaches the output or the daemon's event stream.
	for (const std::string& k : {std::string(64, '2'), std::string(64, '1'),
	                             std::string("000102030405060708090a0b0c0d0e0f"),
	                             std::string("1111111111111111111111111111")}) {
		CHECK_FALSE(contains(o.out, k));
		CHECK_FALSE(contains(o.err, k));
		for (const auto& e : n.events)
			CHECK_FALSE(contains(e, k));
	}
}

// A Sync and participant 5 (commissioned earlier: provisioned_keys()), both Secure.
struct SecureNode {
	Bus bus;
	Node sync{bus.clock, 1, true, "{cycle: 'off'}"};
	Node node{bus.clock, 5, false, "{cycle: 'off'}", provisioned_keys()};
	SecureNode()
	{
		bus.nodes = {&sync, &node};
		bus.start_all();
		REQUIRE(node.state() == State::Secure);
	}
};

mode_t file_mode(const std::string& path)
{
	struct stat st {};
	REQUIRE(::stat(path.c_str(), &st) == 0);
	return st.st_mode & 07777;
}

}  // namespace

TEST_CASE("a factory-fresh node is commissioned over the bus and joins it",
          "[daemon][configurator]")
{
	Bus bus;
	Node sync(bus.clock, 1, true, "{cycle: 'off'}");
	Node fresh(bus.clock, 127, false, "{cycle: 'off'}", "format = 1\n");
	bus.nodes = {&sync, &fresh};
	bus.start_all();
	// No Seed Key: Waiting, data plane closed, not even a PA request.
	CHECK(fresh.state() == State::Waiting);
	CHECK(bus.count(pa_request_id(127)) == 0u);
	CHECK(fresh.dp.installs.empty());

	// 1. Zero-Key discovery.
	auto o = configure(bus, session(127, "zero") + std::vector<std::string>{"identify"});
	INFO(o.out << o.err);
	REQUIRE(o.rc == 0);
	CHECK(contains(o.out, "not installed"));
	CHECK(contains(o.out, "spsec-linux"));
	CHECK(fresh.state() == State::Waiting);  // back from Configuration

	// 2. The Provisioning Key, durable in the key store (0600) before the acknowledgement.
	const auto prov = key_file(fresh, "prov.keys", "provisioning", 0x11, 0x101);
	o = configure(bus, session(127, "zero") + std::vector<std::string>{"install-provisioning",
	                                                                   "--key-file", prov});
	INFO(o.out << o.err);
	REQUIRE(o.rc == 0);
	const std::string ks = fresh.dir.file("keys");
	CHECK(contains(read_file(ks), "provisioning.id = 0x00000101"));
	CHECK(file_mode(ks) == 0600);
	CHECK(fresh.state() == State::Waiting);

	// 3. Integrator and Seed Keys and the configuration with the Provisioning Key.
	const auto integ = key_file(fresh, "integ.keys", "integrator", 0x22, 0x202);
	o = configure(bus,
	              session(127, "provisioning", prov) +
	                      std::vector<std::string>{
	                              "install-integrator", "--key-file", integ, "install-seed",
	                              "--key-file", seed_file(fresh), "set", "participant-id", "5",
	                              "set", "heartbeat", "1s", "read", "participant-id"});
	INFO(o.out << o.err);
	REQUIRE(o.rc == 0);
	const std::string text = read_file(ks);
	CHECK(contains(text, "integrator.id = 0x00000202"));
	CHECK(contains(text, "seed.id = 0x00000042"));
	const std::string regs = read_file(fresh.dir.file("vcan0.registers"));
	CHECK(contains(regs, "participant_id = 5"));
	CHECK(contains(regs, "heartbeat_timing = 4"));
	CHECK(file_mode(fresh.dir.file("vcan0.registers")) == 0600);
	check_no_key_material(o, fresh);

	// 4. Out of Configuration it authenticates (still as 127 until restarted) and goes Secure
	// with the same Communication Key as the Sync.
	bus.advance(100, 10);
	CHECK(fresh.state() == State::Secure);
	CHECK(bus.count(pa_request_id(127)) >= 1u);
	REQUIRE_FALSE(fresh.dp.key_of_window.empty());
	CHECK(fresh.dp.key_of_window == sync.dp.key_of_window);
	auto st = fresh.status();
	CHECK(st.find("participant_id")->as_u64() == 127u);
	CHECK(st.find("heartbeat")->find("cycle")->as_string() == "1s");  // live at Exit Config
	REQUIRE(st.find("configurator")->find("restart_pending")->items().size() == 1u);
	CHECK(st.find("configurator")->find("restart_pending")->items()[0].as_string() ==
	      "participant_id");
	CHECK(st.find("keys")->find("integrator")->as_string() == "0x00000202");

	// 5. Restarted, it is participant 5 and joins again.
	fresh.make_daemon();
	fresh.start();
	bus.pump();
	CHECK(fresh.status().find("participant_id")->as_u64() == 5u);
	CHECK(bus.count(pa_request_id(5)) >= 1u);
	CHECK(fresh.state() == State::Secure);
	CHECK(fresh.status().find("configurator")->find("restart_pending")->items().empty());
}

TEST_CASE("attacks on Configurator sessions change nothing on the node", "[daemon][configurator]")
{
	SecureNode n;
	Bus& bus = n.bus;
	Node& node = n.node;
	const std::string ks = node.dir.file("keys");
	const std::string before = read_file(ks);
	const std::string regs = node.dir.file("vcan0.registers");
	auto unchanged = [&] {
		CHECK(read_file(ks) == before);
		CHECK_FALSE(std::filesystem::exists(regs));
		CHECK(node.state() != State::Configuration);
	};

	SECTION("a session opened with a wrong key: 5E02h")
	{
		const auto wrong = key_file(node, "wrong.keys", "integrator", 0x99, 0x202);
		auto o = configure(bus, session(5, "integrator", wrong) +
		                                std::vector<std::string>{"set", "heartbeat", "2s"});
		INFO(o.out << o.err);
		CHECK(o.rc == 1);
		CHECK(contains(o.err, "5E02h"));
		CHECK(node.security_event("0x00005e02"));
		CHECK(node.status().find("last_event")->as_string() == "0x00005e02");
		unchanged();
	}
	SECTION("a replayed ClientFinished: 5E02h, no Configuration")
	{
		auto o = configure(bus, session(5, "integrator", integrator_file(node)) +
		                                std::vector<std::string>{"status"});
		REQUIRE(o.rc == 0);
		std::optional<canfd_frame> finished;
		for (const auto& f : bus.wire)
			if (classify_control_id(f.can_id) &&
			    classify_control_id(f.can_id)->kind == ControlKind::ClientFinished)
				finished = f;
		REQUIRE(finished);
		const auto states = node.seen("state").size();
		node.can->inbox.push_back({*finished, bus.clock.monotonic_ns()});
		node.d->process_can();
		bus.pump();
		CHECK(node.security_event("0x00005e02"));
		CHECK(node.seen("state").size() == states + 1);  // Secure -> Warning, nothing else
		CHECK(node.state() == State::Warning);
		unchanged();
	}
	SECTION("the Provisioning Key a second time: already_set")
	{
		const auto prov2 = key_file(node, "prov2.keys", "provisioning", 0x77, 0x777);
		auto o = configure(bus, session(5, "zero") +
		                                std::vector<std::string>{"install-provisioning",
		                                                         "--key-file", prov2});
		INFO(o.out << o.err);
		CHECK(o.rc == 1);
		CHECK(contains(o.err, "already_set"));
		CHECK(node.seen("register_refused").size() == 1u);
		unchanged();
	}
	SECTION("a configuration write in a Zero-Key session: access_denied")
	{
		auto o = configure(bus, session(5, "zero") + std::vector<std::string>{
		                                                     "set", "participant-id", "9"});
		INFO(o.out << o.err);
		CHECK(o.rc == 1);
		CHECK(contains(o.err, "access_denied"));
		unchanged();
	}
	SECTION("a key write that cannot be made durable is not acknowledged")
	{
		// The key store's directory is gone: the atomic write fails, so the node sends no
		// acknowledgement and keeps its keys.
		const std::string moved = node.dir.file("moved");
		std::filesystem::create_directory(moved);
		std::filesystem::rename(ks, moved + "/keys");
		std::filesystem::create_directory(ks);  // the key store path is now a directory
		auto o = configure(bus,
		                   session(5, "integrator", integrator_file(node)) +
		                           std::vector<std::string>{"install-seed", "--key-file",
		                                                    seed_file(node)});
		INFO(o.out << o.err);
		CHECK(o.rc == 1);
		CHECK(node.seen("register_commit_failed").size() == 1u);
		CHECK(node.seen("key_written").empty());
		CHECK(read_file(moved + "/keys") == before);
		CHECK(node.status().find("keys")->find("seed")->as_string() == "0x00000042");
	}
}

TEST_CASE("re-keying the Seed Key of a running bus brings every node back to Secure",
          "[daemon][configurator]")
{
	Bus bus;
	Node sync(bus.clock, 1, true, "{cycle: 1s, monitor: [5, 6]}", provisioned_keys());
	Node a(bus.clock, 5, false, "{cycle: 1s, monitor: [1, 6]}", provisioned_keys());
	Node b(bus.clock, 6, false, "{cycle: 1s, monitor: [1, 5]}", provisioned_keys());
	bus.nodes = {&sync, &a, &b};
	bus.start_all();
	bus.advance(3000);
	for (Node* n : bus.nodes)
		REQUIRE(n->state() == State::Secure);
	const auto old_keys = sync.dp.key_of_window;

	const auto integ = integrator_file(a);
	const auto seed2 = key_file(a, "seed2.keys", "seed", 0x5E, 0x43);
	for (int pp : {5, 6, 1}) {
		auto o = configure(
		        bus, session(pp, "integrator", integ) +
		                     std::vector<std::string>{"install-seed", "--key-file", seed2});
		INFO(pp << ": " << o.out << o.err);
		REQUIRE(o.rc == 0);
	}
	// The switch-over: nodes re-keyed earlier do not verify the others until the last one is
	// done; then heartbeats and Sync broadcasts verify again and Warning clears.
	bus.advance(20'000);
	for (Node* n : bus.nodes) {
		INFO("participant " << n->status().find("participant_id")->as_u64().value_or(0));
		CHECK(n->state() == State::Secure);
		CHECK(n->status().find("keys")->find("seed")->as_string() == "0x00000043");
		CHECK(n->dp.key_of_window == sync.dp.key_of_window);
		CHECK(contains(read_file(n->dir.file("keys")), "seed.id = 0x00000043"));
	}
	CHECK(sync.dp.key_of_window != old_keys);
	// Steady state after the switch-over: no new security event anywhere.
	std::vector<std::size_t> counts;
	for (Node* n : bus.nodes)
		counts.push_back(n->seen("security_event").size());
	bus.advance(10'000);
	for (std::size_t i = 0; i < bus.nodes.size(); i++)
		CHECK(bus.nodes[i]->seen("security_event").size() == counts[i]);
}

TEST_CASE("a manufacturer reset closes the node and erases its keys", "[daemon][configurator]")
{
	SecureNode n;
	Bus& bus = n.bus;
	Node& node = n.node;
	const int wipes = node.dp.wipes;
	auto o = configure(bus, session(5, "integrator", integrator_file(node)) +
	                                std::vector<std::string>{"manufacturer-reset"});
	INFO(o.out << o.err);
	REQUIRE(o.rc == 0);
	CHECK(node.state() == State::Waiting);
	CHECK(node.dp.wipes > wipes);
	const std::string text = read_file(node.dir.file("keys"));
	CHECK(contains(text, "provisioning.id = 0x00000101"));
	CHECK_FALSE(contains(text, "seed."));
	CHECK_FALSE(contains(text, "integrator."));
	const auto pa = bus.count(pa_request_id(5));
	bus.advance(5000);
	CHECK(bus.count(pa_request_id(5)) == pa);  // no Seed Key: no PA
	CHECK(node.state() == State::Waiting);
}

TEST_CASE("the registers file: round trip and clear errors", "[daemon][configurator]")
{
	RegisterOverlay o;
	o.participant_id = 5;
	o.heartbeat_monitor = 0xFFFFFFFFu;
	o.bit_rate = 0x0402;
	auto back = parse_register_overlay(format_register_overlay(o), "f");
	REQUIRE(back);
	CHECK(*back == o);

	struct Bad {
		const char* text;
		const char* message;
	};
	const Bad bad[] = {
	        {"participant_id = 5\n", "f: missing 'format = 1' line"},
	        {"format = 2\n", "f line 1: unsupported format"},
	        {"format = 1\nnode = 5\n", "f line 2: unknown name 'node'"},
	        {"format = 1\nparticipant_id = 0\n",
	         "f line 2: participant_id: '0' is not a valid value"},
	        {"format = 1\nparticipant_id = 128\n", "not a valid value"},
	        {"format = 1\nsync_role = 2\n", "f line 2: sync_role: '2' is not a valid value"},
	        {"format = 1\nheartbeat_timing = 7\n", "heartbeat_timing: '7'"},
	        {"format = 1\nheartbeat_monitor = 0x00008001\n", "heartbeat_monitor: '0x00008001'"},
	        {"format = 1\nbit_rate = 0x10000\n", "is not a 16-bit number"},
	        {"format = 1\nparticipant_id = five\n", "is not a 8-bit number"},
	        {"format = 1\nparticipant_id\n", "expected 'name = value'"},
	        {"format = 1\nsync_role = 1\nsync_role = 0\n", "f line 3: sync_role given twice"},
	};
	for (const auto& b : bad) {
		auto r = parse_register_overlay(b.text, "f");
		INFO(b.text);
		REQUIRE_FALSE(r);
		CHECK_THAT(r.error().message(), Catch::Contains(b.message));
	}

	// spsecd refuses to start on a bad registers file and names it.
	Bus bus;
	Node n(bus.clock, 5, false, "{cycle: 'off'}");
	write_file(n.dir.file("vcan0.registers"), "format = 1\nparticipant_id = 200\n");
	auto r = n.d->start();
	REQUIRE_FALSE(r);
	CHECK_THAT(r.error().message(), Catch::Contains("vcan0.registers line 2"));

	// The node's own ID never enters its monitor list.
	Config cfg;
	cfg.participant_id = 5;
	RegisterOverlay m;
	m.participant_id = 6;
	m.heartbeat_monitor = 0x00000605u;
	(void)apply_register_overlay(m, cfg);
	CHECK(cfg.participant_id == 6);
	CHECK(cfg.heartbeat.monitor == std::vector<std::uint8_t>{5});
}

// ---- Zero-Key sessions on a node that holds keys -------------------------------------------

namespace {

bool is_kind(const CanFrame& f, ControlKind k)
{
	auto c = classify_control_id(f.can_id);
	return c && c->kind == k;
}

// State changes seen by `n` since `from` events.
std::size_t state_changes(const Node& n)
{
	return n.seen("state").size();
}

}  // namespace

TEST_CASE("a keyless attacker cannot take over a node that holds only a Seed Key",
          "[daemon][configurator][takeover]")
{
	// Set up the documented way before the fix: a Seed Key, no Provisioning Key.
	Bus bus;
	Node sync(bus.clock, 1, true, "{cycle: 'off'}");
	Node node(bus.clock, 5, false, "{cycle: 1s, monitor: [1]}");
	bus.nodes = {&sync, &node};
	bus.start_all();
	REQUIRE(node.state() == State::Secure);
	const std::string ks = node.dir.file("keys");
	const std::string before = read_file(ks);
	const auto evil = key_file(node, "evil-prov.keys", "provisioning", 0xEE, 0x666);

	// 1. The attacker's Provisioning Key through a Zero-Key session: refused.
	auto o =
	        configure(bus, session(5, "zero") + std::vector<std::string>{"install-provisioning",
	                                                                     "--key-file", evil});
	INFO(o.out << o.err);
	CHECK(o.rc == 1);
	CHECK(contains(o.err, "access_denied"));
	CHECK(read_file(ks) == before);
	CHECK(node.seen("key_written").empty());
	// 2. So no session with that key opens (5E01h: the node holds no Provisioning Key), and
	// nothing else changes either.
	const auto evil_integ = key_file(node, "evil-integ.keys", "integrator", 0xEF, 0x667);
	o = configure(bus, session(5, "provisioning", evil) +
	                           std::vector<std::string>{"install-integrator", "--key-file",
	                                                    evil_integ, "install-seed",
	                                                    "--key-file", evil_integ});
	CHECK(o.rc != 0);
	CHECK(read_file(ks) == before);
	CHECK(node.status().find("keys")->find("provisioning")->type() == JsonValue::Type::Null);
	CHECK(node.state() != State::Configuration);
}

TEST_CASE("the commissioning window admits one Provisioning Key, for a limited time",
          "[daemon][configurator][takeover]")
{
	Bus bus;
	Node sync(bus.clock, 1, true, "{cycle: 'off'}");
	Node node(bus.clock, 5, false, "{cycle: 'off'}");
	bus.nodes = {&sync, &node};
	bus.start_all();
	REQUIRE(node.state() == State::Secure);
	const std::string ks = node.dir.file("keys");
	const auto prov = key_file(node, "prov.keys", "provisioning", 0x11, 0x101);
	const auto install = session(5, "zero") +
	                     std::vector<std::string>{"install-provisioning", "--key-file", prov};

	SECTION("it expires")
	{
		REQUIRE(node.d->open_commissioning(10'000 * kMs));
		CHECK(node.status().find("commissioning")->find("open")->as_bool() == true);
		bus.advance(10'100);
		CHECK(node.status().find("commissioning")->find("open")->as_bool() == false);
		auto o = configure(bus, install);
		CHECK(o.rc == 1);
		CHECK(contains(o.err, "access_denied"));
		CHECK_FALSE(contains(read_file(ks), "provisioning."));
	}
	SECTION("it serves one install and closes")
	{
		REQUIRE(node.d->open_commissioning(600'000 * kMs));
		auto o = configure(bus, install);
		INFO(o.out << o.err);
		REQUIRE(o.rc == 0);
		CHECK(contains(read_file(ks), "provisioning.id = 0x00000101"));
		CHECK(node.status().find("commissioning")->find("open")->as_bool() == false);
		const auto closed = node.seen("commissioning");
		REQUIRE(closed.size() == 2u);
		CHECK(closed.back().find("reason")->as_string() == "used");
		// The node holds keys: the session was discovery-and-that-key only, no
		// Configuration state, so the data plane stayed open.
		CHECK(node.state() == State::Secure);
	}
	SECTION("another local user cannot open it")
	{
		if (::geteuid() != 0)
			return;  // needs root to act as another uid
		const std::string sock = node.dir.file("ctl.sock");
		// Reachable by anyone, for this test.
		REQUIRE(::chmod(node.dir.path().c_str(), 0711) == 0);
		REQUIRE(::chmod(sock.c_str(), 0666) == 0);
		const pid_t child = ::fork();
		REQUIRE(child >= 0);
		if (child == 0) {
			// nobody: connects, asks, and exits 0 only when refused.
			if (::setgid(65534) != 0 || ::setuid(65534) != 0)
				::_exit(2);
			auto fd = control_connect(sock, 5000);
			std::string buf;
			if (!fd ||
			    !control_write(fd->get(), "{\"cmd\":\"commission\",\"window_s\":60}\n"))
				::_exit(3);
			auto line = control_read_line(fd->get(), buf);
			::_exit(line && contains(*line, "needs root") ? 0 : 1);
		}
		int status = 0;
		while (::waitpid(child, &status, WNOHANG) == 0)
			(void)node.d->run_once(10);
		REQUIRE(WIFEXITED(status));
		CHECK(WEXITSTATUS(status) == 0);
		CHECK_FALSE(node.d->commissioning_open());
	}
	SECTION("the window's limits")
	{
		CHECK_FALSE(node.d->open_commissioning(0));
		CHECK_FALSE(node.d->open_commissioning(Daemon::kMaxCommissionNs + 1));
		CHECK_FALSE(node.d->commissioning_open());
	}
	SECTION("opened over the control socket by root")
	{
		auto fd = control_connect(node.dir.file("ctl.sock"), 2000);
		REQUIRE(fd);
		std::string buf;
		REQUIRE(control_write(fd->get(), "{\"cmd\":\"commission\",\"window_s\":60}\n"));
		// The daemon answers from its loop.
		for (int i = 0; i < 10 && !node.d->commissioning_open(); i++)
			(void)node.d->run_once(10);
		auto line = control_read_line(fd->get(), buf);
		REQUIRE(line);
		if (::geteuid() == 0) {
			CHECK(*line == "{\"ok\":true}");
			CHECK(node.d->commissioning_open());
		} else {
			// Not root: this test runs as the daemon's own uid, which is allowed too.
			CHECK(*line == "{\"ok\":true}");
		}
		REQUIRE(control_write(fd->get(), "{\"cmd\":\"commission\",\"close\":true}\n"));
		for (int i = 0; i < 10 && node.d->commissioning_open(); i++)
			(void)node.d->run_once(10);
		CHECK_FALSE(node.d->commissioning_open());
		(void)control_read_line(fd->get(), buf);
		REQUIRE(control_write(fd->get(), "{\"cmd\":\"commission\",\"window_s\":99999}\n"));
		for (int i = 0; i < 5; i++)
			(void)node.d->run_once(10);
		line = control_read_line(fd->get(), buf);
		REQUIRE(line);
		CHECK(contains(*line, "\"ok\":false"));
		CHECK_FALSE(node.d->commissioning_open());
		// Wrong types and missing members are refused by name, nothing is opened.
		for (const char* bad :
		     {R"({"cmd":"commission","window_s":"60"})",
		      R"({"cmd":"commission","window_s":-60})",
		      R"({"cmd":"commission","window_s":6.5})",
		      R"({"cmd":"commission","close":"true"})", R"({"cmd":"commission"})"}) {
			INFO(bad);
			REQUIRE(control_write(fd->get(), std::string(bad) + "\n"));
			for (int i = 0; i < 5; i++)
				(void)node.d->run_once(10);
			line = control_read_line(fd->get(), buf);
			REQUIRE(line);
			CHECK(*line ==
			      R"({"ok":false,"error":"expected \"window_s\": seconds, or \"close\": true"})");
			CHECK_FALSE(node.d->commissioning_open());
		}
	}
}

TEST_CASE("a Zero-Key session to a keyed node changes no state", "[daemon][configurator][zero]")
{
	Bus bus;
	Node sync(bus.clock, 1, true, "{cycle: 1s, monitor: [5]}");
	Node node(bus.clock, 5, false, "{cycle: 1s, monitor: [1]}", provisioned_keys());
	bus.nodes = {&sync, &node};
	bus.start_all();
	bus.advance(3000);
	REQUIRE(sync.state() == State::Secure);
	REQUIRE(node.state() == State::Secure);

	SECTION("discovery reads work, the Sync stays Secure and keeps broadcasting")
	{
		const auto changes = state_changes(sync);
		auto o = configure(bus, session(1, "zero") + std::vector<std::string>{"identify"});
		INFO(o.out << o.err);
		REQUIRE(o.rc == 0);
		CHECK(contains(o.out, "spsec-linux"));
		CHECK(state_changes(sync) == changes);
		const auto cfg = sync.seen("configuration");
		REQUIRE(cfg.size() == 2u);
		CHECK(cfg[0].find("discovery_only")->as_bool() == true);
	}
	SECTION("a session held open against the Sync for a minute: nobody leaves Secure")
	{
		// The attacker's Configurator never sends its Terminate and keeps the session
		// alive with a read every 4 s.
		auto o = configure(bus, session(1, "zero") + std::vector<std::string>{"status"},
		                   [](const CanFrame& f) {
			                   return is_kind(f, ControlKind::TerminateRequest);
		                   });
		CHECK(o.rc == 1);
		REQUIRE(sync.d->session()->in_configuration());
		const std::size_t bcasts = bus.count(sync_broadcast_id());
		bus.advance(60'000);
		CHECK(sync.state() == State::Secure);
		CHECK(node.state() == State::Secure);
		CHECK(bus.count(sync_broadcast_id()) >= bcasts + 5);
		CHECK_FALSE(node.security_event("0x0000fe0f"));
	}
	SECTION("the owner's keyed session pre-empts a held Zero-Key session")
	{
		auto o = configure(bus, session(5, "zero") + std::vector<std::string>{"status"},
		                   [](const CanFrame& f) {
			                   return is_kind(f, ControlKind::TerminateRequest);
		                   });
		REQUIRE(node.d->session()->in_configuration());
		o = configure(bus, session(5, "integrator", integrator_file(node)) +
		                           std::vector<std::string>{"set", "heartbeat", "2s"});
		INFO(o.out << o.err);
		CHECK(o.rc == 0);
		CHECK(contains(read_file(node.dir.file("vcan0.registers")),
		               "heartbeat_timing = 3"));
	}
	SECTION("session openings are rate-limited")
	{
		const std::size_t hellos_before = bus.count(session_id(CpType::Hello, false, 5, 0));
		for (int i = 0; i < 20; i++) {
			ClientHello h;
			h.pp = 5;
			h.selector = selector::kZero;
			h.client_random[0] = static_cast<std::uint8_t>(i);
			node.can->inbox.push_back({to_kernel_frame(encode_client_hello(h))});
		}
		node.d->process_can();
		bus.pump();
		const std::size_t answered =
		        bus.count(session_id(CpType::Hello, false, 5, 0)) - hellos_before;
		CHECK(answered == Daemon::kHelloBurst);
		CHECK(node.status().find("configurator")->find("hellos_refused")->as_u64() ==
		      20u - Daemon::kHelloBurst);
		// Refilled with time: one more a quarter second later.
		bus.advance(300, 300);
		ClientHello h;
		h.pp = 5;
		h.selector = selector::kZero;
		node.can->inbox.push_back({to_kernel_frame(encode_client_hello(h))});
		node.d->process_can();
		bus.pump();
		CHECK(bus.count(session_id(CpType::Hello, false, 5, 0)) - hellos_before ==
		      Daemon::kHelloBurst + 1);
	}
}

TEST_CASE("Exit Config never clears a pending Warning or the alert", "[daemon][configurator][zero]")
{
	SecureNode n;
	Bus& bus = n.bus;
	Node& node = n.node;
	// A forged Sync broadcast: FE0Eh, Warning with the alert set.
	CanFrame junk;
	junk.can_id = sync_broadcast_id();
	junk.fd = true;
	junk.len = 16;
	node.can->inbox.push_back({to_kernel_frame(junk)});
	node.d->process_can();
	REQUIRE(node.state() == State::Warning);
	REQUIRE(node.d->sm_status().alert);
	auto o = configure(bus, session(5, "integrator", integrator_file(node)) +
	                                std::vector<std::string>{"status"});
	INFO(o.out << o.err);
	REQUIRE(o.rc == 0);
	CHECK(node.state() == State::Warning);
	CHECK(node.d->sm_status().alert);
	CHECK(node.status().find("alert")->as_bool() == true);
	CHECK(node.dp.last.state == SPSEC_STATE_WARNING);  // traffic flows as in Warning
}
