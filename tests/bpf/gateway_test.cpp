// SPDX-License-Identifier: Apache-2.0
// bpf tier: the gateway's segment verdict (bpf/spsec_gateway.h) under BPF_PROG_TEST_RUN, frame by
// frame against the C++ rule model (core/gateway_rules.h: the rules of a parsed configuration,
// IdMatch::covers, to_bpf_rule): reason, tc action and per-rule counters, for every 11-bit ID and
// a set of 29-bit, control-plane, RTR and error frames, in both directions and on two segments;
// the generation switch; the rate limit.
#include <catch2/catch.hpp>

#include <array>
#include <cstring>
#include <map>
#include <vector>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/can.h>
#include <linux/pkt_cls.h>

#include "bpf/gateway_maps.h"
#include "bpf/gateway_setup.h"
#include "bpf/skeleton.h"
#include "core/config.h"
#include "core/gateway_rules.h"
#include "host_env.h"
#include "spsec/abi.h"
#include "spsec_gw_test.skel.h"

using namespace spsec;

namespace {

const bool g_gate = test::skip_binary_unless_bpf();

constexpr std::uint32_t kSeg1 = 11, kSeg2 = 12;  // ifindexes the test gives the two segments

const std::string kConfig =
        "interface: can0\n"
        "participant_id: 5\n"
        "aead: aes-gcm\n"
        "data_bitrate: 2000000\n"
        "key_store: /var/lib/spsec/keys\n"
        "secured_ids: [0x120, 0x121, 0x122, 0x123, 0x200, 0x201, 0x00001234, 0x00001235]\n"
        "plaintext_ids: [0x300]\n"
        "transmit_ids: [0x120, 0x121, 0x122, 0x123, 0x00001234, 0x300]\n"
        "gateway:\n"
        "  segments:\n"
        "    - {name: can1}\n"
        "    - {name: can2, frames: classic}\n"
        "  rules:\n"
        "    - {ids: 0x120-0x123, direction: to_secured, segment: can1}\n"
        "    - {ids: 0x200/0x7FE, direction: to_plain, segment: can1}\n"
        "    - {ids: 0x00001234, direction: to_secured, segment: can2}\n"
        "    - {ids: 0x201, direction: to_plain, segment: can2}\n"
        "    - {ids: 0x00001235, direction: to_plain, segment: can2}\n";

class GwFixture {
public:
	GwFixture()
	{
		auto s = Skeleton<spsec_gw_test>::open();
		REQUIRE(s);
		bpf_map* m;
		bpf_object__for_each_map(m, s->object())
		{
			bpf_map__set_pin_path(m, nullptr);  // private maps
		}
		REQUIRE(s->load());
		skel_.emplace(std::move(*s));
		auto gm = GatewayMaps::from_object(skel_->object());
		REQUIRE(gm);
		maps_.emplace(std::move(*gm));
	}

	spsec_gw_test* skel() { return skel_->get(); }

	GatewayMaps& maps() { return *maps_; }

	// The rules of a parsed configuration, through the writer spsecd uses.
	void install(const GatewayConfig& g)
	{
		std::vector<spsec_gw_rule> rules;
		for (std::size_t i = 0; i < g.rules.size(); i++) {
			const auto& r = g.rules[i];
			const std::uint32_t seg = r.segment == "can1" ? kSeg1 : kSeg2;
			rules.push_back(to_bpf_rule(r, static_cast<std::uint32_t>(i), seg,
			                            r.segment == "can2"));
		}
		replace(rules);
	}

	void replace(const std::vector<spsec_gw_rule>& rules)
	{
		auto r = maps_->replace_rules(rules);
		INFO((r ? std::string() : r.error().message()));
		REQUIRE(r);
	}

	void set_tat(std::uint32_t rule, std::uint64_t tat)
	{
		spsec_gw_rate v{};
		v.tat = tat;
		REQUIRE(bpf_map__update_elem(skel()->maps.spsec_gw_rate, &rule, sizeof rule, &v,
		                             sizeof v, BPF_ANY) == 0);
	}

