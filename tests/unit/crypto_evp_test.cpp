// SPDX-License-Identifier: Apache-2.0
// AES-256-GCM and ChaCha20-Poly1305: Wycheproof and GCM-spec vectors, RFC 8439, and randomized
// cross-checks of the Aead against a direct, independent OpenSSL EVP computation (fresh context,
// full 16-byte tag) plus rejection of every single-bit flip.
#include <array>
#include <cstdint>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/evp.h>

#include <catch2/catch.hpp>

#include "core/aead.h"
#include "core/secret.h"
#include "test_util.h"

namespace {

using Bytes = std::vector<std::uint8_t>;
using spsec::AeadKind;

using spsec::test::all_zero;
using spsec::test::check_bit_flips_rejected;
using spsec::test::hex;
using spsec::test::random_bytes;

spsec::Key32 key32(const Bytes& b)
{
	if (b.size() != 32)
		throw std::invalid_argument("key is not 32 bytes");
	return spsec::Key32(std::span<const std::uint8_t, 32>(b.data(), 32));
}

// ---- the independent oracle: legacy EVP cipher objects, a fresh context per call ------------

const EVP_CIPHER* oracle_cipher(AeadKind k)
{
	return k == AeadKind::AesGcm ? EVP_aes_256_gcm() : EVP_chacha20_poly1305();
}

struct CtxFree {
	void operator()(EVP_CIPHER_CTX* c) const noexcept { EVP_CIPHER_CTX_free(c); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

// Encrypts with the full 16-byte tag; nullopt when OpenSSL refuses the parameters.
std::optional<std::pair<Bytes, std::array<std::uint8_t, 16>>>
oracle_seal(AeadKind k, const Bytes& key, const Bytes& iv, const Bytes& aad, const Bytes& pt)
{
	Ctx ctx(EVP_CIPHER_CTX_new());
	int n = 0;
	if (EVP_EncryptInit_ex(ctx.get(), oracle_cipher(k), nullptr, nullptr, nullptr) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_IVLEN, static_cast<int>(iv.size()),
	                        nullptr) != 1 ||
	    EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), iv.data()) != 1)
		return std::nullopt;
	if (!aad.empty() && EVP_EncryptUpdate(ctx.get(), nullptr, &n, aad.data(),
	                                      static_cast<int>(aad.size())) != 1)
		return std::nullopt;
	Bytes ct(pt.size() + 16);
	int len = 0;
	if (!pt.empty() && EVP_EncryptUpdate(ctx.get(), ct.data(), &len, pt.data(),
	                                     static_cast<int>(pt.size())) != 1)
		return std::nullopt;
	if (EVP_EncryptFinal_ex(ctx.get(), ct.data() + len, &n) != 1)
		return std::nullopt;
	ct.resize(pt.size());
	std::array<std::uint8_t, 16> tag{};
	if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, 16, tag.data()) != 1)
		return std::nullopt;
	return std::make_pair(ct, tag);
}

// Decrypts and verifies a tag of any length OpenSSL accepts; nullopt when it refuses the
// parameters, false on a tag mismatch.
std::optional<bool> oracle_open(AeadKind k, const Bytes& key, const Bytes& iv, const Bytes& aad,
                                const Bytes& ct, Bytes tag, Bytes& pt)
{
	Ctx ctx(EVP_CIPHER_CTX_new());
	int n = 0;
	if (EVP_DecryptInit_ex(ctx.get(), oracle_cipher(k), nullptr, nullptr, nullptr) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_IVLEN, static_cast<int>(iv.size()),
	                        nullptr) != 1 ||
	    EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), iv.data()) != 1)
		return std::nullopt;
	if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, static_cast<int>(tag.size()),
	                        tag.data()) != 1)
		return std::nullopt;
	if (!aad.empty() && EVP_DecryptUpdate(ctx.get(), nullptr, &n, aad.data(),
	                                      static_cast<int>(aad.size())) != 1)
		return std::nullopt;
	pt.assign(ct.size() + 16, 0);
	int len = 0;
	if (!ct.empty() && EVP_DecryptUpdate(ctx.get(), pt.data(), &len, ct.data(),
	                                     static_cast<int>(ct.size())) != 1)
		return std::nullopt;
	const bool ok = EVP_DecryptFinal_ex(ctx.get(), pt.data() + len, &n) == 1;
	pt.resize(ct.size());
	return ok;
}

