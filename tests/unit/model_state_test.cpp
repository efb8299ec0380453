// SPDX-License-Identifier: Apache-2.0
// The participant state machine (spec §1): every row of the table, and every (state, event) pair
// that is not a row is checked to be invalid and to change nothing.
#include <catch2/catch.hpp>

#include <set>
#include <sstream>

#include "core/state_machine.h"

using namespace spsec;

namespace {

using A = Action;

constexpr State kAllStates[] = {State::NotSet,  State::Waiting,       State::Secure,
                                State::Warning, State::Configuration, State::Shutdown};
constexpr SmEvent kAllEvents[] = {
        SmEvent::StartSecurity, SmEvent::SecurityEstablished, SmEvent::SecurityEvent,
        SmEvent::HoldExpired,   SmEvent::WarningSustained,    SmEvent::SyncLost,
        SmEvent::EnterConfig,   SmEvent::ExitConfig,          SmEvent::Shutdown};

Actions acts(std::initializer_list<Action> l)
{
	Actions a;
	for (auto x : l)
		a |= x;
	return a;
}

std::string describe(Actions a)
{
	std::ostringstream o;
	for (std::uint32_t bit = 1; bit != 0 && bit <= (1u << 13); bit <<= 1)
		if (a.bits & bit)
			o << action_name(static_cast<Action>(bit)) << ' ';
	return o.str();
}

const Actions kAbort = acts({A::DataPlaneOff, A::StopHeartbeat, A::StopHoldTimer, A::StopAbortTimer,
                             A::StopSyncWatchdog, A::WipeKeys, A::StartPa});

struct Row {
	const char* name;
	Status from;
	SmInput in;
	Status to;
	Actions actions;
};

}  // namespace

