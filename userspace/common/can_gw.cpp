// SPDX-License-Identifier: Apache-2.0
#include "common/can_gw.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/can.h>
#include <linux/can/gw.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "common/fd.h"

namespace spsec {

namespace {

// One request: header, rtcanmsg, then attributes.
struct Request {
	nlmsghdr nh;
	rtcanmsg rtcan;
	char attrs[128];
};

void add_attr(Request& r, unsigned short type, const void* data, unsigned short len)
{
	char* at = reinterpret_cast<char*>(&r) + NLMSG_ALIGN(r.nh.nlmsg_len);
	rtattr rta{};
	rta.rta_type = type;
	rta.rta_len = static_cast<unsigned short>(RTA_ALIGN(sizeof(rtattr)) + len);
	std::memcpy(at, &rta, sizeof rta);
	std::memcpy(at + RTA_ALIGN(sizeof(rtattr)), data, len);
	r.nh.nlmsg_len = NLMSG_ALIGN(r.nh.nlmsg_len) + RTA_ALIGN(rta.rta_len);
}

// A request with its header and rtcanmsg filled in; attributes follow with add_attr().
Request make_request(unsigned short type, unsigned short flags)
{
	Request r{};
	r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(rtcanmsg));
	r.nh.nlmsg_type = type;
	r.nh.nlmsg_flags = static_cast<unsigned short>(NLM_F_REQUEST | flags);
	r.nh.nlmsg_seq = 1;
	r.rtcan.can_family = AF_CAN;
	return r;
}

Result<Fd> open_rtnl()
{
	Fd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
	if (!fd.valid())
		return fail_errno(errno, "opening an rtnetlink socket");
	sockaddr_nl sa{};
	sa.nl_family = AF_NETLINK;
	if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa))
		return fail_errno(errno, "binding the rtnetlink socket");
	return fd;
}

std::string describe(const CanGwJob& j)
{
	char buf[96];
	std::snprintf(buf, sizeof buf, "can-gw job ifindex %d -> %d, filter %x:%x", j.src_ifindex,
	              j.dst_ifindex, j.filter_id, j.filter_mask);
	return buf;
}

Result<void> change(const CanGwJob& job, unsigned short type)
{
	auto fd = open_rtnl();
	if (!fd)
		return tl::unexpected(fd.error());
	Request r = make_request(type, NLM_F_ACK);
	r.rtcan.gwtype = CGW_TYPE_CAN_CAN;
	r.rtcan.flags = CGW_FLAGS_CAN_FD | CGW_FLAGS_CAN_IIF_TX_OK;
	const can_filter f{job.filter_id, job.filter_mask};
	const auto src = static_cast<std::uint32_t>(job.src_ifindex);
	const auto dst = static_cast<std::uint32_t>(job.dst_ifindex);
	add_attr(r, CGW_FILTER, &f, sizeof f);
	add_attr(r, CGW_SRC_IF, &src, sizeof src);
	add_attr(r, CGW_DST_IF, &dst, sizeof dst);
	const std::string what = (type == RTM_NEWROUTE ? "adding " : "deleting ") + describe(job);
	if (::send(fd->get(), &r, r.nh.nlmsg_len, 0) < 0)
		return fail_errno(errno, what);
	char buf[4096];
	const ssize_t n = ::recv(fd->get(), buf, sizeof buf, 0);
	if (n < 0)
		return fail_errno(errno, what);
	const auto* nh = reinterpret_cast<const nlmsghdr*>(buf);
	if (n < static_cast<ssize_t>(NLMSG_HDRLEN + sizeof(nlmsgerr)) ||
	    nh->nlmsg_type != NLMSG_ERROR)
		return fail_errno(EPROTO, what + ": unexpected netlink answer");
	const auto* err = reinterpret_cast<const nlmsgerr*>(buf + NLMSG_HDRLEN);
	if (err->error)
		return fail_errno(-err->error, what);
	return {};
}

}  // namespace

Result<void> cangw_add(const CanGwJob& job)
{
	return change(job, RTM_NEWROUTE);
}

Result<void> cangw_delete(const CanGwJob& job)
{
	return change(job, RTM_DELROUTE);
}

Result<std::vector<CanGwJobStats>> cangw_list()
{
	auto fd = open_rtnl();
	if (!fd)
		return tl::unexpected(fd.error());
	const Request r = make_request(RTM_GETROUTE, NLM_F_DUMP);
	if (::send(fd->get(), &r, r.nh.nlmsg_len, 0) < 0)
		return fail_errno(errno, "listing can-gw jobs");
	std::vector<CanGwJobStats> out;
	alignas(nlmsghdr) char buf[16384];
	for (;;) {
		const ssize_t n = ::recv(fd->get(), buf, sizeof buf, 0);
		if (n < 0)
			return fail_errno(errno, "listing can-gw jobs");
		const auto end = static_cast<std::size_t>(n);
		for (std::size_t off = 0; off + NLMSG_HDRLEN <= end;) {
			const auto* nh = reinterpret_cast<const nlmsghdr*>(buf + off);
			if (nh->nlmsg_len < NLMSG_HDRLEN || off + nh->nlmsg_len > end)
				return fail_errno(EPROTO, "listing can-gw jobs: truncated answer");
			const char* body = buf + off + NLMSG_HDRLEN;
			const std::size_t body_len = nh->nlmsg_len - NLMSG_HDRLEN;
			off += NLMSG_ALIGN(nh->nlmsg_len);
			if (nh->nlmsg_type == NLMSG_DONE)
				return out;
			if (nh->nlmsg_type == NLMSG_ERROR) {
				int e = EPROTO;
				if (body_len >= sizeof(nlmsgerr))
					e = -reinterpret_cast<const nlmsgerr*>(body)->error;
				return fail_errno(e ? e : EPROTO, "listing can-gw jobs");
			}
			if (nh->nlmsg_type != RTM_NEWROUTE || body_len < sizeof(rtcanmsg))
				continue;
			const auto* rc = reinterpret_cast<const rtcanmsg*>(body);
			if (rc->gwtype != CGW_TYPE_CAN_CAN)
				continue;
			CanGwJobStats st;
			st.fd = rc->flags & CGW_FLAGS_CAN_FD;
			for (std::size_t a = NLMSG_ALIGN(sizeof(rtcanmsg));
			     a + sizeof(rtattr) <= body_len;) {
				const auto* rta = reinterpret_cast<const rtattr*>(body + a);
				if (rta->rta_len < sizeof(rtattr) || a + rta->rta_len > body_len)
					break;
				const char* data = body + a + RTA_ALIGN(sizeof(rtattr));
				const std::size_t dlen = rta->rta_len - RTA_ALIGN(sizeof(rtattr));
				a += RTA_ALIGN(rta->rta_len);
				std::uint32_t v = 0;
				if (dlen >= sizeof v)
					std::memcpy(&v, data, sizeof v);
				switch (rta->rta_type) {
				case CGW_HANDLED:
					st.handled = v;
					break;
				case CGW_DROPPED:
					st.dropped = v;
					break;
				case CGW_SRC_IF:
					st.job.src_ifindex = static_cast<int>(v);
					break;
				case CGW_DST_IF:
					st.job.dst_ifindex = static_cast<int>(v);
					break;
				case CGW_FILTER:
					if (dlen >= sizeof(can_filter)) {
						can_filter f{};
						std::memcpy(&f, data, sizeof f);
						st.job.filter_id = f.can_id;
						st.job.filter_mask = f.can_mask;
					}
					break;
				default:
					break;
				}
			}
			out.push_back(st);
		}
	}
}

}  // namespace spsec
