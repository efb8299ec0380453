// SPDX-License-Identifier: Apache-2.0
// cgroup v2 as the sender rules need it: where the unified hierarchy is mounted, and the id and
// level of a cgroup, the two numbers tc egress compares (bpf_skb_ancestor_cgroup_id).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "spsec/result.h"

namespace spsec {

// The mount point of the cgroup v2 hierarchy from /proc/self/mountinfo: /sys/fs/cgroup on a
// unified system, /sys/fs/cgroup/unified on a hybrid one. Errors: no cgroup2 mount (ENOENT);
// only a mount of a subtree (a cgroup namespace, or a bind mount), whose levels would not be the
// kernel's (EXDEV); mountinfo unreadable.
[[nodiscard]] Result<std::string>
cgroup2_mount(const std::string& mountinfo = "/proc/self/mountinfo");

struct CgroupInfo {
	std::uint64_t id = 0;     // the kernel's cgroup id: the directory's 8-byte file handle
	std::uint32_t level = 0;  // components below the root
	// Someone other than root may write its cgroup.procs and so move processes in (a
	// delegated subtree): the rule is then only as strong as that user.
	bool delegated = false;
	std::uint32_t procs_owner = 0;  // uid owning cgroup.procs
};

// The cgroup at `path` (from the root, "/system.slice/x.service") under `mount`; nullopt when it
// does not exist. Errors: the path exists but is no cgroup, or the handle could not be read.
[[nodiscard]] Result<std::optional<CgroupInfo>> cgroup_lookup(const std::string& mount,
                                                              std::string_view path);

}  // namespace spsec
