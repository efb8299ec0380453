// SPDX-License-Identifier: Apache-2.0
// spsecctl provision against an in-memory bus of factory-fresh participants [ctl]: a plan run
// twice (the second run changes nothing), bad plans rejected before the bus is touched, and a
// failure in the middle reported with what was and was not done.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "ctl_test_util.h"

using namespace spsec;
using namespace spsec::ctl;
using namespace spsec::ctl::test;

namespace {

bool contains(const std::string& s, const std::string& what)
{
	return s.find(what) != std::string::npos;
}

std::string example_plan()
{
	std::ifstream in(std::string(SPSEC_TEST_DATA_DIR) + "/ctl/plan.yaml");
	std::stringstream ss;
	ss << in.rdbuf();
	return ss.str();
}

// The key files the example plan names.
void write_keys(TempDir& dir)
{
	dir.key_file("prov-node1.keys", "provisioning", 0x11, 0x101);
	dir.key_file("prov-node2.keys", "provisioning", 0x12, 0x102);
	dir.key_file("integrator.keys", "integrator", 0x22, 0x202);
	dir.key_file("seed.keys", "seed", 0x33, 0x303);
}

Outcome provision(MemBus& bus, const std::string& plan, std::vector<std::string> extra = {})
{
	extra.push_back(plan);
	return run_cmd(run_provision, bus, extra);
}

std::string replace(std::string s, const std::string& from, const std::string& to)
{
	const auto p = s.find(from);
	REQUIRE(p != std::string::npos);
	return s.replace(p, from.size(), to);
}

}  // namespace

TEST_CASE("provision: the example plan commissions a fresh bus; a second run changes nothing",
          "[ctl]")
{
	TempDir dir;
	write_keys(dir);
	const auto plan = dir.write("plan.yaml", example_plan());
	MemBus bus;
	MemNode& a = bus.add(127, "node-a");
	MemNode& b = bus.add(126, "node-b");

	auto o = provision(bus, plan);
	INFO(o.out << o.err);
	REQUIRE(o.rc == 0);
	for (auto [n, prov_fill, prov_id, pp, monitor, sync] :
	     {std::tuple{&a, 0x11, 0x101u, 1, 2u, 1}, std::tuple{&b, 0x12, 0x102u, 2, 1u, 0}}) {
		CHECK(has_key(n->store, KeySlotId::Provisioning,
		              static_cast<std::uint8_t>(prov_fill), prov_id));
		CHECK(has_key(n->store, KeySlotId::Integrator, 0x22, 0x202));
		CHECK(has_key(n->store, KeySlotId::Seed, 0x33, 0x303));
		CHECK(n->store.config().participant_id == pp);
		CHECK(n->store.config().heartbeat_timing == 4);
		CHECK(n->store.config().heartbeat_monitor == monitor);
		CHECK(n->store.config().sync_role == sync);
	}
	CHECK(contains(o.out, "provisioned 2 node(s)"));
	CHECK_FALSE(contains(o.out, "1111111111"));

	// Same bus, no restart (the nodes still answer at 127/126): nothing to do.
	const unsigned commits = bus.commits();
	const RegisterStore a1 = a.store, b1 = b.store;
	o = provision(bus, plan);
	INFO(o.out << o.err);
	REQUIRE(o.rc == 0);
	CHECK(bus.commits() == commits);
	CHECK(contains(o.out, "0 register write(s)"));

	// After a restart the nodes answer at their new IDs: still nothing to do.
	a.restart();
	b.restart();
	o = provision(bus, plan);
	INFO(o.out << o.err);
	REQUIRE(o.rc == 0);
	CHECK(bus.commits() == commits);
	CHECK(a.store == a1);
	CHECK(b.store == b1);
	CHECK(contains(o.out, "answers at participant 1"));
	CHECK(contains(o.out, "already installed"));

	// --check validates only.
	const unsigned sent = bus.sent;
	o = provision(bus, plan, {"--check"});
	CHECK(o.rc == 0);
	CHECK(bus.sent == sent);
	// A longer response limit changes nothing else.
	o = provision(bus, plan, {"--response-timeout", "500"});
	INFO(o.out << o.err);
	CHECK(o.rc == 0);
	CHECK(bus.commits() == commits);
}

