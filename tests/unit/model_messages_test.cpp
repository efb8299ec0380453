// SPDX-License-Identifier: Apache-2.0
// Control-plane codecs (spec §5). The golden tags and ciphertexts below were computed
// independently with python3-cryptography (HKDF-SHA256, AESGCM, ChaCha20Poly1305) from the
// layouts of spec §5; the script is reproduced at the end of this file.
// Inputs: seed 00..1F, rnd 10..1F, tim 0x123456789, csalt A0 A1 A2 A3, pp 5; session opening key
// 40..5F with salt 60..67, selector 0Eh, client_random 80..8F, server_random 90..9F; data-plane
// key C0..DF with seed salt E0..E7, T = 0x123456789.
#include <catch2/catch.hpp>

#include <cctype>
#include <set>

#include <linux/can.h>

#include "core/hex.h"
#include "core/messages.h"

using namespace spsec;

namespace {

std::vector<std::uint8_t> H(std::string_view s)
{
	auto r = parse_hex(s);
	REQUIRE(r);
	return *r;
}

template <std::size_t N> std::array<std::uint8_t, N> seq(std::uint8_t first)
{
	std::array<std::uint8_t, N> a{};
	for (std::size_t i = 0; i < N; i++)
		a[i] = static_cast<std::uint8_t>(first + i);
	return a;
}

Key32 key_seq(std::uint8_t first)
{
	const auto a = seq<32>(first);
	return Key32(std::span<const std::uint8_t, 32>(a));
}

CanFrame frame(const char* text)
{
	auto f = parse_can_frame(text);
	REQUIRE(f);
	return *f;
}

MsgErrc code_of(const MsgResult<Classified>& r)
{
	REQUIRE_FALSE(r);
	return r.error().code;
}

constexpr std::uint64_t kTim = 0x123456789ull;
const CommSalt kCsalt{0xA0, 0xA1, 0xA2, 0xA3};

struct SessionFixture {
	AeadKind kind;
	SessionContext ctx;
	std::unique_ptr<Aead> aead;
	std::uint32_t cnt0 = 0;

	explicit SessionFixture(AeadKind k) : kind(k)
	{
		ctx.aead = k;
		ctx.pp = 5;
		ctx.selector = selector::kIntegrator;
		ctx.client_random = seq<16>(0x80);
		ctx.server_random = seq<16>(0x90);
		ctx.opening_salt = seq<8>(0x60);
		auto sk = derive_session_key(key_seq(0x40), ctx.client_random, ctx.server_random);
		REQUIRE(sk);
		auto a = Aead::create(k, *sk);
		REQUIRE(a);
		aead = std::move(*a);
		cnt0 = session_initial_counter(ctx.client_random, ctx.server_random);
	}
};

}  // namespace

TEST_CASE("control IDs of spec §5 encode to the table's values", "[messages]")
{
	CHECK(pa_request_id(5) == (0x0AFF0805u | CAN_EFF_FLAG));
	CHECK(pa_response_id(5) == (0x06230885u | CAN_EFF_FLAG));
	CHECK(sync_broadcast_id() == (0x02210900u | CAN_EFF_FLAG));
	CHECK(heartbeat_id(5, 0x82) == (0x12820A05u | CAN_EFF_FLAG));
	CHECK(session_id(CpType::Hello, true, 5, 0x1234) == (0x1EFF0085u | CAN_EFF_FLAG));
	CHECK(session_id(CpType::Hello, false, 5, 0) == (0x1EFF0005u | CAN_EFF_FLAG));
	CHECK(session_id(CpType::Finished, true, 5, 0x10101011) == (0x1E110185u | CAN_EFF_FLAG));
	CHECK(session_id(CpType::Finished, false, 5, 0x10101012) == (0x1E120105u | CAN_EFF_FLAG));
	CHECK(session_id(CpType::ReadInit, true, 0x7F, 0xAB) == (0x1EAB02FFu | CAN_EFF_FLAG));
	CHECK(session_id(CpType::Terminate, false, 1, 0x100) == (0x1E000601u | CAN_EFF_FLAG));
	CHECK(internal_event_id(5) == (0x1E000C05u | CAN_EFF_FLAG));
}

TEST_CASE("control ID decode and encode round-trip", "[messages]")
{
	const ControlId c{7, 0x42, CpType::WriteSeg, true, 0x33};
	const std::uint32_t id = encode_control_id(c);
	CHECK(id == 0x1E4205B3u);
	auto d = decode_control_id(id | CAN_EFF_FLAG);
	REQUIRE(d);
	CHECK(*d == c);
}

