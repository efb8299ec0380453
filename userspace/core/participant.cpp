// SPDX-License-Identifier: Apache-2.0
#include "core/participant.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "core/key_schedule.h"

namespace spsec {

namespace {

using Act = ParticipantAction;
constexpr std::uint64_t kMs = 1'000'000;
// Report-limiter keys of log lines that are not security events (codes are 16 bits).
constexpr std::uint32_t kMalformedPaRequest = 0x10001;
constexpr std::uint32_t kMalformedPaResponse = 0x10002;

std::uint64_t ms(std::chrono::milliseconds d)
{
	return static_cast<std::uint64_t>(d.count()) * kMs;
}

// Log text without the daemon's logger: strings and integers.
void append(std::string& s, std::string_view v)
{
	s.append(v);
}
void append(std::string& s, const std::string& v)
{
	s.append(v);
}
void append(std::string& s, const char* v)
{
	s.append(v);
}
template <class T>
requires std::is_integral_v<T>
void append(std::string& s, T v)
{
	s.append(std::to_string(v));
}
template <class... A> std::string str(const A&... a)
{
	std::string s;
	(append(s, a), ...);
	return s;
}

std::string hex32(std::uint32_t v)
{
	char b[11];
	std::snprintf(b, sizeof b, "0x%08x", v);
	return b;
}

void log(ParticipantActions& out, Act::Level level, std::string text)
{
	Act a;
	a.kind = Act::Kind::Log;
	a.level = level;
	a.text = std::move(text);
	out.push_back(std::move(a));
}

void event(ParticipantActions& out, std::string_view name, std::vector<EventField> fields = {})
{
	Act a;
	a.kind = Act::Kind::Event;
	a.name = name;
	a.fields = std::move(fields);
	out.push_back(std::move(a));
}

void set_state(ParticipantActions& out, State s)
{
	Act a;
	a.kind = Act::Kind::SetState;
	a.state = static_cast<std::uint32_t>(s);
	out.push_back(std::move(a));
}

void republish(ParticipantActions& out)
{
	Act a;
	a.kind = Act::Kind::Republish;
	out.push_back(std::move(a));
}

void send(ParticipantActions& out, CanFrame f, std::string what, Act::Tx tx = Act::Tx::Other,
          std::uint64_t stamped_ns = 0)
{
	Act a;
	a.kind = Act::Kind::Send;
	a.frame = f;
	a.text = std::move(what);
	a.tx = tx;
	a.stamped_ns = stamped_ns;
	out.push_back(std::move(a));
}

// A warning the Daemon logs at most once a second per `key`.
void limited_warning(ParticipantActions& out, std::uint32_t key, std::string text)
{
	Act a;
	a.kind = Act::Kind::LimitedWarning;
	a.limit_key = key;
	a.text = std::move(text);
	out.push_back(std::move(a));
}

}  // namespace

Participant::Participant(const Config& config, SyncTime& clock, ParticipantDeps deps)
    : cfg_(&config), clock_(&clock), deps_(std::move(deps))
{
}

Participant::~Participant() = default;

StampParams Participant::stamp_params() const
{
	StampParams p;
	p.aead = cfg_->aead;
	p.mode = cfg_->mode;
	if (auto s = deps_.seed())
		p.seed_salt = s->salt;
	return p;
}

Aead* Participant::key_for(std::uint64_t window) noexcept
{
	auto& k = live_keys_[window_parity(window)];
	if (!k || k->window != window)
		return nullptr;
	return k->aead.get();
}

std::vector<std::uint64_t> Participant::key_windows() const
{
	std::vector<std::uint64_t> w;
	for (const auto& k : live_keys_)
		if (k)
			w.push_back(k->window);
	return w;
}

std::uint64_t Participant::heartbeat_period_ns() const
{
	return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
	                                          heartbeat_period(cfg_->heartbeat.cycle))
	                                          .count());
}

// ---- state machine ---------------------------------------------------------------------------

ParticipantActions Participant::apply(SmEvent ev, std::uint64_t now, std::uint16_t code,
                                      bool unauthenticated)
{
	Out out;
	do_apply(out, ev, now, code, unauthenticated);
	return out;
}

ParticipantActions Participant::security_event(std::uint16_t code, std::string_view detail,
                                               bool unauthenticated, std::uint64_t now)
{
	Out out;
	do_security_event(out, code, detail, unauthenticated, now);
	return out;
}