	// One run of the ingress (to_secured) or egress (to_plain) entry; returns the tc action.
	int run(bool in, std::uint32_t can_id, bool fd, std::uint32_t seg)
	{
		std::vector<std::uint8_t> frame(fd ? CANFD_MTU : CAN_MTU, 0);
		std::memcpy(frame.data(), &can_id, 4);
		frame[4] = 4;
		__sk_buff ctx{};
		ctx.cb[0] = seg;
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
		            .data_size_in = static_cast<__u32>(frame.size()), .ctx_in = &ctx,
		            .ctx_size_in = sizeof ctx);
		const int fd_prog = bpf_program__fd(in ? skel()->progs.spsec_test_gw_in
		                                       : skel()->progs.spsec_test_gw_out);
		REQUIRE(bpf_prog_test_run_opts(fd_prog, &opts) == 0);
		return static_cast<int>(opts.retval);
	}

	std::uint64_t percpu_sum(bpf_map* map, std::uint32_t key)
	{
		const int ncpu = libbpf_num_possible_cpus();
		REQUIRE(ncpu > 0);
		std::vector<std::uint64_t> v(static_cast<std::size_t>(ncpu));
		REQUIRE(bpf_map__lookup_elem(map, &key, sizeof key, v.data(), v.size() * 8, 0) ==
		        0);
		std::uint64_t s = 0;
		for (auto x : v)
			s += x;
		return s;
	}
	std::uint64_t reason(std::uint32_t r) { return percpu_sum(skel()->maps.spsec_counters, r); }
	std::uint64_t rule_count(std::uint32_t rule, std::uint32_t kind)
	{
		auto c = maps_->rule_counters(rule);
		REQUIRE(c);
		return (*c)[kind];
	}

private:
	std::optional<Skeleton<spsec_gw_test>> skel_;
	std::optional<GatewayMaps> maps_;
};

GatewayConfig parsed()
{
	auto c = parse_config(kConfig, "gw.yaml");
	INFO((c ? std::string() : c.error().context));
	REQUIRE(c);
	return c->gateway;
}

// The model's verdict: the rule that applies (or -1) and the reason.
struct Expect {
	int rule = -1;
	std::uint32_t reason = 0;
	std::uint32_t kind = 0;  // SPSEC_GW_CNT_* for rule >= 0
};

Expect model(const GatewayConfig& g, bool in, std::uint32_t can_id, bool fd, std::uint32_t seg)
{
	Expect e;
	const bool data = !(can_id & (CAN_ERR_FLAG | CAN_RTR_FLAG));
	const std::uint32_t id = (can_id & CAN_EFF_FLAG) ? can_id & (CAN_EFF_FLAG | CAN_EFF_MASK)
	                                                 : can_id & CAN_SFF_MASK;
	const bool ctrl = (can_id & CAN_EFF_FLAG) && (can_id & SPSEC_CTRL_BIT);
	const auto dir = in ? GatewayDirection::ToSecured : GatewayDirection::ToPlain;
	for (std::size_t i = 0; data && !ctrl && i < g.rules.size(); i++) {
		const auto& r = g.rules[i];
		const std::uint32_t rs = r.segment == "can1" ? kSeg1 : kSeg2;
		if (r.direction == dir && rs == seg && r.ids.covers(id)) {
			e.rule = static_cast<int>(i);
			break;
		}
	}
	if (in) {
		if (e.rule < 0)
			e.reason = SPSEC_R_GW_NO_RULE;
		else if (!fd || g.rules[static_cast<std::size_t>(e.rule)].segment == "can2")
			e.reason = SPSEC_R_GW_CLASSIC, e.kind = SPSEC_GW_CNT_CLASSIC;
		else
			e.reason = SPSEC_R_GW_IN_ALLOWED, e.kind = SPSEC_GW_CNT_FWD;
	} else {
		if (e.rule < 0)
			e.reason = SPSEC_R_GW_OUT_NOT_ALLOWED;
		else
			e.reason = SPSEC_R_GW_OUT_ALLOWED, e.kind = SPSEC_GW_CNT_FWD;
	}
	return e;
}

bool passes(std::uint32_t reason)
{
	return (SPSEC_R_PASS_MASK >> reason) & 1;
}

}  // namespace

