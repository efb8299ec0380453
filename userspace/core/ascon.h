// SPDX-License-Identifier: Apache-2.0
// Ascon-AEAD128 as standardised in NIST SP 800-232 (final), in portable C++.
//
// SP 800-232 differs from the Ascon-128 v1.2 submission: 128-bit rate, little-endian byte order
// within the 64-bit lanes, and the IV 0x00001000808c0001. Validated against the NIST/ascon-c
// LWC_AEAD_KAT_128_128.txt (tests/data/crypto/).
//
// The general API below takes any AD and message length and a full 16-byte tag; SPsec's Aead
// adapter (make_aead) keys it with bytes 16..31 of the 32-byte key, takes a 16-byte nonce and
// truncates the tag to 8 bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "core/aead.h"
#include "core/secret.h"
#include "spsec/result.h"

namespace spsec::ascon {

inline constexpr std::size_t kKeyLen = 16;
inline constexpr std::size_t kNonceLen = 16;
inline constexpr std::size_t kFullTagLen = 16;

// Encrypts `in` into `out` (same size; they may be the same buffer, but must not otherwise
// overlap) and writes the full 16-byte tag. Precondition: out.size() == in.size() (checked:
// a mismatch writes nothing and returns false).
[[nodiscard]] bool encrypt(std::span<const std::uint8_t, kKeyLen> key,
                           std::span<const std::uint8_t, kNonceLen> nonce,
                           std::span<const std::uint8_t> ad, std::span<const std::uint8_t> in,
                           std::span<std::uint8_t> out,
                           std::span<std::uint8_t, kFullTagLen> tag) noexcept;

// Decrypts `in` into `out` (same rules as encrypt) and verifies `tag`, which may be any prefix
// of the full tag (1..16 bytes; SPsec uses 8), in constant time. Returns false when the tag does
// not match, the tag length is out of range or the sizes differ; `out` is then all zeros.
[[nodiscard]] bool decrypt(std::span<const std::uint8_t, kKeyLen> key,
                           std::span<const std::uint8_t, kNonceLen> nonce,
                           std::span<const std::uint8_t> ad, std::span<const std::uint8_t> in,
                           std::span<std::uint8_t> out, std::span<const std::uint8_t> tag) noexcept;

// The SPsec adapter behind Aead::create(AeadKind::Ascon, key): Ascon key = key[16..31], 16-byte
// nonce, 8-byte tag. It keeps a copy of the 16 key bytes and wipes it on destruction.
[[nodiscard]] Result<std::unique_ptr<Aead>> make_aead(const Key32& key);

}  // namespace spsec::ascon
