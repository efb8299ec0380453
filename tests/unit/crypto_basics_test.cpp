// SPDX-License-Identifier: Apache-2.0
// Secret, ct_equal, secure_wipe, AEAD names, HKDF-SHA256 (RFC 5869 Appendix A) and derive_key.
#include <array>
#include <cstdint>
#include <ostream>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "core/aead.h"
#include "core/secret.h"
#include "test_util.h"

namespace {

using spsec::Key32;

using spsec::test::all_zero;
using spsec::test::hex;

std::vector<std::uint8_t> range(unsigned from, unsigned to_exclusive)
{
	std::vector<std::uint8_t> v;
	for (unsigned i = from; i < to_exclusive; i++)
		v.push_back(static_cast<std::uint8_t>(i));
	return v;
}

Key32 key_from(const std::vector<std::uint8_t>& v)
{
	return Key32(std::span<const std::uint8_t, 32>(v.data(), 32));
}

// Detection idioms: Secret must not be printable, comparable, copyable or convertible to bytes.
template <class T, class = void> struct IsStreamable : std::false_type {
};
template <class T>
struct IsStreamable<
        T, std::void_t<decltype(std::declval<std::ostream&>() << std::declval<const T&>())>>
    : std::true_type {
};
template <class T, class = void> struct IsEqualityComparable : std::false_type {
};
template <class T>
struct IsEqualityComparable<
        T, std::void_t<decltype(std::declval<const T&>() == std::declval<const T&>())>>
    : std::true_type {
};

static_assert(IsStreamable<int>::value, "the detector itself works");
static_assert(IsStreamable<std::string>::value, "the detector itself works");
static_assert(!IsStreamable<Key32>::value, "Secret must have no operator<<");
static_assert(!IsStreamable<spsec::Secret<16>>::value, "Secret must have no operator<<");
static_assert(IsEqualityComparable<std::array<std::uint8_t, 4>>::value, "detector works");
static_assert(!IsEqualityComparable<Key32>::value, "Secret has no ==; use ct_equal");
static_assert(!std::is_copy_constructible_v<Key32> && !std::is_copy_assignable_v<Key32>,
              "Secret copies only through clone()");
static_assert(std::is_nothrow_move_constructible_v<Key32>);
static_assert(!std::is_convertible_v<Key32, std::span<const std::uint8_t>>,
              "bytes only through expose()");

}  // namespace

TEST_CASE("Secret: moved-from objects are wiped", "[crypto][secret]")
{
	const auto bytes = range(1, 33);
	Key32 a = key_from(bytes);
	REQUIRE(spsec::ct_equal(a.expose(), bytes));

	Key32 b(std::move(a));
	CHECK(spsec::ct_equal(b.expose(), bytes));
	CHECK(all_zero(a.expose()));  // NOLINT(bugprone-use-after-move): the point of the test

	Key32 c;
	CHECK(all_zero(c.expose()));
	c = std::move(b);
	CHECK(spsec::ct_equal(c.expose(), bytes));
	CHECK(all_zero(b.expose()));  // NOLINT(bugprone-use-after-move)

	Key32 d = c.clone();
	CHECK(spsec::ct_equal(d.expose(), c.expose()));
	d.expose_mut()[0] ^= 1;
	CHECK_FALSE(spsec::ct_equal(d.expose(), c.expose()));
	CHECK(Key32::size() == 32);
}

TEST_CASE("secure_wipe and ct_equal", "[crypto][secret]")
{
	auto v = range(1, 65);
	spsec::secure_wipe(v.data(), v.size());
	CHECK(all_zero(v));
	spsec::secure_wipe(nullptr, 0);  // allowed, does nothing

	const auto a = range(0, 16);
	auto b = a;
	CHECK(spsec::ct_equal(a, b));
	for (std::size_t i = 0; i < b.size(); i++) {
		b[i] ^= 0x80;
		CHECK_FALSE(spsec::ct_equal(a, b));
		b[i] ^= 0x80;
	}
	CHECK_FALSE(spsec::ct_equal(a, std::span<const std::uint8_t>(b).first(15)));
	CHECK(spsec::ct_equal({}, {}));
}

