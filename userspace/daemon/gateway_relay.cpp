// SPDX-License-Identifier: Apache-2.0
#include "daemon/gateway_relay.h"

#include <net/if.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/can_socket.h"
#include "core/gateway_rules.h"
#include "spsec/abi.h"

namespace spsec {

namespace {

void add_filters(std::vector<can_filter>& out, const IdMatch& m)
{
	for (const CanGwFilter& f : cangw_filters(m)) {
		can_filter c{};
		c.can_id = f.id;
		c.can_mask = f.mask;
		out.push_back(c);
	}
}

canid_t normalized(canid_t raw) noexcept
{
	return (raw & CAN_EFF_FLAG) ? raw & (CAN_EFF_FLAG | CAN_EFF_MASK) : raw & CAN_SFF_MASK;
}

}  // namespace

RelayPlan plan_relay(const GatewayConfig& g)
{
	RelayPlan p;
	for (const GatewaySegment& seg : g.segments) {
		RelaySegment rs;
		rs.name = seg.name;
		rs.classic = seg.classic;
		for (const GatewayRule& r : g.rules) {
			if (r.segment != seg.name)
				continue;
			if (r.direction == GatewayDirection::ToSecured)
				add_filters(rs.to_secured, r.ids);
			else if (seg.classic) {
				rs.to_plain = true;
				add_filters(p.from_secured, r.ids);
			}
		}
		if (!rs.to_secured.empty() || rs.to_plain)
			p.segments.push_back(std::move(rs));
	}
	return p;
}

int relay_rule(const GatewayConfig& g, GatewayDirection dir, const std::string& segment,
               canid_t can_id) noexcept
{
	if (can_id & (CAN_ERR_FLAG | CAN_RTR_FLAG))
		return -1;
	if ((can_id & CAN_EFF_FLAG) && (can_id & SPSEC_CTRL_BIT))
		return -1;
	const canid_t id = normalized(can_id);
	for (std::size_t i = 0; i < g.rules.size(); i++) {
		const GatewayRule& r = g.rules[i];
		if (r.direction == dir && r.segment == segment && r.ids.covers(id))
			return static_cast<int>(i);
	}
	return -1;
}

canfd_frame relay_to_fd(const canfd_frame& rx) noexcept
{
	canfd_frame f{};
	f.can_id = rx.can_id;
	f.len = std::min<std::uint8_t>(rx.len, CANFD_MAX_DLEN);
	std::memcpy(f.data, rx.data, f.len);
	return f;
}

std::optional<can_frame> relay_to_classical(const canfd_frame& rx) noexcept
{
	if (rx.len > CAN_MAX_DLEN)
		return std::nullopt;
	can_frame f{};
	f.can_id = rx.can_id;
	f.len = rx.len;
	std::memcpy(f.data, rx.data, rx.len);
	return f;
}

Result<RelayCounts> RelayCounts::resume(std::vector<bool> relay_rule,
                                        std::unique_ptr<RelayCountStore> store)
{
	RelayCounts c;
	c.counts_.resize(relay_rule.size());
	c.dirty_.resize(relay_rule.size());
	if (store)
		for (std::size_t i = 0; i < relay_rule.size(); i++) {
			if (!relay_rule[i])
				continue;
			auto v = store->read(static_cast<std::uint32_t>(i));
			if (!v)
				return tl::unexpected(v.error().with_context(
				        cat("resuming the relay's counts of gateway rule ", i)));
			c.counts_[i] = *v;
		}
	c.relay_rule_ = std::move(relay_rule);
	c.store_ = std::move(store);
	return c;
}

std::uint64_t RelayCounts::add(int rule, std::uint64_t RelayRuleCount::*kind)
{
	const auto i = static_cast<std::size_t>(rule);
	dirty_[i] = true;
	const std::uint64_t before = counts_[i].*kind;
	counts_[i].*kind = before + 1;
	return before;
}

Result<void> RelayCounts::flush()
{
	for (std::size_t i = 0; i < counts_.size(); i++) {
		if (!dirty_[i])
			continue;
		if (store_)
			if (auto r = store_->write(static_cast<std::uint32_t>(i), counts_[i]); !r)
				return tl::unexpected(r.error().with_context(
				        cat("storing the relay's counts of gateway rule ", i)));
		dirty_[i] = false;
	}
	return {};
}

Result<std::unique_ptr<GatewayRelay>> GatewayRelay::open(const Config& cfg, const Logger& log,
                                                         const OpenRelayCountStore& open_store)
{
	const RelayPlan plan = plan_relay(cfg.gateway);
	if (plan.empty())
		return std::unique_ptr<GatewayRelay>{};
	std::unique_ptr<GatewayRelay> r(new GatewayRelay(log, cfg.gateway));
	r->epoll_ = Fd(::epoll_create1(EPOLL_CLOEXEC));
	if (!r->epoll_.valid())
		return fail_errno(errno, "gateway relay: epoll_create1");
	std::vector<bool> relay_rule(cfg.gateway.rules.size());
	for (std::size_t i = 0; i < cfg.gateway.rules.size(); i++) {
		const GatewayRule& rule = cfg.gateway.rules[i];
		const auto seg =
		        std::find_if(cfg.gateway.segments.begin(), cfg.gateway.segments.end(),
		                     [&](const auto& s) { return s.name == rule.segment; });
		// to_secured: classical frames of every segment; to_plain: classical segments only
		relay_rule[i] = rule.direction == GatewayDirection::ToSecured ||
		                (seg != cfg.gateway.segments.end() && seg->classic);
	}
	std::unique_ptr<RelayCountStore> store;
	if (open_store) {
		auto st = open_store();
		if (!st)
			return tl::unexpected(st.error().with_context("gateway relay"));
		store = std::move(*st);
	}
	auto counts = RelayCounts::resume(std::move(relay_rule), std::move(store));
	if (!counts)
		return tl::unexpected(counts.error().with_context("gateway relay"));
	r->counts_.emplace(std::move(*counts));
	r->logged_refused_.resize(cfg.gateway.rules.size());
	r->logged_too_long_.resize(cfg.gateway.rules.size());
	auto add = [&](const std::string& ifname, int segment,
	               const CanSocketOptions& opts) -> Result<void> {
		auto fd = open_can_raw(ifname, opts);
		if (!fd)
			return tl::unexpected(fd.error().with_context("gateway relay"));
		epoll_event ev{};
		ev.events = EPOLLIN;
		ev.data.u64 = r->sockets_.size();
		if (::epoll_ctl(r->epoll_.get(), EPOLL_CTL_ADD, fd->get(), &ev) != 0)
			return fail_errno(errno, "gateway relay: epoll_ctl");
		r->sockets_.push_back(Socket{std::move(*fd), ifname, segment, false});
		return {};
	};
	// The secured side: writes the converted frames (its egress stamps them), reads the
	// verified frames of the to_plain rules of classical segments.
	CanSocketOptions sec;
	sec.nonblocking = true;
	sec.loopback = false;
	sec.filters = plan.from_secured;  // empty: write-only
	r->secured_ = static_cast<int>(r->sockets_.size());
	if (auto a = add(cfg.interface, -1, sec); !a)
		return tl::unexpected(a.error());
	r->segment_socket_.assign(plan.segments.size(), -1);
	for (std::size_t i = 0; i < plan.segments.size(); i++) {
		const RelaySegment& s = plan.segments[i];
		r->segment_names_.push_back(s.name);
		if (::if_nametoindex(s.name.c_str()) == 0) {
			// gone (spsecd opens the relay again when it is back): the others go on
			log.warning(
			        cat("gateway relay: segment ", s.name, " is missing; not relayed"));
			continue;
		}
		CanSocketOptions o;
		o.nonblocking = true;
		o.loopback = false;
		o.filters = s.to_secured;  // empty: write-only (to_plain only)
		// a CAN FD segment: only its classical frames are ours (can-gw carries the rest);
		// a classical one: every frame its rules cover
		o.fd_frames = s.classic;
		// the segment's egress program applies the to_plain rules to frames with this mark
		o.mark = CanSocketOptions::Mark::Required;
		o.mark_value = SPSEC_GW_RELAY_MARK;
		r->segment_socket_[i] = static_cast<int>(r->sockets_.size());
		if (auto a = add(s.name, static_cast<int>(i), o); !a)
			return tl::unexpected(a.error());
	}
	log.info(cat("gateway relay: ", plan.segments.size(),
	             " segments (classical frames converted by spsecd)"));
	return r;
}

std::optional<canfd_frame> GatewayRelay::read_frame(Socket& s)
{
	canfd_frame f{};
	ssize_t n;
	do {
		n = ::read(s.fd.get(), &f, sizeof f);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN)
			return std::nullopt;
		const int err = errno;
		if (err == ENETDOWN) {
			// The interface is (or was, at bind) down: CAN_RAW reports it once and
			// stays bound; frames flow again when it is up.
			log_.info(cat("gateway relay: ", s.ifname, " is down"));
			return std::nullopt;
		}
		// ENODEV: the interface went away. Stop watching; spsecd re-opens the relay when
		// it is back.
		log_.warning(cat("gateway relay: reading from ", s.ifname, ": ", std::strerror(err),
		                 "; the relay on it stops until the interface is back"));
		(void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, s.fd.get(), nullptr);
		s.dead = true;
		return std::nullopt;
	}
	if (n != static_cast<ssize_t>(CAN_MTU) && n != static_cast<ssize_t>(CANFD_MTU))
		return std::nullopt;  // not a CAN frame (cannot happen on CAN_RAW)
	if (n == static_cast<ssize_t>(CAN_MTU)) {
		// a classical frame's bytes 5..7 are can_frame's __pad, __res0, len8_dlc
		f.flags = 0;
		f.__res0 = 0;
		f.__res1 = 0;
	}
	return f;
}