void Participant::do_security_event(Out& out, std::uint16_t code, std::string_view detail,
                                    bool unauthenticated, std::uint64_t now)
{
	// [choice] Unauthenticated input can raise these as fast as the bus carries frames: the
	// Daemon rate-limits the log line and the event, the state machine still sees every one.
	Act a;
	a.kind = Act::Kind::SecurityEvent;
	a.code = code;
	a.text = std::string(detail);
	out.push_back(std::move(a));
	do_apply(out, SmEvent::SecurityEvent, now, code, unauthenticated);
}

void Participant::do_apply(Out& out, SmEvent ev, std::uint64_t now, std::uint16_t code,
                           bool unauthenticated)
{
	SmInput in;
	in.event = ev;
	in.event_code = code;
	in.unauthenticated = unauthenticated;
	// Exit Config returns to Secure only with usable keys: clock, Seed Key and csalt.
	in.synchronized = clock_->is_set() && has_seed() && csalt_.has_value();
	const Transition tr = step(sm_, in);
	if (!tr.valid) {
		log(out, Act::Level::Debug,
		    str("state machine: ", sm_event_name(ev), " ignored in ", state_name(sm_.state),
		        ": ", tr.why));
		return;
	}
	const Actions a = tr.actions;
	const bool was_alert = sm_.alert;
	sm_ = tr.next;
	log(out, Act::Level::Info,
	    str("state machine: ", sm_event_name(ev), " -> ", state_name(sm_.state), " (", tr.why,
	        ")"));
	bool establish_sync_now = false;
	// Carried out in the Action enum's order: stop before wipe before start.
	if (a.has(Action::DataPlaneOff))
		set_state(out, sm_.state);
	if (a.has(Action::StopHeartbeat))
		deadline(Timer::Heartbeat) = 0;
	if (a.has(Action::StopHoldTimer))
		deadline(Timer::WarningHold) = 0;
	if (a.has(Action::StopAbortTimer))
		deadline(Timer::WarningAbort) = 0;
	if (a.has(Action::StopSyncWatchdog))
		deadline(Timer::SyncWatchdog) = 0;
	if (a.has(Action::StopPa)) {
		deadline(Timer::PaRetry) = 0;
		pa_pending_ = false;
	}
	if (a.has(Action::WipeKeys))
		wipe_comm_keys(out);
	if (a.has(Action::ReportParticipantId))
		log(out, Act::Level::Info,
		    str("participant ID ", static_cast<unsigned>(cfg_->participant_id)));
	if (a.has(Action::StartPa)) {
		if (cfg_->sync_role)
			establish_sync_now = true;  // the Sync is its own time source
		else {
			send_pa_request(out);  // now, then every pa_retry
			deadline(Timer::PaRetry) = now + ms(cfg_->timeouts.pa_retry);
		}
	}
	if (a.has(Action::StartHoldTimer))
		deadline(Timer::WarningHold) = now + ms(cfg_->timeouts.warning_hold);
	if (a.has(Action::StartAbortTimer))
		deadline(Timer::WarningAbort) = now + ms(cfg_->timeouts.warning_abort);
	if (a.has(Action::StartSyncWatchdog) && !cfg_->sync_role)
		deadline(Timer::SyncWatchdog) = now + ms(cfg_->timeouts.sync_abort);
	if (a.has(Action::StartHeartbeat) && cfg_->heartbeat.cycle != HeartbeatCycle::Off)
		deadline(Timer::Heartbeat) = next_heartbeat_ns(now);
	if (tr.next.state == State::Secure && ev == SmEvent::SecurityEstablished)
		monitor_since_ = now;
	// The Sync broadcasts exactly while Secure or Warning, however it got there (also out of
	// Configuration with an alert pending, which once left the bus without a Sync for good).
	if (!secure_or_warning())
		deadline(Timer::Broadcast) = 0;
	else if (cfg_->sync_role && due(Timer::Broadcast) == 0)
		deadline(Timer::Broadcast) = now + kSyncBroadcastNs;
	if (!a.has(Action::DataPlaneOff) || a.has(Action::DataPlaneOn))
		set_state(out, sm_.state);
	if (was_alert != sm_.alert)
		event(out, "alert", {{"on", sm_.alert}});
	if (establish_sync_now)
		do_establish_sync(out, now);
}

