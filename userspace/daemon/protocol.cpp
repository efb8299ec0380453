// SPDX-License-Identifier: Apache-2.0
// The Daemon's protocol half: the I/O shell of the participant engine (core/participant.h).
// Control-plane frames (with their kernel receive times) and due timers go into the engine; its
// actions come out here and are carried out in order: frames onto the CAN socket, state, clock
// and keys into the data plane, security reports (rate-limited), log lines and events. Rules in
// docs/operations.md ("Protocol").
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <variant>

#include "common/atomic_file.h"
#include "common/json.h"
#include "core/hex.h"
#include "daemon/daemon.h"

namespace spsec {

namespace {

Json code_fields(std::uint16_t code, std::string_view detail)
{
	return {{"code", hex32(code)}, {"name", event_code_name(code)}, {"detail", detail}};
}

Json code_fields(std::uint16_t code, std::string_view detail, std::uint64_t suppressed)
{
	Json fields = code_fields(code, detail);
	fields["suppressed"] = suppressed;
	return fields;
}

// An engine event's fields as a JSON object.
Json event_fields(const std::vector<EventField>& fields)
{
	Json w = Json::object();
	for (const EventField& f : fields)
		std::visit([&](const auto& v) { w[std::string(f.key)] = v; }, f.value);
	return w;
}

}  // namespace

// ---- the engine's actions --------------------------------------------------------------------

bool Daemon::admit_report(std::uint32_t key, std::uint64_t& suppressed)
{
	auto r = reports_.admit(key, deps_.clock->monotonic_ns());
	if (!r)
		return false;
	suppressed = *r;
	return true;
}

void Daemon::carry_out(const ParticipantActions& actions)
{
	using K = ParticipantAction::Kind;
	using L = ParticipantAction::Level;
	for (const ParticipantAction& a : actions) {
		switch (a.kind) {
		case K::Log:
			switch (a.level) {
			case L::Debug:
				deps_.log->debug(a.text);
				break;
			case L::Info:
				deps_.log->info(a.text);
				break;
			case L::Warning:
				deps_.log->warning(a.text);
				break;
			case L::Error:
				deps_.log->error(a.text);
				break;
			}
			break;
		case K::Event:
			emit_event(a.name, event_fields(a.fields));
			break;
		case K::Send: {
			const std::uint64_t before = deps_.clock->monotonic_ns();
			// A heartbeat takes its T again right here: whatever was carried out
			// before it (key installs, log lines) would make it late everywhere.
			std::optional<CanFrame> fresh;
			if (a.tx == ParticipantAction::Tx::Heartbeat)
				fresh = engine_->restamp_heartbeat(before);
			const std::uint64_t tx = send_frame(fresh ? *fresh : *a.frame, a.text);
			engine_->on_sent(a, before, tx, fresh ? before : 0);
			break;
		}
		case K::SetState:
			set_state(a.state);
			break;
		case K::Republish:
			set_state(state_);
			break;
		case K::InstallKey: {
			const KeyEntry* seed = keys_ ? keys_->get(KeyRole::Seed) : nullptr;
			auto r = seed != nullptr
			                 ? deps_.data_plane->install_key(config_->aead, *a.key,
			                                                 seed->salt, a.window)
			                 : Result<void>(fail("no Seed Key"));
			if (!r) {
				deps_.log->error(r.error().message());
				engine_->key_install_failed(a.window);
				break;
			}
			deps_.log->info(cat("Communication Key of window ", a.window,
			                    " installed (slot ",
			                    window_parity(a.window) == 0 ? "even" : "odd", ")"));
			emit_event("key_installed", {{"window", a.window}});
			break;
		}
		case K::WipeKeys:
			if (auto r = deps_.data_plane->wipe_keys(); !r)
				deps_.log->error(r.error()
				                         .with_context("wiping the data-plane keys")
				                         .message());
			emit_event("keys_wiped");
			break;
		case K::SecurityEvent: {
			record_event_code(a.code);
			std::uint64_t suppressed = 0;
			if (admit_report(a.code, suppressed)) {
				deps_.log->warning(cat(
				        "security event ", hex32(a.code), " (",
				        event_code_name(a.code), "): ", a.text,
				        suppressed != 0 ? cat(" (", suppressed, " more suppressed)")
				                        : std::string()));
				emit_event("security_event",
				           code_fields(a.code, a.text, suppressed));
			}
			break;
		}
		case K::PaAuthFailure: {
			record_event_code(a.code);
			std::uint64_t suppressed = 0;
			if (admit_report(a.code, suppressed)) {
				deps_.log->warning(a.text);
				emit_event("security_event",
				           code_fields(a.code, a.detail, suppressed));
			}
			break;
		}
		case K::SyncAbort:
			deps_.log->warning(a.text);
			record_event_code(a.code);
			emit_event("security_event", code_fields(a.code, a.detail));
			break;
		case K::LimitedWarning:
			if (std::uint64_t n = 0; admit_report(a.limit_key, n))
				deps_.log->warning(a.text);
			break;
		case K::NeedCsalt:
			if (auto r = load_or_draw_csalt(false); !r) {
				deps_.log->error(r.error().message());
				break;
			}
			carry_out(engine_->establish_sync(deps_.clock->monotonic_ns()));
			break;
		}
	}
}

void Daemon::security_event(std::uint16_t code, std::string_view detail, bool unauthenticated)
{
	carry_out(engine_->security_event(code, detail, unauthenticated,
	                                  deps_.clock->monotonic_ns()));
	rearm_timer();
}

void Daemon::apply(SmEvent ev, std::uint16_t code, bool unauthenticated)
{
	carry_out(engine_->apply(ev, deps_.clock->monotonic_ns(), code, unauthenticated));
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
				engine_->set_csalt(c);
				deps_.log->info("Sync role: resuming with the persisted csalt");
				return {};
			}
			deps_.log->warning(cat(path, " is not 8 hex digits: drawing a new csalt"));
		}
	}
	CommSalt c{};
	if (auto r = deps_.random(c); !r)
		return tl::unexpected(r.error().with_context("drawing csalt"));
	engine_->set_csalt(c);
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
		if (auto r = clock_->adopt(pinned->base_ns, pinned->base_t, pinned->tick_ns); !r)
			return tl::unexpected(r.error().with_context("resuming the pinned clock"));
		state_ = pinned->state;
		deps_.log->info(cat("resuming the live pinned data plane: state ",
		                    state_name(state_), ", T ", clock_->now_t()));
		emit_event("resumed", {{"state", state_name(state_)}});
		if (config_->sync_role) {
			// The persisted T file was written ahead by the previous instance; the
			// adopted clock continues it, so T never repeats.
			if (auto p = persist_t_if_needed(); !p)
				return p;
		}
		carry_out(engine_->resume(static_cast<State>(pinned->state),
		                          deps_.clock->monotonic_ns()));
		rearm_timer();
		return {};
	}
	apply(SmEvent::StartSecurity);
	return {};
}

// ---- timers ----------------------------------------------------------------------------------

void Daemon::run_timers()
{
	if (!config_ || !clock_ || !engine_)
		return;
	const std::uint64_t now = deps_.clock->monotonic_ns();
	carry_out(engine_->on_tick(now));
	if (session_) {
		if (auto d = session_->next_deadline(); d && *d <= now)
			handle_session_output(session_->on_tick(now));
	}
	if (commission_until_ != 0 && commission_until_ <= now)
		close_commissioning("expired");
	carry_out(engine_->check_peers(now));
	rearm_timer();
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
	if (engine_)
		if (auto d = engine_->next_deadline(); d)
			consider(*d);
	consider(commission_until_);
	if (session_)
		if (auto d = session_->next_deadline(); d)
			consider(std::max<std::uint64_t>(*d, 1));
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

// ---- receiving -------------------------------------------------------------------------------

void Daemon::process_can()
{
	if (!can_ || !engine_)
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
		case ControlKind::PaResponse:
		case ControlKind::SyncBroadcast:
		case ControlKind::Heartbeat:
			carry_out(
			        engine_->on_frame(c->kind, f, rx_ns, deps_.clock->monotonic_ns()));
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

}  // namespace spsec