TEST_CASE("classify every control-plane message kind", "[messages]")
{
	struct Row {
		std::uint32_t id29;
		ControlKind kind;
		std::uint8_t pp;
	};
	const Row rows[] = {
	        {0x0AFF0805, ControlKind::PaRequest, 5},
	        {0x06230885, ControlKind::PaResponse, 5},
	        {0x02210900, ControlKind::SyncBroadcast, 0},
	        {0x12020A05, ControlKind::Heartbeat, 5},
	        {0x1EFF0085, ControlKind::ClientHello, 5},
	        {0x1EFF0005, ControlKind::ServerHello, 5},
	        {0x1E110185, ControlKind::ClientFinished, 5},
	        {0x1E120105, ControlKind::ServerFinished, 5},
	        {0x1E130285, ControlKind::ReadInitRequest, 5},
	        {0x1E140205, ControlKind::ReadInitResponse, 5},
	        {0x1E150385, ControlKind::ReadSegRequest, 5},
	        {0x1E160305, ControlKind::ReadSegResponse, 5},
	        {0x1E170485, ControlKind::WriteInitRequest, 5},
	        {0x1E180405, ControlKind::WriteInitResponse, 5},
	        {0x1E190585, ControlKind::WriteSegRequest, 5},
	        {0x1E1A0505, ControlKind::WriteSegResponse, 5},
	        {0x1E1B0685, ControlKind::TerminateRequest, 5},
	        {0x1E1C0605, ControlKind::TerminateResponse, 5},
	        {0x1E000B05, ControlKind::SecurityEvent, 5},
	        {0x1E000C05, ControlKind::InternalEvent, 5},
	        {0x1E000D05, ControlKind::InternalRead, 5},
	};
	for (const auto& r : rows) {
		INFO(std::hex << r.id29);
		auto c = classify_control_id(r.id29 | CAN_EFF_FLAG);
		REQUIRE(c);
		CHECK(c->kind == r.kind);
		CHECK(c->id.pp == r.pp);
	}
}

TEST_CASE("classify rejects every malformed ID class with its own error", "[messages]")
{
	CHECK(code_of(classify_control_id(0x0AFF0805)) == MsgErrc::NotExtended);  // no EFF flag
	CHECK(code_of(classify_control_id(0x0AFF0805 | CAN_EFF_FLAG | CAN_RTR_FLAG)) ==
	      MsgErrc::NotExtended);
	CHECK(code_of(classify_control_id(0x08FF0805 | CAN_EFF_FLAG)) == MsgErrc::NotControlPlane);
	CHECK(code_of(classify_control_id(0x0BFF0805 | CAN_EFF_FLAG)) == MsgErrc::ReservedBit);
	CHECK(code_of(classify_control_id(0x0AFF0705 | CAN_EFF_FLAG)) == MsgErrc::UnknownType);
	CHECK(code_of(classify_control_id(0x0AFF0E05 | CAN_EFF_FLAG)) == MsgErrc::UnknownType);
	CHECK(code_of(classify_control_id(0x0EFF0805 | CAN_EFF_FLAG)) == MsgErrc::WrongPriority);
	CHECK(code_of(classify_control_id(0x0A230805 | CAN_EFF_FLAG)) == MsgErrc::WrongContext);
	CHECK(code_of(classify_control_id(0x06240885 | CAN_EFF_FLAG)) == MsgErrc::WrongContext);
	CHECK(code_of(classify_control_id(0x02200900 | CAN_EFF_FLAG)) == MsgErrc::WrongContext);
	CHECK(code_of(classify_control_id(0x1EFE0085 | CAN_EFF_FLAG)) == MsgErrc::WrongContext);
	CHECK(code_of(classify_control_id(0x02210980 | CAN_EFF_FLAG)) == MsgErrc::WrongDirection);
	CHECK(code_of(classify_control_id(0x02210901 | CAN_EFF_FLAG)) == MsgErrc::WrongDirection);
	CHECK(code_of(classify_control_id(0x12020A85 | CAN_EFF_FLAG)) == MsgErrc::WrongDirection);
	CHECK(code_of(classify_control_id(0x0AFF0800 | CAN_EFF_FLAG)) == MsgErrc::WrongDirection);
	CHECK(code_of(classify_control_id(0x1E000C85 | CAN_EFF_FLAG)) == MsgErrc::WrongDirection);
}

