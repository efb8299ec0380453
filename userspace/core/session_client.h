// SPDX-License-Identifier: Apache-2.0
// The Configurator side of Configurator sessions (core/session.h describes the protocol).
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
#include "core/secret.h"
#include "core/session_event.h"

namespace spsec {

struct SessionOp {
	enum class Kind : std::uint8_t { Read, Write };
	Kind kind = Kind::Read;
	std::uint8_t reg = 0;
	std::vector<std::uint8_t> data;  // Write: the bytes (wiped when the client is destroyed)
	std::uint32_t max_len = 56;      // Read: the buffer size announced in ReadInit

	[[nodiscard]] static SessionOp read(std::uint8_t reg) { return {Kind::Read, reg, {}, 56}; }
	[[nodiscard]] static SessionOp write(std::uint8_t reg, std::vector<std::uint8_t> d)
	{
		return {Kind::Write, reg, std::move(d), 0};
	}
};

struct OpResult {
	std::uint8_t reg = 0;
	bool write = false;
	std::vector<std::uint8_t> data;  // Read: the register bytes
};

struct ClientError {
	std::uint16_t code = 0;  // 5E01h..5E05h when one applies, else 0
	std::string message;     // names the step and the register
};

struct ClientOutput {
	std::vector<CanFrame> frames;
	std::vector<SessionEvent> events;  // SecurityEvent for refused (ignored) frames
};

struct ClientConfig {
	std::uint8_t pp = 0;  // participant to configure
	AeadKind aead = AeadKind::AesGcm;
	OpeningKey opening = OpeningKey::Zero;
	Key32 key;       // the opening key (all zero for the Zero Key)
	KeySalt salt{};  // its salt (all zero for the Zero Key)
	std::vector<SessionOp> ops;
	SessionTimeouts timeouts{};
	// Interop testing: send each request at its message length (ciphertext || tag, e.g. a
	// 40-byte WriteSeg of a key) instead of padded to a valid CAN FD length, as the reference
	// Configurator's python-can does on vcan/vxcan. Only virtual buses carry such frames.
	bool unpadded = false;
};

class SessionClient {
public:
	enum class State : std::uint8_t {
		Idle,  // start() not called
		AwaitServerHello,
		AwaitServerFinished,
		AwaitResponse,   // an operation's request is out
		AwaitTerminate,  // Terminate sent
		Done,            // all operations done, session terminated
		Failed,          // see error()
	};

	SessionClient(ClientConfig cfg, SessionRng rng);
	~SessionClient();
	SessionClient(SessionClient&&) noexcept;
	SessionClient& operator=(SessionClient&&) noexcept;
	SessionClient(const SessionClient&) = delete;
	SessionClient& operator=(const SessionClient&) = delete;

	// Sends the ClientHello.
	[[nodiscard]] ClientOutput start(std::uint64_t now_ns);
	[[nodiscard]] ClientOutput on_frame(const CanFrame& f, std::uint64_t now_ns);
	[[nodiscard]] ClientOutput on_tick(std::uint64_t now_ns);
	[[nodiscard]] std::optional<std::uint64_t> next_deadline() const noexcept;

	[[nodiscard]] State state() const noexcept { return state_; }
	[[nodiscard]] bool finished() const noexcept
	{
		return state_ == State::Done || state_ == State::Failed;
	}
	[[nodiscard]] const std::vector<OpResult>& results() const noexcept { return results_; }
	[[nodiscard]] const std::optional<ClientError>& error() const noexcept { return error_; }
	[[nodiscard]] std::uint32_t counter() const noexcept { return cnt_; }

private:
	enum class Step : std::uint8_t { ReadInit, ReadSeg, WriteInit, WriteSeg };
	void next_op(ClientOutput& out, std::uint64_t now);
	bool send(CpType type, std::span<const std::uint8_t> plaintext, ClientOutput& out,
	          std::uint64_t now);
	void fail(std::uint16_t code, std::string msg, bool terminate, ClientOutput& out,
	          std::uint64_t now);
	void on_response(ControlKind kind, const CanFrame& f, std::uint64_t now, ClientOutput& out);
	void wipe() noexcept;

	ClientConfig cfg_;
	SessionRng rng_;
	State state_ = State::Idle;
	SessionContext ctx_{};
	std::unique_ptr<Aead> key_;
	Tag8 client_tag_{};
	std::uint32_t cnt0_ = 0;
	std::uint32_t cnt_ = 0;
	std::uint64_t deadline_ = 0;
	std::size_t op_ = 0;
	Step step_ = Step::ReadInit;
	std::uint32_t read_len_ = 0;
	std::size_t written_ = 0;
	std::uint16_t last_refusal_ = 0;
	std::vector<OpResult> results_;
	std::optional<ClientError> error_;
	std::optional<ClientError> pending_error_;  // reported after the Terminate exchange
};

}  // namespace spsec
