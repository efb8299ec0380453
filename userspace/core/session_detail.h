// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the two ends of a Configurator session (session_server.cpp,
// session_client.cpp). Internal to core.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/aead.h"
#include "core/session_event.h"

namespace spsec::session_detail {

inline SessionEvent security_event(std::uint16_t code)
{
	SessionEvent e;
	e.kind = SessionEvent::Kind::SecurityEvent;
	e.code = code;
	return e;
}

// True when a request at cnt + 1 and its response at cnt + 2 stay below the wrap margin.
inline bool counter_room(std::uint32_t cnt) noexcept
{
	return static_cast<std::uint64_t>(cnt) + 2 < kSessionCounterLimit;
}

// Session Key and AEAD for one session. Errors only on OpenSSL failure.
[[nodiscard]] Result<std::unique_ptr<Aead>> session_aead(AeadKind kind, const Key32& opening,
                                                         const Random16& cr, const Random16& sr);

// Wipes and empties `v`.
void wipe_vec(std::vector<std::uint8_t>& v) noexcept;

}  // namespace spsec::session_detail