// ---- vector files -------------------------------------------------------------------------

struct GcmVector {
	std::string id;
	bool valid = false;
	Bytes key, iv, aad, msg, ct, tag;
};

std::vector<GcmVector> load_gcm(const std::string& file)
{
	const std::string path = std::string(SPSEC_TEST_DATA_DIR) + "/crypto/" + file;
	std::ifstream in(path);
	if (!in)
		throw std::runtime_error("cannot open " + path);
	std::vector<GcmVector> out;
	std::string line;
	while (std::getline(in, line)) {
		if (line.empty() || line[0] == '#')
			continue;
		std::istringstream ss(line);
		GcmVector v;
		std::string result, key, iv, aad, msg, ct, tag, extra;
		if (!(ss >> v.id >> result >> key >> iv >> aad >> msg >> ct >> tag) ||
		    (ss >> extra))
			throw std::runtime_error("bad vector line in " + file + ": " + line);
		if (result != "valid" && result != "invalid")
			throw std::runtime_error("bad result in " + file + ": " + result);
		v.valid = result == "valid";
		v.key = hex(key);
		v.iv = hex(iv);
		v.aad = hex(aad);
		v.msg = hex(msg);
		v.ct = hex(ct);
		v.tag = hex(tag);
		out.push_back(std::move(v));
	}
	return out;
}

Bytes first8(const Bytes& b)
{
	return Bytes(b.begin(), b.begin() + 8);
}

// Runs one AES-256-GCM vector through the oracle (full tag) and, for 12/16-byte IVs, through the
// Aead (8-byte tag).
void check_gcm_vector(const GcmVector& v)
{
	INFO("vector " << v.id << " iv " << v.iv.size() << " bytes, "
	               << (v.valid ? "valid" : "invalid"));
	REQUIRE(v.key.size() == 32);
	REQUIRE(v.tag.size() == 16);

	// Oracle: the vector as published, full 16-byte tag.
	Bytes pt;
	auto opened = oracle_open(AeadKind::AesGcm, v.key, v.iv, v.aad, v.ct, v.tag, pt);
	if (v.iv.empty()) {
		CHECK_FALSE(opened.has_value());  // OpenSSL refuses a zero-length IV outright
	} else if (v.iv.size() > 128) {
		// OpenSSL 3's GCM provider caps IVs at 128 bytes (GCM_IV_MAX_SIZE); such vectors
		// cannot be checked here, but the refusal itself must be an error, never a pass.
		CHECK_FALSE(opened.has_value());
	} else {
		REQUIRE(opened.has_value());
		CHECK(*opened == v.valid);
		if (v.valid) {
			CHECK(pt == v.msg);
			auto sealed = oracle_seal(AeadKind::AesGcm, v.key, v.iv, v.aad, v.msg);
			REQUIRE(sealed);
			CHECK(sealed->first == v.ct);
			CHECK(Bytes(sealed->second.begin(), sealed->second.end()) == v.tag);
		}
	}

	auto made = spsec::Aead::create(AeadKind::AesGcm, key32(v.key));
	REQUIRE(made);
	auto& aead = **made;
	std::array<std::uint8_t, 8> tag8{};
	Bytes buf = v.msg;
	auto sealed = aead.seal(v.iv, v.aad, buf, tag8);
	if (v.iv.size() != 12 && v.iv.size() != 16) {
		REQUIRE_FALSE(sealed);  // the Aead takes only SPsec's nonce lengths
		CHECK_THAT(sealed.error().context, Catch::Contains("nonce"));
		return;
	}
	REQUIRE(sealed);
	CHECK(buf == v.ct);
	if (v.valid)
		CHECK(Bytes(tag8.begin(), tag8.end()) == first8(v.tag));

	// Open with the vector's first 8 tag bytes. A modified-tag vector whose change lies only in
	// bytes 8..15 verifies under truncation; one touching bytes 0..7 must fail.
	const bool prefix_matches = std::equal(tag8.begin(), tag8.end(), v.tag.begin());
	std::array<std::uint8_t, 8> want{};
	std::copy(v.tag.begin(), v.tag.begin() + 8, want.begin());
	buf = v.ct;
	auto ok = aead.open(v.iv, v.aad, buf, want);
	REQUIRE(ok);
	CHECK(*ok == prefix_matches);
	if (*ok)
		CHECK(buf == v.msg);
	else
		CHECK(all_zero(buf));
	if (v.valid)
		CHECK(prefix_matches);

	// The oracle agrees on the truncated comparison: OpenSSL accepts an 8-byte expected tag.
	if (!v.iv.empty() && v.iv.size() <= 128) {
		auto o8 =
		        oracle_open(AeadKind::AesGcm, v.key, v.iv, v.aad, v.ct, first8(v.tag), pt);
		REQUIRE(o8.has_value());
		CHECK(*o8 == prefix_matches);
	}
}

}  // namespace

