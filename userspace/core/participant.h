// SPDX-License-Identifier: Apache-2.0
// The participant protocol as a pure engine: the state machine (state_machine.h) driven by
// timers and control-plane frames, Parameter Authentication, the Sync broadcast, Communication
// Key roll-over, Secure heartbeats and the heartbeat monitor. Rules in docs/operations.md
// ("Protocol").
//
// Like SessionServer (session_server.h) it does no I/O and reads no clock: the caller (spsecd's
// Daemon) passes every received frame with its kernel receive time and the current
// CLOCK_MONOTONIC time, calls on_tick() when next_deadline() has passed, and carries out the
// returned actions in order: frames to send, state and keys for the data plane, security
// reports, log lines and events. What the engine owns:
//   - the participant Status, csalt, the Communication Keys of the live windows (AEAD contexts,
//     by window parity) and the control plane's freshness table;
//   - one deadline per protocol timer (Timer below), 0 = not armed;
//   - the PA exchange (request random, send time, clock probation after PA) and the peers'
//     heartbeat records.
// The synchronized clock (SyncTime) is the Daemon's, shared by reference: the Daemon publishes
// it to the data plane; the engine sets, adjusts and resets it.
//
// Injected: the Seed Key (looked up at each use: the key store can change under a
// Configurator or a reload), the random source (PA request randoms) and the PA verifier.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/aead.h"
#include "core/can_frame.h"
#include "core/config.h"
#include "core/messages.h"
#include "core/state_machine.h"
#include "core/sync_time.h"
#include "core/timestamp.h"

namespace spsec {

// One field of an event the Daemon reports ({"t":5,...}); the Daemon renders it.
struct EventField {
	std::string_view key;
	std::variant<std::uint64_t, std::int64_t, bool, std::string> value;
};

// What the Daemon must do, in the order returned.
struct ParticipantAction {
	enum class Kind : std::uint8_t {
		Log,         // level, text
		Event,       // name, fields: one event line to control-socket subscribers
		Send,        // frame, what (for errors), tx: report the send with on_sent()
		SetState,    // state: publish state (and clock) to the data plane, "state" event
		Republish,   // publish the current state again (the clock was re-based or reset)
		InstallKey,  // window, key: into the data plane's spare slot, then report with
		             // key_installed() or key_install_failed()
		WipeKeys,    // wipe the data plane's keys ("keys_wiped" event)
		// A security event (spec §7): record it (register 51h) and report it (log line and
		// event, rate-limited per code), code and text (the detail). The engine has already
		// fed it to its state machine.
		SecurityEvent,
		// A PA response that did not verify: record FE00h, report (rate-limited) with text
		// as the log line and detail as the event detail; no state change.
		PaAuthFailure,
		// No verifiable Sync broadcast in time: record `code` (register 51h), log text and
		// report detail, not rate-limited (it ends the synchronization).
		SyncAbort,
		// A warning rate-limited under `limit_key` (malformed PA frames): log text if
		// admitted.
		LimitedWarning,
		// The Sync role needs a csalt and has none: draw one (set_csalt) and call
		// establish_sync() again.
		NeedCsalt,
	};
	enum class Level : std::uint8_t { Debug, Info, Warning, Error };
	enum class Tx : std::uint8_t { Other, PaRequest, Heartbeat };

