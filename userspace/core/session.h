// SPDX-License-Identifier: Apache-2.0
// Configurator sessions (spec §5) as two pure state machines: SessionServer on the participant,
// SessionClient on the Configurator. No sockets, no clocks, no files: the caller feeds each
// received CAN frame and the current CLOCK_MONOTONIC time in ns, calls on_tick() when
// next_deadline() passes, sends the frames returned, and (server) persists a committed
// RegisterStore before sending the frames that acknowledge it.
//
// Flow, both ends (cnt0 = LE32(client_random[0..3] ^ server_random[0..3]); codecs: messages.h):
//   C -> S  ClientHello      1EFF0080|pp  selector FF FF FF client_random
//   S -> C  ServerHello      1EFF0000|pp  server_random           (Session Key derived)
//   C -> S  ClientFinished   cnt0+1                               (S enters Configuration)
//   S -> C  ServerFinished   cnt0+2
//   then each request and each response takes the next counter value, its low byte in the ID:
//   read : ReadInit(reg, max len) -> ReadInit(reg, len) -> ReadSeg() -> ReadSeg(data)
//          (len 0: nothing to fetch, no ReadSeg)
//   write: WriteInit(reg, len) -> WriteInit(reg, len) -> WriteSeg(<= 32 bytes) ->
//          WriteSeg(status FF FF FF) ... until len bytes are written
//   end  : Terminate -> Terminate                               (S leaves Configuration)
// (spsec_participant configuration_loop.c, canopens_configurator_python configurator.py.)
//
// [choice] Refusals. The reference sends nothing when it refuses a ReadInit or WriteInit, so its
// Configurator can only time out. Here the server answers a refused Init with the length field
// FFFFFF00h | RegStatus (a length no register has), which the reference Configurator rejects
// as too long, and answers a WriteSeg of a refused write with the RegStatus as its status
// (the reference sends its error code there too). Nothing is changed by a refused access.
//
// [choice] Key writes. Key, salt and ID registers are staged (KeyWriteStage) and the key is
// installed in one step when all three parts have arrived in the session; the WriteSeg that
// completes the set carries the commit. A session ending with an incomplete set discards it.
// Key ID FFFFFFFFh, which the reference Configurator writes first to invalidate the ID, is
// acknowledged as a staged step and changes nothing until a complete set with a valid ID.
//
// Event codes (spec §7), reported as SessionEvent::SecurityEvent; none changes any state:
//   5E01h  ClientHello names a key this node does not hold, or selector 13 (Seed) / unknown
//   5E02h  ClientFinished does not verify (wrong key, replay, injection): refused, the
//          handshake stays pending (an injected frame cannot kill a genuine handshake) until
//          the response timeout (then without a second 5E03h) or kMaxFinishedFailures
//          refusals. A Finished outside a handshake also gives 5E02h.
//   5E03h  response timeout (server: no ClientFinished within 100 ms of the ServerHello;
//          client: no response within 100 ms)
//   5E04h  session timeout: 10 s without a valid request; the server leaves Configuration
//   5E05h  a session message that does not verify: bad tag, counter low byte not the next
//          value (replay, reorder, injection); refused, the counter does not move
// [choice] A ClientHello while this node is in Configuration is ignored, as the reference's
// configuration loop ignores every non-request message, except that a Hello for a key the node
// holds ends an open Zero-Key session on a node that holds keys (ExitConfiguration, reason
// "preempted"); one during a pending handshake replaces that handshake (Hellos are
// unauthenticated; the newest one wins).
// The counter may not reach kSessionCounterLimit (2^32 - 1 - 1000): the server then ends the
// session (ExitConfiguration, reason counter_exhausted), the client fails with that reason.
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
#include "core/secret.h"

namespace spsec {

// Fills the buffer with cryptographically secure random bytes (the daemon passes one backed by
// RAND_bytes / getrandom; tests a deterministic one).
using SessionRng = std::function<void(std::span<std::uint8_t>)>;

struct SessionTimeouts {
	std::uint64_t response_ns = 100'000'000;    // 100 ms
	std::uint64_t session_ns = 10'000'000'000;  // 10 s
};

// A read/write Init response length with these top bits is a refusal; the low byte is the
// RegStatus ([choice], see above).
inline constexpr std::uint32_t kRefusedLengthMask = 0xFFFFFF00u;
// Bytes per WriteSeg request (canopens_configurator_python MAX_SEG_DATA).
inline constexpr std::size_t kMaxWriteSegment = 32;
// Refused ClientFinished frames after which a pending handshake is abandoned (bounds guessing
// of the 8-byte tag; the 100 ms response timeout bounds it too).
inline constexpr unsigned kMaxFinishedFailures = 16;

struct SessionEvent {
	enum class Kind : std::uint8_t {
		SecurityEvent,       // code: 5E01h..5E05h
		EnterConfiguration,  // the participant enters Configuration (ClientFinished
		                     // verified)
		ExitConfiguration,   // reason: "terminate", "session_timeout", "counter_exhausted",
		                     // "preempted"
		RegisterRead,        // reg
		RegisterWritten,     // reg (configuration register; the commit carries it)
		KeyInstalled,        // reg = the key register (21h/22h/23h)
		ManufacturerReset,   // the commit carries the reset store
		AccessRefused,       // reg, status, write
		StagedKeyDiscarded,  // reg = the key register of an incomplete key set
		KeyStaged,           // reg (part accepted, key not complete yet)
	};
	Kind kind = Kind::SecurityEvent;
	std::uint16_t code = 0;
	std::uint8_t reg = 0;
	RegStatus status = RegStatus::Ok;
	bool write = false;
	std::string reason;
	friend bool operator==(const SessionEvent&, const SessionEvent&) = default;
};
[[nodiscard]] std::string_view session_event_kind_name(SessionEvent::Kind k) noexcept;

// ---- Participant side ------------------------------------------------------------------------
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

// ---- Configurator side -----------------------------------------------------------------------
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
