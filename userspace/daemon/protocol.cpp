// SPDX-License-Identifier: Apache-2.0
// The Daemon's protocol half: the participant state machine (core/state_machine.h) driven by
// timers and control-plane frames, Parameter Authentication, Sync broadcasts, Communication Key
// roll-over and Secure heartbeats. Rules in docs/operations.md ("Protocol").
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "common/atomic_file.h"
#include "common/json.h"
#include "core/hex.h"
#include "daemon/daemon.h"

namespace spsec {

namespace {

constexpr std::uint64_t kMs = 1'000'000;
// Report-limiter keys of log lines that are not security events (codes are 16 bits).
constexpr std::uint32_t kMalformedPaRequest = 0x10001;
constexpr std::uint32_t kMalformedPaResponse = 0x10002;

std::uint64_t ms(std::chrono::milliseconds d)
{
	return static_cast<std::uint64_t>(d.count()) * kMs;
}

Json code_fields(std::uint16_t code, std::string_view detail)
{
	return {{"code", hex32(code)}, {"name", event_code_name(code)}, {"detail", detail}};
}

}  // namespace

StampParams Daemon::stamp_params() const
{
	StampParams p;
	p.aead = config_->aead;
	p.mode = config_->mode;
	p.seed_salt = keys_->get(KeyRole::Seed)->salt;
	return p;
}

Aead* Daemon::key_for(std::uint64_t window) noexcept
{
	auto& k = live_keys_[window_parity(window)];
	if (!k || k->window != window)
		return nullptr;
	return k->aead.get();
}

std::uint64_t Daemon::heartbeat_period_ns() const
{
	return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
	                                          heartbeat_period(config_->heartbeat.cycle))
	                                          .count());
}

// ---- state machine ---------------------------------------------------------------------------

bool Daemon::admit_report(std::uint32_t key, std::uint64_t& suppressed)
{
	auto r = reports_.admit(key, deps_.clock->monotonic_ns());
	if (!r)
		return false;
	suppressed = *r;
	return true;
}

void Daemon::security_event(std::uint16_t code, std::string_view detail, bool unauthenticated)
{
	record_event_code(code);
	// [choice] Unauthenticated input can raise these as fast as the bus carries frames: the
	// log line and the event are rate-limited, the state machine still sees every one.
	std::uint64_t suppressed = 0;
	if (admit_report(code, suppressed)) {
		deps_.log->warning(cat("security event ", hex32(code), " (", event_code_name(code),
		                       "): ", detail,
		                       suppressed != 0 ? cat(" (", suppressed, " more suppressed)")
		                                       : std::string()));
		Json fields = code_fields(code, detail);
		fields["suppressed"] = suppressed;
		emit_event("security_event", fields);
	}
	apply(SmEvent::SecurityEvent, code, unauthenticated);
}