	Kind kind = Kind::Log;
	Level level = Level::Info;
	std::string text;
	std::string_view name;           // Event
	std::vector<EventField> fields;  // Event
	std::optional<CanFrame> frame;   // Send
	Tx tx = Tx::Other;               // Send
	std::uint64_t stamped_ns = 0;    // Send, Heartbeat: when its T was taken
	std::uint32_t state = 0;         // SetState
	std::uint64_t window = 0;        // InstallKey
	std::optional<Key32> key;        // InstallKey (wiped with the action)
	std::uint16_t code = 0;          // SecurityEvent, PaAuthFailure, SyncAbort
	std::string detail;              // PaAuthFailure, SyncAbort
	std::uint32_t limit_key = 0;     // LimitedWarning
};
using ParticipantActions = std::vector<ParticipantAction>;

// The Seed Key as the engine uses it (a view into the locked key store; valid during a call).
struct SeedKeyRef {
	const Key32* key = nullptr;
	KeySalt salt{};
};

struct ParticipantDeps {
	// The Seed Key now, nullopt when the node holds none (factory-fresh, reset).
	std::function<std::optional<SeedKeyRef>()> seed;
	// Fills the span with random bytes. Errors: the generator failed.
	std::function<Result<void>(std::span<std::uint8_t>)> random;
	// Verifies a PA response (verify_pa_response).
	std::function<MsgResult<void>(AeadKind, const Key32&, const Random16&, const PaResponse&)>
	        verify_pa = verify_pa_response;
};

class Participant {
public:
	static constexpr std::uint64_t kSyncBroadcastNs = 10'000'000'000;  // spec §5: every 10 s
	// The offset reported per peer is the largest of the last kOffsetSamples: every delay
	// (sender scheduling, bus, receive path) only lowers a sample, so the largest is the
	// closest to the clocks' true offset (as NTP's minimum-delay filter).
	static constexpr std::size_t kOffsetSamples = 8;

	// The protocol timers; one deadline each (CLOCK_MONOTONIC ns, 0 = not armed).
	enum class Timer : std::uint8_t {
		KeyRoll,       // next change of the live key set
		SyncWatchdog,  // participant: no verifiable Sync broadcast -> Security Abort
		WarningAbort,  // Warning sustained -> Security Abort
		WarningHold,   // Warning held -> back to Secure
		PaRetry,       // Waiting: next PA request
		Broadcast,     // Sync role: next Sync broadcast
		Heartbeat,     // next heartbeat slot
		kCount,
	};

	struct Peer {
		std::uint64_t last_ns = 0;  // time of the last verified heartbeat, 0: none
		std::uint8_t status = 0;    // its register 50h
		bool missing = false;       // EF00h+pp raised and no heartbeat since
		// Clock offset samples: T in each verified heartbeat's stamp minus our T at its
		// kernel receive time, ns (SyncTime::offset_ns), newest last, at most
		// kOffsetSamples, since our clock was last set or stepped.
		std::vector<std::int64_t> offsets;
		// Its authentic heartbeats that failed the window, and the sample of the one
		// furthest off (negative: delayed; positive: its clock ahead).
		std::uint64_t window_misses = 0;
		std::int64_t window_miss_worst_ns = 0;
	};

	// `config` and `clock` must outlive the engine; the Daemon re-points config with
	// set_config() after a reload.
	Participant(const Config& config, SyncTime& clock, ParticipantDeps deps);
	~Participant();
	Participant(const Participant&) = delete;
	Participant& operator=(const Participant&) = delete;

	void set_config(const Config& config) noexcept { cfg_ = &config; }
	// The Sync role's csalt (drawn or persisted by the Daemon).
	void set_csalt(const CommSalt& c) noexcept { csalt_ = c; }

	// A state machine event from outside the engine (start, Configurator sessions, the data
	// plane's reports).
	[[nodiscard]] ParticipantActions
	apply(SmEvent ev, std::uint64_t now, std::uint16_t code = 0, bool unauthenticated = false);
	// Records and reports a security event and feeds it to the state machine.
	// `unauthenticated`: raised by input that did not verify (never arms the Warning-
	// sustained abort).
	[[nodiscard]] ParticipantActions security_event(std::uint16_t code, std::string_view detail,
	                                                bool unauthenticated, std::uint64_t now);
	// Sync role: csalt, keys, Secure (or stays in Waiting without a Seed Key).
	[[nodiscard]] ParticipantActions establish_sync(std::uint64_t now);
	// Resumes a live pinned data plane in `state` on the adopted clock: Warning restarts its
	// timers; the Sync role goes on at once, a participant runs PA to re-establish its own
	// clock and keys (until then resumed() is true).
	[[nodiscard]] ParticipantActions resume(State state, std::uint64_t now);
	// The Seed Key changed: the Communication Keys are derived again (a Sync in Waiting with
	// a Seed Key establishes itself).
	[[nodiscard]] ParticipantActions rederive_keys(std::uint64_t now);
	// Exit Config (after the Daemon applied what the session wrote).
	[[nodiscard]] ParticipantActions exit_configuration(std::uint64_t now);

