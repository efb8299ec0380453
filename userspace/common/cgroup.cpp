// SPDX-License-Identifier: Apache-2.0
#include "common/cgroup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include <linux/magic.h>

#include "core/sender_rules.h"

namespace spsec {

Result<std::string> cgroup2_mount(const std::string& mountinfo)
{
	std::ifstream in(mountinfo);
	if (!in)
		return fail_errno(errno, "reading " + mountinfo);
	std::string line;
	bool subtree = false;
	while (std::getline(in, line)) {
		// "36 35 0:30 / /sys/fs/cgroup rw,... shared:9 - cgroup2 cgroup2 rw,..."
		std::istringstream f(line);
		std::string id, parent, dev, root, point, word;
		f >> id >> parent >> dev >> root >> point;
		while (f >> word && word != "-") {
		}
		std::string fstype;
		f >> fstype;
		if (fstype != "cgroup2")
			continue;
		if (root != "/") {
			subtree = true;
			continue;
		}
		// mountinfo escapes spaces and such as \040: a cgroup mount never has them
		if (point.find('\\') != std::string::npos)
			continue;
		return point;
	}
	if (subtree)
		return fail_errno(EXDEV,
		                  "only a subtree of the cgroup v2 hierarchy is mounted (a "
		                  "cgroup namespace?): cgroup levels would not be the kernel's");
	return fail_errno(ENOENT, "no cgroup v2 hierarchy is mounted");
}

Result<std::optional<CgroupInfo>> cgroup_lookup(const std::string& mount, std::string_view path)
{
	if (!valid_cgroup_path(path))
		return fail_errno(EINVAL, "not a cgroup path: " + std::string(path));
	const std::string full = mount + std::string(path);
	struct stat st {};
	if (::stat(full.c_str(), &st) != 0) {
		if (errno == ENOENT)
			return std::optional<CgroupInfo>{};
		return fail_errno(errno, "cgroup " + std::string(path));
	}
	struct statfs sfs {};
	if (::statfs(full.c_str(), &sfs) != 0 || sfs.f_type != CGROUP2_SUPER_MAGIC ||
	    !S_ISDIR(st.st_mode))
		return fail_errno(ENOTDIR, "cgroup " + std::string(path) + ": " + full +
		                                   " is no cgroup v2 directory");
	// The cgroup id is kernfs' node id, which is what the directory's file handle holds
	// (what systemd and bpftool read too).
	alignas(file_handle) unsigned char buf[sizeof(file_handle) + sizeof(std::uint64_t)]{};
	auto* fh = reinterpret_cast<file_handle*>(buf);
	fh->handle_bytes = sizeof(std::uint64_t);
	int mount_id = 0;
	if (::name_to_handle_at(AT_FDCWD, full.c_str(), fh, &mount_id, 0) != 0) {
		if (errno == ENOENT)
			return std::optional<CgroupInfo>{};
		return fail_errno(errno, "reading the id of cgroup " + std::string(path));
	}
	std::uint64_t id = 0;
	std::memcpy(&id, buf + sizeof(file_handle), sizeof id);
	CgroupInfo info;
	info.id = id;
	info.level = cgroup_level(path);
	struct stat procs {};
	if (::stat((full + "/cgroup.procs").c_str(), &procs) == 0) {
		info.procs_owner = procs.st_uid;
		info.delegated = procs.st_uid != 0 || (procs.st_mode & (S_IWGRP | S_IWOTH)) != 0;
	}
	return std::optional<CgroupInfo>{info};
}

}  // namespace spsec
