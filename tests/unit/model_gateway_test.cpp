// SPDX-License-Identifier: Apache-2.0
// The gateway section of the configuration (core/gateway_rules.h): a valid section parses to
// the rules, their data-plane form and their can-gw filters; every refusal names file, line,
// key and reason, and a refused file yields no configuration.
#include <catch2/catch.hpp>

#include <string>

#include "core/config.h"
#include "core/gateway_rules.h"

using namespace spsec;

namespace {

// Lines 1-8: the node; the gateway section starts on line 9.
const std::string kNode = "interface: can0\n"
                          "participant_id: 5\n"
                          "aead: aes-gcm\n"
                          "data_bitrate: 2000000\n"
                          "key_store: /var/lib/spsec/keys\n"
                          "secured_ids: [0x120, 0x121, 0x122, 0x123, 0x200, 0x201, 0x00001234]\n"
                          "plaintext_ids: [0x300]\n"
                          "transmit_ids: [0x120, 0x121, 0x122, 0x123, 0x00001234, 0x300]\n";

// Lines 9-17.
const std::string kGateway =
        "gateway:\n"
        "  segments:\n"
        "    - {name: can1}\n"
        "    - {name: can2, frames: classic}\n"
        "  rules:\n"
        "    - {ids: 0x120-0x123, direction: to_secured, segment: can1}\n"
        "    - {ids: 0x200/0x7FE, direction: to_plain, segment: can1, rate: 100, burst: 5}\n"
        "    - {ids: 0x00001234, direction: to_secured, segment: can2}\n"
        "    - {ids: 0x201, direction: to_plain, segment: can2}\n";

std::string error_of(const std::string& yaml)
{
	auto c = parse_config(yaml, "gw.yaml");
	REQUIRE_FALSE(c);
	return c.error().context;
}

CanId id(std::uint32_t v, bool ext = false)
{
	return CanId{v, ext};
}

}  // namespace

TEST_CASE("a gateway section parses to its segments and rules", "[config][gateway]")
{
	auto c = parse_config(kNode + kGateway, "gw.yaml");
	REQUIRE(c);
	const auto& g = c->gateway;
	REQUIRE(g.segments.size() == 2);
	CHECK(g.segments[0].name == "can1");
	CHECK_FALSE(g.segments[0].classic);
	CHECK(g.segments[1].classic);
	REQUIRE(g.rules.size() == 4);
	CHECK(g.rules[0].line == 14);
	CHECK(g.rules[0].direction == GatewayDirection::ToSecured);
	CHECK(g.rules[0].ids.size() == 4);
	CHECK(g.rules[1].direction == GatewayDirection::ToPlain);
	CHECK(g.rules[1].rate == 100);
	CHECK(g.rules[1].burst == 5);
	CHECK(g.rules[1].ids.covers(id(0x200)));
	CHECK(g.rules[1].ids.covers(id(0x201)));
	CHECK_FALSE(g.rules[1].ids.covers(id(0x202)));
	CHECK_FALSE(g.rules[1].ids.covers(id(0x200, true)));  // a format never matches the other
	CHECK(g.rules[2].ids.covers(id(0x1234, true)));
	CHECK_FALSE(g.rules[2].ids.covers(id(0x1234)));
	CHECK(g.rules[3].rate == 0);

	// without a gateway section the node is no gateway
	auto plain = parse_config(kNode, "gw.yaml");
	REQUIRE(plain);
	CHECK(plain->gateway.segments.empty());
	CHECK(plain->gateway.rules.empty());
}

