// SPDX-License-Identifier: Apache-2.0
// Daemon: spsecd's ordered start-up, event loop, reload and teardown.
//
// start() runs, in order, stopping at the first failure:
//   1. parse the config (core/config.h; a bad file names the key and line), and fetch and run
//      OpenSSL's algorithms once (prepare_crypto), so that no later frame pays their first use
//   2. load the key store (owner-only file) and the configuration registers a Configurator
//      wrote (register_overlay.h); without a Seed Key the node is factory-fresh: it stays in
//      Waiting, its data plane closed, and answers only Configurator sessions
//   3. open the data plane (load + attach, or take over pinned maps)
//   4. open the CAN_RAW control-plane socket (FD frames, bit-25 filter, SO_MARK)
//   5. signals (SIGTERM/SIGINT stop, SIGHUP reload), wall-clock watch, control socket
//   6. the clock and the protocol (protocol.cpp): a live pinned data plane (Secure/Warning,
//      clock set) is resumed as it is, nothing published; otherwise the Sync boots T from the
//      persisted value (+80 000 ticks, written ahead), draws csalt, installs keys and goes
//      Secure, and a participant goes Waiting and starts Parameter Authentication
//   7. READY=1 to systemd (and the watchdog timer, when systemd asked for one)
// teardown() always runs (destructor, or after a failed start()) and undoes what was done, in
// reverse: STOPPING=1, control socket removed, CAN socket closed, data plane handles released
// (the data plane stays pinned and enforcing), keys wiped.
//
// reload() (SIGHUP) parses the config and the key store again; if either is bad, or a setting
// that needs a restart changed, it logs why and keeps everything as it was.
#pragma once

#include <sys/random.h>
#include <sys/types.h>
#include <time.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/key_store.h"
#include "common/logger.h"
#include "core/config.h"
#include "core/messages.h"
#include "core/participant.h"
#include "core/registers.h"
#include "core/session_server.h"
#include "core/state_machine.h"
#include "daemon/can_port.h"
#include "daemon/clock.h"
#include "daemon/control_socket.h"
#include "daemon/data_plane_port.h"
#include "daemon/event_loop.h"
#include "daemon/gateway_relay.h"
#include "daemon/link_watch.h"
#include "daemon/rate_limit.h"
#include "daemon/register_overlay.h"
#include "daemon/senders.h"
#include "daemon/sync_clock.h"

namespace spsec {

struct DaemonDeps {
	const Logger* log = nullptr;
	const Clock* clock = nullptr;
	DataPlanePort* data_plane = nullptr;
	// Opens the control-plane CAN socket (CanRawPort::open in spsecd, a fake in tests).
	std::function<Result<std::unique_ptr<CanPort>>(const std::string& ifname)> open_can;
	// sd_notify (a recorder in tests).
	std::function<Result<bool>(std::string_view)> notify;
	uid_t key_owner = 0;  // the uid the key store must belong to: geteuid()
	// Directory for persisted state (the Sync role's T): StateDirectory=spsec.
	std::string state_dir = "/var/lib/spsec";
	// CLOCK_REALTIME in ns, the floor of the Sync's boot T (TPersistence::boot_t); tests
	// inject 0 for determinism.
	std::function<std::uint64_t()> realtime_ns = [] {
		timespec ts{};
		::clock_gettime(CLOCK_REALTIME, &ts);
		return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
		       static_cast<std::uint64_t>(ts.tv_nsec);
	};
	// systemd's WatchdogSec in microseconds ($WATCHDOG_USEC), 0 = off: the loop then sends
	// WATCHDOG=1 every half period, so a stuck loop gets spsecd restarted.
	std::uint64_t watchdog_usec = 0;
	// Fills the span with random bytes (getrandom; a deterministic generator in tests). Used
	// for csalt and PA request randoms. Errors: the kernel's generator failed.
	std::function<Result<void>(std::span<std::uint8_t>)> random =
	        [](std::span<std::uint8_t> out) -> Result<void> {
		std::size_t done = 0;
		while (done < out.size()) {
			ssize_t n = ::getrandom(out.data() + done, out.size() - done, 0);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				return fail_errno(errno, "getrandom");
			}
			done += static_cast<std::size_t>(n);
		}
		return {};
	};
	// Verifies a PA response (verify_pa_response; tests wrap it to make fake time pass while
	// it runs, as OpenSSL's first use once did).
	std::function<MsgResult<void>(AeadKind, const Key32&, const Random16&, const PaResponse&)>
	        verify_pa = verify_pa_response;
	// Sees every event line the control socket streams (tests; empty in spsecd).
	std::function<void(std::string_view)> on_event;
	// Watch signals with a signalfd (off in tests that run several daemons in one process).
	bool handle_signals = true;
	// Opens the link-event source (open_rtnetlink_link_watch in spsecd; empty: no watch,
	// tests call Daemon::on_link_events themselves).
	std::function<Result<std::unique_ptr<LinkSource>>()> open_link_watch;
	// Resolves sender rules (OsSenderSystem in spsecd, a fake in tests); needed only when the
	// configuration has sender rules (a start or reload with rules fails without it).
	const SenderSystem* senders = nullptr;
	// Opens the gateway's classical relay (GatewayRelay::open in spsecd; empty in tests: no
	// relay). Returns nullptr when the configuration needs none.
	std::function<Result<std::unique_ptr<GatewayRelay>>(const Config&)> open_gateway_relay;
};

