// SPDX-License-Identifier: Apache-2.0
// Time (core/timestamp.h) and the key schedule (core/key_schedule.h).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "core/hex.h"
#include "core/key_schedule.h"
#include "core/timestamp.h"

using namespace spsec;

namespace {

Key32 key_from(std::string_view s)
{
	auto v = parse_hex(s);
	REQUIRE(v);
	REQUIRE(v->size() == 32);
	return Key32(std::span<const std::uint8_t, 32>(v->data(), 32));
}

std::string key_hex(const Key32& k)
{
	return format_hex(k.expose());
}

}  // namespace

TEST_CASE("12-bit reconstruction, hand-computed edge cases", "[codec]")
{
	struct Case {
		std::uint16_t ts12;
		std::uint64_t local;
		std::int32_t d;
		std::uint64_t t;
	};
	const Case cases[] = {
	        {0x000, 0x10000, 0, 0x10000},      // exact
	        {0x7FF, 0x10000, 2047, 0x107FF},   // largest forward step
	        {0x800, 0x10000, -2048, 0x0F800},  // 2048 counts as backward
	        {0xFFF, 0x10000, -1, 0x0FFFF},     // wraps back across 4096
	        {0x000, 0x12FFF, 1, 0x13000},      // wraps forward across 4096
	        {0xFFF, 0x13000, -1, 0x12FFF},       {0x123, 0x9000123, 0, 0x9000123},
	        {0x1B9, 0x9000123, 150, 0x90001B9},   // +W
	        {0x08D, 0x9000123, -150, 0x900008D},  // -W
	        {0x1BA, 0x9000123, 151, 0x90001BA},   // W + 1
	        {0x08C, 0x9000123, -151, 0x900008C},  // -(W + 1)
	        {0x005, 0xFFE, 7, 0x1005},            // local just below a 4096 boundary
	        {0xFFE, 0x1002, -4, 0xFFE},
	};
	for (const Case& c : cases) {
		INFO("ts12 " << c.ts12 << " local " << c.local);
		CHECK(ts12_delta(c.ts12, c.local) == c.d);
		CHECK(reconstruct_t(c.ts12, c.local) == c.t);
	}
	// Only 12 bits of ts12 count.
	CHECK(ts12_delta(0xF123, 0x9000123) == 0);
	CHECK(ts12_of(0x123456789ull) == 0x789);
	// T would be 0 or negative: no reconstruction.
	CHECK_FALSE(reconstruct_t(0xFFF, 5));  // 5 - 6
	CHECK_FALSE(reconstruct_t(0x000, 0));  // 0
	CHECK_FALSE(reconstruct_t(0xFFB, 5));  // 5 - 10
	CHECK(reconstruct_t(0x004, 5) == 4u);  // 5 - 1
	// Wrapping past 2^64 is refused too.
	CHECK_FALSE(reconstruct_t(0x001, 0xFFFFFFFFFFFFFFFFull));
}

TEST_CASE("acceptance window boundaries: exactly W and W + 1", "[codec]")
{
	for (std::uint32_t w : {0u, 1u, 150u, 2046u, 2047u}) {
		INFO("W " << w);
		const auto sw = static_cast<std::int32_t>(w);
		CHECK(within_window(sw, w));
		CHECK(within_window(-sw, w));
		if (w < 2047) {
			CHECK_FALSE(within_window(sw + 1, w));
			CHECK_FALSE(within_window(-sw - 1, w));
		}
	}
	CHECK_FALSE(within_window(-2048, 2047));
	// Windows above the maximum act as the maximum.
	CHECK(within_window(2047, 100000));
	CHECK_FALSE(within_window(-2048, 100000));
	CHECK(validate_window(2047) == 2047u);
	auto bad = validate_window(2048);
	REQUIRE_FALSE(bad);
	CHECK_THAT(bad.error().context, Catch::Contains("2047"));
}

