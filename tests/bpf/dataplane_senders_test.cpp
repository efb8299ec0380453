// SPDX-License-Identifier: Apache-2.0
// bpf tier: sender rules (who may send a secured transmit ID) in the egress verdict.
//  - identities of every kind given to the verdict through the test entry (skb->cb[2] = "WHO?")
//    compared with the C++ model sender_verdict(), with exact global and per-rule counters;
//  - the real helpers on BPF_PROG_TEST_RUN's own socket, which the kernel creates with uid 0 in
//    the cgroup of the process running the test: the test moves itself between cgroups it
//    creates, and the ids spsecd's resolver reads (common/cgroup.h) must be the ones the
//    kernel's bpf_skb_ancestor_cgroup_id() returns.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <random>

#include "bpf/map_writer.h"
#include "common/cgroup.h"
#include "core/reasons.h"
#include "core/sender_rules.h"
#include "core/stamp.h"
#include "dp_fixture.h"
#include "host_env.h"

using namespace spsec;
using namespace spsec::test;

namespace {

const bool g_gate = skip_binary_unless_bpf();

constexpr std::uint32_t kWhoMagic = 0x57484f3fu;  // "WHO?", spsec_test.bpf.c
constexpr std::size_t kWhoLevels = 16;

// struct spsec_test_who of spsec_test.bpf.c
struct TestWho {
	std::uint32_t has_sk = 0;
	std::uint32_t uid = 0;
	std::uint64_t cgroup[kWhoLevels] = {};
};

constexpr std::uint32_t kRuled1 = 0x121, kRuled2 = 0x00001234 | CAN_EFF_FLAG, kFree = 0x123;

struct SenderEnv {
	std::unique_ptr<DpFixture> fx;
	std::unique_ptr<Aead> aead;
	Key32 key;
	KeySalt salt{{1, 2, 3, 4, 5, 6, 7, 8}};
	std::uint64_t t0 = (0x21ull << SPSEC_WINDOW_SHIFT) + 1000;

	SenderEnv()
	{
		auto f = DpFixture::create();
		INFO((f ? std::string() : f.error().message()));
		REQUIRE(f);
		fx = std::move(*f);
		for (auto& b : key.expose_mut())
			b = 0x42;
		REQUIRE(fx->dp().set_state(SPSEC_STATE_SECURE, SPSEC_AEAD_CHACHA20POLY1305,
		                           SPSEC_MODE_ENCRYPT, 150, SPSEC_DEFAULT_DROP));
		auto slot = std::make_unique<spsec_key_slot>();
		REQUIRE(prepare_key_slot(AeadKind::ChaCha20Poly1305, key, salt,
		                         t0 >> SPSEC_WINDOW_SHIFT, *slot));
		REQUIRE(fx->dp().install_key(*slot));
		REQUIRE(fx->freeze_clock(t0));
	}

	// Own secured IDs kRuled1 (rule 1), kRuled2 (rule 2) and kFree (no rule).
	void rules(const SenderTable& table)
	{
		const std::uint32_t own = SPSEC_POL_SECURED | SPSEC_POL_OWN_TX;
		const std::vector<PolicyEntry> pol{{kRuled1, own, table.empty() ? 0u : 1u},
		                                   {kRuled2, own, table.size() > 1 ? 2u : 0u},
		                                   {kFree, own, 0}};
		const auto entries = sender_rule_entries(table);
		auto r = fx->dp().replace_policy(pol, entries);
		INFO((r ? std::string() : r.error().message()));
		REQUIRE(r);
	}

	void set_who(const TestWho& w)
	{
		const MapWriter m(
		        bpf_object__find_map_by_name(fx->skel_object(), "spsec_test_who"));
		REQUIRE(m.put(std::uint32_t{0}, w));
	}