TEST_CASE("ID, range and mask notation of rules", "[config][gateway]")
{
	auto one = parse_id_match("0x120");
	REQUIRE(one);
	CHECK(one->size() == 1);
	CHECK(one->covers(0x120u));
	CHECK_FALSE(one->covers(0x121u));
	auto range = parse_id_match("0x00001000-0x00001FFF");
	REQUIRE(range);
	CHECK(range->extended);
	CHECK(range->size() == 0x1000);
	CHECK(range->covers(0x80001ABCu));
	CHECK_FALSE(range->covers(0x1ABCu));
	auto mask = parse_id_match("0x100/0x700");
	REQUIRE(mask);
	CHECK(mask->size() == 256);
	CHECK(mask->covers(0x1FFu));
	CHECK_FALSE(mask->covers(0x200u));

	struct Row {
		const char* text;
		const char* expected;
	};
	const Row bad[] = {
	        {"0x12", ""},  // accepted: one to three digits are an 11-bit ID
	        {"0x1234", "\"0x1234\""},
	        {"0x123-0x120", "the range ends below its start"},
	        {"0x120-0x00000123", "both ends of a range must be 11-bit or both 29-bit"},
	        {"0x121/0x7F0", "the ID has bits outside the mask"},
	        {"0x120/0x00000FF0", "ID and mask must be in one format"},
	        {"0x120-0x121/0x7FF", "is not an ID, LO-HI or ID/MASK"},
	        {"0x02000000", "bit 25 set"},
	        {"0x01000000-0x03000000", "control plane"},
	        {"0x00000000/0x00000000", "control plane"},
	        {"0x00000000/0x02000000", ""},  // bit 25 fixed to 0: no control-plane ID
	};
	for (const auto& r : bad) {
		INFO(r.text);
		auto m = parse_id_match(r.text);
		if (*r.expected == '\0') {
			CHECK(m);
		} else {
			REQUIRE_FALSE(m);
			CHECK_THAT(m.error().context, Catch::Contains(r.expected));
		}
	}
}

