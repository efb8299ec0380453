// SPDX-License-Identifier: Apache-2.0
// What both ends of a Configurator session share: the random source, the timeouts, the limits
// and the events reported (core/session.h describes the protocol).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "core/messages.h"
#include "core/registers.h"

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

}  // namespace spsec