void Daemon::apply(SmEvent ev, std::uint16_t code, bool unauthenticated)
{
	SmInput in;
	in.event = ev;
	in.event_code = code;
	in.unauthenticated = unauthenticated;
	// Exit Config returns to Secure only with usable keys: clock, Seed Key and csalt.
	in.synchronized = clock_ && clock_->is_set() && has_seed() && csalt_.has_value();
	const Transition tr = step(sm_, in);
	if (!tr.valid) {
		deps_.log->debug(cat("state machine: ", sm_event_name(ev), " ignored in ",
		                     spsec::state_name(sm_.state), ": ", tr.why));
		return;
	}
	const std::uint64_t now = deps_.clock->monotonic_ns();
	const Actions a = tr.actions;
	const bool was_alert = sm_.alert;
	sm_ = tr.next;
	deps_.log->info(cat("state machine: ", sm_event_name(ev), " -> ",
	                    spsec::state_name(sm_.state), " (", tr.why, ")"));
	bool establish_sync_now = false;
	// Carried out in the Action enum's order: stop before wipe before start.
	if (a.has(Action::DataPlaneOff))
		set_state(static_cast<std::uint32_t>(sm_.state));
	if (a.has(Action::StopHeartbeat))
		hb_due_ = 0;
	if (a.has(Action::StopHoldTimer))
		hold_due_ = 0;
	if (a.has(Action::StopAbortTimer))
		abort_due_ = 0;
	if (a.has(Action::StopSyncWatchdog))
		sync_deadline_ = 0;
	if (a.has(Action::StopPa)) {
		pa_due_ = 0;
		pa_pending_ = false;
	}
	if (a.has(Action::WipeKeys))
		wipe_comm_keys();
	if (a.has(Action::ReportParticipantId))
		deps_.log->info(
		        cat("participant ID ", static_cast<unsigned>(config_->participant_id)));
	if (a.has(Action::StartPa)) {
		if (config_->sync_role)
			establish_sync_now = true;  // the Sync is its own time source
		else {
			send_pa_request();  // now, then every pa_retry
			pa_due_ = now + ms(config_->timeouts.pa_retry);
		}
	}
	if (a.has(Action::StartHoldTimer))
		hold_due_ = now + ms(config_->timeouts.warning_hold);
	if (a.has(Action::StartAbortTimer))
		abort_due_ = now + ms(config_->timeouts.warning_abort);
	if (a.has(Action::StartSyncWatchdog) && !config_->sync_role)
		sync_deadline_ = now + ms(config_->timeouts.sync_abort);
	if (a.has(Action::StartHeartbeat) && config_->heartbeat.cycle != HeartbeatCycle::Off)
		hb_due_ = next_heartbeat_ns();
	if (tr.next.state == State::Secure && ev == SmEvent::SecurityEstablished) {
		monitor_since_ = now;
		if (config_->sync_role)
			bcast_due_ = now + kSyncBroadcastNs;
	}
	if (sm_.state != State::Secure && sm_.state != State::Warning)
		bcast_due_ = 0;
	if (!a.has(Action::DataPlaneOff) || a.has(Action::DataPlaneOn))
		set_state(static_cast<std::uint32_t>(sm_.state));
	if (was_alert != sm_.alert)
		emit_event("alert", {{"on", sm_.alert}});
	if (establish_sync_now)
		establish_sync();
	rearm_timer();
}

// ---- start-up --------------------------------------------------------------------------------

Result<void> Daemon::load_or_draw_csalt(bool reuse)
{
	// csalt is public (it travels in PA responses); it is kept only so a restarted Sync can
	// resume without forcing every participant through a Security Abort.
	std::string path = cat(deps_.state_dir, "/", config_->interface, ".csalt");
	if (reuse) {
		std::ifstream in(path);
		std::string line;
		if (in && std::getline(in, line)) {
			auto bytes = parse_hex(line);
			if (bytes && bytes->size() == 4) {
				CommSalt c{};
				std::copy(bytes->begin(), bytes->end(), c.begin());
				csalt_ = c;
				deps_.log->info("Sync role: resuming with the persisted csalt");
				return {};
			}
			deps_.log->warning(cat(path, " is not 8 hex digits: drawing a new csalt"));
		}
	}
	CommSalt c{};
	if (auto r = deps_.random(c); !r)
		return tl::unexpected(r.error().with_context("drawing csalt"));
	csalt_ = c;
	if (auto r = write_file_atomic(path, format_hex(c) + "\n", 0600); !r)
		return tl::unexpected(r.error().with_context("persisting csalt"));
	return {};
}

Result<void> Daemon::resume_or_start()
{
	auto t = Timer::monotonic();
	if (!t)
		return tl::unexpected(t.error());
	proto_timer_ = std::move(*t);
	auto w =
	        loop_->watch(proto_timer_->fd(), EPOLLIN, "protocol-timers", [this](std::uint32_t) {
		        (void)proto_timer_->consume();
		        run_timers();
	        });
	if (!w)
		return tl::unexpected(w.error());

	std::optional<DataPlaneState> pinned = deps_.data_plane->live_pinned_state();
	if (pinned && pinned->tick_ns != config_->tick_ns) {
		deps_.log->warning("pinned data plane runs another tick: not resuming");
		pinned.reset();
	}
	if (pinned && !has_seed()) {
		deps_.log->warning("no Seed Key: not resuming the pinned data plane");
		pinned.reset();
	}
	if (config_->sync_role) {
		if (auto r = load_or_draw_csalt(pinned.has_value()); !r)
			return r;
	}
	if (pinned) {
		// Resume without a gap: keep the pinned state, clock and keys exactly as they are
		// (nothing is published) until our own synchronization takes over.
		resumed_ = true;
		if (auto r = clock_->adopt(pinned->base_ns, pinned->base_t, pinned->tick_ns); !r)
			return tl::unexpected(r.error().with_context("resuming the pinned clock"));
		sm_.state = static_cast<State>(pinned->state);
		state_ = pinned->state;
		deps_.log->info(cat("resuming the live pinned data plane: state ",
		                    state_name(state_), ", T ", clock_->now_t()));
		emit_event("resumed", {{"state", state_name(state_)}});
		const std::uint64_t now = deps_.clock->monotonic_ns();
		if (sm_.state == State::Warning) {
			// The Warning's hold and abort timers died with the previous instance:
			// restart them (as if the Warning began now), else it never ends.
			sm_.alert = true;
			hold_due_ = now + ms(config_->timeouts.warning_hold);
			abort_due_ = now + ms(config_->timeouts.warning_abort);
		}
		if (config_->sync_role) {
			// The persisted T file was written ahead by the previous instance; the
			// adopted clock continues it, so T never repeats.
			if (auto p = persist_t_if_needed(); !p)
				return p;
			resumed_ = false;
			update_keys();  // same csalt and clock: identical keys, a no-gap flip
			bcast_due_ = now + kSyncBroadcastNs;
			monitor_since_ = now;
			if (config_->heartbeat.cycle != HeartbeatCycle::Off)
				hb_due_ = next_heartbeat_ns();
		} else {
			// Our PA re-establishes clock and keys; without it the sync watchdog
			// aborts.
			send_pa_request();
			pa_due_ = now + ms(config_->timeouts.pa_retry);
			sync_deadline_ = now + ms(config_->timeouts.sync_abort);
			monitor_since_ = now;
		}
		rearm_timer();
		return {};
	}
	apply(SmEvent::StartSecurity);
	return {};
}

