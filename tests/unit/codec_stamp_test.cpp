// SPDX-License-Identifier: Apache-2.0
// The data-plane codec (core/stamp.h): geometry, nonce/AAD bytes, seal/open round trips,
// rejection reasons, OpenSSL cross-checks and the worked examples of docs/wire-format.md.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <openssl/evp.h>

#include "core/aead.h"
#include "core/can_frame.h"
#include "core/hex.h"
#include "core/reasons.h"
#include "core/stamp.h"

using namespace spsec;

namespace {

constexpr AeadKind kAllAeads[] = {AeadKind::AesGcm, AeadKind::ChaCha20Poly1305, AeadKind::Ascon};
constexpr StampMode kAllModes[] = {StampMode::Encrypt, StampMode::AuthOnly};

std::vector<std::uint8_t> hex(std::string_view s)
{
	auto v = parse_hex(s);
	REQUIRE(v);
	return *v;
}

Key32 key_from(std::string_view s)
{
	auto v = hex(s);
	REQUIRE(v.size() == 32);
	return Key32(std::span<const std::uint8_t, 32>(v.data(), 32));
}

CanFrame frame(std::string_view text)
{
	auto f = parse_can_frame(text);
	INFO(text);
	REQUIRE(f);
	return *f;
}

const char* kKeyHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const KeySalt kSalt = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07};

struct Fixture {
	AeadKind kind;
	StampMode mode;
	std::unique_ptr<Aead> aead;
	StampParams params;
	KeyLookup lookup;

	Fixture(AeadKind k, StampMode m, const char* key_hex = kKeyHex) : kind(k), mode(m)
	{
		auto a = Aead::create(k, key_from(key_hex));
		REQUIRE(a);
		aead = std::move(*a);
		params = StampParams{k, m, kSalt};
		Aead* raw = aead.get();
		lookup = [raw](std::uint64_t) { return raw; };
	}
	CanFrame seal(const CanFrame& plain, std::uint64_t t)
	{
		auto s = seal_frame(*aead, params, plain, t);
		REQUIRE(s);
		return *s;
	}
	tl::expected<Opened, Rejection> open(const CanFrame& f, std::uint64_t local,
	                                     std::uint32_t window = kDefaultWindow,
	                                     FreshnessTable* fresh = nullptr)
	{
		return open_frame(OpenParams{params, window}, f, local, lookup, fresh);
	}
};

CanFrame payload_frame(std::uint32_t can_id, std::size_t l, std::uint8_t seed = 0)
{
	CanFrame f;
	f.can_id = can_id;
	f.fd = true;
	f.flags = CANFD_BRS;
	f.len = static_cast<std::uint8_t>(l);
	for (std::size_t i = 0; i < l; i++)
		f.data[i] = static_cast<std::uint8_t>(seed + 7 * i + 1);
	return f;
}

std::uint32_t reason_of(const tl::expected<Opened, Rejection>& r)
{
	return r ? std::uint32_t{SPSEC_R_RX_OK} : r.error().reason;
}

// Independent AES-256-GCM / ChaCha20-Poly1305 through raw EVP: returns ciphertext || 16-byte tag.
std::vector<std::uint8_t> evp_seal(AeadKind kind, std::span<const std::uint8_t> key,
                                   std::span<const std::uint8_t> nonce,
                                   std::span<const std::uint8_t> aad,
                                   std::span<const std::uint8_t> pt)
{
	const EVP_CIPHER* c =
	        kind == AeadKind::AesGcm ? EVP_aes_256_gcm() : EVP_chacha20_poly1305();
	std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
	                                                                    EVP_CIPHER_CTX_free);
	REQUIRE(EVP_EncryptInit_ex(ctx.get(), c, nullptr, nullptr, nullptr) == 1);
	REQUIRE(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_IVLEN,
	                            static_cast<int>(nonce.size()), nullptr) == 1);
	REQUIRE(EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), nonce.data()) == 1);
	int outl = 0;
	if (!aad.empty())
		REQUIRE(EVP_EncryptUpdate(ctx.get(), nullptr, &outl, aad.data(),
		                          static_cast<int>(aad.size())) == 1);
	std::vector<std::uint8_t> out(pt.size() + 16);
	if (!pt.empty())
		REQUIRE(EVP_EncryptUpdate(ctx.get(), out.data(), &outl, pt.data(),
		                          static_cast<int>(pt.size())) == 1);
	REQUIRE(EVP_EncryptFinal_ex(ctx.get(), out.data() + pt.size(), &outl) == 1);
	REQUIRE(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, 16, out.data() + pt.size()) ==
	        1);
	return out;
}

}  // namespace

