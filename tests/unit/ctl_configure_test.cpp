// SPDX-License-Identifier: Apache-2.0
// spsecctl configure against in-memory participants (SessionServer + RegisterStore) through the
// FrameLink interface [ctl]: commissioning a factory-fresh node end to end, refusals with their
// event codes and exit 1, usage errors with exit 2. Every refusal is checked to change nothing.
#include <catch2/catch.hpp>

#include <algorithm>

#include "core/messages.h"
#include "ctl_test_util.h"

using namespace spsec;
using namespace spsec::ctl;
using namespace spsec::ctl::test;

namespace {

Outcome configure(MemBus& bus, std::vector<std::string> args)
{
	return run_cmd(run_configure, bus, std::move(args));
}

std::vector<std::string> session(std::uint8_t pp, const std::string& key,
                                 const std::string& file = "")
{
	std::vector<std::string> a{"--interface",      "vcan0",          "--participant",
	                           std::to_string(pp), "--key-selector", key};
	if (!file.empty()) {
		a.push_back("--key-file");
		a.push_back(file);
	}
	return a;
}

std::vector<std::string> operator+(std::vector<std::string> a, std::vector<std::string> b)
{
	a.insert(a.end(), b.begin(), b.end());
	return a;
}

bool contains(const std::string& s, const std::string& what)
{
	return s.find(what) != std::string::npos;
}

// No key byte pattern of the test keys in any output.
void check_no_key_material(const Outcome& o)
{
	for (const char* k : {"1111111111", "2222222222", "3333333333", "eeeeeeee", "dddddddd"}) {
		CHECK_FALSE(contains(o.out, k));
		CHECK_FALSE(contains(o.err, k));
	}
}

}  // namespace

TEST_CASE("configure commissions a factory-fresh node end to end", "[ctl]")
{
	TempDir dir;
	const auto prov = dir.key_file("prov.keys", "provisioning", 0x11, 0x101);
	const auto integ = dir.key_file("integ.keys", "integrator", 0x22, 0x202);
	const auto seed = dir.key_file("seed.keys", "seed", 0x33, 0x303);
	MemBus bus;
	MemNode& node = bus.add(127, "node-a");

	// Discovery with the Zero Key: nothing installed yet.
	auto o = configure(bus, session(127, "zero") + std::vector<std::string>{"identify"});
	INFO(o.out << o.err);
	REQUIRE(o.rc == 0);
	CHECK(contains(o.out, "provisioning-key-id (41h)"));
	CHECK(contains(o.out, "not installed"));
	CHECK(contains(o.out, "node-a"));
	CHECK(bus.commits() == 0);

	// Provisioning Key, once, in a Zero-Key session.
	o = configure(bus, session(127, "zero") + std::vector<std::string>{"install-provisioning",
	                                                                   "--key-file", prov,
	                                                                   "--id", "0x101"});
	INFO(o.out << o.err);
	REQUIRE(o.rc == 0);
	CHECK(has_key(node.store, KeySlotId::Provisioning, 0x11, 0x101));
	check_no_key_material(o);

	// Integrator and Seed Keys and the configuration with the Provisioning Key.
	o = configure(bus, session(127, "provisioning", prov) +
	                           std::vector<std::string>{"install-integrator",
	                                                    "--key-file",
	                                                    integ,
	                                                    "install-seed",
	                                                    "--key-file",
	                                                    seed,
	                                                    "--id",
	                                                    "771",
	                                                    "set",
	                                                    "participant-id",
	                                                    "5",
	                                                    "set",
	                                                    "heartbeat",
	                                                    "1s",
	                                                    "set",
	                                                    "heartbeat-monitor",
	                                                    "3,4",
	                                                    "set",
	                                                    "sync-role",
	                                                    "on",
	                                                    "read",
	                                                    "participant-id"});
	INFO(o.out << o.err);
	REQUIRE(o.rc == 0);
	CHECK(has_key(node.store, KeySlotId::Integrator, 0x22, 0x202));
	CHECK(has_key(node.store, KeySlotId::Seed, 0x33, 0x303));
	CHECK(node.store.config().participant_id == 5);
	CHECK(node.store.config().heartbeat_timing == 4);
	CHECK(node.store.config().heartbeat_monitor == 0x0403u);
	CHECK(node.store.config().sync_role == 1);
	CHECK(contains(o.out, "installed"));
	check_no_key_material(o);

	// The node restarts under its new ID; status and Key IDs with the Integrator Key, as JSON.
	node.restart();
	o = configure(bus,
	              session(5, "integrator", integ) +
	                      std::vector<std::string>{"--json", "status", "last-event", "read",
	                                               "0x43", "read", "heartbeat-monitor"});
	INFO(o.out << o.err);
	REQUIRE(o.rc == 0);
	CHECK(contains(o.out, "\"ok\":true"));
	CHECK(contains(o.out, "\"value\":\"0x00000303\""));
	CHECK(contains(o.out, "\"value\":\"3,4\""));
	CHECK(contains(o.out, "\"register\":\"status\""));
	check_no_key_material(o);
}

