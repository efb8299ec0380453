// SPDX-License-Identifier: Apache-2.0
// can-utils frame notation and candump -L lines (core/can_frame.h).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "core/can_frame.h"

using spsec::CanFrame;
using spsec::parse_can_frame;

namespace {

CanFrame frame(const std::string& text)
{
	auto f = parse_can_frame(text);
	INFO(text);
	REQUIRE(f);
	return *f;
}

std::string parse_error(const std::string& text)
{
	auto f = parse_can_frame(text);
	INFO(text);
	REQUIRE_FALSE(f);
	return f.error().context;
}

}  // namespace

TEST_CASE("classical frames parse like can-utils", "[codec]")
{
	const CanFrame f = frame("123#DEADBEEF");
	CHECK(f.can_id == 0x123);
	CHECK_FALSE(f.fd);
	CHECK(f.len == 4);
	CHECK(f.flags == 0);
	CHECK(f.data[0] == 0xDE);
	CHECK(f.data[3] == 0xEF);
	CHECK(f.data[4] == 0);
	CHECK(f.id() == 0x123);
	CHECK_FALSE(f.extended());

	CHECK(frame("123#").len == 0);
	CHECK(frame("7ff#0011223344556677").len == 8);
	CHECK(frame("7FF#00").can_id == 0x7FF);

	const CanFrame e = frame("1ABCDEF0#00");
	CHECK(e.can_id == (0x1ABCDEF0u | CAN_EFF_FLAG));
	CHECK(e.extended());
	CHECK(e.id() == 0x1ABCDEF0u);
	// 8 digits of a small ID are still a 29-bit frame.
	CHECK(frame("00000123#").can_id == (0x123u | CAN_EFF_FLAG));

	// Separators: one '.' before any byte, and a trailing one.
	const CanFrame s = frame("123#11.22.33.");
	CHECK(s.len == 3);
	CHECK(s.data[2] == 0x33);
	CHECK(frame("123#.11").len == 1);
}

TEST_CASE("RTR and error frames", "[codec]")
{
	const CanFrame r = frame("123#R");
	CHECK(r.rtr());
	CHECK(r.can_id == (0x123u | CAN_RTR_FLAG));
	CHECK(r.len == 0);
	CHECK(frame("123#r").rtr());
	CHECK(frame("123#R3").len == 3);
	CHECK(frame("1ABCDEF0#R8").can_id == (0x1ABCDEF0u | CAN_EFF_FLAG | CAN_RTR_FLAG));

	const CanFrame e = frame("20000004#0000080000000000");
	CHECK(e.error());
	CHECK_FALSE(e.extended());
	CHECK(e.len == 8);
}

TEST_CASE("CAN FD frames: ## and the flags nibble", "[codec]")
{
	const CanFrame f = frame("123##1AABBCC");
	CHECK(f.fd);
	CHECK(f.flags == CANFD_BRS);
	CHECK(f.len == 3);
	CHECK(f.data[0] == 0xAA);

	const CanFrame z = frame("123##0");
	CHECK(z.fd);
	CHECK(z.len == 0);

	const CanFrame x = frame("1ABCDEF0##3.11.22");
	CHECK(x.flags == (CANFD_BRS | CANFD_ESI));
	CHECK(x.can_id == (0x1ABCDEF0u | CAN_EFF_FLAG));
	CHECK(x.len == 2);

	std::string full = "123##1";
	for (int i = 0; i < 64; i++)
		full += "A5";
	CHECK(frame(full).len == 64);
	// 9 bytes is fine in the notation (the kernel pads on the wire).
	CHECK(frame("123##0112233445566778899").len == 9);
}

TEST_CASE("format_can_frame prints what sprint_canframe prints", "[codec]")
{
	for (const char* text : {"123#DEADBEEF", "123#", "7FF#0011223344556677", "1ABCDEF0#00",
	                         "123#R", "123#R3", "1ABCDEF0#R", "20000004#0000080000000000",
	                         "123##1AABBCC", "123##0", "1ABCDEF0##3", "00000123##F01"}) {
		INFO(text);
		CHECK(spsec::format_can_frame(frame(text)) == text);
	}
	// Lower case and separators normalise.
	CHECK(spsec::format_can_frame(frame("1abcdef0##1.aa.bb")) == "1ABCDEF0##1AABB");
	// RTR with len 0 prints no digit; flags above 0xF are masked as can-utils does.
	CanFrame f = frame("123##0AA");
	f.flags = CANFD_BRS | CANFD_FDF | 0x10;
	CHECK(spsec::format_can_frame(f) == "123##5AA");
}