void Daemon::establish_sync()
{
	if (!has_seed()) {
		deps_.log->info("Sync role: no Seed Key yet, staying in Waiting");
		return;
	}
	if (!csalt_) {
		if (auto r = load_or_draw_csalt(false); !r) {
			deps_.log->error(r.error().message());
			return;
		}
	}
	update_keys();
	apply(SmEvent::SecurityEstablished);
}

// ---- keys ------------------------------------------------------------------------------------

void Daemon::wipe_comm_keys()
{
	for (auto& k : live_keys_)
		k.reset();  // the Aead contexts hold the only copies; OpenSSL frees them cleansed
	if (!config_->sync_role)
		csalt_.reset();
	key_due_ = 0;
	fresh_.clear();
	if (auto r = deps_.data_plane->wipe_keys(); !r)
		deps_.log->error(r.error().with_context("wiping the data-plane keys").message());
	emit_event("keys_wiped");
}

void Daemon::update_keys()
{
	if (!csalt_ || !clock_ || !clock_->is_set() || !has_seed())
		return;
	const KeyEntry* seed = keys_->get(KeyRole::Seed);
	const std::uint64_t t = clock_->now_t();
	const LiveWindows lw = live_windows(t);
	for (unsigned parity = 0; parity < 2; parity++) {
		auto want = lw.in_slot(parity);
		if (!want)
			continue;
		auto& slot = live_keys_[parity];
		if (slot && slot->window == *want)
			continue;
		auto key = derive_comm_key(seed->key, *want, *csalt_);
		if (!key) {
			deps_.log->error(
			        key.error().with_context("deriving a Communication Key").message());
			continue;
		}
		auto aead = Aead::create(config_->aead, *key);
		if (!aead) {
			deps_.log->error(aead.error().message());
			continue;
		}
		if (auto r = deps_.data_plane->install_key(config_->aead, *key, seed->salt, *want);
		    !r) {
			deps_.log->error(r.error().message());
			continue;
		}
		slot = LiveKey{*want, std::move(*aead)};
		deps_.log->info(cat("Communication Key of window ", *want, " installed (slot ",
		                    parity == 0 ? "even" : "odd", ")"));
		emit_event("key_installed", {{"window", *want}});
	}
	// Next change of the live set: the half of this window (K(e+1) ahead) or its end.
	const std::uint64_t e = key_window(t);
	const std::uint64_t next_t = (t & (kWindowTicks - 1)) < kHalfWindowTicks
	                                     ? window_n(e)
	                                     : (e + 1) << SPSEC_WINDOW_SHIFT;
	key_due_ = clock_->mono_at(next_t);
}

// ---- timers ----------------------------------------------------------------------------------

std::uint64_t Daemon::next_heartbeat_ns() const
{
	// Slot: pp ms after each full cycle on the synchronized clock (spec §5).
	const std::uint64_t tick = config_->tick_ns;
	const std::uint64_t cycle = std::max<std::uint64_t>(heartbeat_period_ns() / tick, 1);
	const std::uint64_t off = config_->participant_id * kMs / tick % cycle;
	const std::uint64_t now_t = clock_->now_t();
	std::uint64_t target = (now_t / cycle) * cycle + off;
	while (target <= now_t)
		target += cycle;
	return clock_->mono_at(target);
}

