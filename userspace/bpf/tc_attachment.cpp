// SPDX-License-Identifier: Apache-2.0
#include "bpf/tc_attachment.h"

#include "bpf/libbpf_log.h"
#include "common/fd.h"

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <unistd.h>

namespace spsec {
namespace {

// From the kernel's UAPI <linux/bpf.h> since 6.6 (enum bpf_attach_type, enum bpf_link_type;
// the values are ABI). Debian 12's linux-libc-dev (6.1) does not have them.
constexpr auto kTcxIngress = static_cast<bpf_attach_type>(46);  // BPF_TCX_INGRESS
constexpr auto kTcxEgress = static_cast<bpf_attach_type>(47);   // BPF_TCX_EGRESS
constexpr __u32 kLinkTypeTcx = 11;                              // BPF_LINK_TYPE_TCX

// struct bpf_link_info's union starts at offset 16; its tcx member is { ifindex, attach_type },
// laid out like the xdp member { ifindex } the 6.1 header knows.
static_assert(offsetof(bpf_link_info, xdp.ifindex) == 16);
constexpr std::size_t kTcxAttachTypeOffset = 20;

const char* const kDirName[2] = {"ingress", "egress"};

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

// The program ID of the spsec filter on that hook, 0 when there is none (or no clsact at all).
unsigned filter_prog(int ifindex, bpf_tc_attach_point point)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, q, .handle = TcAttachment::kHandle,
	            .priority = TcAttachment::kPriority);
	const LibbpfSilencer quiet;  // "no qdisc" / "no filter" are expected answers
	return bpf_tc_query(&hook, &q) == 0 ? q.prog_id : 0;
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

struct LinkInfo {
	__u32 type = 0;
	__u32 prog_id = 0;
	__u32 ifindex = 0;  // tcx: 0 once its interface is gone (the link is defunct)
	__u32 attach_type = 0;
};

Result<LinkInfo> link_info(int fd)
{
	bpf_link_info info{};
	__u32 len = sizeof info;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0)
		return fail_errno(errno, "reading the link's info");
	LinkInfo out;
	out.type = info.type;
	out.prog_id = info.prog_id;
	out.ifindex = info.xdp.ifindex;
	std::memcpy(&out.attach_type, reinterpret_cast<const char*>(&info) + kTcxAttachTypeOffset,
	            sizeof out.attach_type);
	return out;
}

// The pinned object at `path`, or an invalid Fd when nothing is pinned there.
Result<Fd> open_pin(const std::string& path)
{
	const int fd = bpf_obj_get(path.c_str());
	if (fd >= 0)
		return Fd(fd);
	if (errno == ENOENT)
		return Fd();
	return fail_errno(errno, "opening pinned link " + path);
}

// Whether the link is spsec's tcx link of this interface and direction (still live).
bool live_tcx_link(const LinkInfo& li, int ifindex, int dir)
{
	return li.type == kLinkTypeTcx && li.ifindex == static_cast<__u32>(ifindex) &&
	       li.attach_type == static_cast<__u32>(dir == 0 ? kTcxIngress : kTcxEgress);
}

// The link of one direction: the pinned one with the program swapped in (atomic, no moment
// without a program), or a new one, pinned when `pin` is set.
Result<Fd> attach_tcx_one(int ifindex, int dir, int prog_fd, const std::string& pin)
{
	const std::string what = std::string("tcx ") + kDirName[dir] + " link";
	if (!pin.empty()) {
		auto old = open_pin(pin);
		if (!old)
			return tl::unexpected(old.error());
		if (old->valid()) {
			auto li = link_info(old->get());
			if (li && live_tcx_link(*li, ifindex, dir)) {
				if (bpf_link_update(old->get(), prog_fd, nullptr) != 0)
					return fail_errno(errno, "replacing the program of the " +
					                                 what + " pinned at " +
					                                 pin);
				return std::move(*old);
			}
			// Stale: its interface is gone (a defunct link filters nothing), or the
			// pin is not such a link. Replaced by the new one below.
			if (::unlink(pin.c_str()) != 0 && errno != ENOENT)
				return fail_errno(errno, "removing stale pin " + pin);
		}
	}
	const int fd =
	        bpf_link_create(prog_fd, ifindex, dir == 0 ? kTcxIngress : kTcxEgress, nullptr);
	if (fd < 0)
		return fail_errno(errno, "creating the " + what);
	Fd link(fd);
	// A failed pin closes the link again: unpinned it would vanish with this process anyway.
	if (!pin.empty() && bpf_obj_pin(link.get(), pin.c_str()) != 0)
		return fail_errno(errno, "pinning the " + what + " at " + pin);
	return link;
}