// "NotSet", "Waiting", "Secure", "Warning", "Configuration", "Shutdown".
[[nodiscard]] std::string_view state_name(std::uint32_t state) noexcept;

class Daemon {
public:
	static constexpr std::uint64_t kSyncBroadcastNs = Participant::kSyncBroadcastNs;

	// deps.log, deps.clock, deps.data_plane must outlive the Daemon.
	Daemon(DaemonDeps deps, std::string config_path);
	~Daemon();
	Daemon(const Daemon&) = delete;
	Daemon& operator=(const Daemon&) = delete;

	// Steps 1..7 above. On error, teardown() has already run. Errors: the failing step's,
	// with context.
	[[nodiscard]] Result<void> start();
	// Dispatches events until SIGTERM/SIGINT or stop(). Errors: the event loop failed.
	[[nodiscard]] Result<void> run();
	// Runs the loop for at most one wait of `timeout_ms` (tests).
	[[nodiscard]] Result<int> run_once(int timeout_ms);
	void stop() noexcept;
	// Idempotent.
	void teardown() noexcept;

	// SIGHUP. Errors: the new config or key store is bad, or a restart-only setting changed;
	// the running configuration is then unchanged.
	[[nodiscard]] Result<void> reload();

	// The status object served on the control socket (one JSON line, no newline):
	// {"interface":"can0","participant_id":5,"role":"participant","state":"Waiting",
	//  "state_code":1,"clock_set":false,"t":0,"key_window":0,"tick_ns":100000,
	//  "acceptance_window":150,"keys":{"seed":"0x00000001","integrator":null,...},
	//  "peers":[{"pp":6,"state":"Secure","missing":false,"last_heartbeat_ms_ago":120,
	//           "offset_us":-310,"offset_last_us":-420,"offset_samples":8,
	//           "window_misses":0,"window_miss_worst_us":null}],
	//  "counters":{"rx_ok":0,...},"uptime_ms":1234}
	// offset_us: the peer's clock against ours, the largest of the last samples (Peer), null
	// before its first verified heartbeat; offset_last_us: the newest sample; window_misses:
	// its authentic heartbeats that failed the window (or, more than half a stamp period off,
	// their tag), window_miss_worst_us the sample of the one furthest off (negative: delayed;
	// positive: its clock ahead). heartbeat.rejections_unexamined: rejected heartbeats beyond
	// the budget for that examination (Participant::note_window_miss).
	[[nodiscard]] std::string status_json();

	// Sets the participant state, publishes it to the data plane and emits a "state" event.
	void set_state(std::uint32_t state);
	[[nodiscard]] std::uint32_t state() const noexcept { return state_; }
	[[nodiscard]] const Config* config() const noexcept
	{
		return config_ ? &*config_ : nullptr;
	}
	[[nodiscard]] const SyncClock* sync_clock() const noexcept { return clock_.get(); }
	[[nodiscard]] EventLoop* loop() noexcept { return loop_ ? &*loop_ : nullptr; }
	[[nodiscard]] ControlSocket* control() noexcept { return control_.get(); }