void Daemon::run_timers()
{
	if (!config_ || !clock_)
		return;
	const std::uint64_t now = deps_.clock->monotonic_ns();
	auto due = [now](std::uint64_t& d) {
		if (d == 0 || d > now)
			return false;
		d = 0;
		return true;
	};
	if (due(key_due_))
		update_keys();
	if (due(sync_deadline_)) {
		deps_.log->warning(cat("security event ", hex32(event_code::kSyncAbort),
		                       " (sync_abort): no verifiable Sync broadcast for ",
		                       config_->timeouts.sync_abort.count(),
		                       " ms: Security Abort"));
		record_event_code(event_code::kSyncAbort);
		emit_event("security_event",
		           code_fields(event_code::kSyncAbort, "no verifiable sync in time"));
		resumed_ = false;
		apply(SmEvent::SyncLost, event_code::kSyncAbort);
		if (clock_ && !config_->sync_role && sm_.state == State::Waiting) {
			clock_->reset();
			set_state(state_);  // publishes the cleared clock
		}
	}
	if (due(abort_due_))
		apply(SmEvent::WarningSustained);
	if (due(hold_due_))
		apply(SmEvent::HoldExpired);
	if (due(pa_due_)) {
		send_pa_request();
		pa_due_ = now + ms(config_->timeouts.pa_retry);
	}
	if (due(bcast_due_)) {
		send_sync_broadcast();
		bcast_due_ = now + kSyncBroadcastNs;
	}
	if (due(hb_due_)) {
		if (!sm_.heartbeat_suppressed)
			send_heartbeat();
		hb_due_ = next_heartbeat_ns();
	}
	if (session_) {
		if (auto d = session_->next_deadline(); d && *d <= now)
			handle_session_output(session_->on_tick(now));
	}
	if (commission_until_ != 0 && commission_until_ <= now)
		close_commissioning("expired");
	check_peers(now);
	rearm_timer();
}

void Daemon::check_peers(std::uint64_t now)
{
	if (sm_.state != State::Secure && sm_.state != State::Warning)
		return;
	const std::uint64_t period = heartbeat_period_ns();
	if (period == 0)
		return;
	const std::uint64_t limit = period * 5 / 2;
	std::vector<std::uint8_t> watched = config_->heartbeat.monitor;
	if (config_->heartbeat.monitor_all)
		for (const auto& [pp, p] : peers_)
			watched.push_back(pp);
	for (std::uint8_t pp : watched) {
		Peer& p = peers_[pp];
		const std::uint64_t since = std::max(p.last_ns, monitor_since_);
		if (p.missing || now < since + limit)
			continue;
		p.missing = true;
		security_event(heartbeat_missing_event(pp),
		               cat("heartbeat of participant ", static_cast<unsigned>(pp),
		                   " missing for 2.5 cycles"),
		               false);
	}
}

void Daemon::rearm_timer()
{
	if (!proto_timer_)
		return;
	std::uint64_t next = 0;
	auto consider = [&next](std::uint64_t d) {
		if (d != 0 && (next == 0 || d < next))
			next = d;
	};
	for (std::uint64_t d : {pa_due_, bcast_due_, hb_due_, sync_deadline_, hold_due_, abort_due_,
	                        key_due_, commission_until_})
		consider(d);
	if (session_)
		if (auto d = session_->next_deadline(); d)
			consider(std::max<std::uint64_t>(*d, 1));
	const std::uint64_t period = heartbeat_period_ns();
	if (period != 0 && (sm_.state == State::Secure || sm_.state == State::Warning)) {
		std::vector<std::uint8_t> watched = config_->heartbeat.monitor;
		for (const auto& [pp, p] : peers_)
			if (config_->heartbeat.monitor_all ||
			    std::count(watched.begin(), watched.end(), pp))
				if (!p.missing)
					consider(std::max(p.last_ns, monitor_since_) +
					         period * 5 / 2);
		for (std::uint8_t pp : watched)
			if (!peers_.count(pp))
				consider(monitor_since_ + period * 5 / 2);
	}
	if (next == 0) {
		(void)proto_timer_->disarm();
		return;
	}
	const std::uint64_t now = deps_.clock->monotonic_ns();
	if (auto r = proto_timer_->arm_after(next > now ? next - now : 1); !r)
		deps_.log->error(r.error().with_context("arming the protocol timer").message());
}

