// SPDX-License-Identifier: Apache-2.0
// Sender rules (config key `senders`): what parses, every refusal with file, line and reason,
// the ID selectors, unit names to cgroup paths, and the verdict model of the egress check.
#include <catch2/catch.hpp>

#include <string>

#include "core/config.h"
#include "core/sender_rules.h"

using namespace spsec;

namespace {

// Transmit IDs 0x123, 0x124, 0x130 and 0x00001200 secured; 0x200 plain transmit; 0x300 secured
// but another node's.
const std::string kBase = "interface: can0\n"                                         // 1
                          "participant_id: 5\n"                                       // 2
                          "aead: aes-gcm\n"                                           // 3
                          "data_bitrate: 2000000\n"                                   // 4
                          "key_store: /k\n"                                           // 5
                          "secured_ids: [0x123, 0x124, 0x130, 0x300, 0x00001200]\n"   // 6
                          "plaintext_ids: [0x200]\n"                                  // 7
                          "transmit_ids: [0x123, 0x124, 0x130, 0x200, 0x00001200]\n"  // 8
                          "senders:\n";  // 9, rules from line 10

Config ok(const std::string& rules)
{
	auto c = parse_config(kBase + rules, "t.yaml");
	if (!c)
		FAIL("unexpected error:\n" << c.error().context);
	return *c;
}

std::string bad(const std::string& rules)
{
	auto c = parse_config(kBase + rules, "t.yaml");
	REQUIRE_FALSE(c);
	return c.error().context;
}

}  // namespace

TEST_CASE("sender rules parse: selectors, senders, IDs expanded", "[config][senders]")
{
	const Config c = ok("  - ids: [0x123, 0x130-0x13F]\n"
	                    "    units: can-app.service\n"
	                    "    users: [1000, canapp]\n"
	                    "  - ids: 0x00001200/0x1FFFFF00\n"
	                    "    cgroups: [/can.slice/gw]\n"
	                    "    groups: can\n");
	REQUIRE(c.senders.size() == 2);
	const auto& a = c.senders[0];
	CHECK(a.line == 10);
	CHECK(a.ids == std::vector<CanId>{{0x123, false}, {0x130, false}});
	CHECK(a.units == std::vector<std::string>{"can-app.service"});
	CHECK(a.users == std::vector<std::string>{"1000", "canapp"});
	const auto& b = c.senders[1];
	CHECK(b.line == 13);
	CHECK(b.ids == std::vector<CanId>{{0x1200, true}});
	CHECK(b.cgroups == std::vector<std::string>{"/can.slice/gw"});
	CHECK(b.groups == std::vector<std::string>{"can"});
}

TEST_CASE("no senders key, or an empty list: no rules (any local sender, as before)",
          "[config][senders]")
{
	CHECK(ok("").senders.empty());
	CHECK(ok("  []\n").senders.empty());
}

