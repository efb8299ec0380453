// SPDX-License-Identifier: Apache-2.0
#include "ctl/pcapng_writer.h"

namespace spsec::ctl {

namespace {

constexpr std::uint32_t kShb = 0x0A0D0D0A;
constexpr std::uint32_t kIdb = 0x00000001;
constexpr std::uint32_t kEpb = 0x00000006;
constexpr std::uint16_t kLinktypeCanSocketcan = 227;
constexpr std::uint16_t kOptEnd = 0;
constexpr std::uint16_t kOptComment = 1;
constexpr std::uint16_t kOptIfName = 2;
constexpr std::uint8_t kCanfdFdf = 0x04;

// Block fields little-endian on every host; readers follow the byte-order magic.
void put16(std::vector<std::uint8_t>& b, std::uint16_t v)
{
	b.push_back(static_cast<std::uint8_t>(v));
	b.push_back(static_cast<std::uint8_t>(v >> 8));
}

void put32(std::vector<std::uint8_t>& b, std::uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

void pad4(std::vector<std::uint8_t>& b)
{
	while (b.size() % 4 != 0)
		b.push_back(0);
}

void put_option(std::vector<std::uint8_t>& b, std::uint16_t code, std::string_view value)
{
	// Option lengths are 16 bit; a longer value is cut (comments here are one short line).
	const std::size_t n = value.size() > 0xFFF0 ? 0xFFF0 : value.size();
	put16(b, code);
	put16(b, static_cast<std::uint16_t>(n));
	b.insert(b.end(), value.begin(), value.begin() + static_cast<std::ptrdiff_t>(n));
	pad4(b);
}

// Wraps a block body: type, total length, body, total length again.
void put_block(std::vector<std::uint8_t>& out, std::uint32_t type,
               const std::vector<std::uint8_t>& body)
{
	const auto total = static_cast<std::uint32_t>(12 + body.size());
	put32(out, type);
	put32(out, total);
	out.insert(out.end(), body.begin(), body.end());
	put32(out, total);
}

}  // namespace

PcapngWriter::PcapngWriter()
{
	std::vector<std::uint8_t> body;
	put32(body, 0x1A2B3C4D);  // byte-order magic
	put16(body, 1);           // version 1.0
	put16(body, 0);
	put32(body, 0xFFFFFFFF);  // section length: unspecified
	put32(body, 0xFFFFFFFF);
	put_block(out_, kShb, body);
}

std::uint32_t PcapngWriter::interface_id(std::string_view ifname)
{
	if (auto it = interfaces_.find(ifname); it != interfaces_.end())
		return it->second;
	std::vector<std::uint8_t> body;
	put16(body, kLinktypeCanSocketcan);
	put16(body, 0);
	put32(body, 72);  // snaplen: CANFD_MTU
	put_option(body, kOptIfName, ifname);
	put_option(body, kOptEnd, {});
	put_block(out_, kIdb, body);
	const auto id = static_cast<std::uint32_t>(interfaces_.size());
	interfaces_.emplace(std::string(ifname), id);
	return id;
}

void PcapngWriter::add(std::string_view ifname, std::uint64_t sec, std::uint32_t usec,
                       const CanFrame& frame, std::string_view comment)
{
	const std::uint32_t ifid = interface_id(ifname);
	const std::uint64_t ts = sec * 1'000'000u + usec;
	const std::uint32_t caplen = frame.fd ? 72 : 16;
	std::vector<std::uint8_t> body;
	put32(body, ifid);
	put32(body, static_cast<std::uint32_t>(ts >> 32));
	put32(body, static_cast<std::uint32_t>(ts));
	put32(body, caplen);
	put32(body, caplen);
	for (int i = 3; i >= 0; i--)
		body.push_back(static_cast<std::uint8_t>(frame.can_id >> (8 * i)));
	const std::uint8_t max_len = frame.fd ? 64 : 8;
	const std::uint8_t len = frame.len > max_len ? max_len : frame.len;
	body.push_back(len);
	body.push_back(frame.fd ? static_cast<std::uint8_t>(frame.flags | kCanfdFdf) : 0);
	body.push_back(0);
	body.push_back(0);
	for (std::uint32_t i = 0; i < caplen - 8; i++)
		body.push_back(i < len ? frame.data[i] : 0);
	if (!comment.empty()) {
		put_option(body, kOptComment, comment);
		put_option(body, kOptEnd, {});
	}
	put_block(out_, kEpb, body);
}

}  // namespace spsec::ctl