std::string link_pin(const std::string& dir, int d)
{
	if (dir.empty())
		return {};
	return dir + "/" + (d == 0 ? TcAttachment::kIngressLinkPin : TcAttachment::kEgressLinkPin);
}

// Detaches and unpins the tcx links pinned in `dir` (an earlier tcx-mode run's). Errors: a
// pin that cannot be opened or removed.
Result<void> remove_pinned_links(const std::string& dir)
{
	for (int d = 0; d < 2; d++) {
		const std::string pin = link_pin(dir, d);
		auto fd = open_pin(pin);
		if (!fd)
			return tl::unexpected(fd.error());
		if (!fd->valid())
			continue;
		// Explicitly: another holder of the link (bpftool) would otherwise keep it
		// attached.
		(void)bpf_link_detach(fd->get());
		if (::unlink(pin.c_str()) != 0 && errno != ENOENT)
			return fail_errno(errno, "removing pin " + pin);
	}
	return {};
}

}  // namespace

const char* attach_mode_name(AttachMode m) noexcept
{
	return m == AttachMode::Tcx ? "tcx" : "tc";
}

Result<std::optional<AttachMode>> parse_attach_mode(std::string_view s)
{
	if (s == "auto")
		return std::optional<AttachMode>();
	if (s == "tc")
		return std::optional<AttachMode>(AttachMode::Tc);
	if (s == "tcx")
		return std::optional<AttachMode>(AttachMode::Tcx);
	return fail_errno(EINVAL, "attach mode '" + std::string(s) +
	                                  "' unknown (expected auto, tc or tcx)");
}

Result<bool> tcx_supported(int ifindex)
{
	__u32 flags = 0, count = 0;
	if (bpf_prog_query(ifindex, kTcxIngress, 0, &flags, nullptr, &count) == 0)
		return true;
	if (errno == EINVAL)
		return false;  // the kernel does not know BPF_TCX_INGRESS: older than 6.6
	return fail_errno(errno, "probing for tcx (BPF_PROG_QUERY of BPF_TCX_INGRESS on ifindex " +
	                                 std::to_string(ifindex) + ")");
}

Result<TcAttachment> TcAttachment::attach(std::string_view ifname, int ingress_fd, int egress_fd,
                                          const AttachOptions& opts)
{
	const std::string name(ifname);
	const std::string where = "on " + name;
	const unsigned idx = if_nametoindex(name.c_str());
	if (idx == 0)
		return fail_errno(errno,
		                  "attaching the data plane " + where + ": no such interface");
	const int ifindex = static_cast<int>(idx);

	AttachMode mode = AttachMode::Tc;
	if (opts.mode) {
		mode = *opts.mode;
	} else {
		auto tcx = tcx_supported(ifindex);
		if (!tcx)
			return tl::unexpected(
			        tcx.error().with_context("attaching the data plane " + where));
		mode = *tcx ? AttachMode::Tcx : AttachMode::Tc;
	}

	if (mode == AttachMode::Tcx) {
		if (opts.mode) {
			auto tcx = tcx_supported(ifindex);
			if (!tcx)
				return tl::unexpected(tcx.error().with_context(
				        "attaching the data plane " + where));
			if (!*tcx)
				return fail_errno(EOPNOTSUPP,
				                  "attaching the data plane " + where +
				                          " with tcx links: this kernel has no tcx "
				                          "(Linux 6.6 or newer); use the tc mode");
		}
		TcAttachment att(ifindex, AttachMode::Tcx);
		const int fds[2] = {ingress_fd, egress_fd};
		for (int d = 0; d < 2; d++) {
			att.link_pin_[d] = link_pin(opts.link_pin_dir, d);
			auto link = attach_tcx_one(ifindex, d, fds[d], att.link_pin_[d]);
			if (!link) {
				// Fail closed as in tc mode: a link this call made or updated stays
				// (pinned), and so does anything that was attached before.
				att.release();
				return tl::unexpected(link.error().with_context(
				        "attaching the data plane " + where +
				        (d == 1 ? " (the ingress link stays attached)" : "")));
			}
			att.link_fd_[d] = link->release();
		}
		// An earlier tc-mode run's filters: the links run first and always decide (spsec
		// never returns TC_ACT_UNSPEC), so removing them now leaves no gap.
		for (bpf_tc_attach_point p : {BPF_TC_INGRESS, BPF_TC_EGRESS})
			if (filter_prog(ifindex, p) != 0)
				if (const int err = detach_one(ifindex, p); err)
					std::fprintf(
					        stderr,
					        "spsec: removing the earlier spsec tc filter %s: "
					        "%s\n",
					        where.c_str(), std::strerror(-err));
		return att;
	}

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
	TcAttachment att(ifindex, AttachMode::Tc);
	att.created_qdisc_ = err == 0;

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
	// An earlier tcx-mode run's links would run before the filters: remove them now that the
	// filters are in.
	if (!opts.link_pin_dir.empty())
		if (auto r = remove_pinned_links(opts.link_pin_dir); !r)
			std::fprintf(
			        stderr, "spsec: %s\n",
			        r.error()
			                .with_context("removing the earlier tcx links " + where)
			                .message()
			                .c_str());
	return att;
}