TEST_CASE("every row of the spec §1 table", "[state]")
{
	const Row rows[] = {
	        {"NotSet: Start Security",
	         {State::NotSet},
	         {SmEvent::StartSecurity},
	         {State::Waiting},
	         acts({A::ReportParticipantId, A::DataPlaneOff, A::StartPa})},
	        {"Shutdown: Start Security",
	         {State::Shutdown, true},
	         {SmEvent::StartSecurity},
	         {State::Waiting},
	         acts({A::ReportParticipantId, A::DataPlaneOff, A::StartPa})},
	        {"Waiting: Security Established",
	         {State::Waiting},
	         {SmEvent::SecurityEstablished},
	         {State::Secure},
	         acts({A::StopPa, A::StartSyncWatchdog, A::DataPlaneOn, A::StartHeartbeat})},
	        {"Waiting after abort: Security Established clears alert",
	         {State::Waiting, true},
	         {SmEvent::SecurityEstablished},
	         {State::Secure, false},
	         acts({A::StopPa, A::StartSyncWatchdog, A::DataPlaneOn, A::StartHeartbeat})},
	        {"Secure: Security Event",
	         {State::Secure},
	         {SmEvent::SecurityEvent, 0xEE00},
	         {State::Warning, true, false, true},
	         acts({A::StartHoldTimer, A::StartAbortTimer})},
	        {"Secure: injection stops the heartbeat",
	         {State::Secure},
	         {SmEvent::SecurityEvent, 0xDE03},
	         {State::Warning, true, true, true},
	         acts({A::StartHoldTimer, A::StartAbortTimer, A::StopHeartbeat})},
	        {"Secure: unauthenticated Security Event does not arm the abort [choice]",
	         {State::Secure},
	         {SmEvent::SecurityEvent, 0xFE0E, false, true},
	         {State::Warning, true, false, false},
	         acts({A::StartHoldTimer})},
	        {"Warning (not armed): unauthenticated events only restart hold [choice]",
	         {State::Warning, true},
	         {SmEvent::SecurityEvent, 0xEE00, false, true},
	         {State::Warning, true},
	         acts({A::StartHoldTimer})},
	        {"Warning (not armed): an authenticated event arms the abort",
	         {State::Warning, true},
	         {SmEvent::SecurityEvent, 0xEF07},
	         {State::Warning, true, false, true},
	         acts({A::StartHoldTimer, A::StartAbortTimer})},
	        {"Warning: Security Event restarts hold",
	         {State::Warning, true, false, true},
	         {SmEvent::SecurityEvent, 0xEF07},
	         {State::Warning, true, false, true},
	         acts({A::StartHoldTimer})},
	        {"Warning: injection stops the heartbeat once",
	         {State::Warning, true, false, true},
	         {SmEvent::SecurityEvent, 0xDE03},
	         {State::Warning, true, true, true},
	         acts({A::StartHoldTimer, A::StopHeartbeat})},
	        {"Warning (heartbeat stopped): another injection",
	         {State::Warning, true, true, true},
	         {SmEvent::SecurityEvent, 0xDE03},
	         {State::Warning, true, true, true},
	         acts({A::StartHoldTimer})},
	        {"Warning (heartbeat stopped): other event keeps it stopped",
	         {State::Warning, true, true, true},
	         {SmEvent::SecurityEvent, 0xEE00},
	         {State::Warning, true, true, true},
	         acts({A::StartHoldTimer})},
	        {"Warning: Events Clear",
	         {State::Warning, true},
	         {SmEvent::HoldExpired},
	         {State::Secure, false},
	         acts({A::StopAbortTimer})},
	        {"Warning (heartbeat stopped): Events Clear restarts it",
	         {State::Warning, true, true},
	         {SmEvent::HoldExpired},
	         {State::Secure, false, false},
	         acts({A::StopAbortTimer, A::StartHeartbeat})},
	        {"Secure: Security Abort (FE0Fh)",
	         {State::Secure},
	         {SmEvent::SyncLost},
	         {State::Waiting, false},
	         kAbort},
	        {"Warning: Security Abort (FE0Fh)",
	         {State::Warning, true, true},
	         {SmEvent::SyncLost},
	         {State::Waiting, true},
	         kAbort},
	        {"Warning sustained 15 s: Security Abort [choice]",
	         {State::Warning, true, false, true},
	         {SmEvent::WarningSustained},
	         {State::Waiting, true},
	         kAbort},
	        {"Waiting: Enter Config",
	         {State::Waiting},
	         {SmEvent::EnterConfig},
	         {State::Configuration},
	         acts({A::DataPlaneOff, A::StopHeartbeat, A::StopHoldTimer, A::StopAbortTimer,
	               A::StopPa})},
	        {"Secure: Enter Config",
	         {State::Secure},
	         {SmEvent::EnterConfig},
	         {State::Configuration},
	         acts({A::DataPlaneOff, A::StopHeartbeat, A::StopHoldTimer, A::StopAbortTimer,
	               A::StopPa})},
	        {"Warning: Enter Config keeps the alert",
	         {State::Warning, true, true},
	         {SmEvent::EnterConfig},
	         {State::Configuration, true},
	         acts({A::DataPlaneOff, A::StopHeartbeat, A::StopHoldTimer, A::StopAbortTimer,
	               A::StopPa})},
	        {"Warning (armed): Enter Config keeps alert and abort",
	         {State::Warning, true, false, true},
	         {SmEvent::EnterConfig},
	         {State::Configuration, true, false, true},
	         acts({A::DataPlaneOff, A::StopHeartbeat, A::StopHoldTimer, A::StopAbortTimer,
	               A::StopPa})},
	        {"Configuration: Exit Config, synchronized",
	         {State::Configuration},
	         {SmEvent::ExitConfig, 0, true},
	         {State::Secure, false},
	         acts({A::StartSyncWatchdog, A::DataPlaneOn, A::StartHeartbeat})},
	        {"Configuration (alert): Exit Config keeps the Warning [choice]",
	         {State::Configuration, true},
	         {SmEvent::ExitConfig, 0, true},
	         {State::Warning, true},
	         acts({A::StartSyncWatchdog, A::DataPlaneOn, A::StartHeartbeat,
	               A::StartHoldTimer})},
	        {"Configuration (alert, armed): Exit Config restarts both Warning timers",
	         {State::Configuration, true, false, true},
	         {SmEvent::ExitConfig, 0, true},
	         {State::Warning, true, false, true},
	         acts({A::StartSyncWatchdog, A::DataPlaneOn, A::StartHeartbeat, A::StartHoldTimer,
	               A::StartAbortTimer})},
	        {"Configuration: Exit Config, not synchronized",
	         {State::Configuration},
	         {SmEvent::ExitConfig, 0, false},
	         {State::Waiting},
	         acts({A::DataPlaneOff, A::StopSyncWatchdog, A::WipeKeys, A::StartPa})},
	};
	for (const Row& r : rows) {
		INFO(r.name);
		const Transition t = step(r.from, r.in);
		CHECK(t.valid);
		CHECK(t.next == r.to);
		INFO("actions: " << describe(t.actions) << "| expected: " << describe(r.actions));
		CHECK(t.actions == r.actions);
		CHECK_FALSE(t.why.empty());
	}
}

