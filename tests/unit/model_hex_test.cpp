// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include "core/hex.h"

using namespace spsec;

TEST_CASE("hex parse and format", "[hex]")
{
	auto a = parse_hex("0a FF:10_7e\n");
	REQUIRE(a);
	CHECK(*a == std::vector<std::uint8_t>{0x0A, 0xFF, 0x10, 0x7E});
	CHECK(format_hex(*a) == "0aff107e");
	CHECK(format_hex(*a, ' ') == "0a ff 10 7e");
	CHECK(parse_hex("")->empty());
	CHECK(format_hex({}) == "");

	auto odd = parse_hex("abc");
	REQUIRE_FALSE(odd);
	CHECK(odd.error().context == "hex: odd number of hex digits");
	auto bad = parse_hex("00 0g");
	REQUIRE_FALSE(bad);
	CHECK(bad.error().context == "hex: 'g' at offset 4 is not a hex digit");
	auto split = parse_hex("0 a");
	REQUIRE_FALSE(split);
	CHECK(split.error().context == "hex: separator inside a byte at offset 1");
	CHECK_FALSE(parse_hex("\x01"));
}

TEST_CASE("quote_printable keeps printable ASCII and nothing else", "[hex]")
{
	CHECK(quote_printable("can0") == "\"can0\"");
	CHECK(quote_printable("") == "\"\"");
	CHECK(quote_printable("a\x1b]0;x\x07") == "\"a?]0;x?\"");
	CHECK(quote_printable("\r\n\t\x7f\xc2\x9b") == "\"??????\"");
	CHECK(quote_printable(std::string(41, 'x')) == "\"" + std::string(40, 'x') + "...\"");
	CHECK(quote_printable("abcdef", 3) == "\"abc...\"");
}