TEST_CASE("every gateway error names file, line, key and reason", "[config][gateway]")
{
	struct Row {
		const char* what;
		std::string gateway;   // replaces kGateway
		const char* expected;  // substring of the error
	};
	const std::string seg = "gateway:\n  segments:\n    - {name: can1}\n  rules:\n";
	const std::string r0 = "    - {ids: 0x120-0x123, direction: to_secured, segment: can1}\n";
	const Row rows[] = {
	        {"not a map", "gateway: on\n",
	         "gw.yaml:9: gateway: must be a map with keys segments, rules"},
	        {"unknown key", kGateway + "  rule: []\n",
	         "gw.yaml:18: gateway.rule: unknown key, did you mean \"gateway.rules\"?"},
	        {"no segments", "gateway:\n  rules: []\n",
	         "gw.yaml:10: gateway.segments: is required"},
	        {"no rules", "gateway:\n  segments:\n    - {name: can1}\n",
	         "gw.yaml:10: gateway.rules: is required"},
	        {"segments not a list", "gateway:\n  segments: can1\n  rules: []\n",
	         "gw.yaml:10: gateway.segments: must be a list of segments"},
	        {"empty rules", seg.substr(0, seg.size() - 1) + " []\n",
	         "gw.yaml:12: gateway.rules: must be a list of rules"},
	        {"too many segments",
	         "gateway:\n  segments: [{name: a}, {name: b}, {name: c}, {name: d}, {name: e}, "
	         "{name: f}, {name: g}, {name: h}, {name: i}]\n  rules: []\n",
	         "gateway.segments: lists 9 segments, at most 8 are supported"},
	        {"segment without name",
	         "gateway:\n  segments:\n    - {frames: fd}\n  rules:\n" + r0,
	         "gw.yaml:11: gateway.segments[0].name: is required"},
	        {"segment name", "gateway:\n  segments:\n    - {name: a/b}\n  rules:\n" + r0,
	         "gw.yaml:11: gateway.segments[0].name: \"a/b\" is not an interface name"},
	        {"secured interface as segment",
	         "gateway:\n  segments:\n    - {name: can0}\n  rules:\n" + r0,
	         "gateway.segments[0].name: \"can0\" is the secured interface"},
	        {"segment twice",
	         "gateway:\n  segments:\n    - {name: can1}\n    - {name: can1}\n  rules:\n" + r0,
	         "gw.yaml:12: gateway.segments[1].name: \"can1\" is listed twice (first on line "
	         "11)"},
	        {"segment frames",
	         "gateway:\n  segments:\n    - {name: can1, frames: xl}\n  rules:\n" + r0,
	         "gateway.segments[0].frames: \"xl\" is not fd or classic"},
	        {"segment key",
	         "gateway:\n  segments:\n    - {name: can1, frame: fd}\n  rules:\n" + r0,
	         "gateway.segments[0].frame: unknown key, did you mean "
	         "\"gateway.segments[0].frames\"?"},
	        {"too many rules",
	         [&] {
		         std::string s = seg;
		         for (int i = 0; i < 65; i++)
			         s += r0;
		         return s;
	         }(),
	         "gateway.rules: lists 65 rules, at most 64 are supported"},
	        {"rule not a map", seg + "    - 0x120\n",
	         "gw.yaml:13: gateway.rules[0]: must be a map with keys ids, direction, segment, "
	         "rate, burst"},
	        {"rule key",
	         seg + "    - {ids: 0x120, direction: to_secured, segment: can1, "
	               "rates: 5}\n",
	         "gateway.rules[0].rates: unknown key, did you mean \"gateway.rules[0].rate\"?"},
	        {"rule without ids", seg + "    - {direction: to_secured, segment: can1}\n",
	         "gw.yaml:13: gateway.rules[0].ids: is required"},
	        {"rule without direction", seg + "    - {ids: 0x120, segment: can1}\n",
	         "gateway.rules[0].direction: is required"},
	        {"rule without segment", seg + "    - {ids: 0x120, direction: to_secured}\n",
	         "gateway.rules[0].segment: is required"},
	        {"bad ids", seg + "    - {ids: 0x1234, direction: to_secured, segment: can1}\n",
	         "gw.yaml:13: gateway.rules[0].ids: \"0x1234\""},
	        {"ids a list", seg + "    - {ids: [0x120], direction: to_secured, segment: can1}\n",
	         "gateway.rules[0].ids: must be a single value, not a list"},
	        {"control-plane ids",
	         seg + "    - {ids: 0x00000000-0x1FFFFFFF, direction: to_secured, segment: can1}\n",
	         "gateway.rules[0].ids: \"0x00000000-0x1FFFFFFF\" covers 29-bit IDs with bit 25 "
	         "set"},
	        {"direction", seg + "    - {ids: 0x120, direction: in, segment: can1}\n",
	         "gateway.rules[0].direction: \"in\" is not to_secured or to_plain"},
	        {"unknown segment",
	         seg + "    - {ids: 0x120, direction: to_secured, segment: can2}\n",
	         "gateway.rules[0].segment: \"can2\" is not in gateway.segments, did you mean "
	         "\"can1\"?"},
	        {"rate 0",
	         seg + "    - {ids: 0x120, direction: to_secured, segment: can1, rate: 0}\n",
	         "gateway.rules[0].rate: \"0\" is not in range (1..1000000)"},
	        {"rate word",
	         seg + "    - {ids: 0x120, direction: to_secured, segment: can1, rate: fast}\n",
	         "gateway.rules[0].rate: \"fast\" is not a decimal integer (1..1000000)"},
	        {"burst without rate",
	         seg + "    - {ids: 0x120, direction: to_secured, segment: can1, burst: 3}\n",
	         "gateway.rules[0].burst: needs a rate"},
	        {"burst 0",
	         seg + "    - {ids: 0x120, direction: to_secured, segment: can1, rate: 9, "
	               "burst: 0}\n",
	         "gateway.rules[0].burst: \"0\" is not in range (1..10000)"},
	        {"to_secured of another node's ID",
	         seg + "    - {ids: 0x200, direction: to_secured, segment: can1}\n",
	         "gw.yaml:13: gateway.rules[0].ids: \"0x200\" covers 0x200, which is not in "
	         "transmit_ids: only its owner may put it on the secured bus"},
	        {"to_secured of a plaintext ID",
	         seg + "    - {ids: 0x300, direction: to_secured, segment: can1}\n",
	         "\"0x300\" covers 0x300, which is not a secured transmit ID of this node"},
	        {"to_secured range too wide",
	         seg + "    - {ids: 0x120-0x124, direction: to_secured, segment: can1}\n",
	         "\"0x120-0x124\" covers 0x124, which is not a secured transmit ID of this node "
	         "(secured_ids and transmit_ids): a forwarded frame is stamped as this node's own "
	         "(a rule may cover only IDs its direction allows)"},
	        {"to_plain of a plaintext ID",
	         seg + "    - {ids: 0x300, direction: to_plain, segment: can1}\n",
	         "\"0x300\" covers 0x300, which is a plaintext ID: nothing unverified crosses"},
	        {"to_plain of an own ID",
	         seg + "    - {ids: 0x120, direction: to_plain, segment: can1}\n",
	         "\"0x120\" covers 0x120, which is in transmit_ids: this node's own ID never "
	         "arrives verified"},
	        {"to_plain of an unlisted ID",
	         seg + "    - {ids: 0x7FF, direction: to_plain, segment: can1}\n",
	         "\"0x7FF\" covers 0x7FF, which is not in secured_ids"},
	        {"to_plain mask too wide",
	         seg + "    - {ids: 0x200/0x7FC, direction: to_plain, segment: can1}\n",
	         "\"0x200/0x7FC\" covers 0x202, which is not in secured_ids"},
	        {"overlap", seg + r0 + "    - {ids: 0x123, direction: to_secured, segment: can1}\n",
	         "gw.yaml:14: gateway.rules[1].ids: \"0x123\" overlaps the rule on line 13 "
	         "(\"0x120-0x123\"), both cover 0x123: each ID has one rule per direction and "
	         "segment"},
	        {"overlap to_plain",
	         seg + "    - {ids: 0x200/0x7FE, direction: to_plain, segment: can1}\n"
	               "    - {ids: 0x201, direction: to_plain, segment: can1}\n",
	         "gw.yaml:14: gateway.rules[1].ids: \"0x201\" overlaps the rule on line 13"},
	        {"two sources",
	         "gateway:\n  segments:\n    - {name: can1}\n    - {name: can2}\n  rules:\n" + r0 +
	                 "    - {ids: 0x121, direction: to_secured, segment: can2}\n",
	         "gw.yaml:15: gateway.rules[1].ids: \"0x121\" forwards 0x121 to the secured bus "
	         "from segment \"can2\", the rule on line 14 from \"can1\": one transmit ID cannot "
	         "have two sources"},
	        {"segment without rule",
	         "gateway:\n  segments:\n    - {name: can1}\n    - {name: can2}\n  rules:\n" + r0,
	         "gw.yaml:12: gateway.segments: \"can2\" is named by no rule"},
	};
	for (const auto& r : rows) {
		INFO(r.what);
		const std::string err = error_of(kNode + r.gateway);
		CHECK_THAT(err, Catch::Contains(r.expected));
	}
}

