// SPDX-License-Identifier: Apache-2.0
#include "core/session_client.h"

#include <algorithm>

#include "core/session_detail.h"

namespace spsec {

using namespace session_detail;

namespace {

// "seed-key (23h)"
std::string reg_label(std::uint8_t r)
{
	static constexpr char kHex[] = "0123456789ABCDEF";
	const auto* info = find_register(r);
	std::string s = info ? std::string(info->cli_name) : std::string("register");
	s += " (";
	s += kHex[r >> 4];
	s += kHex[r & 0xF];
	s += "h)";
	return s;
}

}  // namespace

// ---- SessionClient ---------------------------------------------------------------------------

SessionClient::SessionClient(ClientConfig cfg, SessionRng rng)
    : cfg_(std::move(cfg)), rng_(std::move(rng))
{
}

SessionClient::~SessionClient()
{
	wipe();
	for (auto& op : cfg_.ops)
		wipe_vec(op.data);
}

SessionClient::SessionClient(SessionClient&&) noexcept = default;
SessionClient& SessionClient::operator=(SessionClient&&) noexcept = default;

void SessionClient::wipe() noexcept
{
	key_.reset();
	ctx_ = SessionContext{};
	client_tag_ = {};
}

ClientOutput SessionClient::start(std::uint64_t now)
{
	ClientOutput out;
	if (state_ != State::Idle)
		return out;
	Random16 cr{};
	rng_(cr);
	ctx_.client_random = cr;
	ctx_.selector = static_cast<std::uint8_t>(cfg_.opening);
	out.frames.push_back(encode_client_hello(ClientHello{cfg_.pp, ctx_.selector, cr}));
	state_ = State::AwaitServerHello;
	deadline_ = now + cfg_.timeouts.response_ns;
	return out;
}

void SessionClient::fail(std::uint16_t code, std::string msg, bool terminate, ClientOutput& out,
                         std::uint64_t now)
{
	if (terminate && key_) {
		pending_error_ = ClientError{code, std::move(msg)};
		if (send(CpType::Terminate, {}, out, now))
			return;
		error_ = pending_error_;
	} else {
		error_ = ClientError{code, std::move(msg)};
	}
	state_ = State::Failed;
	wipe();
}

bool SessionClient::send(CpType type, std::span<const std::uint8_t> plaintext, ClientOutput& out,
                         std::uint64_t now)
{
	if (!counter_room(cnt_)) {
		error_ = ClientError{0, "session counter within 1000 of wrapping: session ended"};
		state_ = State::Failed;
		wipe();
		return false;
	}
	auto fr = seal_session_message(*key_, ctx_, type, true, cnt_ + 1, plaintext);
	if (!fr) {
		error_ = ClientError{0, to_error(fr.error(), "sealing a session request").context};
		state_ = State::Failed;
		wipe();
		return false;
	}
	cnt_ += 1;
	if (cfg_.unpadded)  // ciphertext || tag and nothing after, as python-can sends on vcan
		fr->len = static_cast<std::uint8_t>(plaintext.size() + kTagLen);
	out.frames.push_back(*fr);
	deadline_ = now + cfg_.timeouts.response_ns;
	state_ = type == CpType::Terminate ? State::AwaitTerminate : State::AwaitResponse;
	return true;
}

void SessionClient::next_op(ClientOutput& out, std::uint64_t now)
{
	if (op_ >= cfg_.ops.size()) {
		send(CpType::Terminate, {}, out, now);
		return;
	}
	const SessionOp& op = cfg_.ops[op_];
	if (op.kind == SessionOp::Kind::Read) {
		step_ = Step::ReadInit;
		const auto p = encode_register_init(RegisterInit{op.reg, op.max_len});
		send(CpType::ReadInit, p, out, now);
		return;
	}
	if (op.data.empty()) {
		fail(0,
		     describe_refusal(op.reg, true, RegStatus::BadLength) + " (no data to write)",
		     true, out, now);
		return;
	}
	step_ = Step::WriteInit;
	written_ = 0;
	const auto p = encode_register_init(
	        RegisterInit{op.reg, static_cast<std::uint32_t>(op.data.size())});
	send(CpType::WriteInit, p, out, now);
}

ClientOutput SessionClient::on_frame(const CanFrame& f, std::uint64_t now)
{
	ClientOutput out;
	if (state_ == State::Idle || finished())
		return out;
	auto c = classify_control_id(f.can_id);
	// Responses name their source: the participant being configured.
	if (!c || c->id.to_dest || c->id.pp != cfg_.pp)
		return out;

	if (state_ == State::AwaitServerHello) {
		if (c->kind != ControlKind::ServerHello)
			return out;
		auto h = decode_server_hello(f);
		if (!h)
			return out;
		auto aead = session_aead(cfg_.aead, cfg_.key, ctx_.client_random, h->server_random);
		if (!aead) {
			fail(0, "deriving the Session Key: " + aead.error().context, false, out,
			     now);
			return out;
		}
		key_ = std::move(*aead);
		ctx_ = SessionContext{cfg_.aead,          cfg_.pp,          ctx_.selector,
		                      ctx_.client_random, h->server_random, cfg_.salt};
		cnt0_ = session_initial_counter(ctx_.client_random, h->server_random);
		if (!counter_room(cnt0_)) {
			fail(0, "session counter within 1000 of wrapping: session refused", false,
			     out, now);
			return out;
		}
		auto cf = make_client_finished(*key_, ctx_, cnt0_ + 1);
		if (!cf) {
			fail(0, to_error(cf.error(), "ClientFinished").context, false, out, now);
			return out;
		}
		std::copy_n(cf->data.begin(), client_tag_.size(), client_tag_.begin());
		out.frames.push_back(*cf);
		state_ = State::AwaitServerFinished;
		deadline_ = now + cfg_.timeouts.response_ns;
		return out;
	}
	if (state_ == State::AwaitServerFinished) {
		if (c->kind != ControlKind::ServerFinished)
			return out;
		if (!verify_server_finished(*key_, ctx_, cnt0_ + 1, cnt0_ + 2, client_tag_, f)) {
			// A forged or replayed ServerFinished: ignored, the genuine one may still
			// come.
			last_refusal_ = event_code::kSessionFinishedAuth;
			out.events.push_back(security_event(event_code::kSessionFinishedAuth));
			return out;
		}
		cnt_ = cnt0_ + 2;
		op_ = 0;
		next_op(out, now);
		return out;
	}
	on_response(c->kind, f, now, out);
	return out;
}

void SessionClient::on_response(ControlKind kind, const CanFrame& f, std::uint64_t now,
                                ClientOutput& out)
{
	CpType type = CpType::Terminate;
	std::size_t len = 0;
	ControlKind want = ControlKind::TerminateResponse;
	if (state_ == State::AwaitResponse) {
		switch (step_) {
		case Step::ReadInit:
			type = CpType::ReadInit;
			want = ControlKind::ReadInitResponse;
			len = 8;
			break;
		case Step::ReadSeg:
			type = CpType::ReadSeg;
			want = ControlKind::ReadSegResponse;
			len = read_len_;
			break;
		case Step::WriteInit:
			type = CpType::WriteInit;
			want = ControlKind::WriteInitResponse;
			len = 8;
			break;
		case Step::WriteSeg:
			type = CpType::WriteSeg;
			want = ControlKind::WriteSegResponse;
			len = 4;
			break;
		}
	}
	if (kind != want) {
		if (kind == ControlKind::ServerHello || kind == ControlKind::ServerFinished)
			return;  // a late handshake frame: not part of this exchange
		last_refusal_ = event_code::kSessionMessageAuth;
		out.events.push_back(security_event(event_code::kSessionMessageAuth));
		return;
	}
	auto p = open_session_message(*key_, ctx_, type, false, cnt_ + 1, len, f);
	if (!p) {
		last_refusal_ = event_code::kSessionMessageAuth;
		out.events.push_back(security_event(event_code::kSessionMessageAuth));
		return;
	}
	cnt_ += 1;
	last_refusal_ = 0;

	if (state_ == State::AwaitTerminate) {
		if (pending_error_) {
			error_ = std::move(pending_error_);
			state_ = State::Failed;
		} else {
			state_ = State::Done;
		}
		wipe();
		return;
	}
	SessionOp& op = cfg_.ops[op_];
	switch (step_) {
	case Step::ReadInit:
	case Step::WriteInit: {
		const bool write = step_ == Step::WriteInit;
		auto init = decode_register_init(*p);
		if (!init || init->reg != op.reg) {
			fail(event_code::kSessionMessageAuth,
			     std::string(write ? "write " : "read ") + reg_label(op.reg) +
			             ": Init response malformed or for another register (5E05h)",
			     true, out, now);
			return;
		}
		if ((init->length & kRefusedLengthMask) == kRefusedLengthMask) {
			fail(0,
			     "participant refused " +
			             describe_refusal(op.reg, write,
			                              static_cast<RegStatus>(init->length & 0xFFu)),
			     true, out, now);
			return;
		}
		if (!write) {
			if (init->length == 0) {
				results_.push_back(OpResult{op.reg, false, {}});
				op_++;
				next_op(out, now);
				return;
			}
			if (init->length > op.max_len || init->length > kMaxStringRegister) {
				fail(0,
				     "read " + reg_label(op.reg) + ": participant announced " +
				             std::to_string(init->length) + " bytes, more than " +
				             std::to_string(op.max_len),
				     true, out, now);
				return;
			}
			read_len_ = init->length;
			step_ = Step::ReadSeg;
			send(CpType::ReadSeg, {}, out, now);
			return;
		}
		if (init->length != op.data.size()) {
			fail(0, describe_refusal(op.reg, true, RegStatus::BadLength), true, out,
			     now);
			return;
		}
		step_ = Step::WriteSeg;
		const std::size_t n = std::min(kMaxWriteSegment, op.data.size());
		send(CpType::WriteSeg, std::span<const std::uint8_t>(op.data).first(n), out, now);
		return;
	}
	case Step::ReadSeg:
		results_.push_back(OpResult{op.reg, false, std::move(*p)});
		op_++;
		next_op(out, now);
		return;
	case Step::WriteSeg: {
		auto st = decode_write_status(*p);
		if (!st) {
			fail(0, "write: malformed WriteSeg response", true, out, now);
			return;
		}
		if (*st != 0) {
			fail(0,
			     "participant refused " +
			             describe_refusal(op.reg, true, static_cast<RegStatus>(*st)),
			     true, out, now);
			return;
		}
		written_ += std::min(kMaxWriteSegment, op.data.size() - written_);
		if (written_ < op.data.size()) {
			const std::size_t n = std::min(kMaxWriteSegment, op.data.size() - written_);
			send(CpType::WriteSeg,
			     std::span<const std::uint8_t>(op.data).subspan(written_, n), out, now);
			return;
		}
		results_.push_back(OpResult{op.reg, true, {}});
		op_++;
		next_op(out, now);
		return;
	}
	}
}

ClientOutput SessionClient::on_tick(std::uint64_t now)
{
	ClientOutput out;
	const auto d = next_deadline();
	if (!d || now < *d)
		return out;
	const std::string who = "participant " + std::to_string(cfg_.pp);
	switch (state_) {
	case State::AwaitServerHello:
		fail(event_code::kSessionResponseTimeout,
		     "no ServerHello from " + who +
		             " within the response timeout (5E03h); it may not hold the " +
		             std::string(opening_key_name(cfg_.opening)) + " key (5E01h there)",
		     false, out, now);
		break;
	case State::AwaitServerFinished:
		if (last_refusal_ == event_code::kSessionFinishedAuth)
			fail(event_code::kSessionFinishedAuth,
			     "ServerFinished from " + who + " did not verify (5E02h)", false, out,
			     now);
		else
			fail(event_code::kSessionResponseTimeout,
			     "no ServerFinished from " + who +
			             " within the response timeout (5E03h): it refused the "
			             "ClientFinished "
			             "(wrong " +
			             std::string(opening_key_name(cfg_.opening)) + " key?)",
			     false, out, now);
		break;
	case State::AwaitResponse:
	case State::AwaitTerminate: {
		if (state_ == State::AwaitTerminate && pending_error_) {
			error_ = std::move(pending_error_);
		} else {
			const std::uint16_t code = last_refusal_ == event_code::kSessionMessageAuth
			                                   ? event_code::kSessionMessageAuth
			                                   : event_code::kSessionResponseTimeout;
			std::string what =
			        state_ == State::AwaitTerminate
			                ? std::string("Terminate")
			                : (cfg_.ops[op_].kind == SessionOp::Kind::Write ? "write "
			                                                                : "read ") +
			                          reg_label(cfg_.ops[op_].reg);
			error_ = ClientError{
			        code, "no valid response from " + who + " to " + what +
			                      (code == event_code::kSessionMessageAuth
			                               ? " (a response did not verify, 5E05h)"
			                               : " within the response timeout (5E03h)")};
		}
		state_ = State::Failed;
		wipe();
		break;
	}
	default:
		break;
	}
	return out;
}

std::optional<std::uint64_t> SessionClient::next_deadline() const noexcept
{
	switch (state_) {
	case State::AwaitServerHello:
	case State::AwaitServerFinished:
	case State::AwaitResponse:
	case State::AwaitTerminate:
		return deadline_;
	default:
		break;
	}
	return std::nullopt;
}

}  // namespace spsec