// ---- sending ---------------------------------------------------------------------------------

std::uint64_t Daemon::send_frame(const CanFrame& f, std::string_view what)
{
	const std::uint64_t before = deps_.clock->monotonic_ns();
	if (!can_)
		return before;
	auto r = can_->send(to_kernel_frame(f));
	if (!r) {
		deps_.log->warning(r.error().with_context(cat("sending ", what)).message());
		return before;
	}
	return *r != 0 ? *r : before;
}

void Daemon::send_pa_request()
{
	if (!has_seed()) {
		deps_.log->debug("no Seed Key: no Parameter Authentication request");
		return;
	}
	PaRequest m;
	m.pp = config_->participant_id;
	if (auto r = deps_.random(m.random); !r) {
		deps_.log->error(r.error().with_context("PA request random").message());
		return;
	}
	pa_rnd_ = m.random;
	pa_pending_ = true;
	// The round trip starts when the request went out, not when we built it.
	pa_sent_ns_ = send_frame(encode_pa_request(m), "a PA request");
	deps_.log->debug("Parameter Authentication request sent");
}

void Daemon::send_sync_broadcast()
{
	const std::uint64_t t = clock_->now_t();
	Aead* k = key_for(key_window(t));
	if (k == nullptr) {
		deps_.log->warning("Sync broadcast skipped: no key for the current window");
		return;
	}
	auto f = seal_sync_broadcast(*k, stamp_params(), t);
	if (!f) {
		deps_.log->error(f.error().with_context("sealing the Sync broadcast").message());
		return;
	}
	send_frame(*f, "the Sync broadcast");
}

void Daemon::send_heartbeat()
{
	if (sm_.state != State::Secure && sm_.state != State::Warning)
		return;
	const std::uint64_t stamped_ns = deps_.clock->monotonic_ns();
	const std::uint64_t t = clock_->t_at(stamped_ns);
	Aead* k = key_for(key_window(t));
	if (k == nullptr)
		return;  // resumed, our own PA has not completed yet
	auto f = seal_heartbeat(*k, stamp_params(), config_->participant_id, sm_.reg50(), t);
	if (!f) {
		deps_.log->error(f.error().with_context("sealing the heartbeat").message());
		return;
	}
	last_hb_sent_ns_ = deps_.clock->monotonic_ns();
	// Everything between taking T and the frame leaving makes it late at every receiver.
	const std::uint64_t tx_ns = send_frame(*f, "the heartbeat");
	if (tx_ns > stamped_ns)
		hb_send_lag_max_ns_ = std::max(hb_send_lag_max_ns_, tx_ns - stamped_ns);
}

// ---- receiving -------------------------------------------------------------------------------

void Daemon::process_can()
{
	if (!can_)
		return;
	for (int i = 0; i < kMaxFramesPerWake; i++) {
		auto r = can_->receive();
		if (!r) {
			deps_.log->warning(r.error().message());
			break;
		}
		if (!*r)
			break;
		// The frame's time is when the kernel received it: nothing spsecd does after that
		// (waking up, reading, verifying) may enter the clock.
		const std::uint64_t rx_ns =
		        (*r)->rx_ns != 0 ? (*r)->rx_ns : deps_.clock->monotonic_ns();
		const canfd_frame& kf = (*r)->frame;
		// CanPort gives no read size: a frame is CAN FD by its length or flag.
		const CanFrame f = from_kernel_frame(kf, kf.len > 8 || (kf.flags & CANFD_FDF) != 0);
		deps_.log->debug(cat("control frame ", hex32(f.can_id), " len ",
		                     static_cast<unsigned>(f.len)));
		auto c = classify_control_id(f.can_id);
		if (!c) {
			deps_.log->debug(cat("control frame ", hex32(f.can_id), ": ",
			                     msg_errc_name(c.error().code)));
			continue;
		}
		switch (c->kind) {
		case ControlKind::PaRequest:
			on_pa_request(f);
			break;
		case ControlKind::PaResponse:
			on_pa_response(f, rx_ns);
			break;
		case ControlKind::SyncBroadcast:
			on_sync_broadcast(f, rx_ns);
			break;
		case ControlKind::Heartbeat:
			on_heartbeat(f, rx_ns);
			break;
		case ControlKind::ClientHello:
		case ControlKind::ClientFinished:
		case ControlKind::ReadInitRequest:
		case ControlKind::ReadSegRequest:
		case ControlKind::WriteInitRequest:
		case ControlKind::WriteSegRequest:
		case ControlKind::TerminateRequest:
			on_session_frame(f);
			break;
		default:
			deps_.log->debug(cat("control frame ", hex32(f.can_id), " (",
			                     control_kind_name(c->kind), ") not handled"));
			break;
		}
	}
	rearm_timer();
}

