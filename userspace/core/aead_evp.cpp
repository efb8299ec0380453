// SPDX-License-Identifier: Apache-2.0
// AES-256-GCM and ChaCha20-Poly1305 through OpenSSL 3 EVP.
//
// Each cipher is fetched once per process; each Aead object keys one EVP_CIPHER_CTX at creation and
// per message only re-initialises the IV and direction (key == NULL keeps the key schedule).
//
// Truncated tags: on seal we read the first 8 bytes of the full tag (EVP_CTRL_AEAD_GET_TAG with
// length 8 copies a prefix). On open we hand OpenSSL an 8-byte expected tag; both providers in
// OpenSSL 3.0 then compare exactly that many bytes with CRYPTO_memcmp (GCM: CRYPTO_gcm128_finish
// with ctx->taglen; ChaCha20-Poly1305: CRYPTO_memcmp over ctx->tag_len). The unit tests pin this:
// every flip of each of the 64 tag bits is rejected and the 8-byte prefix of a full EVP tag
// verifies.
#include <climits>
#include <cstring>
#include <memory>
#include <string>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "core/aead.h"

namespace spsec {
namespace {

struct CipherFree {
	void operator()(EVP_CIPHER* c) const noexcept { EVP_CIPHER_free(c); }
};
struct CipherCtxFree {
	void operator()(EVP_CIPHER_CTX* c) const noexcept { EVP_CIPHER_CTX_free(c); }
};
using CipherPtr = std::unique_ptr<EVP_CIPHER, CipherFree>;
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

// The error text of OpenSSL's queue (never contains key material), and clears the queue.
tl::unexpected<Error> openssl_fail(std::string_view what)
{
	std::string msg(what);
	unsigned long code = ERR_get_error();
	if (code != 0) {
		char buf[256];
		ERR_error_string_n(code, buf, sizeof buf);
		msg += ": ";
		msg += buf;
	}
	ERR_clear_error();
	return fail(std::move(msg));
}

// Fetched once; a failed fetch stays null and every create() reports it.
const EVP_CIPHER* cipher_for(AeadKind kind) noexcept
{
	static const CipherPtr gcm(EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr));
	static const CipherPtr chacha(EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr));
	return kind == AeadKind::AesGcm ? gcm.get() : chacha.get();
}

class EvpAead final : public Aead {
public:
	EvpAead(AeadKind kind, CipherCtxPtr ctx) noexcept : kind_(kind), ctx_(std::move(ctx)) {}

	AeadKind kind() const noexcept override { return kind_; }

	Result<void> seal(std::span<const std::uint8_t> nonce, std::span<const std::uint8_t> aad,
	                  std::span<std::uint8_t> inout,
	                  std::span<std::uint8_t, kTagLen> tag) override
	{
		if (auto r = start(nonce, aad, inout.size(), 1); !r)
			return tl::unexpected(r.error());
		int outl = 0;
		if (!inout.empty() &&
		    EVP_CipherUpdate(ctx_.get(), inout.data(), &outl, inout.data(),
		                     static_cast<int>(inout.size())) != 1)
			return openssl_fail(std::string(aead_name(kind_)) + ": encrypting");
		std::uint8_t fin[16];
		if (EVP_CipherFinal_ex(ctx_.get(), fin, &outl) != 1)
			return openssl_fail(std::string(aead_name(kind_)) +
			                    ": finishing encryption");
		if (EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_AEAD_GET_TAG,
		                        static_cast<int>(kTagLen), tag.data()) != 1)
			return openssl_fail(std::string(aead_name(kind_)) + ": reading the tag");
		return {};
	}

	Result<bool> open(std::span<const std::uint8_t> nonce, std::span<const std::uint8_t> aad,
	                  std::span<std::uint8_t> inout,
	                  std::span<const std::uint8_t, kTagLen> tag) override
	{
		if (auto r = start(nonce, aad, inout.size(), 0); !r)
			return tl::unexpected(r.error());
		// The ctrl takes a non-const pointer; give it a copy rather than casting away
		// const.
		std::uint8_t expected[kTagLen];
		std::memcpy(expected, tag.data(), kTagLen);
		if (EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_AEAD_SET_TAG,
		                        static_cast<int>(kTagLen), expected) != 1)
			return openssl_fail(std::string(aead_name(kind_)) + ": setting the tag");
		int outl = 0;
		if (!inout.empty() &&
		    EVP_CipherUpdate(ctx_.get(), inout.data(), &outl, inout.data(),
		                     static_cast<int>(inout.size())) != 1) {
			secure_wipe(inout.data(), inout.size());
			return openssl_fail(std::string(aead_name(kind_)) + ": decrypting");
		}
		std::uint8_t fin[16];
		if (EVP_CipherFinal_ex(ctx_.get(), fin, &outl) != 1) {
			// Tag mismatch: the plaintext of a forged message must not escape.
			secure_wipe(inout.data(), inout.size());
			ERR_clear_error();
			return false;
		}
		return true;
	}

