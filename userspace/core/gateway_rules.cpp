// SPDX-License-Identifier: Apache-2.0
#include "core/gateway_rules.h"

#include <algorithm>
#include <map>
#include <set>

#include <yaml-cpp/yaml.h>

#include "core/config.h"

namespace spsec {

namespace {

constexpr std::uint32_t kEff = 0x80000000u;  // CAN_EFF_FLAG
constexpr std::uint32_t kRtr = 0x40000000u;  // CAN_RTR_FLAG
constexpr std::uint32_t kSffBits = 0x7FFu;
constexpr std::uint32_t kEffBits = 0x1FFFFFFFu;
constexpr std::uint32_t kCtrlBit = SPSEC_CTRL_BIT;
constexpr std::uint32_t kMaxRate = 1000000;
constexpr std::uint32_t kMaxBurst = 10000;
constexpr std::size_t kMaxIfnameLen = 15;

std::string quote(std::string_view v)
{
	return "\"" + std::string(v) + "\"";
}

int line_of(const YAML::Node& n)
{
	return n.IsDefined() ? n.Mark().line + 1 : 0;
}

class GatewayParser {
public:
	GatewayParser(std::string_view source, const GatewayPolicy& policy,
	              std::vector<std::string>& errors)
	    : source_(source), policy_(policy), errors_(errors)
	{
	}

	GatewayConfig run(const YAML::Node& n);

private:
	void error_at(int line, const std::string& path, const std::string& why)
	{
		std::string msg = source_;
		if (line > 0)
			msg += ":" + std::to_string(line);
		errors_.push_back(msg + ": " + path + ": " + why);
	}
	void error(const YAML::Node& n, const std::string& path, const std::string& why)
	{
		error_at(line_of(n), path, why);
	}
	std::optional<std::string> scalar(const YAML::Node& n, const std::string& path);
	// Checks the keys of a map against `known`; returns false when it is not a map.
	bool keys(const YAML::Node& n, const std::string& path,
	          std::initializer_list<std::string_view> known);
	std::optional<std::uint32_t> number(const YAML::Node& n, const std::string& path,
	                                    std::uint32_t lo, std::uint32_t hi);
	void segments(const YAML::Node& n, GatewayConfig& g);
	void rules(const YAML::Node& n, GatewayConfig& g);
	std::optional<GatewayRule> rule(const YAML::Node& n, const std::string& path,
	                                const GatewayConfig& g);
	void check_ids(const GatewayRule& r, const std::string& path);
	void check_pairs(const GatewayConfig& g, const std::vector<bool>& ids_ok);