TEST_CASE("PA request: golden frame, round trip, malformed", "[messages]")
{
	const PaRequest req{5, seq<16>(0x10)};
	const CanFrame f = encode_pa_request(req);
	CHECK(format_can_frame(f) == "0AFF0805##0101112131415161718191A1B1C1D1E1F");
	auto back = decode_pa_request(f);
	REQUIRE(back);
	CHECK(back->pp == 5);
	CHECK(back->random == req.random);

	CHECK(decode_pa_request(frame("0AFF0805##0101112131415161718191A1B1C1D1E")).error().code ==
	      MsgErrc::TooShort);  // 15 bytes
	CHECK(decode_pa_request(frame("0AFF0805##0101112131415161718191A1B")).error().code ==
	      MsgErrc::TooShort);
	CHECK(decode_pa_request(frame("0AFF0805#1011121314151617")).error().code == MsgErrc::NotFd);
	CHECK(decode_pa_request(frame("06230885##0101112131415161718191A1B1C1D1E1F"))
	              .error()
	              .code == MsgErrc::WrongKind);
	// Trailing CAN FD padding beyond the message is ignored, as the reference does.
	CHECK(decode_pa_request(frame("0AFF0805##0101112131415161718191A1B1C1D1E1F00000000")));
	// So are the bytes of a length that is no CAN FD length (vcan carries any 0..64).
	CHECK(decode_pa_request(frame("0AFF0805##0101112131415161718191A1B1C1D1E1F00")));
}

TEST_CASE("PA response: golden tags (AES-GCM, ChaCha20) and verification", "[messages]")
{
	const Key32 seed = key_seq(0x00);
	const Random16 rnd = seq<16>(0x10);

	CHECK(format_hex(pa_response_aad(rnd, kTim, kCsalt, 5)) ==
	      "101112131415161718191a1b1c1d1e1f"
	      "8967452301000000"
	      "a0a1a2a3"
	      "85082300");

	struct Row {
		AeadKind kind;
		const char* tag;
	};
	for (const Row& r : {Row{AeadKind::AesGcm, "95a9a57cede8a656"},
	                     Row{AeadKind::ChaCha20Poly1305, "b8c168d6dde6f0ec"}}) {
		INFO(aead_name(r.kind));
		auto m = make_pa_response(r.kind, seed, rnd, 5, kTim, kCsalt);
		REQUIRE(m);
		CHECK(format_hex(m->tag) == r.tag);
		const CanFrame f = encode_pa_response(*m);
		CHECK(format_can_frame(f) ==
		      std::string("06230885##08967452301000000A0A1A2A3") + [&] {
			      std::string t = r.tag;
			      for (auto& ch : t)
				      ch = static_cast<char>(std::toupper(ch));
			      return t;
		      }());
		auto d = decode_pa_response(f);
		REQUIRE(d);
		CHECK(d->tim == kTim);
		CHECK(d->csalt == kCsalt);
		CHECK(verify_pa_response(r.kind, seed, rnd, *d));

		// A different request random, T, csalt, pp or tag bit fails.
		auto bad = *d;
		bad.tag[7] ^= 1;
		CHECK(verify_pa_response(r.kind, seed, rnd, bad).error().code == MsgErrc::BadTag);
		bad = *d;
		bad.tim += 1;
		CHECK(verify_pa_response(r.kind, seed, rnd, bad).error().code == MsgErrc::BadTag);
		bad = *d;
		bad.csalt[0] ^= 0x80;
		CHECK(verify_pa_response(r.kind, seed, rnd, bad).error().code == MsgErrc::BadTag);
		bad = *d;
		bad.pp = 6;
		CHECK(verify_pa_response(r.kind, seed, rnd, bad).error().code == MsgErrc::BadTag);
		auto rnd2 = rnd;
		rnd2[15] ^= 1;  // byte 15 is not in K_pa's salt but is in the AAD
		CHECK(verify_pa_response(r.kind, seed, rnd2, *d).error().code == MsgErrc::BadTag);
		CHECK(verify_pa_response(r.kind, key_seq(0x01), rnd, *d).error().code ==
		      MsgErrc::BadTag);
	}

	SECTION("Ascon round trip")
	{
		auto m = make_pa_response(AeadKind::Ascon, seed, rnd, 5, kTim, kCsalt);
		REQUIRE(m);
		CHECK(verify_pa_response(AeadKind::Ascon, seed, rnd, *m));
		CHECK_FALSE(verify_pa_response(AeadKind::AesGcm, seed, rnd, *m));
	}
	SECTION("malformed")
	{
		CHECK(decode_pa_response(
		              frame("06230885##00000000000000000A0A1A2A30011223344556677"))
		              .error()
		              .code == MsgErrc::ZeroTime);
		CHECK(decode_pa_response(frame("06230885##08967452301000000A0A1A2A3"))
		              .error()
		              .code == MsgErrc::TooShort);
		CHECK_FALSE(make_pa_response(AeadKind::AesGcm, seed, rnd, 5, 0, kCsalt));
	}
}

