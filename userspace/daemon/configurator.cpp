// SPDX-License-Identifier: Apache-2.0
// The Daemon's participant side of Configurator sessions (spec §5, §6): frames go to the pure
// SessionServer (core/session_server.h); what it commits is made durable here before the frames
// that acknowledge it are sent, so a crash or a failed write never leaves a half-written key and a
// Configurator is never told "written" about something that is not on disk.
//
//   key installs, manufacturer reset   the key store file (KeyStore::save: temp, fsync, rename,
//                                      directory fsync), then the in-memory key store
//   60h-63h, 7Bh                       <state_dir>/<interface>.registers (register_overlay.h)
//
// Enter Config (ClientFinished verified) closes the data plane; Exit Config (Terminate, session
// timeout) applies the heartbeat registers, derives the Communication Keys again when the Seed
// Key changed, and returns to Secure when the node is synchronized and holds a Seed Key, else to
// Waiting (Parameter Authentication; a Sync draws csalt and goes Secure by itself).
#include <unistd.h>

#include <algorithm>

#include "common/json.h"
#include "daemon/daemon.h"

namespace spsec {

namespace {

constexpr std::array<std::pair<KeyRole, KeySlotId>, 3> kSlots = {{
        {KeyRole::Provisioning, KeySlotId::Provisioning},
        {KeyRole::Integrator, KeySlotId::Integrator},
        {KeyRole::Seed, KeySlotId::Seed},
}};

Json reg_fields(std::uint8_t reg)
{
	const RegisterInfo* info = find_register(reg);
	return {{"reg", cat(hex32(reg).substr(8), "h")},
	        {"name", info != nullptr ? info->cli_name : std::string_view("unknown")}};
}

std::string reg_label(std::uint8_t reg)
{
	const RegisterInfo* info = find_register(reg);
	return cat(info != nullptr ? info->title : std::string_view("register"), " (",
	           hex32(reg).substr(8), "h)");
}

}  // namespace

std::string Daemon::overlay_path() const
{
	return cat(deps_.state_dir, "/", config_->interface, ".registers");
}

RegisterStore Daemon::register_store() const
{
	RegisterStore s(device_, overlay_.over(register_config_of(*config_)));
	s.set_status(sm_status().reg50());
	s.set_last_event(last_event_);
	s.set_commissioning(commissioning_open());
	if (keys_) {
		for (const auto& [role, slot] : kSlots) {
			const KeyEntry* e = keys_->get(role);
			// A reference into the locked key store, not a copy: long-term keys never
			// leave the mlock()ed memory. IDs were checked on load.
			if (e != nullptr)
				(void)s.refer_key(slot, e->key, e->salt, e->id);
		}
	}
	return s;
}

void Daemon::on_session_frame(const CanFrame& f)
{
	if (!session_)
		return;
	const std::uint64_t now = deps_.clock->monotonic_ns();
	if (auto c = classify_control_id(f.can_id);
	    c && c->kind == ControlKind::ClientHello && c->id.to_dest &&
	    c->id.pp == config_->participant_id && !hellos_.take(now)) {
		// Session openings cost a key derivation each and can replace a pending
		// handshake: at most kHelloBurst at once, then one per kHelloIntervalNs.
		deps_.log->debug("ClientHello dropped: session openings rate-limited");
		return;
	}
	// Built per frame; it refers to the keys in the locked key store.
	const RegisterStore store = register_store();
	handle_session_output(session_->on_frame(f, now, store));
}

void Daemon::handle_session_output(ServerOutput out)
{
	if (out.commit) {
		if (auto r = commit_registers(*out.commit, out.events); !r) {
			// Nothing changed on disk or in memory: the acknowledgement is not sent, so
			// the Configurator times out (5E03h there) instead of believing a write.
			deps_.log->error(
			        r.error().with_context("Configurator write not applied").message());
			emit_event("register_commit_failed");
			out.frames.clear();
			std::erase_if(out.events, [](const SessionEvent& e) {
				return e.kind == SessionEvent::Kind::RegisterWritten ||
				       e.kind == SessionEvent::Kind::KeyInstalled ||
				       e.kind == SessionEvent::Kind::ManufacturerReset;
			});
		}
	}
	for (const CanFrame& f : out.frames)
		send_frame(f, "a Configurator session response");
	for (const SessionEvent& e : out.events)
		on_session_event(e);
	rearm_timer();
}

Result<void> Daemon::commit_registers(const RegisterStore& next,
                                      const std::vector<SessionEvent>& events)
{
	bool keys_changed = false;
	RegisterOverlay overlay = overlay_;
	for (const SessionEvent& e : events) {
		if (e.kind == SessionEvent::Kind::KeyInstalled ||
		    e.kind == SessionEvent::Kind::ManufacturerReset)
			keys_changed = true;
		else if (e.kind == SessionEvent::Kind::RegisterWritten)
			overlay.record(e.reg, next.config());
	}
	if (keys_changed) {
		auto store = KeyStore::empty();
		if (!store)
			return tl::unexpected(store.error());
		for (const auto& [role, slot] : kSlots) {
			const KeySlot& k = next.key(slot);
			if (!k.present)
				continue;
			// Locked memory to locked memory (or the new key from the session).
			if (auto r = store->set(role, KeyEntry{k.material().clone(), k.salt, k.id});
			    !r)
				return r;
		}
		if (auto r = store->save(config_->key_store); !r)
			return tl::unexpected(r.error().with_context("writing the key store"));
		if (!same_key(store->get(KeyRole::Seed),
		              keys_ ? keys_->get(KeyRole::Seed) : nullptr))
			seed_changed_ = true;
		keys_ = std::move(*store);
	}
	if (!(overlay == overlay_)) {
		if (auto r = save_register_overlay(overlay_path(), overlay); !r)
			return tl::unexpected(r.error().with_context("writing the registers file"));
		overlay_ = overlay;
	}
	return {};
}

void Daemon::on_session_event(const SessionEvent& e)
{
	using K = SessionEvent::Kind;
	switch (e.kind) {
	case K::SecurityEvent:
		// Session frames that did not verify, or timeouts: nothing authenticated.
		security_event(e.code, "Configurator session", true);
		break;
	case K::EnterConfiguration:
		seed_changed_ = false;
		// [choice] A Zero-Key session on a node that holds keys is discovery only: the
		// public reads, no key written (RegisterStore), and no Configuration state, so
		// the data plane, heartbeats and Sync broadcasts go on and no alert is cleared.
		config_entered_ = session_->opening_key() != OpeningKey::Zero || !holds_any_key();
		deps_.log->info(
		        cat("Configurator session opened with the ",
		            opening_key_name(session_->opening_key()), " key",
		            config_entered_ ? "" : " (discovery only: this node holds keys)"));
		emit_event("configuration", {{"phase", "enter"},
		                             {"key", opening_key_name(session_->opening_key())},
		                             {"discovery_only", !config_entered_}});
		if (config_entered_)
			apply(SmEvent::EnterConfig);
		break;
	case K::ExitConfiguration:
		exit_configuration(e.reason);
		break;
	case K::RegisterRead:
		deps_.log->debug(cat("Configurator read ", reg_label(e.reg)));
		emit_event("register_read", reg_fields(e.reg));
		break;
	case K::RegisterWritten:
		deps_.log->info(cat("Configurator wrote ", reg_label(e.reg)));
		emit_event("register_written", reg_fields(e.reg));
		break;
	case K::KeyInstalled: {
		const auto slot = key_slot_of_register(e.reg);
		auto it = std::find_if(kSlots.begin(), kSlots.end(),
		                       [&](const auto& x) { return slot == x.second; });
		const KeyEntry* k = it != kSlots.end() && keys_ ? keys_->get(it->first) : nullptr;
		const std::uint32_t id = k != nullptr ? k->id : kKeyIdErased;
		// The Key ID is public (a Zero-Key session may read it); the key never is.
		deps_.log->info(cat("Configurator installed the ", reg_label(e.reg), ", Key ID ",
		                    hex32(id)));
		Json fields = reg_fields(e.reg);
		fields["key_id"] = hex32(id);
		emit_event("key_written", fields);
		// A commissioning window serves one Provisioning Key.
		if (session_->opening_key() == OpeningKey::Zero && commissioning_open())
			close_commissioning("used");
		break;
	}
	case K::ManufacturerReset:
		deps_.log->warning(
		        "Configurator performed a manufacturer reset: Integrator and Seed "
		        "Keys erased");
		emit_event("manufacturer_reset");
		break;
	case K::AccessRefused: {
		deps_.log->warning(cat("Configurator access refused: ",
		                       describe_refusal(e.reg, e.write, e.status)));
		Json fields = reg_fields(e.reg);
		fields["write"] = e.write;
		fields["status"] = reg_status_name(e.status);
		emit_event("register_refused", fields);
		break;
	}
	case K::KeyStaged:
		deps_.log->debug(cat("Configurator staged ", reg_label(e.reg)));
		break;
	case K::StagedKeyDiscarded:
		deps_.log->warning(cat("Configurator session ended with an incomplete key set for ",
		                       reg_label(e.reg), ": discarded, nothing installed"));
		emit_event("staged_key_discarded", reg_fields(e.reg));
		break;
	}
}

void Daemon::rederive_comm_keys()
{
	carry_out(engine_->rederive_keys(deps_.clock->monotonic_ns()));
}

void Daemon::exit_configuration(std::string_view reason)
{
	if (!config_entered_) {
		// A discovery-only session: nothing was changed, nothing to apply.
		deps_.log->info(cat("Configurator session ended (", reason, ")"));
		emit_event("configuration",
		           {{"phase", "exit"}, {"reason", reason}, {"discovery_only", true}});
		return;
	}
	config_entered_ = false;
	apply_live_registers(overlay_, *config_);
	// Without a Seed Key (manufacturer reset) Exit Config goes to Waiting and wipes the keys.
	if (has_seed() && seed_changed_) {
		// Still in Configuration (data plane closed): the new keys go in before it opens.
		deps_.log->info("new Seed Key: deriving the Communication Keys again");
		if (config_->sync_role && !csalt()) {  // a fresh Sync: its first Seed Key
			if (auto r = load_or_draw_csalt(false); !r)
				deps_.log->error(r.error().message());
		}
		rederive_comm_keys();
	}
	seed_changed_ = false;
	deps_.log->info(cat("Configurator session ended (", reason, ")"));
	emit_event("configuration", {{"phase", "exit"}, {"reason", reason}});
	carry_out(engine_->exit_configuration(deps_.clock->monotonic_ns()));
	rearm_timer();
}

Result<void> Daemon::open_commissioning(std::uint64_t duration_ns)
{
	if (duration_ns == 0 || duration_ns > kMaxCommissionNs)
		return fail(cat("commissioning window of ", duration_ns / 1'000'000'000,
		                " s: must be 1 s .. ", kMaxCommissionNs / 1'000'000'000, " s"));
	commission_until_ = deps_.clock->monotonic_ns() + duration_ns;
	deps_.log->warning(cat("commissioning window open for ", duration_ns / 1'000'000'000,
	                       " s: a Zero-Key session may install the Provisioning Key"));
	emit_event("commissioning", {{"open", true}, {"window_s", duration_ns / 1'000'000'000}});
	rearm_timer();
	return {};
}

void Daemon::close_commissioning(std::string_view reason)
{
	if (commission_until_ == 0)
		return;
	commission_until_ = 0;
	deps_.log->info(cat("commissioning window closed (", reason, ")"));
	emit_event("commissioning", {{"open", false}, {"reason", reason}});
	rearm_timer();
}

std::optional<std::string> Daemon::on_control_command(std::string_view cmd, const Json& req,
                                                      uid_t peer)
{
	// Read-only, like status: any peer that may connect may read the rules.
	if (cmd == "senders")
		return senders_json();
	if (cmd != "commission")
		return std::nullopt;
	auto reply = [](bool ok, std::string_view error) {
		Json r = {{"ok", ok}};
		if (!error.empty())
			r["error"] = error;
		return json_line(r);
	};
	// Local and privileged: root or spsecd's own uid (group spsec may only watch).
	if (peer != 0 && peer != ::geteuid()) {
		deps_.log->warning(cat("commissioning refused to uid ", peer, " (root only)"));
		return reply(false, "commissioning needs root");
	}
	if (json_bool(req, "close").value_or(false)) {
		close_commissioning("closed by the operator");
		return reply(true, "");
	}
	auto secs = json_u64(req, "window_s");
	if (!secs)
		return reply(false, "expected \"window_s\": seconds, or \"close\": true");
	// Clamped before the multiplication so a huge value is refused, not wrapped.
	const std::uint64_t s =
	        std::min<std::uint64_t>(*secs, kMaxCommissionNs / 1'000'000'000 + 1);
	if (auto r = open_commissioning(s * 1'000'000'000); !r)
		return reply(false, r.error().message());
	return reply(true, "");
}

}  // namespace spsec
