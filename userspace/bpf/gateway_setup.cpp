// SPDX-License-Identifier: Apache-2.0
#include "bpf/gateway_setup.h"

#include <algorithm>
#include <net/if.h>

#include "bpf/tc_attachment.h"

namespace spsec {

namespace {

bool same_job(const CanGwJob& a, const CanGwJob& b)
{
	return a.src_ifindex == b.src_ifindex && a.dst_ifindex == b.dst_ifindex &&
	       a.filter_id == b.filter_id && a.filter_mask == b.filter_mask;
}

}  // namespace

Result<GatewayPlan> plan_gateway(const GatewayConfig& g, const std::string& secured,
                                 const IfindexOf& ifindex_of)
{
	GatewayPlan p;
	auto sec = ifindex_of(secured);
	if (!sec)
		return tl::unexpected(sec.error());
	std::vector<std::pair<std::string, int>> segs;
	for (const auto& s : g.segments) {
		auto idx = ifindex_of(s.name);
		if (!idx)
			return tl::unexpected(
			        idx.error().with_context("gateway segment " + s.name));
		segs.emplace_back(s.name, *idx);
		p.segments.push_back(*idx);
	}
	for (std::size_t i = 0; i < g.rules.size(); i++) {
		const auto& r = g.rules[i];
		const auto seg = std::find_if(segs.begin(), segs.end(),
		                              [&](const auto& x) { return x.first == r.segment; });
		if (seg == segs.end())
			return fail_errno(EINVAL, "gateway rule " + std::to_string(i) +
			                                  " names no configured segment");
		const bool classic =
		        std::find_if(g.segments.begin(), g.segments.end(), [&](const auto& s) {
			        return s.name == r.segment && s.classic;
		        }) != g.segments.end();
		p.rules.push_back(to_bpf_rule(r, static_cast<std::uint32_t>(i),
		                              static_cast<std::uint32_t>(seg->second), classic));
		if (classic)
			continue;  // tc and can-gw cannot convert: spsecd relays these
		const bool in = r.direction == GatewayDirection::ToSecured;
		for (const auto& f : cangw_filters(r.ids))
			p.jobs.push_back(
			        {in ? seg->second : *sec, in ? *sec : seg->second, f.id, f.mask});
	}
	return p;
}

JobChanges job_changes(const std::vector<CanGwJobStats>& existing, const GatewayPlan& plan,
                       int secured, const std::vector<int>& old_segments)
{
	JobChanges c;
	auto ours = [&](int ifindex) {
		return std::find(plan.segments.begin(), plan.segments.end(), ifindex) !=
		               plan.segments.end() ||
		       std::find(old_segments.begin(), old_segments.end(), ifindex) !=
		               old_segments.end();
	};
	for (const auto& e : existing) {
		const auto& j = e.job;
		const bool between = (j.src_ifindex == secured && ours(j.dst_ifindex)) ||
		                     (j.dst_ifindex == secured && ours(j.src_ifindex));
		if (!between)
			continue;
		const bool wanted =
		        e.fd && std::any_of(plan.jobs.begin(), plan.jobs.end(),
		                            [&](const auto& w) { return same_job(w, j); });
		if (!wanted)
			c.remove.push_back(j);
	}
	for (const auto& w : plan.jobs) {
		const bool there =
		        std::any_of(existing.begin(), existing.end(),
		                    [&](const auto& e) { return e.fd && same_job(e.job, w); });
		if (!there)
			c.add.push_back(w);
	}
	return c;
}

Result<void> apply_gateway_before_policy(bpf_object* obj, GatewayMaps& maps,
                                         const GatewayPlan& plan, int secured,
                                         const std::vector<int>& old_segments)
{
	const bpf_program* in = bpf_object__find_program_by_name(obj, "spsec_gw_in");
	const bpf_program* out = bpf_object__find_program_by_name(obj, "spsec_gw_out");
	if (!in || !out)
		return fail_errno(ENOENT, "data-plane object has no gateway programs");
	for (int seg : plan.segments) {
		char name[IF_NAMESIZE] = {};
		if (!if_indextoname(static_cast<unsigned>(seg), name))
			return fail_errno(errno, "gateway segment ifindex " + std::to_string(seg));
		auto att = TcAttachment::attach(name, bpf_program__fd(in), bpf_program__fd(out));
		if (!att)
			return tl::unexpected(
			        att.error().with_context("gateway segment " + std::string(name)));
		att->release();  // fail closed: the guards stay when spsecd exits
	}
	auto existing = cangw_list();
	if (!existing)
		return tl::unexpected(existing.error());
	for (const auto& j : job_changes(*existing, plan, secured, old_segments).remove)
		if (auto r = cangw_delete(j); !r)
			return r;
	return maps.replace_rules(plan.rules);
}

Result<void> apply_gateway_after_policy(const GatewayPlan& plan, int secured,
                                        const std::vector<int>& old_segments)
{
	auto existing = cangw_list();
	if (!existing)
		return tl::unexpected(existing.error());
	for (const auto& j : job_changes(*existing, plan, secured, old_segments).add)
		if (auto r = cangw_add(j); !r)
			return r;
	return {};
}

Result<void> apply_gateway(bpf_object* obj, GatewayMaps& maps, const GatewayPlan& plan, int secured,
                           const std::vector<int>& old_segments)
{
	if (auto r = apply_gateway_before_policy(obj, maps, plan, secured, old_segments); !r)
		return r;
	return apply_gateway_after_policy(plan, secured, old_segments);
}

}  // namespace spsec
