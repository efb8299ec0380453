// SPDX-License-Identifier: Apache-2.0
// The SPsec external control plane (spec §5): the CAN ID layout, classification of received
// control-plane IDs, and a codec for every message, plus the security event codes (spec §7) and
// register addresses (spec §6). Pure: frames in, frames out; the caller owns sockets and timers.
//
// Control-plane CAN ID (29-bit, always CAN_EFF_FLAG on the wire):
//   bits 28..26 priority | 25 = 1 | 24 = 0 | 23..16 context | 15..8 type | 7 dest | 6..0 pp
//   bit 7 = 1: pp addresses the destination; 0: pp names the source.
//
// Frames (can-utils notation, IDs are 8 hex digits; pp = 5, all randoms 00 01 02 ... 0F):
//   PA request       0AFF0805##0 000102030405060708090A0B0C0D0E0F
//   PA response      06230885##0 <LE64 tim> <csalt 4> <tag 8>                  (20 bytes)
//   Sync broadcast   02210900##0 <stamped: LE64(T) 00 00, S = 20>
//   Heartbeat        12020A05##0 <stamped: FF FF, S = 12>    (status 02h = Secure in 23..16)
//   ClientHello      1EFF0085##0 0EFFFFFF 000102...0F     (selector 0Eh = Integrator Key)
//   ServerHello      1EFF0005##0 <server_random 16>
//   ClientFinished   1E<cnt8>0185##0 <tag 8>        ServerFinished 1E<cnt8>0105##0 <tag 8>
//   ReadInit req.    1E<cnt8>0285##0 <ct 8> <tag 8>  (plaintext reg FF FF FF LE32(length))
//   Internal event   1E000C05##0 <reg> <LE32 value>
// Where the spec is terse, the byte layouts follow the reference implementation: cited at each
// function as repo:path (hso-esk/spsec_common, hso-esk/spsec_can_protocol,
// hso-esk/spsec_participant).
//
// Decoders never throw and return a MsgError whose code names the failure class; no decoder
// releases plaintext of a message whose tag failed. Frames produced here are CAN FD frames
// (fd = true) with flags 0 (the daemon may OR in CANFD_BRS), padded to a valid CAN FD length
// with 00 bytes after the tag. Decoders accept any CAN FD length from the message's own up to
// 64, valid DLC length or not (python-can on vcan/vxcan sends frames unpadded, e.g. a 40-byte
// WriteSeg), read the tag right after the (ciphertext) fields and ignore trailing bytes, as the
// reference does (spsec_can_protocol protocol_register.c checks only `len >= need`).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "core/aead.h"
#include "core/can_frame.h"
#include "core/key_schedule.h"
#include "core/secret.h"
#include "core/stamp.h"
#include "core/timestamp.h"
#include "spsec/abi.h"
#include "spsec/result.h"