TEST_CASE("Sync broadcast and heartbeat: golden stamped frames", "[messages]")
{
	const Key32 ck = key_seq(0xC0);
	auto aead = Aead::create(AeadKind::AesGcm, ck);
	REQUIRE(aead);
	OpenParams op;
	op.stamp = StampParams{AeadKind::AesGcm, StampMode::Encrypt, seq<8>(0xE0)};
	op.window = 150;
	const KeyLookup keys = [&](std::uint64_t) { return aead->get(); };

	auto sync = seal_sync_broadcast(**aead, op.stamp, kTim);
	REQUIRE(sync);
	CHECK(format_can_frame(*sync) == "02210900##07458F35BDD272CEE4B368907D6356A191C873FD0");
	auto s = open_sync_broadcast(op, *sync, kTim + 3, keys);
	REQUIRE(s);
	CHECK(s->t == kTim);
	CHECK(s->frame_t == kTim);
	CHECK(s->correction == 0);

	FreshnessTable fresh;
	CHECK(open_sync_broadcast(op, *sync, kTim, keys, &fresh));
	// The forward-only watermark: the same broadcast again is a replay.
	auto again = open_sync_broadcast(op, *sync, kTim, keys, &fresh);
	REQUIRE_FALSE(again);
	CHECK(again.error() == MsgError{MsgErrc::StampRejected, SPSEC_R_RX_REPLAY});

	auto tampered = *sync;
	tampered.data[0] ^= 1;
	auto t = open_sync_broadcast(op, tampered, kTim, keys);
	REQUIRE_FALSE(t);
	CHECK(t.error() == MsgError{MsgErrc::StampRejected, SPSEC_R_RX_BAD_TAG});
	auto late = open_sync_broadcast(op, *sync, kTim + 151, keys);
	CHECK(late.error() == MsgError{MsgErrc::StampRejected, SPSEC_R_RX_OUTSIDE_WINDOW});

	auto hb = seal_heartbeat(**aead, op.stamp, 5, 0x02, kTim);
	REQUIRE(hb);
	CHECK(format_can_frame(*hb) == "12020A05##033A38907F8ACFB3543E35BD8");
	auto h = open_heartbeat(op, *hb, kTim - 5, keys, &fresh);
	REQUIRE(h);
	CHECK(h->pp == 5);
	CHECK(h->status == 0x02);
	CHECK(h->t == kTim);
	// Replay under the same or another status is refused: freshness ignores the status bits.
	CHECK(open_heartbeat(op, *hb, kTim, keys, &fresh).error() ==
	      MsgError{MsgErrc::StampRejected, SPSEC_R_RX_REPLAY});
	auto hb_warning = seal_heartbeat(**aead, op.stamp, 5, 0x83, kTim);
	REQUIRE(hb_warning);
	CHECK(open_heartbeat(op, *hb_warning, kTim, keys, &fresh).error() ==
	      MsgError{MsgErrc::StampRejected, SPSEC_R_RX_REPLAY});
	auto hb_next = seal_heartbeat(**aead, op.stamp, 5, 0x83, kTim + 1);
	REQUIRE(hb_next);
	CHECK(open_heartbeat(op, *hb_next, kTim, keys, &fresh));

	// Wrong kinds and a stamped frame with the wrong content.
	CHECK(open_heartbeat(op, *sync, kTim, keys).error().code == MsgErrc::WrongKind);
	CHECK(open_sync_broadcast(op, *hb, kTim, keys).error().code == MsgErrc::WrongKind);
	CanFrame odd;
	odd.can_id = heartbeat_id(5, 2);
	odd.fd = true;
	odd.len = 3;
	odd.data = {0xFF, 0xFF, 0xFF};
	auto odd_sealed = seal_frame(**aead, op.stamp, odd, kTim + 10);
	REQUIRE(odd_sealed);
	CHECK(open_heartbeat(op, *odd_sealed, kTim + 10, keys).error().code == MsgErrc::BadPayload);
}

