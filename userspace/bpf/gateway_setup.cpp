// SPDX-License-Identifier: Apache-2.0
#include "bpf/gateway_setup.h"

#include <algorithm>
#include <cerrno>
#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>

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

std::string segment_pin_dir(const std::string& pin_dir, const std::string& segment)
{
	return pin_dir + "/gw/" + segment;
}

SegmentGuards& SegmentGuards::operator=(SegmentGuards&& o) noexcept
{
	if (this != &o) {
		commit();
		fresh_ = std::move(o.fresh_);
		names_ = std::move(o.names_);
		made_dirs_ = std::move(o.made_dirs_);
	}
	return *this;
}

void SegmentGuards::commit() noexcept
{
	for (auto& a : fresh_)
		a.release();
	fresh_.clear();
	names_.clear();
	made_dirs_.clear();
}

Result<void> SegmentGuards::undo()
{
	Result<void> out;
	for (std::size_t i = 0; i < fresh_.size(); i++)
		if (auto r = fresh_[i].detach(); !r && out)
			out = tl::unexpected(r.error().with_context(
			        "detaching the segment programs from " + names_[i]));
	fresh_.clear();
	names_.clear();
	// Not empty (another segment's links in gw/): left, as are pins of links not undone.
	for (auto d = made_dirs_.rbegin(); d != made_dirs_.rend(); ++d)
		(void)::rmdir(d->c_str());
	made_dirs_.clear();
	return out;
}

namespace {

// mkdir that records what it made (for SegmentGuards::undo()). Errors: mkdir failed.
Result<void> make_dir(const std::string& dir, std::vector<std::string>& made)
{
	if (::mkdir(dir.c_str(), 0700) == 0) {
		made.push_back(dir);
		return {};
	}
	if (errno == EEXIST)
		return {};
	return fail_errno(errno, "creating pin directory " + dir);
}

}  // namespace

Result<SegmentGuards> attach_segments(bpf_object* obj, const GatewayPlan& plan,
                                      const SegmentAttach& how)
{
	const bpf_program* in = bpf_object__find_program_by_name(obj, "spsec_gw_in");
	const bpf_program* out = bpf_object__find_program_by_name(obj, "spsec_gw_out");
	if (!in || !out)
		return fail_errno(ENOENT, "data-plane object has no gateway programs");
	SegmentGuards g;
	auto failed = [&g](Error e) -> Result<SegmentGuards> {
		(void)g.undo();
		return tl::unexpected(std::move(e));
	};
	for (int seg : plan.segments) {
		char buf[IF_NAMESIZE] = {};
		if (!if_indextoname(static_cast<unsigned>(seg), buf))
			return failed(
			        Error{errno, "gateway segment ifindex " + std::to_string(seg)});
		const std::string name(buf);
		const std::string where = "gateway segment " + name;
		const std::string dir =
		        how.pin_dir.empty() ? "" : segment_pin_dir(how.pin_dir, name);
		// Only what was not spsec's before this call is undone by a rollback.
		auto had = TcAttachment::query(name, dir);
		if (!had)
			return failed(had.error().with_context(where));
		AttachOptions opts;
		opts.mode = how.mode;
		if (!opts.mode) {
			auto tcx = tcx_supported(seg);
			if (!tcx)
				return failed(tcx.error().with_context(where));
			opts.mode = *tcx ? AttachMode::Tcx : AttachMode::Tc;
		}
		// tc mode gets the directory too: an earlier tcx run's links there are removed.
		opts.link_pin_dir = dir;
		if (*opts.mode == AttachMode::Tcx && !dir.empty()) {
			for (const std::string& d : {how.pin_dir + "/gw", dir})
				if (auto r = make_dir(d, g.made_dirs_); !r)
					return failed(r.error().with_context(where));
		}
		auto att =
		        TcAttachment::attach(name, bpf_program__fd(in), bpf_program__fd(out), opts);
		if (!att)
			return failed(att.error().with_context(where));
		if (had->mode) {
			att->release();  // fail closed: the guards stay when spsecd exits
		} else {
			g.fresh_.push_back(std::move(*att));
			g.names_.push_back(name);
		}
	}
	return g;
}

Result<void> apply_gateway_before_policy(bpf_object* obj, GatewayMaps& maps,
                                         const GatewayPlan& plan, int secured,
                                         const std::vector<int>& old_segments,
                                         const SegmentAttach& how, SegmentGuards& attached)
{
	// Listed before anything changes: a can-gw that cannot list fails before the first change.
	auto existing = cangw_list();
	if (!existing)
		return tl::unexpected(existing.error());
	auto guards = attach_segments(obj, plan, how);
	if (!guards)
		return tl::unexpected(guards.error());
	attached = std::move(*guards);
	for (const auto& j : job_changes(*existing, plan, secured, old_segments).remove)
		if (auto r = cangw_delete(j); !r)
			return r;
	return maps.replace_rules(plan.rules);
}

JobChanges job_restore(const std::vector<CanGwJobStats>& before,
                       const std::vector<CanGwJobStats>& now, int secured,
                       const std::vector<int>& segments)
{
	GatewayPlan want;
	want.segments = segments;
	auto ours = [&](int ifindex) {
		return std::find(segments.begin(), segments.end(), ifindex) != segments.end();
	};
	for (const auto& e : before)
		if (e.fd && ((e.job.src_ifindex == secured && ours(e.job.dst_ifindex)) ||
		             (e.job.dst_ifindex == secured && ours(e.job.src_ifindex))))
			want.jobs.push_back(e.job);
	return job_changes(now, want, secured);
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
                           const std::vector<int>& old_segments, const SegmentAttach& how)
{
	SegmentGuards attached;  // committed however it ends: fail closed
	if (auto r = apply_gateway_before_policy(obj, maps, plan, secured, old_segments, how,
	                                         attached);
	    !r)
		return r;
	return apply_gateway_after_policy(plan, secured, old_segments);
}

}  // namespace spsec
