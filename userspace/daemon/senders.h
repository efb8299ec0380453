// SPDX-License-Identifier: Apache-2.0
// Resolving sender rules (config key `senders`, core/sender_rules.h) into what the data plane
// compares: cgroup ids and levels, and uids.
//
//  - A unit is the cgroup systemd gives it (unit_cgroup_path: /system.slice/<unit>, slices by
//    name); a cgroup path is looked up under the cgroup v2 mount. Either may not exist (yet, or
//    between a unit's stop and its next start: systemd removes the cgroup, and the next start
//    makes a new one with a new id). It then resolves to id 0, which never matches: its
//    senders are refused (fail closed) until spsecd sees the cgroup again. spsecd looks again
//    every second (Daemon::recheck_senders) and at reload.
//  - A user is its uid. A uid given as a number is taken as it is.
//  - A group is the uids of its members as the user database lists them at (re)load: its member
//    list and every user whose primary group it is. tc has no helper for a socket's groups,
//    and the socket does not keep them; its uid is what the kernel records (sk_uid). A user
//    added to or removed from the group counts after the next reload (SIGHUP).
// Errors name the rule's line: an unknown user or group name, no cgroup v2 hierarchy while a
// rule names units or cgroups, a user database failure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/cgroup.h"
#include "core/config.h"
#include "core/sender_rules.h"
#include "spsec/result.h"

namespace spsec {

// What resolving needs of the system; OsSenderSystem in spsecd, a fake in tests.
class SenderSystem {
public:
	virtual ~SenderSystem() = default;
	// The cgroup at `path` (from the v2 root); nullopt when it does not exist. Errors: no
	// cgroup v2 hierarchy, the path is no cgroup.
	[[nodiscard]] virtual Result<std::optional<CgroupInfo>>
	cgroup(std::string_view path) const = 0;
	// The uid of user `name`; nullopt: no such user. Errors: the user database failed.
	[[nodiscard]] virtual Result<std::optional<std::uint32_t>>
	user(const std::string& name) const = 0;
	// The uids of group `name_or_gid`'s members (member list, and users whose primary group it
	// is); nullopt: no such group (a numeric gid with neither entry nor members). Errors: the
	// user database failed.
	[[nodiscard]] virtual Result<std::optional<std::vector<std::uint32_t>>>
	group_members(const std::string& name_or_gid) const = 0;
};

// The system's: cgroups under the cgroup v2 mount (found in /proc/self/mountinfo when first
// needed), users and groups through NSS (getpwnam_r, getgrnam_r, getpwent).
class OsSenderSystem final : public SenderSystem {
public:
	[[nodiscard]] Result<std::optional<CgroupInfo>>
	cgroup(std::string_view path) const override;
	[[nodiscard]] Result<std::optional<std::uint32_t>>
	user(const std::string& name) const override;
	[[nodiscard]] Result<std::optional<std::vector<std::uint32_t>>>
	group_members(const std::string& name_or_gid) const override;

private:
	mutable std::optional<std::string> mount_;
};

struct SenderResolution {
	SenderTable table;               // rule i + 1 = table[i]
	std::vector<std::string> notes;  // warnings: missing and delegated cgroups, empty groups
	friend bool operator==(const SenderResolution&, const SenderResolution&) = default;
};

// Resolves every rule of cfg.senders. Errors: see the top of this file.
[[nodiscard]] Result<SenderResolution> resolve_senders(const Config& cfg, const SenderSystem& sys);
// Only the cgroups again (the periodic re-check: users and groups change on reload); the
// uids are taken from `prev`. Errors: as resolve_senders for cgroups.
[[nodiscard]] Result<SenderResolution> reresolve_cgroups(const Config& cfg, const SenderSystem& sys,
                                                         const SenderResolution& prev);

}  // namespace spsec
