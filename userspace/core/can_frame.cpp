// SPDX-License-Identifier: Apache-2.0
// can-utils frame notation (lib.c parse_canframe / sprint_canframe) and candump -L lines.
#include "core/can_frame.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "core/hex.h"

namespace spsec {

namespace {

constexpr char kIdDelim = '#';
constexpr char kDataSep = '.';

int nibble(char c) noexcept
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

std::string describe_char(char c)
{
	if (c >= 0x21 && c <= 0x7E)
		return std::string("'") + c + "'";
	char buf[8];
	std::snprintf(buf, sizeof buf, "0x%02X",
	              static_cast<unsigned>(static_cast<unsigned char>(c)));
	return buf;
}

std::string at(std::size_t pos)
{
	return " at offset " + std::to_string(pos);
}

}  // namespace

CanFrame from_kernel_frame(const canfd_frame& k, bool fd) noexcept
{
	CanFrame f;
	f.can_id = k.can_id;
	f.fd = fd;
	f.len = std::min<std::uint8_t>(k.len, fd ? 64 : 8);
	f.flags = fd ? k.flags : 0;
	std::copy_n(k.data, f.len, f.data.begin());
	return f;
}

canfd_frame to_kernel_frame(const CanFrame& f) noexcept
{
	canfd_frame k{};
	k.can_id = f.can_id;
	k.len = f.len;
	k.flags = f.flags;
	std::copy_n(f.data.begin(), std::min<std::size_t>(f.len, sizeof k.data), k.data);
	return k;
}

Result<CanFrame> parse_can_frame(std::string_view cs)
{
	CanFrame cf;
	std::size_t idx = 0;
	std::size_t id_digits = 0;
	// can-utils decides the ID width by where the first '#' is: after 3 or after 8 digits.
	if (cs.size() >= 4 && cs[3] == kIdDelim)
		id_digits = 3;
	else if (cs.size() >= 9 && cs[8] == kIdDelim)
		id_digits = 8;
	else if (cs.find(kIdDelim) == std::string_view::npos)
		return fail("no '#' between CAN ID and data (expected e.g. 123#DEADBEEF)");
	else
		return fail("CAN ID must be 3 hex digits (11-bit) or 8 hex digits (29-bit), got " +
		            std::to_string(cs.find(kIdDelim)));

	std::uint32_t id = 0;
	for (std::size_t i = 0; i < id_digits; i++) {
		const int n = nibble(cs[i]);
		if (n < 0)
			return fail("CAN ID: " + describe_char(cs[i]) + " is not a hex digit" +
			            at(i));
		id = (id << 4) | static_cast<std::uint32_t>(n);
	}
	if (id_digits == 3) {
		if (id > CAN_SFF_MASK)
			return fail("11-bit CAN ID " + std::string(cs.substr(0, 3)) +
			            " is above 7FF (use 8 digits for a 29-bit ID)");
		cf.can_id = id;
	} else if ((id & CAN_ERR_FLAG) != 0) {
		// 8 digits with the error flag: an error frame, as can-utils reads it.
		if (id > (CAN_ERR_FLAG | CAN_ERR_MASK))
			return fail("error frame ID " + std::string(cs.substr(0, 8)) +
			            " has bits above 3FFFFFFF");
		cf.can_id = id;
	} else {
		if (id > CAN_EFF_MASK)
			return fail("29-bit CAN ID " + std::string(cs.substr(0, 8)) +
			            " is above 1FFFFFFF");
		cf.can_id = id | CAN_EFF_FLAG;
	}
	idx = id_digits + 1;

	std::size_t maxdlen = 8;
	if (idx < cs.size() && (cs[idx] == 'R' || cs[idx] == 'r')) {
		if (cf.error())
			return fail("an error frame cannot be a remote request");
		cf.can_id |= CAN_RTR_FLAG;
		idx++;
		if (idx < cs.size()) {
			const int n = nibble(cs[idx]);
			if (n < 0 || n > 8)
				return fail("RTR DLC must be one digit 0..8, got " +
				            describe_char(cs[idx]) + at(idx));
			cf.len = static_cast<std::uint8_t>(n);
			idx++;
		}
		if (idx < cs.size())
			return fail("unexpected " + describe_char(cs[idx]) + " after RTR" +
			            at(idx));
		return cf;
	}
	if (idx < cs.size() && cs[idx] == kIdDelim) {
		if (idx + 1 < cs.size() && cs[idx + 1] == kIdDelim)
			return fail("CAN XL frames (###) are not supported");
		if (cf.error())
			return fail("an error frame cannot be a CAN FD frame");
		if (idx + 1 >= cs.size())
			return fail("CAN FD frame needs a flags digit after ## (e.g. 123##1AABB)");
		const int n = nibble(cs[idx + 1]);
		if (n < 0)
			return fail("CAN FD flags: " + describe_char(cs[idx + 1]) +
			            " is not a hex digit" + at(idx + 1));
		cf.fd = true;
		cf.flags = static_cast<std::uint8_t>(n);
		maxdlen = 64;
		idx += 2;
	}

	std::size_t dlen = 0;
	while (idx < cs.size()) {
		if (cs[idx] == kDataSep) {  // one optional separator before each byte
			idx++;
			if (idx >= cs.size())
				break;
		}
		if (cs[idx] == '_')
			return fail("the len8_dlc suffix (_<dlc>) is not supported" + at(idx));
		const int hi = nibble(cs[idx]);
		if (hi < 0)
			return fail("data: " + describe_char(cs[idx]) + " is not a hex digit" +
			            at(idx));
		if (idx + 1 >= cs.size())
			return fail("data: odd number of hex digits (last byte has one digit)");
		const int lo = nibble(cs[idx + 1]);
		if (lo < 0)
			return fail("data: " + describe_char(cs[idx + 1]) + " is not a hex digit" +
			            at(idx + 1));
		if (dlen >= maxdlen)
			return fail(maxdlen == 8
			                    ? "more than 8 data bytes in a classical CAN frame "
			                      "(use ## for CAN FD)"
			                    : "more than 64 data bytes in a CAN FD frame");
		cf.data[dlen++] = static_cast<std::uint8_t>((hi << 4) | lo);
		idx += 2;
	}
	cf.len = static_cast<std::uint8_t>(dlen);
	return cf;
}

std::string format_can_frame(const CanFrame& cf)
{
	char buf[16];
	if (cf.error())
		std::snprintf(buf, sizeof buf, "%08X#", cf.can_id & (CAN_ERR_MASK | CAN_ERR_FLAG));
	else if (cf.extended())
		std::snprintf(buf, sizeof buf, "%08X#", cf.can_id & CAN_EFF_MASK);
	else
		std::snprintf(buf, sizeof buf, "%03X#", cf.can_id & CAN_SFF_MASK);
	std::string out = buf;

	// Classical frames may be RTR; sprint_canframe never prints RTR for CAN FD.
	if (!cf.fd && cf.rtr()) {
		out += 'R';
		if (cf.len > 0 && cf.len <= 8)
			out += static_cast<char>('0' + cf.len);
		return out;
	}
	const std::size_t maxdlen = cf.fd ? 64 : 8;
	const std::size_t len = cf.len > maxdlen ? maxdlen : cf.len;
	static constexpr char kHex[] = "0123456789ABCDEF";
	if (cf.fd) {
		out += '#';
		out += kHex[cf.flags & 0x0F];
	}
	for (std::size_t i = 0; i < len; i++) {
		out += kHex[cf.data[i] >> 4];
		out += kHex[cf.data[i] & 0x0F];
	}
	return out;
}

Result<CandumpLine> parse_candump_line(std::string_view line)
{
	while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
		line.remove_suffix(1);
	CandumpLine out;
	if (line.empty() || line[0] != '(')
		return fail("candump -L line must start with \"(<sec>.<usec>)\"");
	std::size_t i = 1;
	std::size_t start = i;
	std::uint64_t sec = 0;
	while (i < line.size() && line[i] >= '0' && line[i] <= '9') {
		if (sec > (UINT64_MAX - 9) / 10)
			return fail("timestamp seconds out of range");
		sec = sec * 10 + static_cast<std::uint64_t>(line[i] - '0');
		i++;
	}
	if (i == start || i >= line.size() || line[i] != '.')
		return fail("timestamp must be \"(<sec>.<usec>)\" with decimal digits");
	i++;
	start = i;
	std::uint32_t usec = 0;
	while (i < line.size() && line[i] >= '0' && line[i] <= '9') {
		if (i - start >= 6)
			return fail("timestamp: more than 6 digits after the '.'");
		usec = usec * 10 + static_cast<std::uint32_t>(line[i] - '0');
		i++;
	}
	if (i - start != 6)
		return fail("timestamp must have exactly 6 digits after the '.' (microseconds)");
	if (i >= line.size() || line[i] != ')')
		return fail("timestamp: missing ')'");
	i++;
	if (i >= line.size() || line[i] != ' ')
		return fail("missing interface name after the timestamp");
	// The next space-separated word, after any spaces; empty at the end of the line.
	auto next_word = [&line, &i]() {
		while (i < line.size() && line[i] == ' ')
			i++;
		const std::size_t from = i;
		while (i < line.size() && line[i] != ' ')
			i++;
		return line.substr(from, i - from);
	};
	const std::string_view ifname = next_word();
	if (ifname.empty())
		return fail("missing interface name after the timestamp");
	out.ifname = std::string(ifname);
	const std::string_view frame_text = next_word();
	if (frame_text.empty())
		return fail("missing frame after interface " + quote_printable(out.ifname));
	auto frame = parse_can_frame(frame_text);
	if (!frame)
		return tl::unexpected(frame.error().with_context("frame"));
	out.frame = *frame;
	while (i < line.size() && line[i] == ' ')
		i++;
	if (i < line.size()) {
		if (i + 1 == line.size() && (line[i] == 'R' || line[i] == 'T'))
			out.direction = line[i];
		else
			return fail("unexpected text after the frame: " +
			            quote_printable(line.substr(i)));
	}
	out.sec = sec;
	out.usec = usec;
	return out;
}

std::string format_candump_line(const CandumpLine& line)
{
	char ts[48];
	std::snprintf(ts, sizeof ts, "(%010llu.%06u) ", static_cast<unsigned long long>(line.sec),
	              line.usec);
	std::string out = ts;
	out += line.ifname;
	out += ' ';
	out += format_can_frame(line.frame);
	if (line.direction != 0) {
		out += ' ';
		out += line.direction;
	}
	return out;
}

}  // namespace spsec