TEST_CASE("geometry for every L 0..54 (hand-written table)", "[codec]")
{
	// {first L, last L, S}: S = smallest valid CAN FD length >= L + 10.
	struct Row {
		std::size_t from, to;
		std::uint8_t s;
	};
	const Row table[] = {{0, 2, 12},   {3, 6, 16},   {7, 10, 20}, {11, 14, 24},
	                     {15, 22, 32}, {23, 38, 48}, {39, 54, 64}};
	std::size_t checked = 0;
	for (const Row& r : table) {
		for (std::size_t l = r.from; l <= r.to; l++) {
			INFO("L = " << l);
			const auto g = geometry_for_payload(l);
			REQUIRE(g);
			CHECK(g->l == l);
			CHECK(g->s == r.s);
			CHECK(g->pad == r.s - l - 10);
			CHECK(g->pad <= 15);
			checked++;
		}
	}
	CHECK(checked == 55);
	CHECK_FALSE(geometry_for_payload(55));
	CHECK_FALSE(geometry_for_payload(64));
	// Spot values written out: L=0 -> pad 2, L=38 -> pad 0, L=39 -> pad 15, L=54 -> pad 0.
	CHECK(geometry_for_payload(0)->pad == 2);
	CHECK(geometry_for_payload(38)->pad == 0);
	CHECK(geometry_for_payload(39)->pad == 15);
	CHECK(geometry_for_payload(54)->pad == 0);
}

TEST_CASE("stamp word, nonce and AAD bytes (hand-written from spec §4)", "[codec]")
{
	CHECK(stamp_word(2, 0x1234) == 0x2234);
	CHECK(stamp_word(15, 0xFFFFFFFFFFFFFFFFull) == 0xFFFF);
	CHECK(stamp_word(0, 0x1000) == 0x0000);

	const KeySalt salt = {0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7};
	const std::uint64_t t = 0x0102030405060708ull;
	const std::vector<std::uint8_t> n12 = {0x08, 0x07, 0x06, 0x05, 0x04, 0x03,
	                                       0x02, 0x01, 0xF0, 0xDE, 0xA0, 0xA1};
	const std::vector<std::uint8_t> n16 = {0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
	                                       0xF0, 0xDE, 0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5};
	for (AeadKind k : {AeadKind::AesGcm, AeadKind::ChaCha20Poly1305}) {
		const Nonce n = build_nonce(k, t, 0x1ABCDEF0, salt);
		CHECK(std::vector<std::uint8_t>(n.view().begin(), n.view().end()) == n12);
	}
	const Nonce na = build_nonce(AeadKind::Ascon, t, 0x1ABCDEF0, salt);
	CHECK(std::vector<std::uint8_t>(na.view().begin(), na.view().end()) == n16);
	// 11-bit ID: 0x7FF -> FF 07.
	const Nonce ns = build_nonce(AeadKind::AesGcm, 1, 0x7FF, salt);
	CHECK(ns.view()[0] == 0x01);
	CHECK(ns.view()[8] == 0xFF);
	CHECK(ns.view()[9] == 0x07);

	const std::vector<std::uint8_t> payload = {0x11, 0x22, 0x33};
	const Aad a = build_aad(StampMode::Encrypt, 0x1ABCDEF0, payload);
	CHECK(std::vector<std::uint8_t>(a.view().begin(), a.view().end()) ==
	      std::vector<std::uint8_t>{0xF0, 0xDE, 0xBC, 0x1A, 0x03});
	const Aad b = build_aad(StampMode::AuthOnly, 0x1ABCDEF0, payload);
	CHECK(std::vector<std::uint8_t>(b.view().begin(), b.view().end()) ==
	      std::vector<std::uint8_t>{0xF0, 0xDE, 0xBC, 0x1A, 0x03, 0x11, 0x22, 0x33});
	const Aad c = build_aad(StampMode::Encrypt, 0x7FF, {});
	CHECK(std::vector<std::uint8_t>(c.view().begin(), c.view().end()) ==
	      std::vector<std::uint8_t>{0xFF, 0x07, 0x00, 0x00, 0x00});
}

