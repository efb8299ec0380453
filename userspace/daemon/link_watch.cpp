// SPDX-License-Identifier: Apache-2.0
#include "daemon/link_watch.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace spsec {

std::vector<LinkEvent> parse_link_messages(std::span<const std::uint8_t> buf)
{
	std::vector<LinkEvent> out;
	std::size_t off = 0;
	while (off + sizeof(nlmsghdr) <= buf.size()) {
		nlmsghdr h{};
		std::memcpy(&h, buf.data() + off, sizeof h);
		if (h.nlmsg_len < sizeof(nlmsghdr) || h.nlmsg_len > buf.size() - off)
			break;  // truncated or malformed: stop, never read past the datagram
		const std::size_t end = off + h.nlmsg_len;
		if ((h.nlmsg_type == RTM_NEWLINK || h.nlmsg_type == RTM_DELLINK) &&
		    h.nlmsg_len >= NLMSG_LENGTH(sizeof(ifinfomsg))) {
			ifinfomsg ifi{};
			std::memcpy(&ifi, buf.data() + off + NLMSG_HDRLEN, sizeof ifi);
			LinkEvent e;
			e.kind = h.nlmsg_type == RTM_NEWLINK ? LinkEvent::Kind::Added
			                                     : LinkEvent::Kind::Removed;
			e.ifindex = ifi.ifi_index;
			e.up = (ifi.ifi_flags & IFF_UP) != 0;
			std::size_t a = off + NLMSG_LENGTH(sizeof(ifinfomsg));
			while (a + sizeof(rtattr) <= end) {
				rtattr ra{};
				std::memcpy(&ra, buf.data() + a, sizeof ra);
				if (ra.rta_len < sizeof(rtattr) || ra.rta_len > end - a)
					break;
				if (ra.rta_type == IFLA_IFNAME) {
					const char* p = reinterpret_cast<const char*>(
					        buf.data() + a + RTA_LENGTH(0));
					const std::size_t n = ra.rta_len - RTA_LENGTH(0);
					e.name.assign(p, strnlen(p, n));
				}
				a += RTA_ALIGN(ra.rta_len);
			}
			if (!e.name.empty())
				out.push_back(std::move(e));
		}
		off += NLMSG_ALIGN(h.nlmsg_len);
	}
	return out;
}

namespace {

class RtnetlinkLinks final : public LinkSource {
public:
	explicit RtnetlinkLinks(Fd fd) noexcept : fd_(std::move(fd)) {}
	[[nodiscard]] int fd() const noexcept override { return fd_.get(); }
	[[nodiscard]] Result<std::vector<LinkEvent>> read() override
	{
		std::vector<LinkEvent> out;
		// Bounded per wake-up like every other source; a busy socket stays readable.
		for (int i = 0; i < 16; i++) {
			alignas(nlmsghdr) std::uint8_t buf[16384];
			const ssize_t n = ::recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN)
					break;
				return fail_errno(errno, "reading link events (rtnetlink)");
			}
			auto ev = parse_link_messages(
			        std::span<const std::uint8_t>(buf, static_cast<std::size_t>(n)));
			out.insert(out.end(), ev.begin(), ev.end());
		}
		return out;
	}

private:
	Fd fd_;
};

}  // namespace

Result<std::unique_ptr<LinkSource>> open_rtnetlink_link_watch()
{
	Fd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE));
	if (!fd.valid())
		return fail_errno(errno, "creating the rtnetlink socket for link events");
	sockaddr_nl sa{};
	sa.nl_family = AF_NETLINK;
	sa.nl_groups = RTMGRP_LINK;
	if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
		return fail_errno(errno, "subscribing to link events (rtnetlink RTMGRP_LINK)");
	return std::unique_ptr<LinkSource>(std::make_unique<RtnetlinkLinks>(std::move(fd)));
}

}  // namespace spsec