Result<AttachedState> TcAttachment::query(std::string_view ifname, const std::string& link_pin_dir)
{
	const std::string name(ifname);
	const unsigned idx = if_nametoindex(name.c_str());
	if (idx == 0)
		return fail_errno(errno, "looking up interface " + name);
	const int ifindex = static_cast<int>(idx);
	AttachedState st;
	unsigned* ids[2] = {&st.ingress_prog_id, &st.egress_prog_id};
	if (!link_pin_dir.empty()) {
		for (int d = 0; d < 2; d++) {
			auto fd = open_pin(link_pin(link_pin_dir, d));
			if (!fd || !fd->valid())
				continue;
			if (auto li = link_info(fd->get()); li && live_tcx_link(*li, ifindex, d))
				*ids[d] = li->prog_id;
		}
		if (st.ingress_prog_id != 0 || st.egress_prog_id != 0) {
			st.mode = AttachMode::Tcx;
			return st;
		}
	}
	st.ingress_prog_id = filter_prog(ifindex, BPF_TC_INGRESS);
	st.egress_prog_id = filter_prog(ifindex, BPF_TC_EGRESS);
	if (st.ingress_prog_id != 0 || st.egress_prog_id != 0)
		st.mode = AttachMode::Tc;
	return st;
}

TcAttachment::TcAttachment(TcAttachment&& o) noexcept
    : ifindex_(std::exchange(o.ifindex_, 0)), mode_(o.mode_), created_qdisc_(o.created_qdisc_)
{
	for (int d = 0; d < 2; d++) {
		link_fd_[d] = std::exchange(o.link_fd_[d], -1);
		link_pin_[d] = std::move(o.link_pin_[d]);
	}
}

TcAttachment& TcAttachment::operator=(TcAttachment&& o) noexcept
{
	if (this != &o) {
		if (auto r = detach(); !r)
			std::fprintf(stderr, "spsec: %s\n", r.error().message().c_str());
		ifindex_ = std::exchange(o.ifindex_, 0);
		mode_ = o.mode_;
		created_qdisc_ = o.created_qdisc_;
		for (int d = 0; d < 2; d++) {
			link_fd_[d] = std::exchange(o.link_fd_[d], -1);
			link_pin_[d] = std::move(o.link_pin_[d]);
		}
	}
	return *this;
}

TcAttachment::~TcAttachment()
{
	if (auto r = detach(); !r)
		std::fprintf(stderr, "spsec: %s\n", r.error().message().c_str());
}

void TcAttachment::release() noexcept
{
	ifindex_ = 0;
	for (int d = 0; d < 2; d++) {
		// A pinned link stays by its pin. An unpinned one must keep its fd: closing it
		// would detach the program, so the fd stays open (on purpose) until the process
		// exits.
		if (link_fd_[d] >= 0 && !link_pin_[d].empty())
			::close(link_fd_[d]);
		link_fd_[d] = -1;
	}
}

Result<void> TcAttachment::detach()
{
	if (ifindex_ == 0)
		return {};
	const int ifindex = std::exchange(ifindex_, 0);
	if (mode_ == AttachMode::Tcx) {
		Result<void> out;
		for (int d = 0; d < 2; d++) {
			if (link_fd_[d] < 0)
				continue;
			// A defunct link (its interface gone) detaches as a no-op.
			if (bpf_link_detach(link_fd_[d]) != 0 && errno != ENOLINK && out)
				out = fail_errno(errno, std::string("detaching the tcx ") +
				                                kDirName[d] +
				                                " link from ifindex " +
				                                std::to_string(ifindex));
			::close(std::exchange(link_fd_[d], -1));
			if (!link_pin_[d].empty() && ::unlink(link_pin_[d].c_str()) != 0 &&
			    errno != ENOENT && out)
				out = fail_errno(errno, "removing pin " + link_pin_[d]);
		}
		return out;
	}
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
