// SPDX-License-Identifier: Apache-2.0
// spsecd and sender rules, with a fake data plane and a fake system (cgroups, users, groups):
// what the data plane gets at start, re-check and reload, the refusals, and the `senders`
// control command. No root.
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

#include "ctl/commands.h"
#include "daemon/control_socket.h"
#include "daemon/daemon.h"
#include "daemon_test_util.h"
#include "fake_can_port.h"
#include "fake_clock.h"
#include "fake_data_plane.h"
#include "json_view.h"

using namespace spsec;
using spsec::test::TempDir;

namespace {

constexpr const char* kKeys =
        "format = 1\n"
        "seed.key = 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
        "seed.salt = 0102030405060708\n"
        "seed.id = 0x00000042\n";

class FakeSystem final : public SenderSystem {
public:
	std::map<std::string, CgroupInfo> cgroups;
	std::map<std::string, std::uint32_t> users;
	std::map<std::string, std::vector<std::uint32_t>> groups;
	bool cgroups_fail = false;

	Result<std::optional<CgroupInfo>> cgroup(std::string_view path) const override
	{
		if (cgroups_fail)
			return fail("fake: no cgroup v2 hierarchy");
		const auto it = cgroups.find(std::string(path));
		if (it == cgroups.end())
			return std::optional<CgroupInfo>{};
		return std::optional<CgroupInfo>{it->second};
	}
	Result<std::optional<std::uint32_t>> user(const std::string& name) const override
	{
		const auto it = users.find(name);
		if (it == users.end())
			return std::optional<std::uint32_t>{};
		return std::optional<std::uint32_t>{it->second};
	}
	Result<std::optional<std::vector<std::uint32_t>>>
	group_members(const std::string& g) const override
	{
		const auto it = groups.find(g);
		if (it == groups.end())
			return std::optional<std::vector<std::uint32_t>>{};
		return std::optional<std::vector<std::uint32_t>>{it->second};
	}
};

struct Env {
	TempDir dir;
	Logger log{-1, LogLevel::Error, false};
	FakeClock clock{7'000'000'000};
	FakeDataPlane dp;
	FakeSystem sys;
	Daemon* current = nullptr;
	std::string buf;

	explicit Env(const std::string& rules)
	{
		write_config(rules);
		spsec::test::write_file(dir.file("keys"), kKeys, 0600);
		sys.cgroups["/system.slice/can-app.service"] = CgroupInfo{1001, 2, false, 0};
		sys.cgroups["/can.slice/gw"] = CgroupInfo{2002, 2, true, 1000};
		sys.users["canapp"] = 1500;
		sys.groups["can"] = {1500, 1600};
	}
	void write_config(const std::string& rules)
	{
		spsec::test::write_file(dir.file("spsecd.yaml"),
		                        "interface: vcan0\n"       // 1
		                        "participant_id: 5\n"      // 2
		                        "aead: aes-gcm\n"          // 3
		                        "data_bitrate: 1000000\n"  // 4
		                        "key_store: " +
		                                dir.file("keys") + "\n" +                    // 5
		                                "control_socket: " + dir.file("ctl.sock") +  // 6
		                                "\n"
		                                "pin_dir: " +
		                                dir.file("pins") +  // 7
		                                "\n"
		                                "secured_ids: [0x123, 0x124]\n"   // 8
		                                "transmit_ids: [0x123, 0x124]\n"  // 9
		                                + rules);                         // 10...
	}
	DaemonDeps deps()
	{
		DaemonDeps d;
		d.log = &log;
		d.clock = &clock;
		d.data_plane = &dp;
		d.open_can = [](const std::string&) -> Result<std::unique_ptr<CanPort>> {
			return std::make_unique<FakeCanPort>();
		};
		d.notify = [](std::string_view) -> Result<bool> { return true; };
		d.key_owner = ::geteuid();
		d.state_dir = dir.path();
		d.handle_signals = false;
		d.realtime_ns = [] { return std::uint64_t{0}; };
		d.senders = &sys;
		return d;
	}
	std::string command(const std::string& line)
	{
		auto c = control_connect(dir.file("ctl.sock"), 2000);
		REQUIRE(c);
		REQUIRE(control_write(c->get(), line + "\n"));
		for (int i = 0; i < 100; i++) {
			char ch;
			if (::recv(c->get(), &ch, 1, MSG_PEEK | MSG_DONTWAIT) == 1)
				break;
			REQUIRE(current->run_once(50));
		}
		buf.clear();
		auto l = control_read_line(c->get(), buf);
		REQUIRE(l);
		return *l;
	}
};

const std::string kRules = "senders:\n"                          // 10
                           "  - ids: 0x123\n"                    // 11
                           "    units: can-app.service\n"        // 12
                           "    users: [canapp, 2000]\n"         // 13
                           "  - ids: 0x124\n"                    // 14
                           "    cgroups: [/can.slice/gw, /x]\n"  // 15
                           "    groups: can\n";                  // 16

}  // namespace

TEST_CASE("spsecd installs the sender rules as resolved at start", "[daemon][senders]")
{
	Env env(kRules);
	Daemon d(env.deps(), env.dir.file("spsecd.yaml"));
	REQUIRE(d.start());
	REQUIRE(env.dp.senders.size() == 2);
	const auto& a = env.dp.senders[0];
	REQUIRE(a.cgroups.size() == 1);
	CHECK(a.cgroups[0] == SenderCgroup{"/system.slice/can-app.service", 1001, 2});
	CHECK(a.uids == std::set<std::uint32_t>{1500, 2000});
	const auto& b = env.dp.senders[1];
	REQUIRE(b.cgroups.size() == 2);
	CHECK(b.cgroups[0] == SenderCgroup{"/can.slice/gw", 2002, 2});
	CHECK(b.cgroups[1] == SenderCgroup{"/x", 0, 1});  // missing: fail closed
	CHECK(b.uids == std::set<std::uint32_t>{1500, 1600});
	const auto& notes = d.senders().notes;
	REQUIRE(notes.size() == 2);
	CHECK_THAT(notes[0], Catch::Contains("line 14: cgroup /can.slice/gw is delegated"));
	CHECK_THAT(notes[1], Catch::Contains("line 14: cgroup /x (/x) does not exist now"));
}

TEST_CASE("spsecd refuses to start on sender rules it cannot resolve, naming the rule",
          "[daemon][senders]")
{
	SECTION("unknown user")
	{
		Env env(kRules);
		env.sys.users.clear();
		Daemon d(env.deps(), env.dir.file("spsecd.yaml"));
		auto r = d.start();
		REQUIRE_FALSE(r);
		CHECK_THAT(r.error().message(),
		           Catch::Contains("sender rule on line 11: no user canapp"));
		CHECK(env.dp.calls.empty());  // the data plane was never opened
	}
	SECTION("unknown group")
	{
		Env env(kRules);
		env.sys.groups.clear();
		Daemon d(env.deps(), env.dir.file("spsecd.yaml"));
		auto r = d.start();
		REQUIRE_FALSE(r);
		CHECK_THAT(r.error().message(),
		           Catch::Contains("sender rule on line 14: no group can"));
	}
	SECTION("no cgroup v2 hierarchy")
	{
		Env env(kRules);
		env.sys.cgroups_fail = true;
		Daemon d(env.deps(), env.dir.file("spsecd.yaml"));
		auto r = d.start();
		REQUIRE_FALSE(r);
		CHECK_THAT(r.error().message(),
		           Catch::Contains("sender rule on line 11: unit can-app.service"));
	}
	SECTION("no resolver")
	{
		Env env(kRules);
		DaemonDeps deps = env.deps();
		deps.senders = nullptr;
		Daemon d(std::move(deps), env.dir.file("spsecd.yaml"));
		auto r = d.start();
		REQUIRE_FALSE(r);
		CHECK_THAT(r.error().message(), Catch::Contains("no resolver for sender rules"));
	}
}

TEST_CASE("no sender rules: nothing to resolve, an empty table (any local sender)",
          "[daemon][senders]")
{
	Env env("");
	DaemonDeps deps = env.deps();
	deps.senders = nullptr;
	Daemon d(std::move(deps), env.dir.file("spsecd.yaml"));
	REQUIRE(d.start());
	CHECK(env.dp.senders.empty());
}

TEST_CASE("a unit's restart (new cgroup id) and a cgroup that appears are re-resolved",
          "[daemon][senders]")
{
	Env env(kRules);
	Daemon d(env.deps(), env.dir.file("spsecd.yaml"));
	REQUIRE(d.start());
	const auto reconfigures = [&] {
		return std::count(env.dp.calls.begin(), env.dp.calls.end(), "reconfigure vcan0");
	};
	d.recheck_senders();
	CHECK(reconfigures() == 0);  // nothing changed: nothing written

	// the unit stopped: systemd removed its cgroup
	env.sys.cgroups.erase("/system.slice/can-app.service");
	d.recheck_senders();
	CHECK(reconfigures() == 1);
	CHECK(env.dp.senders[0].cgroups[0].id == 0);
	CHECK(env.dp.senders[0].uids == std::set<std::uint32_t>{1500, 2000});  // users stay

	// it started again in a new cgroup; /x appeared
	env.sys.cgroups["/system.slice/can-app.service"] = CgroupInfo{3003, 2, false, 0};
	env.sys.cgroups["/x"] = CgroupInfo{4004, 1, false, 0};
	d.recheck_senders();
	CHECK(reconfigures() == 2);
	CHECK(env.dp.senders[0].cgroups[0].id == 3003);
	CHECK(env.dp.senders[1].cgroups[1].id == 4004);

	// a failing look-up keeps what is installed
	env.sys.cgroups_fail = true;
	d.recheck_senders();
	CHECK(reconfigures() == 2);
	CHECK(d.senders().table[0].cgroups[0].id == 3003);

	// the data plane refusing the update keeps the old resolution, to try again
	env.sys.cgroups_fail = false;
	env.sys.cgroups["/x"] = CgroupInfo{5005, 1, false, 0};
	env.dp.fail_reconfigure = true;
	d.recheck_senders();
	CHECK(d.senders().table[1].cgroups[1].id == 4004);
	env.dp.fail_reconfigure = false;
	d.recheck_senders();
	CHECK(d.senders().table[1].cgroups[1].id == 5005);
	CHECK(env.dp.senders[1].cgroups[1].id == 5005);
}

TEST_CASE("reload resolves the new rules, or refuses and keeps the old ones", "[daemon][senders]")
{
	Env env(kRules);
	Daemon d(env.deps(), env.dir.file("spsecd.yaml"));
	REQUIRE(d.start());
	env.write_config("senders:\n  - ids: [0x123, 0x124]\n    groups: nogroup\n");
	auto bad = d.reload();
	REQUIRE_FALSE(bad);
	CHECK_THAT(bad.error().message(),
	           Catch::Contains("sender rule on line 11: no group nogroup"));
	CHECK(env.dp.senders.size() == 2);
	CHECK(d.config()->senders.size() == 2);

	env.sys.groups["nogroup"] = {7};
	REQUIRE(d.reload());
	REQUIRE(env.dp.senders.size() == 1);
	CHECK(env.dp.senders[0].uids == std::set<std::uint32_t>{7});
	CHECK(env.dp.senders[0].cgroups.empty());

	env.write_config("senders:\n  - ids: 0x125\n    users: 1\n");  // not a transmit ID
	auto refused = d.reload();
	REQUIRE_FALSE(refused);
	CHECK_THAT(
	        refused.error().message(),
	        Catch::Contains("spsecd.yaml:11: senders: \"0x125\" is not a secured transmit ID"));
	CHECK(env.dp.senders.size() == 1);
}

TEST_CASE("the senders control command shows each rule, its resolution and its counters",
          "[daemon][senders]")
{
	Env env(kRules);
	Daemon d(env.deps(), env.dir.file("spsecd.yaml"));
	env.current = &d;
	REQUIRE(d.start());
	env.dp.sender_count = {{10, 2}, {0, 5}};
	env.dp.snapshot.by_reason[SPSEC_R_TX_SENDER_DENIED] = 6;
	env.dp.snapshot.by_reason[SPSEC_R_TX_SENDER_UNKNOWN] = 1;
	const std::string line = env.command(R"({"cmd":"senders"})");
	auto v = parse_json_view(line);
	REQUIRE(v);
	INFO(line);
	CHECK(v->find("tx_sender_denied")->as_u64() == 6u);
	CHECK(v->find("tx_sender_unknown")->as_u64() == 1u);
	const auto* rules = v->find("rules");
	REQUIRE(rules);
	REQUIRE(rules->items().size() == 2);
	const auto& r1 = rules->items()[0];
	CHECK(r1.find("rule")->as_u64() == 1u);
	CHECK(r1.find("line")->as_u64() == 11u);
	CHECK(r1.find("ids")->items()[0].as_string() == "0x123");
	CHECK(r1.find("units")->items()[0].as_string() == "can-app.service");
	CHECK(r1.find("allowed")->as_u64() == 10u);
	CHECK(r1.find("denied")->as_u64() == 2u);
	CHECK(r1.find("resolved")->find("cgroups")->items()[0].find("id")->as_u64() == 1001u);
	CHECK(r1.find("resolved")->find("uids")->items().size() == 2u);
	const auto& r2 = rules->items()[1];
	CHECK(r2.find("denied")->as_u64() == 5u);
	CHECK(r2.find("resolved")->find("cgroups")->items()[1].find("id")->as_u64() == 0u);
}

TEST_CASE("spsecctl senders prints the rules for humans", "[daemon][senders][ctl]")
{
	Env env(kRules);
	Daemon d(env.deps(), env.dir.file("spsecd.yaml"));
	env.current = &d;
	REQUIRE(d.start());
	env.dp.sender_count = {{10, 2}, {0, 5}};
	env.dp.snapshot.by_reason[SPSEC_R_TX_SENDER_DENIED] = 7;
	auto v = parse_json(env.command(R"({"cmd":"senders"})"));
	REQUIRE(v);
	CHECK(ctl::senders_text(*v) ==
	      "rule 1 (line 11): ids 0x123\n"
	      "  unit can-app.service: cgroup /system.slice/can-app.service, id 1001\n"
	      "  user canapp, user 2000: uids 1500, 2000\n"
	      "  allowed 10, denied 2\n"
	      "rule 2 (line 14): ids 0x124\n"
	      "  cgroup /can.slice/gw: cgroup /can.slice/gw, id 2002\n"
	      "  cgroup /x: cgroup /x, does not exist now (refused)\n"
	      "  group can: uids 1500, 1600\n"
	      "  allowed 0, denied 5\n"
	      "tx_sender_denied 7, tx_sender_unknown 0\n"
	      "note: sender rule on line 14: cgroup /can.slice/gw is delegated (cgroup.procs "
	      "owned by uid 1000 or group/world-writable): that user can move any of its "
	      "processes into it\n"
	      "note: sender rule on line 14: cgroup /x (/x) does not exist now; its senders are "
	      "refused until it does\n");
	CHECK(ctl::senders_text(Json::object()) ==
	      "no sender rules: any local process may send every transmit ID\n"
	      "tx_sender_denied 0, tx_sender_unknown 0\n");
}