TEST_CASE("configure --no-pad sends requests unpadded, as python-can does on vcan", "[ctl]")
{
	TempDir dir;
	const auto prov = dir.key_file("prov.keys", "provisioning", 0x11, 0x101);
	const auto integ = dir.key_file("integ.keys", "integrator", 0x22, 0x202);
	MemBus bus;
	MemNode& node = bus.add(127, "node-a");
	const std::vector<std::string> install_prov{"install-provisioning", "--key-file", prov};

	// Default: every frame has a valid CAN FD length (the key's WriteSeg 32 + 8 -> 48).
	auto o = configure(bus, session(127, "zero") + install_prov);
	INFO(o.out << o.err);
	REQUIRE(o.rc == 0);
	CHECK(std::all_of(bus.sent_lengths.begin(), bus.sent_lengths.end(),
	                  [](std::uint8_t l) { return canfd_valid_len(l); }));
	CHECK(std::count(bus.sent_lengths.begin(), bus.sent_lengths.end(), 48) == 1);

	// --no-pad: the key's WriteSeg is 40 bytes and the 1-byte heartbeat write 9; the node
	// accepts both.
	bus.sent_lengths.clear();
	o = configure(bus, session(127, "provisioning", prov) +
	                           std::vector<std::string>{"--no-pad", "install-integrator",
	                                                    "--key-file", integ, "set", "heartbeat",
	                                                    "1s"});
	INFO(o.out << o.err);
	REQUIRE(o.rc == 0);
	CHECK(std::count(bus.sent_lengths.begin(), bus.sent_lengths.end(), 40) == 1);
	CHECK(std::count(bus.sent_lengths.begin(), bus.sent_lengths.end(), 9) == 1);
	CHECK(std::count(bus.sent_lengths.begin(), bus.sent_lengths.end(), 48) == 0);
	CHECK(has_key(node.store, KeySlotId::Integrator, 0x22, 0x202));
	CHECK(node.store.config().heartbeat_timing == 4);
}