TEST_CASE("Hello messages: golden frames, round trip, malformed", "[messages]")
{
	const ClientHello ch{5, selector::kIntegrator, seq<16>(0x80)};
	const CanFrame f = encode_client_hello(ch);
	CHECK(format_can_frame(f) == "1EFF0085##00EFFFFFF808182838485868788898A8B8C8D8E8F");
	auto d = decode_client_hello(f);
	REQUIRE(d);
	CHECK(d->pp == 5);
	CHECK(d->selector == 0x0E);
	CHECK(d->client_random == ch.client_random);
	CHECK(decode_client_hello(frame("1EFF0085##00EFFFF00808182838485868788898A8B8C8D8E8F"))
	              .error()
	              .code == MsgErrc::BadFiller);
	CHECK(decode_client_hello(frame("1EFF0085##00EFFFFFF808182838485868788898A8B"))
	              .error()
	              .code == MsgErrc::TooShort);

	const ServerHello sh{5, seq<16>(0x90)};
	const CanFrame g = encode_server_hello(sh);
	CHECK(format_can_frame(g) == "1EFF0005##0909192939495969798999A9B9C9D9E9F");
	auto e = decode_server_hello(g);
	REQUIRE(e);
	CHECK(e->server_random == sh.server_random);
	CHECK(decode_server_hello(f).error().code == MsgErrc::WrongKind);
}

TEST_CASE("session counter and nonce", "[messages]")
{
	CHECK(session_initial_counter(seq<16>(0x80), seq<16>(0x90)) == 0x10101010u);
	auto n = session_nonce(AeadKind::AesGcm, 0x10101011, seq<8>(0x60));
	REQUIRE(n);
	CHECK(format_hex(n->view()) == "11101010"
	                               "6061626364656667"
	                               "00000000");
	auto c = session_nonce(AeadKind::ChaCha20Poly1305, 0x10101011, seq<8>(0x60));
	REQUIRE(c);
	CHECK(format_hex(c->view()) == "11101010"
	                               "6061626364656667");
	CHECK(session_nonce(AeadKind::Ascon, 0, {})->len == 16);
	CHECK(session_nonce(AeadKind::AesGcm, kSessionCounterLimit - 1, {}));
	CHECK(session_nonce(AeadKind::AesGcm, kSessionCounterLimit, {}).error().code ==
	      MsgErrc::CounterExhausted);
	CHECK(session_nonce(AeadKind::AesGcm, 0xFFFFFFFF, {}).error().code ==
	      MsgErrc::CounterExhausted);
}

TEST_CASE("Finished and register messages: golden tags", "[messages]")
{
	struct Row {
		AeadKind kind;
		const char* cf_tag;
		const char* sf_tag;
		const char* ri_ct;
		const char* ri_tag;
		const char* term_tag;
	};
	const Row rows[] = {
	        {AeadKind::AesGcm, "F62BCDB7A584BD9B", "04C9CAB0BCC62D79", "5609AD1D2BC1BB97",
	         "4011242D537CC73D", "AC8E6F3C4EA609BE"},
	        {AeadKind::ChaCha20Poly1305, "86CAB9C8F073E0C4", "DC99B327885EE0EB",
	         "0E2EC23FE7A2F58C", "FD37135D4AA92D7A", "7F1948B4967EA040"},
	};
	for (const Row& r : rows) {
		INFO(aead_name(r.kind));
		SessionFixture s(r.kind);
		REQUIRE(s.cnt0 == 0x10101010u);
		const std::uint32_t cf = s.cnt0 + 1, sf = s.cnt0 + 2, ri = s.cnt0 + 3,
		                    term = s.cnt0 + 4;

		auto cff = make_client_finished(*s.aead, s.ctx, cf);
		REQUIRE(cff);
		CHECK(format_can_frame(*cff) == std::string("1E110185##0") + r.cf_tag);
		auto ctag = verify_client_finished(*s.aead, s.ctx, cf, *cff);
		REQUIRE(ctag);

		auto sff = make_server_finished(*s.aead, s.ctx, cf, sf, *ctag);
		REQUIRE(sff);
		CHECK(format_can_frame(*sff) == std::string("1E120105##0") + r.sf_tag);
		CHECK(verify_server_finished(*s.aead, s.ctx, cf, sf, *ctag, *sff));

		const auto pt = encode_register_init({reg::kStatus, 1});
		CHECK(format_hex(pt) == "50ffffff01000000");
		auto rif = seal_session_message(*s.aead, s.ctx, CpType::ReadInit, true, ri, pt);
		REQUIRE(rif);
		CHECK(format_can_frame(*rif) == std::string("1E130285##0") + r.ri_ct + r.ri_tag);
		auto opened =
		        open_session_message(*s.aead, s.ctx, CpType::ReadInit, true, ri, 8, *rif);
		REQUIRE(opened);
		auto init = decode_register_init(*opened);
		REQUIRE(init);
		CHECK(*init == RegisterInit{0x50, 1});

		auto tf = seal_session_message(*s.aead, s.ctx, CpType::Terminate, true, term, {});
		REQUIRE(tf);
		CHECK(format_can_frame(*tf) == std::string("1E140685##0") + r.term_tag);
		CHECK(open_session_message(*s.aead, s.ctx, CpType::Terminate, true, term, 0, *tf));
	}
}