ParticipantActions Participant::establish_sync(std::uint64_t now)
{
	Out out;
	do_establish_sync(out, now);
	return out;
}

void Participant::do_establish_sync(Out& out, std::uint64_t now)
{
	if (!has_seed()) {
		log(out, Act::Level::Info, "Sync role: no Seed Key yet, staying in Waiting");
		return;
	}
	if (!csalt_) {
		Act a;
		a.kind = Act::Kind::NeedCsalt;
		out.push_back(std::move(a));
		return;
	}
	update_keys(out, now);
	do_apply(out, SmEvent::SecurityEstablished, now);
}

ParticipantActions Participant::resume(State state, std::uint64_t now)
{
	Out out;
	resumed_ = true;
	sm_.state = state;
	if (sm_.state == State::Warning) {
		// The Warning's hold and abort timers died with the previous instance: restart
		// them (as if the Warning began now), else it never ends.
		sm_.alert = true;
		deadline(Timer::WarningHold) = now + ms(cfg_->timeouts.warning_hold);
		deadline(Timer::WarningAbort) = now + ms(cfg_->timeouts.warning_abort);
	}
	if (cfg_->sync_role) {
		resumed_ = false;
		update_keys(out, now);  // same csalt and clock: identical keys, a no-gap flip
		deadline(Timer::Broadcast) = now + kSyncBroadcastNs;
		monitor_since_ = now;
		if (cfg_->heartbeat.cycle != HeartbeatCycle::Off)
			deadline(Timer::Heartbeat) = next_heartbeat_ns(now);
	} else {
		// Our PA re-establishes clock and keys; without it the sync watchdog aborts.
		send_pa_request(out);
		deadline(Timer::PaRetry) = now + ms(cfg_->timeouts.pa_retry);
		deadline(Timer::SyncWatchdog) = now + ms(cfg_->timeouts.sync_abort);
		monitor_since_ = now;
	}
	return out;
}

ParticipantActions Participant::rederive_keys(std::uint64_t now)
{
	Out out;
	for (auto& k : live_keys_)
		k.reset();  // update_keys installs both windows anew through the spare slots
	fresh_.clear();
	update_keys(out, now);
	if (cfg_->sync_role && has_seed() && sm_.state == State::Waiting)
		do_establish_sync(out, now);
	return out;
}

ParticipantActions Participant::exit_configuration(std::uint64_t now)
{
	Out out;
	do_apply(out, SmEvent::ExitConfig, now);
	if (secure_or_warning())
		monitor_since_ = now;  // heartbeats were not watched in Configuration
	return out;
}

// ---- keys ------------------------------------------------------------------------------------

void Participant::wipe_comm_keys(Out& out)
{
	for (auto& k : live_keys_)
		k.reset();  // the Aead contexts hold the only copies; OpenSSL frees them cleansed
	if (!cfg_->sync_role)
		csalt_.reset();
	deadline(Timer::KeyRoll) = 0;
	fresh_.clear();
	Act a;
	a.kind = Act::Kind::WipeKeys;
	out.push_back(std::move(a));
}

void Participant::key_install_failed(std::uint64_t window) noexcept
{
	auto& slot = live_keys_[window_parity(window)];
	if (slot && slot->window == window)
		slot.reset();
}

void Participant::update_keys(Out& out, std::uint64_t now)
{
	auto seed = deps_.seed();
	if (!csalt_ || !clock_->is_set() || !seed)
		return;
	const std::uint64_t t = clock_->t_at(now);
	const LiveWindows lw = live_windows(t);
	for (unsigned parity = 0; parity < 2; parity++) {
		auto want = lw.in_slot(parity);
		if (!want)
			continue;
		auto& slot = live_keys_[parity];
		if (slot && slot->window == *want)
			continue;
		auto key = derive_comm_key(*seed->key, *want, *csalt_);
		if (!key) {
			log(out, Act::Level::Error,
			    key.error().with_context("deriving a Communication Key").message());
			continue;
		}
		auto aead = Aead::create(cfg_->aead, *key);
		if (!aead) {
			log(out, Act::Level::Error, aead.error().message());
			continue;
		}
		// Held here at once; the Daemon reports a data plane that refuses it
		// (key_install_failed), which drops it again.
		slot = LiveKey{*want, std::move(*aead)};
		Act a;
		a.kind = Act::Kind::InstallKey;
		a.window = *want;
		a.key = std::move(*key);
		out.push_back(std::move(a));
	}
	// Next change of the live set: the half of this window (K(e+1) ahead) or its end.
	const std::uint64_t e = key_window(t);
	const std::uint64_t next_t = (t & (kWindowTicks - 1)) < kHalfWindowTicks
	                                     ? window_n(e)
	                                     : (e + 1) << SPSEC_WINDOW_SHIFT;
	deadline(Timer::KeyRoll) = clock_->mono_at(next_t);
}

