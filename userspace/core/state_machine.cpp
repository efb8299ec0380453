// SPDX-License-Identifier: Apache-2.0
#include "core/state_machine.h"

namespace spsec {

namespace {

// Security Abort (spec §1): everything the secure states run stops, the keys go, PA restarts.
constexpr Actions kAbort = Action::DataPlaneOff | Action::StopHeartbeat | Action::StopHoldTimer |
                           Action::StopAbortTimer | Action::StopSyncWatchdog | Action::WipeKeys |
                           Action::StartPa;

constexpr Actions kShutdown = Action::DataPlaneOff | Action::StopHeartbeat | Action::StopHoldTimer |
                              Action::StopAbortTimer | Action::StopSyncWatchdog | Action::StopPa |
                              Action::WipeKeys;

Transition invalid(const Status& s, std::string_view why) noexcept
{
	return Transition{false, s, Actions{}, why};
}

Transition go(Status next, Actions a, std::string_view why) noexcept
{
	return Transition{true, next, a, why};
}

}  // namespace

Transition step(const Status& s, const SmInput& in) noexcept
{
	const State st = s.state;
	const bool secure_or_warning = st == State::Secure || st == State::Warning;

	switch (in.event) {
	case SmEvent::StartSecurity:
		if (st == State::NotSet || st == State::Shutdown)
			return go({State::Waiting, false, false},
			          Action::ReportParticipantId | Action::DataPlaneOff |
			                  Action::StartPa,
			          "Start Security: waiting for Parameter Authentication");
		return invalid(s, "Start Security ignored: already started");

	case SmEvent::SecurityEstablished:
		if (st == State::Waiting)
			return go({State::Secure, false, false},
			          Action::StopPa | Action::StartSyncWatchdog | Action::DataPlaneOn |
			                  Action::StartHeartbeat,
			          "Security Established");
		return invalid(s, "Security Established ignored: not Waiting (late PA response)");

	case SmEvent::SecurityEvent: {
		// Injection of an own ID: stop the heartbeat so the impostor cannot hide behind
		// ours (spec §5); it restarts on the way back to Secure.
		const bool injection = in.event_code == event_code::kInjection;
		// Only authenticated evidence may lead to a Security Abort [choice].
		const bool arm = !in.unauthenticated && !s.abort_armed;
		if (st == State::Secure) {
			Actions a{static_cast<std::uint32_t>(Action::StartHoldTimer)};
			if (arm)
				a |= Action::StartAbortTimer;
			if (injection)
				a |= Action::StopHeartbeat;
			return go({State::Warning, true, injection, arm}, a,
			          "Security Event: Secure -> Warning");
		}
		if (st == State::Warning) {
			Actions a{static_cast<std::uint32_t>(Action::StartHoldTimer)};
			if (arm)
				a |= Action::StartAbortTimer;
			if (injection && !s.heartbeat_suppressed)
				a |= Action::StopHeartbeat;
			return go({State::Warning, true, s.heartbeat_suppressed || injection,
			           s.abort_armed || arm},
			          a, "Security Event in Warning: hold timer restarted");
		}
		return invalid(s, "Security Event does not change this state");
	}

	case SmEvent::HoldExpired:
		if (st == State::Warning) {
			Actions a{static_cast<std::uint32_t>(Action::StopAbortTimer)};
			if (s.heartbeat_suppressed)
				a |= Action::StartHeartbeat;
			return go({State::Secure, false, false}, a,
			          "Events Clear: Warning -> Secure");
		}
		return invalid(s, "hold timer expiry ignored: not in Warning (stale timer)");

	case SmEvent::WarningSustained:
		if (st == State::Warning && s.abort_armed)
			return go({State::Waiting, true, false}, kAbort,
			          "Security Abort: Warning sustained [choice]");
		return invalid(s, "Warning abort timer ignored: not in Warning or not armed (stale "
		                  "timer)");

	case SmEvent::SyncLost:
		if (secure_or_warning)
			return go({State::Waiting, s.alert, false}, kAbort,
			          "Security Abort: no verifiable Sync broadcast (FE0Fh)");
		return invalid(s, "sync watchdog ignored: not Secure or Warning (stale timer)");

	case SmEvent::EnterConfig:
		if (st == State::Waiting || secure_or_warning)
			return go({State::Configuration, s.alert, false, s.abort_armed},
			          Action::DataPlaneOff | Action::StopHeartbeat |
			                  Action::StopHoldTimer | Action::StopAbortTimer |
			                  Action::StopPa,
			          "Enter Config");
		return invalid(s, "Enter Config refused: not Waiting, Secure or Warning");

	case SmEvent::ExitConfig:
		if (st != State::Configuration)
			return invalid(s, "Exit Config ignored: not in Configuration");
		if (in.synchronized && s.alert) {
			// [choice] A session never clears a pending Warning or the alert: back to
			// Warning, its timers restarted as if it began now.
			Actions a = Action::StartSyncWatchdog | Action::DataPlaneOn |
			            Action::StartHeartbeat | Action::StartHoldTimer;
			if (s.abort_armed)
				a |= Action::StartAbortTimer;
			return go({State::Warning, true, false, s.abort_armed}, a,
			          "Exit Config: still synchronized, alert pending -> Warning");
		}
		if (in.synchronized)
			return go({State::Secure, false, false},
			          Action::StartSyncWatchdog | Action::DataPlaneOn |
			                  Action::StartHeartbeat,
			          "Exit Config: still synchronized -> Secure");
		// Without a synchronized clock the keys' windows are meaningless: start over.
		return go({State::Waiting, s.alert, false},
		          Action::DataPlaneOff | Action::StopSyncWatchdog | Action::WipeKeys |
		                  Action::StartPa,
		          "Exit Config: not synchronized -> Waiting");

	case SmEvent::Shutdown:
		if (st == State::Shutdown)
			return go(s, Actions{}, "Shutdown: already shut down");
		return go({State::Shutdown, s.alert, false}, kShutdown, "Shutdown");
	}
	return invalid(s, "unknown event");
}

std::string_view state_name(State s) noexcept
{
	switch (s) {
	case State::NotSet:
		return "NotSet";
	case State::Waiting:
		return "Waiting";
	case State::Secure:
		return "Secure";
	case State::Warning:
		return "Warning";
	case State::Configuration:
		return "Configuration";
	case State::Shutdown:
		return "Shutdown";
	}
	return "?";
}

std::string_view sm_event_name(SmEvent e) noexcept
{
	switch (e) {
	case SmEvent::StartSecurity:
		return "StartSecurity";
	case SmEvent::SecurityEstablished:
		return "SecurityEstablished";
	case SmEvent::SecurityEvent:
		return "SecurityEvent";
	case SmEvent::HoldExpired:
		return "HoldExpired";
	case SmEvent::WarningSustained:
		return "WarningSustained";
	case SmEvent::SyncLost:
		return "SyncLost";
	case SmEvent::EnterConfig:
		return "EnterConfig";
	case SmEvent::ExitConfig:
		return "ExitConfig";
	case SmEvent::Shutdown:
		return "Shutdown";
	}
	return "?";
}

std::string_view action_name(Action a) noexcept
{
	switch (a) {
	case Action::DataPlaneOff:
		return "DataPlaneOff";
	case Action::StopHeartbeat:
		return "StopHeartbeat";
	case Action::StopHoldTimer:
		return "StopHoldTimer";
	case Action::StopAbortTimer:
		return "StopAbortTimer";
	case Action::StopSyncWatchdog:
		return "StopSyncWatchdog";
	case Action::StopPa:
		return "StopPa";
	case Action::WipeKeys:
		return "WipeKeys";
	case Action::ReportParticipantId:
		return "ReportParticipantId";
	case Action::StartPa:
		return "StartPa";
	case Action::StartHoldTimer:
		return "StartHoldTimer";
	case Action::StartAbortTimer:
		return "StartAbortTimer";
	case Action::StartSyncWatchdog:
		return "StartSyncWatchdog";
	case Action::DataPlaneOn:
		return "DataPlaneOn";
	case Action::StartHeartbeat:
		return "StartHeartbeat";
	}
	return "?";
}

}  // namespace spsec