void GatewayRelay::count_refused(int rule, std::string_view what, int err)
{
	counts_->add_refused(rule);
	// the first of a rule since the relay opened is logged, the rest counted (spsecctl stats)
	const auto i = static_cast<std::size_t>(rule);
	if (!logged_refused_[i]) {
		logged_refused_[i] = true;
		log_.warning(cat("gateway relay: rule ", rule, ": writing ", what, ": ",
		                 std::strerror(err), " (further refusals counted, not logged)"));
	}
}

void GatewayRelay::on_segment_frames(Socket& s)
{
	Socket& sec = sockets_[static_cast<std::size_t>(secured_)];
	const std::string& seg = segment_names_[static_cast<std::size_t>(s.segment)];
	for (int i = 0; i < kMaxFramesPerWake && !s.dead; i++) {
		auto rx = read_frame(s);
		if (!rx)
			return;
		const int rule = relay_rule(gw_, GatewayDirection::ToSecured, seg, rx->can_id);
		if (rule < 0)
			continue;  // the filter is the rules' IDs: cannot happen
		const canfd_frame out = relay_to_fd(*rx);
		ssize_t w;
		do {
			w = ::write(sec.fd.get(), &out, sizeof out);
		} while (w < 0 && errno == EINTR);
		if (w == static_cast<ssize_t>(sizeof out))
			counts_->add_relayed(rule);
		else
			count_refused(rule, cat("to ", sec.ifname), w < 0 ? errno : EIO);
	}
}