// ---- timers ----------------------------------------------------------------------------------

std::uint64_t Participant::next_heartbeat_ns(std::uint64_t now) const
{
	// Slot: pp ms after each full cycle on the synchronized clock (spec §5).
	const std::uint64_t tick = cfg_->tick_ns;
	const std::uint64_t cycle = std::max<std::uint64_t>(heartbeat_period_ns() / tick, 1);
	const std::uint64_t off = cfg_->participant_id * kMs / tick % cycle;
	const std::uint64_t now_t = clock_->t_at(now);
	std::uint64_t target = (now_t / cycle) * cycle + off;
	while (target <= now_t)
		target += cycle;
	return clock_->mono_at(target);
}

ParticipantActions Participant::on_tick(std::uint64_t now)
{
	Out out;
	auto fire = [this, now](Timer t) {
		std::uint64_t& d = deadline(t);
		if (d == 0 || d > now)
			return false;
		d = 0;
		return true;
	};
	if (fire(Timer::KeyRoll))
		update_keys(out, now);
	if (fire(Timer::SyncWatchdog)) {
		Act a;
		a.kind = Act::Kind::SyncAbort;
		a.code = event_code::kSyncAbort;
		a.text = str("security event ", hex32(event_code::kSyncAbort),
		             " (sync_abort): no verifiable Sync broadcast for ",
		             cfg_->timeouts.sync_abort.count(), " ms: Security Abort");
		a.detail = "no verifiable sync in time";
		out.push_back(std::move(a));
		resumed_ = false;
		do_apply(out, SmEvent::SyncLost, now, event_code::kSyncAbort);
		if (!cfg_->sync_role && sm_.state == State::Waiting) {
			clock_->reset();
			republish(out);  // publishes the cleared clock
		}
	}
	if (fire(Timer::WarningAbort))
		do_apply(out, SmEvent::WarningSustained, now);
	if (fire(Timer::WarningHold))
		do_apply(out, SmEvent::HoldExpired, now);
	if (fire(Timer::PaRetry)) {
		send_pa_request(out);
		deadline(Timer::PaRetry) = now + ms(cfg_->timeouts.pa_retry);
	}
	if (fire(Timer::Broadcast)) {
		send_sync_broadcast(out, now);
		deadline(Timer::Broadcast) = now + kSyncBroadcastNs;
	}
	if (fire(Timer::Heartbeat)) {
		if (!sm_.heartbeat_suppressed)
			send_heartbeat(out, now);
		deadline(Timer::Heartbeat) = next_heartbeat_ns(now);
	}
	return out;
}

ParticipantActions Participant::check_peers(std::uint64_t now)
{
	Out out;
	if (!secure_or_warning())
		return out;
	const std::uint64_t period = heartbeat_period_ns();
	if (period == 0)
		return out;
	const std::uint64_t limit = period * 5 / 2;
	std::vector<std::uint8_t> watched = cfg_->heartbeat.monitor;
	if (cfg_->heartbeat.monitor_all)
		for (const auto& [pp, p] : peers_)
			watched.push_back(pp);
	for (std::uint8_t pp : watched) {
		Peer& p = peers_[pp];
		const std::uint64_t since = std::max(p.last_ns, monitor_since_);
		if (p.missing || now < since + limit)
			continue;
		p.missing = true;
		do_security_event(out, heartbeat_missing_event(pp),
		                  str("heartbeat of participant ", static_cast<unsigned>(pp),
		                      " missing for 2.5 cycles"),
		                  false, now);
	}
	return out;
}