	// One frame of `id` through egress; returns the reason counted (exactly one).
	std::uint32_t send(std::uint32_t id, bool fake_who, bool forget_t = true,
	                   std::uint32_t mark = 0)
	{
		CanFrame f;
		f.fd = true;
		f.flags = CANFD_FDF;
		f.can_id = id;
		f.len = 8;
		for (int i = 0; i < 8; i++)
			f.data[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(i);
		auto before = fx->dp().read_counters();
		REQUIRE(before);
		// The clock is frozen: forget the ID's last T, or a long run would be refused as a
		// flood (tx_t_lead) once T runs W/2 ahead.
		if (forget_t) {
			const MapWriter last(
			        bpf_object__find_map_by_name(fx->skel_object(), "spsec_tx_last"));
			(void)last.erase(spsec_id_key{id, 0});
		}
		auto r = run_with_cb2(to_wire(f), fake_who ? kWhoMagic : 0, mark);
		auto after = fx->dp().read_counters();
		REQUIRE(after);
		std::uint32_t reason = 0;
		std::uint64_t total = 0;
		for (std::size_t i = 0; i < after->size(); i++) {
			total += (*after)[i] - (*before)[i];
			if ((*after)[i] != (*before)[i])
				reason = static_cast<std::uint32_t>(i);
		}
		REQUIRE(total == 1);
		CHECK((r == TC_ACT_OK) == (reason == SPSEC_R_TX_OK));
		return reason;
	}

	int run_with_cb2(const std::vector<std::uint8_t>& frame, std::uint32_t cb2,
	                 std::uint32_t mark = 0)
	{
		std::vector<std::uint8_t> out(frame.size());
		__sk_buff ctx{};
		ctx.cb[2] = cb2;
		ctx.mark = mark;
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
		            .data_out = out.data(),
		            .data_size_in = static_cast<__u32>(frame.size()),
		            .data_size_out = static_cast<__u32>(out.size()), .ctx_in = &ctx,
		            .ctx_size_in = sizeof ctx, .repeat = 1);
		REQUIRE(bpf_prog_test_run_opts(bpf_program__fd(fx->skel()->progs.spsec_test_egress),
		                               &opts) == 0);
		return static_cast<int>(opts.retval);
	}

	SenderCounts counts()
	{
		auto c = fx->dp().read_sender_counts();
		REQUIRE(c);
		return *c;
	}
};

}  // namespace

TEST_CASE("sender rules: 3000 identities against the model, with exact counters", "[bpf][senders]")
{
	SenderEnv env;
	SenderTable table(2);
	table[0].uids = {1000, 1001};
	table[0].cgroups = {{"/a/b", 42, 2}, {"/gone", 0, 1}, {"/c", 99, 1}};
	table[1].cgroups = {{"/a", 7, 1}};
	env.rules(table);

	std::mt19937_64 rng(20261204);
	const std::uint32_t uids[] = {0, 1000, 1001, 1002, 65534};
	const std::uint64_t ids[] = {0, 1, 7, 42, 99, 1234};
	std::uint64_t want_reason[SPSEC_R_MAX] = {};
	SenderCounts want{};
	for (int i = 0; i < 3000; i++) {
		TestWho w;
		SocketIdentity who;
		w.has_sk = (rng() % 10) != 0;
		who.full_socket = w.has_sk != 0;
		w.uid = who.uid = uids[rng() % std::size(uids)];
		const std::size_t depth = rng() % 5;  // levels 0..depth
		for (std::size_t l = 0; l <= depth; l++) {
			w.cgroup[l] = l == 0 ? 1 : ids[rng() % std::size(ids)];
			who.ancestors.push_back(w.cgroup[l]);
		}
		env.set_who(w);
		const std::uint32_t pick = static_cast<std::uint32_t>(rng() % 3);
		const std::uint32_t id = pick == 0 ? kRuled1 : pick == 1 ? kRuled2 : kFree;
		std::uint32_t expect = SPSEC_R_TX_OK;
		if (id != kFree) {
			const std::uint32_t v = sender_verdict(table[pick], who);
			if (v != 0)
				expect = v;
			(v ? want[pick + 1].denied : want[pick + 1].allowed)++;
		}
		want_reason[expect]++;
		INFO("frame " << i << " id " << id << " uid " << w.uid << " has_sk " << w.has_sk);
		REQUIRE(env.send(id, true) == expect);
	}
	auto c = env.fx->dp().read_counters();
	REQUIRE(c);
	for (std::uint32_t r :
	     {SPSEC_R_TX_OK, SPSEC_R_TX_SENDER_DENIED, SPSEC_R_TX_SENDER_UNKNOWN}) {
		INFO(reason_info(r)->name);
		CHECK((*c)[r] == want_reason[r]);
	}
	CHECK(want_reason[SPSEC_R_TX_SENDER_DENIED] > 300);  // the mix exercises every outcome
	CHECK(want_reason[SPSEC_R_TX_SENDER_UNKNOWN] > 100);
	const auto got = env.counts();
	for (std::size_t r = 0; r < got.size(); r++) {
		INFO("rule " << r);
		CHECK(got[r].allowed == want[r].allowed);
		CHECK(got[r].denied == want[r].denied);
	}
	CHECK(env.fx->dp().zero_sender_counts());
	CHECK(env.counts()[1].allowed == 0);
}

