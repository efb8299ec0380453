// SPDX-License-Identifier: Apache-2.0
// Ascon-AEAD128 (NIST SP 800-232). The state is five 64-bit lanes; bytes enter lanes little-endian
// (byte i of a block is bits 8i..8i+7 of its lane), which is the main change from Ascon v1.2.
#include "core/ascon.h"

#include <bit>
#include <cstring>
#include <string>

namespace spsec::ascon {
namespace {

// The Ascon-AEAD128 IV of SP 800-232 (128-bit key and rate, 12/8 rounds); v1.2's differs.
constexpr std::uint64_t kIv = 0x00001000808c0001ULL;

struct State {
	std::uint64_t x0, x1, x2, x3, x4;
};

inline std::uint64_t load64(const std::uint8_t* p) noexcept
{
	std::uint64_t v;
	std::memcpy(&v, p, 8);
	if constexpr (std::endian::native == std::endian::big)
		v = __builtin_bswap64(v);
	return v;
}

inline void store64(std::uint8_t* p, std::uint64_t v) noexcept
{
	if constexpr (std::endian::native == std::endian::big)
		v = __builtin_bswap64(v);
	std::memcpy(p, &v, 8);
}

// n in 0..7 bytes.
inline std::uint64_t load_partial(const std::uint8_t* p, std::size_t n) noexcept
{
	std::uint64_t v = 0;
	for (std::size_t i = 0; i < n; i++)
		v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
	return v;
}

inline void store_partial(std::uint8_t* p, std::uint64_t v, std::size_t n) noexcept
{
	for (std::size_t i = 0; i < n; i++)
		p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

// The padding bit 0x01 placed right after n bytes of a lane.
inline std::uint64_t pad(std::size_t n) noexcept
{
	return 1ULL << (8 * n);
}
// The low n bytes of a lane (n in 0..7).
inline std::uint64_t low_bytes(std::size_t n) noexcept
{
	return pad(n) - 1;
}

inline void round(State& s, std::uint64_t c) noexcept
{
	// Constant addition, then the bitsliced 5-bit S-box (as in the Ascon reference), then the
	// linear diffusion layer of each lane.
	s.x2 ^= c;
	s.x0 ^= s.x4;
	s.x4 ^= s.x3;
	s.x2 ^= s.x1;
	std::uint64_t t0 = s.x0 ^ (~s.x1 & s.x2);
	std::uint64_t t1 = s.x1 ^ (~s.x2 & s.x3);
	std::uint64_t t2 = s.x2 ^ (~s.x3 & s.x4);
	std::uint64_t t3 = s.x3 ^ (~s.x4 & s.x0);
	std::uint64_t t4 = s.x4 ^ (~s.x0 & s.x1);
	t1 ^= t0;
	t0 ^= t4;
	t3 ^= t2;
	t2 = ~t2;
	s.x0 = t0 ^ std::rotr(t0, 19) ^ std::rotr(t0, 28);
	s.x1 = t1 ^ std::rotr(t1, 61) ^ std::rotr(t1, 39);
	s.x2 = t2 ^ std::rotr(t2, 1) ^ std::rotr(t2, 6);
	s.x3 = t3 ^ std::rotr(t3, 10) ^ std::rotr(t3, 17);
	s.x4 = t4 ^ std::rotr(t4, 7) ^ std::rotr(t4, 41);
}

// Round constants c_i = ((0xf - i) << 4) | i; p^8 uses the last eight.
inline void p8(State& s) noexcept
{
	round(s, 0xb4);
	round(s, 0xa5);
	round(s, 0x96);
	round(s, 0x87);
	round(s, 0x78);
	round(s, 0x69);
	round(s, 0x5a);
	round(s, 0x4b);
}

inline void p12(State& s) noexcept
{
	round(s, 0xf0);
	round(s, 0xe1);
	round(s, 0xd2);
	round(s, 0xc3);
	p8(s);
}

// Initialisation and associated data, shared by both directions.
State start(std::uint64_t k0, std::uint64_t k1, const std::uint8_t* n,
            std::span<const std::uint8_t> ad)
{
	State s{kIv, k0, k1, load64(n), load64(n + 8)};
	p12(s);
	s.x3 ^= k0;
	s.x4 ^= k1;
	if (!ad.empty()) {
		const std::uint8_t* a = ad.data();
		std::size_t len = ad.size();
		for (; len >= 16; a += 16, len -= 16) {
			s.x0 ^= load64(a);
			s.x1 ^= load64(a + 8);
			p8(s);
		}
		// The last block is always padded, even when empty (AD length a multiple of 16).
		if (len >= 8) {
			s.x0 ^= load64(a);
			s.x1 ^= load_partial(a + 8, len - 8) ^ pad(len - 8);
		} else {
			s.x0 ^= load_partial(a, len) ^ pad(len);
		}
		p8(s);
	}
	s.x4 ^= 1ULL << 63;  // domain separation between AD and message, applied always
	return s;
}

void finish(State& s, std::uint64_t k0, std::uint64_t k1, std::uint8_t* tag) noexcept
{
	s.x2 ^= k0;
	s.x3 ^= k1;
	p12(s);
	store64(tag, s.x3 ^ k0);
	store64(tag + 8, s.x4 ^ k1);
}

}  // namespace

bool encrypt(std::span<const std::uint8_t, kKeyLen> key,
             std::span<const std::uint8_t, kNonceLen> nonce, std::span<const std::uint8_t> ad,
             std::span<const std::uint8_t> in, std::span<std::uint8_t> out,
             std::span<std::uint8_t, kFullTagLen> tag) noexcept
{
	if (in.size() != out.size())
		return false;
	const std::uint64_t k0 = load64(key.data());
	const std::uint64_t k1 = load64(key.data() + 8);
	State s = start(k0, k1, nonce.data(), ad);
	const std::uint8_t* m = in.data();
	std::uint8_t* c = out.data();
	std::size_t len = in.size();
	for (; len >= 16; m += 16, c += 16, len -= 16) {
		s.x0 ^= load64(m);
		s.x1 ^= load64(m + 8);
		store64(c, s.x0);
		store64(c + 8, s.x1);
		p8(s);
	}
	if (len >= 8) {
		s.x0 ^= load64(m);
		s.x1 ^= load_partial(m + 8, len - 8);
		store64(c, s.x0);
		store_partial(c + 8, s.x1, len - 8);
		s.x1 ^= pad(len - 8);
	} else {
		s.x0 ^= load_partial(m, len);
		store_partial(c, s.x0, len);
		s.x0 ^= pad(len);
	}
	finish(s, k0, k1, tag.data());
	secure_wipe(&s, sizeof s);
	return true;
}

bool decrypt(std::span<const std::uint8_t, kKeyLen> key,
             std::span<const std::uint8_t, kNonceLen> nonce, std::span<const std::uint8_t> ad,
             std::span<const std::uint8_t> in, std::span<std::uint8_t> out,
             std::span<const std::uint8_t> tag) noexcept
{
	if (in.size() != out.size() || tag.empty() || tag.size() > kFullTagLen) {
		secure_wipe(out.data(), out.size());
		return false;
	}
	const std::uint64_t k0 = load64(key.data());
	const std::uint64_t k1 = load64(key.data() + 8);
	State s = start(k0, k1, nonce.data(), ad);
	const std::uint8_t* c = in.data();
	std::uint8_t* m = out.data();
	std::size_t len = in.size();
	// Each ciphertext lane is read before the plaintext is stored, so in == out works.
	for (; len >= 16; c += 16, m += 16, len -= 16) {
		const std::uint64_t c0 = load64(c);
		const std::uint64_t c1 = load64(c + 8);
		store64(m, s.x0 ^ c0);
		store64(m + 8, s.x1 ^ c1);
		s.x0 = c0;
		s.x1 = c1;
		p8(s);
	}
	if (len >= 8) {
		const std::uint64_t c0 = load64(c);
		const std::uint64_t c1 = load_partial(c + 8, len - 8);
		store64(m, s.x0 ^ c0);
		store_partial(m + 8, s.x1 ^ c1, len - 8);
		s.x0 = c0;
		s.x1 = ((s.x1 & ~low_bytes(len - 8)) | c1) ^ pad(len - 8);
	} else {
		const std::uint64_t c0 = load_partial(c, len);
		store_partial(m, s.x0 ^ c0, len);
		s.x0 = ((s.x0 & ~low_bytes(len)) | c0) ^ pad(len);
	}
	std::uint8_t full[kFullTagLen];
	finish(s, k0, k1, full);
	const bool ok = ct_equal(std::span<const std::uint8_t>(full, tag.size()), tag);
	secure_wipe(full, sizeof full);
	secure_wipe(&s, sizeof s);
	if (!ok)
		secure_wipe(out.data(), out.size());
	return ok;
}

namespace {

class AsconAead final : public Aead {
public:
	explicit AsconAead(const Key32& key) noexcept
	{
		// SPsec keys Ascon with the second half of its 32-byte key (spec §4).
		std::memcpy(key_, key.expose().data() + 16, kKeyLen);
	}
	~AsconAead() override { secure_wipe(key_, sizeof key_); }

