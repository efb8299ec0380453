// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: arbitrary bytes as a received control-plane frame, fed to every decoder.
// Input layout: LE32 can_id | flags byte (bit 0: CAN FD) | data (at most 64 bytes).
// Decoders must never crash; whatever decodes must re-encode to a frame that decodes the same.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/messages.h"
#include "fuzz_check.h"

using namespace spsec;

namespace {

using spsec::fuzz::check;

struct Keys {
	std::unique_ptr<Aead> comm;
	std::unique_ptr<Aead> session;
	Key32 seed;
	SessionContext ctx;
};

Keys& keys()
{
	static Keys k = [] {
		Keys x;
		std::array<std::uint8_t, 32> b{};
		for (std::size_t i = 0; i < b.size(); i++)
			b[i] = static_cast<std::uint8_t>(i);
		x.seed = Key32(std::span<const std::uint8_t, 32>(b));
		x.comm = std::move(*Aead::create(AeadKind::AesGcm, x.seed));
		x.session = std::move(*Aead::create(AeadKind::ChaCha20Poly1305, x.seed));
		x.ctx.aead = AeadKind::ChaCha20Poly1305;
		x.ctx.pp = 5;
		x.ctx.selector = selector::kIntegrator;
		return x;
	}();
	return k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
	if (size < 5)
		return 0;
	CanFrame f;
	std::uint32_t id = 0;
	std::memcpy(&id, data, 4);
	f.can_id = id;
	f.fd = (data[4] & 1) != 0;
	const std::size_t n = std::min<std::size_t>(size - 5, f.fd ? 64 : 8);
	f.len = static_cast<std::uint8_t>(n);
	std::memcpy(f.data.data(), data + 5, n);

	auto c = classify_control_id(f.can_id);
	if (c)
		check(encode_control_id(c->id) == (f.can_id & CAN_EFF_MASK));

	if (auto m = decode_pa_request(f)) {
		auto again = decode_pa_request(encode_pa_request(*m));
		check(again && again->pp == m->pp && again->random == m->random);
	}
	if (auto m = decode_pa_response(f)) {
		auto again = decode_pa_response(encode_pa_response(*m));
		check(again && again->tim == m->tim && again->tag == m->tag);
		(void)verify_pa_response(AeadKind::AesGcm, keys().seed, Random16{}, *m);
	}
	if (auto m = decode_client_hello(f)) {
		auto again = decode_client_hello(encode_client_hello(*m));
		check(again && again->selector == m->selector &&
		      again->client_random == m->client_random);
	}
	if (auto m = decode_server_hello(f)) {
		auto again = decode_server_hello(encode_server_hello(*m));
		check(again && again->server_random == m->server_random);
	}
	if (auto m = decode_internal_event(f)) {
		auto again = decode_internal_event(encode_internal_event(*m));
		check(again && *again == *m);
	}

	Keys& k = keys();
	const std::uint32_t cnt = c ? c->id.context : 0;
	(void)verify_client_finished(*k.session, k.ctx, cnt, f);
	(void)verify_server_finished(*k.session, k.ctx, cnt - 1, cnt, Tag8{}, f);
	for (auto type : {CpType::ReadInit, CpType::ReadSeg, CpType::WriteInit, CpType::WriteSeg,
	                  CpType::Terminate})
		for (bool request : {true, false})
			for (std::size_t len : {std::size_t{0}, std::size_t{4}, std::size_t{8}})
				(void)open_session_message(*k.session, k.ctx, type, request, cnt,
				                           len, f);
	if (f.len >= 8) {
		(void)decode_register_init(f.payload().first(8));
		(void)decode_write_status(f.payload().first(4));
	}

	OpenParams op;
	const KeyLookup lookup = [&](std::uint64_t) { return k.comm.get(); };
	FreshnessTable fresh;
	(void)open_sync_broadcast(op, f, 0x123456789ull, lookup, &fresh);
	(void)open_heartbeat(op, f, 0x123456789ull, lookup, &fresh);
	return 0;
}
