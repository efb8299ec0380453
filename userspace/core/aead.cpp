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

}  // namespace spsec