namespace spsec {

// ---- Security event codes (spec §7, register 51h) --------------------------------------------
namespace event_code {
inline constexpr std::uint16_t kSessionKeyNotFound = 0x5E01;
inline constexpr std::uint16_t kSessionFinishedAuth = 0x5E02;
inline constexpr std::uint16_t kSessionResponseTimeout = 0x5E03;
inline constexpr std::uint16_t kSessionTimeout = 0x5E04;
inline constexpr std::uint16_t kSessionMessageAuth = 0x5E05;
inline constexpr std::uint16_t kPaAuthFailure = 0xFE00;
inline constexpr std::uint16_t kPaTimeout = 0xFE01;
inline constexpr std::uint16_t kSyncAuthFailure = 0xFE0E;
inline constexpr std::uint16_t kSyncAbort = 0xFE0F;
inline constexpr std::uint16_t kDataAuthFailure = 0xEE00;
inline constexpr std::uint16_t kHeartbeatMissingBase = 0xEF00;  // + pp
inline constexpr std::uint16_t kRxOverrun = 0xDE01;
inline constexpr std::uint16_t kTxOverrun = 0xDE02;
inline constexpr std::uint16_t kInjection = 0xDE03;
inline constexpr std::uint16_t kDuplicate = 0xDE04;
}  // namespace event_code

// EF00h + pp. pp must be 1..127.
[[nodiscard]] constexpr std::uint16_t heartbeat_missing_event(std::uint8_t pp) noexcept
{
	return static_cast<std::uint16_t>(event_code::kHeartbeatMissingBase | (pp & 0x7Fu));
}
// "session_key_not_found", ..., "heartbeat_missing" (for EF01h..EF7Fh), "unknown".
[[nodiscard]] std::string_view event_code_name(std::uint16_t code) noexcept;

// ---- Registers (spec §6) ---------------------------------------------------------------------
namespace reg {
inline constexpr std::uint8_t kProvisioningKey = 0x21;
inline constexpr std::uint8_t kIntegratorKey = 0x22;
inline constexpr std::uint8_t kSeedKey = 0x23;
inline constexpr std::uint8_t kProvisioningSalt = 0x31;
inline constexpr std::uint8_t kIntegratorSalt = 0x32;
inline constexpr std::uint8_t kSeedSalt = 0x33;
inline constexpr std::uint8_t kProvisioningKeyId = 0x41;
inline constexpr std::uint8_t kIntegratorKeyId = 0x42;
inline constexpr std::uint8_t kSeedKeyId = 0x43;
inline constexpr std::uint8_t kStatus = 0x50;
inline constexpr std::uint8_t kLastEvent = 0x51;
inline constexpr std::uint8_t kCoreVersion = 0x58;
inline constexpr std::uint8_t kMappingVersion = 0x59;
inline constexpr std::uint8_t kParticipantId = 0x60;
inline constexpr std::uint8_t kHeartbeatTiming = 0x61;
inline constexpr std::uint8_t kHeartbeatMonitor = 0x62;
inline constexpr std::uint8_t kSyncRole = 0x63;
inline constexpr std::uint8_t kBitRate = 0x7B;
inline constexpr std::uint8_t kManufacturerReset = 0x7F;
inline constexpr std::uint8_t kDeviceId = 0x81;
inline constexpr std::uint8_t kSerialNumber = 0x82;
}  // namespace reg
inline constexpr std::uint32_t kManufacturerResetValue = 0x1D04E5E1;

// Key selectors of ClientHello (spec §3).
namespace selector {
inline constexpr std::uint8_t kZero = 1;
inline constexpr std::uint8_t kSession = 2;
inline constexpr std::uint8_t kEvenComm = 3;
inline constexpr std::uint8_t kOddComm = 4;
inline constexpr std::uint8_t kParamAuth = 5;
inline constexpr std::uint8_t kSeed = 13;
inline constexpr std::uint8_t kIntegrator = 14;
inline constexpr std::uint8_t kProvisioning = 15;
}  // namespace selector

// ---- Errors ----------------------------------------------------------------------------------
enum class MsgErrc : std::uint8_t {
	NotExtended = 1,   // not a 29-bit frame, or an RTR / error frame
	NotControlPlane,   // bit 25 clear: a data-plane ID
	ReservedBit,       // bit 24 set
	UnknownType,       // message type not in the spec §5 list
	WrongPriority,     // priority does not match the message type
	WrongContext,      // fixed context byte (FFh, 23h, 21h) does not match
	WrongDirection,    // bit 7 / pp combination impossible for this type
	WrongKind,         // a valid control-plane ID, but not the message this decoder reads
	WrongParticipant,  // pp is not the expected participant
	CounterMismatch,   // ID bits 23..16 are not the low byte of the expected session counter
	NotFd,             // a classical CAN frame where a CAN FD frame is required
	TooShort,          // fewer data bytes than the message needs
	BadLength,         // more than 64 (CAN FD) or 8 (classical) data bytes, or plaintext
	                   // length wrong
	BadFiller,         // FF filler bytes are not FF
	BadTag,            // authentication tag mismatch
	StampRejected,     // a stamped message failed open_frame(); see MsgError::stamp_reason
	BadPayload,        // authenticated payload has the wrong content (heartbeat not FF FF)
	ZeroTime,          // a timestamp of 0 (T is never 0)
	CounterExhausted,  // session counter within 1000 of wrapping (spec §5)
	PayloadTooLong,    // encoder: plaintext does not fit a 64-byte frame with its tag
	CryptoFailure,     // OpenSSL failed (not an authentication failure)
};

struct MsgError {
	MsgErrc code = MsgErrc::BadLength;
	std::uint32_t stamp_reason = 0;  // SPSEC_R_RX_* when code == StampRejected, else 0
	friend bool operator==(const MsgError&, const MsgError&) = default;
};

template <class T> using MsgResult = tl::expected<T, MsgError>;

// "not_extended", "bad_tag", ... (stable names for logs and tests).
[[nodiscard]] std::string_view msg_errc_name(MsgErrc code) noexcept;
// spsec::Error for the daemon's log: "<what>: <name> (<description>)".
[[nodiscard]] Error to_error(const MsgError& e, std::string_view what);

// ---- CAN ID layout ---------------------------------------------------------------------------
enum class CpType : std::uint8_t {
	Hello = 0,
	Finished = 1,
	ReadInit = 2,
	ReadSeg = 3,
	WriteInit = 4,
	WriteSeg = 5,
	Terminate = 6,
	ParamAuth = 8,
	Sync = 9,
	Heartbeat = 10,
	Event = 11,
	InternalEvent = 12,
	InternalRead = 13,
};

struct ControlId {
	std::uint8_t priority = 0;  // 0..7, 0 highest
	std::uint8_t context = 0;   // bits 23..16
	CpType type = CpType::Hello;
	bool to_dest = false;  // bit 7: pp is the destination
	std::uint8_t pp = 0;   // 0..127
	friend bool operator==(const ControlId&, const ControlId&) = default;
};

// The 29-bit ID value (no CAN_EFF_FLAG). Fields are masked to their widths.
[[nodiscard]] constexpr std::uint32_t encode_control_id(const ControlId& c) noexcept
{
	return (static_cast<std::uint32_t>(c.priority & 7u) << 26) | SPSEC_CTRL_BIT |
	       (static_cast<std::uint32_t>(c.context) << 16) |
	       (static_cast<std::uint32_t>(c.type) << 8) | (c.to_dest ? 0x80u : 0u) |
	       (c.pp & 0x7Fu);
}

// Decodes a kernel can_id (with CAN_EFF_FLAG). Errors: NotExtended, NotControlPlane,
// ReservedBit, UnknownType.
[[nodiscard]] MsgResult<ControlId> decode_control_id(std::uint32_t can_id) noexcept;

enum class ControlKind : std::uint8_t {
	PaRequest,
	PaResponse,
	SyncBroadcast,
	Heartbeat,
	ClientHello,
	ServerHello,
	ClientFinished,
	ServerFinished,
	ReadInitRequest,
	ReadInitResponse,
	ReadSegRequest,
	ReadSegResponse,
	WriteInitRequest,
	WriteInitResponse,
	WriteSegRequest,
	WriteSegResponse,
	TerminateRequest,
	TerminateResponse,
	SecurityEvent,  // type 11 (not specified further; classified, no codec)
	InternalEvent,
	InternalRead,  // type 13 (not specified further; classified, no codec)
};
[[nodiscard]] std::string_view control_kind_name(ControlKind k) noexcept;

struct Classified {
	ControlKind kind = ControlKind::PaRequest;
	ControlId id;
};

// Classifies a received control-plane can_id. Beyond decode_control_id's errors: WrongPriority,
// WrongContext (FFh for Hello and PA request, 23h for PA response, 21h for Sync), WrongDirection
// (PA response and session requests address a destination; PA request, Sync, heartbeat,
// responses and internal events name a source; the Sync broadcast has pp = 0; other pp are
// 1..127).
//   0x8AFF0805 (EFF | 0x0AFF0805) -> PaRequest, pp 5
//   0x9E050385                    -> ReadSegRequest, pp 5, context (counter) 05h
[[nodiscard]] MsgResult<Classified> classify_control_id(std::uint32_t can_id) noexcept;

// Kernel can_ids of the fixed messages (with CAN_EFF_FLAG).
[[nodiscard]] std::uint32_t pa_request_id(std::uint8_t pp) noexcept;   // 0x0AFF0800 | pp
[[nodiscard]] std::uint32_t pa_response_id(std::uint8_t pp) noexcept;  // 0x06230880 | pp
[[nodiscard]] std::uint32_t sync_broadcast_id() noexcept;              // 0x02210900
[[nodiscard]] std::uint32_t heartbeat_id(std::uint8_t pp, std::uint8_t status) noexcept;
[[nodiscard]] std::uint32_t internal_event_id(std::uint8_t pp) noexcept;  // 0x1E000C00 | pp
// Session messages: 0x1E000000 | cnt8 << 16 | type << 8 | (0x80 for requests) | pp. Hello
// messages use context FFh instead of the counter.
[[nodiscard]] std::uint32_t session_id(CpType type, bool request, std::uint8_t pp,
                                       std::uint32_t cnt) noexcept;

using Random16 = std::array<std::uint8_t, 16>;
using Tag8 = std::array<std::uint8_t, kTagLen>;

// ---- Parameter Authentication ----------------------------------------------------------------
struct PaRequest {
	std::uint8_t pp = 0;  // requesting participant
	Random16 random{};
};
[[nodiscard]] CanFrame encode_pa_request(const PaRequest& m);
// Errors: classify errors, WrongKind, NotFd, TooShort, BadLength.
[[nodiscard]] MsgResult<PaRequest> decode_pa_request(const CanFrame& f);

struct PaResponse {
	std::uint8_t pp = 0;    // destination participant
	std::uint64_t tim = 0;  // the Sync's T
	CommSalt csalt{};
	Tag8 tag{};
};
[[nodiscard]] CanFrame encode_pa_response(const PaResponse& m);
// Errors: as decode_pa_request, plus ZeroTime. Does not verify the tag (verify_pa_response).
[[nodiscard]] MsgResult<PaResponse> decode_pa_response(const CanFrame& f);

// AAD = rnd(16) || LE64(tim) || csalt(4) || LE32(0x00230880 | pp)   (spec §5)
[[nodiscard]] std::array<std::uint8_t, 32> pa_response_aad(const Random16& rnd, std::uint64_t tim,
                                                           const CommSalt& csalt, std::uint8_t pp);

// The Sync side: K_pa = HKDF(seed, rnd[0..11] || LE64(tim) || csalt) (key_schedule.h), tag =
// first 8 bytes of AEAD(K_pa, nonce = 12 (AES-GCM, ChaCha20) or 16 (Ascon) zero bytes, empty
// plaintext, the AAD above). Errors: OpenSSL failure.
[[nodiscard]] Result<PaResponse> make_pa_response(AeadKind aead, const Key32& seed,
                                                  const Random16& rnd, std::uint8_t pp,
                                                  std::uint64_t tim, const CommSalt& csalt);
// The participant side: recomputes the tag for the request's `rnd` and compares in constant
// time. Errors: BadTag, CryptoFailure.
[[nodiscard]] MsgResult<void> verify_pa_response(AeadKind aead, const Key32& seed,
                                                 const Random16& rnd, const PaResponse& m);

// ---- Sync broadcast and Secure heartbeat (stamped frames, stamp.h) ---------------------------
// Sync broadcast: plaintext LE64(T) || LE16(correction); the Sync stamps it with the same T.
// Errors: seal_frame's (T = 0, AEAD failure).
[[nodiscard]] Result<CanFrame> seal_sync_broadcast(Aead& comm_key, const StampParams& params,
                                                   std::uint64_t t, std::uint16_t correction = 0);
struct SyncBroadcast {
	std::uint64_t t = 0;           // T in the payload
	std::uint16_t correction = 0;  // LE16 after it (0 from compliant Syncs)
	std::uint64_t frame_t = 0;     // the frame's reconstructed stamp T
};
// Opens a received Sync broadcast: ID check (WrongKind, WrongDirection), then open_frame()
// (StampRejected with the reason), then the plaintext: 10 bytes (BadLength), T != 0 (ZeroTime).
// `fresh`, when given, enforces the forward-only watermark (spec §5) via open_frame's freshness.
[[nodiscard]] MsgResult<SyncBroadcast> open_sync_broadcast(const OpenParams& params,
                                                           const CanFrame& f, std::uint64_t local_t,
                                                           const KeyLookup& keys,
                                                           FreshnessTable* fresh = nullptr);

// Heartbeat: ID 0x12000A00 | status << 16 | pp, plaintext FF FF.
[[nodiscard]] Result<CanFrame> seal_heartbeat(Aead& comm_key, const StampParams& params,
                                              std::uint8_t pp, std::uint8_t status,
                                              std::uint64_t t);
struct Heartbeat {
	std::uint8_t pp = 0;
	std::uint8_t status = 0;  // the sender's register 50h
	std::uint64_t t = 0;      // reconstructed stamp T
};
// Errors: classify errors, WrongKind, StampRejected, BadPayload (not FF FF), and
// StampRejected/SPSEC_R_RX_REPLAY from the freshness check. Freshness is keyed by the heartbeat
// ID with the status bits cleared (heartbeat_id(pp, 0)), so a status change does not open a
// replay window for old heartbeats of another status.
[[nodiscard]] MsgResult<Heartbeat> open_heartbeat(const OpenParams& params, const CanFrame& f,
                                                  std::uint64_t local_t, const KeyLookup& keys,
                                                  FreshnessTable* fresh = nullptr);

// ---- Configurator session: Hello -------------------------------------------------------------
struct ClientHello {
	std::uint8_t pp = 0;  // the participant addressed
	std::uint8_t selector = 0;
	Random16 client_random{};
};
// Data: selector, FF, FF, FF || client_random (20 bytes) (spec_common messages_handshake.c).
[[nodiscard]] CanFrame encode_client_hello(const ClientHello& m);
// Errors: classify errors, WrongKind, NotFd, TooShort, BadLength, BadFiller.
[[nodiscard]] MsgResult<ClientHello> decode_client_hello(const CanFrame& f);

struct ServerHello {
	std::uint8_t pp = 0;  // the participant answering (source)
	Random16 server_random{};
};
[[nodiscard]] CanFrame encode_server_hello(const ServerHello& m);
[[nodiscard]] MsgResult<ServerHello> decode_server_hello(const CanFrame& f);

// ---- Configurator session: crypto ------------------------------------------------------------
// What both ends know after the Hellos. The Aead passed to the functions below must be keyed with
// the Session Key (derive_session_key in key_schedule.h).
struct SessionContext {
	AeadKind aead = AeadKind::AesGcm;
	std::uint8_t pp = 0;        // the participant (server)
	std::uint8_t selector = 0;  // from ClientHello
	Random16 client_random{};
	Random16 server_random{};
	KeySalt opening_salt{};  // pre-shared salt of the key named by the selector
};

// cnt0 = LE32(client_random[0..3] XOR server_random[0..3]) (spec_common messages_handshake.c
// calculate_shared_cnt). ClientFinished uses cnt0 + 1, ServerFinished cnt0 + 2, then every
// request and every response the next value (spsec_participant session_loops_common.c).
[[nodiscard]] std::uint32_t session_initial_counter(const Random16& client_random,
                                                    const Random16& server_random) noexcept;

// The last counter value that may be used: the reference refuses cnt >= 2^32 - 1 - 1000
// (spec_common messages_core.c, SESSION_CNT_WRAP_MARGIN).
inline constexpr std::uint32_t kSessionCounterLimit = 0xFFFFFFFFu - 1000u;

// Session nonce: LE32(cnt) || opening_salt(8) || 00 00 00 00. AES-GCM and Ascon use all 16
// bytes, ChaCha20-Poly1305 the first 12. Errors: CounterExhausted (cnt >= kSessionCounterLimit).
struct SessionNonce {
	std::array<std::uint8_t, 16> bytes{};
	std::uint8_t len = 16;
	[[nodiscard]] std::span<const std::uint8_t> view() const noexcept
	{
		return std::span<const std::uint8_t>(bytes).first(len);
	}
};
[[nodiscard]] MsgResult<SessionNonce> session_nonce(AeadKind aead, std::uint32_t cnt,
                                                    const KeySalt& opening_salt) noexcept;

// ClientFinished AAD: selector, FF, FF, FF || client_random || server_random || LE32(CF ID)
[[nodiscard]] std::array<std::uint8_t, 40> client_finished_aad(const SessionContext& s,
                                                               std::uint32_t cf_id29);
// ServerFinished AAD: LE32(CF ID) || client_random || server_random || client_tag ||
// LE32(SF ID)   (spsec_participant session_handshake.c prepare_server_finished_assoc_data)
[[nodiscard]] std::array<std::uint8_t, 48> server_finished_aad(const SessionContext& s,
                                                               std::uint32_t cf_id29,
                                                               const Tag8& client_tag,
                                                               std::uint32_t sf_id29);

// Client side. `cnt` is cnt0 + 1. Errors: CounterExhausted, CryptoFailure.
[[nodiscard]] MsgResult<CanFrame> make_client_finished(Aead& session_key, const SessionContext& s,
                                                       std::uint32_t cnt);
// Server side: checks the ID (ClientFinished for s.pp with cnt's low byte) and the tag.
// Returns the client's tag (input to the ServerFinished AAD). Errors: classify errors,
// WrongKind, WrongParticipant, CounterMismatch, TooShort, BadLength, BadTag, CounterExhausted,
// CryptoFailure.
[[nodiscard]] MsgResult<Tag8> verify_client_finished(Aead& session_key, const SessionContext& s,
                                                     std::uint32_t cnt, const CanFrame& f);
// Server side. `cnt` is cnt0 + 2; `cf_cnt` the ClientFinished counter (cnt0 + 1).
[[nodiscard]] MsgResult<CanFrame> make_server_finished(Aead& session_key, const SessionContext& s,
                                                       std::uint32_t cf_cnt, std::uint32_t cnt,
                                                       const Tag8& client_tag);
// Client side. Errors: as verify_client_finished.
[[nodiscard]] MsgResult<void> verify_server_finished(Aead& session_key, const SessionContext& s,
                                                     std::uint32_t cf_cnt, std::uint32_t cnt,
                                                     const Tag8& client_tag, const CanFrame& f);

// ---- Configurator session: register access ---------------------------------------------------
// Read/Write Init, Segments, Terminate: data = AEAD ciphertext || tag(8), AAD = LE32(29-bit CAN
// ID), nonce from cnt. Plaintexts (spsec_common messages_register.c):
//   Read/Write Init request and response   reg, FF, FF, FF, LE32(length)      (8 bytes)
//   ReadSeg request                        empty (tag only)
//   ReadSeg response                       register data
//   WriteSeg request                       register data (1, 2, 4, 8, 16 or 32 bytes)
//   WriteSeg response                      status, FF, FF, FF                 (4 bytes)
//   Terminate request and response         empty (tag only)
// The reference Configurator (canopens_configurator_python protocol_can.py) takes a ReadSeg
// response's data length from the frame length (len - 8), so a server should answer with segment
// sizes whose size + 8 is a valid CAN FD length (4, 8, 12, 16, 24, 40 or 56 bytes) and let a
// shorter last segment be padded; the ReadInit response announces the total length.
// Errors: PayloadTooLong (plaintext > 56 bytes), CounterExhausted, CryptoFailure.
[[nodiscard]] MsgResult<CanFrame> seal_session_message(Aead& session_key, const SessionContext& s,
                                                       CpType type, bool request, std::uint32_t cnt,
                                                       std::span<const std::uint8_t> plaintext);
// Checks the ID (kind of `type`/`request`, s.pp, cnt's low byte), that at least
// `plaintext_len` + 8 bytes are present, and the tag; returns the plaintext. Errors: classify
// errors, WrongKind, WrongParticipant, CounterMismatch, NotFd, TooShort, BadTag,
// CounterExhausted, CryptoFailure.
[[nodiscard]] MsgResult<std::vector<std::uint8_t>>
open_session_message(Aead& session_key, const SessionContext& s, CpType type, bool request,
                     std::uint32_t cnt, std::size_t plaintext_len, const CanFrame& f);

struct RegisterInit {
	std::uint8_t reg = 0;
	std::uint32_t length = 0;  // bytes to read / write
	friend bool operator==(const RegisterInit&, const RegisterInit&) = default;
};
[[nodiscard]] std::array<std::uint8_t, 8> encode_register_init(const RegisterInit& m) noexcept;
// Errors: BadLength (not 8 bytes), BadFiller.
[[nodiscard]] MsgResult<RegisterInit> decode_register_init(std::span<const std::uint8_t> p);
[[nodiscard]] std::array<std::uint8_t, 4> encode_write_status(std::uint8_t status) noexcept;
// Errors: BadLength (not 4 bytes), BadFiller.
[[nodiscard]] MsgResult<std::uint8_t> decode_write_status(std::span<const std::uint8_t> p);

// ---- Internal plane --------------------------------------------------------------------------
struct InternalEvent {
	std::uint8_t pp = 0;  // this node
	std::uint8_t reg = 0;
	std::uint32_t value = 0;
	friend bool operator==(const InternalEvent&, const InternalEvent&) = default;
};
// Data: reg || LE32(value) (spec_common messages.h SPsecInternalEventMessage).
[[nodiscard]] CanFrame encode_internal_event(const InternalEvent& m);
// Errors: classify errors, WrongKind, TooShort, BadLength. Classical frames are accepted (5 bytes
// fit one).
[[nodiscard]] MsgResult<InternalEvent> decode_internal_event(const CanFrame& f);

}  // namespace spsec