TEST_CASE("session messages: every rejection class", "[messages]")
{
	SessionFixture s(AeadKind::AesGcm);
	const std::uint32_t cf = s.cnt0 + 1;
	auto cff = make_client_finished(*s.aead, s.ctx, cf);
	REQUIRE(cff);

	auto bad_tag = *cff;
	bad_tag.data[3] ^= 0x10;
	CHECK(verify_client_finished(*s.aead, s.ctx, cf, bad_tag).error().code == MsgErrc::BadTag);
	CHECK(verify_client_finished(*s.aead, s.ctx, cf + 1, *cff).error().code ==
	      MsgErrc::CounterMismatch);
	// Same low byte, different counter: the ID matches, the nonce does not.
	CHECK(verify_client_finished(*s.aead, s.ctx, cf + 0x100, *cff).error().code ==
	      MsgErrc::BadTag);
	auto other = s.ctx;
	other.pp = 6;
	CHECK(verify_client_finished(*s.aead, other, cf, *cff).error().code ==
	      MsgErrc::WrongParticipant);
	auto short_f = *cff;
	short_f.len = 7;
	CHECK(verify_client_finished(*s.aead, s.ctx, cf, short_f).error().code ==
	      MsgErrc::TooShort);
	auto sel = s.ctx;
	sel.selector = selector::kProvisioning;  // AAD binds the selector
	CHECK(verify_client_finished(*s.aead, sel, cf, *cff).error().code == MsgErrc::BadTag);
	CHECK(make_client_finished(*s.aead, s.ctx, kSessionCounterLimit).error().code ==
	      MsgErrc::CounterExhausted);

	// Register messages.
	const std::array<std::uint8_t, 4> data{1, 2, 3, 4};
	auto ws = seal_session_message(*s.aead, s.ctx, CpType::WriteSeg, true, cf + 3, data);
	REQUIRE(ws);
	CHECK(ws->len == 12);  // 4 + 8 is a valid CAN FD length
	auto ws1 = seal_session_message(*s.aead, s.ctx, CpType::WriteSeg, true, cf + 3,
	                                std::span<const std::uint8_t>(data).first(1));
	REQUIRE(ws1);
	CHECK(ws1->len == 12);  // 1 + 8 rounded up to 12, 00 padding
	CHECK(ws1->data[9] == 0);
	CHECK(open_session_message(*s.aead, s.ctx, CpType::WriteSeg, true, cf + 3, 1, *ws1));
	// Unpadded (9 bytes: ciphertext || tag), as python-can sends it on vcan: the tag is read
	// right after the ciphertext, as in the padded frame. One byte short is refused.
	auto ws9 = *ws1;
	ws9.len = 9;
	CHECK(open_session_message(*s.aead, s.ctx, CpType::WriteSeg, true, cf + 3, 1, ws9));
	ws9.len = 8;
	CHECK(open_session_message(*s.aead, s.ctx, CpType::WriteSeg, true, cf + 3, 1, ws9)
	              .error()
	              .code == MsgErrc::TooShort);
	auto ws65 = *ws1;
	ws65.len = 65;
	CHECK(open_session_message(*s.aead, s.ctx, CpType::WriteSeg, true, cf + 3, 1, ws65)
	              .error()
	              .code == MsgErrc::BadLength);

	CHECK(open_session_message(*s.aead, s.ctx, CpType::WriteSeg, false, cf + 3, 4, *ws)
	              .error()
	              .code == MsgErrc::WrongKind);
	CHECK(open_session_message(*s.aead, s.ctx, CpType::ReadSeg, true, cf + 3, 4, *ws)
	              .error()
	              .code == MsgErrc::WrongKind);
	CHECK(open_session_message(*s.aead, s.ctx, CpType::WriteSeg, true, cf + 4, 4, *ws)
	              .error()
	              .code == MsgErrc::CounterMismatch);
	CHECK(open_session_message(*s.aead, s.ctx, CpType::WriteSeg, true, cf + 3, 8, *ws)
	              .error()
	              .code == MsgErrc::TooShort);
	auto flipped = *ws;
	flipped.data[0] ^= 1;
	CHECK(open_session_message(*s.aead, s.ctx, CpType::WriteSeg, true, cf + 3, 4, flipped)
	              .error()
	              .code == MsgErrc::BadTag);
	// The AAD binds the whole ID: the same bytes under another participant's ID fail.
	auto moved = *ws;
	moved.can_id = session_id(CpType::WriteSeg, true, 6, cf + 3);
	auto ctx6 = s.ctx;
	ctx6.pp = 6;
	CHECK(open_session_message(*s.aead, ctx6, CpType::WriteSeg, true, cf + 3, 4, moved)
	              .error()
	              .code == MsgErrc::BadTag);
	auto classic = *ws;
	classic.fd = false;
	classic.len = 8;
	CHECK(open_session_message(*s.aead, s.ctx, CpType::WriteSeg, true, cf + 3, 4, classic)
	              .error()
	              .code == MsgErrc::NotFd);
	const std::vector<std::uint8_t> big(57, 0);
	CHECK(seal_session_message(*s.aead, s.ctx, CpType::ReadSeg, false, cf, big).error().code ==
	      MsgErrc::PayloadTooLong);
	CHECK(seal_session_message(*s.aead, s.ctx, CpType::Hello, true, cf, data).error().code ==
	      MsgErrc::WrongKind);

	CHECK(decode_register_init(std::array<std::uint8_t, 7>{}).error().code ==
	      MsgErrc::BadLength);
	CHECK(decode_register_init(H("50 ff fe ff 01 00 00 00")).error().code ==
	      MsgErrc::BadFiller);
	CHECK(*decode_write_status(encode_write_status(3)) == 3);
	CHECK(decode_write_status(H("00 ff ff")).error().code == MsgErrc::BadLength);
	CHECK(decode_write_status(H("00 ff ff 00")).error().code == MsgErrc::BadFiller);
}