	// A control-plane frame of kind PaRequest, PaResponse, SyncBroadcast or Heartbeat; others
	// are ignored. `rx_ns`: its kernel receive time (<= now).
	[[nodiscard]] ParticipantActions on_frame(ControlKind kind, const CanFrame& f,
	                                          std::uint64_t rx_ns, std::uint64_t now);
	// The heartbeat of a Send action (tx Heartbeat) sealed again with T taken at `now`, just
	// before the Daemon writes it: the actions carried out before it (key installs, log lines,
	// other frames) then do not make it late at every receiver. nullopt when it cannot be
	// sealed now (no longer Secure or Warning, or no key for that window yet): the Daemon then
	// sends the action's own frame, authentic too, only older.
	[[nodiscard]] std::optional<CanFrame> restamp_heartbeat(std::uint64_t now);
	// Reports when a Send action's frame went out: `sent_ns` just before the write, `tx_ns`
	// the port's time for it (PA: the round trip starts there); `restamped_ns`: when a
	// heartbeat's T was taken again (restamp_heartbeat), 0 if it was not.
	void on_sent(const ParticipantAction& a, std::uint64_t sent_ns, std::uint64_t tx_ns,
	             std::uint64_t restamped_ns = 0) noexcept;
	// The data plane refused the key of an InstallKey action: forgotten, derived again at the
	// next roll-over.
	void key_install_failed(std::uint64_t window) noexcept;

	// The protocol timers that are due at `now`.
	[[nodiscard]] ParticipantActions on_tick(std::uint64_t now);
	// The heartbeat monitor: EF00h+pp for every watched peer silent for 2.5 cycles.
	[[nodiscard]] ParticipantActions check_peers(std::uint64_t now);
	// The earliest armed deadline (timers and the heartbeat monitor), nullopt: none.
	[[nodiscard]] std::optional<std::uint64_t> next_deadline() const;

	[[nodiscard]] const Status& status() const noexcept { return sm_; }
	[[nodiscard]] const std::optional<CommSalt>& csalt() const noexcept { return csalt_; }
	[[nodiscard]] bool resumed() const noexcept { return resumed_; }
	[[nodiscard]] const std::map<std::uint8_t, Peer>& peers() const noexcept { return peers_; }
	// Windows of the Communication Keys held (even slot first).
	[[nodiscard]] std::vector<std::uint64_t> key_windows() const;
	[[nodiscard]] bool heartbeat_armed() const noexcept { return due(Timer::Heartbeat) != 0; }
	[[nodiscard]] std::uint64_t last_heartbeat_sent_ns() const noexcept
	{
		return last_hb_sent_ns_;
	}
	// Heartbeats rejected for the window or their tag that were not examined for authenticity
	// (note_window_miss's budget was spent: a flood of forged heartbeats).
	[[nodiscard]] std::uint64_t heartbeat_rejections_unexamined() const noexcept
	{
		return hb_unexamined_;
	}
	[[nodiscard]] std::uint64_t heartbeat_send_lag_max_ns() const noexcept
	{
		return hb_send_lag_max_ns_;
	}
	[[nodiscard]] std::uint64_t due(Timer t) const noexcept
	{
		return due_[static_cast<std::size_t>(t)];
	}

private:
	struct LiveKey {
		std::uint64_t window = 0;
		std::unique_ptr<Aead> aead;
	};
	using Out = ParticipantActions;

