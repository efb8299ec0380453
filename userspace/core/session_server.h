// SPDX-License-Identifier: Apache-2.0
// The participant side of Configurator sessions (core/session.h describes the protocol, its
// refusals and its event codes).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/aead.h"
#include "core/can_frame.h"
#include "core/messages.h"
#include "core/registers.h"
#include "core/session_event.h"

namespace spsec {

struct ServerOutput {
	std::vector<CanFrame> frames;  // to send, in order
	std::vector<SessionEvent> events;
	// Set when a write changed the register store: the daemon persists it durably, swaps it in,
	// then sends `frames` (the acknowledgement). Never set for a refused access.
	std::optional<RegisterStore> commit;
};

class SessionServer {
public:
	enum class State : std::uint8_t {
		Idle,                 // no session
		AwaitClientFinished,  // ServerHello sent
		Configuration,        // session established, register access
	};

	// `pp`: this node's active Participant ID (1..127); `aead`: the network's AEAD.
	SessionServer(std::uint8_t pp, AeadKind aead, SessionRng rng, SessionTimeouts t = {});
	~SessionServer();
	SessionServer(SessionServer&&) noexcept;
	SessionServer& operator=(SessionServer&&) noexcept;
	SessionServer(const SessionServer&) = delete;
	SessionServer& operator=(const SessionServer&) = delete;

	// One received frame. Frames that are not session requests addressed to this node are
	// ignored (empty output). `store` is the current register store; it is never modified: a
	// write returns the new store in ServerOutput::commit.
	[[nodiscard]] ServerOutput on_frame(const CanFrame& f, std::uint64_t now_ns,
	                                    const RegisterStore& store);
	// Timeouts (5E03h, 5E04h). Call when next_deadline() has passed (calling more often is
	// harmless).
	[[nodiscard]] ServerOutput on_tick(std::uint64_t now_ns);
	[[nodiscard]] std::optional<std::uint64_t> next_deadline() const noexcept;

	[[nodiscard]] State state() const noexcept { return state_; }
	[[nodiscard]] bool in_configuration() const noexcept
	{
		return state_ == State::Configuration;
	}
	// The current session's opening key (only meaningful outside Idle).
	[[nodiscard]] OpeningKey opening_key() const noexcept { return opening_; }
	// The last counter value used (tests and diagnostics).
	[[nodiscard]] std::uint32_t counter() const noexcept { return cnt_; }

private:
	struct Pending;
	void reset_session(ServerOutput& out, const char* reason, bool was_configuration);
	void on_client_hello(const CanFrame& f, std::uint64_t now, const RegisterStore& store,
	                     ServerOutput& out);
	void on_client_finished(const CanFrame& f, std::uint64_t now, ServerOutput& out);
	void on_request(ControlKind kind, const CanFrame& f, std::uint64_t now,
	                const RegisterStore& store, ServerOutput& out);
	// The request handlers, one per type. Each opens its request (counter cnt_ + 1) first:
	// one that does not verify is refused with 5E05h and changes nothing.
	[[nodiscard]] std::optional<std::vector<std::uint8_t>>
	open_request(CpType type, std::size_t len, const CanFrame& f, std::uint64_t now,
	             ServerOutput& out);
	// A Read/WriteInit request opened: the register it names, and its fields (nullopt when
	// malformed: refused with BadLength).
	struct InitRequest {
		std::uint8_t reg = 0;
		std::optional<RegisterInit> init;
	};
	[[nodiscard]] std::optional<InitRequest> open_init(CpType type, const CanFrame& f,
	                                                   std::uint64_t now, ServerOutput& out);
	void on_read_init(const CanFrame& f, std::uint64_t now, const RegisterStore& store,
	                  ServerOutput& out);
	void on_read_seg(const CanFrame& f, std::uint64_t now, ServerOutput& out);
	void on_write_init(const CanFrame& f, std::uint64_t now, const RegisterStore& store,
	                   ServerOutput& out);
	void on_write_seg(const CanFrame& f, std::uint64_t now, const RegisterStore& store,
	                  ServerOutput& out);
	void on_terminate(const CanFrame& f, std::uint64_t now, ServerOutput& out);
	bool respond(CpType type, std::span<const std::uint8_t> plaintext, ServerOutput& out);

	std::uint8_t pp_;
	AeadKind aead_kind_;
	SessionRng rng_;
	SessionTimeouts timeouts_;
	State state_ = State::Idle;
	OpeningKey opening_ = OpeningKey::Zero;
	SessionContext ctx_{};
	std::unique_ptr<Aead> key_;
	std::uint32_t cnt_ = 0;
	std::uint64_t hello_at_ = 0;
	std::uint64_t last_activity_ = 0;
	unsigned finished_failures_ = 0;
	std::unique_ptr<Pending> pending_;
	KeyWriteStage stage_;
};

}  // namespace spsec