std::optional<std::uint64_t> Participant::next_deadline() const
{
	std::uint64_t next = 0;
	auto consider = [&next](std::uint64_t d) {
		if (d != 0 && (next == 0 || d < next))
			next = d;
	};
	for (std::uint64_t d : due_)
		consider(d);
	const std::uint64_t period = heartbeat_period_ns();
	if (period != 0 && secure_or_warning()) {
		const std::vector<std::uint8_t>& watched = cfg_->heartbeat.monitor;
		for (const auto& [pp, p] : peers_)
			if (cfg_->heartbeat.monitor_all ||
			    std::count(watched.begin(), watched.end(), pp))
				if (!p.missing)
					consider(std::max(p.last_ns, monitor_since_) +
					         period * 5 / 2);
		for (std::uint8_t pp : watched)
			if (!peers_.count(pp))
				consider(monitor_since_ + period * 5 / 2);
	}
	if (next == 0)
		return std::nullopt;
	return next;
}

// ---- sending ---------------------------------------------------------------------------------

void Participant::on_sent(const ParticipantAction& a, std::uint64_t sent_ns, std::uint64_t tx_ns,
                          std::uint64_t restamped_ns) noexcept
{
	switch (a.tx) {
	case Act::Tx::PaRequest:
		// The round trip starts when the request went out, not when we built it.
		pa_sent_ns_ = tx_ns;
		break;
	case Act::Tx::Heartbeat:
		last_hb_sent_ns_ = sent_ns;
		// Everything between taking T and the frame leaving makes it late at every
		// receiver.
		if (const std::uint64_t t_ns = restamped_ns != 0 ? restamped_ns : a.stamped_ns;
		    tx_ns > t_ns)
			hb_send_lag_max_ns_ = std::max(hb_send_lag_max_ns_, tx_ns - t_ns);
		break;
	case Act::Tx::Other:
		break;
	}
}

void Participant::send_pa_request(Out& out)
{
	if (!has_seed()) {
		log(out, Act::Level::Debug, "no Seed Key: no Parameter Authentication request");
		return;
	}
	PaRequest m;
	m.pp = cfg_->participant_id;
	if (auto r = deps_.random(m.random); !r) {
		log(out, Act::Level::Error, r.error().with_context("PA request random").message());
		return;
	}
	pa_rnd_ = m.random;
	pa_pending_ = true;
	send(out, encode_pa_request(m), "a PA request", Act::Tx::PaRequest);
	log(out, Act::Level::Debug, "Parameter Authentication request sent");
}

void Participant::send_sync_broadcast(Out& out, std::uint64_t now)
{
	const std::uint64_t t = clock_->t_at(now);
	Aead* k = key_for(key_window(t));
	if (k == nullptr) {
		log(out, Act::Level::Warning,
		    "Sync broadcast skipped: no key for the current window");
		return;
	}
	auto f = seal_sync_broadcast(*k, stamp_params(), t);
	if (!f) {
		log(out, Act::Level::Error,
		    f.error().with_context("sealing the Sync broadcast").message());
		return;
	}
	send(out, *f, "the Sync broadcast");
}

std::optional<Result<CanFrame>> Participant::seal_own_heartbeat(std::uint64_t now)
{
	if (!secure_or_warning())
		return std::nullopt;
	const std::uint64_t t = clock_->t_at(now);
	Aead* k = key_for(key_window(t));
	if (k == nullptr)
		return std::nullopt;  // resumed, our own PA has not completed yet
	return seal_heartbeat(*k, stamp_params(), cfg_->participant_id, sm_.reg50(), t);
}

void Participant::send_heartbeat(Out& out, std::uint64_t now)
{
	auto f = seal_own_heartbeat(now);
	if (!f)
		return;
	if (!*f) {
		log(out, Act::Level::Error,
		    f->error().with_context("sealing the heartbeat").message());
		return;
	}
	send(out, **f, "the heartbeat", Act::Tx::Heartbeat, now);
}

std::optional<CanFrame> Participant::restamp_heartbeat(std::uint64_t now)
{
	auto f = seal_own_heartbeat(now);
	if (!f || !*f)
		return std::nullopt;
	return **f;
}

// ---- receiving -------------------------------------------------------------------------------