	AeadKind kind() const noexcept override { return AeadKind::Ascon; }

	Result<void> seal(std::span<const std::uint8_t> nonce, std::span<const std::uint8_t> aad,
	                  std::span<std::uint8_t> inout,
	                  std::span<std::uint8_t, kTagLen> tag) override
	{
		if (nonce.size() != kNonceLen)
			return bad_nonce(nonce.size());
		std::uint8_t full[kFullTagLen];
		if (!encrypt(std::span<const std::uint8_t, kKeyLen>(key_), nonce.first<kNonceLen>(),
		             aad, inout, inout, full))
			return fail("ascon: internal size mismatch");
		std::memcpy(tag.data(), full, kTagLen);
		secure_wipe(full, sizeof full);
		return {};
	}

	Result<bool> open(std::span<const std::uint8_t> nonce, std::span<const std::uint8_t> aad,
	                  std::span<std::uint8_t> inout,
	                  std::span<const std::uint8_t, kTagLen> tag) override
	{
		if (nonce.size() != kNonceLen)
			return bad_nonce(nonce.size());
		return decrypt(std::span<const std::uint8_t, kKeyLen>(key_),
		               nonce.first<kNonceLen>(), aad, inout, inout, tag);
	}

private:
	static tl::unexpected<Error> bad_nonce(std::size_t n)
	{
		return fail("ascon: nonce of " + std::to_string(n) + " bytes (expected 16)");
	}

	std::uint8_t key_[kKeyLen];
};

}  // namespace

Result<std::unique_ptr<Aead>> make_aead(const Key32& key)
{
	return std::unique_ptr<Aead>(std::make_unique<AsconAead>(key));
}

}  // namespace spsec::ascon