TEST_CASE("every bad sender rule is refused naming file, line and reason", "[config][senders]")
{
	struct Case {
		const char* what;
		std::string rules;
		std::string expect;  // substring of the error
	};
	const Case cases[] = {
	        {"not a list", "  ids: 0x123\n", "t.yaml:10: senders: must be a list of rules"},
	        {"rule not a map", "  - 0x123\n", "t.yaml:10: senders[0]: must be a map"},
	        {"no ids", "  - users: 1000\n", "t.yaml:10: senders[0]: has no ids"},
	        {"no sender", "  - ids: 0x123\n", "t.yaml:10: senders[0]: names no sender"},
	        {"unknown key with a guess", "  - ids: 0x123\n    user: 1000\n",
	         "t.yaml:11: senders[0].user: unknown key, did you mean \"users\"?"},
	        {"unknown key", "  - ids: 0x123\n    program: x\n",
	         "t.yaml:11: senders[0].program: unknown key (known here: ids"},
	        {"key twice", "  - ids: 0x123\n    users: 1\n    users: 2\n", "appears twice"},
	        {"empty list", "  - ids: []\n    users: 1\n",
	         "t.yaml:10: senders[0].ids: must be a value or a non-empty list"},
	        {"bad ID", "  - ids: 0x1234\n    users: 1\n",
	         "t.yaml:10: senders[0].ids: \"0x1234\" is ambiguous"},
	        {"empty range", "  - ids: 0x130-0x120\n    users: 1\n", "is an empty range"},
	        {"mixed formats", "  - ids: 0x120-0x00000130\n    users: 1\n",
	         "mixes an 11-bit and a 29-bit ID"},
	        {"mask value outside mask", "  - ids: 0x121/0x7F0\n    users: 1\n",
	         "has value bits outside the mask"},
	        {"range and mask", "  - ids: 0x120-0x130/0x7F0\n    users: 1\n",
	         "is not an ID, a range"},
	        {"ID listed twice in a rule", "  - ids: [0x123, 0x123]\n    users: 1\n",
	         "t.yaml:10: senders[0].ids: \"0x123\" is listed twice"},
	        {"plain transmit ID", "  - ids: 0x200\n    users: 1\n",
	         "t.yaml:10: senders: \"0x200\" is not a secured transmit ID"},
	        {"another node's secured ID", "  - ids: 0x300\n    users: 1\n",
	         "\"0x300\" is not a secured transmit ID"},
	        {"range selecting nothing", "  - ids: 0x400-0x4FF\n    users: 1\n",
	         "\"0x400-0x4FF\" selects no secured transmit ID"},
	        {"selectors of one rule overlap", "  - ids: [0x123, 0x120-0x12F]\n    users: 1\n",
	         "t.yaml:10: senders: 0x123 is selected twice by the rule"},
	        {"two rules for one ID (overlap)",
	         "  - ids: 0x120-0x12F\n    users: 1\n  - ids: 0x124\n    users: 2\n",
	         "t.yaml:12: senders: 0x124 (\"0x124\") already has the sender rule on line 10"},
	        {"two rules for one ID (contradiction: mask vs ID)",
	         "  - ids: 0x123\n    users: 1\n  - ids: 0x100/0x700\n    groups: can\n",
	         "t.yaml:12: senders: 0x123 (\"0x100/0x700\") already has the sender rule on line "
	         "10"},
	        {"bad unit", "  - ids: 0x123\n    units: can-app\n",
	         "\"can-app\" is not a systemd unit name"},
	        {"unit with a suffix without cgroup", "  - ids: 0x123\n    units: can.timer\n",
	         "\"can.timer\" is not a systemd unit name"},
	        {"unit with bad characters", "  - ids: 0x123\n    units: \"a b.service\"\n",
	         "is not a systemd unit name"},
	        {"root cgroup", "  - ids: 0x123\n    cgroups: /\n", "is the root cgroup"},
	        {"relative cgroup", "  - ids: 0x123\n    cgroups: can.slice\n",
	         "\"can.slice\" is not a cgroup v2 path"},
	        {"cgroup with ..", "  - ids: 0x123\n    cgroups: /a/../b\n",
	         "is not a cgroup v2 path"},
	        {"cgroup with trailing /", "  - ids: 0x123\n    cgroups: /a/\n",
	         "is not a cgroup v2 path"},
	        {"unit and cgroup naming one cgroup",
	         "  - ids: 0x123\n    units: a.service\n    cgroups: /system.slice/a.service\n",
	         "cgroup /system.slice/a.service and unit a.service name one cgroup"},
	        {"overflow uid", "  - ids: 0x123\n    users: 65534\n",
	         "\"65534\" is the kernel's overflow id"},
	        {"uid -1", "  - ids: 0x123\n    users: 4294967295\n", "is not a valid id"},
	        {"bad user name", "  - ids: 0x123\n    users: \"bob smith\"\n",
	         "is not a uid or user name"},
	        {"bad group name", "  - ids: 0x123\n    groups: -can\n",
	         "is not a gid or group name"},
	        {"user twice", "  - ids: 0x123\n    users: [a, a]\n", "\"a\" is listed twice"},
	        {"too many cgroups",
	         "  - ids: 0x123\n    cgroups: [/a, /b, /c, /d, /e, /f, /g, /h, /i]\n",
	         "names 9 units and cgroups, at most 8 per rule"},
	        {"a map where a value belongs", "  - ids: 0x123\n    users: {a: 1}\n",
	         "must be a value or a non-empty list"},
	};
	for (const auto& tc : cases) {
		INFO(tc.what);
		const std::string e = bad(tc.rules);
		INFO(e);
		CHECK(e.find(tc.expect) != std::string::npos);
	}
}