TEST_CASE("configure: a wrong key fails with 5E02h, exit 1, nothing changed", "[ctl]")
{
	TempDir dir;
	const auto prov = dir.key_file("prov.keys", "provisioning", 0x11, 0x101);
	const auto wrong = dir.key_file("wrong.keys", "provisioning", 0xEE, 0x101);
	MemBus bus;
	MemNode& node = bus.add(9, "node-b");
	REQUIRE(configure(bus, session(9, "zero") + std::vector<std::string>{"install-provisioning",
	                                                                     "--key-file", prov})
	                .rc == 0);
	const RegisterStore before = node.store;
	const unsigned commits = bus.commits();

	auto o = configure(bus, session(9, "provisioning", wrong) +
	                                std::vector<std::string>{"set", "participant-id", "4"});
	INFO(o.out << o.err);
	CHECK(o.rc == 1);
	CHECK(contains(o.err, "5E02h"));
	CHECK(contains(o.err, "opening the session"));
	CHECK(contains(o.err, "wrong provisioning key"));
	CHECK(node.store == before);
	CHECK(bus.commits() == commits);
	bool saw_5e02 = false;
	for (const auto& e : node.events)
		saw_5e02 |= e.kind == SessionEvent::Kind::SecurityEvent &&
		            e.code == event_code::kSessionFinishedAuth;
	CHECK(saw_5e02);
	check_no_key_material(o);

	// As JSON: the event code, no step (the session never opened).
	auto a = session(9, "provisioning", wrong);
	a.insert(a.begin(), "--json");
	o = configure(bus, a + std::vector<std::string>{"status"});
	CHECK(o.rc == 1);
	CHECK(contains(o.out, "\"event_code\":\"5E02h\""));
	CHECK_FALSE(contains(o.out, "\"error\":{\"step\""));
	CHECK(node.store == before);

	// A node that is not there (or does not hold the key): no ServerHello, 5E03h.
	o = configure(bus, session(10, "zero") + std::vector<std::string>{"status"});
	CHECK(o.rc == 1);
	CHECK(contains(o.err, "5E03h"));
	CHECK(contains(o.err, "participant 10"));
}

TEST_CASE("configure: forbidden writes are refused by the participant, exit 1", "[ctl]")
{
	TempDir dir;
	const auto prov = dir.key_file("prov.keys", "provisioning", 0x11, 0x101);
	const auto prov2 = dir.key_file("prov2.keys", "provisioning", 0x12, 0x102);
	MemBus bus;
	MemNode& node = bus.add(7, "node-c");

	// Configuration in a Zero-Key session: access denied; the earlier read still reported.
	auto o = configure(bus, session(7, "zero") +
	                                std::vector<std::string>{"read", "status", "set",
	                                                         "participant-id", "3", "status"});
	INFO(o.out << o.err);
	CHECK(o.rc == 1);
	CHECK(contains(o.err, "step 2"));
	CHECK(contains(o.err, "participant-id (60h)"));
	CHECK(contains(o.err, "access_denied"));
	CHECK(contains(o.out, "FAILED"));
	CHECK(contains(o.out, "not done"));
	CHECK(node.store.config().participant_id == 127);
	CHECK(bus.commits() == 0);
	// The session was still terminated: the node is out of Configuration.
	CHECK(node.server.state() == SessionServer::State::Idle);

	// The Provisioning Key twice: already_set, the first key stays.
	REQUIRE(configure(bus, session(7, "zero") + std::vector<std::string>{"install-provisioning",
	                                                                     "--key-file", prov})
	                .rc == 0);
	o = configure(bus, session(7, "zero") + std::vector<std::string>{"--json"});
	CHECK(o.rc == 2);  // no operation
	auto a = session(7, "zero");
	a.insert(a.begin(), "--json");
	o = configure(bus,
	              a + std::vector<std::string>{"install-provisioning", "--key-file", prov2});
	INFO(o.out << o.err);
	CHECK(o.rc == 1);
	CHECK(contains(o.out, "\"ok\":false"));
	CHECK(contains(o.out, "already_set"));
	CHECK(contains(o.err, "provisioning-key (21h)"));
	CHECK(has_key(node.store, KeySlotId::Provisioning, 0x11, 0x101));

	// Manufacturer reset needs the Integrator Key.
	o = configure(bus, session(7, "provisioning", prov) +
	                           std::vector<std::string>{"manufacturer-reset"});
	CHECK(o.rc == 1);
	CHECK(contains(o.err, "manufacturer-reset (7Fh)"));
	CHECK(contains(o.err, "access_denied"));
}

