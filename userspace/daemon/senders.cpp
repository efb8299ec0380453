// SPDX-License-Identifier: Apache-2.0
#include "daemon/senders.h"

#include <grp.h>
#include <pwd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <set>

#include "common/logger.h"

namespace spsec {

namespace {

std::optional<std::uint32_t> decimal(const std::string& s)
{
	std::uint32_t v = 0;
	const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
	if (ec != std::errc() || p != s.data() + s.size())
		return std::nullopt;
	return v;
}

// The cgroups of one rule, in config order: units first, then cgroup paths.
Result<std::vector<SenderCgroup>> rule_cgroups(const SenderRule& r, const SenderSystem& sys,
                                               std::vector<std::string>& notes)
{
	std::vector<std::pair<std::string, std::string>> named;  // (path, what named it)
	for (const auto& u : r.units)
		named.emplace_back(*unit_cgroup_path(u), "unit " + u);
	for (const auto& c : r.cgroups)
		named.emplace_back(c, "cgroup " + c);
	std::vector<SenderCgroup> out;
	for (const auto& [path, what] : named) {
		auto info = sys.cgroup(path);
		if (!info)
			return tl::unexpected(info.error().with_context(
			        cat("sender rule on line ", r.line, ": ", what)));
		SenderCgroup cg{path, 0, cgroup_level(path)};
		if (!*info) {
			notes.push_back(
			        cat("sender rule on line ", r.line, ": ", what, " (", path,
			            ") does not exist now; its senders are refused until it "
			            "does"));
		} else {
			cg.id = (*info)->id;
			if ((*info)->delegated)
				notes.push_back(
				        cat("sender rule on line ", r.line, ": ", what,
				            " is delegated (cgroup.procs owned by uid ",
				            (*info)->procs_owner,
				            " or group/world-writable): that user can move any "
				            "of its processes into it"));
		}
		out.push_back(std::move(cg));
	}
	return out;
}

}  // namespace

Result<SenderResolution> resolve_senders(const Config& cfg, const SenderSystem& sys)
{
	SenderResolution res;
	for (const auto& r : cfg.senders) {
		ResolvedSenderRule rr;
		auto cgs = rule_cgroups(r, sys, res.notes);
		if (!cgs)
			return tl::unexpected(cgs.error());
		rr.cgroups = std::move(*cgs);
		for (const auto& u : r.users) {
			if (auto n = decimal(u)) {
				rr.uids.insert(*n);
				continue;
			}
			auto uid = sys.user(u);
			if (!uid)
				return tl::unexpected(uid.error().with_context(
				        cat("sender rule on line ", r.line, ": user ", u)));
			if (!*uid)
				return fail(cat("sender rule on line ", r.line, ": no user ", u));
			rr.uids.insert(**uid);
		}
		for (const auto& g : r.groups) {
			auto members = sys.group_members(g);
			if (!members)
				return tl::unexpected(members.error().with_context(
				        cat("sender rule on line ", r.line, ": group ", g)));
			if (!*members)
				return fail(cat("sender rule on line ", r.line, ": no group ", g));
			if ((*members)->empty())
				res.notes.push_back(cat("sender rule on line ", r.line, ": group ",
				                        g, " has no members"));
			rr.uids.insert((*members)->begin(), (*members)->end());
		}
		res.table.push_back(std::move(rr));
	}
	return res;
}

Result<SenderResolution> reresolve_cgroups(const Config& cfg, const SenderSystem& sys,
                                           const SenderResolution& prev)
{
	SenderResolution res;
	res.table = prev.table;
	for (std::size_t i = 0; i < cfg.senders.size() && i < res.table.size(); i++) {
		auto cgs = rule_cgroups(cfg.senders[i], sys, res.notes);
		if (!cgs)
			return tl::unexpected(cgs.error());
		res.table[i].cgroups = std::move(*cgs);
	}
	// the notes about groups stay as they were
	for (const auto& n : prev.notes)
		if (n.find(" has no members") != std::string::npos)
			res.notes.push_back(n);
	return res;
}

Result<std::optional<CgroupInfo>> OsSenderSystem::cgroup(std::string_view path) const
{
	if (!mount_) {
		auto m = cgroup2_mount();
		if (!m)
			return tl::unexpected(m.error());
		mount_ = *m;
	}
	return cgroup_lookup(*mount_, path);
}

Result<std::optional<std::uint32_t>> OsSenderSystem::user(const std::string& name) const
{
	passwd pw{}, *out = nullptr;
	std::vector<char> buf(16384);
	const int e = ::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &out);
	if (e != 0 && e != ENOENT && e != ESRCH)
		return fail_errno(e, "looking up user " + name);
	if (out == nullptr)
		return std::optional<std::uint32_t>{};
	return std::optional<std::uint32_t>{pw.pw_uid};
}

Result<std::optional<std::vector<std::uint32_t>>>
OsSenderSystem::group_members(const std::string& name_or_gid) const
{
	group gr{}, *out = nullptr;
	std::vector<char> buf(65536);
	const auto num = decimal(name_or_gid);
	const int e = num ? ::getgrgid_r(*num, &gr, buf.data(), buf.size(), &out)
	                  : ::getgrnam_r(name_or_gid.c_str(), &gr, buf.data(), buf.size(), &out);
	if (e != 0 && e != ENOENT && e != ESRCH)
		return fail_errno(e, "looking up group " + name_or_gid);
	if (out == nullptr && !num)
		return std::optional<std::vector<std::uint32_t>>{};
	const gid_t gid = out != nullptr ? gr.gr_gid : *num;
	std::set<std::string> names;
	if (out != nullptr)
		for (char** m = gr.gr_mem; m != nullptr && *m != nullptr; m++)
			names.insert(*m);
	// One pass over the user database: members by name, and users whose primary group it is.
	std::set<std::uint32_t> uids;
	bool primary_of_any = false;
	::setpwent();
	while (passwd* p = ::getpwent()) {
		if (p->pw_gid == gid || names.contains(p->pw_name)) {
			uids.insert(p->pw_uid);
			primary_of_any = primary_of_any || p->pw_gid == gid;
		}
	}
	::endpwent();
	if (out == nullptr && !primary_of_any)
		return std::optional<std::vector<std::uint32_t>>{};
	return std::optional<std::vector<std::uint32_t>>{
	        std::vector<std::uint32_t>(uids.begin(), uids.end())};
}

}  // namespace spsec