	std::uint64_t& deadline(Timer t) noexcept { return due_[static_cast<std::size_t>(t)]; }
	[[nodiscard]] bool has_seed() const { return deps_.seed && deps_.seed().has_value(); }
	[[nodiscard]] StampParams stamp_params() const;
	[[nodiscard]] Aead* key_for(std::uint64_t window) noexcept;
	[[nodiscard]] std::uint64_t heartbeat_period_ns() const;
	[[nodiscard]] std::uint64_t next_heartbeat_ns(std::uint64_t now) const;
	[[nodiscard]] bool secure_or_warning() const noexcept
	{
		return sm_.state == State::Secure || sm_.state == State::Warning;
	}
	void do_apply(Out& out, SmEvent ev, std::uint64_t now, std::uint16_t code = 0,
	              bool unauthenticated = false);
	void do_security_event(Out& out, std::uint16_t code, std::string_view detail,
	                       bool unauthenticated, std::uint64_t now);
	void do_establish_sync(Out& out, std::uint64_t now);
	void update_keys(Out& out, std::uint64_t now);
	void wipe_comm_keys(Out& out);
	void send_pa_request(Out& out);
	void send_sync_broadcast(Out& out, std::uint64_t now);
	// Our heartbeat with T at `now`; nullopt when we send none now (not Secure or Warning, or
	// no key for that window yet).
	[[nodiscard]] std::optional<Result<CanFrame>> seal_own_heartbeat(std::uint64_t now);
	void send_heartbeat(Out& out, std::uint64_t now);
	void on_pa_request(Out& out, const CanFrame& f, std::uint64_t now);
	void on_pa_response(Out& out, const CanFrame& f, std::uint64_t rx_ns, std::uint64_t now);
	void on_sync_broadcast(Out& out, const CanFrame& f, std::uint64_t rx_ns, std::uint64_t now);
	[[nodiscard]] bool clock_behind_sync(Out& out, const CanFrame& f, std::uint64_t rx_ns,
	                                     std::uint64_t now);
	void on_heartbeat(Out& out, const CanFrame& f, std::uint64_t rx_ns, std::uint64_t now);
	void note_window_miss(const CanFrame& f, std::uint64_t rx_ns, std::uint64_t now);
	void clear_peer_offsets() noexcept;

	const Config* cfg_;
	SyncTime* clock_;
	ParticipantDeps deps_;
	Status sm_;
	std::optional<CommSalt> csalt_;
	std::array<std::optional<LiveKey>, 2> live_keys_;  // by window parity
	FreshnessTable fresh_;
	std::array<std::uint64_t, static_cast<std::size_t>(Timer::kCount)> due_{};
	std::uint64_t monitor_since_ = 0;  // when peers became due (entering Secure)
	std::uint64_t last_hb_sent_ns_ = 0;
	std::uint64_t hb_send_lag_max_ns_ = 0;  // longest from taking a heartbeat's T to sending it
	// note_window_miss's budget, and the rejected heartbeats it had no budget left to examine.
	std::uint64_t examine_tokens_ = 16;
	std::uint64_t examine_at_ns_ = 0;
	std::uint64_t hb_unexamined_ = 0;
	bool pa_pending_ = false;
	Random16 pa_rnd_{};
	std::uint64_t pa_sent_ns_ = 0;
	// From a PA that set our clock until a Sync broadcast passes the window: a broadcast that
	// is authentic but stamped more than W ahead of our clock then shows our clock is behind
	// and PA runs again at once (docs/threat-model.md, "Clock").
	bool clock_probation_ = false;
	unsigned quick_pa_count_ = 0;  // such immediate re-runs since the last in-window broadcast
	// Resumed from a live pinned data plane: Secure on the previous daemon's clock and keys
	// until our own PA response (participant) re-establishes them.
	bool resumed_ = false;
	std::map<std::uint8_t, Peer> peers_;
};

}  // namespace spsec