TEST_CASE("sealed frame layout matches raw OpenSSL EVP byte for byte", "[codec]")
{
	const auto key = hex(kKeyHex);
	for (AeadKind kind : {AeadKind::AesGcm, AeadKind::ChaCha20Poly1305}) {
		for (StampMode mode : kAllModes) {
			Fixture fx(kind, mode);
			for (std::size_t l : {0u, 1u, 2u, 3u, 8u, 13u, 22u, 38u, 39u, 48u, 54u}) {
				INFO(aead_name(kind)
				     << " mode " << static_cast<int>(mode) << " L " << l);
				const std::uint32_t can_id = 0x1ABCDEF0 | CAN_EFF_FLAG;
				const CanFrame plain = payload_frame(can_id, l);
				const std::uint64_t t = 0x00000002ABCDE123ull + l;
				const CanFrame s = fx.seal(plain, t);
				const auto g = *geometry_for_payload(l);
				REQUIRE(s.len == g.s);
				CHECK(s.can_id == can_id);
				CHECK(s.flags == CANFD_BRS);
				CHECK(s.fd);

				// Independent construction, spelled out from spec §4.
				std::vector<std::uint8_t> nonce;
				for (int i = 0; i < 8; i++)
					nonce.push_back(static_cast<std::uint8_t>(t >> (8 * i)));
				nonce.push_back(0xF0);
				nonce.push_back(0xDE);
				nonce.push_back(kSalt[0]);
				nonce.push_back(kSalt[1]);
				std::vector<std::uint8_t> aad = {0xF0, 0xDE, 0xBC, 0x1A,
				                                 static_cast<std::uint8_t>(l)};
				std::vector<std::uint8_t> body(plain.data.begin(),
				                               plain.data.begin() +
				                                       static_cast<long>(l));
				body.insert(body.end(), g.pad, 0xFF);
				std::vector<std::uint8_t> expect;
				if (mode == StampMode::Encrypt) {
					auto ct = evp_seal(kind, key, nonce, aad, body);
					expect.assign(ct.begin(),
					              ct.begin() + static_cast<long>(body.size()));
					expect.push_back(static_cast<std::uint8_t>(
					        ((g.pad << 12) | (t & 0xFFF)) & 0xFF));
					expect.push_back(static_cast<std::uint8_t>(
					        ((g.pad << 12) | (t & 0xFFF)) >> 8));
					expect.insert(expect.end(),
					              ct.begin() + static_cast<long>(body.size()),
					              ct.begin() + static_cast<long>(body.size()) +
					                      8);
				} else {
					aad.insert(aad.end(), body.begin(),
					           body.begin() + static_cast<long>(l));
					auto tag = evp_seal(kind, key, nonce, aad, {});
					expect = body;
					expect.push_back(static_cast<std::uint8_t>(
					        ((g.pad << 12) | (t & 0xFFF)) & 0xFF));
					expect.push_back(static_cast<std::uint8_t>(
					        ((g.pad << 12) | (t & 0xFFF)) >> 8));
					expect.insert(expect.end(), tag.begin(), tag.begin() + 8);
				}
				CHECK(std::vector<std::uint8_t>(s.data.begin(),
				                                s.data.begin() + s.len) == expect);
				for (std::size_t i = s.len; i < 64; i++)
					CHECK(s.data[i] == 0);
			}
		}
	}
}

TEST_CASE("Ascon frames use the 16-byte nonce with six salt bytes", "[codec]")
{
	// Cross-check through the Aead interface with a nonce and AAD built by hand.
	for (StampMode mode : kAllModes) {
		Fixture fx(AeadKind::Ascon, mode);
		const CanFrame plain = payload_frame(0x321, 5);
		const std::uint64_t t = 0x77;
		const CanFrame s = fx.seal(plain, t);
		REQUIRE(s.len == 16);
		std::vector<std::uint8_t> nonce = {0x77, 0,    0, 0, 0, 0, 0, 0,
		                                   0x21, 0x03, 0, 1, 2, 3, 4, 5};
		std::vector<std::uint8_t> aad = {0x21, 0x03, 0x00, 0x00, 0x05};
		std::array<std::uint8_t, 6> body{};
		for (std::size_t i = 0; i < 5; i++)
			body[i] = plain.data[i];
		body[5] = 0xFF;
		auto fresh = Aead::create(AeadKind::Ascon, key_from(kKeyHex));
		REQUIRE(fresh);
		std::array<std::uint8_t, 8> tag{};
		if (mode == StampMode::Encrypt) {
			REQUIRE((*fresh)->seal(nonce, aad, body, tag));
			for (std::size_t i = 0; i < 6; i++)
				CHECK(s.data[i] == body[i]);
		} else {
			aad.insert(aad.end(), body.begin(), body.begin() + 5);
			REQUIRE((*fresh)->seal(nonce, aad, {}, tag));
			for (std::size_t i = 0; i < 6; i++)
				CHECK(s.data[i] == body[i]);
		}
		CHECK(s.data[6] == 0x77);
		CHECK(s.data[7] == 0x10);
		for (std::size_t i = 0; i < 8; i++)
			CHECK(s.data[8 + i] == tag[i]);
	}
}

