// SPDX-License-Identifier: Apache-2.0
// The SPsec key schedule (spec §3): key windows, the even/odd slot rule, and the three HKDF
// derivations (HKDF-SHA256, extract + expand, empty info, L = 32).
//
//   window e = T >> 24                      (one window = 2^24 ticks, ~28 min at 100 µs)
//   parity   = e & 1                        (0: even slot, selector 3; 1: odd slot, selector 4)
//   N(e)     = (e << 24) | 0x800000         (the middle of window e)
//   CommKey(e)        = HKDF(Seed, salt = LE64(N(e)) || csalt[4])
//   SessionKey        = HKDF(opening key, salt = client_random[16] || server_random[16])
//   ParamAuthKey      = HKDF(Seed, salt = rnd[0..11] || LE64(tim) || csalt[4])
//
// Live keys: at local T in window e the slot of e's parity holds K(e); the other slot holds
// K(e-1) while (T & 0xFFFFFF) < 2^23 and K(e+1) from 2^23 on (derived ahead of the roll-over).
// A receiver picks the key by the window of the reconstructed frame T; when that window is not
// live the frame has no key (SPSEC_R_RX_NO_KEY).
//
// Keys are Key32 (secret.h): never printed, wiped on destruction. Salts and csalt are public.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "core/secret.h"
#include "spsec/abi.h"
#include "spsec/result.h"

namespace spsec {

using CommSalt = std::array<std::uint8_t, 4>;  // csalt, drawn by the Sync at power-up
using KeySalt = std::array<std::uint8_t, 8>;   // a key's 8-byte pre-shared salt

inline constexpr std::uint64_t kWindowTicks = 1ull << SPSEC_WINDOW_SHIFT;
inline constexpr std::uint64_t kHalfWindowTicks = kWindowTicks / 2;

[[nodiscard]] constexpr std::uint64_t key_window(std::uint64_t t) noexcept
{
	return t >> SPSEC_WINDOW_SHIFT;
}
// 0 even, 1 odd: the index of spsec_state.key_slot[] for window e.
[[nodiscard]] constexpr unsigned window_parity(std::uint64_t e) noexcept
{
	return static_cast<unsigned>(e & 1u);
}
// N(e) = (e << 24) | 0x800000. e must be below 2^40 (every e = T >> 24 is).
[[nodiscard]] constexpr std::uint64_t window_n(std::uint64_t e) noexcept
{
	return (e << SPSEC_WINDOW_SHIFT) | kHalfWindowTicks;
}

// The windows whose keys must be live at local time T.
struct LiveWindows {
	std::uint64_t current = 0;           // e = T >> 24, in slot parity(e)
	std::optional<std::uint64_t> other;  // e - 1 (first half, none when e = 0) or e + 1
	[[nodiscard]] bool contains(std::uint64_t e) const noexcept
	{
		return e == current || (other && *other == e);
	}
	// The window that slot `parity` must hold, or nullopt when that slot holds nothing.
	[[nodiscard]] std::optional<std::uint64_t> in_slot(unsigned parity) const noexcept
	{
		if (window_parity(current) == parity)
			return current;
		return other;
	}
};

[[nodiscard]] constexpr LiveWindows live_windows(std::uint64_t t) noexcept
{
	LiveWindows w;
	w.current = key_window(t);
	if ((t & (kWindowTicks - 1)) < kHalfWindowTicks) {
		if (w.current > 0)
			w.other = w.current - 1;
	} else {
		w.other = w.current + 1;
	}
	return w;
}

// The HKDF salt of CommKey(e): LE64(N(e)) || csalt (12 bytes).
[[nodiscard]] std::array<std::uint8_t, 12> comm_key_salt(std::uint64_t e, const CommSalt& csalt);

// The Communication Key of window e. Errors: OpenSSL failure (HKDF).
[[nodiscard]] Result<Key32> derive_comm_key(const Key32& seed, std::uint64_t e,
                                            const CommSalt& csalt);

// The Session Key of a Configurator session, from the key named by the Hello's selector.
// Errors: OpenSSL failure.
[[nodiscard]] Result<Key32> derive_session_key(const Key32& opening_key,
                                               std::span<const std::uint8_t, 16> client_random,
                                               std::span<const std::uint8_t, 16> server_random);

// The HKDF salt of the Parameter Authentication Key: rnd[0..11] || LE64(tim) || csalt (24 bytes).
// Only the first 12 bytes of the 16-byte request random enter it.
[[nodiscard]] std::array<std::uint8_t, 24>
param_auth_key_salt(std::span<const std::uint8_t, 16> rnd, std::uint64_t tim,
                    const CommSalt& csalt);

// The Parameter Authentication Key for one PA request/response. Errors: OpenSSL failure.
[[nodiscard]] Result<Key32> derive_param_auth_key(const Key32& seed,
                                                  std::span<const std::uint8_t, 16> rnd,
                                                  std::uint64_t tim, const CommSalt& csalt);

}  // namespace spsec
