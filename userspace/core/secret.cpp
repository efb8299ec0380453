// SPDX-License-Identifier: Apache-2.0
#include "core/secret.h"

#include <openssl/crypto.h>

namespace spsec {

void secure_wipe(void* p, std::size_t n) noexcept
{
	if (p != nullptr && n != 0)
		OPENSSL_cleanse(p, n);
}

bool ct_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) noexcept
{
	// Lengths are public (tag and key sizes are fixed by the protocol); only contents are
	// secret.
	if (a.size() != b.size())
		return false;
	if (a.empty())
		return true;
	return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace spsec