ParticipantActions Participant::on_frame(ControlKind kind, const CanFrame& f, std::uint64_t rx_ns,
                                         std::uint64_t now)
{
	Out out;
	switch (kind) {
	case ControlKind::PaRequest:
		on_pa_request(out, f, now);
		break;
	case ControlKind::PaResponse:
		on_pa_response(out, f, rx_ns, now);
		break;
	case ControlKind::SyncBroadcast:
		on_sync_broadcast(out, f, rx_ns, now);
		break;
	case ControlKind::Heartbeat:
		on_heartbeat(out, f, rx_ns, now);
		break;
	default:
		break;
	}
	return out;
}

void Participant::on_pa_request(Out& out, const CanFrame& f, std::uint64_t now)
{
	auto seed = deps_.seed();
	if (!cfg_->sync_role || !csalt_ || !clock_->is_set() || !seed)
		return;
	if (!secure_or_warning())
		return;
	auto m = decode_pa_request(f);
	if (!m) {
		limited_warning(out, kMalformedPaRequest,
		                to_error(m.error(), "PA request").message());
		return;
	}
	auto resp = make_pa_response(cfg_->aead, *seed->key, m->random, m->pp, clock_->t_at(now),
	                             *csalt_);
	if (!resp) {
		log(out, Act::Level::Error, resp.error().with_context("PA response").message());
		return;
	}
	log(out, Act::Level::Info,
	    str("answering the PA request of participant ", static_cast<unsigned>(m->pp)));
	event(out, "pa_answered", {{"pp", std::uint64_t{m->pp}}});
	send(out, encode_pa_response(*resp), "a PA response");
}

void Participant::on_pa_response(Out& out, const CanFrame& f, std::uint64_t rx_ns,
                                 std::uint64_t now)
{
	auto seed = deps_.seed();
	if (cfg_->sync_role || !seed)
		return;
	auto m = decode_pa_response(f);
	if (!m) {
		limited_warning(out, kMalformedPaResponse,
		                to_error(m.error(), "PA response").message());
		return;
	}
	if (m->pp != cfg_->participant_id || !pa_pending_)
		return;  // for another node, or no request outstanding (late or duplicate)
	// The round trip from the request's send time to the response's kernel receive time;
	// verification below takes what it takes, T is set for rx_ns.
	const std::uint64_t rtt = rx_ns > pa_sent_ns_ ? rx_ns - pa_sent_ns_ : 0;
	if (auto v = deps_.verify_pa(cfg_->aead, *seed->key, pa_rnd_, *m); !v) {
		// FE00h; in Waiting the state machine has nothing to do, the request is retried.
		Act a;
		a.kind = Act::Kind::PaAuthFailure;
		a.code = event_code::kPaAuthFailure;
		a.text = to_error(v.error(), "PA response").message();
		a.detail = std::string(msg_errc_name(v.error().code));
		out.push_back(std::move(a));
		return;
	}
	if (rtt > ms(cfg_->timeouts.pa_max_rtt)) {
		log(out, Act::Level::Warning,
		    str("PA response discarded: round trip ", rtt / 1000,
		        " us exceeds timeouts.pa_max_rtt ", cfg_->timeouts.pa_max_rtt.count(),
		        " ms"));
		event(out, "pa_discarded", {{"rtt_us", rtt / 1000}});
		return;
	}
	pa_pending_ = false;
	const std::uint64_t t = m->tim + rtt / 2 / cfg_->tick_ns;
	if (auto s = clock_->set_at(t, rx_ns); !s) {
		log(out, Act::Level::Error, s.error().message());
		return;
	}
	clock_probation_ = true;
	clear_peer_offsets();
	if (csalt_ != m->csalt) {
		for (auto& k : live_keys_)
			k.reset();
		fresh_.clear();
	}
	csalt_ = m->csalt;
	const std::uint64_t handled_us = now > rx_ns ? (now - rx_ns) / 1000 : 0;
	log(out, Act::Level::Info,
	    str("Parameter Authentication succeeded: T = ", t,
	        " at the response's receive time, round trip ", rtt / 1000, " us, handled ",
	        handled_us, " us after it arrived"));
	event(out, "pa_ok", {{"t", t}, {"rtt_us", rtt / 1000}});
	update_keys(out, now);
	if (resumed_ || secure_or_warning()) {
		// Taking over from the resumed state, or a PA run again in service because our
		// clock was behind: the state stays, now on our own (new) clock and keys.
		resumed_ = false;
		deadline(Timer::PaRetry) = 0;
		deadline(Timer::SyncWatchdog) = now + ms(cfg_->timeouts.sync_abort);
		if (cfg_->heartbeat.cycle != HeartbeatCycle::Off)
			deadline(Timer::Heartbeat) = next_heartbeat_ns(now);
		republish(out);
		return;
	}
	do_apply(out, SmEvent::SecurityEstablished, now);
}

