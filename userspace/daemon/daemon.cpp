// SPDX-License-Identifier: Apache-2.0
#include "daemon/daemon.h"

#include <net/if.h>

#include <algorithm>
#include <csignal>
#include <cstring>

#include "common/json.h"

namespace spsec {

std::string_view state_name(std::uint32_t state) noexcept
{
	switch (state) {
	case SPSEC_STATE_NOTSET:
		return "NotSet";
	case SPSEC_STATE_WAITING:
		return "Waiting";
	case SPSEC_STATE_SECURE:
		return "Secure";
	case SPSEC_STATE_WARNING:
		return "Warning";
	case SPSEC_STATE_CONFIGURATION:
		return "Configuration";
	case SPSEC_STATE_SHUTDOWN:
		return "Shutdown";
	default:
		return "Unknown";
	}
}

Daemon::Daemon(DaemonDeps deps, std::string config_path)
    : deps_(std::move(deps)), config_path_(std::move(config_path))
{
}

Daemon::~Daemon()
{
	teardown();
}

Result<void> Daemon::start()
{
	torn_down_ = false;
	start_ns_ = deps_.clock->monotonic_ns();
	auto r = start_steps();
	if (!r) {
		deps_.log->error(cat("start-up failed: ", r.error().message()));
		teardown();
	}
	return r;
}

Result<void> Daemon::start_steps()
{
	const Logger& log = *deps_.log;

	// 1. config
	auto cfg = load_config(config_path_);
	if (!cfg)
		return tl::unexpected(cfg.error().with_context("loading the configuration"));
	config_ = std::move(*cfg);
	auto overlay = load_register_overlay(overlay_path());
	if (!overlay)
		return tl::unexpected(
		        overlay.error().with_context("loading the Configurator-written registers"));
	overlay_ = std::move(*overlay);
	for (std::string_view key : apply_register_overlay(overlay_, *config_))
		log.info(cat("configuration: ", key, " is the value a Configurator wrote (",
		             overlay_path(), ")"));
	device_ = local_device_info();
	// OpenSSL's first use is slow (provider lookups): pay it now, never inside a PA round trip.
	const std::uint64_t crypto_start = deps_.clock->monotonic_ns();
	if (auto c = prepare_crypto(); !c)
		return c;
	log.debug(cat("OpenSSL algorithms fetched and run once in ",
	              (deps_.clock->monotonic_ns() - crypto_start) / 1000, " us"));
	log.info(cat("configuration ", config_path_, ": interface ", config_->interface,
	             ", participant ", config_->participant_id,
	             config_->sync_role ? ", Sync role" : ""));

	// 2. keys
	auto keys = KeyStore::load(config_->key_store, deps_.key_owner);
	if (!keys)
		return tl::unexpected(keys.error());
	keys_ = std::move(*keys);
	if (has_seed())
		log.info(cat("key store loaded: seed key ID ", hex32(keys_->get(KeyRole::Seed)->id),
		             keys_->memory_locked() ? ", memory locked"
		                                    : ", memory NOT locked (mlock failed)"));
	else
		log.warning(cat("key store ", config_->key_store,
		                " has no Seed Key: factory-fresh node, the data plane stays closed "
		                "until a Configurator installs one (docs/commissioning.md)"));
	if (!keys_->memory_locked())
		log.warning("key memory could not be locked (RLIMIT_MEMLOCK); keys may reach swap");

	// 3. data plane. The link watch subscribes first, so a removal right after the attach
	// is not missed.
	if (deps_.open_link_watch) {
		auto lw = deps_.open_link_watch();
		if (!lw)
			return tl::unexpected(lw.error());
		links_ = std::move(*lw);
	}
	auto senders = resolve_sender_rules(*config_);
	if (!senders)
		return tl::unexpected(senders.error().with_context("resolving the sender rules"));
	senders_ = std::move(*senders);
	if (auto r = deps_.data_plane->open(*config_, senders_.table); !r)
		return tl::unexpected(r.error().with_context("opening the data plane"));
	data_plane_open_ = true;
	ifindex_ = static_cast<int>(::if_nametoindex(config_->interface.c_str()));

	// 4.-5. event sources
	auto loop = EventLoop::create(log);
	if (!loop)
		return tl::unexpected(loop.error());
	loop_ = std::move(*loop);

	if (int efd = deps_.data_plane->event_fd(); efd >= 0) {
		auto w = loop_->watch(efd, EPOLLIN, "dataplane-events",
		                      [this](std::uint32_t) { on_data_plane_events(); });
		if (!w)
			return tl::unexpected(w.error());
	}

	if (auto r = open_can_socket(); !r)
		return r;
	for (const auto& seg : config_->gateway.segments)
		segment_ifindex_[seg.name] = static_cast<int>(::if_nametoindex(seg.name.c_str()));
	if (auto r = open_relay(); !r)
		return r;
	if (links_) {
		auto w = loop_->watch(links_->fd(), EPOLLIN, "link-events",
		                      [this](std::uint32_t) { on_links(); });
		if (!w)
			return tl::unexpected(w.error());
	}

	if (deps_.handle_signals) {
		auto sfd = open_signalfd({SIGTERM, SIGINT, SIGHUP});
		if (!sfd)
			return tl::unexpected(sfd.error());
		signal_fd_ = std::move(*sfd);
		auto w = loop_->watch(signal_fd_.get(), EPOLLIN, "signals",
		                      [this](std::uint32_t) { on_signal(); });
		if (!w)
			return tl::unexpected(w.error());
	}

	auto jump = ClockJumpWatch::create();
	if (!jump)
		return tl::unexpected(jump.error());
	clock_jump_ = std::move(*jump);
	if (auto w =
	            loop_->watch(clock_jump_->fd(), EPOLLIN, "wall-clock",
	                         [this](std::uint32_t) {
		                         auto j = clock_jump_->consume();
		                         if (j && *j) {
			                         deps_.log->info("wall clock was set (SPsec T runs "
			                                         "on CLOCK_MONOTONIC, unaffected)");
			                         emit_event("wall_clock_set");
		                         }
	                         });
	    !w)
		return tl::unexpected(w.error());

	if (auto r = arm_sender_recheck(*config_); !r)
		return r;

	ControlSocket::Options opts;
	opts.path = config_->control_socket;
	opts.command = [this](std::string_view cmd, const Json& req, uid_t peer) {
		return on_control_command(cmd, req, peer);
	};
	auto cs = ControlSocket::open(*loop_, log, opts, [this] { return status_json(); });
	if (!cs)
		return tl::unexpected(cs.error());
	control_ = std::move(*cs);

	// 6. Configurator sessions, clock and initial state
	SessionTimeouts st;
	st.response_ns = static_cast<std::uint64_t>(
	        std::chrono::nanoseconds(config_->timeouts.response).count());
	st.session_ns = static_cast<std::uint64_t>(
	        std::chrono::nanoseconds(config_->timeouts.session).count());
	session_.emplace(
	        config_->participant_id, config_->aead,
	        [this](std::span<std::uint8_t> out) {
		        // Session randoms must be unpredictable: without the kernel's generator
		        // there is no safe way on, so stop (systemd restarts the service).
		        if (auto r = deps_.random(out); !r) {
			        deps_.log->error(
			                r.error().with_context("session random").message());
			        std::abort();
		        }
	        },
	        st);
	if (auto r = start_clock(); !r)
		return r;

	// 7. ready
	auto n = deps_.notify("READY=1\nSTATUS=running");
	if (!n)
		log.warning(cat("sd_notify: ", n.error().message()));
	if (deps_.watchdog_usec > 0) {
		auto t = Timer::monotonic();
		if (!t)
			return tl::unexpected(t.error());
		watchdog_timer_ = std::move(*t);
		std::uint64_t half_ns = deps_.watchdog_usec * 1000 / 2;
		if (auto a = watchdog_timer_->arm_after(half_ns, half_ns); !a)
			return a;
		auto w = loop_->watch(watchdog_timer_->fd(), EPOLLIN, "watchdog",
		                      [this](std::uint32_t) {
			                      (void)watchdog_timer_->consume();
			                      (void)deps_.notify("WATCHDOG=1");
		                      });
		if (!w)
			return tl::unexpected(w.error());
	}
	emit_event("started");
	log.info(cat("spsecd ready on ", config_->interface, ", state ", state_name(state_)));
	return {};
}

Result<void> Daemon::start_clock()
{
	clock_ = std::make_unique<SyncClock>(*deps_.clock, config_->tick_ns);
	ParticipantDeps pd;
	pd.seed = [this]() -> std::optional<SeedKeyRef> {
		const KeyEntry* e = keys_ ? keys_->get(KeyRole::Seed) : nullptr;
		if (e == nullptr)
			return std::nullopt;
		return SeedKeyRef{&e->key, e->salt};
	};
	pd.random = deps_.random;
	pd.verify_pa = deps_.verify_pa;
	engine_ = std::make_unique<Participant>(*config_, *clock_, std::move(pd));
	if (!config_->sync_role)
		return resume_or_start();  // participants know no time until PA (or resume)
	std::string path = cat(deps_.state_dir, "/", config_->interface, ".t");
	auto stored = read_persisted_t(path);
	if (!stored)
		return tl::unexpected(stored.error());
	persist_.emplace(*stored);
	if (!*stored)
		deps_.log->warning(
		        cat("no persisted T in ", path,
		            ": first start of this Sync. If it ran as Sync before, its T "
		            "file was lost: renew the Seed Key, T may repeat"));
	auto timer = Timer::monotonic();
	if (!timer)
		return tl::unexpected(timer.error());
	persist_timer_ = std::move(*timer);
	// Check four times within the slack the reservation keeps (half of kPersistAhead).
	std::uint64_t interval = TPersistence::kPersistAhead / 2 * config_->tick_ns / 4;
	if (auto a = persist_timer_->arm_after(interval, interval); !a)
		return a;
	auto w = loop_->watch(persist_timer_->fd(), EPOLLIN, "persist-t", [this](std::uint32_t) {
		(void)persist_timer_->consume();
		if (auto p = persist_t_if_needed(); !p)
			deps_.log->error(p.error().message());
	});
	if (!w)
		return tl::unexpected(w.error());
	if (deps_.data_plane->live_pinned_state()) {
		// Resume: the pinned clock continues the previous instance's T, which its
		// write-ahead reservation covers; resume_or_start() adopts it and writes ahead
		// again if needed.
		return resume_or_start();
	}
	std::uint64_t t0 = persist_->boot_t(deps_.realtime_ns() / config_->tick_ns);
	// Write ahead before T is used: the reservation must cover t0 on disk first.
	std::uint64_t reserve = t0 + TPersistence::kPersistAhead;
	if (auto wr = write_persisted_t(path, reserve); !wr)
		return tl::unexpected(wr.error());
	persist_->written(reserve);
	if (auto s = clock_->set(t0); !s)
		return s;
	deps_.log->info(cat("Sync role: T starts at ", t0,
	                    *stored ? cat(" (stored ", **stored, ")") : " (first boot)"));
	// The Sync goes Secure on its own (spec §1): csalt, keys, then Secure.
	return resume_or_start();
}

Result<void> Daemon::persist_t_if_needed()
{
	if (!persist_ || !clock_ || !clock_->is_set())
		return {};
	auto v = persist_->need_write(clock_->now_t());
	if (!v)
		return {};
	std::string path = cat(deps_.state_dir, "/", config_->interface, ".t");
	if (auto w = write_persisted_t(path, *v); !w)
		return w;
	persist_->written(*v);
	return {};
}

Result<void> Daemon::publish_state()
{
	DataPlaneState st;
	st.state = state_;
	if (clock_ && clock_->is_set()) {
		st.clock_set = true;
		st.base_ns = clock_->base_ns();
		st.base_t = clock_->base_t();
		st.tick_ns = clock_->tick_ns();
	} else if (clock_) {
		st.tick_ns = clock_->tick_ns();
	}
	return deps_.data_plane->publish(st);
}

void Daemon::set_state(std::uint32_t state)
{
	std::uint32_t old = state_;
	state_ = state;
	if (data_plane_open_) {
		if (auto r = publish_state(); !r)
			deps_.log->error(r.error().with_context("publishing state").message());
	}
	if (old == state)
		return;
	deps_.log->info(cat("state ", state_name(old), " -> ", state_name(state)));
	emit_event("state", {{"from", state_name(old)}, {"to", state_name(state)}});
}

void Daemon::emit_event(std::string_view name, const Json& fields)
{
	if (!control_)
		return;
	std::uint64_t ms = (deps_.clock->monotonic_ns() - start_ns_) / 1'000'000;
	Json event = {{"uptime_ms", ms}, {"event", name}};
	if (fields.is_object())
		for (const auto& [k, v] : fields.items())
			event[k] = v;
	const std::string line = json_line(event);
	if (deps_.on_event)
		deps_.on_event(line);
	control_->publish(line);
}

std::string Daemon::status_json()
{
	Json w = Json::object();
	if (config_) {
		w["interface"] = config_->interface;
		w["participant_id"] = static_cast<std::uint64_t>(config_->participant_id);
		w["role"] = config_->sync_role ? "sync" : "participant";
	}
	w["state"] = state_name(state_);
	w["state_code"] = state_;
	bool set = clock_ && clock_->is_set();
	std::uint64_t t = set ? clock_->now_t() : 0;
	w["clock_set"] = set;
	w["t"] = t;
	w["key_window"] = t >> SPSEC_WINDOW_SHIFT;
	if (config_) {
		w["tick_ns"] = config_->tick_ns;
		w["acceptance_window"] = config_->acceptance_window;
	}
	Json& keys = w["keys"] = Json::object();
	for (KeyRole role : {KeyRole::Seed, KeyRole::Integrator, KeyRole::Provisioning}) {
		const KeyEntry* e = keys_ ? keys_->get(role) : nullptr;
		keys[std::string(key_role_name(role))] = e ? Json(hex32(e->id)) : Json();
	}
	w["alert"] = sm_status().alert;
	w["last_event"] = last_event_ != 0 ? Json(hex32(last_event_)) : Json();
	Json& cfg = w["configurator"] = Json::object();
	std::string_view session_state = "idle";
	if (session_ && session_->state() == SessionServer::State::AwaitClientFinished)
		session_state = "handshake";
	else if (session_ && session_->in_configuration())
		session_state = "open";
	cfg["session"] = session_state;
	if (session_state != "idle")
		cfg["key"] = opening_key_name(session_->opening_key());
	Json& written = cfg["written"] = Json::object();
	if (overlay_.participant_id)
		written["participant_id"] = std::uint64_t{*overlay_.participant_id};
	if (overlay_.heartbeat_timing)
		written["heartbeat_timing"] = std::uint64_t{*overlay_.heartbeat_timing};
	if (overlay_.heartbeat_monitor)
		written["heartbeat_monitor"] = hex32(*overlay_.heartbeat_monitor);
	if (overlay_.sync_role)
		written["sync_role"] = std::uint64_t{*overlay_.sync_role};
	if (overlay_.bit_rate)
		written["bit_rate"] = hex32(*overlay_.bit_rate);
	// Written registers that take effect only when spsecd starts again.
	Json& pending = cfg["restart_pending"] = Json::array();
	if (config_ && overlay_.participant_id &&
	    *overlay_.participant_id != config_->participant_id)
		pending.push_back("participant_id");
	if (config_ && overlay_.sync_role && (*overlay_.sync_role != 0) != config_->sync_role)
		pending.push_back("sync_role");
	cfg["hellos_refused"] = hellos_.refused();
	Json& commissioning = w["commissioning"] = Json::object();
	commissioning["open"] = commissioning_open();
	if (commissioning_open())
		commissioning["remaining_s"] =
		        (commission_until_ - deps_.clock->monotonic_ns()) / 1'000'000'000;
	// Security reports dropped by the one-per-code-per-second limit.
	Json& suppressed = w["suppressed"] = Json::object();
	suppressed["total"] = reports_.suppressed_total();
	reports_.for_each([&suppressed](std::uint32_t key, std::uint64_t n) {
		if (key <= 0xFFFF)
			suppressed[hex32(key)] = n;
	});
	w["resumed"] = engine_ && engine_->resumed();
	w["csalt_set"] = csalt().has_value();
	Json& windows = w["comm_key_windows"] = Json::array();
	if (engine_)
		for (std::uint64_t window : engine_->key_windows())
			windows.push_back(window);
	const std::uint64_t now = deps_.clock->monotonic_ns();
	Json& hb = w["heartbeat"] = Json::object();
	hb["cycle"] = config_ ? heartbeat_cycle_name(config_->heartbeat.cycle) : "off";
	const std::uint64_t last_hb_sent_ns = engine_ ? engine_->last_heartbeat_sent_ns() : 0;
	hb["sending"] = engine_ && engine_->heartbeat_armed() && !sm_status().heartbeat_suppressed;
	hb["last_sent_ms_ago"] =
	        last_hb_sent_ns != 0 ? Json((now - last_hb_sent_ns) / 1'000'000) : Json();
	hb["send_lag_max_us"] = engine_ ? engine_->heartbeat_send_lag_max_ns() / 1000 : 0;
	hb["rejections_unexamined"] = engine_ ? engine_->heartbeat_rejections_unexamined() : 0;
	Json& peers = w["peers"] = Json::array();
	static const std::map<std::uint8_t, Participant::Peer> kNoPeers;
	for (const auto& [pp, p] : engine_ ? engine_->peers() : kNoPeers) {
		Json peer = Json::object();
		peer["pp"] = static_cast<std::uint64_t>(pp);
		peer["state"] = state_name(p.status & 0x0Fu);
		peer["missing"] = p.missing;
		peer["last_heartbeat_ms_ago"] =
		        p.last_ns != 0 ? Json((now - p.last_ns) / 1'000'000) : Json();
		// Its clock against ours, from the stamps of its heartbeats (daemon.h, Peer).
		if (!p.offsets.empty()) {
			const std::int64_t best =
			        *std::max_element(p.offsets.begin(), p.offsets.end());
			peer["offset_us"] = best / 1000;
			peer["offset_last_us"] = p.offsets.back() / 1000;
			peer["offset_samples"] = static_cast<std::uint64_t>(p.offsets.size());
		} else {
			peer["offset_us"] = nullptr;
		}
		peer["window_misses"] = p.window_misses;
		peer["window_miss_worst_us"] =
		        p.window_misses != 0 ? Json(p.window_miss_worst_ns / 1000) : Json();
		peers.push_back(std::move(peer));
	}
	Json& dp = w["data_plane"] = Json::object();
	dp["attached"] = attached_;
	// how (tcx links or tc filters), and what the kernel offers the data plane
	const DataPlaneFeatures feats = deps_.data_plane->features();
	dp["attach"] = feats.attach.empty() ? Json() : Json(feats.attach);
	dp["crypto_kfuncs"] = feats.crypto_kfuncs;
	dp["aes"] = feats.aes.empty() ? Json() : Json(feats.aes);
	if (!feats.aes_driver.empty())
		dp["aes_driver"] = feats.aes_driver;
	if (!attached_)
		dp["detached_ms"] = (now - detached_at_) / 1'000'000;
	dp["detaches"] = detaches_;
	w["gateway_relay"] = relay_ ? relay_->status() : Json();
	Json& counters = w["counters"] = Json::object();
	if (auto c = deps_.data_plane->counters(); c) {
		for (const auto& r : reason_table())
			counters[std::string(r.name)] = c->by_reason[r.code];
	}
	w["uptime_ms"] = (deps_.clock->monotonic_ns() - start_ns_) / 1'000'000;
	return json_line(w);
}

Result<void> Daemon::reload()
{
	const Logger& log = *deps_.log;
	auto refuse = [&](const Error& e) {
		log.error(cat("reload refused, keeping the running configuration: ", e.message()));
		emit_event("reload", {{"ok", false}, {"error", e.message()}});
		return tl::unexpected(e);
	};
	if (session_ && session_->state() != SessionServer::State::Idle)
		return refuse(Error{0, "a Configurator session is open: reload after it ends"});
	(void)deps_.notify("RELOADING=1");
	auto cfg = load_config(config_path_);
	if (!cfg) {
		(void)deps_.notify("READY=1");
		return refuse(cfg.error().with_context("loading the configuration"));
	}
	// The registers a Configurator wrote still override the file (register_overlay.h).
	(void)apply_register_overlay(overlay_, *cfg);
	// These are baked into the attached data plane, the open sockets or the clock.
	struct Fixed {
		const char* key;
		bool changed;
	};
	const Fixed fixed[] = {
	        {"interface", cfg->interface != config_->interface},
	        {"participant_id", cfg->participant_id != config_->participant_id},
	        {"sync", cfg->sync_role != config_->sync_role},
	        {"aead", cfg->aead != config_->aead},
	        {"mode", cfg->mode != config_->mode},
	        {"data_bitrate", cfg->data_bitrate != config_->data_bitrate},
	        {"control_socket", cfg->control_socket != config_->control_socket},
	        {"pin_dir", cfg->pin_dir != config_->pin_dir},
	        {"attach", cfg->attach != config_->attach},
	};
	for (const auto& f : fixed) {
		if (f.changed) {
			(void)deps_.notify("READY=1");
			return refuse(
			        Error{0, cat(f.key, " cannot change on reload (restart spsecd)")});
		}
	}
	auto keys = KeyStore::load(cfg->key_store, deps_.key_owner);
	if (!keys) {
		(void)deps_.notify("READY=1");
		return refuse(keys.error());
	}
	if (keys->get(KeyRole::Seed) == nullptr && has_seed()) {
		// Taking the Seed Key away from a running node is a manufacturer reset's job.
		(void)deps_.notify("READY=1");
		return refuse(Error{0, cat("key store ", cfg->key_store, " has no Seed Key")});
	}
	const bool seed_changed =
	        keys->get(KeyRole::Seed) != nullptr &&
	        !same_key(keys_ ? keys_->get(KeyRole::Seed) : nullptr, keys->get(KeyRole::Seed));
	auto senders = resolve_sender_rules(*cfg);
	if (!senders) {
		(void)deps_.notify("READY=1");
		return refuse(senders.error().with_context("resolving the sender rules"));
	}
	// The relay works by the running configuration's rules: stopped while the data plane
	// changes over, so it never forwards by an old rule what the new one no longer allows.
	close_relay();
	if (auto r = deps_.data_plane->reconfigure(*cfg, senders->table); !r) {
		(void)deps_.notify("READY=1");
		if (auto o = open_relay(); !o)
			log.error(
			        o.error().with_context("the gateway's classical relay").message());
		return refuse(r.error().with_context("applying it to the data plane"));
	}
	senders_ = std::move(*senders);
	if (auto r = arm_sender_recheck(*cfg); !r)
		log.warning(cat("sender rules: cannot start the cgroup re-check: ",
		                r.error().message()));
	config_ = std::move(*cfg);
	segment_ifindex_.clear();
	for (const auto& seg : config_->gateway.segments)
		segment_ifindex_[seg.name] = static_cast<int>(::if_nametoindex(seg.name.c_str()));
	if (auto r = open_relay(); !r)
		log.error(
		        r.error().with_context("reload: the gateway's classical relay").message());
	keys_ = std::move(*keys);
	if (engine_)
		engine_->set_config(*config_);
	if (seed_changed) {
		log.info("reload: the Seed Key changed, deriving the Communication Keys again");
		rederive_comm_keys();
	}
	(void)deps_.notify("READY=1");
	log.info(cat("configuration reloaded from ", config_path_));
	emit_event("reload", {{"ok", true}});
	return {};
}

Result<SenderResolution> Daemon::resolve_sender_rules(const Config& cfg)
{
	if (cfg.senders.empty())
		return SenderResolution{};
	if (deps_.senders == nullptr)
		return fail("no resolver for sender rules");
	auto r = resolve_senders(cfg, *deps_.senders);
	if (!r)
		return r;
	for (const auto& n : r->notes)
		if (std::find(senders_.notes.begin(), senders_.notes.end(), n) ==
		    senders_.notes.end())
			deps_.log->warning(n);
	return r;
}

Result<void> Daemon::arm_sender_recheck(const Config& cfg)
{
	const bool any = std::any_of(cfg.senders.begin(), cfg.senders.end(), [](const auto& r) {
		return !r.units.empty() || !r.cgroups.empty();
	});
	if (!any || sender_timer_ || !loop_)
		return {};
	auto t = Timer::monotonic();
	if (!t)
		return tl::unexpected(t.error());
	sender_timer_ = std::move(*t);
	if (auto a = sender_timer_->arm_after(kSenderRecheckNs, kSenderRecheckNs); !a)
		return a;
	auto w =
	        loop_->watch(sender_timer_->fd(), EPOLLIN, "sender-cgroups", [this](std::uint32_t) {
		        (void)sender_timer_->consume();
		        recheck_senders();
	        });
	if (!w)
		return tl::unexpected(w.error());
	return {};
}

void Daemon::recheck_senders()
{
	if (!config_ || config_->senders.empty() || deps_.senders == nullptr || !data_plane_open_)
		return;
	auto r = reresolve_cgroups(*config_, *deps_.senders, senders_);
	if (!r) {
		// Keeps the installed ids: a cgroup that went away cannot be re-entered under its
		// old id (ids are never reused), so nothing is allowed that should not be.
		deps_.log->warning(cat("sender rules: re-checking cgroups: ", r.error().message()));
		return;
	}
	if (r->table == senders_.table)
		return;
	if (auto a = deps_.data_plane->reconfigure(*config_, r->table); !a) {
		deps_.log->error(
		        cat("sender rules: installing re-resolved cgroups: ", a.error().message()));
		return;
	}
	for (std::size_t i = 0; i < r->table.size() && i < senders_.table.size(); i++) {
		const auto& now = r->table[i].cgroups;
		const auto& before = senders_.table[i].cgroups;
		for (std::size_t j = 0; j < now.size() && j < before.size(); j++)
			if (now[j].id != before[j].id) {
				deps_.log->info(cat("sender rule on line ",
				                    config_->senders[i].line, ": cgroup ",
				                    now[j].path, " is now id ", now[j].id, " (was ",
				                    before[j].id, now[j].id ? ")" : "): refused"));
				emit_event("sender_cgroup", {{"line", config_->senders[i].line},
				                             {"path", now[j].path},
				                             {"id", now[j].id},
				                             {"was", before[j].id}});
			}
	}
	for (const auto& n : r->notes)
		if (std::find(senders_.notes.begin(), senders_.notes.end(), n) ==
		    senders_.notes.end())
			deps_.log->warning(n);
	senders_ = std::move(*r);
}

std::string Daemon::senders_json()
{
	Json rules = Json::array();
	std::vector<SenderRuleCount> counts;
	if (data_plane_open_)
		if (auto c = deps_.data_plane->sender_counts(); c)
			counts = std::move(*c);
	if (config_) {
		for (std::size_t i = 0; i < config_->senders.size(); i++) {
			const SenderRule& r = config_->senders[i];
			Json ids = Json::array();
			for (const auto& id : r.ids)
				ids.push_back(format_can_id(id));
			Json sel = Json::array();
			for (const auto& s : r.selectors)
				sel.push_back(s.text);
			Json rule = {{"rule", i + 1},    {"line", r.line},
			             {"ids", ids},       {"selectors", sel},
			             {"units", r.units}, {"cgroups", r.cgroups},
			             {"users", r.users}, {"groups", r.groups}};
			Json cgs = Json::array();
			Json uids = Json::array();
			if (i < senders_.table.size()) {
				for (const auto& cg : senders_.table[i].cgroups)
					cgs.push_back({{"path", cg.path},
					               {"id", cg.id},
					               {"level", cg.level}});
				for (const auto u : senders_.table[i].uids)
					uids.push_back(u);
			}
			rule["resolved"] = {{"cgroups", cgs}, {"uids", uids}};
			rule["allowed"] = i < counts.size() ? counts[i].allowed : 0;
			rule["denied"] = i < counts.size() ? counts[i].denied : 0;
			rules.push_back(rule);
		}
	}
	Json out = {{"rules", rules}};
	if (data_plane_open_)
		if (auto c = deps_.data_plane->counters(); c) {
			out["tx_sender_denied"] = c->by_reason[SPSEC_R_TX_SENDER_DENIED];
			out["tx_sender_unknown"] = c->by_reason[SPSEC_R_TX_SENDER_UNKNOWN];
		}
	Json notes = Json::array();
	for (const auto& n : senders_.notes)
		notes.push_back(n);
	out["notes"] = notes;
	return json_line(out);
}

void Daemon::on_signal()
{
	for (;;) {
		auto s = read_signal(signal_fd_.get());
		if (!s) {
			deps_.log->error(s.error().message());
			return;
		}
		if (!*s)
			return;
		int sig = **s;
		if (sig == SIGHUP) {
			deps_.log->info("SIGHUP: reloading the configuration");
			(void)reload();
		} else {
			deps_.log->info(cat("signal ", sig == SIGTERM ? "SIGTERM" : "SIGINT",
			                    ": stopping"));
			stop();
		}
	}
}

void Daemon::on_data_plane_events()
{
	auto r = deps_.data_plane->drain_events(
	        [this](const spsec_event& e) { on_data_plane_event(e); });
	if (!r)
		deps_.log->warning(r.error().with_context("reading data-plane events").message());
}

void Daemon::on_data_plane_event(const spsec_event& e)
{
	// Spec §7 codes; a refused local frame has none (it is a local misconfiguration).
	std::string_view type = "unknown";
	std::uint32_t code = 0;
	switch (e.type) {
	case SPSEC_EV_AUTH_FAIL:
		type = "auth_fail";
		code = 0xEE00;
		break;
	case SPSEC_EV_INJECTION:
		type = "injection";
		code = 0xDE03;
		break;
	case SPSEC_EV_REPLAY:
		type = "replay";
		code = 0xDE04;
		break;
	case SPSEC_EV_TX_REFUSED:
		type = "tx_refused";
		break;
	default:
		break;
	}
	const ReasonInfo* reason = reason_info(e.reason);
	std::string_view reason_name = reason != nullptr ? reason->name : "unknown";
	// One report per code (per type when there is no code) per second: the data plane's own
	// limit is per CPU, this one bounds the journal.
	std::uint64_t suppressed = 0;
	if (admit_report(code != 0 ? code : 0x20000u + e.type, suppressed)) {
		deps_.log->warning(
		        cat("data plane: ", type, " (", reason_name, ") CAN ID ", hex32(e.can_id),
		            code != 0 ? cat(", event ", hex32(code)) : "",
		            suppressed != 0 ? cat(" (", suppressed, " more suppressed)") : ""));
		emit_event("data_plane", {{"type", type},
		                          {"code", code != 0 ? Json(hex32(code)) : Json()},
		                          {"reason", reason_name},
		                          {"can_id", hex32(e.can_id)},
		                          {"frame_t", static_cast<std::uint64_t>(e.frame_t)},
		                          {"suppressed", suppressed}});
	}
	if (code != 0) {
		// Secure -> Warning (DE03h also stops our heartbeat while in Warning). Nothing the
		// data plane reports verified: unauthenticated input, never a Security Abort.
		record_event_code(static_cast<std::uint16_t>(code));
		apply(SmEvent::SecurityEvent, static_cast<std::uint16_t>(code), true);
	}
}

void Daemon::on_can()
{
	process_can();
}

Result<void> Daemon::open_can_socket()
{
	auto can = deps_.open_can(config_->interface);
	if (!can)
		return tl::unexpected(
		        can.error().with_context("opening the control-plane CAN socket"));
	can_ = std::move(*can);
	if (can_->fd() >= 0) {
		auto w = loop_->watch(can_->fd(), EPOLLIN, cat("can-", config_->interface),
		                      [this](std::uint32_t) { on_can(); });
		if (!w)
			return tl::unexpected(w.error());
		can_source_ = *w;
	}
	return {};
}

void Daemon::close_can_socket() noexcept
{
	if (can_source_ != 0 && loop_)
		loop_->unwatch(can_source_);
	can_source_ = 0;
	can_.reset();
}

Result<void> Daemon::open_relay()
{
	close_relay();
	if (!deps_.open_gateway_relay || !config_ || !loop_)
		return {};
	auto r = deps_.open_gateway_relay(*config_);
	if (!r)
		return tl::unexpected(r.error());
	relay_ = std::move(*r);
	if (!relay_)
		return {};
	auto w = loop_->watch(relay_->fd(), EPOLLIN, "gateway-relay",
	                      [this](std::uint32_t) { relay_->process(); });
	if (!w) {
		relay_.reset();
		return tl::unexpected(w.error());
	}
	relay_source_ = *w;
	return {};
}

void Daemon::close_relay() noexcept
{
	if (relay_source_ != 0 && loop_)
		loop_->unwatch(relay_source_);
	relay_source_ = 0;
	relay_.reset();
}

bool Daemon::on_segment_link_event(const LinkEvent& e)
{
	const auto it = segment_ifindex_.find(e.name);
	if (it == segment_ifindex_.end()) {
		// a removal names the old ifindex; the name may be gone with it
		if (e.kind != LinkEvent::Kind::Removed)
			return false;
		const auto byidx =
		        std::find_if(segment_ifindex_.begin(), segment_ifindex_.end(),
		                     [&](const auto& kv) { return kv.second == e.ifindex; });
		if (byidx == segment_ifindex_.end() || e.ifindex == 0)
			return false;
		return on_segment_link_event({e.kind, e.ifindex, byidx->first, e.up});
	}
	int& known = it->second;
	if (e.kind == LinkEvent::Kind::Removed) {
		if (known == 0 || (e.ifindex != known && e.ifindex != 0))
			return true;
		known = 0;
		// the segment programs and can-gw's jobs went with the device: nothing crosses
		// from or to it; the relay goes on for the other segments
		if (auto r = open_relay(); !r)
			deps_.log->error(r.error().message());
		deps_.log->error(cat("gateway segment ", e.name,
		                     " is gone: nothing crosses to or from it until it returns"));
		emit_event("segment_detached", {{"segment", e.name}});
		return true;
	}
	if (known == e.ifindex)
		return true;  // a flag change of the segment we know
	if (!attached_)
		return true;  // the secured interface's re-attach sets the gateway up again
	if (auto r = deps_.data_plane->reattach_gateway(*config_); !r) {
		deps_.log->error(r.error()
		                         .with_context(cat("re-attaching gateway segment ", e.name))
		                         .message());
		return true;  // retried at the segment's next event
	}
	known = e.ifindex;
	if (auto r = open_relay(); !r)
		deps_.log->error(r.error().message());
	deps_.log->warning(cat("gateway segment ", e.name, " is back (ifindex ", e.ifindex,
	                       "): its rule programs, rules and can-gw jobs are set up again"));
	emit_event("segment_attached", {{"segment", e.name}, {"ifindex", e.ifindex}});
	return true;
}

void Daemon::on_links()
{
	auto evs = links_->read();
	if (!evs) {
		// ENOBUFS: events were lost; look at the link directly.
		deps_.log->warning(evs.error().message());
		recheck_link();
		return;
	}
	on_link_events(*evs);
}

void Daemon::recheck_link()
{
	const int now_index = static_cast<int>(::if_nametoindex(config_->interface.c_str()));
	std::vector<LinkEvent> evs;
	if (attached_ && now_index != ifindex_)
		evs.push_back({LinkEvent::Kind::Removed, ifindex_, config_->interface, false});
	if (now_index != 0)
		evs.push_back({LinkEvent::Kind::Added, now_index, config_->interface, false});
	on_link_events(evs);
}

void Daemon::on_link_events(const std::vector<LinkEvent>& events)
{
	const std::uint64_t now = deps_.clock->monotonic_ns();
	for (const LinkEvent& e : events) {
		if (e.name != config_->interface && on_segment_link_event(e))
			continue;
		if (e.kind == LinkEvent::Kind::Removed && attached_ &&
		    (e.ifindex == ifindex_ || e.name == config_->interface)) {
			// Fail closed: the filters are gone with the device; nothing secured can
			// pass until it is back and attached again. Report it loudly.
			attached_ = false;
			detached_at_ = now;
			detaches_++;
			deps_.data_plane->lost_interface();
			close_can_socket();
			close_relay();
			deps_.log->error(cat("interface ", config_->interface,
			                     " is gone: data plane detached until it returns"));
			emit_event("data_plane_detached", {{"interface", config_->interface}});
			continue;
		}
		if (e.kind != LinkEvent::Kind::Added || e.name != config_->interface)
			continue;
		if (attached_ && e.ifindex == ifindex_)
			continue;  // a flag change of our own device
		if (attached_) {
			// Re-created between two events we did not see apart: the old device went.
			attached_ = false;
			detached_at_ = now;
			detaches_++;
			deps_.data_plane->lost_interface();
			close_can_socket();
			close_relay();
			emit_event("data_plane_detached", {{"interface", config_->interface}});
		}
		if (auto r = deps_.data_plane->reattach(*config_); !r) {
			deps_.log->error(
			        r.error().with_context("re-attaching the data plane").message());
			continue;  // retried at the link's next event (it is re-sent when it goes
			           // up)
		}
		attached_ = true;
		ifindex_ = e.ifindex;
		if (auto r = open_can_socket(); !r)
			deps_.log->error(r.error().message());
		// reattach() set the gateway up again: the segments as they are now
		for (auto& [name, idx] : segment_ifindex_)
			idx = static_cast<int>(::if_nametoindex(name.c_str()));
		if (auto r = open_relay(); !r)
			deps_.log->error(r.error().message());
		const std::uint64_t gap_ms = (now - detached_at_) / 1'000'000;
		deps_.log->warning(cat("interface ", config_->interface, " is back (ifindex ",
		                       e.ifindex, ", ", e.up ? "up" : "down",
		                       "): data plane attached again after ", gap_ms, " ms"));
		emit_event("data_plane_attached", {{"interface", config_->interface},
		                                   {"ifindex", e.ifindex},
		                                   {"detached_ms", gap_ms},
		                                   {"link_up", e.up}});
	}
}

Result<int> Daemon::run_once(int timeout_ms)
{
	if (!loop_)
		return fail("daemon not started");
	return loop_->run_once(timeout_ms);
}

Result<void> Daemon::run()
{
	if (!loop_)
		return fail("daemon not started");
	return loop_->run();
}

void Daemon::stop() noexcept
{
	if (loop_)
		loop_->stop();
}

void Daemon::teardown() noexcept
{
	if (torn_down_)
		return;
	torn_down_ = true;
	if (loop_ && state_ != SPSEC_STATE_NOTSET)
		set_state(SPSEC_STATE_SHUTDOWN);
	if (deps_.notify)
		(void)deps_.notify("STOPPING=1");
	emit_event("stopping");
	control_.reset();
	proto_timer_.reset();
	session_.reset();  // wipes the Session Key
	engine_.reset();   // the Communication Keys: OpenSSL frees the contexts cleansed
	persist_timer_.reset();
	watchdog_timer_.reset();
	sender_timer_.reset();
	clock_jump_.reset();
	signal_fd_.reset();
	close_can_socket();
	close_relay();
	links_.reset();
	if (data_plane_open_) {
		deps_.data_plane->close();
		data_plane_open_ = false;
	}
	loop_.reset();
	keys_.reset();  // wipes the keys (LockedBox)
	if (deps_.log)
		deps_.log->info("spsecd stopped");
}

}  // namespace spsec
