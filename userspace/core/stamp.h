// SPDX-License-Identifier: Apache-2.0
// The SPsec data-plane codec (spec §4): pad, stamp and seal a plain CAN FD frame; check, verify,
// decrypt and strip a secured one. This is the oracle the BPF data plane is tested against, verdict
// for verdict: every rejection carries the data plane's reason code (SPSEC_R_RX_*, abi.h).
//
// Geometry, for L application bytes (0..54):
//   S   = smallest of {12,16,20,24,32,48,64} with S >= L + 10
//   pad = S - L - 10 (0..15)
//   [0 .. L-1] payload | [L .. L+pad-1] 0xFF | [S-10 .. S-9] LE16((pad << 12) | (T & 0xFFF))
//   | [S-8 .. S-1] first 8 bytes of the AEAD tag
//
// The CAN ID that enters nonce and AAD is the ID bits only (CanFrame::id(): can_id & CAN_EFF_MASK
// for 29-bit IDs, & CAN_SFF_MASK for 11-bit IDs), as the reference implementation does with
// `address & 0x1FFFFFFF` (hso-esk/spsec_participant session_appdata.c). The EFF flag is not
// authenticated: 11-bit 0x123 and 29-bit 0x00000123 produce the same nonce and AAD.
//   nonce = LE64(T) || LE16(id & 0xFFFF) || seed_salt[0..1]     12 bytes (AES-GCM, ChaCha20)
//         = LE64(T) || LE16(id & 0xFFFF) || seed_salt[0..5]     16 bytes (Ascon)
//   AAD   = LE32(id) || u8(L)                                    encrypting networks
//         = LE32(id) || u8(L) || payload[0..L-1]                 authentication-only networks
// DLC, BRS and ESI are not authenticated; open_frame() copies `flags` to the plain frame.
//
// Example (docs/wire-format.md has the full worked examples, checked by a unit test):
//   plain   "123##1DEADBEEF" (L = 4) at T = 0x1234 -> S = 16, pad = 2,
//   secured "123##1" + 4 B ciphertext + FF FF (encrypted) + "34 22" + 8 B tag
//   (stamp word = (2 << 12) | 0x234 = 0x2234, little-endian 34 22).
//
// open_frame() check order (the BPF data plane mirrors it exactly; first failure wins):
//   1. frame kind: error frame            -> SPSEC_R_RX_ERROR_FRAME
//                  classical or RTR frame -> SPSEC_R_RX_CLASSIC
//   2. length: S < 12 or S not a valid CAN FD length         -> SPSEC_R_RX_BAD_LENGTH
//   3. pad (stamp word bits 12..15) > S - 10                  -> SPSEC_R_RX_BAD_PAD_COUNT
//      (L = S - 10 - pad is then <= 54; a non-minimal pad is accepted, spec §4, since L is
//      authenticated)
//   4. reconstruct T from the 12 bits (timestamp.h); |d| > W, or T would be <= 0
//                                                             -> SPSEC_R_RX_OUTSIDE_WINDOW
//   5. key lookup for window T >> 24 returns none, or a key of another AEAD
//                                                             -> SPSEC_R_RX_NO_KEY
//   6. AEAD open with the 8-byte tag, constant time           -> SPSEC_R_RX_BAD_TAG
//      (an internal AEAD failure also reports BAD_TAG: fail closed)
//   7. padding bytes (after decryption) not all 0xFF          -> SPSEC_R_RX_BAD_PAD_BYTES
//   8. freshness (only when a table is given): T not strictly greater than the last accepted T
//      of this ID (can_id_key)                                -> SPSEC_R_RX_REPLAY
//   then the table is advanced to T and the plain frame returned.
// Nothing of a rejected frame is released: the Rejection holds only the reason and T.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string_view>

#include "core/aead.h"
#include "core/can_frame.h"
#include "core/key_schedule.h"
#include "core/timestamp.h"
#include "spsec/abi.h"
#include "spsec/result.h"