TEST_CASE("AES-256-GCM: Wycheproof vectors with 256-bit keys", "[crypto][gcm]")
{
	const auto vectors = load_gcm("aes256_gcm_wycheproof.txt");
	REQUIRE(vectors.size() == 87);
	std::size_t iv12 = 0, iv16 = 0, other = 0, invalid = 0;
	for (const auto& v : vectors) {
		check_gcm_vector(v);
		(v.iv.size() == 12 ? iv12 : v.iv.size() == 16 ? iv16 : other)++;
		invalid += v.valid ? 0 : 1;
	}
	CHECK(iv12 == 48);
	CHECK(iv16 == 19);
	CHECK(other == 20);
	CHECK(invalid == 29);
}

TEST_CASE("AES-256-GCM: McGrew-Viega GCM spec test cases 13-16", "[crypto][gcm]")
{
	const auto vectors = load_gcm("aes256_gcm_spec.txt");
	REQUIRE(vectors.size() == 4);
	for (const auto& v : vectors)
		check_gcm_vector(v);
}

TEST_CASE("AES-256-GCM: NIST CAVP GCMVS cases", "[crypto][gcm]")
{
	const auto vectors = load_gcm("aes256_gcm_nist.txt");
	REQUIRE(vectors.size() == 10);
	for (const auto& v : vectors)
		check_gcm_vector(v);
}

TEST_CASE("AES-GCM: one Aead switches between 12- and 16-byte IVs", "[crypto][gcm]")
{
	// Wycheproof tcId 128 (96-bit IV) and 252 (128-bit IV) share this key.
	const Bytes key = hex("00112233445566778899aabbccddeeff102132435465768798a9bacbdcedfe0f");
	auto made = spsec::Aead::create(AeadKind::AesGcm, key32(key));
	REQUIRE(made);
	for (int round = 0; round < 3; round++) {
		Bytes buf = hex("561008fa07a68f5c61285cd013464eaf");
		std::array<std::uint8_t, 8> tag{};
		REQUIRE((*made)->seal(hex("000000000000000000000000"), {}, buf, tag));
		CHECK(buf == hex("23293e9b07ca7d1b0cae7cc489a973b3"));
		CHECK(Bytes(tag.begin(), tag.end()) == hex("ffffffffffffffff"));
		buf = hex("8d74f1c97243d362577ff376c393d2dc");
		REQUIRE((*made)->seal(hex("00000000000000000000000000000000"), {}, buf, tag));
		CHECK(buf == hex("265c42e2b96ea1de9c24f7182e337390"));
		CHECK(Bytes(tag.begin(), tag.end()) == hex("0000000000000000"));
	}
}