void Daemon::on_pa_request(const CanFrame& f)
{
	if (!config_->sync_role || !csalt_ || !clock_->is_set() || !has_seed())
		return;
	if (sm_.state != State::Secure && sm_.state != State::Warning)
		return;
	auto m = decode_pa_request(f);
	if (!m) {
		if (std::uint64_t n = 0; admit_report(kMalformedPaRequest, n))
			deps_.log->warning(to_error(m.error(), "PA request").message());
		return;
	}
	auto resp = make_pa_response(config_->aead, keys_->get(KeyRole::Seed)->key, m->random,
	                             m->pp, clock_->now_t(), *csalt_);
	if (!resp) {
		deps_.log->error(resp.error().with_context("PA response").message());
		return;
	}
	deps_.log->info(
	        cat("answering the PA request of participant ", static_cast<unsigned>(m->pp)));
	emit_event("pa_answered", {{"pp", static_cast<unsigned>(m->pp)}});
	send_frame(encode_pa_response(*resp), "a PA response");
}

void Daemon::on_pa_response(const CanFrame& f, std::uint64_t rx_ns)
{
	if (config_->sync_role || !has_seed())
		return;
	auto m = decode_pa_response(f);
	if (!m) {
		if (std::uint64_t n = 0; admit_report(kMalformedPaResponse, n))
			deps_.log->warning(to_error(m.error(), "PA response").message());
		return;
	}
	if (m->pp != config_->participant_id || !pa_pending_)
		return;  // for another node, or no request outstanding (late or duplicate)
	// The round trip from the request's send time to the response's kernel receive time;
	// verification below takes what it takes, T is set for rx_ns.
	const std::uint64_t rtt = rx_ns > pa_sent_ns_ ? rx_ns - pa_sent_ns_ : 0;
	if (auto v = deps_.verify_pa(config_->aead, keys_->get(KeyRole::Seed)->key, pa_rnd_, *m);
	    !v) {
		// FE00h; in Waiting the state machine has nothing to do, the request is retried.
		record_event_code(event_code::kPaAuthFailure);
		std::uint64_t suppressed = 0;
		if (admit_report(event_code::kPaAuthFailure, suppressed)) {
			deps_.log->warning(to_error(v.error(), "PA response").message());
			Json fields = code_fields(event_code::kPaAuthFailure,
			                          msg_errc_name(v.error().code));
			fields["suppressed"] = suppressed;
			emit_event("security_event", fields);
		}
		return;
	}
	if (rtt > ms(config_->timeouts.pa_max_rtt)) {
		deps_.log->warning(cat("PA response discarded: round trip ", rtt / 1000,
		                       " us exceeds timeouts.pa_max_rtt ",
		                       config_->timeouts.pa_max_rtt.count(), " ms"));
		emit_event("pa_discarded", {{"rtt_us", rtt / 1000}});
		return;
	}
	pa_pending_ = false;
	const std::uint64_t t = m->tim + rtt / 2 / config_->tick_ns;
	if (auto s = clock_->set_at(t, rx_ns); !s) {
		deps_.log->error(s.error().message());
		return;
	}
	clock_probation_ = true;
	clear_peer_offsets();
	const std::uint64_t now = deps_.clock->monotonic_ns();
	if (csalt_ != m->csalt) {
		for (auto& k : live_keys_)
			k.reset();
		fresh_.clear();
	}
	csalt_ = m->csalt;
	const std::uint64_t handled_us = now > rx_ns ? (now - rx_ns) / 1000 : 0;
	deps_.log->info(cat("Parameter Authentication succeeded: T = ", t,
	                    " at the response's receive time, round trip ", rtt / 1000,
	                    " us, handled ", handled_us, " us after it arrived"));
	emit_event("pa_ok", {{"t", t}, {"rtt_us", rtt / 1000}});
	update_keys();
	if (resumed_ || sm_.state == State::Secure || sm_.state == State::Warning) {
		// Taking over from the resumed state, or a PA run again in service because our
		// clock was behind: the state stays, now on our own (new) clock and keys.
		resumed_ = false;
		pa_due_ = 0;
		sync_deadline_ = now + ms(config_->timeouts.sync_abort);
		if (config_->heartbeat.cycle != HeartbeatCycle::Off)
			hb_due_ = next_heartbeat_ns();
		set_state(state_);
		rearm_timer();
		return;
	}
	apply(SmEvent::SecurityEstablished);
}

