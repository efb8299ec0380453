// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: open_frame() on arbitrary frames (core/stamp.h).
//
// Input layout: [0] selector, [1..4] can_id, [5] len, [6] flags, [7..14] local T, [15..16] window,
// [17] flip position, [18] flip mask, rest data.
// Selector bits 0..1 pick the AEAD, bit 2 the mode, bit 3 "seal first": the rest is taken as a
// plain payload, sealed at local T, then byte [17] of the secured frame is XORed with [18].
// Properties: never crash; an unmodified sealed frame opens to exactly its plain frame; a frame
// with a flipped payload/stamp/tag byte never opens; a rejection carries a receive reason.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "core/aead.h"
#include "core/stamp.h"

namespace {

std::uint64_t le(const std::uint8_t* p, int n)
{
	std::uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

spsec::Aead* aead_for(spsec::AeadKind kind)
{
	static std::array<std::unique_ptr<spsec::Aead>, 3> aeads = [] {
		std::array<std::uint8_t, 32> k{};
		for (std::size_t i = 0; i < k.size(); i++)
			k[i] = static_cast<std::uint8_t>(i * 13 + 5);
		const spsec::Key32 key{std::span<const std::uint8_t, 32>(k)};
		std::array<std::unique_ptr<spsec::Aead>, 3> a;
		a[0] = std::move(*spsec::Aead::create(spsec::AeadKind::AesGcm, key));
		a[1] = std::move(*spsec::Aead::create(spsec::AeadKind::ChaCha20Poly1305, key));
		a[2] = std::move(*spsec::Aead::create(spsec::AeadKind::Ascon, key));
		return a;
	}();
	switch (kind) {
	case spsec::AeadKind::AesGcm:
		return aeads[0].get();
	case spsec::AeadKind::ChaCha20Poly1305:
		return aeads[1].get();
	case spsec::AeadKind::Ascon:
		return aeads[2].get();
	}
	return nullptr;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
	if (size < 19)
		return 0;
	const std::uint8_t sel = data[0];
	constexpr spsec::AeadKind kKinds[] = {spsec::AeadKind::AesGcm,
	                                      spsec::AeadKind::ChaCha20Poly1305,
	                                      spsec::AeadKind::Ascon, spsec::AeadKind::AesGcm};
	const spsec::AeadKind kind = kKinds[sel & 3];
	spsec::OpenParams params;
	params.stamp.aead = kind;
	params.stamp.mode = (sel & 4) ? spsec::StampMode::AuthOnly : spsec::StampMode::Encrypt;
	params.stamp.seed_salt = {1, 2, 3, 4, 5, 6, 7, 8};
	params.window = static_cast<std::uint32_t>(le(data + 15, 2));

	spsec::CanFrame f;
	f.can_id = static_cast<std::uint32_t>(le(data + 1, 4));
	f.len = data[5];
	f.flags = data[6];
	f.fd = true;
	const std::uint64_t local = le(data + 7, 8);
	const std::size_t n = std::min<std::size_t>(size - 19, 64);
	std::memcpy(f.data.data(), data + 19, n);

	spsec::Aead* aead = aead_for(kind);
	const spsec::KeyLookup keys = [aead](std::uint64_t) { return aead; };
	spsec::FreshnessTable fresh;

	if (sel & 8) {
		// Seal-first mode: a genuine frame, optionally with one byte changed.
		spsec::CanFrame plain = f;
		plain.can_id &= CAN_EFF_FLAG | CAN_EFF_MASK;
		plain.len = static_cast<std::uint8_t>(n > 54 ? 54 : n);
		std::fill(plain.data.begin() + plain.len, plain.data.end(), std::uint8_t{0});
		auto sealed = spsec::seal_frame(*aead, params.stamp, plain, local);
		if (!sealed)
			return 0;  // T = 0
		const std::size_t pos = data[17] % sealed->len;
		const std::uint8_t mask = data[18];
		spsec::CanFrame wire = *sealed;
		wire.data[pos] ^= mask;
		auto r = spsec::open_frame(params, wire, local, keys, &fresh);
		if (mask == 0) {
			if (!r || !(r->plain == plain) || r->t != local)
				std::abort();
		} else if (r) {
			// Every byte of [0, S) is authenticated (payload, stamp, tag) or checked
			// (padding), so any change must be rejected.
			std::abort();
		}
		return 0;
	}

	auto r = spsec::open_frame(params, f, local, keys, &fresh);
	if (!r && (r.error().reason == 0 || r.error().reason >= SPSEC_R_TX_OK))
		std::abort();
	return 0;
}