TEST_CASE("ChaCha20-Poly1305: RFC 8439 section 2.8.2 and Appendix A.5", "[crypto][chacha]")
{
	struct Rfc {
		const char* name;
		Bytes key, nonce, aad, pt, ct, tag;
	};
	const Rfc cases[] = {
	        {"2.8.2", hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"),
	         hex("070000004041424344454647"), hex("50515253c0c1c2c3c4c5c6c7"),
	         hex("4c616469657320616e642047656e746c656d656e206f662074686520636c6173"
	             "73206f66202739393a204966204920636f756c64206f6666657220796f75206f"
	             "6e6c79206f6e652074697020666f7220746865206675747572652c2073756e73"
	             "637265656e20776f756c642062652069742e"),
	         hex("d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
	             "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
	             "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
	             "3ff4def08e4b7a9de576d26586cec64b6116"),
	         hex("1ae10b594f09e26a7e902ecbd0600691")},
	        {"A.5", hex("1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0"),
	         hex("000000000102030405060708"), hex("f33388860000000000004e91"),
	         hex("496e7465726e65742d4472616674732061726520647261667420646f63756d65"
	             "6e74732076616c696420666f722061206d6178696d756d206f6620736978206d"
	             "6f6e74687320616e64206d617920626520757064617465642c207265706c6163"
	             "65642c206f72206f62736f6c65746564206279206f7468657220646f63756d65"
	             "6e747320617420616e792074696d652e20497420697320696e617070726f7072"
	             "6961746520746f2075736520496e7465726e65742d4472616674732061732072"
	             "65666572656e6365206d6174657269616c206f7220746f206369746520746865"
	             "6d206f74686572207468616e206173202fe2809c776f726b20696e2070726f67"
	             "726573732e2fe2809d"),
	         hex("64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb2"
	             "4c6cfc18755d43eea09ee94e382d26b0bdb7b73c321b0100d4f03b7f355894cf"
	             "332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c855"
	             "9797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4"
	             "b9166c767b804d46a59b5216cde7a4e99040c5a40433225ee282a1b0a06c523e"
	             "af4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a"
	             "0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a10"
	             "49e617d91d361094fa68f0ff77987130305beaba2eda04df997b714d6c6f2c29"
	             "a6ad5cb4022b02709b"),
	         hex("eead9d67890cbb22392336fea1851f38")},
	};
	for (const auto& c : cases) {
		INFO("RFC 8439 " << c.name);
		// Full 16-byte tag through the oracle, both directions.
		auto sealed = oracle_seal(AeadKind::ChaCha20Poly1305, c.key, c.nonce, c.aad, c.pt);
		REQUIRE(sealed);
		CHECK(sealed->first == c.ct);
		CHECK(Bytes(sealed->second.begin(), sealed->second.end()) == c.tag);
		Bytes pt;
		auto opened = oracle_open(AeadKind::ChaCha20Poly1305, c.key, c.nonce, c.aad, c.ct,
		                          c.tag, pt);
		REQUIRE(opened);
		CHECK(*opened);
		CHECK(pt == c.pt);

		// The Aead: same ciphertext, tag truncated to its first 8 bytes.
		auto made = spsec::Aead::create(AeadKind::ChaCha20Poly1305, key32(c.key));
		REQUIRE(made);
		Bytes buf = c.pt;
		std::array<std::uint8_t, 8> tag8{};
		REQUIRE((*made)->seal(c.nonce, c.aad, buf, tag8));
		CHECK(buf == c.ct);
		CHECK(Bytes(tag8.begin(), tag8.end()) == first8(c.tag));
		auto ok = (*made)->open(c.nonce, c.aad, buf, tag8);
		REQUIRE(ok);
		CHECK(*ok);
		CHECK(buf == c.pt);

		// A wrong last tag byte fails and releases nothing.
		buf = c.ct;
		tag8[7] ^= 0x01;
		ok = (*made)->open(c.nonce, c.aad, buf, tag8);
		REQUIRE(ok);
		CHECK_FALSE(*ok);
		CHECK(all_zero(buf));
	}
}