TEST_CASE("configure: usage errors exit 2 and name the argument", "[ctl]")
{
	TempDir dir;
	const auto prov = dir.key_file("prov.keys", "provisioning", 0x11, 0x101);
	const auto open = dir.key_file("open.keys", "provisioning", 0x11, 0x101, 0640);
	const auto seedonly = dir.key_file("seed.keys", "seed", 0x33, 0x303);
	MemBus bus;
	bus.add(5, "node-d");
	struct Case {
		std::vector<std::string> args;
		std::string expect;
	};
	const std::vector<Case> cases = {
	        {{}, "--interface IF is required"},
	        {{"--participant", "5", "--key-selector", "zero", "status"},
	         "--interface IF is required"},
	        {{"--interface", "vcan0", "--key-selector", "zero", "status"},
	         "--participant N is required"},
	        {session(200, "zero") + std::vector<std::string>{"status"}, "'200'"},
	        {session(5, "seed") + std::vector<std::string>{"status"}, "Seed Key never opens"},
	        {session(5, "zero"), "no operation given"},
	        {session(5, "zero") + std::vector<std::string>{"frobnicate"},
	         "unknown operation 'frobnicate'"},
	        {session(5, "zero") + std::vector<std::string>{"read"},
	         "read: expected a register"},
	        {session(5, "zero") + std::vector<std::string>{"read", "no-such-reg"},
	         "no-such-reg"},
	        {session(5, "zero") + std::vector<std::string>{"read", "seed-key"}, "write-only"},
	        {session(5, "zero") + std::vector<std::string>{"write", "status", "1"},
	         "status (50h): read-only"},
	        {session(5, "zero") + std::vector<std::string>{"write", "seed-key", "00"},
	         "never goes on the command line"},
	        {session(5, "zero") + std::vector<std::string>{"set", "heartbeat", "3s"},
	         "heartbeat-timing (61h)"},
	        {session(5, "zero") + std::vector<std::string>{"set", "participant-id", "0"},
	         "bad_value"},
	        {session(5, "zero") + std::vector<std::string>{"set", "participant-id", "300"},
	         "does not fit"},
	        {session(5, "zero") + std::vector<std::string>{"set", "colour", "red"},
	         "unknown setting 'colour'"},
	        {session(5, "zero") +
	                 std::vector<std::string>{"set", "heartbeat-monitor", "1,2,3,4,5"},
	         "at most 4"},
	        {session(5, "zero") + std::vector<std::string>{"install-seed"},
	         "--key-file F is required"},
	        {session(5, "zero") + std::vector<std::string>{"install-seed", "--key-file", prov},
	         "no seed.key"},
	        {session(5, "zero") + std::vector<std::string>{"install-seed", "--key-file",
	                                                       seedonly, "--id", "5"},
	         "differs from the ID"},
	        {session(5, "zero", prov) + std::vector<std::string>{"status"},
	         "not used with --key-selector zero"},
	        {session(5, "provisioning") + std::vector<std::string>{"status"},
	         "needs --key-file"},
	        {session(5, "provisioning", open) + std::vector<std::string>{"status"}, open},
	        {session(5, "provisioning", dir.path() + "/missing.keys") +
	                 std::vector<std::string>{"status"},
	         "missing.keys"},
	        {{"--interface", "vcan0", "--participant", "5", "--key-selector", "zero", "--aead",
	          "rot13", "status"},
	         "--aead"},
	        {session(5, "zero") + std::vector<std::string>{"--response-timeout", "0", "status"},
	         "--response-timeout '0'"},
	        {session(5, "zero") +
	                 std::vector<std::string>{"--response-timeout", "10000", "status"},
	         "below the 10 s session limit"},
	        {session(5, "zero") +
	                 std::vector<std::string>{"--response-timeout", "fast", "status"},
	         "--response-timeout 'fast'"},
	};
	for (const auto& c : cases) {
		auto o = configure(bus, c.args);
		INFO("args: " <<
		     [&] {
			     std::string s;
			     for (const auto& x : c.args)
				     s += x + " ";
			     return s;
		     }()
		              << "\nerr: " << o.err);
		CHECK(o.rc == 2);
		CHECK(contains(o.err, c.expect));
	}
	// Usage errors never touch the bus.
	CHECK(bus.opened == 0);
	CHECK(bus.sent == 0);
	// The group-readable key file: the message says why.
	auto o = configure(bus,
	                   session(5, "provisioning", open) + std::vector<std::string>{"status"});
	CHECK(contains(o.err, "mode"));
	// --help is not an error.
	CHECK(configure(bus, {"--help"}).rc == 0);
}

