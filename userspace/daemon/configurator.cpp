// SPDX-License-Identifier: Apache-2.0
// The Daemon's participant side of Configurator sessions (spec §5, §6): frames go to the pure
// SessionServer (core/session.h); what it commits is made durable here before the frames that
// acknowledge it are sent, so a crash or a failed write never leaves a half-written key and a
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
#include <algorithm>

#include "daemon/daemon.h"
#include "daemon/json.h"

namespace spsec {

namespace {

constexpr std::array<std::pair<KeyRole, KeySlotId>, 3> kSlots = {{
        {KeyRole::Provisioning, KeySlotId::Provisioning},
        {KeyRole::Integrator, KeySlotId::Integrator},
        {KeyRole::Seed, KeySlotId::Seed},
}};

std::string reg_fields(std::uint8_t reg)
{
	const RegisterInfo* info = find_register(reg);
	JsonWriter w;
	w.begin_object().key("reg").value(cat(hex32(reg).substr(8), "h"));
	w.key("name").value(info != nullptr ? info->cli_name : std::string_view("unknown"));
	w.end_object();
	std::string s = w.take();
	return s.substr(1, s.size() - 2);
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
	s.set_status(sm_.reg50());
	s.set_last_event(last_event_);
	if (keys_) {
		for (const auto& [role, slot] : kSlots) {
			const KeyEntry* e = keys_->get(role);
			if (e != nullptr)
				(void)s.restore_key(slot, e->key, e->salt,
				                    e->id);  // IDs checked on load
		}
	}
	return s;
}

void Daemon::on_session_frame(const CanFrame& f)
{
	if (!session_)
		return;
	// Built per frame: the key copies live only as long as this call.
	const RegisterStore store = register_store();
	handle_session_output(session_->on_frame(f, deps_.clock->monotonic_ns(), store));
}

void Daemon::handle_session_output(ServerOutput out)
{
	if (out.commit) {
		if (auto r = commit_registers(*out.commit, out.events); !r) {
			// Nothing changed on disk or in memory: the acknowledgement is not sent, so
			// the Configurator times out (5E03h there) instead of believing a write.
			deps_.log->error(
			        r.error().with_context("Configurator write not applied").message());
			emit_event("register_commit_failed", "");
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
			if (auto r = store->set(role, KeyEntry{k.key.clone(), k.salt, k.id}); !r)
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
		security_event(e.code, "Configurator session");
		break;
	case K::EnterConfiguration:
		seed_changed_ = false;
		deps_.log->info(cat("Configurator session opened with the ",
		                    opening_key_name(session_->opening_key()), " key"));
		emit_event("configuration", cat("\"phase\":\"enter\",\"key\":\"",
		                                opening_key_name(session_->opening_key()), "\""));
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
		emit_event("key_written",
		           cat(reg_fields(e.reg), ",\"key_id\":\"", hex32(id), "\""));
		break;
	}
	case K::ManufacturerReset:
		deps_.log->warning(
		        "Configurator performed a manufacturer reset: Integrator and Seed "
		        "Keys erased");
		emit_event("manufacturer_reset", "");
		break;
	case K::AccessRefused:
		deps_.log->warning(cat("Configurator access refused: ",
		                       describe_refusal(e.reg, e.write, e.status)));
		emit_event("register_refused",
		           cat(reg_fields(e.reg), ",\"write\":", e.write ? "true" : "false",
		               ",\"status\":\"", reg_status_name(e.status), "\""));
		break;
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
	for (auto& k : live_keys_)
		k.reset();  // update_keys installs both windows anew through the spare slots
	fresh_.clear();
	update_keys();
	if (config_->sync_role && has_seed() && sm_.state == State::Waiting)
		establish_sync();
}

void Daemon::exit_configuration(std::string_view reason)
{
	apply_live_registers(overlay_, *config_);
	// Without a Seed Key (manufacturer reset) Exit Config goes to Waiting and wipes the keys.
	if (has_seed() && seed_changed_) {
		// Still in Configuration (data plane closed): the new keys go in before it opens.
		deps_.log->info("new Seed Key: deriving the Communication Keys again");
		if (config_->sync_role && !csalt_) {  // a fresh Sync: its first Seed Key
			if (auto r = load_or_draw_csalt(false); !r)
				deps_.log->error(r.error().message());
		}
		rederive_comm_keys();
	}
	seed_changed_ = false;
	deps_.log->info(cat("Configurator session ended (", reason, ")"));
	emit_event("configuration", cat("\"phase\":\"exit\",\"reason\":\"", reason, "\""));
	apply(SmEvent::ExitConfig);
	if (sm_.state == State::Secure) {
		const std::uint64_t now = deps_.clock->monotonic_ns();
		monitor_since_ = now;  // heartbeats were not watched in Configuration
		if (config_->sync_role && bcast_due_ == 0)
			bcast_due_ = now + kSyncBroadcastNs;
		rearm_timer();
	}
}

}  // namespace spsec
