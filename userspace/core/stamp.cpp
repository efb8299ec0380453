// SPDX-License-Identifier: Apache-2.0
// The data-plane codec: seal_frame() and open_frame() (contract and check order in stamp.h).
#include "core/stamp.h"

#include "core/reasons.h"

#include <algorithm>
#include <string>

namespace spsec {

namespace {

void put_le(std::uint8_t* p, std::uint64_t v, int n) noexcept
{
	for (int i = 0; i < n; i++)
		p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

tl::unexpected<Rejection> reject(std::uint32_t reason, std::uint64_t t = 0) noexcept
{
	return tl::unexpected(Rejection{reason, t});
}

}  // namespace

Nonce build_nonce(AeadKind kind, std::uint64_t t, std::uint32_t id,
                  const KeySalt& seed_salt) noexcept
{
	Nonce n;
	n.len = static_cast<std::uint8_t>(data_nonce_len(kind));
	put_le(n.bytes.data(), t, 8);
	// Only the low 16 ID bits enter the nonce (reference layout); configuration validation
	// rejects secured 29-bit IDs that share them (spec §4).
	put_le(n.bytes.data() + 8, id & 0xFFFFu, 2);
	for (std::size_t i = 10; i < n.len; i++)
		n.bytes[i] = seed_salt[i - 10];
	return n;
}

Aad build_aad(StampMode mode, std::uint32_t id, std::span<const std::uint8_t> payload) noexcept
{
	Aad a;
	const std::size_t l = std::min(payload.size(), kMaxPayload);
	put_le(a.bytes.data(), id & CAN_EFF_MASK, 4);
	a.bytes[4] = static_cast<std::uint8_t>(l);
	a.len = 5;
	if (mode == StampMode::AuthOnly) {
		std::copy_n(payload.begin(), l, a.bytes.begin() + 5);
		a.len = static_cast<std::uint8_t>(5 + l);
	}
	return a;
}

Result<CanFrame> seal_frame(Aead& aead, const StampParams& params, const CanFrame& plain,
                            std::uint64_t t)
{
	if (plain.error())
		return fail("an error frame cannot be secured");
	if (plain.rtr())
		return fail("a remote request (RTR) frame cannot be secured");
	if (!plain.fd)
		return fail(
		        "a classical CAN frame cannot carry a Security Stamp (send it as CAN FD)");
	const auto g = geometry_for_payload(plain.len);
	if (!g)
		return fail("payload of " + std::to_string(plain.len) +
		            " bytes is too long to secure (at most 54)");
	if (t == 0)
		return fail("T = 0 is not a valid SPsec time");
	if (aead.kind() != params.aead)
		return fail("key is prepared for " + std::string(aead_name(aead.kind())) +
		            ", the network uses " + std::string(aead_name(params.aead)));

	CanFrame out;
	out.can_id = plain.can_id;
	out.flags = plain.flags;
	out.fd = true;
	out.len = g->s;
	std::copy_n(plain.data.begin(), g->l, out.data.begin());
	std::fill_n(out.data.begin() + g->l, g->pad, std::uint8_t{0xFF});
	put_le(out.data.data() + g->s - kStampLen, stamp_word(g->pad, t), 2);

	const std::uint32_t id = plain.id();
	const Nonce nonce = build_nonce(params.aead, t, id, params.seed_salt);
	const Aad aad = build_aad(params.mode, id, plain.payload());
	const std::span<std::uint8_t> text =
	        params.mode == StampMode::Encrypt
	                ? std::span<std::uint8_t>(out.data).first(g->l + g->pad)
	                : std::span<std::uint8_t>();
	const auto tag = std::span<std::uint8_t>(out.data).subspan(g->s - kTagLen).first<kTagLen>();
	if (auto r = aead.seal(nonce.view(), aad.view(), text, tag); !r)
		return tl::unexpected(r.error().with_context("sealing frame"));
	return out;
}

tl::expected<Opened, Rejection> open_frame(const OpenParams& params, const CanFrame& secured,
                                           std::uint64_t local_t, const KeyLookup& keys,
                                           FreshnessTable* fresh)
{
	// 1. Frame kind.
	if (secured.error())
		return reject(SPSEC_R_RX_ERROR_FRAME);
	if (!secured.fd || secured.rtr())
		return reject(SPSEC_R_RX_CLASSIC);

	// 2./3. Geometry.
	const std::size_t s = secured.len;
	if (s < SPSEC_MIN_SECURED_LEN || !canfd_valid_len(s))
		return reject(SPSEC_R_RX_BAD_LENGTH);
	const auto word = static_cast<std::uint16_t>(secured.data[s - kStampLen] |
	                                             (secured.data[s - kStampLen + 1] << 8));
	const std::size_t pad = word >> 12;
	if (pad > s - kStampLen)
		return reject(SPSEC_R_RX_BAD_PAD_COUNT);
	const std::size_t l = s - kStampLen - pad;  // <= 54 because s <= 64

	// 4. Timestamp window.
	const auto ts12 = static_cast<std::uint16_t>(word & 0x0FFFu);
	const std::int32_t d = ts12_delta(ts12, local_t);
	const auto t_opt = reconstruct_t(ts12, local_t);
	if (!t_opt || !within_window(d, params.window))
		return reject(SPSEC_R_RX_OUTSIDE_WINDOW, t_opt.value_or(0));
	const std::uint64_t t = *t_opt;

	// 5. Key of the frame's window.
	Aead* aead = keys ? keys(key_window(t)) : nullptr;
	if (aead == nullptr || aead->kind() != params.stamp.aead)
		return reject(SPSEC_R_RX_NO_KEY, t);

	// 6. Tag. Work on a copy so the caller's frame is untouched whatever happens.
	std::array<std::uint8_t, 64> buf{};
	std::copy_n(secured.data.begin(), l + pad, buf.begin());
	const std::uint32_t id = secured.id();
	const Nonce nonce = build_nonce(params.stamp.aead, t, id, params.stamp.seed_salt);
	const Aad aad =
	        build_aad(params.stamp.mode, id, std::span<const std::uint8_t>(buf).first(l));
	const std::span<std::uint8_t> text = params.stamp.mode == StampMode::Encrypt
	                                             ? std::span<std::uint8_t>(buf).first(l + pad)
	                                             : std::span<std::uint8_t>();
	const auto tag =
	        std::span<const std::uint8_t>(secured.data).subspan(s - kTagLen).first<kTagLen>();
	const Result<bool> ok = aead->open(nonce.view(), aad.view(), text, tag);
	if (!ok || !*ok) {
		// An AEAD error (not a mismatch) cannot happen with the lengths used here; if it
		// does, fail closed under the same reason a data plane would count.
		secure_wipe(buf.data(), buf.size());
		return reject(SPSEC_R_RX_BAD_TAG, t);
	}

	// 7. Padding, now in clear. In authentication-only networks the padding is outside the
	// AAD, so this check is all that pins it.
	for (std::size_t i = l; i < l + pad; i++) {
		if (buf[i] != 0xFF) {
			secure_wipe(buf.data(), buf.size());
			return reject(SPSEC_R_RX_BAD_PAD_BYTES, t);
		}
	}

	// 8. Freshness, advanced only for a frame that passed everything else.
	if (fresh != nullptr) {
		const std::uint32_t key = can_id_key(secured.can_id);
		if (!fresh->fresh(key, t)) {
			secure_wipe(buf.data(), buf.size());
			return reject(SPSEC_R_RX_REPLAY, t);
		}
		fresh->accept(key, t);
	}

	Opened out;
	out.t = t;
	out.plain.can_id = secured.can_id;
	out.plain.flags = secured.flags;
	out.plain.fd = true;
	out.plain.len = static_cast<std::uint8_t>(l);
	std::copy_n(buf.begin(), l, out.plain.data.begin());
	return out;
}

std::string_view reason_name(std::uint32_t reason) noexcept
{
	const ReasonInfo* r = reason_info(reason);
	return r != nullptr ? r->name : "unknown";
}

std::string_view reason_description(std::uint32_t reason) noexcept
{
	const ReasonInfo* r = reason_info(reason);
	return r != nullptr ? r->help : "unknown reason";
}

}  // namespace spsec