	std::string source_;
	const GatewayPolicy& policy_;
	std::vector<std::string>& errors_;
};

std::optional<std::string> GatewayParser::scalar(const YAML::Node& n, const std::string& path)
{
	if (!n.IsDefined() || n.IsNull()) {
		error(n, path, "has no value");
		return std::nullopt;
	}
	if (!n.IsScalar()) {
		error(n, path,
		      std::string("must be a single value, not a ") +
		              (n.IsSequence() ? "list" : "map"));
		return std::nullopt;
	}
	return n.Scalar();
}

bool GatewayParser::keys(const YAML::Node& n, const std::string& path,
                         std::initializer_list<std::string_view> known)
{
	if (!n.IsMap()) {
		std::string names;
		for (auto k : known)
			names += (names.empty() ? "" : ", ") + std::string(k);
		error(n, path, "must be a map with keys " + names);
		return false;
	}
	const std::vector<std::string_view> kv(known);
	std::set<std::string> here;
	for (auto it = n.begin(); it != n.end(); ++it) {
		const YAML::Node key = it->first;
		if (!key.IsScalar()) {
			error(key, path, "keys must be plain names");
			continue;
		}
		const std::string& name = key.Scalar();
		if (!here.insert(name).second) {
			error(key, path + "." + name, "appears twice");
			continue;
		}
		if (std::find(kv.begin(), kv.end(), name) == kv.end()) {
			std::string why = "unknown key";
			const auto guess = closest_match(name, kv);
			if (!guess.empty())
				why += ", did you mean \"" + path + "." + std::string(guess) +
				       "\"?";
			error(key, path + "." + name, why);
		}
	}
	return true;
}

std::optional<std::uint32_t> GatewayParser::number(const YAML::Node& n, const std::string& path,
                                                   std::uint32_t lo, std::uint32_t hi)
{
	const auto s = scalar(n, path);
	if (!s)
		return std::nullopt;
	std::uint64_t v = 0;
	bool digits = !s->empty() && s->size() <= 10;
	for (char c : *s) {
		if (c < '0' || c > '9') {
			digits = false;
			break;
		}
		v = v * 10 + static_cast<std::uint64_t>(c - '0');
	}
	if (!digits || v < lo || v > hi) {
		error(n, path,
		      quote(*s) + " is not " + (digits ? "in range" : "a decimal integer") + " (" +
		              std::to_string(lo) + ".." + std::to_string(hi) + ")");
		return std::nullopt;
	}
	return static_cast<std::uint32_t>(v);
}

GatewayConfig GatewayParser::run(const YAML::Node& n)
{
	GatewayConfig g;
	if (!keys(n, "gateway", {"segments", "rules"}))
		return g;
	if (!n["segments"].IsDefined())
		error(n, "gateway.segments", "is required (the plain interfaces of the gateway)");
	else
		segments(n["segments"], g);
	if (!n["rules"].IsDefined())
		error(n, "gateway.rules", "is required (who may say what, per direction)");
	else
		rules(n["rules"], g);
	return g;
}

void GatewayParser::segments(const YAML::Node& n, GatewayConfig& g)
{
	const std::string path = "gateway.segments";
	if (!n.IsSequence() || n.size() == 0) {
		error(n, path, "must be a list of segments, e.g. [{name: can1, frames: fd}]");
		return;
	}
	if (n.size() > SPSEC_GW_SEG_MAX) {
		error(n, path,
		      "lists " + std::to_string(n.size()) + " segments, at most " +
		              std::to_string(SPSEC_GW_SEG_MAX) + " are supported");
		return;
	}
	std::map<std::string, int> seen;
	for (std::size_t i = 0; i < n.size(); i++) {
		const YAML::Node s = n[i];
		const std::string p = path + "[" + std::to_string(i) + "]";
		if (!keys(s, p, {"name", "frames"}))
			continue;
		GatewaySegment seg;
		seg.line = line_of(s);
		if (!s["name"].IsDefined()) {
			error(s, p + ".name", "is required (the plain interface)");
			continue;
		}
		const auto name = scalar(s["name"], p + ".name");
		if (!name)
			continue;
		if (name->empty() || name->size() > kMaxIfnameLen ||
		    name->find_first_of("/ \t\n:") != std::string::npos || *name == "." ||
		    *name == "..") {
			error(s["name"], p + ".name",
			      quote(*name) +
			              " is not an interface name (1..15 characters, no '/', ':' or "
			              "spaces)");
			continue;
		}
		if (*name == policy_.interface) {
			error(s["name"], p + ".name",
			      quote(*name) + " is the secured interface, not a plain segment");
			continue;
		}
		if (const auto [it, fresh] = seen.emplace(*name, seg.line); !fresh) {
			error(s["name"], p + ".name",
			      quote(*name) + " is listed twice (first on line " +
			              std::to_string(it->second) + ")");
			continue;
		}
		seg.name = *name;
		if (s["frames"].IsDefined()) {
			const auto f = scalar(s["frames"], p + ".frames");
			if (!f)
				continue;
			if (*f == "classic")
				seg.classic = true;
			else if (*f != "fd") {
				error(s["frames"], p + ".frames",
				      quote(*f) + " is not fd or classic");
				continue;
			}
		}
		g.segments.push_back(seg);
	}
}

std::optional<GatewayRule> GatewayParser::rule(const YAML::Node& n, const std::string& p,
                                               const GatewayConfig& g)
{
	if (!keys(n, p, {"ids", "direction", "segment", "rate", "burst"}))
		return std::nullopt;
	GatewayRule r;
	r.line = line_of(n);
	bool ok = true;
	for (const char* k : {"ids", "direction", "segment"})
		if (!n[k].IsDefined()) {
			error(n, p + "." + k, "is required");
			ok = false;
		}
	if (!ok)
		return std::nullopt;
	if (const auto s = scalar(n["ids"], p + ".ids")) {
		auto m = parse_id_match(*s);
		if (!m) {
			error(n["ids"], p + ".ids", m.error().context);
			ok = false;
		} else {
			r.ids = *m;
		}
	} else {
		ok = false;
	}
	if (const auto s = scalar(n["direction"], p + ".direction")) {
		if (*s == "to_secured")
			r.direction = GatewayDirection::ToSecured;
		else if (*s == "to_plain")
			r.direction = GatewayDirection::ToPlain;
		else {
			error(n["direction"], p + ".direction",
			      quote(*s) + " is not to_secured or to_plain");
			ok = false;
		}
	} else {
		ok = false;
	}
	if (const auto s = scalar(n["segment"], p + ".segment")) {
		const auto it = std::find_if(g.segments.begin(), g.segments.end(),
		                             [&](const GatewaySegment& x) { return x.name == *s; });
		if (it == g.segments.end()) {
			std::vector<std::string_view> names;
			for (const auto& x : g.segments)
				names.push_back(x.name);
			std::string why = quote(*s) + " is not in gateway.segments";
			const auto guess = closest_match(*s, names);
			if (!guess.empty())
				why += ", did you mean \"" + std::string(guess) + "\"?";
			error(n["segment"], p + ".segment", why);
			ok = false;
		} else {
			r.segment = *s;
		}
	} else {
		ok = false;
	}
	if (n["rate"].IsDefined()) {
		if (const auto v = number(n["rate"], p + ".rate", 1, kMaxRate)) {
			r.rate = *v;
			r.burst = 1;
		} else {
			ok = false;
		}
	}
	if (n["burst"].IsDefined()) {
		if (!n["rate"].IsDefined()) {
			error(n["burst"], p + ".burst", "needs a rate");
			ok = false;
		} else if (const auto v = number(n["burst"], p + ".burst", 1, kMaxBurst)) {
			r.burst = *v;
		} else {
			ok = false;
		}
	}
	if (!ok)
		return std::nullopt;
	return r;
}

// Whether every ID the rule covers may cross in its direction.
void GatewayParser::check_ids(const GatewayRule& r, const std::string& path)
{
	const bool to_secured = r.direction == GatewayDirection::ToSecured;
	std::vector<CanId> allowed;
	for (const auto& id : policy_.secured_ids) {
		const bool own = std::binary_search(policy_.transmit_ids.begin(),
		                                    policy_.transmit_ids.end(), id);
		if (own == to_secured)
			allowed.push_back(id);
	}
	CanId bad;
	if (!r.ids.first_not_in(allowed, bad))
		return;
	std::string why = quote(r.ids.text) + " covers " + format_can_id(bad) + ", which ";
	const bool secured =
	        std::binary_search(policy_.secured_ids.begin(), policy_.secured_ids.end(), bad);
	const bool plain =
	        std::binary_search(policy_.plaintext_ids.begin(), policy_.plaintext_ids.end(), bad);
	if (to_secured)
		why += secured ? "is not in transmit_ids: only its owner may put it on the secured "
		                 "bus"
		               : "is not a secured transmit ID of this node (secured_ids and "
		                 "transmit_ids): a forwarded frame is stamped as this node's own";
	else
		why += secured ? "is in transmit_ids: this node's own ID never arrives verified"
		       : plain ? "is a plaintext ID: nothing unverified crosses to a segment"
		               : "is not in secured_ids: nothing unverified crosses to a segment";
	if (r.ids.size() > 1)
		why += " (a rule may cover only IDs its direction allows)";
	error_at(r.line, path + ".ids", why);
}

// Overlaps (one direction and segment) and contradictions (one to_secured ID from two
// segments), over the IDs the rules cover; those passed check_ids, so they are listed IDs.
void GatewayParser::check_pairs(const GatewayConfig& g, const std::vector<bool>& ids_ok)
{
	for (std::size_t i = 0; i < g.rules.size(); i++) {
		for (std::size_t j = i + 1; j < g.rules.size(); j++) {
			const auto& a = g.rules[i];
			const auto& b = g.rules[j];
			if (!ids_ok[i] || !ids_ok[j] || a.direction != b.direction)
				continue;
			const bool same_seg = a.segment == b.segment;
			if (!same_seg && a.direction != GatewayDirection::ToSecured)
				continue;  // one ID to several segments is a broadcast
			for (const auto& id : policy_.secured_ids) {
				if (!a.ids.covers(id) || !b.ids.covers(id))
					continue;
				const std::string path = "gateway.rules[" + std::to_string(j) + "]";
				if (same_seg)
					error_at(b.line, path + ".ids",
					         quote(b.ids.text) + " overlaps the rule on line " +
					                 std::to_string(a.line) + " (" +
					                 quote(a.ids.text) + "), both cover " +
					                 format_can_id(id) +
					                 ": each ID has one rule per direction and "
					                 "segment");
				else
					error_at(b.line, path + ".ids",
					         quote(b.ids.text) + " forwards " +
					                 format_can_id(id) +
					                 " to the secured bus from segment " +
					                 quote(b.segment) + ", the rule on line " +
					                 std::to_string(a.line) + " from " +
					                 quote(a.segment) +
					                 ": one transmit ID cannot have two "
					                 "sources");
				break;
			}
		}
	}
}

void GatewayParser::rules(const YAML::Node& n, GatewayConfig& g)
{
	const std::string path = "gateway.rules";
	if (!n.IsSequence() || n.size() == 0) {
		error(n, path,
		      "must be a list of rules, e.g. [{ids: 0x120, direction: to_secured, "
		      "segment: can1}]");
		return;
	}
	if (n.size() > SPSEC_GW_RULES_MAX) {
		error(n, path,
		      "lists " + std::to_string(n.size()) + " rules, at most " +
		              std::to_string(SPSEC_GW_RULES_MAX) + " are supported");
		return;
	}
	std::vector<bool> ids_ok;
	for (std::size_t i = 0; i < n.size(); i++) {
		const std::string p = path + "[" + std::to_string(i) + "]";
		auto r = rule(n[i], p, g);
		if (!r) {
			// keep the numbering: rule i is counter slot i
			g.rules.push_back(GatewayRule{});
			ids_ok.push_back(false);
			continue;
		}
		const std::size_t before = errors_.size();
		check_ids(*r, p);
		ids_ok.push_back(errors_.size() == before);
		g.rules.push_back(std::move(*r));
	}
	check_pairs(g, ids_ok);
	if (std::find(ids_ok.begin(), ids_ok.end(), false) != ids_ok.end())
		return;  // a rule that failed may be the one naming a segment
	for (const auto& s : g.segments)
		if (std::none_of(g.rules.begin(), g.rules.end(),
		                 [&](const GatewayRule& r) { return r.segment == s.name; }))
			error_at(s.line, "gateway.segments",
			         quote(s.name) + " is named by no rule (nothing would cross)");
}

}  // namespace

bool IdMatch::covers(const CanId& id) const noexcept
{
	return covers(id.kernel_id());
}

std::uint64_t IdMatch::size() const noexcept
{
	const std::uint32_t bits = extended ? kEffBits : kSffBits;
	const std::uint32_t free_bits = bits & ~mask;
	std::uint64_t n = 1;
	for (std::uint32_t b = free_bits; b; b &= b - 1)
		n *= 2;
	// a range leaves every ID bit free and narrows by lo..hi; a mask keeps lo..hi open
	const std::uint64_t span =
	        static_cast<std::uint64_t>(std::min(hi, value | bits)) - std::max(lo, value) + 1;
	return std::min(n, span);
}

bool IdMatch::first_not_in(std::span<const CanId> allowed, CanId& out) const
{
	// The covered IDs are value | f for the subsets f of the free bits, in increasing order of
	// f (value has no free bit); a range frees every ID bit and starts at lo. Each listed ID
	// is skipped, so at most allowed.size() + 1 covered IDs are looked at.
	const std::uint32_t bits = extended ? kEffBits : kSffBits;
	const std::uint32_t free_bits = bits & ~mask;
	std::uint64_t f = free_bits == bits ? (lo & bits) : 0;
	for (std::size_t steps = 0; steps <= allowed.size() + 1; steps++) {
		const std::uint64_t k = value | f;
		if (k > hi || f > free_bits)
			return false;
		if (k >= lo) {
			const CanId id{static_cast<std::uint32_t>(k) & bits, extended};
			if (!std::binary_search(allowed.begin(), allowed.end(), id)) {
				out = id;
				return true;
			}
		}
		if (f == free_bits)
			return false;
		f = ((f | ~static_cast<std::uint64_t>(free_bits)) + 1) & free_bits;
	}
	return false;
}

Result<IdMatch> parse_id_match(std::string_view text)
{
	IdMatch m;
	m.text = std::string(text);
	const auto dash = text.find('-');
	const auto slash = text.find('/');
	if (dash != std::string_view::npos && slash != std::string_view::npos)
		return fail(quote(text) + " is not an ID, LO-HI or ID/MASK");
	const std::string_view first = text.substr(0, std::min(dash, slash));
	auto a = parse_can_id(first);
	if (!a)
		return fail(a.error().context);
	m.extended = a->extended;
	const std::uint32_t bits = m.extended ? kEffBits : kSffBits;
	const std::uint32_t eff = m.extended ? kEff : 0;
	if (dash != std::string_view::npos) {
		auto b = parse_can_id(text.substr(dash + 1));
		if (!b)
			return fail(b.error().context);
		if (b->extended != a->extended)
			return fail(quote(text) +
			            ": both ends of a range must be 11-bit or both 29-bit");
		if (b->id < a->id)
			return fail(quote(text) + ": the range ends below its start");
		m.mask = kEff;
		m.value = eff;
		m.lo = a->kernel_id();
		m.hi = b->kernel_id();
	} else if (slash != std::string_view::npos) {
		auto b = parse_can_id(text.substr(slash + 1));
		if (!b)
			return fail(b.error().context);
		if (b->extended != a->extended)
			return fail(quote(text) + ": ID and mask must be in one format");
		if (a->id & ~b->id)
			return fail(quote(text) + ": the ID has bits outside the mask");
		m.mask = kEff | (b->id & bits);
		m.value = a->kernel_id();
	} else {
		m.mask = kEff | bits;
		m.value = a->kernel_id();
	}
	// The control plane's IDs (29-bit, bit 25) are spsecd's own traffic and never forwarded.
	if (m.extended) {
		const bool mask_fixes_ctrl = (m.mask & kCtrlBit) != 0;
		bool ctrl = mask_fixes_ctrl ? (m.value & kCtrlBit) != 0 : true;
		if (ctrl) {
			// the smallest covered value with bit 25 set must be within lo..hi
			std::uint64_t c = std::max(m.lo, m.value);
			if (!(c & kCtrlBit))
				c = (c & ~static_cast<std::uint64_t>(2 * kCtrlBit - 1)) | kCtrlBit;
			ctrl = c <= m.hi;
		}
		if (ctrl)
			return fail(quote(text) +
			            " covers 29-bit IDs with bit 25 set: they belong to the SPsec "
			            "control plane and never cross a gateway");
	}
	return m;
}

spsec_gw_rule to_bpf_rule(const GatewayRule& r, std::uint32_t number, std::uint32_t seg_ifindex,
                          bool classic_segment)
{
	spsec_gw_rule b{};
	b.value = r.ids.value;
	b.mask = r.ids.mask;
	b.lo = r.ids.lo;
	b.hi = r.ids.hi;
	b.dir = static_cast<std::uint32_t>(r.direction);
	b.seg_ifindex = seg_ifindex;
	b.rule = number;
	b.flags = classic_segment ? SPSEC_GW_F_CLASSIC : 0;
	if (r.rate) {
		b.interval_ns = 1000000000ull / r.rate;
		b.burst_ns = static_cast<std::uint64_t>(r.burst - 1) * b.interval_ns;
	}
	return b;
}

std::vector<CanGwFilter> cangw_filters(const IdMatch& m)
{
	const std::uint32_t bits = m.extended ? kEffBits : kSffBits;
	const std::uint32_t eff = m.extended ? kEff : 0;
	// RTR frames must not match: the flag is in every mask, clear in id. (CAN_ERR_FLAG in a
	// mask would make the CAN core file the filter as one for error frames; they never reach
	// data-frame receivers anyway.)
	const std::uint32_t flags = kEff | kRtr;
	std::vector<CanGwFilter> out;
	if (m.lo == 0 && m.hi == 0xFFFFFFFFu) {
		out.push_back({m.value, (m.mask & bits) | flags});
		return out;
	}
	// a range: the aligned blocks [x, x + 2^k) inside lo..hi, greedily from lo
	std::uint64_t x = m.lo & bits;
	const std::uint64_t end = static_cast<std::uint64_t>(m.hi & bits) + 1;
	while (x < end) {
		std::uint64_t size = 1;
		while ((x & (size * 2 - 1)) == 0 && x + size * 2 <= end)
			size *= 2;
		out.push_back({static_cast<std::uint32_t>(x) | eff,
		               (bits & ~static_cast<std::uint32_t>(size - 1)) | flags});
		x += size;
	}
	return out;
}

GatewayConfig parse_gateway(const YAML::Node& n, std::string_view source,
                            const GatewayPolicy& policy, std::vector<std::string>& errors)
{
	return GatewayParser(source, policy, errors).run(n);
}

}  // namespace spsec