TEST_CASE("seal then open: every L 0..54 x every AEAD x both modes", "[codec]")
{
	std::size_t n = 0;
	for (AeadKind kind : kAllAeads) {
		for (StampMode mode : kAllModes) {
			Fixture fx(kind, mode);
			for (std::size_t l = 0; l <= 54; l++) {
				INFO(aead_name(kind)
				     << " mode " << static_cast<int>(mode) << " L " << l);
				const auto id = static_cast<std::uint32_t>(l);
				const std::uint32_t can_id =
				        (l % 2) ? (0x0ABCDE00u + id) | CAN_EFF_FLAG : 0x100u + id;
				const CanFrame plain =
				        payload_frame(can_id, l, static_cast<std::uint8_t>(l));
				const std::uint64_t t = 0x5000000ull + 977 * l;
				const CanFrame s = fx.seal(plain, t);
				CHECK(s.len == geometry_for_payload(l)->s);
				if (mode == StampMode::AuthOnly)
					CHECK(std::equal(plain.data.begin(),
					                 plain.data.begin() + static_cast<long>(l),
					                 s.data.begin()));
				// Received a little later and a little earlier than sent.
				for (std::uint64_t local : {t, t + 150, t - 150}) {
					auto o = fx.open(s, local);
					REQUIRE(o);
					CHECK(o->t == t);
					CHECK(o->plain == plain);
				}
				n++;
			}
		}
	}
	CHECK(n == 55 * 3 * 2);
}

TEST_CASE("every single bit flip is rejected with the expected reason", "[codec]")
{
	for (AeadKind kind : kAllAeads) {
		for (StampMode mode : kAllModes) {
			Fixture fx(kind, mode);
			for (std::size_t l : {0u, 2u, 5u, 9u, 21u, 39u, 54u}) {
				for (std::uint32_t can_id : {0x123u, 0x1ABCDEF0u | CAN_EFF_FLAG}) {
					INFO(aead_name(kind) << " mode " << static_cast<int>(mode)
					                     << " L " << l << " id " << can_id);
					const auto g = *geometry_for_payload(l);
					const std::uint64_t t = 0x9000123ull;
					const CanFrame s = fx.seal(payload_frame(can_id, l), t);
					REQUIRE(fx.open(s, t));
					// Data bits: payload, padding, stamp word, tag.
					for (std::size_t byte = 0; byte < g.s; byte++) {
						for (unsigned bit = 0; bit < 8; bit++) {
							CanFrame m = s;
							m.data[byte] ^= static_cast<std::uint8_t>(
							        1u << bit);
							std::uint32_t want = SPSEC_R_RX_BAD_TAG;
							const std::size_t stamp = g.s - 10u;
							if (byte >= l && byte < l + g.pad) {
								// Padding: ciphertext when
								// encrypting; in clear and outside
								// the AAD in auth-only networks.
								want = mode == StampMode::Encrypt
								               ? SPSEC_R_RX_BAD_TAG
								               : SPSEC_R_RX_BAD_PAD_BYTES;
							} else if (byte == stamp ||
							           (byte == stamp + 1 && bit < 4)) {
								// ts12 bit k moves T by 2^k: k <= 7
								// stays in W = 150, k >= 8 leaves
								// it.
								const unsigned k =
								        (byte == stamp ? 0u : 8u) +
								        bit;
								want = k <= 7 ? SPSEC_R_RX_BAD_TAG
								              : SPSEC_R_RX_OUTSIDE_WINDOW;
							} else if (byte == stamp + 1) {
								const unsigned pad2 =
								        g.pad ^ (1u << (bit - 4));
								want = pad2 > g.s - 10u
								               ? SPSEC_R_RX_BAD_PAD_COUNT
								               : SPSEC_R_RX_BAD_TAG;
							}
							INFO("byte " << byte << " bit " << bit);
							CHECK(reason_of(fx.open(m, t)) == want);
						}
					}
					// ID bits.
					const unsigned id_bits = (can_id & CAN_EFF_FLAG) ? 29 : 11;
					for (unsigned bit = 0; bit < id_bits; bit++) {
						CanFrame m = s;
						m.can_id ^= 1u << bit;
						INFO("id bit " << bit);
						CHECK(reason_of(fx.open(m, t)) ==
						      SPSEC_R_RX_BAD_TAG);
					}
					CanFrame rtr = s;
					rtr.can_id |= CAN_RTR_FLAG;
					CHECK(reason_of(fx.open(rtr, t)) == SPSEC_R_RX_CLASSIC);
					CanFrame err = s;
					err.can_id |= CAN_ERR_FLAG;
					CHECK(reason_of(fx.open(err, t)) == SPSEC_R_RX_ERROR_FRAME);
					// Length bits: never accepted.
					for (unsigned bit = 0; bit < 8; bit++) {
						CanFrame m = s;
						m.len = static_cast<std::uint8_t>(m.len ^
						                                  (1u << bit));
						INFO("len bit " << bit << " -> " << int(m.len));
						const auto r = fx.open(m, t);
						REQUIRE_FALSE(r);
						if (!canfd_valid_len(m.len) || m.len < 12)
							CHECK(r.error().reason ==
							      SPSEC_R_RX_BAD_LENGTH);
					}
					// BRS/ESI are not authenticated (spec §4): a flip passes
					// and the plain frame carries the received flags.
					CanFrame f = s;
					f.flags ^= CANFD_ESI;
					auto o = fx.open(f, t);
					REQUIRE(o);
					CHECK(o->plain.flags == f.flags);
				}
			}
		}
	}
}

