// SPDX-License-Identifier: Apache-2.0
#include "bpf/gateway_maps.h"

#include <cerrno>
#include <string>

#include <linux/can.h>

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

Result<void> GatewayMaps::replace_rules(std::span<const spsec_gw_rule> rules)
{
	if (rules.size() > SPSEC_GW_RULES_MAX)
		return fail_errno(E2BIG, std::to_string(rules.size()) + " gateway rules exceed " +
		                                 std::to_string(SPSEC_GW_RULES_MAX));
	for (std::size_t i = 0; i < rules.size(); i++)
		if (auto r = valid_rule(rules[i], i); !r)
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

}  // namespace spsec
