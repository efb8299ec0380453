// SPDX-License-Identifier: Apache-2.0
#include "bpf/gateway_maps.h"

#include <bpf/bpf.h>
#include <cerrno>
#include <net/if.h>
#include <string>
#include <unistd.h>
#include <utility>

#include <linux/can.h>

#include "core/config.h"

#include "bpf/counters.h"
#include "bpf/map_writer.h"

namespace spsec {

namespace {

constexpr std::uint32_t kZero = 0;

Result<void> valid_rule(const spsec_gw_rule& r, std::size_t index)
{
	const std::string which = "gateway rule " + std::to_string(index);
	if (r.rule != index)
		return fail_errno(EINVAL, which + ": its number is " + std::to_string(r.rule));
	if (r.dir != SPSEC_GW_TO_SECURED && r.dir != SPSEC_GW_TO_PLAIN)
		return fail_errno(EINVAL, which + ": unknown direction " + std::to_string(r.dir));
	if (!(r.mask & CAN_EFF_FLAG))
		return fail_errno(EINVAL, which + ": the mask must hold CAN_EFF_FLAG");
	if (r.pad0 || r.pad1 || (r.flags & ~SPSEC_GW_F_CLASSIC))
		return fail_errno(EINVAL, which + ": padding or unknown flags set");
	return {};
}

}  // namespace

Result<GatewayMaps> GatewayMaps::from_object(bpf_object* obj)
{
	GatewayMaps g;
	struct Want {
		const char* name;
		bpf_map** slot;
	};
	const Want want[] = {
	        {SPSEC_MAP_GW_CONF, &g.conf_},
	        {SPSEC_MAP_GW_RULES, &g.rules_},
	        {SPSEC_MAP_GW_COUNT, &g.count_},
	        {SPSEC_MAP_GW_RATE, &g.rate_},
	};
	for (const auto& w : want) {
		*w.slot = bpf_object__find_map_by_name(obj, w.name);
		if (!*w.slot)
			return fail_errno(ENOENT,
			                  std::string("data-plane object has no map ") + w.name);
	}
	return g;
}

Result<std::uint32_t> GatewayMaps::live_word() const
{
	return MapWriter(conf_).get<std::uint32_t>(kZero);
}

Result<std::vector<spsec_gw_rule>> GatewayMaps::live_rules() const
{
	auto live = live_word();
	if (!live)
		return tl::unexpected(live.error());
	const std::uint32_t base = ((*live >> 16) & 1) * SPSEC_GW_RULES_MAX;
	const std::uint32_t n = std::min<std::uint32_t>(*live & 0xffff, SPSEC_GW_RULES_MAX);
	std::vector<spsec_gw_rule> out;
	const MapWriter rules(rules_);
	for (std::uint32_t i = 0; i < n; i++) {
		auto r = rules.get<spsec_gw_rule>(base + i);
		if (!r)
			return tl::unexpected(r.error());
		out.push_back(*r);
	}
	return out;
}

Result<void> GatewayMaps::validate_rules(std::span<const spsec_gw_rule> rules)
{
	if (rules.size() > SPSEC_GW_RULES_MAX)
		return fail_errno(E2BIG, std::to_string(rules.size()) + " gateway rules exceed " +
		                                 std::to_string(SPSEC_GW_RULES_MAX));
	for (std::size_t i = 0; i < rules.size(); i++)
		if (auto r = valid_rule(rules[i], i); !r)
			return r;
	return {};
}

Result<void> GatewayMaps::replace_rules(std::span<const spsec_gw_rule> rules)
{
	if (auto r = validate_rules(rules); !r)
		return r;
	auto live = live_word();
	if (!live)
		return tl::unexpected(live.error());
	auto old = live_rules();
	if (!old)
		return tl::unexpected(old.error());
	const std::uint32_t next = ((*live >> 16) & 1) ^ 1;
	const MapWriter w(rules_);
	for (std::size_t i = 0; i < SPSEC_GW_RULES_MAX; i++) {
		// unused slots are zeroed: what the generation holds is exactly `rules`
		const spsec_gw_rule r = i < rules.size() ? rules[i] : spsec_gw_rule{};
		const std::uint32_t key = next * SPSEC_GW_RULES_MAX + static_cast<std::uint32_t>(i);
		if (auto res = w.put(key, r); !res)
			return tl::unexpected(res.error().with_context("writing gateway rule " +
			                                               std::to_string(i)));
	}
	const MapWriter rate(rate_);
	for (std::size_t i = 0; i < rules.size(); i++) {
		const bool same = i < old->size() &&
		                  (*old)[i].interval_ns == rules[i].interval_ns &&
		                  (*old)[i].burst_ns == rules[i].burst_ns;
		if (same)
			continue;
		const std::uint32_t key = static_cast<std::uint32_t>(i);
		if (auto res = rate.put(key, spsec_gw_rate{}); !res)
			return tl::unexpected(res.error().with_context(
			        "resetting the rate of rule " + std::to_string(i)));
	}
	const std::uint32_t word = SPSEC_GW_LIVE(next, static_cast<std::uint32_t>(rules.size()));
	if (auto res = MapWriter(conf_).put(kZero, word); !res)
		return tl::unexpected(
		        res.error().with_context("switching gateway rule generation"));
	return {};
}

Result<GatewayRuleCounters> GatewayMaps::rule_counters(std::uint32_t rule) const
{
	if (rule >= SPSEC_GW_RULES_MAX)
		return fail_errno(EINVAL, "gateway rule " + std::to_string(rule) + " out of range");
	GatewayRuleCounters out{};
	const MapWriter c(count_);
	for (std::uint32_t k = 0; k < SPSEC_GW_CNT_N; k++) {
		auto v = c.get_percpu<std::uint64_t>(rule * SPSEC_GW_CNT_N + k);
		if (!v)
			return tl::unexpected(v.error());
		for (auto x : *v)
			out[k] += x;
	}
	return out;
}

Result<RelayCountMap> RelayCountMap::open_pinned(const std::string& pin_dir)
{
	const std::string path = pin_dir + "/" + SPSEC_MAP_GW_RELAY;
	Fd fd(bpf_obj_get(path.c_str()));
	if (!fd.valid())
		return fail_errno(errno, "opening " + path);
	return RelayCountMap(std::move(fd));
}

Result<spsec_gw_relay_count> RelayCountMap::get(std::uint32_t rule) const
{
	if (rule >= SPSEC_GW_RULES_MAX)
		return fail_errno(EINVAL, "gateway rule " + std::to_string(rule) + " out of range");
	spsec_gw_relay_count c{};
	if (bpf_map_lookup_elem(fd_.get(), &rule, &c) != 0)
		return fail_errno(errno, std::string("reading ") + SPSEC_MAP_GW_RELAY + " rule " +
		                                 std::to_string(rule));
	return c;
}

Result<void> RelayCountMap::put(std::uint32_t rule, const spsec_gw_relay_count& c) const
{
	if (rule >= SPSEC_GW_RULES_MAX)
		return fail_errno(EINVAL, "gateway rule " + std::to_string(rule) + " out of range");
	if (bpf_map_update_elem(fd_.get(), &rule, &c, BPF_ANY) != 0)
		return fail_errno(errno, std::string("writing ") + SPSEC_MAP_GW_RELAY + " rule " +
		                                 std::to_string(rule));
	return {};
}

bool gateway_rule_relayed(const spsec_gw_rule& r) noexcept
{
	return r.dir == SPSEC_GW_TO_SECURED || (r.flags & SPSEC_GW_F_CLASSIC) != 0;
}

std::string gateway_rule_ids(const spsec_gw_rule& r)
{
	const bool ext = (r.value & CAN_EFF_FLAG) != 0;
	const std::uint32_t bits = ext ? CAN_EFF_MASK : CAN_SFF_MASK;
	auto id = [&](std::uint32_t v) { return format_can_id(CanId{v & bits, ext}); };
	if (r.lo != 0 || r.hi != 0xFFFFFFFFu)
		return id(r.lo) + "-" + id(r.hi);
	if ((r.mask & bits) == bits)
		return id(r.value);
	return id(r.value) + "/" + id(r.mask);
}

Result<std::vector<GatewayRuleView>> read_pinned_gateway(const std::string& pin_dir)
{
	std::vector<GatewayRuleView> out;
	struct Pins {
		int conf = -1, rules = -1, count = -1, relay = -1;
		~Pins()
		{
			for (int fd : {conf, rules, count, relay})
				if (fd >= 0)
					::close(fd);
		}
	} p;
	const std::string conf = pin_dir + "/" + SPSEC_MAP_GW_CONF;
	p.conf = bpf_obj_get(conf.c_str());
	if (p.conf < 0) {
		if (errno == ENOENT)
			return out;  // a data plane without gateway maps
		return fail_errno(errno, "opening " + conf);
	}
	const std::string rules = pin_dir + "/" + SPSEC_MAP_GW_RULES;
	const std::string count = pin_dir + "/" + SPSEC_MAP_GW_COUNT;
	p.rules = bpf_obj_get(rules.c_str());
	if (p.rules < 0)
		return fail_errno(errno, "opening " + rules);
	p.count = bpf_obj_get(count.c_str());
	if (p.count < 0)
		return fail_errno(errno, "opening " + count);
	const std::string relay = pin_dir + "/" + SPSEC_MAP_GW_RELAY;
	p.relay = bpf_obj_get(relay.c_str());
	if (p.relay < 0 && errno != ENOENT)  // ENOENT: pins of an spsecd before the map existed
		return fail_errno(errno, "opening " + relay);
	std::uint32_t live = 0;
	if (bpf_map_lookup_elem(p.conf, &kZero, &live))
		return fail_errno(errno, "reading " + conf);
	const std::uint32_t base = ((live >> 16) & 1) * SPSEC_GW_RULES_MAX;
	const std::uint32_t n = std::min<std::uint32_t>(live & 0xffff, SPSEC_GW_RULES_MAX);
	const int ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		return fail_errno(-ncpu, "counting possible CPUs");
	std::vector<std::uint64_t> v(static_cast<std::size_t>(ncpu));
	for (std::uint32_t i = 0; i < n; i++) {
		GatewayRuleView view;
		const std::uint32_t key = base + i;
		if (bpf_map_lookup_elem(p.rules, &key, &view.rule))
			return fail_errno(errno, "reading " + rules);
		for (std::uint32_t k = 0; k < SPSEC_GW_CNT_N; k++) {
			const std::uint32_t ck = view.rule.rule * SPSEC_GW_CNT_N + k;
			if (view.rule.rule >= SPSEC_GW_RULES_MAX ||
			    bpf_map_lookup_elem(p.count, &ck, v.data()))
				return fail_errno(errno ? errno : EINVAL, "reading " + count);
			for (auto x : v)
				view.counters[k] += x;
		}
		if (p.relay >= 0 && gateway_rule_relayed(view.rule) &&
		    bpf_map_lookup_elem(p.relay, &view.rule.rule, &view.relay) != 0)
			return fail_errno(errno, "reading " + relay);
		out.push_back(view);
	}
	return out;
}

std::string format_gateway_text(const std::vector<GatewayRuleView>& rules)
{
	std::string out;
	for (const auto& v : rules) {
		const auto& r = v.rule;
		char name[IF_NAMESIZE] = {};
		const std::string seg = if_indextoname(r.seg_ifindex, name)
		                                ? std::string(name)
		                                : "ifindex " + std::to_string(r.seg_ifindex);
		const bool in = r.dir == SPSEC_GW_TO_SECURED;
		out += "gateway rule " + std::to_string(r.rule) + ": " +
		       (in ? "to_secured " : "to_plain ") + gateway_rule_ids(r) +
		       (in ? " from " : " to ") + seg +
		       (r.flags & SPSEC_GW_F_CLASSIC ? " (classic)" : "") + ": forwarded " +
		       std::to_string(v.counters[SPSEC_GW_CNT_FWD]) + ", over rate " +
		       std::to_string(v.counters[SPSEC_GW_CNT_RATE]) + ", classical " +
		       std::to_string(v.counters[SPSEC_GW_CNT_CLASSIC]);
		// the relay's part where it has something to say: a classical segment's rule, a CAN
		// FD segment's to_secured rule once classical frames came (lines of CAN FD traffic
		// stay as short as they were)
		const bool relay_shown =
		        gateway_rule_relayed(r) &&
		        ((r.flags & SPSEC_GW_F_CLASSIC) || v.counters[SPSEC_GW_CNT_CLASSIC] != 0 ||
		         v.relay.relayed != 0 || v.relay.too_long != 0 || v.relay.refused != 0);
		if (relay_shown)
			out += "; relay: relayed " + std::to_string(v.relay.relayed) +
			       ", too long " + std::to_string(v.relay.too_long) + ", refused " +
			       std::to_string(v.relay.refused);
		out += "\n";
	}
	return out;
}

Json format_gateway_json(const std::vector<GatewayRuleView>& rules)
{
	Json out = Json::array();
	for (const auto& v : rules) {
		Json j = {{"rule", v.rule.rule},
		          {"direction",
		           v.rule.dir == SPSEC_GW_TO_SECURED ? "to_secured" : "to_plain"},
		          {"ids", gateway_rule_ids(v.rule)},
		          {"segment_ifindex", v.rule.seg_ifindex},
		          {"forwarded", v.counters[SPSEC_GW_CNT_FWD]},
		          {"over_rate", v.counters[SPSEC_GW_CNT_RATE]},
		          {"classical", v.counters[SPSEC_GW_CNT_CLASSIC]}};
		if (gateway_rule_relayed(v.rule)) {
			j["relayed"] = v.relay.relayed;
			j["too_long"] = v.relay.too_long;
			j["refused"] = v.relay.refused;
		}
		out.push_back(std::move(j));
	}
	return out;
}

std::string format_prometheus_gateway(const std::vector<GatewayRuleView>& rules,
                                      std::string_view ifname)
{
	if (rules.empty())
		return "";
	std::string out =
	        "# HELP spsec_gateway_frames_total CAN frames per gateway rule: forwarded, "
	        "dropped over the rule's rate, classical (left to spsecd); spsecd's relay: "
	        "relayed, too long for a classical segment, refused.\n"
	        "# TYPE spsec_gateway_frames_total counter\n";
	const std::string iface = prometheus_label(ifname);
	static constexpr std::pair<std::uint32_t, const char*> kKinds[] = {
	        {SPSEC_GW_CNT_FWD, "forwarded"},
	        {SPSEC_GW_CNT_RATE, "over_rate"},
	        {SPSEC_GW_CNT_CLASSIC, "classical"}};
	for (const auto& v : rules) {
		const auto& r = v.rule;
		char name[IF_NAMESIZE] = {};
		const std::string seg = if_indextoname(r.seg_ifindex, name)
		                                ? prometheus_label(name)
		                                : "ifindex " + std::to_string(r.seg_ifindex);
		const std::string labels =
		        "spsec_gateway_frames_total{interface=\"" + iface + "\",rule=\"" +
		        std::to_string(r.rule) + "\",direction=\"" +
		        (r.dir == SPSEC_GW_TO_SECURED ? "to_secured" : "to_plain") + "\",ids=\"" +
		        gateway_rule_ids(r) + "\",segment=\"" + seg + "\",kind=\"";
		for (const auto& [kind, label] : kKinds)
			out += labels + label + "\"} " + std::to_string(v.counters[kind]) + "\n";
		if (!gateway_rule_relayed(r))
			continue;
		const std::pair<const char*, std::uint64_t> relay[] = {
		        {"relayed", v.relay.relayed},
		        {"too_long", v.relay.too_long},
		        {"refused", v.relay.refused}};
		for (const auto& [label, n] : relay)
			out += labels + label + "\"} " + std::to_string(n) + "\n";
	}
	return out;
}

}  // namespace spsec