TEST_CASE("ChaCha20-Poly1305 takes only 12-byte nonces", "[crypto][chacha]")
{
	auto made = spsec::Aead::create(AeadKind::ChaCha20Poly1305, spsec::Key32{});
	REQUIRE(made);
	Bytes buf(3);
	std::array<std::uint8_t, 8> tag{};
	for (std::size_t len : {0u, 8u, 11u, 13u, 16u}) {
		auto r = (*made)->seal(Bytes(len), {}, buf, tag);
		REQUIRE_FALSE(r);
		CHECK_THAT(r.error().context,
		           Catch::Contains("chacha20-poly1305") && Catch::Contains("expected 12"));
	}
}

TEST_CASE("Randomized cross-check of the EVP AEADs against a direct EVP computation",
          "[crypto][crosscheck]")
{
	std::mt19937_64 rng(0xC0FFEE);
	std::size_t cases = 0;
	for (AeadKind kind : {AeadKind::AesGcm, AeadKind::ChaCha20Poly1305}) {
		INFO("AEAD " << spsec::aead_name(kind));
		for (int k = 0; k < 250; k++) {
			const Bytes key = random_bytes(rng, 32);
			auto made = spsec::Aead::create(kind, key32(key));
			REQUIRE(made);
			auto& aead = **made;
			// Several messages per object: the context is re-initialised per call, and
			// GCM switches IV length between calls.
			for (int m = 0; m < 10; m++) {
				const std::size_t nlen =
				        kind == AeadKind::AesGcm && (rng() & 1) ? 16 : 12;
				const Bytes nonce = random_bytes(rng, nlen);
				const Bytes aad = random_bytes(rng, rng() % 40);
				const std::size_t len = (rng() % 8 == 0) ? rng() % 600 : rng() % 65;
				const Bytes pt = random_bytes(rng, len);

				auto want = oracle_seal(kind, key, nonce, aad, pt);
				REQUIRE(want);
				Bytes buf = pt;
				std::array<std::uint8_t, 8> tag{};
				REQUIRE(aead.seal(nonce, aad, buf, tag));
				REQUIRE(buf == want->first);
				REQUIRE(std::equal(tag.begin(), tag.end(), want->second.begin()));

				auto ok = aead.open(nonce, aad, buf, tag);
				REQUIRE(ok);
				REQUIRE(*ok);
				REQUIRE(buf == pt);
				cases++;
			}
		}
	}
	CHECK(cases == 5000);
}

TEST_CASE("EVP AEADs reject every single-bit flip of ciphertext, tag, AAD and nonce",
          "[crypto][crosscheck]")
{
	std::mt19937_64 rng(4242);
	std::size_t rejected = 0;
	for (AeadKind kind : {AeadKind::AesGcm, AeadKind::ChaCha20Poly1305}) {
		for (int round = 0; round < 10; round++) {
			INFO("AEAD " << spsec::aead_name(kind) << " round " << round);
			const Bytes key = random_bytes(rng, 32);
			auto made = spsec::Aead::create(kind, key32(key));
			REQUIRE(made);
			auto& aead = **made;
			const std::size_t nlen = kind == AeadKind::AesGcm && round % 2 ? 16 : 12;
			const Bytes nonce = random_bytes(rng, nlen);
			const Bytes aad = random_bytes(rng, 5 + static_cast<std::size_t>(round));
			const Bytes pt = random_bytes(rng, static_cast<std::size_t>(round) * 6);
			Bytes ct = pt;
			std::array<std::uint8_t, 8> tag{};
			REQUIRE(aead.seal(nonce, aad, ct, tag));

			// Every bit flip refused, and the object still works after all those
			// failures.
			rejected += check_bit_flips_rejected(aead, nonce, aad, ct, tag, pt);
		}
	}
	CHECK(rejected > 4000);
}
