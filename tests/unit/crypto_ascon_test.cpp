// SPDX-License-Identifier: Apache-2.0
// Ascon-AEAD128 (NIST SP 800-232): the full NIST KAT, the SPsec Aead adapter, random round trips
// and single-bit-flip rejection.
#include <array>
#include <cstdint>
#include <fstream>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

#include "core/aead.h"
#include "core/ascon.h"
#include "core/secret.h"
#include "test_util.h"

namespace {

using Bytes = std::vector<std::uint8_t>;
namespace ascon = spsec::ascon;

using spsec::test::all_zero;
using spsec::test::check_bit_flips_rejected;
using spsec::test::hex;
using spsec::test::random_bytes;

struct KatVector {
	int count = 0;
	Bytes key, nonce, pt, ad, ct;  // ct = ciphertext || 16-byte tag
};

// Parses LWC_AEAD_KAT_128_128.txt ("Count = n", "Key = ...", ..., blank line between vectors).
std::vector<KatVector> load_kat()
{
	const std::string path =
	        std::string(SPSEC_TEST_DATA_DIR) + "/crypto/LWC_AEAD_KAT_128_128.txt";
	std::ifstream in(path);
	if (!in)
		throw std::runtime_error("cannot open " + path);
	std::vector<KatVector> out;
	KatVector cur;
	std::string line;
	auto flush = [&] {
		if (cur.count != 0)
			out.push_back(cur);
		cur = KatVector{};
	};
	while (std::getline(in, line)) {
		if (!line.empty() && line.back() == '\r')
			line.pop_back();
		const auto eq = line.find(" = ");
		if (eq == std::string::npos) {
			if (line.find_first_not_of(" \t") == std::string::npos)
				continue;
			const auto eq2 =
			        line.find(" =");  // "PT = " with nothing after trims to "PT ="
			if (eq2 == std::string::npos)
				throw std::runtime_error("bad KAT line: " + line);
		}
		const std::string name = line.substr(0, line.find(' '));
		const std::string value = eq == std::string::npos ? "" : line.substr(eq + 3);
		if (name == "Count") {
			flush();
			cur.count = std::stoi(value);
		} else if (name == "Key") {
			cur.key = hex(value);
		} else if (name == "Nonce") {
			cur.nonce = hex(value);
		} else if (name == "PT") {
			cur.pt = hex(value);
		} else if (name == "AD") {
			cur.ad = hex(value);
		} else if (name == "CT") {
			cur.ct = hex(value);
		} else {
			throw std::runtime_error("unknown KAT field: " + name);
		}
	}
	flush();
	return out;
}

std::span<const std::uint8_t, 16> s16(const Bytes& b)
{
	return std::span<const std::uint8_t, 16>(b.data(), 16);
}

}  // namespace

TEST_CASE("Ascon-AEAD128 passes all 1089 vectors of the NIST SP 800-232 KAT", "[crypto][ascon]")
{
	const auto kat = load_kat();
	REQUIRE(kat.size() == 1089);
	std::size_t checked = 0;
	for (const auto& v : kat) {
		INFO("Count = " << v.count);
		REQUIRE(v.key.size() == 16);
		REQUIRE(v.nonce.size() == 16);
		REQUIRE(v.ct.size() == v.pt.size() + 16);
		const std::span<const std::uint8_t> want_ct(v.ct.data(), v.pt.size());
		const std::span<const std::uint8_t> want_tag(v.ct.data() + v.pt.size(), 16);

		Bytes ct(v.pt.size());
		std::array<std::uint8_t, 16> tag{};
		REQUIRE(ascon::encrypt(s16(v.key), s16(v.nonce), v.ad, v.pt, ct, tag));
		CHECK(std::equal(ct.begin(), ct.end(), want_ct.begin(), want_ct.end()));
		CHECK(std::equal(tag.begin(), tag.end(), want_tag.begin(), want_tag.end()));

		Bytes pt(v.pt.size(), 0xAA);
		CHECK(ascon::decrypt(s16(v.key), s16(v.nonce), v.ad, want_ct, pt, want_tag));
		CHECK(pt == v.pt);
		// In place, with the 8-byte truncated tag SPsec uses.
		Bytes inplace(want_ct.begin(), want_ct.end());
		CHECK(ascon::decrypt(s16(v.key), s16(v.nonce), v.ad, inplace, inplace,
		                     want_tag.first(8)));
		CHECK(inplace == v.pt);
		checked++;
	}
	CHECK(checked == 1089);
}