void Daemon::on_sync_broadcast(const CanFrame& f, std::uint64_t rx_ns)
{
	if (config_->sync_role || !clock_->is_set() || resumed_ || !has_seed())
		return;
	if (sm_.state != State::Secure && sm_.state != State::Warning)
		return;
	OpenParams op;
	op.stamp = stamp_params();
	op.window = config_->acceptance_window;
	// Checked, and applied, at the broadcast's receive time.
	auto b = open_sync_broadcast(
	        op, f, clock_->t_at(rx_ns), [this](std::uint64_t w) { return key_for(w); },
	        &fresh_);
	if (!b) {
		if (clock_probation_ && b.error().code == MsgErrc::StampRejected &&
		    clock_behind_sync(f, rx_ns))
			return;
		security_event(event_code::kSyncAuthFailure,
		               to_error(b.error(), "Sync broadcast").message(), true);
		return;
	}
	clock_probation_ = false;
	quick_pa_count_ = 0;
	auto adj = clock_->adjust_at(b->t, rx_ns);
	if (!adj) {
		deps_.log->warning(adj.error().with_context("Sync broadcast").message());
		emit_event("sync_refused", {{"t", b->t}});
		return;
	}
	sync_deadline_ = deps_.clock->monotonic_ns() + ms(config_->timeouts.sync_abort);
	const bool forward = *adj == SyncClock::Adjust::Forward;
	if (forward) {
		clear_peer_offsets();
		set_state(state_);  // publishes the re-based clock
		update_keys();
	}
	deps_.log->debug(cat("Sync broadcast applied: T ", b->t, forward ? " (forward)" : ""));
	emit_event("sync", {{"t", b->t}, {"forward", forward}});
	rearm_timer();
}

// A Sync broadcast failed the window (or, 12-bit stamp wrapped, the tag) while our clock is on
// probation after PA. Is it authentic, stamped more than W ahead of us? Then our clock is behind
// the Sync's: run PA again now rather than wait for sync_abort. Only an authentic frame counts,
// and only one stamped ahead: a keyless sender cannot make one (the tag), and a replayed or
// delayed broadcast is stamped behind, never ahead. The search tries the T candidates that the
// frame's 12 stamp bits allow within kSearchPeriods stamp periods (4096 ticks) either side of our
// T, each with the window opened to the whole period and no freshness update; it runs at most
// for kMaxQuickPa broadcasts until one passes the window, so garbage costs a bounded number of
// AEAD operations and cannot start more than kMaxQuickPa PA runs in a row.
bool Daemon::clock_behind_sync(const CanFrame& f, std::uint64_t rx_ns)
{
	constexpr std::int64_t kSearchPeriods = 4;
	constexpr std::uint64_t kPeriod = 4096;  // ticks one 12-bit stamp spans
	constexpr unsigned kMaxQuickPa = 3;
	if (quick_pa_count_ >= kMaxQuickPa)
		return false;
	const std::uint64_t local_t = clock_->t_at(rx_ns);
	OpenParams op;
	op.stamp = stamp_params();
	op.window = kPeriod / 2;  // every reconstruction is accepted; the tag decides
	std::optional<SyncBroadcast> found;
	for (std::int64_t k = -kSearchPeriods; k <= kSearchPeriods && !found; k++) {
		const std::int64_t shift = k * static_cast<std::int64_t>(kPeriod);
		if (shift < 0 && local_t <= static_cast<std::uint64_t>(-shift))
			continue;
		const std::uint64_t guess = local_t + static_cast<std::uint64_t>(shift);
		auto b = open_sync_broadcast(op, f, guess,
		                             [this](std::uint64_t w) { return key_for(w); });
		if (b)
			found = *b;
	}
	if (!found)
		return false;
	const std::int64_t ahead_ns = clock_->offset_ns(found->frame_t, rx_ns);
	const auto w_ns = static_cast<std::int64_t>(config_->acceptance_window * config_->tick_ns);
	if (ahead_ns <= w_ns) {
		deps_.log->debug(cat("Sync broadcast outside the window is authentic but ",
		                     -ahead_ns / 1000, " us behind our clock: not acted on"));
		return false;
	}
	quick_pa_count_++;
	clock_probation_ = false;
	deps_.log->warning(cat("our clock is ", ahead_ns / 1000,
	                       " us behind the Sync's (an authentic Sync broadcast outside the "
	                       "window right after PA): Parameter Authentication again"));
	emit_event("clock_behind", {{"behind_us", ahead_ns / 1000}});
	send_pa_request();
	pa_due_ = deps_.clock->monotonic_ns() + ms(config_->timeouts.pa_retry);
	rearm_timer();
	return true;
}

