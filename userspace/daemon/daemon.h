// SPDX-License-Identifier: Apache-2.0
// Daemon: spsecd's ordered start-up, event loop, reload and teardown.
//
// start() runs, in order, stopping at the first failure:
//   1. parse the config (core/config.h; a bad file names the key and line)
//   2. load the key store (owner-only file; a Seed Key is required)
//   3. open the data plane (load + attach, or take over pinned maps)
//   4. open the CAN_RAW control-plane socket (FD frames, bit-25 filter, SO_MARK)
//   5. signals (SIGTERM/SIGINT stop, SIGHUP reload), wall-clock watch, control socket
//   6. the clock: Sync role boots T from the persisted value (+80 000 ticks, written ahead);
//      participants start Waiting until Parameter Authentication
//   7. READY=1 to systemd (and the watchdog timer, when systemd asked for one)
// teardown() always runs (destructor, or after a failed start()) and undoes what was done, in
// reverse: STOPPING=1, control socket removed, CAN socket closed, data plane handles released
// (the data plane stays pinned and enforcing), keys wiped.
//
// reload() (SIGHUP) parses the config and the key store again; if either is bad, or a setting
// that needs a restart changed, it logs why and keeps everything as it was.
#pragma once

#include <sys/types.h>
#include <time.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/config.h"
#include "daemon/can_port.h"
#include "daemon/clock.h"
#include "daemon/control_socket.h"
#include "daemon/data_plane_port.h"
#include "daemon/event_loop.h"
#include "daemon/key_store.h"
#include "daemon/logger.h"
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
	// Watch signals with a signalfd (off in tests that run several daemons in one process).
	bool handle_signals = true;
};

// "NotSet", "Waiting", "Secure", "Warning", "Configuration", "Shutdown".
[[nodiscard]] std::string_view state_name(std::uint32_t state) noexcept;

class Daemon {
public:
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
	//  "peers":[],"counters":{"rx_ok":0,...},"uptime_ms":1234}
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

	// Emits one event line ({"ts_ms":..,"event":<name>,<fields>}) to subscribers; `fields_json`
	// is a JSON object's inner members ("\"from\":\"Waiting\"") or empty.
	void emit_event(std::string_view name, std::string_view fields_json);

private:
	[[nodiscard]] Result<void> start_steps();
	[[nodiscard]] Result<void> start_clock();
	[[nodiscard]] Result<void> persist_t_if_needed();
	[[nodiscard]] Result<void> publish_state();
	void on_signal();
	void on_can();
	void on_data_plane_events();
	void on_data_plane_event(const spsec_event& e);

	DaemonDeps deps_;
	std::string config_path_;
	std::optional<Config> config_;
	std::optional<KeyStore> keys_;
	std::optional<EventLoop> loop_;
	std::unique_ptr<CanPort> can_;
	Fd signal_fd_;
	std::optional<ClockJumpWatch> clock_jump_;
	std::optional<Timer> persist_timer_;
	std::optional<Timer> watchdog_timer_;
	std::unique_ptr<ControlSocket> control_;
	std::unique_ptr<SyncClock> clock_;
	std::optional<TPersistence> persist_;
	std::uint32_t state_ = SPSEC_STATE_NOTSET;
	std::uint64_t start_ns_ = 0;
	bool data_plane_open_ = false;
	bool torn_down_ = true;
};

}  // namespace spsec
