// SPDX-License-Identifier: Apache-2.0
// The participant state machine (spec §1) as a pure transition function: no clocks, no timers, no
// I/O. The daemon owns the timers; when one fires it feeds the matching event in, and it carries
// out the returned actions in the order of the Action enum (stop before wipe before start).
//
//   step(status, input) -> Transition{valid, next status, actions}
//
// The table (spec §1, plus our [choice] rows), every other (state, event) pair is invalid: the
// status is unchanged, no action is taken, and `why` says what was ignored (a stale timer event,
// a late PA response, ...). The daemon still records security events in register 51h itself.
//
// | From                      | Event               | To            | Actions |
// |---------------------------|---------------------|---------------|------------------------------|
// | NotSet, Shutdown          | StartSecurity       | Waiting       | report PID, DP off, PA start
// | | Waiting                   | SecurityEstablished | Secure        | PA stop, DP on, HB start, |
// |                           |                     |               | sync watchdog on, alert off |
// | Secure                    | SecurityEvent       | Warning       | alert on, hold start, abort |
// |                           |                     |               | timer start (+HB stop:
// DE03h)| | Warning                   | SecurityEvent       | Warning       | hold restart (+HB
// stop DE03h)| | Warning                   | HoldExpired         | Secure        | alert off, abort
// timer stop, | |                           |                     |               | HB start if it
// was stopped   | | Secure, Warning           | SyncLost (FE0Fh)    | Waiting       | Security
// Abort (below)       | | Warning                   | WarningSustained    | Waiting       |
// Security Abort [choice]      | | Waiting, Secure, Warning  | EnterConfig         | Configuration
// | DP off, HB stop, PA stop,    | |                           |                     | | hold +
// abort timers stop     | | Configuration             | ExitConfig, synced  | Secure        | DP
// on, HB start, alert off   | | Configuration             | ExitConfig, !synced | Waiting       |
// wipe keys, PA start          | | any                       | Shutdown            | Shutdown |
// everything off, wipe keys    |
//
// [choice] Unauthenticated security events (SmInput::unauthenticated) never arm the abort timer:
// Secure -> Warning without StartAbortTimer; in Warning only an authenticated event arms it.
// [choice] Exit Config never clears a pending Warning or the alert: with the alert set a
// synchronized Exit Config returns to Warning (hold timer restarted, the abort timer too when it
// was armed before Enter Config), not to Secure.
//
// Security Abort: DP off, HB stop, hold + abort timers stop, sync watchdog off, wipe the
// Communication Keys and csalt, restart Parameter Authentication. [choice] The alert flag stays
// set through an abort (Waiting + alert = "aborted on a security condition", distinguishable
// from a normal start-up) and is cleared when security is established again.
// [choice] Data plane (DP) off = no secured traffic either way: in Waiting and Configuration the
// node fails closed.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/messages.h"  // event_code::kInjection
#include "spsec/abi.h"

namespace spsec {

enum class State : std::uint8_t {
	NotSet = SPSEC_STATE_NOTSET,
	Waiting = SPSEC_STATE_WAITING,
	Secure = SPSEC_STATE_SECURE,
	Warning = SPSEC_STATE_WARNING,
	Configuration = SPSEC_STATE_CONFIGURATION,
	Shutdown = SPSEC_STATE_SHUTDOWN,
};
[[nodiscard]] std::string_view state_name(State s) noexcept;  // "NotSet", "Waiting", ...

struct Status {
	State state = State::NotSet;
	bool alert = false;  // register 50h bit 7
	// The heartbeat was stopped in Warning because of an injection of an own ID (DE03h); it
	// restarts when the node returns to Secure.
	bool heartbeat_suppressed = false;
	// The Warning-sustained abort timer runs: set by a security event backed by authenticated
	// evidence (SmInput::unauthenticated false); kept through Configuration so Exit Config can
	// restore it.
	bool abort_armed = false;