TEST_CASE("segment verdicts match the rule model, with exact per-rule counters", "[gateway]")
{
	GwFixture fx;
	const GatewayConfig g = parsed();
	fx.install(g);
	std::vector<std::uint32_t> ids;
	for (std::uint32_t x = 0; x <= CAN_SFF_MASK; x++)
		ids.push_back(x);
	for (std::uint32_t x : {0x1234u, 0x1235u, 0x1236u, 0x1233u, 0x0u, 0x1FFFFFFFu})
		ids.push_back(x | CAN_EFF_FLAG);
	ids.push_back(0x1234u | CAN_EFF_FLAG | SPSEC_CTRL_BIT);  // control plane: never
	ids.push_back(0x120u | CAN_RTR_FLAG);                    // RTR: never
	ids.push_back(0x1234u | CAN_EFF_FLAG | CAN_RTR_FLAG);
	ids.push_back(0x120u | CAN_ERR_FLAG);  // error frame: never

	std::map<std::pair<int, std::uint32_t>, std::uint64_t> rule_books;
	std::map<std::uint32_t, std::uint64_t> reason_books;
	for (const bool in : {true, false})
		for (const std::uint32_t seg : {kSeg1, kSeg2})
			for (const bool fd : {true, false})
				for (const std::uint32_t id : ids) {
					const Expect e = model(g, in, id, fd, seg);
					const std::uint64_t before = fx.reason(e.reason);
					const int act = fx.run(in, id, fd, seg);
					INFO("in " << in << " seg " << seg << " fd " << fd
					           << " id 0x" << std::hex << id);
					CHECK(fx.reason(e.reason) == before + 1);
					CHECK(act == (passes(e.reason) ? TC_ACT_OK : TC_ACT_SHOT));
					reason_books[e.reason]++;
					if (e.rule >= 0)
						rule_books[{e.rule, e.kind}]++;
				}
	// the books: every counter exactly as the model says, nothing else moved
	for (std::uint32_t r = 0; r < SPSEC_R_MAX; r++) {
		INFO("reason " << r);
		CHECK(fx.reason(r) == reason_books[r]);
	}
	for (std::uint32_t rule = 0; rule < SPSEC_GW_RULES_MAX; rule++)
		for (std::uint32_t kind = 0; kind < SPSEC_GW_CNT_N; kind++) {
			INFO("rule " << rule << " kind " << kind);
			const auto it = rule_books.find({static_cast<int>(rule), kind});
			CHECK(fx.rule_count(rule, kind) ==
			      (it == rule_books.end() ? 0 : it->second));
		}
	// each rule was exercised
	CHECK(rule_books[{0, SPSEC_GW_CNT_FWD}] == 4);      // 0x120..0x123, FD, can1
	CHECK(rule_books[{0, SPSEC_GW_CNT_CLASSIC}] == 4);  // the same IDs as classical frames
	CHECK(rule_books[{1, SPSEC_GW_CNT_FWD}] == 4);      // 0x200, 0x201, FD and classical
	CHECK(rule_books[{2, SPSEC_GW_CNT_CLASSIC}] == 2);  // classical segment
	CHECK(rule_books[{4, SPSEC_GW_CNT_FWD}] == 2);
}

