// SPDX-License-Identifier: Apache-2.0
// spsec_bench_codec: ns per seal_frame / open_frame of a 48-byte payload (encrypting mode) for each
// AEAD, side by side with raw OpenSSL EVP doing the same AEAD work in the same run (one reused
// context, IV set per call, 5-byte AAD, 54 bytes = payload + padding, 8-byte tag), so the ratio
// shows the codec's own overhead. Targets: codec/EVP <= 1.25 (AES-GCM, ChaCha20-Poly1305);
// Ascon codec / AES-GCM codec <= 1.5.
//
// Each figure is the best of several rounds (the machine is shared; the minimum is the least
// disturbed). Output lines: "BENCH <name> <value> <unit>".
//
// usage: spsec_bench_codec [iterations per round, default 200000]
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>

#include <openssl/evp.h>

#include "core/aead.h"
#include "core/stamp.h"

using namespace spsec;

namespace {

constexpr int kRounds = 7;
constexpr std::size_t kPayload = 48;
// A sink the optimiser cannot see through.
volatile std::uint8_t g_sink;

template <class F> double ns_per_op(std::size_t iters, F&& body)
{
	const auto t0 = std::chrono::steady_clock::now();
	for (std::size_t i = 0; i < iters; i++)
		body(i);
	const auto t1 = std::chrono::steady_clock::now();
	return std::chrono::duration<double, std::nano>(t1 - t0).count() /
	       static_cast<double>(iters);
}

// Runs the measurements round-robin, kRounds times, and keeps each one's minimum: codec and EVP
// then see the same machine load, which matters on a shared machine.
template <std::size_t N>
std::array<double, N> interleaved(std::size_t iters,
                                  const std::array<std::function<void(std::size_t)>, N>& bodies)
{
	std::array<double, N> best;
	best.fill(1e30);
	for (int r = 0; r < kRounds; r++) {
		for (std::size_t b = 0; b < N; b++)
			best[b] = std::min(best[b], ns_per_op(iters, bodies[b]));
	}
	return best;
}

void report(const std::string& name, double value, const char* unit)
{
	std::printf("BENCH %s %.1f %s\n", name.c_str(), value, unit);
}

void report_ratio(const std::string& name, double value, double target)
{
	std::printf("BENCH %s %.3f ratio (target <= %.2f: %s)\n", name.c_str(), value, target,
	            value <= target ? "met" : "MISSED");
}

struct EvpCtxFree {
	void operator()(EVP_CIPHER_CTX* c) const noexcept { EVP_CIPHER_CTX_free(c); }
};

// Raw EVP: the same AEAD work as one frame, on a reused context with the key set once.
class RawEvp {
public:
	RawEvp(AeadKind kind, const std::array<std::uint8_t, 32>& key, bool enc)
	    : ctx_(EVP_CIPHER_CTX_new())
	{
		const EVP_CIPHER* c =
		        kind == AeadKind::AesGcm ? EVP_aes_256_gcm() : EVP_chacha20_poly1305();
		if (!ctx_ || EVP_CipherInit_ex(ctx_.get(), c, nullptr, key.data(), nullptr,
		                               enc ? 1 : 0) != 1) {
			std::fprintf(stderr, "EVP init failed\n");
			std::exit(1);
		}
	}
	// Encrypts text in place, writes 8 tag bytes.
	bool seal(const std::uint8_t* iv, const std::uint8_t* aad, std::size_t aad_len,
	          std::uint8_t* text, std::size_t len, std::uint8_t* tag)
	{
		int outl = 0;
		std::uint8_t fin[16];
		return EVP_CipherInit_ex(ctx_.get(), nullptr, nullptr, nullptr, iv, 1) == 1 &&
		       EVP_CipherUpdate(ctx_.get(), nullptr, &outl, aad,
		                        static_cast<int>(aad_len)) == 1 &&
		       EVP_CipherUpdate(ctx_.get(), text, &outl, text, static_cast<int>(len)) ==
		               1 &&
		       EVP_CipherFinal_ex(ctx_.get(), fin, &outl) == 1 &&
		       EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_AEAD_GET_TAG, 8, tag) == 1;
	}
	bool open(const std::uint8_t* iv, const std::uint8_t* aad, std::size_t aad_len,
	          std::uint8_t* text, std::size_t len, std::uint8_t* tag)
	{
		int outl = 0;
		std::uint8_t fin[16];
		return EVP_CipherInit_ex(ctx_.get(), nullptr, nullptr, nullptr, iv, 0) == 1 &&
		       EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_AEAD_SET_TAG, 8, tag) == 1 &&
		       EVP_CipherUpdate(ctx_.get(), nullptr, &outl, aad,
		                        static_cast<int>(aad_len)) == 1 &&
		       EVP_CipherUpdate(ctx_.get(), text, &outl, text, static_cast<int>(len)) ==
		               1 &&
		       EVP_CipherFinal_ex(ctx_.get(), fin, &outl) == 1;
	}

