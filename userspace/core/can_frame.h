// SPDX-License-Identifier: Apache-2.0
// CAN and CAN FD frames as the kernel holds them, and the can-utils text notation for them.
//
// The notation is the one of can-utils lib.c (parse_canframe / sprint_canframe), so frames can be
// pasted from and into cansend, candump and candump -L logs:
//
//   "123#DEADBEEF"        classical, 11-bit ID 0x123, 4 bytes DE AD BE EF
//   "123#"                classical, 0 bytes
//   "1ABCDEF0#00"         classical, 29-bit ID (8 hex digits): can_id = 0x1ABCDEF0 | CAN_EFF_FLAG
//   "123#R"  "123#R3"     remote request (RTR), optional DLC digit 0..8 (len)
//   "20000004#0000080000000000"
//                         error frame (8 digits with CAN_ERR_FLAG set; no CAN_EFF_FLAG)
//   "123##1AABBCC"        CAN FD, flags nibble 1 (CANFD_BRS), 3 bytes AA BB CC
//   "123##0"              CAN FD, no flags, 0 bytes
//   "1ABCDEF0##3.11.22"   CAN FD, 29-bit ID, flags BRS|ESI, '.' separators are allowed before any
//                         byte (one at a time), as in can-utils
//
// Differences from can-utils, all of them errors where can-utils silently accepts junk: an 11-bit
// ID above 0x7FF, an 8-digit ID above 0x3FFFFFFF, more than 8 bytes in a classical frame or more
// than 64 in a CAN FD frame, anything after an RTR's DLC digit. CAN XL ("###") and the len8_dlc
// suffix ("_9") are not supported and say so.
//
// format_can_frame() prints what sprint_canframe prints with sep = 0: upper-case hex, 3 or 8 ID
// digits, "##<flags & 0xF>" for CAN FD, "R" / "R<len>" for RTR.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <linux/can.h>

#include "spsec/result.h"

namespace spsec {

struct CanFrame {
	// Kernel form: the ID bits plus CAN_EFF_FLAG (29-bit), CAN_RTR_FLAG, CAN_ERR_FLAG.
	std::uint32_t can_id = 0;
	// Data length in bytes: 0..8 classical, 0..64 CAN FD (any value the kernel would carry;
	// valid on the wire are 0..8, 12, 16, 20, 24, 32, 48, 64).
	std::uint8_t len = 0;
	// CAN FD flags (CANFD_BRS, CANFD_ESI, the kernel may add CANFD_FDF). 0 for classical
	// frames.
	std::uint8_t flags = 0;
	// true: CAN FD frame (struct canfd_frame, CANFD_MTU); false: classical CAN (CAN_MTU).
	bool fd = false;
	// Bytes beyond len are zero in every frame this module produces.
	std::array<std::uint8_t, 64> data{};

	[[nodiscard]] bool extended() const noexcept { return (can_id & CAN_EFF_FLAG) != 0; }
	[[nodiscard]] bool rtr() const noexcept { return (can_id & CAN_RTR_FLAG) != 0; }
	[[nodiscard]] bool error() const noexcept { return (can_id & CAN_ERR_FLAG) != 0; }
	// The ID bits only: can_id & CAN_EFF_MASK for 29-bit IDs, & CAN_SFF_MASK for 11-bit IDs.
	[[nodiscard]] std::uint32_t id() const noexcept
	{
		return extended() ? (can_id & CAN_EFF_MASK) : (can_id & CAN_SFF_MASK);
	}
	[[nodiscard]] std::span<const std::uint8_t> payload() const noexcept
	{
		return std::span<const std::uint8_t>(data).first(len <= 64 ? len : 64);
	}

	friend bool operator==(const CanFrame&, const CanFrame&) = default;
};

// The kernel's struct canfd_frame to CanFrame and back. `fd`: the frame is CAN FD (it came as
// CANFD_MTU bytes); a classical frame's length is capped at 8 and its flags cleared.
[[nodiscard]] CanFrame from_kernel_frame(const canfd_frame& k, bool fd) noexcept;
[[nodiscard]] canfd_frame to_kernel_frame(const CanFrame& f) noexcept;

// The key the data plane uses for per-ID tables (spsec_policy_key.can_id, spsec_id_key.can_id):
// (can_id & (CAN_EFF_FLAG | CAN_EFF_MASK)) for 29-bit IDs, can_id & CAN_SFF_MASK for 11-bit IDs.
// 11-bit 0x123 and 29-bit 0x00000123 are different keys.
[[nodiscard]] constexpr std::uint32_t can_id_key(std::uint32_t can_id) noexcept
{
	return (can_id & CAN_EFF_FLAG) != 0 ? (can_id & (CAN_EFF_FLAG | CAN_EFF_MASK))
	                                    : (can_id & CAN_SFF_MASK);
}

// Parses one frame in can-utils notation (examples above). The whole string must be the frame
// (no surrounding spaces). Errors name the problem and its position: missing '#', bad ID length,
// a non-hex digit, an odd number of data digits, too many data bytes, ID out of range.
[[nodiscard]] Result<CanFrame> parse_can_frame(std::string_view text);

// Prints a frame in can-utils notation (sprint_canframe, no separators). Classical frames print at
// most 8 bytes, CAN FD frames at most 64.
[[nodiscard]] std::string format_can_frame(const CanFrame& frame);

// One line of a candump -L log (the format canplayer reads):
//   "(1700000000.123456) can0 123##1AABB"
//   "(1700000000.123456) vcan0 1ABCDEF0#1122 R"   (candump -x adds a direction, R or T)
struct CandumpLine {
	std::uint64_t sec = 0;   // seconds of the timestamp
	std::uint32_t usec = 0;  // microseconds (the 6 digits after the '.')
	std::string ifname;      // interface name as logged
	CanFrame frame;
	char direction = 0;  // 'R' or 'T' when the line carries one, else 0
};

// Parses one candump -L line (a trailing '\n' or '\r\n' is ignored). Errors: missing or malformed
// "(sec.usec)", missing interface, a bad frame (the frame's own error, prefixed "frame: ").
[[nodiscard]] Result<CandumpLine> parse_candump_line(std::string_view line);

// Prints a line as candump -L does: "(%010llu.%06u) <ifname> <frame>[ <direction>]".
[[nodiscard]] std::string format_candump_line(const CandumpLine& line);

// CAN FD data length code helpers (ISO 11898-1).
// Smallest valid CAN FD length >= len (0..8 map to themselves), or 0 when len > 64.
[[nodiscard]] constexpr std::uint8_t canfd_round_up_len(std::size_t len) noexcept
{
	constexpr std::array<std::uint8_t, 7> kLong = {12, 16, 20, 24, 32, 48, 64};
	if (len <= 8)
		return static_cast<std::uint8_t>(len);
	for (std::uint8_t l : kLong) {
		if (len <= l)
			return l;
	}
	return 0;
}
// True when len is one of 0..8, 12, 16, 20, 24, 32, 48, 64.
[[nodiscard]] constexpr bool canfd_valid_len(std::size_t len) noexcept
{
	return len <= 64 && canfd_round_up_len(len) == len;
}

}  // namespace spsec