TEST_CASE("the shipped config/spsecd-gateway.yaml parses", "[config][gateway]")
{
	auto c = load_config(SPSEC_SOURCE_DIR "/config/spsecd-gateway.yaml");
	REQUIRE(c);
	CHECK(c->gateway.segments.size() == 2);
	CHECK(c->gateway.rules.size() == 5);
	CHECK(c->gateway.rules[2].rate == 100);
}

TEST_CASE("to_plain may send one ID to several segments", "[config][gateway]")
{
	auto c = parse_config(
	        kNode + "gateway:\n  segments:\n    - {name: can1}\n    - {name: can2}\n"
	                "  rules:\n"
	                "    - {ids: 0x200, direction: to_plain, segment: can1}\n"
	                "    - {ids: 0x200, direction: to_plain, segment: can2}\n",
	        "gw.yaml");
	REQUIRE(c);
	CHECK(c->gateway.rules.size() == 2);
}

TEST_CASE("the data plane's form of a rule", "[config][gateway]")
{
	auto c = parse_config(kNode + kGateway, "gw.yaml");
	REQUIRE(c);
	const auto b = to_bpf_rule(c->gateway.rules[1], 1, 7, false);
	CHECK(b.dir == SPSEC_GW_TO_PLAIN);
	CHECK(b.seg_ifindex == 7);
	CHECK(b.rule == 1);
	CHECK(b.mask == (0x80000000u | 0x7FEu));
	CHECK(b.value == 0x200u);
	CHECK(b.interval_ns == 10000000u);  // 100 frames/s
	CHECK(b.burst_ns == 40000000u);     // 5 frames back to back: 4 intervals ahead
	CHECK(b.pad0 == 0);
	CHECK(b.pad1 == 0);
	const auto e = to_bpf_rule(c->gateway.rules[2], 2, 3, true);
	CHECK(e.value == (0x80000000u | 0x1234u));
	CHECK(e.interval_ns == 0);
	CHECK(e.flags == SPSEC_GW_F_CLASSIC);
	CHECK(b.flags == 0);
}