private:
	std::unique_ptr<EVP_CIPHER_CTX, EvpCtxFree> ctx_;
};

}  // namespace

int main(int argc, char** argv)
{
	std::size_t iters = 200000;
	if (argc > 1) {
		char* end = nullptr;
		const unsigned long long v = std::strtoull(argv[1], &end, 10);
		if (end == argv[1] || *end != '\0' || v == 0) {
			std::fprintf(stderr, "usage: spsec_bench_codec [iterations per round]\n");
			return 2;
		}
		iters = static_cast<std::size_t>(v);
	}

	std::array<std::uint8_t, 32> key_bytes{};
	for (std::size_t i = 0; i < key_bytes.size(); i++)
		key_bytes[i] = static_cast<std::uint8_t>(i * 7 + 3);
	const Key32 key{std::span<const std::uint8_t, 32>(key_bytes)};

	CanFrame plain;
	plain.can_id = 0x123;
	plain.fd = true;
	plain.flags = CANFD_BRS;
	plain.len = kPayload;
	for (std::size_t i = 0; i < kPayload; i++)
		plain.data[i] = static_cast<std::uint8_t>(i);
	const std::uint64_t t0 = 0x5000000;

	constexpr std::array<AeadKind, 3> kKinds = {AeadKind::AesGcm, AeadKind::ChaCha20Poly1305,
	                                            AeadKind::Ascon};
	std::array<std::unique_ptr<Aead>, 3> aeads;
	std::array<CanFrame, 3> sealed;
	std::array<KeyLookup, 3> lookups;
	std::array<OpenParams, 3> ops;
	for (std::size_t k = 0; k < 3; k++) {
		auto a = Aead::create(kKinds[k], key);
		if (!a) {
			std::fprintf(stderr, "%s: %s\n", std::string(aead_name(kKinds[k])).c_str(),
			             a.error().message().c_str());
			return 1;
		}
		aeads[k] = std::move(*a);
		ops[k] = OpenParams{
		        StampParams{kKinds[k], StampMode::Encrypt, {1, 2, 3, 4, 5, 6, 7, 8}},
		        kDefaultWindow};
		auto s = seal_frame(*aeads[k], ops[k].stamp, plain, t0);
		if (!s) {
			std::fprintf(stderr, "seal failed: %s\n", s.error().message().c_str());
			return 1;
		}
		sealed[k] = *s;
		Aead* raw = aeads[k].get();
		lookups[k] = [raw](std::uint64_t) { return raw; };
	}

	// Raw EVP, same work as one frame: 12-byte IV (new per frame), 5-byte AAD, 54 bytes of
	// text (payload + padding), 8-byte tag.
	std::array<std::unique_ptr<RawEvp>, 2> enc, dec;
	std::array<std::array<std::uint8_t, 64>, 2> ct{};
	std::array<std::array<std::uint8_t, 8>, 2> ct_tag{};
	std::array<std::uint8_t, 12> zero_iv{};
	const std::array<std::uint8_t, 5> aad = {0x23, 0x01, 0, 0, kPayload};
	bool ok = true;
	for (std::size_t k = 0; k < 2; k++) {
		enc[k] = std::make_unique<RawEvp>(kKinds[k], key_bytes, true);
		dec[k] = std::make_unique<RawEvp>(kKinds[k], key_bytes, false);
		std::copy_n(plain.data.begin(), kPayload, ct[k].begin());
		std::fill_n(ct[k].begin() + kPayload, 6, std::uint8_t{0xFF});
		ok = enc[k]->seal(zero_iv.data(), aad.data(), aad.size(), ct[k].data(), 54,
		                  ct_tag[k].data()) &&
		     ok;
	}

	using Body = std::function<void(std::size_t)>;
	auto codec_seal = [&](std::size_t k) -> Body {
		return [&, k](std::size_t i) {
			auto s = seal_frame(*aeads[k], ops[k].stamp, plain, t0 + i);
			ok = ok && s.has_value();
			g_sink = s ? s->data[63] : 0;
		};
	};
	// Open of one sealed frame (no freshness table: the same frame every time).
	auto codec_open = [&](std::size_t k) -> Body {
		return [&, k](std::size_t) {
			auto o = open_frame(ops[k], sealed[k], t0 + 3, lookups[k]);
			ok = ok && o.has_value();
			g_sink = o ? o->plain.data[0] : 0;
		};
	};
	auto evp_seal = [&](std::size_t k) -> Body {
		return [&, k](std::size_t i) {
			std::array<std::uint8_t, 12> iv{};
			const std::uint64_t t = t0 + i;
			for (std::size_t b = 0; b < 8; b++)
				iv[b] = static_cast<std::uint8_t>(t >> (8 * b));
			std::array<std::uint8_t, 64> buf{};
			std::copy_n(plain.data.begin(), kPayload, buf.begin());
			std::fill_n(buf.begin() + kPayload, 6, std::uint8_t{0xFF});
			std::array<std::uint8_t, 8> tag{};
			ok = enc[k]->seal(iv.data(), aad.data(), aad.size(), buf.data(), 54,
			                  tag.data()) &&
			     ok;
			g_sink = tag[0];
		};
	};
	auto evp_open = [&](std::size_t k) -> Body {
		return [&, k](std::size_t) {
			std::array<std::uint8_t, 64> buf = ct[k];
			ok = dec[k]->open(zero_iv.data(), aad.data(), aad.size(), buf.data(), 54,
			                  ct_tag[k].data()) &&
			     ok;
			g_sink = buf[0];
		};
	};
	const std::array<Body, 10> bodies = {
	        codec_seal(0), evp_seal(0),   codec_open(0), evp_open(0),   codec_seal(1),
	        evp_seal(1),   codec_open(1), evp_open(1),   codec_seal(2), codec_open(2)};
	const auto ns = interleaved(iters, bodies);
	if (!ok) {
		std::fprintf(stderr, "a seal or open failed during the benchmark\n");
		return 1;
	}
	for (std::size_t k = 0; k < 2; k++) {
		const std::string n(aead_name(kKinds[k]));
		const double cs = ns[4 * k], es = ns[4 * k + 1], co = ns[4 * k + 2],
		             eo = ns[4 * k + 3];
		report("codec_seal_" + n, cs, "ns");
		report("evp_seal_" + n, es, "ns");
		report("codec_open_" + n, co, "ns");
		report("evp_open_" + n, eo, "ns");
		report_ratio("codec_vs_evp_seal_" + n, cs / es, 1.25);
		report_ratio("codec_vs_evp_open_" + n, co / eo, 1.25);
	}
	report("codec_seal_ascon", ns[8], "ns");
	report("codec_open_ascon", ns[9], "ns");
	report_ratio("ascon_vs_aes-gcm_codec_seal", ns[8] / ns[0], 1.5);
	report_ratio("ascon_vs_aes-gcm_codec_open", ns[9] / ns[2], 1.5);
	return 0;
}
