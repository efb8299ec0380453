// SPDX-License-Identifier: Apache-2.0
// The data plane's tc hooks on one interface: a clsact qdisc with one BPF filter on ingress and
// one on egress (libbpf bpf_tc_hook_create/bpf_tc_attach; tcx does not exist on the 6.1 target).
#pragma once

#include <string>
#include <string_view>

#include "spsec/result.h"

namespace spsec {

class TcAttachment {
public:
	// tc filter handle and priority of both spsec filters. Attaching replaces an existing
	// filter with the same handle/priority atomically, so a restarted daemon swaps its
	// programs in without a moment of an unfiltered interface.
	static constexpr unsigned kHandle = 1;
	static constexpr unsigned kPriority = 1;

	// Attaches `ingress_fd` and `egress_fd` (loaded SCHED_CLS programs) to `ifname`, creating
	// the clsact qdisc when there is none (and remembering that it did). Errors: no such
	// interface (ENODEV), no privilege (EPERM), the kernel refused the qdisc or filter. On an
	// error nothing is detached (fail closed): a previous instance's filters stay, and an
	// ingress filter this call swapped in before the egress attach failed stays too.
	[[nodiscard]] static Result<TcAttachment> attach(std::string_view ifname, int ingress_fd,
	                                                 int egress_fd);

	TcAttachment(TcAttachment&& o) noexcept;
	TcAttachment& operator=(TcAttachment&& o) noexcept;
	TcAttachment(const TcAttachment&) = delete;
	TcAttachment& operator=(const TcAttachment&) = delete;
	// Detaches (see detach()) unless released; a failure is logged to stderr, never thrown.
	~TcAttachment();

	// Removes both filters and, if this object created it, the clsact qdisc. Errors: the
	// kernel refused (the interface may be gone: ENODEV). Idempotent.
	[[nodiscard]] Result<void> detach();

	// Gives up ownership and leaves the filters attached: the data plane keeps enforcing
	// after the daemon exits (fail closed), with the pinned maps as its state.
	void release() noexcept { ifindex_ = 0; }

	[[nodiscard]] bool created_qdisc() const noexcept { return created_qdisc_; }
	[[nodiscard]] int ifindex() const noexcept { return ifindex_; }

private:
	TcAttachment(int ifindex, bool created) noexcept
	    : ifindex_(ifindex), created_qdisc_(created)
	{
	}

	int ifindex_ = 0;  // 0: nothing owned
	bool created_qdisc_ = false;
};

}  // namespace spsec