TEST_CASE("a rule set is replaced whole; an empty one lets nothing cross", "[gateway]")
{
	GwFixture fx;
	const GatewayConfig g = parsed();
	fx.replace({});  // a gateway being set up: no rules yet
	CHECK(fx.run(true, 0x120, true, kSeg1) == TC_ACT_OK);
	CHECK(fx.reason(SPSEC_R_GW_NO_RULE) == 1);
	CHECK(fx.run(false, 0x200, true, kSeg1) == TC_ACT_SHOT);
	CHECK(fx.reason(SPSEC_R_GW_OUT_NOT_ALLOWED) == 1);
	fx.install(g);
	CHECK(fx.maps().live_rules()->size() == g.rules.size());
	CHECK(fx.run(false, 0x200, true, kSeg1) == TC_ACT_OK);
	CHECK(fx.reason(SPSEC_R_GW_OUT_ALLOWED) == 1);
	// a new set without rule 1 (0x200/0x7FE to_plain): 0x200 no longer crosses
	std::vector<spsec_gw_rule> fewer;
	for (std::uint32_t i : {0u, 2u}) {
		spsec_gw_rule r = to_bpf_rule(g.rules[i], static_cast<std::uint32_t>(fewer.size()),
		                              i == 0 ? kSeg1 : kSeg2, i == 2);
		fewer.push_back(r);
	}
	fx.replace(fewer);
	CHECK(fx.maps().live_rules()->size() == 2);
	CHECK(fx.run(false, 0x200, true, kSeg1) == TC_ACT_SHOT);
	CHECK(fx.reason(SPSEC_R_GW_OUT_NOT_ALLOWED) == 2);
	CHECK(fx.run(true, 0x121, true, kSeg1) == TC_ACT_OK);
	CHECK(fx.reason(SPSEC_R_GW_IN_ALLOWED) == 1);
	// refused sets leave the live one as it is
	spsec_gw_rule bad = fewer[1];
	bad.rule = 7;  // not its index
	auto r = fx.maps().replace_rules(std::vector<spsec_gw_rule>{fewer[0], bad});
	REQUIRE_FALSE(r);
	CHECK(r.error().errno_value == EINVAL);
	bad = fewer[1];
	bad.mask &= ~CAN_EFF_FLAG;
	CHECK_FALSE(fx.maps().replace_rules(std::vector<spsec_gw_rule>{fewer[0], bad}));
	bad = fewer[1];
	bad.dir = 3;
	CHECK_FALSE(fx.maps().replace_rules(std::vector<spsec_gw_rule>{fewer[0], bad}));
	bad = fewer[1];
	bad.pad1 = 1;
	CHECK_FALSE(fx.maps().replace_rules(std::vector<spsec_gw_rule>{fewer[0], bad}));
	std::vector<spsec_gw_rule> too_many(SPSEC_GW_RULES_MAX + 1, fewer[0]);
	CHECK(fx.maps().replace_rules(too_many).error().errno_value == E2BIG);
	CHECK(fx.maps().live_rules()->size() == 2);
	CHECK(fx.run(true, 0x122, true, kSeg1) == TC_ACT_OK);
	CHECK(fx.reason(SPSEC_R_GW_IN_ALLOWED) == 2);
}

