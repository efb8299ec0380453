// SPDX-License-Identifier: Apache-2.0
#include "bpf/key_material.h"

#include <array>
#include <string>

#include "crypto/spsec_aead_native.h"

namespace spsec {

namespace {

constexpr std::uint64_t kMaxWindow = ~std::uint64_t{0} >> SPSEC_WINDOW_SHIFT;

bool known_aead(AeadKind kind) noexcept
{
	return kind == AeadKind::AesGcm || kind == AeadKind::ChaCha20Poly1305 ||
	       kind == AeadKind::Ascon;
}

}  // namespace

Result<void> prepare_key_slot(AeadKind kind, const Key32& key,
                              std::span<const std::uint8_t, 8> salt, std::uint64_t window,
                              spsec_key_slot& out)
{
	wipe_key_slot(out);
	if (!known_aead(kind))
		return fail("preparing key slot: unknown AEAD " +
		            std::to_string(static_cast<std::uint32_t>(kind)));
	if (window > kMaxWindow)
		return fail("preparing key slot: key window " + std::to_string(window) +
		            " beyond the largest window " + std::to_string(kMaxWindow));

	const auto k = key.expose();
	out.window = window;
	out.aead = static_cast<std::uint32_t>(kind);
	for (std::size_t i = 0; i < salt.size(); i++)
		out.salt[i] = salt[i];
	for (std::size_t i = 0; i < k.size(); i++)
		out.key[i] = k[i];

	if (kind == AeadKind::AesGcm) {
		spsec_aes256_expand_key(out.key, out.aes_rk);
		std::array<std::uint8_t, 16> h{};  // E_K(0^128)
		spsec_aes256_encrypt_native(out.aes_rk, h.data());
		for (std::size_t i = 0; i < h.size(); i++)
			out.gcm_h[i] = h[i];
		spsec_gcm_build_table(out.gcm_h, out.gcm_table);
		secure_wipe(h.data(), h.size());
	}
	out.live = 1;
	return {};
}

void wipe_key_slot(spsec_key_slot& slot) noexcept
{
	secure_wipe(&slot, sizeof(slot));
}

}  // namespace spsec