TEST_CASE("the EFF flag is not authenticated: only the ID bits enter nonce and AAD", "[codec]")
{
	// Documented consequence of the reference layout (AAD = LE32(id & 0x1FFFFFFF)): 11-bit
	// 0x123 and 29-bit 0x00000123 verify alike. The data plane's policy keys on the flag, so a
	// 29-bit twin is only accepted if it is a configured secured ID itself.
	Fixture fx(AeadKind::AesGcm, StampMode::Encrypt);
	const CanFrame s = fx.seal(payload_frame(0x123, 4), 1000);
	CanFrame twin = s;
	twin.can_id = 0x123 | CAN_EFF_FLAG;
	CHECK(fx.open(twin, 1000));
	// Going the other way truncates the ID to 11 bits and fails.
	const CanFrame e = fx.seal(payload_frame(0x1ABCDEF0 | CAN_EFF_FLAG, 4), 1000);
	CanFrame sff = e;
	sff.can_id = 0x1ABCDEF0 & CAN_SFF_MASK;
	CHECK(reason_of(fx.open(sff, 1000)) == SPSEC_R_RX_BAD_TAG);
}

TEST_CASE("every malformed-frame class gets its own reason", "[codec]")
{
	Fixture fx(AeadKind::ChaCha20Poly1305, StampMode::Encrypt);
	const std::uint64_t t = 0x3000000;
	const CanFrame good = fx.seal(payload_frame(0x42, 6), t);

	SECTION("error frame")
	{
		CHECK(reason_of(fx.open(frame("20000004#0000080000000000"), t)) ==
		      SPSEC_R_RX_ERROR_FRAME);
	}
	SECTION("classical frame and RTR")
	{
		CHECK(reason_of(fx.open(frame("042#0011223344556677"), t)) == SPSEC_R_RX_CLASSIC);
		CHECK(reason_of(fx.open(frame("042#R"), t)) == SPSEC_R_RX_CLASSIC);
		CanFrame c = good;
		c.fd = false;
		CHECK(reason_of(fx.open(c, t)) == SPSEC_R_RX_CLASSIC);
	}
	SECTION("bad length")
	{
		for (unsigned len : {0u, 1u, 8u, 9u, 11u, 13u, 33u, 63u, 65u, 255u}) {
			CanFrame c = good;
			c.len = static_cast<std::uint8_t>(len);
			INFO(len);
			CHECK(reason_of(fx.open(c, t)) == SPSEC_R_RX_BAD_LENGTH);
		}
	}
	SECTION("bad pad count")
	{
		// S = 12 leaves room for at most 2 pad bytes: pad 3 is impossible.
		CanFrame c = frame("042##1000000000000000000000000");
		c.data[2] = static_cast<std::uint8_t>(t & 0xFF);
		c.data[3] = static_cast<std::uint8_t>(0x30 | ((t >> 8) & 0x0F));
		CHECK(reason_of(fx.open(c, t)) == SPSEC_R_RX_BAD_PAD_COUNT);
	}
	SECTION("outside the window, exactly at W and W + 1")
	{
		for (std::uint32_t w : {0u, 1u, 150u, 2047u}) {
			INFO("W " << w);
			CHECK(fx.open(good, t - w, w));
			CHECK(fx.open(good, t + w, w));
			const auto late = fx.open(good, t - w - 1, w);
			if (w < 2047) {
				CHECK(reason_of(late) == SPSEC_R_RX_OUTSIDE_WINDOW);
				CHECK(reason_of(fx.open(good, t + w + 1, w)) ==
				      SPSEC_R_RX_OUTSIDE_WINDOW);
				CHECK(late.error().t == t);
			}
		}
		// A T that would be <= 0 cannot be genuine.
		const CanFrame early = fx.seal(payload_frame(0x42, 6), 0xFFF);
		CHECK(reason_of(fx.open(early, 5, 2047)) == SPSEC_R_RX_OUTSIDE_WINDOW);
	}
	SECTION("no key for the frame's window")
	{
		const KeyLookup none = [](std::uint64_t) -> Aead* { return nullptr; };
		auto r = open_frame(OpenParams{fx.params, 150}, good, t, none);
		CHECK(reason_of(r) == SPSEC_R_RX_NO_KEY);
		CHECK(r.error().t == t);
		CHECK(reason_of(open_frame(OpenParams{fx.params, 150}, good, t, KeyLookup{})) ==
		      SPSEC_R_RX_NO_KEY);
		// The lookup is asked for the window of the frame's T.
		std::uint64_t asked = 0;
		Aead* raw = fx.aead.get();
		const KeyLookup spy = [&asked, raw](std::uint64_t e) {
			asked = e;
			return raw;
		};
		CHECK(open_frame(OpenParams{fx.params, 150}, good, t, spy));
		CHECK(asked == (t >> 24));
		// A key prepared for another AEAD is no key for this network.
		auto other = Aead::create(AeadKind::AesGcm, key_from(kKeyHex));
		REQUIRE(other);
		Aead* o = other->get();
		const KeyLookup wrong = [o](std::uint64_t) { return o; };
		CHECK(reason_of(open_frame(OpenParams{fx.params, 150}, good, t, wrong)) ==
		      SPSEC_R_RX_NO_KEY);
	}
	SECTION("bad tag: wrong key")
	{
		Fixture other(AeadKind::ChaCha20Poly1305, StampMode::Encrypt,
		              "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
		CHECK(reason_of(other.open(good, t)) == SPSEC_R_RX_BAD_TAG);
	}
	SECTION("bad pad bytes under a valid tag")
	{
		// A sender that pads with 00 instead of FF: tag fine, padding wrong.
		CanFrame c = good;  // L = 6, S = 16, pad = 0 -> use L = 4, pad 2 instead
		const std::uint32_t id = 0x42;
		c.len = 16;
		std::array<std::uint8_t, 6> body = {1, 2, 3, 4, 0x00, 0xFF};
		const Nonce n = build_nonce(AeadKind::ChaCha20Poly1305, t, id, kSalt);
		const std::array<std::uint8_t, 4> payload = {1, 2, 3, 4};
		const Aad a = build_aad(StampMode::Encrypt, id, payload);
		std::array<std::uint8_t, 8> tag{};
		REQUIRE(fx.aead->seal(n.view(), a.view(), body, tag));
		std::copy(body.begin(), body.end(), c.data.begin());
		c.data[6] = static_cast<std::uint8_t>(t & 0xFF);
		c.data[7] = static_cast<std::uint8_t>(0x20 | ((t >> 8) & 0x0F));
		std::copy(tag.begin(), tag.end(), c.data.begin() + 8);
		CHECK(reason_of(fx.open(c, t)) == SPSEC_R_RX_BAD_PAD_BYTES);
	}
	SECTION("replay: freshness is per ID, strictly increasing, advanced only on success")
	{
		FreshnessTable fresh;
		REQUIRE(fx.open(good, t, 150, &fresh));
		CHECK(fresh.last(can_id_key(good.can_id)) == t);
		CHECK(reason_of(fx.open(good, t, 150, &fresh)) == SPSEC_R_RX_REPLAY);
		CHECK(reason_of(fx.open(good, t + 10, 150, &fresh)) == SPSEC_R_RX_REPLAY);
		// Older frame of the same ID.
		const CanFrame older = fx.seal(payload_frame(0x42, 6), t - 1);
		CHECK(reason_of(fx.open(older, t, 150, &fresh)) == SPSEC_R_RX_REPLAY);
		// A forged frame with a newer T does not advance the table.
		CanFrame forged = fx.seal(payload_frame(0x42, 6), t + 5);
		forged.data[0] ^= 1;
		CHECK(reason_of(fx.open(forged, t, 150, &fresh)) == SPSEC_R_RX_BAD_TAG);
		CHECK(fresh.last(can_id_key(good.can_id)) == t);
		// Newer genuine frame passes; another ID has its own entry.
		CHECK(fx.open(fx.seal(payload_frame(0x42, 6), t + 1), t, 150, &fresh));
		CHECK(fx.open(fx.seal(payload_frame(0x43, 6), t - 3), t, 150, &fresh));
	}
}

TEST_CASE("seal refuses frames it cannot secure", "[codec]")
{
	Fixture fx(AeadKind::AesGcm, StampMode::Encrypt);
	auto err = [&](const CanFrame& f, std::uint64_t t) {
		auto r = seal_frame(*fx.aead, fx.params, f, t);
		REQUIRE_FALSE(r);
		return r.error().context;
	};
	CHECK_THAT(err(frame("123#11"), 5), Catch::Contains("classical"));
	CHECK_THAT(err(frame("123#R"), 5), Catch::Contains("RTR"));
	CHECK_THAT(err(frame("20000004#00"), 5), Catch::Contains("error frame"));
	CHECK_THAT(err(payload_frame(0x123, 55), 5), Catch::Contains("at most 54"));
	CHECK_THAT(err(payload_frame(0x123, 64), 5), Catch::Contains("at most 54"));
	CHECK_THAT(err(payload_frame(0x123, 4), 0), Catch::Contains("T = 0"));
	StampParams other = fx.params;
	other.aead = AeadKind::Ascon;
	auto r = seal_frame(*fx.aead, other, payload_frame(0x123, 4), 5);
	REQUIRE_FALSE(r);
	CHECK_THAT(r.error().context, Catch::Contains("ascon"));
}

TEST_CASE("known answer: AES-GCM example cross-checked with Python cryptography", "[codec]")
{
	// Computed independently (pyca/cryptography AESGCM) from the spec layout:
	// key 00..1f, nonce 34 12 00 00 00 00 00 00 23 01 00 01, AAD 23 01 00 00 04,
	// plaintext DE AD BE EF FF FF -> ciphertext 733d9551e976, tag d776ec84bcd60955...
	Fixture fx(AeadKind::AesGcm, StampMode::Encrypt);
	const CanFrame s = fx.seal(frame("123##1DEADBEEF"), 0x1234);
	CHECK(format_can_frame(s) == "123##1733D9551E9763422D776EC84BCD60955");
	Fixture cc(AeadKind::ChaCha20Poly1305, StampMode::Encrypt);
	CHECK(format_can_frame(cc.seal(frame("123##1DEADBEEF"), 0x1234)) ==
	      "123##1730CD4EB515F3422E04D82C2AD0BD1F0");
}

TEST_CASE("worked examples of docs/wire-format.md verify verbatim", "[codec]")
{
	// The doc holds the examples as lines "key ...", "salt ...", ... after "example: <aead>
	// <mode>"; this test reads them from the doc itself so doc and code cannot drift apart.
	std::ifstream in(std::string(SPSEC_DOCS_DIR) + "/wire-format.md");
	REQUIRE(in);
	std::map<std::string, std::string> ex;
	int checked = 0;
	auto run = [&]() {
		if (ex.empty())
			return;
		INFO("example " << ex["example"]);
		std::istringstream hdr(ex["example"]);
		std::string aead_s, mode_s;
		hdr >> aead_s >> mode_s;
		auto kind = parse_aead_name(aead_s);
		REQUIRE(kind);
		REQUIRE((mode_s == "encrypt" || mode_s == "auth-only"));
		const StampMode mode =
		        mode_s == "encrypt" ? StampMode::Encrypt : StampMode::AuthOnly;
		auto aead = Aead::create(*kind, key_from(ex.at("key")));
		REQUIRE(aead);
		const auto salt_v = hex(ex.at("salt"));
		REQUIRE(salt_v.size() == 8);
		StampParams p{*kind, mode, {}};
		std::copy(salt_v.begin(), salt_v.end(), p.seed_salt.begin());
		const std::uint64_t t = std::stoull(ex.at("t"), nullptr, 0);
		const CanFrame plain = frame(ex.at("plain"));
		auto s = seal_frame(**aead, p, plain, t);
		REQUIRE(s);
		CHECK(format_can_frame(*s) == ex.at("secured"));
		// The spaced byte dump of the data field, if given, matches too.
		if (ex.count("bytes") != 0) {
			const auto bytes = hex(ex.at("bytes"));
			CHECK(std::vector<std::uint8_t>(s->data.begin(),
			                                s->data.begin() + s->len) == bytes);
		}
		// When the example derives its key, the derivation matches too.
		if (ex.count("seed") != 0) {
			const auto cs = hex(ex.at("csalt"));
			REQUIRE(cs.size() == 4);
			auto k = derive_comm_key(key_from(ex.at("seed")), key_window(t),
			                         CommSalt{cs[0], cs[1], cs[2], cs[3]});
			REQUIRE(k);
			CHECK(format_hex(k->expose()) == ex.at("key"));
		}
		Aead* raw = aead->get();
		auto o = open_frame(OpenParams{p, 150}, frame(ex.at("secured")), t + 3,
		                    [raw](std::uint64_t) { return raw; });
		REQUIRE(o);
		CHECK(o->plain == plain);
		checked++;
		ex.clear();
	};
	std::string line;
	while (std::getline(in, line)) {
		// Example lines are indented code inside a fenced block: "    key  <value>".
		std::istringstream ls(line);
		std::string word;
		ls >> word;
		if (word == "example:") {
			run();
			std::string rest;
			std::getline(ls, rest);
			ex["example"] = rest;
			continue;
		}
		if (ex.empty())
			continue;
		if (word == "key" || word == "salt" || word == "t" || word == "plain" ||
		    word == "secured" || word == "bytes" || word == "seed" || word == "csalt") {
			std::string rest;
			std::getline(ls, rest);
			const auto b = rest.find_first_not_of(' ');
			const std::string value = b == std::string::npos ? "" : rest.substr(b);
			// "bytes" may span several lines.
			ex[word] = word == "bytes" && ex.count(word) != 0 ? ex[word] + " " + value
			                                                  : value;
		} else if (word == "```") {
			run();
		}
	}
	run();
	CHECK(checked >= 3);
}

TEST_CASE("reason names cover every ABI code", "[codec]")
{
	CHECK(reason_name(SPSEC_R_RX_BAD_TAG) == "rx_bad_tag");
	CHECK(reason_name(SPSEC_R_RX_REPLAY) == "rx_replay");
	CHECK(reason_name(SPSEC_R_TX_TOO_LONG) == "tx_too_long");
	CHECK(reason_name(999) == "unknown");
	std::map<std::string_view, std::uint32_t> seen;
	for (std::uint32_t r = 1; r < SPSEC_R_MAX; r++) {
		if (reason_name(r) == "unknown")
			continue;
		CHECK(reason_description(r) != "unknown reason");
		CHECK(seen.emplace(reason_name(r), r).second);
	}
	// every code of SPSEC_REASONS, and nothing else, has a distinct name
	CHECK(seen.size() == SPSEC_R_COUNT);
	CHECK(reason_name(SPSEC_R_RX_INTERNAL) == "rx_internal");
	CHECK(reason_name(SPSEC_R_TX_INTERNAL) == "tx_internal");
}

TEST_CASE("docs/data-plane.md's reason table is the one SPSEC_REASONS generates", "[codec]")
{
	std::ifstream in(std::string(SPSEC_DOCS_DIR) + "/data-plane.md");
	REQUIRE(in);
	std::stringstream ss;
	ss << in.rdbuf();
	const std::string doc = ss.str();
	const std::string want = reason_table_markdown();
	INFO("expected table (`tests/tools/spsec_dp_driver reasons` prints it):\n" << want);
	CHECK(doc.find(want) != std::string::npos);
}