TEST_CASE("a rule's rate limit: burst frames back to back, then none until the schedule allows",
          "[gateway]")
{
	GwFixture fx;
	spsec_gw_rule r{};
	r.value = 0x120;
	r.mask = CAN_EFF_FLAG | CAN_SFF_MASK;
	r.hi = 0xFFFFFFFFu;
	r.dir = SPSEC_GW_TO_SECURED;
	r.seg_ifindex = kSeg1;
	// one frame per 10^6 s after a burst of 3: no stall of the host can refill the bucket
	r.interval_ns = 1000000000000000ull;
	r.burst_ns = 2 * r.interval_ns;  // a burst of 3
	std::vector<spsec_gw_rule> rules(4, r);
	for (std::uint32_t i = 0; i < 4; i++)
		rules[i].rule = i;
	rules[0].value = 0x7FF;  // rules 0..2 other IDs: the rate slots are the rule numbers
	rules[1].value = 0x7FE;
	rules[2].value = 0x7FD;
	rules[3].value = 0x120;
	rules.push_back(rules[3]);
	rules[4].value = 0x121;
	rules[4].rule = 4;
	fx.replace(rules);
	for (int i = 0; i < 3; i++)
		CHECK(fx.run(true, 0x120, true, kSeg1) == TC_ACT_OK);
	CHECK(fx.run(true, 0x120, true, kSeg1) == TC_ACT_SHOT);
	CHECK(fx.run(true, 0x120, true, kSeg1) == TC_ACT_SHOT);
	CHECK(fx.rule_count(3, SPSEC_GW_CNT_FWD) == 3);
	CHECK(fx.rule_count(3, SPSEC_GW_CNT_RATE) == 2);
	CHECK(fx.reason(SPSEC_R_GW_RATE_LIMITED) == 2);
	// each rule has its own budget
	CHECK(fx.run(true, 0x121, true, kSeg1) == TC_ACT_OK);
	CHECK(fx.rule_count(4, SPSEC_GW_CNT_FWD) == 1);
	// a schedule far ahead (what spsecd's zeroing undoes): the rule passes nothing
	fx.set_tat(4, ~0ull >> 1);
	CHECK(fx.run(true, 0x121, true, kSeg1) == TC_ACT_SHOT);
	CHECK(fx.rule_count(4, SPSEC_GW_CNT_RATE) == 1);
	// a zeroed entry starts a fresh burst
	fx.set_tat(3, 0);
	CHECK(fx.run(true, 0x120, true, kSeg1) == TC_ACT_OK);
	CHECK(fx.rule_count(3, SPSEC_GW_CNT_FWD) == 4);
	// the limit applies the same on a segment's egress; rules whose limit is unchanged keep
	// their state across a replacement, a new rule starts with a full burst
	rules.push_back(rules[3]);
	rules[5].value = 0x200;
	rules[5].rule = 5;
	rules[5].dir = SPSEC_GW_TO_PLAIN;
	fx.replace(rules);
	CHECK(fx.run(true, 0x121, true, kSeg1) == TC_ACT_SHOT);  // still exhausted
	for (int i = 0; i < 3; i++)
		CHECK(fx.run(false, 0x200, true, kSeg1) == TC_ACT_OK);
	CHECK(fx.run(false, 0x200, true, kSeg1) == TC_ACT_SHOT);
	CHECK(fx.reason(SPSEC_R_GW_OUT_RATE_LIMITED) == 1);
	// classical frames (spsecd's relay forwards them) take from the same budget: none of an
	// exhausted rule is left to the relay ...
	CHECK(fx.run(true, 0x121, false, kSeg1) == TC_ACT_SHOT);
	CHECK(fx.rule_count(4, SPSEC_GW_CNT_RATE) == 3);
	CHECK(fx.rule_count(4, SPSEC_GW_CNT_CLASSIC) == 0);
	// ... and a fresh burst passes exactly `burst` of them
	fx.set_tat(4, 0);
	for (int i = 0; i < 3; i++)
		CHECK(fx.run(true, 0x121, false, kSeg1) == TC_ACT_OK);
	CHECK(fx.run(true, 0x121, false, kSeg1) == TC_ACT_SHOT);
	CHECK(fx.rule_count(4, SPSEC_GW_CNT_CLASSIC) == 3);
	CHECK(fx.rule_count(4, SPSEC_GW_CNT_RATE) == 4);
	CHECK(fx.reason(SPSEC_R_GW_CLASSIC) == 3);
}

TEST_CASE("a gateway plan: rules in config order, can-gw jobs per rule, none for classic",
          "[gateway]")
{
	const GatewayConfig g = parsed();
	const IfindexOf ifindex_of = [](const std::string& n) -> Result<int> {
		if (n == "can0")
			return 2;
		if (n == "can1")
			return static_cast<int>(kSeg1);
		if (n == "can2")
			return static_cast<int>(kSeg2);
		return fail_errno(ENODEV, "no interface " + n);
	};
	auto p = plan_gateway(g, "can0", ifindex_of);
	REQUIRE(p);
	REQUIRE(p->rules.size() == 5);
	CHECK(p->rules[2].flags == SPSEC_GW_F_CLASSIC);  // can2 is classical
	CHECK(p->segments == std::vector<int>{kSeg1, kSeg2});
	// rule 0 (0x120-0x123 to_secured, can1): one block; rule 1 (0x200/0x7FE to_plain, can1);
	// rules 2-4 are on the classical segment: spsecd's, no can-gw job
	REQUIRE(p->jobs.size() == 2);
	CHECK(p->jobs[0].src_ifindex == static_cast<int>(kSeg1));
	CHECK(p->jobs[0].dst_ifindex == 2);
	CHECK(p->jobs[0].filter_id == 0x120u);
	CHECK(p->jobs[1].src_ifindex == 2);
	CHECK(p->jobs[1].dst_ifindex == static_cast<int>(kSeg1));
	CHECK(p->jobs[1].filter_mask == (CAN_EFF_FLAG | CAN_RTR_FLAG | 0x7FEu));

	auto missing = plan_gateway(g, "can0", [](const std::string& n) -> Result<int> {
		if (n == "can0")
			return 2;
		return fail_errno(ENODEV, "no interface " + n);
	});
	REQUIRE_FALSE(missing);
	CHECK_THAT(missing.error().message(), Catch::Contains("gateway segment can1"));

	// what exists: rule 0's job, a stale job s -> can1, a job between two other interfaces,
	// a classical job between s and can1 (never one of ours: all are CAN FD)
	std::vector<CanGwJobStats> existing(4);
	existing[0].job = p->jobs[0];
	existing[0].fd = true;
	existing[1].job = {2, static_cast<int>(kSeg1), 0x300, 0xC00007FF};
	existing[1].fd = true;
	existing[2].job = {7, 8, 0x120, 0xC00007FC};
	existing[2].fd = true;
	existing[3].job = p->jobs[1];
	existing[3].fd = false;
	const JobChanges c = job_changes(existing, *p, 2);
	REQUIRE(c.remove.size() == 2);  // the stale one and the classical look-alike
	CHECK(c.remove[0].filter_id == 0x300u);
	CHECK(c.remove[1].filter_id == 0x200u);
	REQUIRE(c.add.size() == 1);  // rule 1's, as a CAN FD job
	CHECK(c.add[0].filter_id == 0x200u);

	// no gateway any more: every job between s and the old segments goes, others stay
	const JobChanges off = job_changes(existing, GatewayPlan{}, 2, {static_cast<int>(kSeg1)});
	CHECK(off.add.empty());
	CHECK(off.remove.size() == 3);
}