TEST_CASE("sender rules flip with the policy generation, and a refused frame claims no T",
          "[bpf][senders]")
{
	SenderEnv env;
	TestWho w;
	w.has_sk = 1;
	w.uid = 1000;
	w.cgroup[0] = 1;
	env.set_who(w);
	SenderTable table(1);
	table[0].uids = {1000};
	env.rules(table);
	CHECK(env.send(kRuled1, true, false) == SPSEC_R_TX_OK);
	table[0].uids = {2000};
	env.rules(table);  // the next generation: uid 1000 no more
	CHECK(env.send(kRuled1, true, false) == SPSEC_R_TX_SENDER_DENIED);
	const MapWriter last(bpf_object__find_map_by_name(env.fx->skel_object(), "spsec_tx_last"));
	auto before = last.get<spsec_fresh>(spsec_id_key{kRuled1, 0});
	REQUIRE(before);
	CHECK(env.send(kRuled1, true, false) == SPSEC_R_TX_SENDER_DENIED);
	auto after = last.get<spsec_fresh>(spsec_id_key{kRuled1, 0});
	REQUIRE(after);
	CHECK(after->last_t == before->last_t);
	// the old generation's uids are gone from the map: only the live rule's remain
	const MapWriter uids(bpf_object__find_map_by_name(env.fx->skel_object(), "spsec_snd_uids"));
	auto keys = uids.keys<spsec_sender_uid_key>();
	REQUIRE(keys);
	REQUIRE(keys->size() == 1);
	CHECK((*keys)[0].uid == 2000);
	// no rules at all: today's behaviour, any sender
	env.rules({});
	w.has_sk = 0;
	env.set_who(w);
	CHECK(env.send(kRuled1, true) == SPSEC_R_TX_OK);
}

TEST_CASE("spsecd's marked control-plane frames meet no sender rule", "[bpf][senders]")
{
	SenderEnv env;
	SenderTable table(1);
	table[0].uids = {4321};
	env.rules(table);
	TestWho w;  // no socket, uid 0: refused on any ruled ID
	env.set_who(w);
	CHECK(env.send(kRuled1, true) == SPSEC_R_TX_SENDER_UNKNOWN);
	CanFrame hb;  // a heartbeat of participant 5 (29-bit, bit 25)
	hb.fd = true;
	hb.flags = CANFD_FDF;
	hb.can_id = CAN_EFF_FLAG | 0x12020A05;
	hb.len = 12;
	auto before = env.fx->dp().read_counters();
	REQUIRE(before);
	auto r = env.fx->run(false, to_wire(hb), 0, SPSEC_DAEMON_MARK);
	REQUIRE(r);
	CHECK(r->retval == TC_ACT_OK);
	auto after = env.fx->dp().read_counters();
	REQUIRE(after);
	CHECK((*after)[SPSEC_R_TX_CONTROL] == (*before)[SPSEC_R_TX_CONTROL] + 1);
}

TEST_CASE("the gateway's mark opens no sender rule: can-gw's copies pass only IDs without one",
          "[bpf][senders][gateway]")
{
	// spsecd refuses a sender rule on an ID a gateway forwards onto the secured bus (config);
	// so can-gw's copies (no socket, SPSEC_GW_MARK from the segment's spsec_gw_in) meet no rule
	// on their IDs, and on a ruled ID neither the mark nor any other opens the rule.
	SenderEnv env;
	SenderTable table(1);
	table[0].uids = {0, 1000};
	env.rules(table);  // kRuled1: rule 1; kFree: no rule (a gateway's to_secured ID)
	TestWho w;         // no socket, as can-gw's copies
	w.uid = 1000;
	w.cgroup[0] = 1;
	env.set_who(w);
	for (const std::uint32_t mark : {0u, SPSEC_GW_MARK, SPSEC_DAEMON_MARK}) {
		INFO("mark " << mark);
		CHECK(env.send(kFree, true, true, mark) == SPSEC_R_TX_OK);
		CHECK(env.send(kRuled1, true, true, mark) == SPSEC_R_TX_SENDER_UNKNOWN);
	}
	// the same uid with a socket is allowed, with or without the mark
	w.has_sk = 1;
	env.set_who(w);
	CHECK(env.send(kRuled1, true, true, SPSEC_GW_MARK) == SPSEC_R_TX_OK);
	CHECK(env.counts()[1].denied == 3);
	CHECK(env.counts()[1].allowed == 1);
}

