// SPDX-License-Identifier: Apache-2.0
// AEAD names and the factory; the ciphers live in aead_evp.cpp (OpenSSL) and ascon.cpp.
#include "core/aead.h"

#include <string>

#include "core/ascon.h"

namespace spsec {

std::string_view aead_name(AeadKind kind) noexcept
{
	switch (kind) {
	case AeadKind::AesGcm:
		return "aes-gcm";
	case AeadKind::ChaCha20Poly1305:
		return "chacha20-poly1305";
	case AeadKind::Ascon:
		return "ascon";
	}
	return "unknown";
}

Result<AeadKind> parse_aead_name(std::string_view name)
{
	for (AeadKind k : {AeadKind::AesGcm, AeadKind::ChaCha20Poly1305, AeadKind::Ascon}) {
		if (name == aead_name(k))
			return k;
	}
	return fail("unknown AEAD \"" + std::string(name) +
	            "\" (accepted: aes-gcm, chacha20-poly1305, ascon)");
}

Result<std::unique_ptr<Aead>> Aead::create(AeadKind kind, const Key32& key)
{
	switch (kind) {
	case AeadKind::AesGcm:
	case AeadKind::ChaCha20Poly1305:
		return detail::make_evp_aead(kind, key);
	case AeadKind::Ascon:
		return ascon::make_aead(key);
	}
	return fail("unknown AEAD kind " + std::to_string(static_cast<std::uint32_t>(kind)));
}

Result<void> prepare_crypto()
{
	// All-zero key, salt and message: nothing secret passes through here.
	const Key32 zero;
	if (auto k = derive_key(zero, {}); !k)
		return tl::unexpected(k.error().with_context("preparing OpenSSL"));
	for (AeadKind kind : {AeadKind::AesGcm, AeadKind::ChaCha20Poly1305}) {
		auto a = Aead::create(kind, zero);
		if (!a)
			return tl::unexpected(a.error().with_context("preparing OpenSSL"));
		std::uint8_t nonce[12] = {};
		std::uint8_t text[1] = {};
		std::uint8_t tag[kTagLen] = {};
		if (auto r = (*a)->seal(nonce, {}, text, tag); !r)
			return tl::unexpected(r.error().with_context("preparing OpenSSL"));
		if (auto r = (*a)->open(nonce, {}, text, tag); !r || !*r)
			return fail("preparing OpenSSL: " + std::string(aead_name(kind)) +
			            " does not open what it sealed");
	}
	return {};
}

}  // namespace spsec
