// SPDX-License-Identifier: Apache-2.0
// A minimal pcapng writer for CAN frames (spsecctl decrypt-log): one Section Header Block, one
// Interface Description Block per interface name (link type LINKTYPE_CAN_SOCKETCAN, 227, with
// if_name), and one Enhanced Packet Block per frame with an optional packet comment (opt_comment),
// which Wireshark shows as frame.comment. Microsecond timestamps (the default if_tsresol); block
// fields are little-endian (the byte-order magic tells readers).
//
// Packet data is the SocketCAN header as libpcap writes it for a live capture: CAN ID (with the
// EFF/RTR/ERR flags) big-endian, len, flags (CAN FD frames get CANFD_FDF, 0x04), two reserved zero
// bytes, then the data padded with zeros to 8 (classical) or 64 (CAN FD) bytes.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/can_frame.h"

namespace spsec::ctl {

class PcapngWriter {
public:
	PcapngWriter();

	// Appends one frame captured on `ifname` at sec.usec, with `comment` (none when empty).
	void add(std::string_view ifname, std::uint64_t sec, std::uint32_t usec,
	         const CanFrame& frame, std::string_view comment);

	// The file so far (complete after every add()).
	[[nodiscard]] const std::vector<std::uint8_t>& bytes() const noexcept { return out_; }

private:
	std::uint32_t interface_id(std::string_view ifname);

	std::vector<std::uint8_t> out_;
	std::map<std::string, std::uint32_t, std::less<>> interfaces_;
};

}  // namespace spsec::ctl