	// Register 50h: bits 0..3 state, bit 7 alert (also the context byte of heartbeat IDs).
	[[nodiscard]] constexpr std::uint8_t reg50() const noexcept
	{
		return static_cast<std::uint8_t>(static_cast<unsigned>(state) |
		                                 (alert ? 0x80u : 0u));
	}
	friend constexpr bool operator==(const Status&, const Status&) = default;
};

enum class SmEvent : std::uint8_t {
	StartSecurity,        // start-up (or restart from Shutdown)
	SecurityEstablished,  // a PA response verified; the Sync: after drawing csalt
	SecurityEvent,        // auth failure, heartbeat loss, sync failure, injection, ...
	HoldExpired,          // the hold timer (timeouts.warning_hold) ran out
	WarningSustained,     // [choice] the Warning abort timer (timeouts.warning_abort) ran out
	SyncLost,             // no verifiable Sync broadcast for timeouts.sync_abort (FE0Fh)
	EnterConfig,          // ClientFinished of a Configurator session verified
	ExitConfig,           // SessionTerminate or session timeout
	Shutdown,             // stop
};
[[nodiscard]] std::string_view sm_event_name(SmEvent e) noexcept;

struct SmInput {
	SmEvent event = SmEvent::StartSecurity;
	// SecurityEvent: the spec §7 code (0 when unknown). DE03h (injection of an own ID) also
	// stops the heartbeat while in Warning (spec §5).
	std::uint16_t event_code = 0;
	// ExitConfig: the clock is still synchronized (decides Secure vs Waiting).
	bool synchronized = false;
	// SecurityEvent: raised by input that did not verify (a bad tag, a replay, an own ID
	// arriving from the bus, a session frame). [choice] Such input moves Secure to Warning
	// and restarts the hold timer, but never starts the Warning-sustained abort: a keyless
	// attacker must not be able to wipe the keys of a node by sending garbage.
	bool unauthenticated = false;
};

// Things the daemon must do, as bits; carry them out in this (numeric) order.
enum class Action : std::uint32_t {
	DataPlaneOff = 1u << 0,         // spsec_state.state -> no secured traffic
	StopHeartbeat = 1u << 1,        // stop sending Secure heartbeats
	StopHoldTimer = 1u << 2,        // disarm the Warning hold timer
	StopAbortTimer = 1u << 3,       // disarm the Warning-sustained abort timer
	StopSyncWatchdog = 1u << 4,     // disarm the sync_abort watchdog
	StopPa = 1u << 5,               // stop sending Parameter Authentication requests
	WipeKeys = 1u << 6,             // wipe Communication Keys (both slots) and csalt
	ReportParticipantId = 1u << 7,  // internal plane: report the Participant ID (reg 60h)
	StartPa = 1u << 8,           // (re)start Parameter Authentication now, then every pa_retry
	StartHoldTimer = 1u << 9,    // (re)arm the hold timer with timeouts.warning_hold
	StartAbortTimer = 1u << 10,  // arm the abort timer with timeouts.warning_abort
	StartSyncWatchdog = 1u << 11,  // arm the sync_abort watchdog (re-armed per Sync broadcast)
	DataPlaneOn = 1u << 12,        // spsec_state.state -> Secure/Warning traffic flows
	StartHeartbeat = 1u << 13,     // send Secure heartbeats (if the cycle is not off)
};

struct Actions {
	std::uint32_t bits = 0;
	[[nodiscard]] constexpr bool has(Action a) const noexcept
	{
		return (bits & static_cast<std::uint32_t>(a)) != 0;
	}
	constexpr Actions& operator|=(Action a) noexcept
	{
		bits |= static_cast<std::uint32_t>(a);
		return *this;
	}
	friend constexpr bool operator==(const Actions&, const Actions&) = default;
};
[[nodiscard]] constexpr Actions operator|(Action a, Action b) noexcept
{
	return Actions{static_cast<std::uint32_t>(a) | static_cast<std::uint32_t>(b)};
}
[[nodiscard]] constexpr Actions operator|(Actions a, Action b) noexcept
{
	return a |= b;
}
[[nodiscard]] std::string_view action_name(Action a) noexcept;  // "DataPlaneOff", ...

struct Transition {
	bool valid = false;  // false: the event does not apply in this state; nothing changes
	Status next;         // the new status (== the old one when !valid)
	Actions actions;
	std::string_view why;  // for logs: which row applied, or why the event was ignored
};

// The transition function. Never fails; invalid combinations return valid == false.
[[nodiscard]] Transition step(const Status& current, const SmInput& input) noexcept;

}  // namespace spsec