TEST_CASE("a rolled-back reload's jobs: back to what was there, others untouched", "[gateway]")
{
	// secured 2, segments 5 (the running configuration's) and 6 (the failed reload's)
	std::vector<CanGwJobStats> before(3), now(4);
	before[0].job = {5, 2, 0x120, 0xC00007FC};  // the running configuration's
	before[1].job = {2, 5, 0x200, 0xC00007FF};
	before[2].job = {7, 8, 0x300, 0xC00007FF};  // an administrator's, elsewhere
	for (auto& b : before)
		b.fd = true;
	now[0] = before[0];                      // kept by the reload
	now[1].job = {6, 2, 0x130, 0xC00007FF};  // added by the reload
	now[2].job = {7, 8, 0x301, 0xC00007FF};  // elsewhere: not ours to touch
	now[3].job = {2, 6, 0x200, 0xC00007FF};  // added by the reload
	for (auto& n : now)
		n.fd = true;
	const JobChanges c = job_restore(before, now, 2, {5, 6});
	REQUIRE(c.remove.size() == 2);
	CHECK(c.remove[0].src_ifindex == 6);
	CHECK(c.remove[1].dst_ifindex == 6);
	REQUIRE(c.add.size() == 1);  // the one the reload deleted
	CHECK(c.add[0].filter_id == 0x200u);
	CHECK(c.add[0].dst_ifindex == 5);
	// nothing changed: nothing to do
	const JobChanges none = job_restore(before, before, 2, {5, 6});
	CHECK(none.remove.empty());
	CHECK(none.add.empty());
}