void Daemon::clear_peer_offsets() noexcept
{
	for (auto& [pp, p] : peers_)
		p.offsets.clear();
}

// A heartbeat failed the window: was it authentic, and how far off? Opened once more with the
// window spanning the whole 12-bit stamp period, at the T values its stamp bits allow within one
// period (4096 ticks) either side of ours, and no freshness update (the frame stays rejected and
// reported). An authentic one is a sample like any other (stamp T minus our T at its receive
// time): late means it was delayed (its sender stalled between stamping and sending, or the
// path to us did), early means that peer's clock is ahead of ours. Only counted, per peer.
void Daemon::note_window_miss(const CanFrame& f, std::uint64_t rx_ns)
{
	constexpr std::uint64_t kPeriod = 4096;
	OpenParams op;
	op.stamp = stamp_params();
	op.window = kPeriod / 2;
	const std::uint64_t local_t = clock_->t_at(rx_ns);
	MsgResult<Heartbeat> h = tl::unexpected(MsgError{});
	for (std::uint64_t guess : {local_t, local_t - kPeriod, local_t + kPeriod}) {
		if (guess > local_t + kPeriod || guess == 0)
			continue;  // below T = 1
		h = open_heartbeat(op, f, guess, [this](std::uint64_t w) { return key_for(w); });
		if (h)
			break;
	}
	if (!h || h->pp == config_->participant_id)
		return;
	Peer& p = peers_[h->pp];
	const std::int64_t off = clock_->offset_ns(h->t, rx_ns);
	auto magnitude = [](std::int64_t v) { return v < 0 ? -v : v; };
	p.window_misses++;
	if (magnitude(off) > magnitude(p.window_miss_worst_ns))
		p.window_miss_worst_ns = off;
}

void Daemon::on_heartbeat(const CanFrame& f, std::uint64_t rx_ns)
{
	if (!clock_->is_set() || !has_seed() ||
	    (sm_.state != State::Secure && sm_.state != State::Warning))
		return;
	OpenParams op;
	op.stamp = stamp_params();
	op.window = config_->acceptance_window;
	auto h = open_heartbeat(
	        op, f, clock_->t_at(rx_ns), [this](std::uint64_t w) { return key_for(w); },
	        &fresh_);
	if (!h) {
		if (resumed_)
			return;  // our keys are not re-established yet
		const bool replay = h.error().code == MsgErrc::StampRejected &&
		                    h.error().stamp_reason == SPSEC_R_RX_REPLAY;
		if (h.error().code == MsgErrc::StampRejected &&
		    h.error().stamp_reason == SPSEC_R_RX_OUTSIDE_WINDOW)
			note_window_miss(f, rx_ns);
		security_event(replay ? event_code::kDuplicate : event_code::kDataAuthFailure,
		               to_error(h.error(), "heartbeat").message(), true);
		return;
	}
	if (h->pp == config_->participant_id) {
		// Verified: a Seed-Key holder sends our ID (authenticated evidence).
		security_event(event_code::kInjection, "a heartbeat with our own participant ID",
		               false);
		return;
	}
	Peer& p = peers_[h->pp];
	const bool was_missing = p.missing;
	p.last_ns = deps_.clock->monotonic_ns();
	p.status = h->status;
	p.missing = false;
	if (p.offsets.size() == kOffsetSamples)
		p.offsets.erase(p.offsets.begin());
	p.offsets.push_back(clock_->offset_ns(h->t, rx_ns));
	if (was_missing) {
		deps_.log->info(
		        cat("heartbeat of participant ", static_cast<unsigned>(h->pp), " is back"));
		emit_event("heartbeat_back", {{"pp", static_cast<unsigned>(h->pp)}});
	}
}

}  // namespace spsec