private:
	// Checks lengths, then re-initialises the context for one message: IV length (GCM may
	// switch between 12 and 16), IV and direction, then feeds the AAD.
	Result<void> start(std::span<const std::uint8_t> nonce, std::span<const std::uint8_t> aad,
	                   std::size_t text_len, int enc)
	{
		const bool len_ok = kind_ == AeadKind::AesGcm
		                            ? (nonce.size() == 12 || nonce.size() == 16)
		                            : nonce.size() == 12;
		if (!len_ok)
			return fail(std::string(aead_name(kind_)) + ": nonce of " +
			            std::to_string(nonce.size()) + " bytes (expected " +
			            (kind_ == AeadKind::AesGcm ? "12 or 16)" : "12)"));
		if (aad.size() > INT_MAX || text_len > INT_MAX)
			return fail(std::string(aead_name(kind_)) +
			            ": message or AAD longer than 2 GiB");
		if (nonce.size() != iv_len_) {
			// For a 16-byte IV OpenSSL derives the pre-counter block with GHASH (SP
			// 800-38D).
			if (EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_AEAD_SET_IVLEN,
			                        static_cast<int>(nonce.size()), nullptr) != 1)
				return openssl_fail(std::string(aead_name(kind_)) +
				                    ": setting IV length");
			iv_len_ = nonce.size();
		}
		if (EVP_CipherInit_ex2(ctx_.get(), nullptr, nullptr, nonce.data(), enc, nullptr) !=
		    1)
			return openssl_fail(std::string(aead_name(kind_)) + ": setting the nonce");
		int outl = 0;
		if (!aad.empty() && EVP_CipherUpdate(ctx_.get(), nullptr, &outl, aad.data(),
		                                     static_cast<int>(aad.size())) != 1)
			return openssl_fail(std::string(aead_name(kind_)) + ": authenticating AAD");
		return {};
	}

	AeadKind kind_;
	CipherCtxPtr ctx_;
	std::size_t iv_len_ = 12;  // both ciphers' default IV length
};

}  // namespace

namespace detail {

Result<std::unique_ptr<Aead>> make_evp_aead(AeadKind kind, const Key32& key)
{
	if (kind != AeadKind::AesGcm && kind != AeadKind::ChaCha20Poly1305)
		return fail("make_evp_aead: not an OpenSSL AEAD");
	const EVP_CIPHER* cipher = cipher_for(kind);
	if (cipher == nullptr)
		return openssl_fail(std::string(aead_name(kind)) + ": fetching the cipher");
	CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
	if (!ctx)
		return openssl_fail(std::string(aead_name(kind)) + ": allocating a cipher context");
	// OpenSSL copies the key into its own schedule (cleansed by EVP_CIPHER_CTX_free); we hold
	// no copy of our own. Direction is set again per message.
	if (EVP_CipherInit_ex2(ctx.get(), cipher, key.expose().data(), nullptr, 1, nullptr) != 1)
		return openssl_fail(std::string(aead_name(kind)) + ": keying the cipher");
	return std::unique_ptr<Aead>(std::make_unique<EvpAead>(kind, std::move(ctx)));
}

}  // namespace detail
}  // namespace spsec