TEST_CASE("Ascon session round trip", "[messages]")
{
	SessionFixture s(AeadKind::Ascon);
	auto cff = make_client_finished(*s.aead, s.ctx, s.cnt0 + 1);
	REQUIRE(cff);
	auto tag = verify_client_finished(*s.aead, s.ctx, s.cnt0 + 1, *cff);
	REQUIRE(tag);
	auto rs = seal_session_message(*s.aead, s.ctx, CpType::ReadSeg, false, s.cnt0 + 2,
	                               H("01 02 03 04 05 06 07 08 09"));
	REQUIRE(rs);
	CHECK(rs->len == 20);
	auto back =
	        open_session_message(*s.aead, s.ctx, CpType::ReadSeg, false, s.cnt0 + 2, 9, *rs);
	REQUIRE(back);
	CHECK(format_hex(*back) == "010203040506070809");
}

TEST_CASE("internal event: golden frame, round trip, malformed", "[messages]")
{
	const InternalEvent ev{5, reg::kLastEvent, event_code::kInjection};
	const CanFrame f = encode_internal_event(ev);
	CHECK(format_can_frame(f) == "1E000C05##05103DE0000");
	auto d = decode_internal_event(f);
	REQUIRE(d);
	CHECK(*d == ev);
	CHECK(decode_internal_event(frame("1E000C05#5103DE0000")));  // classical is fine
	CHECK(decode_internal_event(frame("1E000C05#5103DE00")).error().code == MsgErrc::TooShort);
	CHECK(decode_internal_event(frame("1E000C85#5103DE0000")).error().code ==
	      MsgErrc::WrongDirection);
}

TEST_CASE("event codes and names", "[messages]")
{
	CHECK(heartbeat_missing_event(5) == 0xEF05);
	CHECK(event_code_name(0xEF05) == "heartbeat_missing");
	CHECK(event_code_name(0xEF00) == "unknown");
	CHECK(event_code_name(event_code::kSyncAbort) == "sync_abort");
	CHECK(event_code_name(0x1234) == "unknown");
	CHECK(msg_errc_name(MsgErrc::BadTag) == "bad_tag");
	CHECK(to_error(MsgError{MsgErrc::StampRejected, SPSEC_R_RX_BAD_TAG}, "heartbeat")
	              .context.starts_with("heartbeat: stamp_rejected ("));
	// Every error code has a distinct name.
	std::set<std::string_view> names;
	for (int c = 1; c <= static_cast<int>(MsgErrc::CryptoFailure); c++)
		names.insert(msg_errc_name(static_cast<MsgErrc>(c)));
	CHECK(names.size() == static_cast<std::size_t>(MsgErrc::CryptoFailure));
	CHECK_FALSE(names.contains("unknown"));
}