TEST_CASE("provision: a changed Seed Key in the plan re-keys, nothing else", "[ctl]")
{
	TempDir dir;
	write_keys(dir);
	const auto plan = dir.write("plan.yaml", example_plan());
	MemBus bus;
	MemNode& a = bus.add(127, "node-a");
	bus.add(126, "node-b");
	REQUIRE(provision(bus, plan).rc == 0);
	dir.key_file("seed.keys", "seed", 0x34, 0x304);
	const unsigned commits = bus.commits();
	auto o = provision(bus, plan);
	INFO(o.out << o.err);
	REQUIRE(o.rc == 0);
	CHECK(has_key(a.store, KeySlotId::Seed, 0x34, 0x304));
	CHECK(contains(o.out, "replaces 0x00000303"));
	CHECK(bus.commits() == commits + 2);  // one key change per node
}

TEST_CASE("provision: stops at the first failure and reports what was done", "[ctl]")
{
	TempDir dir;
	write_keys(dir);
	dir.key_file("other.keys", "provisioning", 0x44, 0x444);
	const auto plan = dir.write("plan.yaml", example_plan());
	MemBus bus;
	MemNode& a = bus.add(127, "node-a");
	MemNode& b = bus.add(126, "node-b");
	// Node b was provisioned by someone else.
	{
		auto o = run_cmd(run_configure, bus,
		                 {"--interface", "vcan0", "--participant", "126", "--key-selector",
		                  "zero", "install-provisioning", "--key-file",
		                  dir.path() + "/other.keys"});
		REQUIRE(o.rc == 0);
	}
	const RegisterStore b0 = b.store;
	auto o = provision(bus, plan);
	INFO(o.out << o.err);
	CHECK(o.rc == 1);
	CHECK(contains(o.err, "node 2: holds Provisioning Key 0x00000444"));
	CHECK(contains(o.err, "done before the failure"));
	CHECK(contains(o.err, "node 1: Provisioning Key 0x00000101 installed"));
	CHECK(contains(o.err, "not done: node 2"));
	CHECK(has_key(a.store, KeySlotId::Seed, 0x33, 0x303));
	CHECK(b.store == b0);

	// A node that does not answer at all: 5E03h, named.
	MemBus empty;
	o = provision(empty, plan);
	CHECK(o.rc == 1);
	CHECK(contains(o.err, "5E03h"));
	CHECK(contains(o.err, "not done: node 1 (the rest of it), node 2"));
}