	// The protocol timers (the engine's: PA retry, Sync broadcast, heartbeat, sync watchdog,
	// Warning hold and abort, key roll-over, heartbeat monitor; the Configurator session's; the
	// commissioning window) are deadlines on deps.clock, checked here; one timerfd wakes the
	// loop at the earliest. Tests advance a FakeClock and call this.
	void run_timers();
	// Reads and handles every pending control-plane frame (the CAN socket's handler; tests
	// with a FakeCanPort call it after queueing frames).
	void process_can();
	// The interface vanished or came back (the link watch's handler). Gone: the data plane is
	// reported detached (log, event "data_plane_detached", status "data_plane.attached":
	// false) and the CAN socket closed. Back under the same name: the loaded programs are
	// attached again on the same pinned maps, the CAN socket reopened, "data_plane_attached"
	// with the gap. A failed re-attach is retried at the link's next event.
	// The same for the gateway's segments: gone, the relay stops on it (event
	// "segment_detached"); back under the same name with a new ifindex, the segment programs,
	// rules and can-gw jobs are set up again and the relay reopened ("segment_attached").
	void on_link_events(const std::vector<LinkEvent>& events);
	[[nodiscard]] bool data_plane_attached() const noexcept { return attached_; }
	// Looks up the cgroups of the sender rules again (every kSenderRecheckNs while a rule
	// names units or cgroups: a unit's restart makes a new cgroup with a new id) and installs
	// the rules anew when an id changed. Until then a restarted unit's frames are refused.
	void recheck_senders();
	static constexpr std::uint64_t kSenderRecheckNs = 1'000'000'000;
	[[nodiscard]] const SenderResolution& senders() const noexcept { return senders_; }
	// The `senders` control command's reply: every rule with what it resolved to and its
	// counters, {"rules":[{"rule":1,"line":12,"ids":["0x123"],"units":[...],"cgroups":[...],
	// "users":[...],"groups":[...],"resolved":{"cgroups":[{"path":..,"id":..,"level":..}],
	// "uids":[...]},"allowed":N,"denied":M}],"tx_sender_denied":N,"tx_sender_unknown":M}
	[[nodiscard]] std::string senders_json();
	// The register map as a Configurator sees it now (keys from the key store, configuration
	// registers from the YAML with the written ones over it, live status and last event).
	[[nodiscard]] RegisterStore register_store() const;
	[[nodiscard]] const SessionServer* session() const noexcept
	{
		return session_ ? &*session_ : nullptr;
	}
	[[nodiscard]] CanPort* can() noexcept { return can_.get(); }
	[[nodiscard]] const Status& sm_status() const noexcept
	{
		static const Status kNone{};
		return engine_ ? engine_->status() : kNone;
	}
	[[nodiscard]] const std::optional<CommSalt>& csalt() const noexcept
	{
		static const std::optional<CommSalt> kNone;
		return engine_ ? engine_->csalt() : kNone;
	}

	// Emits one event line ({"uptime_ms":..,"event":<name>,<fields>...}) to subscribers; the
	// members of the object `fields` follow in their order.
	void emit_event(std::string_view name, const Json& fields = Json::object());

	// The commissioning window (docs/commissioning.md): while it is open a Zero-Key session
	// may install the Provisioning Key on a node that already holds keys. Only a local root
	// (or spsecd's uid) opens it, over the control socket (`spsecctl commission`); it closes
	// after `duration_ns`, after that one install, or by close_commissioning(). Errors:
	// duration 0 or longer than kMaxCommissionNs.
	static constexpr std::uint64_t kMaxCommissionNs = 3600'000'000'000;  // 1 h
	[[nodiscard]] Result<void> open_commissioning(std::uint64_t duration_ns);
	void close_commissioning(std::string_view reason);
	[[nodiscard]] bool commissioning_open() const noexcept { return commission_until_ != 0; }