// The generator of the golden vectors above (python3-cryptography):
//   # Independent golden vectors for tests/unit/model_messages_test.cpp (python3-cryptography).
//   import struct
//   from cryptography.hazmat.primitives.kdf.hkdf import HKDF
//   from cryptography.hazmat.primitives import hashes
//   from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
//   def hkdf(ikm, salt): return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt,
//   info=b"").derive(ikm) def aead(kind, key, nonce, aad, pt=b""):
//       if kind=="gcm": return AESGCM(key).encrypt(nonce, pt, aad)
//       return ChaCha20Poly1305(key).encrypt(nonce, pt, aad)
//   h=lambda b: b.hex()
//   seed=bytes(range(32)); rnd=bytes(range(0x10,0x20)); tim=0x0000000123456789;
//   csalt=bytes([0xa0,0xa1,0xa2,0xa3]); pp=5 kpa=hkdf(seed, rnd[:12]+struct.pack("<Q",tim)+csalt)
//   aad=rnd+struct.pack("<Q",tim)+csalt+struct.pack("<I",0x00230880|pp)
//   for k in ("gcm","chacha"):
//       tag=aead(k,kpa,bytes(12),aad)[-16:][:8]
//       print("PA",k,h(tag))
//   opening=bytes(range(0x40,0x60)); osalt=bytes(range(0x60,0x68)); sel=0x0e
//   cr=bytes(range(0x80,0x90)); sr=bytes(range(0x90,0xa0))
//   sk=hkdf(opening, cr+sr)
//   cnt0=struct.unpack("<I",bytes(a^b for a,b in zip(cr[:4],sr[:4])))[0]
//   print("cnt0 %08x"%cnt0)
//   def nonce(c,k): n=struct.pack("<I",c)+osalt+bytes(4); return n if k=="gcm" else n[:12]
//   for k in ("gcm","chacha"):
//       cf=cnt0+1; cfid=0x1E000180|((cf&0xff)<<16)|pp
//       cfaad=bytes([sel,0xff,0xff,0xff])+cr+sr+struct.pack("<I",cfid)
//       ctag=aead(k,sk,nonce(cf,k),cfaad)[-16:][:8]
//       sf=cnt0+2; sfid=0x1E000100|((sf&0xff)<<16)|pp
//       sfaad=struct.pack("<I",cfid)+cr+sr+ctag+struct.pack("<I",sfid)
//       stag=aead(k,sk,nonce(sf,k),sfaad)[-16:][:8]
//       print("CF",k,"%08x"%cfid,h(ctag),"SF %08x"%sfid,h(stag))
//       rc=cnt0+3; rid=0x1E000000|((rc&0xff)<<16)|(2<<8)|0x80|pp
//       pt=bytes([0x50,0xff,0xff,0xff,1,0,0,0])
//       out=aead(k,sk,nonce(rc,k),struct.pack("<I",rid),pt)
//       print("RI",k,"%08x"%rid,h(out[:8]),h(out[8:16]))
//       tc=cnt0+4; tid=0x1E000000|((tc&0xff)<<16)|(6<<8)|0x80|pp
//       out=aead(k,sk,nonce(tc,k),struct.pack("<I",tid))
//       print("TERM",k,"%08x"%tid,h(out[:8]))
//   ck=bytes(range(0xc0,0xe0)); ssalt=bytes(range(0xe0,0xe8)); T=0x123456789
//   def stamped(cid, pt):
//       L=len(pt); S=next(s for s in (12,16,20,24,32,48,64) if s>=L+10); pad=S-L-10
//       body=pt+b"\xff"*pad
//       n=struct.pack("<Q",T)+struct.pack("<H",cid&0xffff)+ssalt[:2]
//       out=AESGCM(ck).encrypt(n, body, struct.pack("<I",cid)+bytes([L]))
//       return out[:len(body)]+struct.pack("<H",(pad<<12)|(T&0xfff))+out[len(body):len(body)+8]
//   print("SYNC", h(stamped(0x02210900, struct.pack("<Q",T)+b"\0\0")))
//   print("HB", h(stamped(0x12020A05, b"\xff\xff")))
