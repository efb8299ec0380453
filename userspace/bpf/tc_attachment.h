// SPDX-License-Identifier: Apache-2.0
// The data plane's tc hooks on one interface, one program on ingress and one on egress, attached
// one of two ways, chosen at load time by probing the kernel (never at build time):
//  - tcx (kernel >= 6.6): two BPF links (BPF_LINK_CREATE, BPF_TCX_INGRESS/EGRESS), pinned next to
//    the maps so they outlive spsecd. Only the holder of the link can replace or remove the
//    program: `tc qdisc del ... clsact` or another tool's `tc filter replace` cannot;
//  - tc (older kernels): a clsact qdisc with one cls_bpf filter per direction over netlink
//    (libbpf bpf_tc_*), which anyone with CAP_NET_ADMIN can replace or delete without a trace.
// Debian 12's libbpf 1.1 and UAPI headers predate tcx: the attach types are defined here and the
// links made with the generic bpf_link_create().
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "spsec/result.h"

namespace spsec {

enum class AttachMode { Tc, Tcx };

// "tc" or "tcx": the name status, stats and the log use.
[[nodiscard]] const char* attach_mode_name(AttachMode m) noexcept;

// "auto" (nullopt: probe), "tc" or "tcx". Errors: anything else (EINVAL, the value named).
[[nodiscard]] Result<std::optional<AttachMode>> parse_attach_mode(std::string_view s);

// Whether the kernel has tcx: a BPF_PROG_QUERY for BPF_TCX_INGRESS on `ifindex`, which changes
// nothing. A kernel without tcx does not know the attach type (EINVAL): false. Errors: no
// privilege (EPERM), no such interface (ENODEV), anything else the kernel answers.
[[nodiscard]] Result<bool> tcx_supported(int ifindex);

struct AttachOptions {
	// nullopt: tcx where tcx_supported(), netlink tc otherwise. Set: that mode or an error.
	std::optional<AttachMode> mode;
	// Directory for the tcx link pins (<dir>/spsec_tcx_ingress, spsec_tcx_egress: the data
	// plane's pin directory). Empty: the links are not pinned and live as long as this
	// object, or after release() as long as the process.
	std::string link_pin_dir;
};

// What is attached to an interface now, read from the kernel (works while spsecd is down).
struct AttachedState {
	std::optional<AttachMode> mode;  // nullopt: neither spsec tcx links nor spsec filters
	unsigned ingress_prog_id = 0;    // 0: nothing of spsec's on that hook
	unsigned egress_prog_id = 0;
};

class TcAttachment {
public:
	// tc filter handle and priority of both spsec filters. Attaching replaces an existing
	// filter with the same handle/priority atomically, so a restarted daemon swaps its
	// programs in without a moment of an unfiltered interface.
	static constexpr unsigned kHandle = 1;
	static constexpr unsigned kPriority = 1;
	// The tcx link pins, in AttachOptions::link_pin_dir.
	static constexpr const char* kIngressLinkPin = "spsec_tcx_ingress";
	static constexpr const char* kEgressLinkPin = "spsec_tcx_egress";

	// Attaches `ingress_fd` and `egress_fd` (loaded SCHED_CLS programs) to `ifname`.
	//  tc: creates the clsact qdisc when there is none (and remembers that it did), replaces
	//   the spsec filters in place. Pinned tcx links of an earlier tcx-mode run are detached
	//   once both filters are in.
	//  tcx: a pinned link of this interface and direction (a previous spsecd's) gets the new
	//   program atomically (BPF_LINK_UPDATE); otherwise a new link is created and pinned. A
	//   stale pin (its interface is gone) is replaced. spsec tc filters of an earlier tc-mode
	//   run are removed once both links are in.
	// Errors: no such interface (ENODEV), no privilege (EPERM), tcx asked for on a kernel
	// without it (EOPNOTSUPP), the kernel refused the qdisc, filter or link, a pin failed. On
	// an error nothing is detached (fail closed): a previous instance's filters or links stay,
	// and an ingress program this call put in before the egress attach failed stays too.
	[[nodiscard]] static Result<TcAttachment> attach(std::string_view ifname, int ingress_fd,
	                                                 int egress_fd,
	                                                 const AttachOptions& opts = {});

	// What is attached to `ifname`: the tcx links pinned in `link_pin_dir` (when they are
	// live on this interface), else the spsec tc filters. Errors: no such interface.
	[[nodiscard]] static Result<AttachedState> query(std::string_view ifname,
	                                                 const std::string& link_pin_dir);

	TcAttachment(TcAttachment&& o) noexcept;
	TcAttachment& operator=(TcAttachment&& o) noexcept;
	TcAttachment(const TcAttachment&) = delete;
	TcAttachment& operator=(const TcAttachment&) = delete;
	// Detaches (see detach()) unless released; a failure is logged to stderr, never thrown.
	~TcAttachment();

	// Removes both programs: the filters and, if this object created it, the clsact qdisc;
	// or the links and their pins. Errors: the kernel refused (the interface may be gone:
	// ENODEV). Idempotent.
	[[nodiscard]] Result<void> detach();

	// Gives up ownership and leaves the programs attached: the data plane keeps enforcing
	// after the daemon exits (fail closed), with the pinned maps as its state. Pinned tcx
	// links stay by their pins; unpinned ones keep their fd open until the process exits.
	void release() noexcept;

	[[nodiscard]] bool created_qdisc() const noexcept { return created_qdisc_; }
	[[nodiscard]] int ifindex() const noexcept { return ifindex_; }
	[[nodiscard]] AttachMode mode() const noexcept { return mode_; }

private:
	TcAttachment(int ifindex, AttachMode mode) noexcept : ifindex_(ifindex), mode_(mode) {}

	int ifindex_ = 0;  // 0: nothing owned
	AttachMode mode_ = AttachMode::Tc;
	bool created_qdisc_ = false;
	int link_fd_[2] = {-1, -1};  // tcx: ingress, egress
	std::string link_pin_[2];    // tcx: their pins, empty when not pinned
};

}  // namespace spsec