TEST_CASE("a rule's IDs as spsecctl shows them: the configuration's notation", "[gateway]")
{
	const GatewayConfig g = parsed();
	const char* const want[] = {"0x120-0x123", "0x200/0x7FE", "0x00001234", "0x201",
	                            "0x00001235"};
	for (std::size_t i = 0; i < g.rules.size(); i++) {
		INFO(i);
		const auto b = to_bpf_rule(g.rules[i], static_cast<std::uint32_t>(i), kSeg1, false);
		CHECK(gateway_rule_ids(b) == want[i]);
		CHECK(gateway_rule_ids(b) == g.rules[i].ids.text);
	}
	GatewayRuleView v;
	v.rule = to_bpf_rule(g.rules[0], 0, 999, false);  // no such interface: shown by index
	v.counters = {33, 2, 1, 0};
	v.relay = {1, 0, 0};  // a to_secured rule: the relay carries its classical frames
	CHECK(format_gateway_text({v}) ==
	      "gateway rule 0: to_secured 0x120-0x123 from ifindex 999: "
	      "forwarded 33, over rate 2, classical 1; relay: relayed 1, too long 0, refused 0\n");
	GatewayRuleView u = v;  // a CAN FD segment's to_secured rule, no classical frame yet
	u.counters = {4, 0, 0, 0};
	u.relay = {};
	CHECK(format_gateway_text({u}) ==
	      "gateway rule 0: to_secured 0x120-0x123 from ifindex 999: "
	      "forwarded 4, over rate 0, classical 0\n");
	GatewayRuleView w;
	w.rule = to_bpf_rule(g.rules[1], 1, 999, false);  // to_plain, CAN FD segment: can-gw's
	w.counters = {25, 0, 0, 0};
	CHECK(format_gateway_text({w}) == "gateway rule 1: to_plain 0x200/0x7FE to ifindex 999: "
	                                  "forwarded 25, over rate 0, classical 0\n");
	GatewayRuleView x;
	x.rule = to_bpf_rule(g.rules[3], 3, 999, true);  // to_plain, classical segment
	x.counters = {7, 1, 0, 0};
	x.relay = {8, 4, 3};
	CHECK(format_gateway_text({x}) ==
	      "gateway rule 3: to_plain 0x201 to ifindex 999 (classic): "
	      "forwarded 7, over rate 1, classical 0; relay: relayed 8, too long 4, refused 3\n");
	CHECK(json_line(format_gateway_json({v, w, x})) ==
	      "[{\"rule\":0,\"direction\":\"to_secured\",\"ids\":\"0x120-0x123\","
	      "\"segment_ifindex\":999,\"forwarded\":33,\"over_rate\":2,\"classical\":1,"
	      "\"relayed\":1,\"too_long\":0,\"refused\":0},"
	      "{\"rule\":1,\"direction\":\"to_plain\",\"ids\":\"0x200/0x7FE\","
	      "\"segment_ifindex\":999,\"forwarded\":25,\"over_rate\":0,\"classical\":0},"
	      "{\"rule\":3,\"direction\":\"to_plain\",\"ids\":\"0x201\","
	      "\"segment_ifindex\":999,\"forwarded\":7,\"over_rate\":1,\"classical\":0,"
	      "\"relayed\":8,\"too_long\":4,\"refused\":3}]");
	const std::string r0 =
	        "spsec_gateway_frames_total{interface=\"can0\",rule=\"0\",direction=\"to_secured\","
	        "ids=\"0x120-0x123\",segment=\"ifindex 999\",kind=";
	const std::string r1 =
	        "spsec_gateway_frames_total{interface=\"can0\",rule=\"1\",direction=\"to_plain\","
	        "ids=\"0x200/0x7FE\",segment=\"ifindex 999\",kind=";
	const std::string r3 =
	        "spsec_gateway_frames_total{interface=\"can0\",rule=\"3\",direction=\"to_plain\","
	        "ids=\"0x201\",segment=\"ifindex 999\",kind=";
	CHECK(format_prometheus_gateway({v, w, x}, "can0") ==
	      "# HELP spsec_gateway_frames_total CAN frames per gateway rule: forwarded, dropped "
	      "over the rule's rate, classical (left to spsecd); spsecd's relay: relayed, too long "
	      "for a classical segment, refused.\n"
	      "# TYPE spsec_gateway_frames_total counter\n" +
	              r0 + "\"forwarded\"} 33\n" + r0 + "\"over_rate\"} 2\n" + r0 +
	              "\"classical\"} 1\n" + r0 + "\"relayed\"} 1\n" + r0 + "\"too_long\"} 0\n" +
	              r0 + "\"refused\"} 0\n" + r1 + "\"forwarded\"} 25\n" + r1 +
	              "\"over_rate\"} 0\n" + r1 + "\"classical\"} 0\n" + r3 + "\"forwarded\"} 7\n" +
	              r3 + "\"over_rate\"} 1\n" + r3 + "\"classical\"} 0\n" + r3 +
	              "\"relayed\"} 8\n" + r3 + "\"too_long\"} 4\n" + r3 + "\"refused\"} 3\n");
	CHECK(format_prometheus_gateway({}, "can0").empty());  // no gateway: no metric family
}