TEST_CASE("can-gw filters cover exactly the rule's IDs", "[config][gateway]")
{
	const std::uint32_t kEff = 0x80000000u, kRtr = 0x40000000u;
	auto covered_by = [](const std::vector<CanGwFilter>& fs, std::uint32_t can_id) {
		for (const auto& f : fs)
			if ((can_id & f.mask) == (f.id & f.mask))
				return true;
		return false;
	};
	for (const char* text : {"0x120", "0x120-0x123", "0x101-0x1FE", "0x000-0x7FF",
	                         "0x100/0x700", "0x00001000-0x00001FFF", "0x00000005-0x00000104"}) {
		INFO(text);
		auto m = parse_id_match(text);
		REQUIRE(m);
		const auto fs = cangw_filters(*m);
		CHECK(fs.size() <= 2 * 29);
		const std::uint32_t bits = m->extended ? 0x1FFFFFFFu : 0x7FFu;
		const std::uint32_t eff = m->extended ? kEff : 0;
		// every 11-bit ID, and the 29-bit IDs around the range
		const std::uint32_t top = m->extended ? 0x3000u : 0x800u;
		for (std::uint32_t x = 0; x < top; x++) {
			CHECK(covered_by(fs, x | eff) == m->covers(x | eff));
			CHECK_FALSE(covered_by(fs, x | eff | kRtr));  // never an RTR frame
			CHECK_FALSE(
			        covered_by(fs, (x & bits) | (eff ^ kEff)));  // nor the other format
		}
	}
	const auto r = cangw_filters(*parse_id_match("0x120-0x123"));
	REQUIRE(r.size() == 1);
	CHECK(r[0].id == 0x120u);
	CHECK(r[0].mask == (0x7FCu | kEff | kRtr));
}

TEST_CASE("a sender rule on an ID a gateway forwards onto the secured bus is refused",
          "[config][gateway][senders]")
{
	const std::string node = "interface: can0\n"
	                         "participant_id: 5\n"
	                         "aead: aes-gcm\n"
	                         "data_bitrate: 2000000\n"
	                         "key_store: /var/lib/spsec/keys\n"
	                         "secured_ids: [0x120, 0x121, 0x122, 0x200]\n"
	                         "transmit_ids: [0x120, 0x121, 0x122]\n"
	                         "gateway:\n"
	                         "  segments:\n"
	                         "    - {name: can1}\n"
	                         "  rules:\n"
	                         "    - {ids: 0x121-0x122, direction: to_secured, segment: can1}\n"
	                         "    - {ids: 0x200, direction: to_plain, segment: can1}\n"
	                         "senders:\n";  // rules from line 15
	// an ID only this node's applications send: a sender rule beside the gateway is fine
	auto c = parse_config(node + "  - {ids: 0x120, users: [1000]}\n", "gw.yaml");
	INFO((c ? std::string() : c.error().message()));
	REQUIRE(c);
	CHECK(c->senders.size() == 1);
	CHECK(c->gateway.rules.size() == 2);
	// whatever is on can1 (local processes too) sends 0x121: the rule could not restrict it
	const std::string e = error_of(node + "  - {ids: 0x120-0x12F, users: [1000]}\n");
	CHECK_THAT(e,
	           Catch::Contains("gw.yaml:15: senders: 0x121 is forwarded onto the secured bus "
	                           "from can1 by the gateway rule on line 12: whatever is on can1 "
	                           "may send it, local processes included"));
	CHECK_THAT(e, Catch::Contains("0x122 is forwarded"));
	// a to_plain ID is another node's: sender rules refuse it anyway (not a transmit ID)
	CHECK_THAT(error_of(node + "  - {ids: 0x200, users: [1000]}\n"),
	           Catch::Contains("\"0x200\" is not a secured transmit ID"));
}