	// Session openings: at most kHelloBurst ClientHellos to this node are answered at once,
	// refilled at one per kHelloIntervalNs; the rest are dropped unanswered and counted.
	static constexpr unsigned kHelloBurst = 4;
	static constexpr std::uint64_t kHelloIntervalNs = 250'000'000;
	// Control-plane frames read per wake-up of the CAN socket; the rest wait for the next
	// one, so timers and the control socket are served in between.
	static constexpr int kMaxFramesPerWake = 64;

private:
	[[nodiscard]] Result<void> start_steps();
	[[nodiscard]] Result<void> start_clock();
	[[nodiscard]] Result<void> persist_t_if_needed();
	[[nodiscard]] Result<void> publish_state();
	void on_signal();
	void on_can();
	[[nodiscard]] Result<void> open_can_socket();
	void close_can_socket() noexcept;
	void on_links();
	void recheck_link();
	// The gateway segments' part of on_link_events; true when `e` was about a segment.
	bool on_segment_link_event(const LinkEvent& e);
	// (Re)opens the classical relay for config_ (nothing without a gateway or the dep).
	[[nodiscard]] Result<void> open_relay();
	void close_relay() noexcept;
	// Protocol (protocol.cpp): the engine's I/O shell.
	// Carries out the engine's actions in order.
	void carry_out(const ParticipantActions& actions);
	// Feeds a state machine event to the engine.
	void apply(SmEvent ev, std::uint16_t code = 0, bool unauthenticated = false);
	// Records a security event (register 51h), reports it (log line and event, at most one
	// per code per second: the rest are counted and the next report says how many) and feeds
	// the engine's state machine. `unauthenticated`: raised by input that did not verify,
	// which never arms the Warning-sustained abort (state_machine.h).
	void security_event(std::uint16_t code, std::string_view detail, bool unauthenticated);
	// The rate limit of security reports: true when this one may be logged and emitted;
	// `suppressed` then holds how many of `key` were dropped since the last report.
	[[nodiscard]] bool admit_report(std::uint32_t key, std::uint64_t& suppressed);
	[[nodiscard]] std::optional<std::string> on_control_command(std::string_view cmd,
	                                                            const Json& req, uid_t peer);
	[[nodiscard]] bool holds_any_key() const noexcept
	{
		return keys_ && (keys_->get(KeyRole::Seed) != nullptr ||
		                 keys_->get(KeyRole::Integrator) != nullptr ||
		                 keys_->get(KeyRole::Provisioning) != nullptr);
	}
	[[nodiscard]] Result<void> resume_or_start();
	// Returns when the frame went out (deps.clock ns; the port's stamp where it has one).
	std::uint64_t send_frame(const CanFrame& f, std::string_view what);
	void rearm_timer();
	[[nodiscard]] Result<void> load_or_draw_csalt(bool reuse);
	// Configurator sessions (configurator.cpp).
	void on_session_frame(const CanFrame& f);
	void handle_session_output(ServerOutput out);
	[[nodiscard]] Result<void> commit_registers(const RegisterStore& next,
	                                            const std::vector<SessionEvent>& events);
	void on_session_event(const SessionEvent& e);
	void exit_configuration(std::string_view reason);
	void rederive_comm_keys();
	[[nodiscard]] bool has_seed() const noexcept
	{
		return keys_ && keys_->get(KeyRole::Seed) != nullptr;
	}
	[[nodiscard]] std::string overlay_path() const;
	void record_event_code(std::uint16_t code) noexcept { last_event_ = code; }
	void on_data_plane_events();
	void on_data_plane_event(const spsec_event& e);
	// Resolves cfg's sender rules, logging the notes that are new. Errors: resolve_senders'.
	[[nodiscard]] Result<SenderResolution> resolve_sender_rules(const Config& cfg);
	// Starts the periodic re-check when cfg has units or cgroups in its rules.
	[[nodiscard]] Result<void> arm_sender_recheck(const Config& cfg);

	DaemonDeps deps_;
	std::string config_path_;
	std::optional<Config> config_;
	std::optional<KeyStore> keys_;
	std::optional<EventLoop> loop_;
	std::unique_ptr<CanPort> can_;
	EventLoop::SourceId can_source_ = 0;
	std::unique_ptr<LinkSource> links_;
	std::unique_ptr<GatewayRelay> relay_;
	EventLoop::SourceId relay_source_ = 0;
	std::map<std::string, int> segment_ifindex_;  // the gateway's segments as attached; 0: gone
	int ifindex_ = 0;       // of the interface the data plane is attached to
	bool attached_ = true;  // false from the interface's removal to the re-attach
	std::uint64_t detached_at_ = 0;
	std::uint64_t detaches_ = 0;
	Fd signal_fd_;
	std::optional<ClockJumpWatch> clock_jump_;
	std::optional<Timer> persist_timer_;
	std::optional<Timer> watchdog_timer_;
	std::optional<Timer> sender_timer_;
	SenderResolution senders_;  // the sender rules as last installed
	std::unique_ptr<ControlSocket> control_;
	std::unique_ptr<SyncClock> clock_;
	std::optional<TPersistence> persist_;
	std::uint32_t state_ = SPSEC_STATE_NOTSET;
	std::uint64_t start_ns_ = 0;

	// The participant protocol (core/participant.h), on clock_; created with it.
	std::unique_ptr<Participant> engine_;
	std::optional<Timer> proto_timer_;
	// Configurator sessions.
	std::optional<SessionServer> session_;
	RegisterOverlay overlay_;  // configuration registers written over the bus, persisted
	DeviceInfo device_;
	std::uint16_t last_event_ = 0;  // register 51h
	bool seed_changed_ = false;     // a Seed Key was installed in the open session
	// The open session put the node into Configuration. [choice] A Zero-Key session on a
	// node that holds keys does not: it serves the public discovery reads and changes no
	// state.
	bool config_entered_ = false;
	std::uint64_t commission_until_ = 0;  // deps.clock deadline of the window; 0 = closed
	TokenBucket hellos_{kHelloBurst, kHelloIntervalNs};
	EventLimiter reports_;  // security reports, one per code per second
	bool data_plane_open_ = false;
	bool torn_down_ = true;
};

}  // namespace spsec
