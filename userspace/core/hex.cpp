// SPDX-License-Identifier: Apache-2.0
#include "core/hex.h"

namespace spsec {

int hex_value(char c) noexcept
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

namespace {

bool is_separator(char c) noexcept
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ':' || c == '_';
}

}  // namespace

Result<std::vector<std::uint8_t>> parse_hex(std::string_view text)
{
	std::vector<std::uint8_t> out;
	out.reserve(text.size() / 2);
	int high = -1;  // pending high nibble, -1 when between bytes
	for (std::size_t i = 0; i < text.size(); i++) {
		const char c = text[i];
		if (is_separator(c)) {
			if (high >= 0)
				return fail("hex: separator inside a byte at offset " +
				            std::to_string(i));
			continue;
		}
		const int v = hex_value(c);
		if (v < 0) {
			const auto printable = static_cast<unsigned char>(c) >= 0x20 &&
			                       static_cast<unsigned char>(c) < 0x7F;
			return fail("hex: '" + (printable ? std::string(1, c) : std::string("?")) +
			            "' at offset " + std::to_string(i) + " is not a hex digit");
		}
		if (high < 0) {
			high = v;
		} else {
			out.push_back(static_cast<std::uint8_t>((high << 4) | v));
			high = -1;
		}
	}
	if (high >= 0)
		return fail("hex: odd number of hex digits");
	return out;
}

std::string format_hex(std::span<const std::uint8_t> bytes, char separator)
{
	static constexpr char kDigits[] = "0123456789abcdef";
	std::string out;
	out.reserve(bytes.size() * 3);
	for (std::size_t i = 0; i < bytes.size(); i++) {
		if (i > 0 && separator != '\0')
			out.push_back(separator);
		out.push_back(kDigits[bytes[i] >> 4]);
		out.push_back(kDigits[bytes[i] & 0x0F]);
	}
	return out;
}

std::string quote_printable(std::string_view v, std::size_t max)
{
	std::string out = "\"";
	for (std::size_t i = 0; i < v.size() && i < max; i++) {
		const auto c = static_cast<unsigned char>(v[i]);
		out.push_back(c >= 0x20 && c < 0x7F ? static_cast<char>(c) : '?');
	}
	if (v.size() > max)
		out += "...";
	out += "\"";
	return out;
}

}  // namespace spsec