TEST_CASE("Shutdown from every state", "[state]")
{
	const Actions all_off =
	        acts({A::DataPlaneOff, A::StopHeartbeat, A::StopHoldTimer, A::StopAbortTimer,
	              A::StopSyncWatchdog, A::StopPa, A::WipeKeys});
	for (State s : kAllStates) {
		INFO(state_name(s));
		const Transition t = step({s, true}, {SmEvent::Shutdown});
		CHECK(t.valid);
		CHECK(t.next.state == State::Shutdown);
		CHECK(t.actions == (s == State::Shutdown ? Actions{} : all_off));
	}
}

TEST_CASE("every pair that is not a row is invalid and changes nothing", "[state]")
{
	// (state, event) pairs that are rows of the table.
	const std::set<std::pair<State, SmEvent>> valid = {
	        {State::NotSet, SmEvent::StartSecurity},
	        {State::Shutdown, SmEvent::StartSecurity},
	        {State::Waiting, SmEvent::SecurityEstablished},
	        {State::Secure, SmEvent::SecurityEvent},
	        {State::Warning, SmEvent::SecurityEvent},
	        {State::Warning, SmEvent::HoldExpired},
	        {State::Secure, SmEvent::SyncLost},
	        {State::Warning, SmEvent::SyncLost},
	        {State::Warning, SmEvent::WarningSustained},
	        {State::Waiting, SmEvent::EnterConfig},
	        {State::Secure, SmEvent::EnterConfig},
	        {State::Warning, SmEvent::EnterConfig},
	        {State::Configuration, SmEvent::ExitConfig},
	};
	int invalid_count = 0;
	for (State s : kAllStates) {
		for (SmEvent e : kAllEvents) {
			if (e == SmEvent::Shutdown || valid.contains({s, e}))
				continue;
			for (bool alert : {false, true}) {
				for (bool synced : {false, true}) {
					INFO(state_name(s) << " + " << sm_event_name(e) << " alert "
					                   << alert << " synced " << synced);
					const Status from{s, alert, false};
					const Transition t = step(from, {e, 0xDE03, synced});
					CHECK_FALSE(t.valid);
					CHECK(t.next == from);
					CHECK(t.actions == Actions{});
					CHECK_FALSE(t.why.empty());
				}
			}
			invalid_count++;
		}
	}
	// 6 states x 8 non-shutdown events = 48 pairs, 13 of them rows.
	CHECK(invalid_count == 35);
}

TEST_CASE("register 50h encoding", "[state]")
{
	CHECK(Status{State::Secure, false}.reg50() == 0x02);
	CHECK(Status{State::Warning, true}.reg50() == 0x83);
	CHECK(Status{State::Waiting, true}.reg50() == 0x81);
	CHECK(Status{State::Shutdown, false}.reg50() == 0x05);
}

TEST_CASE("a typical life: start, secure, warning, clear, abort", "[state]")
{
	Status s;
	auto t = step(s, {SmEvent::StartSecurity});
	s = t.next;
	t = step(s, {SmEvent::SecurityEstablished});
	s = t.next;
	REQUIRE(s.state == State::Secure);
	t = step(s, {SmEvent::SecurityEvent, 0xEE00});
	s = t.next;
	t = step(s, {SmEvent::SecurityEvent, 0xEE00});
	s = t.next;
	REQUIRE(s == Status{State::Warning, true, false, true});
	t = step(s, {SmEvent::HoldExpired});
	s = t.next;
	REQUIRE(s == Status{State::Secure, false, false});
	// A stale abort timer event after Events Clear does nothing.
	t = step(s, {SmEvent::WarningSustained});
	CHECK_FALSE(t.valid);
	t = step(s, {SmEvent::SyncLost});
	CHECK(t.actions.has(Action::WipeKeys));
	CHECK(t.next.state == State::Waiting);
}

TEST_CASE("unauthenticated input alone never reaches a Security Abort", "[state]")
{
	// Garbage keeps arriving: Warning is held, but the abort timer is never armed, and a
	// stray expiry of it (stale timer) is refused.
	Status s{State::Secure};
	for (int i = 0; i < 100; i++) {
		const auto t = step(s, {SmEvent::SecurityEvent, 0xFE0E, false, true});
		REQUIRE(t.valid);
		CHECK_FALSE(t.actions.has(Action::StartAbortTimer));
		s = t.next;
	}
	CHECK(s == Status{State::Warning, true, false, false});
	const auto t = step(s, {SmEvent::WarningSustained});
	CHECK_FALSE(t.valid);
	CHECK(t.next == s);
}
