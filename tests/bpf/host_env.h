// SPDX-License-Identifier: Apache-2.0
// What the bpf tier needs from the host: the check that BPF programs can run here (or the SKIP),
// and for the loader tests a private bpffs and a veth pair. Those two are undone when they go out
// of scope, also when a REQUIRE fails half-way, so a failed run leaves no mount or interface
// behind that would make the next run skip.
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <sys/mount.h>
#include <system_error>
#include <unistd.h>
#include <utility>

#include <bpf/bpf.h>

namespace spsec::test {

// Why BPF programs cannot run here (for "SKIP bpf: <reason>"), or nullopt when they can: root,
// and the kernel loads a trivial SCHED_CLS program ("r0 = 0; exit").
inline std::optional<std::string> bpf_unavailable()
{
	if (geteuid() != 0)
		return std::string(
		        "not root (BPF_PROG_TEST_RUN on SCHED_CLS needs CAP_BPF + CAP_NET_ADMIN)");
	const bpf_insn insns[] = {
	        {BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0},
	        {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
	};
	const int fd =
	        bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "spsec_probe", "GPL", insns, 2, nullptr);
	if (fd < 0)
		return std::string("cannot load a BPF program: ") + std::strerror(errno);
	close(fd);
	return std::nullopt;
}

// For a bpf-tier test binary, called once before Catch2's main
// (`const bool g_gate = spsec::test::skip_binary_unless_bpf();`): a machine that cannot run BPF
// skips the whole binary loudly, "SKIP bpf: <reason>" and exit 77, instead of failing or passing.
inline bool skip_binary_unless_bpf()
{
	if (auto why = bpf_unavailable()) {
		std::printf("SKIP bpf: %s\n", why->c_str());
		std::fflush(stdout);
		std::_Exit(77);
	}
	return true;
}

// A bpffs instance of its own under /tmp: the tests never touch /sys/fs/bpf (or a running
// firewall's pins), and work where /sys/fs/bpf is not mounted. Check mounted() first; error()
// says why not.
class PrivateBpffs {
public:
	PrivateBpffs()
	{
		char tmpl[] = "/tmp/spsec-bpffs-XXXXXX";
		if (mkdtemp(tmpl) == nullptr) {
			error_ = std::string("mkdtemp: ") + std::strerror(errno);
			return;
		}
		path_ = tmpl;
		if (mount("bpf", path_.c_str(), "bpf", 0, nullptr) != 0) {
			error_ = std::string("cannot mount a bpffs: ") + std::strerror(errno);
			rmdir(path_.c_str());
			path_.clear();
			return;
		}
		mounted_ = true;
	}
	~PrivateBpffs()
	{
		if (!mounted_)
			return;
		std::error_code ec;
		for (const auto& e : std::filesystem::directory_iterator(path_, ec))
			std::filesystem::remove_all(e.path(), ec);
		umount2(path_.c_str(), MNT_DETACH);
		rmdir(path_.c_str());
	}
	PrivateBpffs(const PrivateBpffs&) = delete;
	PrivateBpffs& operator=(const PrivateBpffs&) = delete;

	[[nodiscard]] bool mounted() const noexcept { return mounted_; }
	[[nodiscard]] const std::string& error() const noexcept { return error_; }
	// The mount point, e.g. "/tmp/spsec-bpffs-a1B2c3".
	[[nodiscard]] const std::string& path() const noexcept { return path_; }

private:
	std::string path_;
	std::string error_;
	bool mounted_ = false;
};

// A veth pair `name` <-> `peer`: the host has no CAN, and a veth exercises the same clsact /
// bpf_tc_* path (the data plane's programs drop non-CAN skbs, so nothing is sent on it). Check
// created() first. remove() deletes it and says whether that worked; the destructor deletes it
// if remove() was not called.
class VethPair {
public:
	VethPair(std::string name, const std::string& peer) : name_(std::move(name))
	{
		// A run killed before its destructor leaves the pair behind, and creating it again
		// would fail: the names are this suite's own, so a leftover is removed first.
		(void)std::system(("ip link del " + name_ + " >/dev/null 2>&1").c_str());
		created_ = std::system(("ip link add " + name_ + " type veth peer name " + peer +
		                        " >/dev/null 2>&1")
		                               .c_str()) == 0;
	}
	~VethPair() { (void)remove(); }
	VethPair(const VethPair&) = delete;
	VethPair& operator=(const VethPair&) = delete;

	[[nodiscard]] bool created() const noexcept { return created_; }
	[[nodiscard]] bool remove()
	{
		if (!created_)
			return false;
		created_ = false;
		return std::system(("ip link del " + name_ + " >/dev/null 2>&1").c_str()) == 0;
	}

private:
	std::string name_;
	bool created_ = false;
};

}  // namespace spsec::test
