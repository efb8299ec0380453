// SPDX-License-Identifier: Apache-2.0
// HKDF-SHA256 through OpenSSL 3's EVP_KDF "HKDF" in its default extract-and-expand mode.
#include <memory>
#include <string>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "core/aead.h"

namespace spsec {
namespace {

struct KdfFree {
	void operator()(EVP_KDF* k) const noexcept { EVP_KDF_free(k); }
};
struct KdfCtxFree {
	void operator()(EVP_KDF_CTX* c) const noexcept { EVP_KDF_CTX_free(c); }
};

tl::unexpected<Error> kdf_fail(std::string what)
{
	unsigned long code = ERR_get_error();
	if (code != 0) {
		char buf[256];
		ERR_error_string_n(code, buf, sizeof buf);
		what += ": ";
		what += buf;
	}
	ERR_clear_error();
	return fail(std::move(what));
}

// OSSL_PARAM wants a non-const pointer even for inputs it only reads; an empty span may have a
// null data(), which OpenSSL would treat as "not given", so point it at a dummy byte instead.
OSSL_PARAM octets(const char* name, std::span<const std::uint8_t> s)
{
	static std::uint8_t empty = 0;
	void* p = s.empty() ? &empty : const_cast<std::uint8_t*>(s.data());
	return OSSL_PARAM_construct_octet_string(name, p, s.size());
}

}  // namespace

Result<void> hkdf_sha256(std::span<const std::uint8_t> ikm, std::span<const std::uint8_t> salt,
                         std::span<const std::uint8_t> info, std::span<std::uint8_t> out)
{
	constexpr std::size_t kMaxOut = 255 * 32;  // RFC 5869 §2.3: L <= 255 * HashLen
	if (out.empty() || out.size() > kMaxOut)
		return fail("hkdf-sha256: output length " + std::to_string(out.size()) +
		            " out of range (1.." + std::to_string(kMaxOut) + ")");
	static const std::unique_ptr<EVP_KDF, KdfFree> kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
	if (!kdf)
		return kdf_fail("hkdf-sha256: fetching HKDF");
	std::unique_ptr<EVP_KDF_CTX, KdfCtxFree> ctx(EVP_KDF_CTX_new(kdf.get()));
	if (!ctx)
		return kdf_fail("hkdf-sha256: allocating a KDF context");
	char digest[] = "SHA256";
	OSSL_PARAM params[] = {
	        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
	        octets(OSSL_KDF_PARAM_KEY, ikm),
	        octets(OSSL_KDF_PARAM_SALT, salt),
	        octets(OSSL_KDF_PARAM_INFO, info),
	        OSSL_PARAM_construct_end(),
	};
	// The context copies IKM and salt and cleanses them when freed.
	if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) {
		secure_wipe(out.data(), out.size());
		return kdf_fail("hkdf-sha256: deriving");
	}
	return {};
}

Result<Key32> derive_key(const Key32& ikm, std::span<const std::uint8_t> salt)
{
	Key32 out;
	if (auto r = hkdf_sha256(ikm.expose(), salt, {}, out.expose_mut()); !r)
		return tl::unexpected(r.error().with_context("deriving key"));
	return out;
}

}  // namespace spsec