void Participant::on_sync_broadcast(Out& out, const CanFrame& f, std::uint64_t rx_ns,
                                    std::uint64_t now)
{
	if (cfg_->sync_role || !clock_->is_set() || resumed_ || !has_seed())
		return;
	if (!secure_or_warning())
		return;
	OpenParams op;
	op.stamp = stamp_params();
	op.window = cfg_->acceptance_window;
	// Checked, and applied, at the broadcast's receive time.
	auto b = open_sync_broadcast(
	        op, f, clock_->t_at(rx_ns), [this](std::uint64_t w) { return key_for(w); },
	        &fresh_);
	if (!b) {
		if (clock_probation_ && b.error().code == MsgErrc::StampRejected &&
		    clock_behind_sync(out, f, rx_ns, now))
			return;
		do_security_event(out, event_code::kSyncAuthFailure,
		                  to_error(b.error(), "Sync broadcast").message(), true, now);
		return;
	}
	clock_probation_ = false;
	quick_pa_count_ = 0;
	auto adj = clock_->adjust_at(b->t, rx_ns);
	if (!adj) {
		log(out, Act::Level::Warning, adj.error().with_context("Sync broadcast").message());
		event(out, "sync_refused", {{"t", b->t}});
		return;
	}
	deadline(Timer::SyncWatchdog) = now + ms(cfg_->timeouts.sync_abort);
	const bool forward = *adj == SyncTime::Adjust::Forward;
	if (forward) {
		clear_peer_offsets();
		republish(out);  // publishes the re-based clock
		update_keys(out, now);
	}
	log(out, Act::Level::Debug,
	    str("Sync broadcast applied: T ", b->t, forward ? " (forward)" : ""));
	event(out, "sync", {{"t", b->t}, {"forward", forward}});
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
bool Participant::clock_behind_sync(Out& out, const CanFrame& f, std::uint64_t rx_ns,
                                    std::uint64_t now)
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
	const auto w_ns = static_cast<std::int64_t>(cfg_->acceptance_window * cfg_->tick_ns);
	if (ahead_ns <= w_ns) {
		log(out, Act::Level::Debug,
		    str("Sync broadcast outside the window is authentic but ", -ahead_ns / 1000,
		        " us behind our clock: not acted on"));
		return false;
	}
	quick_pa_count_++;
	clock_probation_ = false;
	log(out, Act::Level::Warning,
	    str("our clock is ", ahead_ns / 1000,
	        " us behind the Sync's (an authentic Sync broadcast outside the "
	        "window right after PA): Parameter Authentication again"));
	event(out, "clock_behind", {{"behind_us", ahead_ns / 1000}});
	send_pa_request(out);
	deadline(Timer::PaRetry) = now + ms(cfg_->timeouts.pa_retry);
	return true;
}

void Participant::clear_peer_offsets() noexcept
{
	for (auto& [pp, p] : peers_)
		p.offsets.clear();
}

