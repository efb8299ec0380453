// SPDX-License-Identifier: Apache-2.0
// The Configurator's CAN link (spsecctl configure / provision) and the loop that drives a
// SessionClient (core/session.h) over it.
//
// FrameLink is the small transport interface: CanRawLink is a CAN_RAW socket with CAN FD frames
// enabled, filtered to control-plane IDs; unit tests put an in-memory bus with SessionServers
// and a virtual clock behind it (tests/unit/ctl_*.cpp), so the whole command runs without root
// and without CAN.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/fd.h"
#include "core/can_frame.h"
#include "core/session.h"
#include "spsec/result.h"

namespace spsec::ctl {

class FrameLink {
public:
	virtual ~FrameLink() = default;
	// Sends one frame. Errors: the socket refused it (bus off, buffer full, interface down).
	[[nodiscard]] virtual Result<void> send(const CanFrame& f) = 0;
	// The next received frame, or nullopt once `deadline_ns` (now_ns() clock) has passed
	// without one. Errors: the socket failed.
	[[nodiscard]] virtual Result<std::optional<CanFrame>>
	receive(std::uint64_t deadline_ns) = 0;
	// The link's clock in ns (CLOCK_MONOTONIC for CanRawLink).
	[[nodiscard]] virtual std::uint64_t now_ns() = 0;
};

// A CAN_RAW socket bound to one interface, CAN FD frames on, receiving only 29-bit
// control-plane IDs (bit 25 set). It tries SO_MARK = SPSEC_DAEMON_MARK so a Configurator running
// on a node with the spsec data plane attached gets its session frames through; without
// CAP_NET_ADMIN that fails and is ignored (a Configurator on a plain interface needs no mark).
class CanRawLink final : public FrameLink {
public:
	// Errors: unknown interface, no CAN_RAW support, setsockopt/bind failures; each names the
	// interface.
	[[nodiscard]] static Result<std::unique_ptr<CanRawLink>> open(const std::string& ifname);

	[[nodiscard]] Result<void> send(const CanFrame& f) override;
	[[nodiscard]] Result<std::optional<CanFrame>> receive(std::uint64_t deadline_ns) override;
	[[nodiscard]] std::uint64_t now_ns() override;

private:
	CanRawLink(Fd fd, std::string ifname) : fd_(std::move(fd)), ifname_(std::move(ifname)) {}
	Fd fd_;
	std::string ifname_;
};

// What one session did.
struct SessionRun {
	bool ok = false;
	std::vector<OpResult> results;  // the operations completed, in order
	std::optional<ClientError> error;
	// The client state when it failed (AwaitServerHello: the participant never answered the
	// ClientHello; AwaitServerFinished: it refused the ClientFinished; ...).
	SessionClient::State failed_in = SessionClient::State::Idle;
	// Security events the client raised for frames it refused (5E02h/5E05h).
	std::vector<SessionEvent> events;
};

// Runs one session to its end: ClientHello, the operations, Terminate. Timeouts come from the
// client (100 ms response, 10 s session). Errors: only link failures; a session that fails is a
// SessionRun with ok == false.
[[nodiscard]] Result<SessionRun> run_session(FrameLink& link, ClientConfig cfg, SessionRng rng);

// SessionRng backed by RAND_bytes (aborts the process if the CSPRNG fails: no session may run
// with predictable randoms).
[[nodiscard]] SessionRng system_rng();

}  // namespace spsec::ctl