TEST_CASE("malformed frame text gets an error naming the problem", "[codec]")
{
	CHECK_THAT(parse_error(""), Catch::Contains("no '#'"));
	CHECK_THAT(parse_error("123DEADBEEF"), Catch::Contains("no '#'"));
	CHECK_THAT(parse_error("12#00"), Catch::Contains("3 hex digits"));
	CHECK_THAT(parse_error("1234#00"), Catch::Contains("3 hex digits"));
	CHECK_THAT(parse_error("12G#00"), Catch::Contains("CAN ID"));
	CHECK_THAT(parse_error("800#00"), Catch::Contains("above 7FF"));
	CHECK_THAT(parse_error("40000000#00"), Catch::Contains("above"));
	CHECK_THAT(parse_error("123#ABC"), Catch::Contains("odd number"));
	CHECK_THAT(parse_error("123#AG"), Catch::Contains("not a hex digit"));
	CHECK_THAT(parse_error("123#11..22"), Catch::Contains("not a hex digit"));
	CHECK_THAT(parse_error("123#001122334455667788"), Catch::Contains("more than 8"));
	CHECK_THAT(parse_error("123#R9"), Catch::Contains("0..8"));
	CHECK_THAT(parse_error("123#R1x"), Catch::Contains("after RTR"));
	CHECK_THAT(parse_error("123##"), Catch::Contains("flags digit"));
	CHECK_THAT(parse_error("123##G00"), Catch::Contains("flags"));
	CHECK_THAT(parse_error("123###00"), Catch::Contains("CAN XL"));
	CHECK_THAT(parse_error("123#1122_9"), Catch::Contains("len8_dlc"));
	CHECK_THAT(parse_error("20000004##100"), Catch::Contains("error frame"));
	std::string too_long = "123##1";
	for (int i = 0; i < 65; i++)
		too_long += "00";
	CHECK_THAT(parse_error(too_long), Catch::Contains("more than 64"));
}

TEST_CASE("candump -L lines", "[codec]")
{
	auto l = spsec::parse_candump_line("(1700000000.123456) can0 123##1AABB\n");
	REQUIRE(l);
	CHECK(l->sec == 1700000000u);
	CHECK(l->usec == 123456u);
	CHECK(l->ifname == "can0");
	CHECK(l->frame.fd);
	CHECK(l->frame.len == 2);
	CHECK(l->direction == 0);
	CHECK(spsec::format_candump_line(*l) == "(1700000000.123456) can0 123##1AABB");

	auto r = spsec::parse_candump_line("(0000000001.000001) vcan0 1ABCDEF0#1122 R");
	REQUIRE(r);
	CHECK(r->direction == 'R');
	CHECK(r->frame.extended());
	CHECK(spsec::format_candump_line(*r) == "(0000000001.000001) vcan0 1ABCDEF0#1122 R");

	const std::vector<std::pair<std::string, std::string>> bad = {
	        {"1700000000.123456 can0 123#00", "must start"},
	        {"(1700000000) can0 123#00", "timestamp"},
	        {"(1700000000.12345) can0 123#00", "exactly 6 digits"},
	        {"(1700000000.1234567) can0 123#00", "more than 6"},
	        {"(1700000000.123456 can0 123#00", "missing ')'"},
	        {"(1700000000.123456)", "interface"},
	        {"(1700000000.123456) can0", "missing frame"},
	        {"(1700000000.123456) can0 12#00", "frame: "},
	        {"(1700000000.123456) can0 123#00 X", "unexpected text"},
	};
	for (const auto& [line, want] : bad) {
		INFO(line);
		auto p = spsec::parse_candump_line(line);
		REQUIRE_FALSE(p);
		CHECK_THAT(p.error().context, Catch::Contains(want));
	}
}

TEST_CASE("CAN FD length helpers and the per-ID table key", "[codec]")
{
	CHECK(spsec::canfd_round_up_len(0) == 0);
	CHECK(spsec::canfd_round_up_len(8) == 8);
	CHECK(spsec::canfd_round_up_len(9) == 12);
	CHECK(spsec::canfd_round_up_len(49) == 64);
	CHECK(spsec::canfd_round_up_len(65) == 0);
	for (std::size_t l : {0u, 1u, 7u, 8u, 12u, 16u, 20u, 24u, 32u, 48u, 64u})
		CHECK(spsec::canfd_valid_len(l));
	for (std::size_t l : {9u, 10u, 11u, 13u, 33u, 63u, 65u})
		CHECK_FALSE(spsec::canfd_valid_len(l));

	CHECK(spsec::can_id_key(0x123) == 0x123);
	CHECK(spsec::can_id_key(0x123 | CAN_RTR_FLAG) == 0x123);
	CHECK(spsec::can_id_key(0x1ABCDEF0 | CAN_EFF_FLAG | CAN_RTR_FLAG) ==
	      (0x1ABCDEF0 | CAN_EFF_FLAG));
	CHECK(spsec::can_id_key(0x123 | CAN_EFF_FLAG) != spsec::can_id_key(0x123));
}