TEST_CASE("AEAD names round-trip and bad names are explained", "[crypto]")
{
	using spsec::AeadKind;
	for (AeadKind k : {AeadKind::AesGcm, AeadKind::ChaCha20Poly1305, AeadKind::Ascon}) {
		auto parsed = spsec::parse_aead_name(spsec::aead_name(k));
		REQUIRE(parsed);
		CHECK(*parsed == k);
	}
	CHECK(spsec::aead_name(AeadKind::AesGcm) == "aes-gcm");
	CHECK(spsec::aead_name(AeadKind::ChaCha20Poly1305) == "chacha20-poly1305");
	CHECK(spsec::aead_name(AeadKind::Ascon) == "ascon");
	for (const char* bad : {"", "AES-GCM", "aes", "ascon128", "chacha20"}) {
		auto r = spsec::parse_aead_name(bad);
		REQUIRE_FALSE(r);
		CHECK_THAT(r.error().context, Catch::Contains("aes-gcm") &&
		                                      Catch::Contains("chacha20-poly1305") &&
		                                      Catch::Contains("ascon"));
	}
	CHECK(spsec::data_nonce_len(AeadKind::AesGcm) == 12);
	CHECK(spsec::data_nonce_len(AeadKind::ChaCha20Poly1305) == 12);
	CHECK(spsec::data_nonce_len(AeadKind::Ascon) == 16);
	CHECK(static_cast<std::uint32_t>(AeadKind::Ascon) == SPSEC_AEAD_ASCON128);
}

TEST_CASE("HKDF-SHA256 matches RFC 5869 Appendix A", "[crypto][hkdf]")
{
	struct Case {
		const char* name;
		std::vector<std::uint8_t> ikm, salt, info;
		const char* okm;
	};
	const std::vector<std::uint8_t> ikm_0b(22, 0x0b);
	const Case cases[] = {
	        {"A.1 basic", ikm_0b, range(0x00, 0x0d), range(0xf0, 0xfa),
	         "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185"
	         "865"},
	        {"A.2 long inputs", range(0x00, 0x50), range(0x60, 0xb0), range(0xb0, 0x100),
	         "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac782727"
	         "1cb41c65e590e0"
	         "9da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87"},
	        {"A.3 empty salt and info",
	         ikm_0b,
	         {},
	         {},
	         "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a9"
	         "6c8"},
	};
	for (const auto& c : cases) {
		INFO(c.name);
		const auto expected = hex(c.okm);
		std::vector<std::uint8_t> out(expected.size(), 0xAA);
		REQUIRE(spsec::hkdf_sha256(c.ikm, c.salt, c.info, out));
		CHECK(out == expected);
	}
}

TEST_CASE("HKDF-SHA256 rejects output lengths outside 1..8160", "[crypto][hkdf]")
{
	const std::vector<std::uint8_t> ikm(32, 1);
	std::vector<std::uint8_t> none;
	auto r = spsec::hkdf_sha256(ikm, {}, {}, none);
	REQUIRE_FALSE(r);
	CHECK_THAT(r.error().context, Catch::Contains("output length 0"));
	std::vector<std::uint8_t> too_long(255 * 32 + 1);
	r = spsec::hkdf_sha256(ikm, {}, {}, too_long);
	REQUIRE_FALSE(r);
	CHECK_THAT(r.error().context, Catch::Contains("8161"));
	std::vector<std::uint8_t> max(255 * 32);
	CHECK(spsec::hkdf_sha256(ikm, {}, {}, max));
}

TEST_CASE("derive_key is HKDF-SHA256 with empty info and L = 32", "[crypto][hkdf]")
{
	const Key32 seed = key_from(range(0x20, 0x40));
	// Communication-key salt layout of spec §3: LE64(N(e)) || csalt[4], here e = 1.
	const std::vector<std::uint8_t> salt = {0x00, 0x00, 0x80, 0x01, 0,    0,
	                                        0,    0,    0xde, 0xad, 0xbe, 0xef};
	auto k = spsec::derive_key(seed, salt);
	REQUIRE(k);
	std::array<std::uint8_t, 32> expected{};
	REQUIRE(spsec::hkdf_sha256(seed.expose(), salt, {}, expected));
	CHECK(spsec::ct_equal(k->expose(), expected));
	// A different salt gives a different key.
	auto salt2 = salt;
	salt2.back() ^= 1;
	auto k2 = spsec::derive_key(seed, salt2);
	REQUIRE(k2);
	CHECK_FALSE(spsec::ct_equal(k->expose(), k2->expose()));
}

TEST_CASE("prepare_crypto fetches and runs every OpenSSL algorithm, and may run again", "[crypto]")
{
	// spsecd calls it at start-up so that no frame pays OpenSSL's first use; it must succeed
	// on this OpenSSL and leave the algorithms usable.
	REQUIRE(spsec::prepare_crypto());
	REQUIRE(spsec::prepare_crypto());
	const spsec::Key32 k;
	CHECK(spsec::derive_key(k, {}));
	CHECK(spsec::Aead::create(spsec::AeadKind::ChaCha20Poly1305, k));
}
