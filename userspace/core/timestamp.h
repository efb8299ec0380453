// SPDX-License-Identifier: Apache-2.0
// SPsec time (spec §2): the 64-bit tick counter T, the 12-bit stamp reconstruction, the acceptance
// window, the tick length, per-ID freshness and the sender's T rule.
//
// Reconstruction, with `local` the receiver's synchronized T read at arrival:
//   d = (ts12 - (local & 0xFFF)) mod 4096;  if d >= 2048: d -= 4096;  T = local + d
// so d is in -2048..2047. Examples (local = 0x10000):
//   ts12 0x000 -> d 0,      T 0x10000
//   ts12 0x7FF -> d 2047,   T 0x107FF
//   ts12 0x800 -> d -2048,  T 0x0F800
//   ts12 0xFFF -> d -1,     T 0x0FFFF      (wraps across the 4096 boundary)
// The frame is inside the acceptance window W when |d| <= W (W = 150: d = 150 accepted, 151 not).
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>

#include "spsec/abi.h"
#include "spsec/result.h"

namespace spsec {

inline constexpr std::uint32_t kDefaultWindow = 150;  // ticks (spec §2)
inline constexpr std::uint32_t kMaxWindow = SPSEC_MAX_WINDOW;

// The 12 timestamp bits a sender puts into the stamp.
[[nodiscard]] constexpr std::uint16_t ts12_of(std::uint64_t t) noexcept
{
	return static_cast<std::uint16_t>(t & 0x0FFFu);
}

// d of the formula above, -2048..2047. Only the low 12 bits of ts12 are used.
[[nodiscard]] constexpr std::int32_t ts12_delta(std::uint16_t ts12, std::uint64_t local) noexcept
{
	const std::uint32_t diff =
	        (static_cast<std::uint32_t>(ts12) - static_cast<std::uint32_t>(local & 0x0FFFu)) &
	        0x0FFFu;
	return diff >= 2048 ? static_cast<std::int32_t>(diff) - 4096
	                    : static_cast<std::int32_t>(diff);
}

// The frame's full T, or nullopt when local + d would be 0 or below (T is never 0, so such a
// frame cannot be genuine; the codec reports it as SPSEC_R_RX_OUTSIDE_WINDOW).
[[nodiscard]] constexpr std::optional<std::uint64_t> reconstruct_t(std::uint16_t ts12,
                                                                   std::uint64_t local) noexcept
{
	const std::int32_t d = ts12_delta(ts12, local);
	if (d < 0) {
		const auto back = static_cast<std::uint64_t>(-static_cast<std::int64_t>(d));
		if (local <= back)
			return std::nullopt;
		return local - back;
	}
	const std::uint64_t t = local + static_cast<std::uint64_t>(d);
	if (t < local || t == 0)  // wrapped around 2^64, or local = 0 and d = 0
		return std::nullopt;
	return t;
}

// |d| <= window. A window above SPSEC_MAX_WINDOW is treated as SPSEC_MAX_WINDOW (a larger one
// would make the 12-bit reconstruction ambiguous).
[[nodiscard]] constexpr bool within_window(std::int32_t d, std::uint32_t window) noexcept
{
	const std::int64_t w = window > kMaxWindow ? kMaxWindow : window;
	const std::int64_t ad = d < 0 ? -static_cast<std::int64_t>(d) : d;
	return ad <= w;
}

// Checks a configured acceptance window. Errors: above SPSEC_MAX_WINDOW (2047).
[[nodiscard]] Result<std::uint32_t> validate_window(std::uint64_t window);

// Tick length in ns for a CAN FD data bit rate: 10^11 / bps (1 Mbit/s -> 100000 ns = 100 µs,
// 2 -> 50000, 5 -> 20000, 8 -> 12500). Errors: bps outside 10 000 .. 20 000 000 (the message
// gives the range), or 10^11 not divisible by bps, so the tick would not be a whole number of ns
// (e.g. 3 Mbit/s; the message names the rate).
[[nodiscard]] Result<std::uint64_t> tick_ns_from_bitrate(std::uint64_t data_bitrate_bps);

// The sender rule (spec §2 [hardening]): never two frames of one CAN ID in one tick.
// T = max(now, last_sent + 1); with no previous frame, T = now.
[[nodiscard]] constexpr std::uint64_t next_tx_t(std::uint64_t now,
                                                std::optional<std::uint64_t> last_sent) noexcept
{
	if (last_sent && *last_sent >= now)
		return *last_sent + 1;
	return now;
}

// Per-ID last T, keyed by can_id_key() (can_frame.h). Used two ways, as the data plane's
// spsec_rx_fresh and spsec_tx_last maps are:
//  - receive freshness: fresh(id, t) is true when no T was accepted for id or t > last;
//    the codec calls accept() only after a frame fully verified;
//  - transmit: next_tx(id, now) returns next_tx_t(now, last) and records it.
// No eviction: an evicted entry would reopen a replay window (the BPF map is a plain HASH too).
class FreshnessTable {
public:
	[[nodiscard]] bool fresh(std::uint32_t id_key, std::uint64_t t) const noexcept;
	// Records t as the last accepted T of id_key if it is greater than the stored one.
	void accept(std::uint32_t id_key, std::uint64_t t);
	[[nodiscard]] std::optional<std::uint64_t> last(std::uint32_t id_key) const noexcept;
	// Sender side: the T to stamp the next frame of id_key with, recorded as sent.
	[[nodiscard]] std::uint64_t next_tx(std::uint32_t id_key, std::uint64_t now);
	void clear() noexcept { last_.clear(); }
	[[nodiscard]] std::size_t size() const noexcept { return last_.size(); }

private:
	std::unordered_map<std::uint32_t, std::uint64_t> last_;
};

}  // namespace spsec
