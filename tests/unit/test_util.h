// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the unit tests: hex vectors, random bytes, zero checks.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "core/aead.h"
#include "core/hex.h"
#include "core/key_schedule.h"
#include "core/messages.h"

namespace spsec::test {

// Hex test vectors through the project's own parser (core/hex.h). A malformed vector is a bug in
// the test itself, so it throws. "-" stands for the empty string, as in some vector files.
inline std::vector<std::uint8_t> hex(std::string_view s)
{
	if (s == "-")
		return {};
	auto bytes = parse_hex(s);
	if (!bytes)
		throw std::invalid_argument("test vector: " + bytes.error().message());
	return std::move(*bytes);
}

// n bytes from a seeded generator, so a failing case can be reproduced.
inline std::vector<std::uint8_t> random_bytes(std::mt19937_64& rng, std::size_t n)
{
	std::vector<std::uint8_t> b(n);
	for (auto& x : b)
		x = static_cast<std::uint8_t>(rng());
	return b;
}

inline bool all_zero(std::span<const std::uint8_t> s)
{
	for (auto b : s)
		if (b != 0)
			return false;
	return true;
}

// Every single-bit flip of the ciphertext, the tag, the AAD and the nonce of a sealed message must
// make `aead.open` refuse it and zero the output; afterwards the untouched message must still open
// to `pt`, so the object survives the failures. Returns the number of rejections checked.
inline std::size_t check_bit_flips_rejected(Aead& aead, const std::vector<std::uint8_t>& nonce,
                                            const std::vector<std::uint8_t>& aad,
                                            const std::vector<std::uint8_t>& ct,
                                            const std::array<std::uint8_t, kTagLen>& tag,
                                            const std::vector<std::uint8_t>& pt)
{
	std::size_t rejected = 0;
	auto expect_reject = [&](const std::vector<std::uint8_t>& n,
	                         const std::vector<std::uint8_t>& a,
	                         const std::vector<std::uint8_t>& c,
	                         const std::array<std::uint8_t, kTagLen>& t) {
		std::vector<std::uint8_t> buf = c;
		auto r = aead.open(n, a, buf, t);
		REQUIRE(r);
		REQUIRE_FALSE(*r);
		REQUIRE(all_zero(buf));
		rejected++;
	};
	auto flip = [](auto v, std::size_t bit) {
		v[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
		return v;
	};
	for (std::size_t b = 0; b < ct.size() * 8; b++)
		expect_reject(nonce, aad, flip(ct, b), tag);
	for (std::size_t b = 0; b < kTagLen * 8; b++)
		expect_reject(nonce, aad, ct, flip(tag, b));
	for (std::size_t b = 0; b < aad.size() * 8; b++)
		expect_reject(nonce, flip(aad, b), ct, tag);
	for (std::size_t b = 0; b < nonce.size() * 8; b++)
		expect_reject(flip(nonce, b), aad, ct, tag);

	std::vector<std::uint8_t> buf = ct;
	auto ok = aead.open(nonce, aad, buf, tag);
	REQUIRE(ok);
	REQUIRE(*ok);
	REQUIRE(buf == pt);
	return rejected;
}

// A 32-byte key from 64 hex digits.
inline Key32 key32(std::string_view hex_text)
{
	const std::vector<std::uint8_t> b = hex(hex_text);
	REQUIRE(b.size() == 32u);
	return Key32(std::span<const std::uint8_t, 32>(b.data(), 32));
}

// A Sync broadcast at T = `t` as the network's Sync sends it (AES-GCM, encrypted stamp): sealed
// with the Communication Key of t's window from `seed` and `csalt`.
inline CanFrame sealed_sync_broadcast(const Key32& seed, const CommSalt& csalt,
                                      const KeySalt& seed_salt, std::uint64_t t)
{
	auto k = derive_comm_key(seed, key_window(t), csalt);
	REQUIRE(k);
	auto aead = Aead::create(AeadKind::AesGcm, *k);
	REQUIRE(aead);
	StampParams p;
	p.seed_salt = seed_salt;
	auto f = seal_sync_broadcast(**aead, p, t);
	REQUIRE(f);
	return *f;
}

}  // namespace spsec::test