// A heartbeat failed the window or its tag: was it an authentic one, and how far off? A frame
// more than half the 12-bit stamp period late (204.8 ms at a 100 us tick, 2.048 s at 1 ms) makes
// us reconstruct another T, and then its tag fails rather than the window. So it is opened once
// more without the window, at the T values its stamp bits allow up to kLateSearchNs either side
// of ours, with no freshness update (the frame stays rejected and reported). An authentic one
// is a sample like any other (stamp T minus our T at its receive time): late means it was
// delayed (its sender stalled between stamping and sending, or the path to us did), early means
// that peer's clock is ahead of ours. Only counted, per peer. Each examination costs up to
// 2 * kLatePeriods + 1 opens, so forged frames could make us spend that many: a budget of
// kExamineBurst examinations, refilled one per kExamineRefillNs, bounds it, and what exceeds
// the budget is counted as not examined.
void Participant::note_window_miss(const CanFrame& f, std::uint64_t rx_ns, std::uint64_t now)
{
	constexpr std::uint64_t kPeriod = 4096;
	constexpr std::uint64_t kLateSearchNs = 10'000'000'000;
	constexpr std::uint64_t kLatePeriods = 32;  // at most, for ticks under 76 us
	constexpr std::uint64_t kExamineBurst = 16;
	constexpr std::uint64_t kExamineRefillNs = 250'000'000;
	if (examine_at_ns_ == 0 || now < examine_at_ns_)
		examine_at_ns_ = now;
	const std::uint64_t refill = (now - examine_at_ns_) / kExamineRefillNs;
	examine_tokens_ = std::min(kExamineBurst, examine_tokens_ + refill);
	examine_at_ns_ += refill * kExamineRefillNs;
	if (examine_tokens_ == 0) {
		hb_unexamined_++;
		return;
	}
	examine_tokens_--;
	const std::uint64_t period_ns = kPeriod * clock_->tick_ns();
	const std::uint64_t periods = std::clamp<std::uint64_t>(
	        (kLateSearchNs + period_ns - 1) / period_ns, 1, kLatePeriods);
	OpenParams op;
	op.stamp = stamp_params();
	op.window = kPeriod / 2;
	const std::uint64_t local_t = clock_->t_at(rx_ns);
	MsgResult<Heartbeat> h = tl::unexpected(MsgError{});
	// Nearest first, late before early: delays are far more common than clocks ahead.
	for (std::uint64_t k = 0; k <= periods && !h; k++) {
		for (const bool later : {false, true}) {
			if (k == 0 && later)
				continue;
			if (!later && local_t <= k * kPeriod)
				continue;  // below T = 1
			const std::uint64_t guess =
			        later ? local_t + k * kPeriod : local_t - k * kPeriod;
			h = open_heartbeat(op, f, guess,
			                   [this](std::uint64_t w) { return key_for(w); });
			if (h)
				break;
		}
	}
	if (!h || h->pp == cfg_->participant_id)
		return;
	Peer& p = peers_[h->pp];
	const std::int64_t off = clock_->offset_ns(h->t, rx_ns);
	auto magnitude = [](std::int64_t v) { return v < 0 ? -v : v; };
	p.window_misses++;
	if (magnitude(off) > magnitude(p.window_miss_worst_ns))
		p.window_miss_worst_ns = off;
}

void Participant::on_heartbeat(Out& out, const CanFrame& f, std::uint64_t rx_ns, std::uint64_t now)
{
	if (!clock_->is_set() || !has_seed() || !secure_or_warning())
		return;
	OpenParams op;
	op.stamp = stamp_params();
	op.window = cfg_->acceptance_window;
	auto h = open_heartbeat(
	        op, f, clock_->t_at(rx_ns), [this](std::uint64_t w) { return key_for(w); },
	        &fresh_);
	if (!h) {
		if (resumed_)
			return;  // our keys are not re-established yet
		const bool replay = h.error().code == MsgErrc::StampRejected &&
		                    h.error().stamp_reason == SPSEC_R_RX_REPLAY;
		if (h.error().code == MsgErrc::StampRejected &&
		    (h.error().stamp_reason == SPSEC_R_RX_OUTSIDE_WINDOW ||
		     h.error().stamp_reason == SPSEC_R_RX_BAD_TAG))
			note_window_miss(f, rx_ns, now);
		do_security_event(out,
		                  replay ? event_code::kDuplicate : event_code::kDataAuthFailure,
		                  to_error(h.error(), "heartbeat").message(), true, now);
		return;
	}
	if (h->pp == cfg_->participant_id) {
		// Verified: a Seed-Key holder sends our ID (authenticated evidence).
		do_security_event(out, event_code::kInjection,
		                  "a heartbeat with our own participant ID", false, now);
		return;
	}
	Peer& p = peers_[h->pp];
	const bool was_missing = p.missing;
	p.last_ns = now;
	p.status = h->status;
	p.missing = false;
	if (p.offsets.size() == kOffsetSamples)
		p.offsets.erase(p.offsets.begin());
	p.offsets.push_back(clock_->offset_ns(h->t, rx_ns));
	if (was_missing) {
		log(out, Act::Level::Info,
		    str("heartbeat of participant ", static_cast<unsigned>(h->pp), " is back"));
		event(out, "heartbeat_back", {{"pp", std::uint64_t{h->pp}}});
	}
}

}  // namespace spsec