TEST_CASE("provision: bad plans are rejected before the bus is touched", "[ctl]")
{
	TempDir dir;
	write_keys(dir);
	dir.key_file("open.keys", "provisioning", 0x11, 0x101, 0644);
	const std::string good = example_plan();
	struct Case {
		std::string text;
		std::string expect;
	};
	const std::vector<Case> cases = {
	        {replace(good, "sync-role: on", "sync_role: on"),
	         "unknown key 'sync_role', did you mean 'sync-role'?"},
	        {replace(good, "heartbeat: 1s", "heartbeat: 3s"), "heartbeat: heartbeat-timing"},
	        {replace(good, "sync-role: on", "sync-role: maybe"), "sync-role"},
	        {replace(good, "heartbeat-monitor: 2", "heartbeat-monitor: 200"),
	         "heartbeat-monitor"},
	        {replace(good, "participant-id: 2", "participant-id: 1"), "used twice"},
	        {replace(good, "participant-id: 1", "participant-id: 0"), "participant-id: '0'"},
	        {replace(good, "address: 126", "address: x"), "address: 'x'"},
	        {replace(good, "format: 1", "format: 2"), "'format: 1' is required"},
	        {replace(good, "interface: vcan0\n", ""), "'interface' is required"},
	        {replace(good, "aead: aes-gcm", "aead: rot13"), "aead:"},
	        {replace(good, "aead: aes-gcm", "aed: aes-gcm"), "unknown key 'aed'"},
	        {replace(good, "prov-node1.keys", "missing.keys"), "missing.keys"},
	        {replace(good, "prov-node1.keys", "open.keys"), "open.keys"},
	        {replace(good, "prov-node1.keys", "seed.keys"), "no provisioning.key"},
	        {replace(good, "    provisioning-key: prov-node2.keys\n", ""),
	         "'provisioning-key' is required"},
	        {"format: 1\ninterface: vcan0\nnodes: []\n", "'nodes' is required"},
	        {"format: 1\ninterface: vcan0\nnodes:\n  - [1, 2\n", "YAML syntax"},
	        {"just a string\n", "expected a mapping"},
	        // hostile nesting, in each form yaml-cpp recurses on: flow, compact block, indented
	        {"format: 1\nnodes: " + std::string(17, '[') + std::string(17, ']') + "\n",
	         ":2: nested more than 16 levels"},
	        {[] {
		         std::string t = "format: 1\nnodes:\n";
		         for (int i = 0; i < 17; i++)
			         t += "- ";
		         return t + "x\n";
	         }(),
	         ":3: nested more than 16 levels"},
	        {[] {
		         std::string t = "format: 1\nnodes:\n";
		         for (int i = 0; i < 20; i++)
			         t += std::string(static_cast<std::size_t>(4 * i), ' ') + "- a:\n";
		         return t;
	         }(),
	         "indented more than 64 columns"},
	        // two nodes must never transmit one secured ID
	        {replace(good, "transmit-ids: [0x124, 0x7FF]", "transmit-ids: [0x124, 0x123]"),
	         "node 2 transmits secured ID 0x123, which node 1 (line"},
	        // without secured-ids every transmit ID counts as secured
	        {replace(good, "secured-ids: [0x123, 0x124]", ""),
	         "node 2 transmits secured ID 0x7FF, which node 1"},
	        {replace(good, "transmit-ids: [0x124, 0x7FF]", "transmit-ids: [0x1234]"),
	         "transmit-ids:"},
	        {replace(good, "transmit-ids: [0x124, 0x7FF]", "transmit-ids: 0x124"),
	         "expected a list of CAN IDs"},
	        {replace(good, "secured-ids: [0x123, 0x124]", "secured-ids: [x]"), "secured-ids:"},
	};
	MemBus bus;
	bus.add(127, "node-a");
	for (std::size_t i = 0; i < cases.size(); i++) {
		const auto plan = dir.write("bad" + std::to_string(i) + ".yaml", cases[i].text);
		auto o = provision(bus, plan);
		INFO("case " << i << ": " << o.err);
		CHECK(o.rc == 2);
		CHECK(contains(o.err, cases[i].expect));
		CHECK(contains(o.err, plan));
	}
	CHECK(bus.opened == 0);
	CHECK(bus.sent == 0);
	CHECK(provision(bus, dir.path() + "/nope.yaml").rc == 2);
	CHECK(run_cmd(run_provision, bus, {}).rc == 2);
	CHECK(run_cmd(run_provision, bus, {"a.yaml", "b.yaml"}).rc == 2);
	for (const std::vector<std::string>& args :
	     {std::vector<std::string>{"--response-timeout", "0", "a.yaml"},
	      std::vector<std::string>{"--response-timeout", "10000", "a.yaml"},
	      std::vector<std::string>{"a.yaml", "--response-timeout"}}) {
		auto o = run_cmd(run_provision, bus, args);
		CHECK(o.rc == 2);
		CHECK(contains(o.err, "--response-timeout"));
	}
	CHECK(bus.opened == 0);
}

namespace {

// A node's spsecd configuration for a plan's `config:` key.
std::string node_config(int pp, bool sync, const std::string& extra)
{
	return "interface: can0\n"
	       "participant_id: " +
	       std::to_string(pp) + "\nsync: " + (sync ? "on" : "off") +
	       "\naead: aes-gcm\n"
	       "data_bitrate: 2M\n"
	       "heartbeat:\n  cycle: 500ms\n  monitor: [" +
	       std::to_string(sync ? 2 : 1) +
	       "]\n"
	       "key_store: /var/lib/spsec/can0.keys\n" +
	       extra;
}

const std::string kConfigPlan = "format: 1\n"
                                "interface: vcan0\n"
                                "nodes:\n"
                                "  - config: a.yaml\n"
                                "    address: 127\n"
                                "    provisioning-key: prov-node1.keys\n"
                                "  - config: b.yaml\n"
                                "    address: 126\n"
                                "    provisioning-key: prov-node2.keys\n";

const std::string kConfigA = "secured_ids: [0x123, 0x124, 0x130]\n"
                             "plaintext_ids: [0x7FF]\n"
                             "transmit_ids: [0x123, 0x130, 0x7FF]\n"
                             "senders:\n  - {ids: 0x123, users: 1000}\n"
                             "gateway:\n"
                             "  segments:\n    - {name: can1}\n"
                             "  rules:\n"
                             "    - {ids: 0x130, direction: to_secured, segment: can1}\n";
const std::string kConfigB = "secured_ids: [0x123, 0x124, 0x130]\n"
                             "plaintext_ids: [0x7FF]\n"
                             "transmit_ids: [0x124, 0x7FF]\n";

}  // namespace