namespace spsec {

inline constexpr std::size_t kMaxPayload = SPSEC_MAX_PAYLOAD;  // 54
inline constexpr std::size_t kStampLen = SPSEC_STAMP_LEN;      // 10

enum class StampMode : std::uint32_t {
	Encrypt = SPSEC_MODE_ENCRYPT,
	AuthOnly = SPSEC_MODE_AUTH_ONLY,
};

struct Geometry {
	std::uint8_t l = 0;    // application bytes
	std::uint8_t s = 0;    // secured frame length
	std::uint8_t pad = 0;  // 0xFF bytes after the payload
};

// Geometry for L application bytes, or nullopt when L > 54.
[[nodiscard]] constexpr std::optional<Geometry> geometry_for_payload(std::size_t l) noexcept
{
	if (l > kMaxPayload)
		return std::nullopt;
	const std::uint8_t s = canfd_round_up_len(l + kStampLen < 12 ? 12 : l + kStampLen);
	return Geometry{static_cast<std::uint8_t>(l), s,
	                static_cast<std::uint8_t>(s - l - kStampLen)};
}

// The 16-bit stamp word at [S-10 .. S-9], little-endian on the wire.
[[nodiscard]] constexpr std::uint16_t stamp_word(std::uint8_t pad, std::uint64_t t) noexcept
{
	return static_cast<std::uint16_t>((static_cast<unsigned>(pad & 0x0Fu) << 12) |
	                                  static_cast<unsigned>(t & 0x0FFFu));
}

// Nonce and AAD, built exactly as on the wire.
struct Nonce {
	std::array<std::uint8_t, 16> bytes{};
	std::uint8_t len = 0;  // 12 or 16
	[[nodiscard]] std::span<const std::uint8_t> view() const noexcept
	{
		return std::span<const std::uint8_t>(bytes).first(len);
	}
};
[[nodiscard]] Nonce build_nonce(AeadKind kind, std::uint64_t t, std::uint32_t id,
                                const KeySalt& seed_salt) noexcept;

struct Aad {
	std::array<std::uint8_t, 5 + kMaxPayload> bytes{};
	std::uint8_t len = 0;  // 5, or 5 + L in authentication-only mode
	[[nodiscard]] std::span<const std::uint8_t> view() const noexcept
	{
		return std::span<const std::uint8_t>(bytes).first(len);
	}
};
// `id` is the ID bits (CanFrame::id()); `payload` is appended in AuthOnly mode only and must be
// at most 54 bytes (longer input is truncated to 54; seal/open never pass more).
[[nodiscard]] Aad build_aad(StampMode mode, std::uint32_t id,
                            std::span<const std::uint8_t> payload) noexcept;

// The network's data-plane settings.
struct StampParams {
	AeadKind aead = AeadKind::AesGcm;
	StampMode mode = StampMode::Encrypt;
	KeySalt seed_salt{};  // the Seed Key's pre-shared salt (public)
};

// Secures `plain` with T. The key (`aead`) must be the Communication Key of window T >> 24; the
// caller picks it. The result keeps can_id and flags, is CAN FD, len = S.
// Errors: not a CAN FD frame (classical frames cannot carry a stamp), RTR or error frame,
// L > 54, T = 0, the Aead is not of params.aead, an AEAD failure.
[[nodiscard]] Result<CanFrame> seal_frame(Aead& aead, const StampParams& params,
                                          const CanFrame& plain, std::uint64_t t);

// Key lookup for open_frame(): the AEAD keyed with the Communication Key of `window`, or nullptr
// when no live key belongs to that window (key_schedule.h live_windows()).
using KeyLookup = std::function<Aead*(std::uint64_t window)>;

struct OpenParams {
	StampParams stamp;
	std::uint32_t window = kDefaultWindow;  // acceptance window W, ticks (<= 2047)
};

struct Opened {
	CanFrame plain;       // can_id and flags of the secured frame, len = L, decrypted payload
	std::uint64_t t = 0;  // the frame's reconstructed T
};

struct Rejection {
	std::uint32_t reason = 0;  // SPSEC_R_RX_* (abi.h), the data plane's counter index
	std::uint64_t t = 0;       // reconstructed T when step 4 was reached, else 0
};

// Checks and opens a secured frame received at local synchronized time `local_t`, in the order
// documented above. `fresh` may be null (no per-ID freshness). Never throws; never returns any
// byte of a frame that failed.
[[nodiscard]] tl::expected<Opened, Rejection>
open_frame(const OpenParams& params, const CanFrame& secured, std::uint64_t local_t,
           const KeyLookup& keys, FreshnessTable* fresh = nullptr);

// Stable short name of any SPSEC_R_* code ("rx_bad_tag", "tx_ok", ...), "unknown" otherwise.
[[nodiscard]] std::string_view reason_name(std::uint32_t reason) noexcept;
// One-line English description of a reason ("AEAD tag mismatch", ...).
[[nodiscard]] std::string_view reason_description(std::uint32_t reason) noexcept;

}  // namespace spsec