TEST_CASE("tick length from the data bit rate", "[codec]")
{
	CHECK(tick_ns_from_bitrate(1'000'000) == 100'000u);
	CHECK(tick_ns_from_bitrate(2'000'000) == 50'000u);
	CHECK(tick_ns_from_bitrate(5'000'000) == 20'000u);
	CHECK(tick_ns_from_bitrate(8'000'000) == 12'500u);
	CHECK(tick_ns_from_bitrate(500'000) == 200'000u);
	auto odd = tick_ns_from_bitrate(3'000'000);
	REQUIRE_FALSE(odd);
	CHECK_THAT(odd.error().context, Catch::Contains("whole-ns"));
	for (std::uint64_t bps : {0ull, 9'999ull, 20'000'001ull, 1'000'000'000ull}) {
		auto r = tick_ns_from_bitrate(bps);
		REQUIRE_FALSE(r);
		CHECK_THAT(r.error().context, Catch::Contains("outside"));
	}
}

TEST_CASE("freshness table and the sender rule", "[codec]")
{
	CHECK(next_tx_t(100, std::nullopt) == 100u);
	CHECK(next_tx_t(100, 99) == 100u);
	CHECK(next_tx_t(100, 100) == 101u);
	CHECK(next_tx_t(100, 250) == 251u);

	FreshnessTable f;
	CHECK(f.fresh(0x123, 1));
	f.accept(0x123, 10);
	CHECK_FALSE(f.fresh(0x123, 10));
	CHECK_FALSE(f.fresh(0x123, 9));
	CHECK(f.fresh(0x123, 11));
	CHECK(f.fresh(0x124, 1));
	f.accept(0x123, 5);  // never moves backwards
	CHECK(f.last(0x123) == 10u);

	FreshnessTable tx;
	CHECK(tx.next_tx(0x7, 50) == 50u);
	CHECK(tx.next_tx(0x7, 50) == 51u);  // same tick: bumped
	CHECK(tx.next_tx(0x7, 50) == 52u);
	CHECK(tx.next_tx(0x7, 60) == 60u);
	CHECK(tx.next_tx(0x8, 50) == 50u);  // per ID
	CHECK(tx.size() == 2);
}

TEST_CASE("key windows, N(e), parity and the live-key rule", "[codec]")
{
	CHECK(key_window(0x0FFFFFF) == 0u);
	CHECK(key_window(0x1000000) == 1u);
	CHECK(window_parity(0) == 0u);
	CHECK(window_parity(7) == 1u);
	CHECK(window_n(0) == 0x800000u);
	CHECK(window_n(1) == 0x1800000u);
	CHECK(window_n(0x12345) == 0x12345800000ull);

	struct Case {
		std::uint64_t t;
		std::uint64_t current;
		std::optional<std::uint64_t> other;
	};
	const Case cases[] = {
	        {0, 0, std::nullopt}, {0x7FFFFF, 0, std::nullopt}, {0x800000, 0, 1},
	        {0xFFFFFF, 0, 1},     {0x1000000, 1, 0},           {0x17FFFFF, 1, 0},
	        {0x1800000, 1, 2},    {0x1FFFFFF, 1, 2},           {0x2000000, 2, 1},
	};
	for (const Case& c : cases) {
		INFO("T " << c.t);
		const LiveWindows w = live_windows(c.t);
		CHECK(w.current == c.current);
		CHECK(w.other == c.other);
		CHECK(w.contains(c.current));
		CHECK(w.in_slot(window_parity(c.current)) == c.current);
		CHECK(w.in_slot(1 - window_parity(c.current)) == c.other);
	}
	// In the second half of window 1, window 0 is no longer live (its slot holds window 2).
	CHECK_FALSE(live_windows(0x1800000).contains(0));
	CHECK_FALSE(live_windows(0x17FFFFF).contains(2));
}

TEST_CASE("key derivation known answers (pyca/cryptography HKDF-SHA256)", "[codec]")
{
	const Key32 seed = key_from("000102030405060708090a0b0c0d0e0f"
	                            "101112131415161718191a1b1c1d1e1f");
	const CommSalt csalt = {1, 2, 3, 4};
	CHECK(format_hex(comm_key_salt(1, csalt)) == "0000800100000000"
	                                             "01020304");

	struct Kat {
		std::uint64_t e;
		const char* key;
	};
	const Kat kats[] = {
	        {0, "9ffcd7ff9337d12a095a2cc035a34ff30c1c279d0774ae3caba7b78e7862b070"},
	        {1, "1674c74b8eba6893759b8391ca113c7ce9acb4abca14eabc60a6e7359ccc8a75"},
	        {0x12345, "74c206bd00bee27048edc1c994e5cee588231de9775fa3d1141e0699b4de8c97"},
	};
	for (const Kat& k : kats) {
		auto key = derive_comm_key(seed, k.e, csalt);
		REQUIRE(key);
		CHECK(key_hex(*key) == k.key);
	}
	// Different csalt, different key.
	auto other = derive_comm_key(seed, 0, CommSalt{1, 2, 3, 5});
	REQUIRE(other);
	CHECK(key_hex(*other) != kats[0].key);

	std::array<std::uint8_t, 16> cr{}, sr{}, rnd{};
	for (std::size_t i = 0; i < 16; i++) {
		cr[i] = static_cast<std::uint8_t>(0x40 + i);
		sr[i] = static_cast<std::uint8_t>(0x80 + i);
		rnd[i] = static_cast<std::uint8_t>(0xC0 + i);
	}
	auto sess = derive_session_key(seed, cr, sr);
	REQUIRE(sess);
	CHECK(key_hex(*sess) == "0b0347c0e296fe9a56a8c8c14095b5fc01efaf274c844c4b3db001ea2f67cb9f");

	const std::uint64_t tim = 0x0123456789ABCDEFull;
	CHECK(format_hex(param_auth_key_salt(rnd, tim, csalt)) == "c0c1c2c3c4c5c6c7c8c9cacb"
	                                                          "efcdab8967452301"
	                                                          "01020304");
	auto pa = derive_param_auth_key(seed, rnd, tim, csalt);
	REQUIRE(pa);
	CHECK(key_hex(*pa) == "a5f323d1b19f20477c08eef82f183b85788de16f54c93947a47fb16e5412c94c");
	// Bytes 12..15 of the request random do not enter the key (spec §3: rnd[0..11]).
	rnd[15] ^= 0xFF;
	auto pa2 = derive_param_auth_key(seed, rnd, tim, csalt);
	REQUIRE(pa2);
	CHECK(key_hex(*pa2) == key_hex(*pa));
}