TEST_CASE("configure: an interface that cannot be opened is exit 1", "[ctl]")
{
	MemBus bus;
	auto o = run_cmd(
	        run_configure, bus,
	        {"--interface", "can9", "--participant", "5", "--key-selector", "zero", "status"});
	CHECK(o.rc == 1);
	CHECK(contains(o.err, "can9"));
}

TEST_CASE("parse_register_value: CLI forms to wire bytes", "[ctl]")
{
	using V = std::vector<std::uint8_t>;
	CHECK(*parse_register_value(reg::kParticipantId, "0x10") == V{0x10});
	CHECK(*parse_register_value(reg::kParticipantId, "10h") == V{0x10});
	CHECK(*parse_register_value(reg::kParticipantId, "16") == V{0x10});
	CHECK(*parse_register_value(reg::kHeartbeatTiming, "250ms") == V{6});
	CHECK(*parse_register_value(reg::kHeartbeatTiming, "OFF") == V{0});
	CHECK(*parse_register_value(reg::kHeartbeatMonitor, "all") == V{0xFF, 0xFF, 0xFF, 0xFF});
	CHECK(*parse_register_value(reg::kHeartbeatMonitor, "3,127") == V{3, 127, 0, 0});
	CHECK(*parse_register_value(reg::kHeartbeatMonitor, "none") == V{0, 0, 0, 0});
	CHECK(*parse_register_value(reg::kSyncRole, "on") == V{1});
	CHECK(*parse_register_value(reg::kBitRate, "0x0502") == V{0x02, 0x05});
	CHECK(*parse_register_value(reg::kManufacturerReset, "0x1D04E5E1") ==
	      V{0xE1, 0xE5, 0x04, 0x1D});
	CHECK_FALSE(parse_register_value(reg::kManufacturerReset, "1"));
	CHECK_FALSE(parse_register_value(reg::kSyncRole, "2"));
	CHECK_FALSE(parse_register_value(reg::kHeartbeatMonitor, "3,128"));
	CHECK_FALSE(parse_register_value(reg::kParticipantId, "12x"));
	CHECK_FALSE(parse_register_value(reg::kParticipantId, ""));
	CHECK_FALSE(parse_number("99999999999999999999"));
}

TEST_CASE("configure: a tampered response is refused and reported as 5E05h", "[ctl]")
{
	MemBus bus;
	MemNode& node = bus.add(5, "node-e");
	const RegisterStore before = node.store;
	unsigned n = 0;
	// Frames 1 and 2 are ServerHello and ServerFinished; flip a bit in the first register
	// response (ReadInit).
	bus.tamper = [&n](CanFrame& f) {
		if (++n == 3)
			f.data[0] ^= 0x01;
	};
	auto o = configure(bus, session(5, "zero") + std::vector<std::string>{"status"});
	INFO(o.out << o.err);
	CHECK(o.rc == 1);
	CHECK(contains(o.err, "5E05h"));
	CHECK(contains(o.err, "status (50h)"));
	CHECK(node.store == before);

	// The node is still in Configuration (no Terminate got through) and ignores ClientHellos
	// until its 10 s session timeout (5E04h) ends the session.
	bus.tamper = nullptr;
	o = configure(bus, session(5, "zero") + std::vector<std::string>{"status"});
	CHECK(o.rc == 1);
	CHECK(contains(o.err, "no ServerHello"));
	CHECK(node.server.in_configuration());
	bus.now += 10'000'000'000;
	(void)bus.receive(bus.now);  // runs the nodes' timers
	CHECK_FALSE(node.server.in_configuration());
	o = configure(bus, session(5, "zero") + std::vector<std::string>{"status"});
	CHECK(o.rc == 0);
}
