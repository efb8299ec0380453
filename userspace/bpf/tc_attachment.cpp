// SPDX-License-Identifier: Apache-2.0
#include "bpf/tc_attachment.h"

#include "bpf/libbpf_log.h"

#include <cerrno>
#include <cstdio>
#include <string>
#include <utility>

#include <bpf/libbpf.h>
#include <net/if.h>

namespace spsec {
namespace {

Result<void> attach_one(int ifindex, bpf_tc_attach_point point, int prog_fd)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE,
	            .handle = TcAttachment::kHandle, .priority = TcAttachment::kPriority);
	const int err = bpf_tc_attach(&hook, &opts);
	if (err)
		return fail_errno(-err, point == BPF_TC_INGRESS ? "attaching tc ingress filter"
		                                                : "attaching tc egress filter");
	return {};
}

int detach_one(int ifindex, bpf_tc_attach_point point)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TcAttachment::kHandle,
	            .priority = TcAttachment::kPriority);
	const int err = bpf_tc_detach(&hook, &opts);
	return err == -ENOENT ? 0 : err;  // already gone is fine
}

int destroy_qdisc(int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
	            .attach_point =
	                    static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS));
	const int err = bpf_tc_hook_destroy(&hook);
	return err == -ENOENT ? 0 : err;
}

}  // namespace

Result<TcAttachment> TcAttachment::attach(std::string_view ifname, int ingress_fd, int egress_fd)
{
	const std::string name(ifname);
	const std::string where = "on " + name;
	const unsigned idx = if_nametoindex(name.c_str());
	if (idx == 0)
		return fail_errno(errno,
		                  "attaching the data plane " + where + ": no such interface");
	const int ifindex = static_cast<int>(idx);

	// The qdisc may already exist (another tool, or a previous run that left it for fail-
	// closed operation): then it is not ours to remove.
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	int err;
	{
		// libbpf logs the kernel's "Exclusivity flag on" for an existing qdisc: expected
		// here
		const LibbpfSilencer quiet;
		err = bpf_tc_hook_create(&hook);
	}
	if (err && err != -EEXIST)
		return fail_errno(-err, "creating clsact qdisc " + where);
	TcAttachment att(ifindex, err == 0);

	// On an error nothing is detached: the filters in place (a previous instance's, or the
	// ingress filter just swapped in, both on the same pinned maps) keep enforcing. Detaching
	// here would remove the previous instance's filters too (same handle and priority) and
	// leave the interface unfiltered.
	if (auto r = attach_one(ifindex, BPF_TC_INGRESS, ingress_fd); !r) {
		att.release();
		return tl::unexpected(r.error().with_context("attaching the data plane " + where));
	}
	if (auto r = attach_one(ifindex, BPF_TC_EGRESS, egress_fd); !r) {
		att.release();
		return tl::unexpected(r.error().with_context(
		        "attaching the data plane " + where +
		        " (the ingress filter stays attached, egress keeps its previous filter)"));
	}
	return att;
}

TcAttachment::TcAttachment(TcAttachment&& o) noexcept
    : ifindex_(std::exchange(o.ifindex_, 0)), created_qdisc_(o.created_qdisc_)
{
}

TcAttachment& TcAttachment::operator=(TcAttachment&& o) noexcept
{
	if (this != &o) {
		if (auto r = detach(); !r)
			std::fprintf(stderr, "spsec: %s\n", r.error().message().c_str());
		ifindex_ = std::exchange(o.ifindex_, 0);
		created_qdisc_ = o.created_qdisc_;
	}
	return *this;
}

TcAttachment::~TcAttachment()
{
	if (auto r = detach(); !r)
		std::fprintf(stderr, "spsec: %s\n", r.error().message().c_str());
}

Result<void> TcAttachment::detach()
{
	if (ifindex_ == 0)
		return {};
	const int ifindex = std::exchange(ifindex_, 0);
	int err = detach_one(ifindex, BPF_TC_INGRESS);
	const int err2 = detach_one(ifindex, BPF_TC_EGRESS);
	if (!err)
		err = err2;
	if (!err && created_qdisc_)
		err = destroy_qdisc(ifindex);
	if (err)
		return fail_errno(-err, "detaching the data plane from ifindex " +
		                                std::to_string(ifindex));
	return {};
}

}  // namespace spsec
