// SPDX-License-Identifier: Apache-2.0
// The three AEADs of SPsec behind one interface (spec §4).
//
// AES-256-GCM and ChaCha20-Poly1305 go through OpenSSL 3 EVP; the cipher is fetched once and the
// context reused per Aead object. Ascon-AEAD128 (NIST SP 800-232) is implemented in this project
// (ascon.h) and keyed with bytes 16..31 of the 32-byte SPsec key.
//
// SPsec truncates every tag to its first 8 bytes. open() compares tags in constant time and
// releases nothing of a message that fails: on failure `inout` is overwritten with zeros.
//
// An Aead object is not thread-safe (it owns a reusable EVP context); make one per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "core/secret.h"
#include "spsec/abi.h"
#include "spsec/result.h"

namespace spsec {

enum class AeadKind : std::uint32_t {
	AesGcm = SPSEC_AEAD_AES256GCM,
	ChaCha20Poly1305 = SPSEC_AEAD_CHACHA20POLY1305,
	Ascon = SPSEC_AEAD_ASCON128,
};

// "aes-gcm", "chacha20-poly1305", "ascon" — the names used in config files and on the CLI.
[[nodiscard]] std::string_view aead_name(AeadKind kind) noexcept;
// Parses one of the names above; the error names the accepted values.
[[nodiscard]] Result<AeadKind> parse_aead_name(std::string_view name);

// Nonce length of SPsec data-plane frames: 12 for AES-GCM and ChaCha20-Poly1305, 16 for Ascon.
[[nodiscard]] constexpr std::size_t data_nonce_len(AeadKind kind) noexcept
{
	return kind == AeadKind::Ascon ? 16 : 12;
}

inline constexpr std::size_t kTagLen = 8;

class Aead {
public:
	virtual ~Aead() = default;
	Aead(const Aead&) = delete;
	Aead& operator=(const Aead&) = delete;

	// Keys a new AEAD context. Errors: OpenSSL refused to fetch or initialise the cipher.
	[[nodiscard]] static Result<std::unique_ptr<Aead>> create(AeadKind kind, const Key32& key);

	[[nodiscard]] virtual AeadKind kind() const noexcept = 0;

	// Encrypts `inout` in place and writes the first 8 bytes of the tag to `tag`. `inout` may
	// be empty (authentication only). Nonce lengths: AES-GCM any of 12 or 16 (16 is processed
	// by GHASH as GCM specifies for non-96-bit IVs), ChaCha20-Poly1305 12, Ascon 16. Errors:
	// wrong nonce length, OpenSSL failure.
	[[nodiscard]] virtual Result<void> seal(std::span<const std::uint8_t> nonce,
	                                        std::span<const std::uint8_t> aad,
	                                        std::span<std::uint8_t> inout,
	                                        std::span<std::uint8_t, kTagLen> tag) = 0;

	// Verifies the 8-byte `tag` in constant time and decrypts `inout` in place. Returns false
	// (and zeroes `inout`) when the tag does not match; an Error only for misuse (wrong nonce
	// length) or an OpenSSL failure.
	[[nodiscard]] virtual Result<bool> open(std::span<const std::uint8_t> nonce,
	                                        std::span<const std::uint8_t> aad,
	                                        std::span<std::uint8_t> inout,
	                                        std::span<const std::uint8_t, kTagLen> tag) = 0;

protected:
	Aead() = default;
};

namespace detail {
// The OpenSSL-backed AEADs (AesGcm, ChaCha20Poly1305); use Aead::create. Errors: the kind is not
// one of these two, OpenSSL refused to fetch or initialise the cipher.
[[nodiscard]] Result<std::unique_ptr<Aead>> make_evp_aead(AeadKind kind, const Key32& key);
}  // namespace detail

// HKDF-SHA256 (RFC 5869, extract then expand) of `ikm` with `salt` and `info`, output `out.size()`
// bytes (at most 255 * 32). Errors: OpenSSL failure, output too long.
[[nodiscard]] Result<void> hkdf_sha256(std::span<const std::uint8_t> ikm,
                                       std::span<const std::uint8_t> salt,
                                       std::span<const std::uint8_t> info,
                                       std::span<std::uint8_t> out);

// The SPsec derivation: HKDF-SHA256 with empty info and L = 32 (spec §3).
[[nodiscard]] Result<Key32> derive_key(const Key32& ikm, std::span<const std::uint8_t> salt);

// Fetches every OpenSSL algorithm SPsec uses (HKDF, SHA-256, AES-256-GCM, ChaCha20-Poly1305) and
// runs each once on a throwaway all-zero key, so that no later call pays OpenSSL's lazy first-use
// cost (provider method lookup and caching: milliseconds natively, hundreds of ms under
// emulation). spsecd calls it at start-up: that cost must never fall inside a Parameter
// Authentication round trip or a frame's handling. Idempotent. Errors: OpenSSL cannot fetch or
// run one of them (the error names which).
[[nodiscard]] Result<void> prepare_crypto();

}  // namespace spsec