void GatewayRelay::on_secured_frames(Socket& s)
{
	for (int i = 0; i < kMaxFramesPerWake && !s.dead; i++) {
		auto rx = read_frame(s);
		if (!rx)
			return;
		for (std::size_t k = 0; k < segment_names_.size(); k++) {
			const int rule = relay_rule(gw_, GatewayDirection::ToPlain,
			                            segment_names_[k], rx->can_id);
			if (rule < 0 || !counts_->served(static_cast<std::size_t>(rule)))
				continue;
			const auto out = relay_to_classical(*rx);
			if (!out) {
				counts_->add_too_long(rule);
				const auto ri = static_cast<std::size_t>(rule);
				if (!logged_too_long_[ri]) {
					logged_too_long_[ri] = true;
					log_.warning(
					        cat("gateway relay: rule ", rule, ": a frame of ",
					            static_cast<unsigned>(rx->len),
					            " bytes does not fit the classical segment ",
					            segment_names_[k],
					            " (not carried; further ones counted)"));
				}
				continue;
			}
			if (segment_socket_[k] < 0)
				continue;  // the segment is missing
			Socket& seg = sockets_[static_cast<std::size_t>(segment_socket_[k])];
			if (seg.dead)
				continue;
			ssize_t w;
			do {
				w = ::write(seg.fd.get(), &*out, sizeof *out);
			} while (w < 0 && errno == EINTR);
			if (w == static_cast<ssize_t>(sizeof *out))
				counts_->add_relayed(rule);
			else
				count_refused(rule, cat("to ", seg.ifname), w < 0 ? errno : EIO);
		}
	}
}

void GatewayRelay::process()
{
	epoll_event evs[16];
	const int n = ::epoll_wait(epoll_.get(), evs, 16, 0);
	for (int i = 0; i < n; i++) {
		Socket& s = sockets_[static_cast<std::size_t>(evs[i].data.u64)];
		if (s.dead)
			continue;
		if (s.segment < 0)
			on_secured_frames(s);
		else
			on_segment_frames(s);
	}
	// one map update per changed rule and wake-up, not per frame
	if (auto r = counts_->flush(); !r) {
		if (!flush_failed_)
			log_.warning(
			        cat(r.error().message(),
			            " (spsecctl stats lags until a write succeeds; logged once)"));
		flush_failed_ = true;
	}
}

Json GatewayRelay::status() const
{
	Json rules = Json::array();
	const auto& counts = counts_->counts();
	for (std::size_t i = 0; i < counts.size(); i++) {
		if (!counts_->served(i))
			continue;
		rules.push_back({{"rule", i},
		                 {"relayed", counts[i].relayed},
		                 {"too_long", counts[i].too_long},
		                 {"refused", counts[i].refused}});
	}
	std::size_t live = 0;
	for (const auto& s : sockets_)
		live += s.dead ? 0 : 1;
	return {{"sockets", live}, {"rules", rules}};
}

}  // namespace spsec
