// SPDX-License-Identifier: Apache-2.0
// Writes the Wireshark dissector's test capture (tests/data/wireshark/spsec-all.log) to stdout: a
// candump -L log holding every control-plane message of spec §5 and data frames of each AEAD and
// mode, all made by the project's own codec (core/messages.h, core/stamp.h). Everything is fixed
// (keys, randoms, T), so the output is byte-for-byte reproducible; the ctest regenerates it and
// compares it with the checked-in file before tshark decodes it. With --pcap it writes the same
// frames as a pcap of link type SocketCAN, the encapsulation of a live `tshark -i can0`.
//
// The values the dissector must show are listed in tests/data/wireshark/expected-fields.txt,
// which was written by hand from the inputs below and the spec (not from the dissector's output).
#include <array>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include "core/aead.h"
#include "core/can_frame.h"
#include "core/key_schedule.h"
#include "core/messages.h"
#include "core/stamp.h"

namespace {

using namespace spsec;

std::vector<CanFrame> g_frames;  // in log order, 1 ms apart

void emit(const CanFrame& f)
{
	g_frames.push_back(f);
}

void put_be32(std::vector<std::uint8_t>& out, std::uint32_t v)
{
	for (int i = 3; i >= 0; i--)
		out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

void put_le32(std::vector<std::uint8_t>& out, std::uint32_t v)
{
	for (int i = 0; i < 4; i++)
		out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

// The candump -L log (the checked-in capture).
void write_candump()
{
	for (std::size_t i = 0; i < g_frames.size(); i++) {
		CandumpLine l;
		l.sec = 1'700'000'000;
		l.usec = static_cast<std::uint32_t>(i * 1000);
		l.ifname = "can0";
		l.frame = g_frames[i];
		std::printf("%s\n", format_candump_line(l).c_str());
	}
}

// The same frames as a pcap with LINKTYPE_CAN_SOCKETCAN (227), what `tshark -i can0` records:
// the SocketCAN header with the CAN ID in network byte order, CAN FD frames with CANFD_FDF (0x04)
// set in the flags byte, data padded to 8 or 64 bytes.
void write_pcap()
{
	std::vector<std::uint8_t> out;
	put_le32(out, 0xA1B2C3D4);  // magic, microseconds
	put_le32(out, 0x00040002);  // version 2.4
	put_le32(out, 0);           // thiszone
	put_le32(out, 0);           // sigfigs
	put_le32(out, 262144);      // snaplen
	put_le32(out, 227);         // LINKTYPE_CAN_SOCKETCAN
	for (std::size_t i = 0; i < g_frames.size(); i++) {
		const CanFrame& f = g_frames[i];
		const std::uint32_t caplen = f.fd ? 72 : 16;
		put_le32(out, 1'700'000'000);
		put_le32(out, static_cast<std::uint32_t>(i * 1000));
		put_le32(out, caplen);
		put_le32(out, caplen);
		put_be32(out, f.can_id);
		out.push_back(f.len);
		out.push_back(f.fd ? static_cast<std::uint8_t>(f.flags | 0x04) : 0);
		out.push_back(0);
		out.push_back(0);
		for (std::uint32_t b = 0; b < caplen - 8; b++)
			out.push_back(b < f.len ? f.data[b] : 0);
	}
	std::fwrite(out.data(), 1, out.size(), stdout);
}

[[noreturn]] void die(const char* what)
{
	std::fprintf(stderr, "spsec_capture_gen: %s\n", what);
	std::exit(1);
}

template <class T> T must(tl::expected<T, Error> r, const char* what)
{
	if (!r)
		die(what);
	return std::move(*r);
}

template <class T> T must(MsgResult<T> r, const char* what)
{
	if (!r)
		die(what);
	return std::move(*r);
}

template <std::size_t N> std::array<std::uint8_t, N> iota_bytes(std::uint8_t first)
{
	std::array<std::uint8_t, N> a{};
	std::iota(a.begin(), a.end(), first);
	return a;
}

CanFrame plain(std::uint32_t can_id, std::size_t len, std::uint8_t first)
{
	CanFrame f;
	f.can_id = can_id;
	f.fd = true;
	f.flags = 0x01;  // CANFD_BRS, as a real bus would carry it
	f.len = static_cast<std::uint8_t>(len);
	std::iota(f.data.begin(), f.data.begin() + static_cast<std::ptrdiff_t>(len), first);
	return f;
}

}  // namespace

int main(int argc, char** argv)
{
	const bool pcap = argc == 2 && std::string(argv[1]) == "--pcap";
	if (argc > 2 || (argc == 2 && !pcap))
		die("usage: spsec_capture_gen [--pcap] > FILE");
	const Key32 seed(iota_bytes<32>(0x00));
	const CommSalt csalt{0x01, 0x02, 0x03, 0x04};
	const KeySalt seed_salt{0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7};
	const std::uint8_t pp = 5;
	// Every stamped frame is in key window 1 (T >> 24 == 1).
	const Key32 comm = must(derive_comm_key(seed, 1, csalt), "deriving the Communication Key");

	// 1. Parameter Authentication: request and the Sync's response.
	const PaRequest req{pp, iota_bytes<16>(0x40)};
	emit(encode_pa_request(req));
	const std::uint64_t tim = 0x1000100;
	emit(encode_pa_response(
	        must(make_pa_response(AeadKind::AesGcm, seed, req.random, pp, tim, csalt),
	             "PA response")));

	// 2. Sync broadcast and a heartbeat (status 02h = Secure), both stamped, AES-GCM encrypt.
	auto aes = must(Aead::create(AeadKind::AesGcm, comm), "AES-GCM");
	const StampParams aes_enc{AeadKind::AesGcm, StampMode::Encrypt, seed_salt};
	emit(must(seal_sync_broadcast(*aes, aes_enc, 0x1000200), "Sync broadcast"));
	emit(must(seal_heartbeat(*aes, aes_enc, pp, 0x02, 0x1000301), "heartbeat"));
	// Warning with the alert flag (status 83h).
	emit(must(seal_heartbeat(*aes, aes_enc, pp, 0x83, 0x1000402), "heartbeat (warning)"));

	// 3. A Configurator session with the Integrator Key (selector 14).
	const Key32 integrator(iota_bytes<32>(0x60));
	SessionContext s;
	s.aead = AeadKind::AesGcm;
	s.pp = pp;
	s.selector = selector::kIntegrator;
	s.client_random = iota_bytes<16>(0x10);
	s.server_random = iota_bytes<16>(0x20);
	s.opening_salt = KeySalt{0xB0, 0xB1, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7};
	emit(encode_client_hello({pp, s.selector, s.client_random}));
	emit(encode_server_hello({pp, s.server_random}));
	const Key32 sk = must(derive_session_key(integrator, s.client_random, s.server_random),
	                      "Session Key");
	auto sess = must(Aead::create(s.aead, sk), "session AEAD");
	// cnt0 = LE32(10 11 12 13 XOR 20 21 22 23) = 0x30303030.
	std::uint32_t cnt = session_initial_counter(s.client_random, s.server_random) + 1;
	const CanFrame cf = must(make_client_finished(*sess, s, cnt), "ClientFinished");
	emit(cf);
	Tag8 client_tag{};
	std::copy_n(cf.data.begin(), client_tag.size(), client_tag.begin());
	emit(must(make_server_finished(*sess, s, cnt, cnt + 1, client_tag), "ServerFinished"));
	cnt += 2;
	auto msg = [&](CpType type, bool request, std::span<const std::uint8_t> p) {
		emit(must(seal_session_message(*sess, s, type, request, cnt++, p),
		          "session message"));
	};
	const auto rd = encode_register_init({reg::kStatus, 1});
	msg(CpType::ReadInit, true, rd);
	msg(CpType::ReadInit, false, rd);
	msg(CpType::ReadSeg, true, {});
	const std::array<std::uint8_t, 4> status_seg{0x02, 0xFF, 0xFF, 0xFF};
	msg(CpType::ReadSeg, false, status_seg);
	const auto wr = encode_register_init({reg::kHeartbeatTiming, 1});
	msg(CpType::WriteInit, true, wr);
	msg(CpType::WriteInit, false, wr);
	const std::array<std::uint8_t, 1> timing{0x04};
	msg(CpType::WriteSeg, true, timing);
	msg(CpType::WriteSeg, false, encode_write_status(0));
	msg(CpType::Terminate, true, {});
	msg(CpType::Terminate, false, {});

	// 4. Events: an internal event (register 51h = last security event, DE03h injection) and a
	//    type-11 security event, whose layout is not published (raw bytes).
	emit(encode_internal_event({pp, reg::kLastEvent, event_code::kInjection}));
	CanFrame ev;
	ev.can_id = (0x1E000B00u | pp) | CAN_EFF_FLAG;
	ev.fd = true;
	ev.len = 8;
	ev.data = {0x51, 0x03, 0xDE, 0x00, 0x00, 0xFF, 0xFF, 0xFF};
	emit(ev);

	// 5. Data frames of each AEAD and mode on the secured IDs 0x181, 0x201 and 0x00012345, with
	//    geometries S = 12, 16, 20, 24, 32, 48, 64.
	struct DataCase {
		AeadKind aead;
		StampMode mode;
		std::uint32_t can_id;
		std::size_t len;
		std::uint64_t t;
	};
	const std::array<DataCase, 7> cases{{
	        {AeadKind::AesGcm, StampMode::Encrypt, 0x181, 4, 0x1001234},
	        {AeadKind::AesGcm, StampMode::AuthOnly, 0x181, 0, 0x1001235},
	        {AeadKind::ChaCha20Poly1305, StampMode::Encrypt, 0x201, 8, 0x1001FFF},
	        {AeadKind::ChaCha20Poly1305, StampMode::AuthOnly, 0x201, 11, 0x1002000},
	        {AeadKind::Ascon, StampMode::Encrypt, 0x00012345 | CAN_EFF_FLAG, 54, 0x1002A5F},
	        {AeadKind::Ascon, StampMode::AuthOnly, 0x00012345 | CAN_EFF_FLAG, 15, 0x1002A60},
	        {AeadKind::AesGcm, StampMode::Encrypt, 0x181, 23, 0x1002A61},
	}};
	for (const auto& c : cases) {
		auto a = must(Aead::create(c.aead, comm), "data AEAD");
		const StampParams p{c.aead, c.mode, seed_salt};
		emit(must(seal_frame(*a, p, plain(c.can_id, c.len, 0xC0), c.t), "data frame"));
	}
	// 6. A frame on an ID that is not secured: the dissector must leave it alone.
	emit(plain(0x700, 1, 0x05));
	// 7. A Sync broadcast of an authentication-only network: its T travels in clear.
	auto cha = must(Aead::create(AeadKind::ChaCha20Poly1305, comm), "ChaCha20-Poly1305");
	const StampParams cha_auth{AeadKind::ChaCha20Poly1305, StampMode::AuthOnly, seed_salt};
	emit(must(seal_sync_broadcast(*cha, cha_auth, 0x1003000), "Sync broadcast (auth-only)"));
	if (pcap)
		write_pcap();
	else
		write_candump();
	return 0;
}
