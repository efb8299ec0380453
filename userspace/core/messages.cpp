// SPDX-License-Identifier: Apache-2.0
#include "core/messages.h"

#include <algorithm>
#include <optional>

namespace spsec {

namespace {

using Bytes = std::span<const std::uint8_t>;

tl::unexpected<MsgError> err(MsgErrc c, std::uint32_t reason = 0)
{
	return tl::unexpected<MsgError>(MsgError{c, reason});
}

void put_le32(std::uint8_t* p, std::uint32_t v) noexcept
{
	for (int i = 0; i < 4; i++)
		p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

void put_le64(std::uint8_t* p, std::uint64_t v) noexcept
{
	for (int i = 0; i < 8; i++)
		p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

std::uint32_t get_le32(const std::uint8_t* p) noexcept
{
	std::uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

std::uint64_t get_le64(const std::uint8_t* p) noexcept
{
	std::uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

// A CAN FD control-plane frame: data copied, length rounded up to a valid CAN FD length, the
// padding left 00.
CanFrame make_frame(std::uint32_t id29, Bytes data)
{
	CanFrame f;
	f.can_id = id29 | CAN_EFF_FLAG;
	f.fd = true;
	f.len = canfd_round_up_len(data.size());
	std::copy(data.begin(), data.end(), f.data.begin());
	return f;
}

// The plain frame handed to seal_frame(): len is exactly L, which enters the AAD and geometry.
CanFrame make_plain(std::uint32_t id29, Bytes data)
{
	CanFrame f;
	f.can_id = id29 | CAN_EFF_FLAG;
	f.fd = true;
	f.len = static_cast<std::uint8_t>(data.size());
	std::copy(data.begin(), data.end(), f.data.begin());
	return f;
}

// Classifies f and checks it is `kind` with at least `need` data bytes. A CAN FD frame may have
// any length from `need` to 64, not only a valid DLC length: on vcan/vxcan python-can sends a
// 32-byte WriteSeg as 40 bytes (ciphertext || tag, unpadded). Every field, the tag included,
// sits at a fixed offset from the start, so bytes after the message are ignored either way.
MsgResult<Classified> expect(const CanFrame& f, ControlKind kind, std::size_t need)
{
	auto c = classify_control_id(f.can_id);
	if (!c)
		return tl::unexpected(c.error());
	if (c->kind != kind)
		return err(MsgErrc::WrongKind);
	if (need > 8 && !f.fd)
		return err(MsgErrc::NotFd);
	if (f.len > (f.fd ? 64 : 8))
		return err(MsgErrc::BadLength);
	if (f.len < need)
		return err(MsgErrc::TooShort);
	return c;
}

// The counter's low byte must be in ID bits 23..16 (spsec_can_protocol protocol_register.c:
// "the shared-counter LSB is carried in arbitration byte 2").
MsgResult<void> check_session_id(const Classified& c, const SessionContext& s, std::uint32_t cnt)
{
	if (c.id.pp != s.pp)
		return err(MsgErrc::WrongParticipant);
	if (c.id.context != static_cast<std::uint8_t>(cnt & 0xFFu))
		return err(MsgErrc::CounterMismatch);
	return {};
}

ControlKind session_kind(CpType type, bool request) noexcept
{
	switch (type) {
	case CpType::ReadInit:
		return request ? ControlKind::ReadInitRequest : ControlKind::ReadInitResponse;
	case CpType::ReadSeg:
		return request ? ControlKind::ReadSegRequest : ControlKind::ReadSegResponse;
	case CpType::WriteInit:
		return request ? ControlKind::WriteInitRequest : ControlKind::WriteInitResponse;
	case CpType::WriteSeg:
		return request ? ControlKind::WriteSegRequest : ControlKind::WriteSegResponse;
	case CpType::Terminate:
		return request ? ControlKind::TerminateRequest : ControlKind::TerminateResponse;
	case CpType::Hello:
		return request ? ControlKind::ClientHello : ControlKind::ServerHello;
	case CpType::Finished:
		return request ? ControlKind::ClientFinished : ControlKind::ServerFinished;
	default:
		return ControlKind::SecurityEvent;  // never a session kind: forces WrongKind
	}
}

// Tag over empty plaintext (Finished and PA tags).
MsgResult<Tag8> tag_only(Aead& aead, Bytes nonce, Bytes aad)
{
	Tag8 tag{};
	auto r = aead.seal(nonce, aad, std::span<std::uint8_t>(), tag);
	if (!r)
		return err(MsgErrc::CryptoFailure);
	return tag;
}

MsgResult<void> verify_tag_only(Aead& aead, Bytes nonce, Bytes aad, const Tag8& tag)
{
	auto r = aead.open(nonce, aad, std::span<std::uint8_t>(), tag);
	if (!r)
		return err(MsgErrc::CryptoFailure);
	if (!*r)
		return err(MsgErrc::BadTag);
	return {};
}

Tag8 tag_at(const CanFrame& f, std::size_t off)
{
	Tag8 t{};
	std::copy_n(f.data.begin() + static_cast<std::ptrdiff_t>(off), t.size(), t.begin());
	return t;
}

std::array<std::uint8_t, 4> le32_bytes(std::uint32_t v)
{
	std::array<std::uint8_t, 4> b{};
	put_le32(b.data(), v);
	return b;
}

}  // namespace

// ---- names -----------------------------------------------------------------------------------

std::string_view event_code_name(std::uint16_t code) noexcept
{
	using namespace event_code;
	switch (code) {
	case kSessionKeyNotFound:
		return "session_key_not_found";
	case kSessionFinishedAuth:
		return "session_finished_auth_failure";
	case kSessionResponseTimeout:
		return "session_response_timeout";
	case kSessionTimeout:
		return "session_timeout";
	case kSessionMessageAuth:
		return "session_message_auth_failure";
	case kPaAuthFailure:
		return "pa_auth_failure";
	case kPaTimeout:
		return "pa_timeout";
	case kSyncAuthFailure:
		return "sync_auth_failure";
	case kSyncAbort:
		return "sync_abort";
	case kDataAuthFailure:
		return "data_auth_failure";
	case kRxOverrun:
		return "rx_overrun";
	case kTxOverrun:
		return "tx_overrun";
	case kInjection:
		return "injection";
	case kDuplicate:
		return "duplicate";
	default:
		break;
	}
	if ((code & 0xFF80u) == kHeartbeatMissingBase && (code & 0x7Fu) != 0)
		return "heartbeat_missing";
	return "unknown";
}

std::string_view msg_errc_name(MsgErrc code) noexcept
{
	switch (code) {
	case MsgErrc::NotExtended:
		return "not_extended";
	case MsgErrc::NotControlPlane:
		return "not_control_plane";
	case MsgErrc::ReservedBit:
		return "reserved_bit";
	case MsgErrc::UnknownType:
		return "unknown_type";
	case MsgErrc::WrongPriority:
		return "wrong_priority";
	case MsgErrc::WrongContext:
		return "wrong_context";
	case MsgErrc::WrongDirection:
		return "wrong_direction";
	case MsgErrc::WrongKind:
		return "wrong_kind";
	case MsgErrc::WrongParticipant:
		return "wrong_participant";
	case MsgErrc::CounterMismatch:
		return "counter_mismatch";
	case MsgErrc::NotFd:
		return "not_fd";
	case MsgErrc::TooShort:
		return "too_short";
	case MsgErrc::BadLength:
		return "bad_length";
	case MsgErrc::BadFiller:
		return "bad_filler";
	case MsgErrc::BadTag:
		return "bad_tag";
	case MsgErrc::StampRejected:
		return "stamp_rejected";
	case MsgErrc::BadPayload:
		return "bad_payload";
	case MsgErrc::ZeroTime:
		return "zero_time";
	case MsgErrc::CounterExhausted:
		return "counter_exhausted";
	case MsgErrc::PayloadTooLong:
		return "payload_too_long";
	case MsgErrc::CryptoFailure:
		return "crypto_failure";
	}
	return "unknown";
}

Error to_error(const MsgError& e, std::string_view what)
{
	std::string s(what);
	s += ": ";
	s += msg_errc_name(e.code);
	if (e.code == MsgErrc::StampRejected) {
		s += " (";
		s += reason_name(e.stamp_reason);
		s += ")";
	}
	return Error{0, std::move(s)};
}

std::string_view control_kind_name(ControlKind k) noexcept
{
	switch (k) {
	case ControlKind::PaRequest:
		return "pa_request";
	case ControlKind::PaResponse:
		return "pa_response";
	case ControlKind::SyncBroadcast:
		return "sync_broadcast";
	case ControlKind::Heartbeat:
		return "heartbeat";
	case ControlKind::ClientHello:
		return "client_hello";
	case ControlKind::ServerHello:
		return "server_hello";
	case ControlKind::ClientFinished:
		return "client_finished";
	case ControlKind::ServerFinished:
		return "server_finished";
	case ControlKind::ReadInitRequest:
		return "read_init_request";
	case ControlKind::ReadInitResponse:
		return "read_init_response";
	case ControlKind::ReadSegRequest:
		return "read_seg_request";
	case ControlKind::ReadSegResponse:
		return "read_seg_response";
	case ControlKind::WriteInitRequest:
		return "write_init_request";
	case ControlKind::WriteInitResponse:
		return "write_init_response";
	case ControlKind::WriteSegRequest:
		return "write_seg_request";
	case ControlKind::WriteSegResponse:
		return "write_seg_response";
	case ControlKind::TerminateRequest:
		return "terminate_request";
	case ControlKind::TerminateResponse:
		return "terminate_response";
	case ControlKind::SecurityEvent:
		return "security_event";
	case ControlKind::InternalEvent:
		return "internal_event";
	case ControlKind::InternalRead:
		return "internal_read";
	}
	return "unknown";
}

// ---- CAN ID layout ---------------------------------------------------------------------------

MsgResult<ControlId> decode_control_id(std::uint32_t can_id) noexcept
{
	if ((can_id & CAN_EFF_FLAG) == 0 || (can_id & (CAN_RTR_FLAG | CAN_ERR_FLAG)) != 0)
		return err(MsgErrc::NotExtended);
	const std::uint32_t id = can_id & CAN_EFF_MASK;
	if ((id & SPSEC_CTRL_BIT) == 0)
		return err(MsgErrc::NotControlPlane);
	if ((id & (1u << 24)) != 0)
		return err(MsgErrc::ReservedBit);
	const auto type = static_cast<std::uint8_t>(id >> 8);
	if (type == 7 || type > 13)
		return err(MsgErrc::UnknownType);
	ControlId c;
	c.priority = static_cast<std::uint8_t>(id >> 26);
	c.context = static_cast<std::uint8_t>(id >> 16);
	c.type = static_cast<CpType>(type);
	c.to_dest = (id & 0x80u) != 0;
	c.pp = static_cast<std::uint8_t>(id & 0x7Fu);
	return c;
}

MsgResult<Classified> classify_control_id(std::uint32_t can_id) noexcept
{
	auto d = decode_control_id(can_id);
	if (!d)
		return tl::unexpected(d.error());
	const ControlId& c = *d;

	// Expected priority (-1: any), fixed context (-1: none), required bit 7 (-1: either).
	ControlKind kind{};
	int prio = 7, ctx = -1, dest = -1;
	switch (c.type) {
	case CpType::ParamAuth:
		if (c.to_dest) {
			kind = ControlKind::PaResponse;
			prio = 1;
			ctx = 0x23;
		} else {
			kind = ControlKind::PaRequest;
			prio = 2;
			ctx = 0xFF;
		}
		break;
	case CpType::Sync:
		kind = ControlKind::SyncBroadcast;
		prio = 0;
		ctx = 0x21;
		dest = 0;
		break;
	case CpType::Heartbeat:
		kind = ControlKind::Heartbeat;
		prio = 4;
		dest = 0;
		break;
	case CpType::Hello:
		kind = c.to_dest ? ControlKind::ClientHello : ControlKind::ServerHello;
		ctx = 0xFF;
		break;
	case CpType::Finished:
	case CpType::ReadInit:
	case CpType::ReadSeg:
	case CpType::WriteInit:
	case CpType::WriteSeg:
	case CpType::Terminate:
		kind = session_kind(c.type, c.to_dest);
		break;
	case CpType::Event:
		// Type 11 has no published layout; classify it, accept any priority.
		kind = ControlKind::SecurityEvent;
		prio = -1;
		break;
	case CpType::InternalEvent:
		kind = ControlKind::InternalEvent;
		dest = 0;
		break;
	case CpType::InternalRead:
		kind = ControlKind::InternalRead;
		prio = -1;
		break;
	}
	if (prio >= 0 && c.priority != prio)
		return err(MsgErrc::WrongPriority);
	if (ctx >= 0 && c.context != ctx)
		return err(MsgErrc::WrongContext);
	if (dest >= 0 && c.to_dest != (dest == 1))
		return err(MsgErrc::WrongDirection);
	// Only the Sync broadcast has no participant; everywhere else pp is 1..127.
	if (kind == ControlKind::SyncBroadcast ? c.pp != 0 : c.pp == 0)
		return err(MsgErrc::WrongDirection);
	return Classified{kind, c};
}

std::uint32_t pa_request_id(std::uint8_t pp) noexcept
{
	return encode_control_id({2, 0xFF, CpType::ParamAuth, false, pp}) | CAN_EFF_FLAG;
}

std::uint32_t pa_response_id(std::uint8_t pp) noexcept
{
	return encode_control_id({1, 0x23, CpType::ParamAuth, true, pp}) | CAN_EFF_FLAG;
}

std::uint32_t sync_broadcast_id() noexcept
{
	return encode_control_id({0, 0x21, CpType::Sync, false, 0}) | CAN_EFF_FLAG;
}

std::uint32_t heartbeat_id(std::uint8_t pp, std::uint8_t status) noexcept
{
	return encode_control_id({4, status, CpType::Heartbeat, false, pp}) | CAN_EFF_FLAG;
}

std::uint32_t internal_event_id(std::uint8_t pp) noexcept
{
	return encode_control_id({7, 0, CpType::InternalEvent, false, pp}) | CAN_EFF_FLAG;
}

std::uint32_t session_id(CpType type, bool request, std::uint8_t pp, std::uint32_t cnt) noexcept
{
	const auto ctx =
	        type == CpType::Hello ? std::uint8_t{0xFF} : static_cast<std::uint8_t>(cnt & 0xFFu);
	return encode_control_id({7, ctx, type, request, pp}) | CAN_EFF_FLAG;
}

// ---- Parameter Authentication ----------------------------------------------------------------

CanFrame encode_pa_request(const PaRequest& m)
{
	return make_frame(pa_request_id(m.pp) & CAN_EFF_MASK, m.random);
}

MsgResult<PaRequest> decode_pa_request(const CanFrame& f)
{
	auto c = expect(f, ControlKind::PaRequest, 16);
	if (!c)
		return tl::unexpected(c.error());
	PaRequest m;
	m.pp = c->id.pp;
	std::copy_n(f.data.begin(), 16, m.random.begin());
	return m;
}

CanFrame encode_pa_response(const PaResponse& m)
{
	std::array<std::uint8_t, 20> d{};
	put_le64(d.data(), m.tim);
	std::copy(m.csalt.begin(), m.csalt.end(), d.begin() + 8);
	std::copy(m.tag.begin(), m.tag.end(), d.begin() + 12);
	return make_frame(pa_response_id(m.pp) & CAN_EFF_MASK, d);
}

MsgResult<PaResponse> decode_pa_response(const CanFrame& f)
{
	auto c = expect(f, ControlKind::PaResponse, 20);
	if (!c)
		return tl::unexpected(c.error());
	PaResponse m;
	m.pp = c->id.pp;
	m.tim = get_le64(f.data.data());
	if (m.tim == 0)
		return err(MsgErrc::ZeroTime);
	std::copy_n(f.data.begin() + 8, 4, m.csalt.begin());
	m.tag = tag_at(f, 12);
	return m;
}

std::array<std::uint8_t, 32> pa_response_aad(const Random16& rnd, std::uint64_t tim,
                                             const CommSalt& csalt, std::uint8_t pp)
{
	std::array<std::uint8_t, 32> a{};
	std::copy(rnd.begin(), rnd.end(), a.begin());
	put_le64(a.data() + 16, tim);
	std::copy(csalt.begin(), csalt.end(), a.begin() + 24);
	// The spec's AAD names the response ID without its priority bits and bit 25.
	put_le32(a.data() + 28, 0x00230880u | (pp & 0x7Fu));
	return a;
}

namespace {

MsgResult<Tag8> pa_tag(AeadKind kind, const Key32& seed, const Random16& rnd, std::uint8_t pp,
                       std::uint64_t tim, const CommSalt& csalt)
{
	auto kpa = derive_param_auth_key(seed, rnd, tim, csalt);
	if (!kpa)
		return err(MsgErrc::CryptoFailure);
	auto aead = Aead::create(kind, *kpa);
	if (!aead)
		return err(MsgErrc::CryptoFailure);
	const std::array<std::uint8_t, 16> zero_nonce{};
	const auto aad = pa_response_aad(rnd, tim, csalt, pp);
	return tag_only(**aead, Bytes(zero_nonce).first(data_nonce_len(kind)), aad);
}

}  // namespace

Result<PaResponse> make_pa_response(AeadKind aead, const Key32& seed, const Random16& rnd,
                                    std::uint8_t pp, std::uint64_t tim, const CommSalt& csalt)
{
	if (tim == 0)
		return fail("PA response: T is 0");
	auto tag = pa_tag(aead, seed, rnd, pp, tim, csalt);
	if (!tag)
		return fail("PA response: computing the tag failed");
	return PaResponse{pp, tim, csalt, *tag};
}

MsgResult<void> verify_pa_response(AeadKind aead, const Key32& seed, const Random16& rnd,
                                   const PaResponse& m)
{
	auto tag = pa_tag(aead, seed, rnd, m.pp, m.tim, m.csalt);
	if (!tag)
		return tl::unexpected(tag.error());
	if (!ct_equal(*tag, m.tag))
		return err(MsgErrc::BadTag);
	return {};
}

// ---- Sync broadcast and heartbeat ------------------------------------------------------------

Result<CanFrame> seal_sync_broadcast(Aead& comm_key, const StampParams& params, std::uint64_t t,
                                     std::uint16_t correction)
{
	std::array<std::uint8_t, 10> p{};
	put_le64(p.data(), t);
	p[8] = static_cast<std::uint8_t>(correction);
	p[9] = static_cast<std::uint8_t>(correction >> 8);
	return seal_frame(comm_key, params, make_plain(sync_broadcast_id() & CAN_EFF_MASK, p), t);
}

MsgResult<SyncBroadcast> open_sync_broadcast(const OpenParams& params, const CanFrame& f,
                                             std::uint64_t local_t, const KeyLookup& keys,
                                             FreshnessTable* fresh)
{
	auto c = classify_control_id(f.can_id);
	if (!c)
		return tl::unexpected(c.error());
	if (c->kind != ControlKind::SyncBroadcast)
		return err(MsgErrc::WrongKind);
	auto o = open_frame(params, f, local_t, keys, fresh);
	if (!o)
		return err(MsgErrc::StampRejected, o.error().reason);
	if (o->plain.len != 10)
		return err(MsgErrc::BadLength);
	SyncBroadcast s;
	s.t = get_le64(o->plain.data.data());
	s.correction = static_cast<std::uint16_t>(o->plain.data[8] | (o->plain.data[9] << 8));
	s.frame_t = o->t;
	if (s.t == 0)
		return err(MsgErrc::ZeroTime);
	return s;
}

Result<CanFrame> seal_heartbeat(Aead& comm_key, const StampParams& params, std::uint8_t pp,
                                std::uint8_t status, std::uint64_t t)
{
	const std::array<std::uint8_t, 2> p{0xFF, 0xFF};
	return seal_frame(comm_key, params, make_plain(heartbeat_id(pp, status) & CAN_EFF_MASK, p),
	                  t);
}

MsgResult<Heartbeat> open_heartbeat(const OpenParams& params, const CanFrame& f,
                                    std::uint64_t local_t, const KeyLookup& keys,
                                    FreshnessTable* fresh)
{
	auto c = classify_control_id(f.can_id);
	if (!c)
		return tl::unexpected(c.error());
	if (c->kind != ControlKind::Heartbeat)
		return err(MsgErrc::WrongKind);
	// Freshness is checked below under a status-independent key, after full verification,
	// as open_frame itself would do it.
	auto o = open_frame(params, f, local_t, keys, nullptr);
	if (!o)
		return err(MsgErrc::StampRejected, o.error().reason);
	if (o->plain.len != 2 || o->plain.data[0] != 0xFF || o->plain.data[1] != 0xFF)
		return err(MsgErrc::BadPayload);
	if (fresh) {
		const auto key = can_id_key(heartbeat_id(c->id.pp, 0));
		if (!fresh->fresh(key, o->t))
			return err(MsgErrc::StampRejected, SPSEC_R_RX_REPLAY);
		fresh->accept(key, o->t);
	}
	return Heartbeat{c->id.pp, c->id.context, o->t};
}

// ---- Hello -----------------------------------------------------------------------------------

CanFrame encode_client_hello(const ClientHello& m)
{
	std::array<std::uint8_t, 20> d{};
	d[0] = m.selector;
	d[1] = d[2] = d[3] = 0xFF;
	std::copy(m.client_random.begin(), m.client_random.end(), d.begin() + 4);
	return make_frame(session_id(CpType::Hello, true, m.pp, 0) & CAN_EFF_MASK, d);
}

MsgResult<ClientHello> decode_client_hello(const CanFrame& f)
{
	auto c = expect(f, ControlKind::ClientHello, 20);
	if (!c)
		return tl::unexpected(c.error());
	if (f.data[1] != 0xFF || f.data[2] != 0xFF || f.data[3] != 0xFF)
		return err(MsgErrc::BadFiller);
	ClientHello m;
	m.pp = c->id.pp;
	m.selector = f.data[0];
	std::copy_n(f.data.begin() + 4, 16, m.client_random.begin());
	return m;
}

CanFrame encode_server_hello(const ServerHello& m)
{
	return make_frame(session_id(CpType::Hello, false, m.pp, 0) & CAN_EFF_MASK,
	                  m.server_random);
}

MsgResult<ServerHello> decode_server_hello(const CanFrame& f)
{
	auto c = expect(f, ControlKind::ServerHello, 16);
	if (!c)
		return tl::unexpected(c.error());
	ServerHello m;
	m.pp = c->id.pp;
	std::copy_n(f.data.begin(), 16, m.server_random.begin());
	return m;
}

// ---- Session crypto --------------------------------------------------------------------------

std::uint32_t session_initial_counter(const Random16& cr, const Random16& sr) noexcept
{
	std::array<std::uint8_t, 4> x{};
	for (std::size_t i = 0; i < 4; i++)
		x[i] = static_cast<std::uint8_t>(cr[i] ^ sr[i]);
	return get_le32(x.data());
}

MsgResult<SessionNonce> session_nonce(AeadKind aead, std::uint32_t cnt,
                                      const KeySalt& opening_salt) noexcept
{
	if (cnt >= kSessionCounterLimit)
		return err(MsgErrc::CounterExhausted);
	SessionNonce n;
	put_le32(n.bytes.data(), cnt);
	std::copy(opening_salt.begin(), opening_salt.end(), n.bytes.begin() + 4);
	n.len = aead == AeadKind::ChaCha20Poly1305 ? 12 : 16;
	return n;
}

std::array<std::uint8_t, 40> client_finished_aad(const SessionContext& s, std::uint32_t cf_id29)
{
	std::array<std::uint8_t, 40> a{};
	a[0] = s.selector;
	a[1] = a[2] = a[3] = 0xFF;
	std::copy(s.client_random.begin(), s.client_random.end(), a.begin() + 4);
	std::copy(s.server_random.begin(), s.server_random.end(), a.begin() + 20);
	put_le32(a.data() + 36, cf_id29);
	return a;
}

std::array<std::uint8_t, 48> server_finished_aad(const SessionContext& s, std::uint32_t cf_id29,
                                                 const Tag8& client_tag, std::uint32_t sf_id29)
{
	std::array<std::uint8_t, 48> a{};
	put_le32(a.data(), cf_id29);
	std::copy(s.client_random.begin(), s.client_random.end(), a.begin() + 4);
	std::copy(s.server_random.begin(), s.server_random.end(), a.begin() + 20);
	std::copy(client_tag.begin(), client_tag.end(), a.begin() + 36);
	put_le32(a.data() + 44, sf_id29);
	return a;
}

MsgResult<CanFrame> make_client_finished(Aead& key, const SessionContext& s, std::uint32_t cnt)
{
	auto n = session_nonce(s.aead, cnt, s.opening_salt);
	if (!n)
		return tl::unexpected(n.error());
	const std::uint32_t id29 = session_id(CpType::Finished, true, s.pp, cnt) & CAN_EFF_MASK;
	auto tag = tag_only(key, n->view(), client_finished_aad(s, id29));
	if (!tag)
		return tl::unexpected(tag.error());
	return make_frame(id29, *tag);
}

MsgResult<Tag8> verify_client_finished(Aead& key, const SessionContext& s, std::uint32_t cnt,
                                       const CanFrame& f)
{
	auto c = expect(f, ControlKind::ClientFinished, kTagLen);
	if (!c)
		return tl::unexpected(c.error());
	if (auto ok = check_session_id(*c, s, cnt); !ok)
		return tl::unexpected(ok.error());
	auto n = session_nonce(s.aead, cnt, s.opening_salt);
	if (!n)
		return tl::unexpected(n.error());
	const Tag8 tag = tag_at(f, 0);
	auto v = verify_tag_only(key, n->view(), client_finished_aad(s, f.can_id & CAN_EFF_MASK),
	                         tag);
	if (!v)
		return tl::unexpected(v.error());
	return tag;
}

MsgResult<CanFrame> make_server_finished(Aead& key, const SessionContext& s, std::uint32_t cf_cnt,
                                         std::uint32_t cnt, const Tag8& client_tag)
{
	auto n = session_nonce(s.aead, cnt, s.opening_salt);
	if (!n)
		return tl::unexpected(n.error());
	const std::uint32_t cf29 = session_id(CpType::Finished, true, s.pp, cf_cnt) & CAN_EFF_MASK;
	const std::uint32_t sf29 = session_id(CpType::Finished, false, s.pp, cnt) & CAN_EFF_MASK;
	auto tag = tag_only(key, n->view(), server_finished_aad(s, cf29, client_tag, sf29));
	if (!tag)
		return tl::unexpected(tag.error());
	return make_frame(sf29, *tag);
}

MsgResult<void> verify_server_finished(Aead& key, const SessionContext& s, std::uint32_t cf_cnt,
                                       std::uint32_t cnt, const Tag8& client_tag, const CanFrame& f)
{
	auto c = expect(f, ControlKind::ServerFinished, kTagLen);
	if (!c)
		return tl::unexpected(c.error());
	if (auto ok = check_session_id(*c, s, cnt); !ok)
		return tl::unexpected(ok.error());
	auto n = session_nonce(s.aead, cnt, s.opening_salt);
	if (!n)
		return tl::unexpected(n.error());
	const std::uint32_t cf29 = session_id(CpType::Finished, true, s.pp, cf_cnt) & CAN_EFF_MASK;
	return verify_tag_only(key, n->view(),
	                       server_finished_aad(s, cf29, client_tag, f.can_id & CAN_EFF_MASK),
	                       tag_at(f, 0));
}

// ---- Register access -------------------------------------------------------------------------

MsgResult<CanFrame> seal_session_message(Aead& key, const SessionContext& s, CpType type,
                                         bool request, std::uint32_t cnt, Bytes plaintext)
{
	if (plaintext.size() + kTagLen > 64)
		return err(MsgErrc::PayloadTooLong);
	if (session_kind(type, request) == ControlKind::SecurityEvent || type == CpType::Hello ||
	    type == CpType::Finished)
		return err(MsgErrc::WrongKind);
	auto n = session_nonce(s.aead, cnt, s.opening_salt);
	if (!n)
		return tl::unexpected(n.error());
	const std::uint32_t id29 = session_id(type, request, s.pp, cnt) & CAN_EFF_MASK;
	std::array<std::uint8_t, 64> d{};
	std::copy(plaintext.begin(), plaintext.end(), d.begin());
	const auto ct = std::span<std::uint8_t>(d).first(plaintext.size());
	const auto tag = std::span<std::uint8_t, kTagLen>(d.data() + plaintext.size(), kTagLen);
	// AAD = LE32(CAN ID) (spsec_participant register_read_init.c: `(uint8_t*)&address`, 4).
	if (!key.seal(n->view(), le32_bytes(id29), ct, tag))
		return err(MsgErrc::CryptoFailure);
	return make_frame(id29, std::span<const std::uint8_t>(d).first(plaintext.size() + kTagLen));
}

MsgResult<std::vector<std::uint8_t>>
open_session_message(Aead& key, const SessionContext& s, CpType type, bool request,
                     std::uint32_t cnt, std::size_t plaintext_len, const CanFrame& f)
{
	if (plaintext_len + kTagLen > 64)
		return err(MsgErrc::TooShort);
	if (type == CpType::Hello || type == CpType::Finished)
		return err(MsgErrc::WrongKind);
	auto c = expect(f, session_kind(type, request), plaintext_len + kTagLen);
	if (!c)
		return tl::unexpected(c.error());
	if (auto ok = check_session_id(*c, s, cnt); !ok)
		return tl::unexpected(ok.error());
	auto n = session_nonce(s.aead, cnt, s.opening_salt);
	if (!n)
		return tl::unexpected(n.error());
	std::vector<std::uint8_t> pt(f.data.begin(),
	                             f.data.begin() + static_cast<std::ptrdiff_t>(plaintext_len));
	const Tag8 tag = tag_at(f, plaintext_len);
	auto r = key.open(n->view(), le32_bytes(f.can_id & CAN_EFF_MASK), pt, tag);
	if (!r)
		return err(MsgErrc::CryptoFailure);
	if (!*r) {
		secure_wipe(pt.data(), pt.size());
		return err(MsgErrc::BadTag);
	}
	return pt;
}

std::array<std::uint8_t, 8> encode_register_init(const RegisterInit& m) noexcept
{
	std::array<std::uint8_t, 8> p{m.reg, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0};
	put_le32(p.data() + 4, m.length);
	return p;
}

MsgResult<RegisterInit> decode_register_init(Bytes p)
{
	if (p.size() != 8)
		return err(MsgErrc::BadLength);
	if (p[1] != 0xFF || p[2] != 0xFF || p[3] != 0xFF)
		return err(MsgErrc::BadFiller);
	return RegisterInit{p[0], get_le32(p.data() + 4)};
}

std::array<std::uint8_t, 4> encode_write_status(std::uint8_t status) noexcept
{
	return {status, 0xFF, 0xFF, 0xFF};
}

MsgResult<std::uint8_t> decode_write_status(Bytes p)
{
	if (p.size() != 4)
		return err(MsgErrc::BadLength);
	if (p[1] != 0xFF || p[2] != 0xFF || p[3] != 0xFF)
		return err(MsgErrc::BadFiller);
	return p[0];
}

// ---- Internal plane --------------------------------------------------------------------------

CanFrame encode_internal_event(const InternalEvent& m)
{
	std::array<std::uint8_t, 5> d{m.reg, 0, 0, 0, 0};
	put_le32(d.data() + 1, m.value);
	return make_frame(internal_event_id(m.pp) & CAN_EFF_MASK, d);
}

MsgResult<InternalEvent> decode_internal_event(const CanFrame& f)
{
	auto c = expect(f, ControlKind::InternalEvent, 5);
	if (!c)
		return tl::unexpected(c.error());
	return InternalEvent{c->id.pp, f.data[0], get_le32(f.data.data() + 1)};
}

}  // namespace spsec