TEST_CASE("DataPlane refuses sender rules it cannot hold, naming them", "[bpf][senders]")
{
	SenderEnv env;
	const std::uint32_t own = SPSEC_POL_SECURED | SPSEC_POL_OWN_TX;
	std::vector<SenderRuleEntry> one(1);
	auto r = env.fx->dp().replace_policy(std::vector<PolicyEntry>{{kRuled1, own, 2}}, one);
	REQUIRE_FALSE(r);
	CHECK(r.error().message().find("names sender rule 2 of 1") != std::string::npos);
	r = env.fx->dp().replace_policy(std::vector<PolicyEntry>{{kRuled1, SPSEC_POL_SECURED, 1}},
	                                one);
	REQUIRE_FALSE(r);
	CHECK(r.error().message().find("does not stamp") != std::string::npos);
	std::vector<SenderRuleEntry> many(SPSEC_SENDER_RULES);
	r = env.fx->dp().replace_policy(std::vector<PolicyEntry>{}, many);
	REQUIRE_FALSE(r);
	CHECK(r.error().errno_value == E2BIG);
	one[0].uids.resize(SPSEC_SENDER_UIDS / 2 + 1);
	r = env.fx->dp().replace_policy(std::vector<PolicyEntry>{}, one);
	REQUIRE_FALSE(r);
	CHECK(r.error().errno_value == E2BIG);
}

namespace {

// A cgroup tree of the test's own, removed again (with the test process moved back) however
// the test ends.
class CgroupTree {
public:
	explicit CgroupTree(std::string mount) : mount_(std::move(mount))
	{
		std::ifstream self("/proc/self/cgroup");
		std::string line;
		while (std::getline(self, line))
			if (line.rfind("0::", 0) == 0)
				home_ = line.substr(3);
		base_ = "/spsec-bpf-test-" + std::to_string(::getpid());
	}
	~CgroupTree()
	{
		(void)move_to(home_);
		for (const auto& d : made_)
			::rmdir((mount_ + d).c_str());
	}
	bool make(const std::string& rel)
	{
		const std::string p = base_ + rel;
		if (::mkdir((mount_ + p).c_str(), 0755) != 0)
			return false;
		made_.insert(made_.begin(), p);
		return true;
	}
	bool move_to(const std::string& p)
	{
		std::ofstream procs(mount_ + (p == "/" ? "" : p) + "/cgroup.procs");
		procs << "0\n";
		procs.flush();
		return static_cast<bool>(procs);
	}
	std::string path(const std::string& rel) const { return base_ + rel; }
	const std::string& mount() const { return mount_; }

private:
	std::string mount_, home_ = "/", base_;
	std::vector<std::string> made_;  // deepest first
};

}  // namespace

TEST_CASE("the real helpers: the test run's socket (uid 0, this process's cgroup) against the "
          "ids spsecd's resolver reads",
          "[bpf][senders]")
{
	auto mount = cgroup2_mount();
	if (!mount) {
		WARN("SKIP cgroup part: " << mount.error().message());
		return;
	}
	CgroupTree tree(*mount);
	REQUIRE(tree.make(""));
	REQUIRE(tree.make("/a"));
	REQUIRE(tree.make("/a/app"));
	REQUIRE(tree.make("/b"));
	const auto info = [&](const std::string& rel) {
		auto i = cgroup_lookup(tree.mount(), tree.path(rel));
		INFO((i ? std::string() : i.error().message()));
		REQUIRE(i);
		REQUIRE(i->has_value());
		return SenderCgroup{tree.path(rel), (*i)->id, (*i)->level};
	};
	const SenderCgroup a = info("/a"), app = info("/a/app"), b = info("/b");
	CHECK(app.level == a.level + 1);
	CHECK_FALSE(cgroup_lookup(tree.mount(), tree.path("/none")).value().has_value());

	SenderEnv env;
	REQUIRE(tree.move_to(tree.path("/a/app")));
	const auto verdict_with = [&](SenderTable t) {
		env.rules(t);
		return env.send(kRuled1, false);
	};
	SenderTable t(1);
	t[0].cgroups = {app};
	CHECK(verdict_with(t) == SPSEC_R_TX_OK);  // its own cgroup
	t[0].cgroups = {a};
	CHECK(verdict_with(t) == SPSEC_R_TX_OK);  // below the rule's cgroup
	t[0].cgroups = {b};
	CHECK(verdict_with(t) == SPSEC_R_TX_SENDER_DENIED);  // a sibling
	t[0].cgroups = {SenderCgroup{a.path, 0, a.level}};
	CHECK(verdict_with(t) == SPSEC_R_TX_SENDER_DENIED);  // unresolved: fail closed
	t[0].cgroups = {};
	t[0].uids = {0};
	CHECK(verdict_with(t) == SPSEC_R_TX_OK);  // the test run's socket has uid 0
	t[0].uids = {1000};
	CHECK(verdict_with(t) == SPSEC_R_TX_SENDER_DENIED);
	// the socket is made per run, in the cgroup the process is in then
	t[0].uids = {};
	t[0].cgroups = {b};
	REQUIRE(tree.move_to(tree.path("/b")));
	CHECK(verdict_with(t) == SPSEC_R_TX_OK);
}