TEST_CASE("too many sender rules are refused", "[config][senders]")
{
	std::string rules;
	for (int i = 0; i < SPSEC_SENDER_RULES; i++)
		rules += "  - ids: 0x123\n    users: 1\n";
	CHECK(bad(rules).find("t.yaml:10: senders: has 64 rules, at most 63") != std::string::npos);
}

TEST_CASE("ID selectors", "[config][senders]")
{
	auto one = parse_id_selector("0x123");
	REQUIRE(one);
	CHECK(one->matches({0x123, false}));
	CHECK_FALSE(one->matches({0x123, true}));
	auto range = parse_id_selector("0x00000100-0x000001FF");
	REQUIRE(range);
	CHECK(range->matches({0x100, true}));
	CHECK(range->matches({0x1FF, true}));
	CHECK_FALSE(range->matches({0x200, true}));
	CHECK_FALSE(range->matches({0x150, false}));
	auto mask = parse_id_selector("0x120/0x7F0");
	REQUIRE(mask);
	CHECK(mask->matches({0x12F, false}));
	CHECK_FALSE(mask->matches({0x130, false}));
	CHECK(parse_id_selector("0x12").has_value() == true);
}

TEST_CASE("systemd unit names to cgroup paths", "[senders]")
{
	CHECK(unit_cgroup_path("can-app.service") == "/system.slice/can-app.service");
	CHECK(unit_cgroup_path("gw@can0.service") == "/system.slice/gw@can0.service");
	CHECK(unit_cgroup_path("x.scope") == "/system.slice/x.scope");
	CHECK(unit_cgroup_path("can.slice") == "/can.slice");
	CHECK(unit_cgroup_path("can-gw-a.slice") == "/can.slice/can-gw.slice/can-gw-a.slice");
	CHECK_FALSE(unit_cgroup_path("-.slice"));
	CHECK_FALSE(unit_cgroup_path("a--b.slice"));
	CHECK_FALSE(unit_cgroup_path("x.timer"));
	CHECK_FALSE(unit_cgroup_path("service"));
	CHECK_FALSE(unit_cgroup_path("a/b.service"));
	CHECK(cgroup_level("/a") == 1);
	CHECK(cgroup_level("/system.slice/x.service") == 2);
}

TEST_CASE("the sender verdict model", "[senders]")
{
	ResolvedSenderRule r;
	r.uids = {1000};
	r.cgroups = {{"/a/b", 42, 2}, {"/gone", 0, 1}};
	SocketIdentity who;
	who.full_socket = true;
	who.uid = 1000;
	CHECK(sender_verdict(r, who) == 0);
	who.uid = 1001;
	CHECK(sender_verdict(r, who) == SPSEC_R_TX_SENDER_DENIED);
	who.ancestors = {1, 7, 42};  // in /a/b itself
	CHECK(sender_verdict(r, who) == 0);
	who.ancestors = {1, 7, 42, 99};  // below it
	CHECK(sender_verdict(r, who) == 0);
	who.ancestors = {1, 7};  // its parent
	CHECK(sender_verdict(r, who) == SPSEC_R_TX_SENDER_DENIED);
	who.ancestors = {1, 0};  // id 0 at level 1 never matches the unresolved /gone
	CHECK(sender_verdict(r, who) == SPSEC_R_TX_SENDER_DENIED);
	who.full_socket = false;
	who.uid = 1000;
	CHECK(sender_verdict(r, who) == SPSEC_R_TX_SENDER_UNKNOWN);
}