TEST_CASE("The Ascon Aead keys with bytes 16..31 and truncates the KAT tag to 8", "[crypto][ascon]")
{
	const auto kat = load_kat();
	REQUIRE(kat.size() == 1089);
	std::mt19937_64 rng(0x5e5ec);
	for (const auto& v : kat) {
		if (v.count % 7 !=
		    1)  // a spread of AD/PT lengths; every vector goes through encrypt()
			continue;
		INFO("Count = " << v.count);
		Bytes k32 = random_bytes(rng, 16);  // bytes 0..15 must not matter
		k32.insert(k32.end(), v.key.begin(), v.key.end());
		const spsec::Key32 key(std::span<const std::uint8_t, 32>(k32.data(), 32));
		auto aead = spsec::Aead::create(spsec::AeadKind::Ascon, key);
		REQUIRE(aead);
		CHECK((*aead)->kind() == spsec::AeadKind::Ascon);

		Bytes buf = v.pt;
		std::array<std::uint8_t, 8> tag{};
		REQUIRE((*aead)->seal(v.nonce, v.ad, buf, tag));
		CHECK(std::equal(buf.begin(), buf.end(), v.ct.begin()));
		CHECK(std::equal(tag.begin(), tag.end(),
		                 v.ct.begin() + static_cast<long>(v.pt.size())));

		auto ok = (*aead)->open(v.nonce, v.ad, buf, tag);
		REQUIRE(ok);
		CHECK(*ok);
		CHECK(buf == v.pt);
	}
}

TEST_CASE("Ascon rejects wrong nonce lengths with an error naming the length", "[crypto][ascon]")
{
	const spsec::Key32 key;
	auto aead = spsec::Aead::create(spsec::AeadKind::Ascon, key);
	REQUIRE(aead);
	Bytes buf(4), nonce(12);
	std::array<std::uint8_t, 8> tag{};
	auto r = (*aead)->seal(nonce, {}, buf, tag);
	REQUIRE_FALSE(r);
	CHECK_THAT(r.error().context, Catch::Contains("12 bytes") && Catch::Contains("16"));
	auto o = (*aead)->open(nonce, {}, buf, tag);
	REQUIRE_FALSE(o);
	// Misuse of the general API: sizes must match, tag length 1..16.
	Bytes k(16), n(16), in(5), out(4);
	std::array<std::uint8_t, 16> full{};
	CHECK_FALSE(ascon::encrypt(s16(k), s16(n), {}, in, out, full));
	Bytes out5(5, 0x55);
	CHECK_FALSE(ascon::decrypt(s16(k), s16(n), {}, in, out5, {}));
	CHECK(all_zero(out5));
}

TEST_CASE("Ascon: random round trips, in place and out of place", "[crypto][ascon]")
{
	std::mt19937_64 rng(20260101);
	for (int i = 0; i < 3000; i++) {
		const Bytes key = random_bytes(rng, 16), nonce = random_bytes(rng, 16);
		const Bytes ad = random_bytes(rng, rng() % 70);
		const Bytes pt = random_bytes(rng, rng() % 100);
		Bytes ct(pt.size());
		std::array<std::uint8_t, 16> tag{}, tag2{};
		REQUIRE(ascon::encrypt(s16(key), s16(nonce), ad, pt, ct, tag));
		Bytes inplace = pt;
		REQUIRE(ascon::encrypt(s16(key), s16(nonce), ad, inplace, inplace, tag2));
		REQUIRE(inplace == ct);
		REQUIRE(tag == tag2);
		Bytes back(ct.size());
		REQUIRE(ascon::decrypt(s16(key), s16(nonce), ad, ct, back, tag));
		REQUIRE(back == pt);
		REQUIRE(ascon::decrypt(s16(key), s16(nonce), ad, inplace, inplace,
		                       std::span<const std::uint8_t>(tag).first(8)));
		REQUIRE(inplace == pt);
	}
}

TEST_CASE("Ascon Aead rejects every single-bit flip of ciphertext, tag, AAD and nonce",
          "[crypto][ascon]")
{
	std::mt19937_64 rng(77);
	std::size_t rejected = 0;
	for (int round = 0; round < 12; round++) {
		const Bytes k32 = random_bytes(rng, 32);
		const spsec::Key32 key(std::span<const std::uint8_t, 32>(k32.data(), 32));
		auto made = spsec::Aead::create(spsec::AeadKind::Ascon, key);
		REQUIRE(made);
		auto& aead = **made;
		const Bytes nonce = random_bytes(rng, 16), aad = random_bytes(rng, 5 + rng() % 20);
		const Bytes pt = random_bytes(rng, static_cast<std::size_t>(round) * 5);
		Bytes ct = pt;
		std::array<std::uint8_t, 8> tag{};
		REQUIRE(aead.seal(nonce, aad, ct, tag));

		rejected += check_bit_flips_rejected(aead, nonce, aad, ct, tag, pt);
	}
	CHECK(rejected > 3000);
}