TEST_CASE("provision: a plan of node configurations sets their registers and checks them "
          "bus-wide",
          "[ctl]")
{
	TempDir dir;
	write_keys(dir);
	dir.write("a.yaml", node_config(1, true, kConfigA));
	dir.write("b.yaml", node_config(2, false, kConfigB));
	const auto plan = dir.write("plan.yaml", kConfigPlan);
	MemBus bus;
	MemNode& na = bus.add(127, "node-a");
	MemNode& nb = bus.add(126, "node-b");
	auto o = provision(bus, plan);
	INFO(o.out << o.err);
	REQUIRE(o.rc == 0);
	for (auto [n, pp, monitor, sync] : {std::tuple{&na, 1, 2u, 1}, std::tuple{&nb, 2, 1u, 0}}) {
		CHECK(n->store.config().participant_id == pp);
		CHECK(n->store.config().heartbeat_timing == 5);  // 500ms, from the config
		CHECK(n->store.config().heartbeat_monitor == monitor);
		CHECK(n->store.config().sync_role == sync);
	}

	struct Case {
		std::string a, b, plan, expect;
	};
	const std::string a = node_config(1, true, kConfigA), b = node_config(2, false, kConfigB);
	const std::vector<Case> cases = {
	        // the config parser's own errors, with the config file and its line
	        {a, replace(b, "data_bitrate: 2M", "data_bitrate: fast"), kConfigPlan,
	         "b.yaml:5: data_bitrate"},
	        // two transmitters of one secured ID, one of them through its gateway rule
	        {a,
	         replace(b, "transmit_ids: [0x124, 0x7FF]", "transmit_ids: [0x124, 0x130]") +
	                 "gateway:\n  segments:\n    - {name: can2}\n  rules:\n"
	                 "    - {ids: 0x130, direction: to_secured, segment: can2}\n",
	         kConfigPlan, "node 2 transmits secured ID 0x130, which node 1 (line 4)"},
	        {a, replace(b, "aead: aes-gcm", "aead: ascon"), kConfigPlan,
	         "has aead: ascon, node 1 (line 4)'s"},
	        {a, replace(b, "data_bitrate: 2M", "data_bitrate: 5M"), kConfigPlan,
	         "every node of a bus must use the same"},
	        {a, b + "mode: auth-only\n", kConfigPlan, "has mode: auth-only"},
	        {a, b + "acceptance_window: 100\n", kConfigPlan, "acceptance_window: 100"},
	        {a,
	         replace(replace(b, "secured_ids: [0x123, 0x124, 0x130]",
	                         "secured_ids: [0x123, 0x124]"),
	                 "plaintext_ids: [0x7FF]", "plaintext_ids: [0x130, 0x7FF]"),
	         kConfigPlan, "disagree on 0x130: secured in"},
	        {a, replace(b, "sync: off", "sync: on"), kConfigPlan, "a bus has one Sync"},
	        {a, b,
	         replace(kConfigPlan, "  - config: b.yaml\n",
	                 "  - config: b.yaml\n    heartbeat: 1s\n"),
	         "heartbeat contradicts"},
	        {a, b,
	         replace(kConfigPlan, "  - config: b.yaml\n",
	                 "  - config: b.yaml\n    participant-id: 3\n"),
	         "participant-id 3 contradicts"},
	        {a, b,
	         replace(kConfigPlan, "  - config: b.yaml\n",
	                 "  - config: b.yaml\n    transmit-ids: [0x124]\n"),
	         "transmit-ids contradicts"},
	        {a, b, replace(kConfigPlan, "config: b.yaml", "config: nope.yaml"), "nope.yaml"},
	        {a, b, replace(kConfigPlan, "format: 1\n", "format: 1\naead: chacha20-poly1305\n"),
	         "the plan chacha20-poly1305"},
	};
	for (std::size_t i = 0; i < cases.size(); i++) {
		dir.write("a.yaml", cases[i].a);
		dir.write("b.yaml", cases[i].b);
		const auto bad = dir.write("bad.yaml", cases[i].plan);
		MemBus fresh;
		fresh.add(127, "node-a");
		o = provision(fresh, bad);
		INFO("case " << i << ": " << o.err);
		CHECK(o.rc == 2);
		CHECK(contains(o.err, cases[i].expect));
		CHECK(fresh.opened == 0);
	}
	// Two Syncs are refused in a plan without configurations too.
	dir.write("plan2.yaml", replace(example_plan(), "sync-role: off", "sync-role: on"));
	o = provision(bus, dir.path() + "/plan2.yaml", {"--check"});
	CHECK(o.rc == 2);
	CHECK(contains(o.err, "node 2 has the Sync role, and so has node 1"));
}
