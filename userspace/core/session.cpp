// SPDX-License-Identifier: Apache-2.0
#include "core/session.h"

#include <algorithm>

#include "core/key_schedule.h"

namespace spsec {

namespace {

SessionEvent security_event(std::uint16_t code)
{
	SessionEvent e;
	e.kind = SessionEvent::Kind::SecurityEvent;
	e.code = code;
	return e;
}

SessionEvent reg_event(SessionEvent::Kind k, std::uint8_t r)
{
	SessionEvent e;
	e.kind = k;
	e.reg = r;
	return e;
}

SessionEvent refusal_event(std::uint8_t r, RegStatus s, bool write)
{
	SessionEvent e;
	e.kind = SessionEvent::Kind::AccessRefused;
	e.reg = r;
	e.status = s;
	e.write = write;
	return e;
}

// True when a request at cnt + 1 and its response at cnt + 2 stay below the wrap margin.
bool counter_room(std::uint32_t cnt) noexcept
{
	return static_cast<std::uint64_t>(cnt) + 2 < kSessionCounterLimit;
}

std::uint8_t key_register(KeySlotId s) noexcept
{
	return static_cast<std::uint8_t>(reg::kProvisioningKey + static_cast<std::uint8_t>(s));
}

// Session Key and AEAD for one session. Errors only on OpenSSL failure.
Result<std::unique_ptr<Aead>> session_aead(AeadKind kind, const Key32& opening, const Random16& cr,
                                           const Random16& sr)
{
	auto sk = derive_session_key(opening, cr, sr);
	if (!sk)
		return tl::unexpected(sk.error());
	return Aead::create(kind, *sk);
}

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

void wipe_vec(std::vector<std::uint8_t>& v) noexcept
{
	if (!v.empty())
		secure_wipe(v.data(), v.size());
	v.clear();
}

}  // namespace

std::string_view session_event_kind_name(SessionEvent::Kind k) noexcept
{
	using K = SessionEvent::Kind;
	switch (k) {
	case K::SecurityEvent:
		return "security_event";
	case K::EnterConfiguration:
		return "enter_configuration";
	case K::ExitConfiguration:
		return "exit_configuration";
	case K::RegisterRead:
		return "register_read";
	case K::RegisterWritten:
		return "register_written";
	case K::KeyInstalled:
		return "key_installed";
	case K::ManufacturerReset:
		return "manufacturer_reset";
	case K::AccessRefused:
		return "access_refused";
	case K::StagedKeyDiscarded:
		return "staged_key_discarded";
	case K::KeyStaged:
		return "key_staged";
	}
	return "unknown";
}

// ---- SessionServer ---------------------------------------------------------------------------

// The register operation between an Init and its Segment(s).
struct SessionServer::Pending {
	bool write = false;
	std::uint8_t reg = 0;
	std::uint32_t length = 0;           // write: announced length
	RegStatus refused = RegStatus::Ok;  // write: refusal decided at WriteInit
	std::vector<std::uint8_t> data;     // read: the bytes to send; write: received so far
	~Pending() { wipe_vec(data); }
};

SessionServer::SessionServer(std::uint8_t pp, AeadKind aead, SessionRng rng, SessionTimeouts t)
    : pp_(pp), aead_kind_(aead), rng_(std::move(rng)), timeouts_(t)
{
}

SessionServer::~SessionServer() = default;
SessionServer::SessionServer(SessionServer&&) noexcept = default;
SessionServer& SessionServer::operator=(SessionServer&&) noexcept = default;

void SessionServer::reset_session(ServerOutput& out, const char* reason, bool was_configuration)
{
	key_.reset();
	pending_.reset();
	if (auto slot = stage_.slot()) {
		out.events.push_back(
		        reg_event(SessionEvent::Kind::StagedKeyDiscarded, key_register(*slot)));
		stage_.clear();
	}
	if (was_configuration) {
		SessionEvent e;
		e.kind = SessionEvent::Kind::ExitConfiguration;
		e.reason = reason;
		out.events.push_back(std::move(e));
	}
	ctx_ = SessionContext{};
	cnt_ = 0;
	state_ = State::Idle;
}

ServerOutput SessionServer::on_frame(const CanFrame& f, std::uint64_t now,
                                     const RegisterStore& store)
{
	ServerOutput out;
	auto c = classify_control_id(f.can_id);
	// Only requests addressed to this node concern the server.
	if (!c || !c->id.to_dest || c->id.pp != pp_)
		return out;
	switch (c->kind) {
	case ControlKind::ClientHello:
		on_client_hello(f, now, store, out);
		break;
	case ControlKind::ClientFinished:
		on_client_finished(f, now, out);
		break;
	case ControlKind::ReadInitRequest:
	case ControlKind::ReadSegRequest:
	case ControlKind::WriteInitRequest:
	case ControlKind::WriteSegRequest:
	case ControlKind::TerminateRequest:
		// Outside a session there is no key to verify them with: nothing to refuse.
		if (state_ == State::Configuration)
			on_request(c->kind, f, now, store, out);
		break;
	default:
		break;
	}
	return out;
}

void SessionServer::on_client_hello(const CanFrame& f, std::uint64_t now,
                                    const RegisterStore& store, ServerOutput& out)
{
	auto h = decode_client_hello(f);
	if (!h)
		return;
	const auto opening = opening_key_from_selector(h->selector);
	if (state_ == State::Configuration) {
		// The reference's configuration loop ignores Hellos. [choice] Except that a Hello
		// for a key this node holds ends an open Zero-Key session on a node that holds
		// keys: that session is unauthenticated and read-only there, so nothing is lost,
		// and a keyless attacker cannot lock the owner's Configurator out by holding one
		// open.
		const bool keyed =
		        opening && *opening != OpeningKey::Zero &&
		        store.key(*opening == OpeningKey::Provisioning ? KeySlotId::Provisioning
		                                                       : KeySlotId::Integrator)
		                .present;
		if (!(opening_ == OpeningKey::Zero && store.holds_any_key() && keyed))
			return;
		reset_session(out, "preempted", true);
	}
	// Selector 13 (Seed) never opens sessions; others are not session keys at all.
	if (!opening) {
		out.events.push_back(security_event(event_code::kSessionKeyNotFound));
		return;
	}
	Key32 zero;
	const Key32* key = &zero;
	KeySalt salt{};
	if (*opening != OpeningKey::Zero) {
		const auto& slot =
		        store.key(*opening == OpeningKey::Provisioning ? KeySlotId::Provisioning
		                                                       : KeySlotId::Integrator);
		if (!slot.present) {
			out.events.push_back(security_event(event_code::kSessionKeyNotFound));
			return;
		}
		key = &slot.material();
		salt = slot.salt;
	}
	Random16 sr{};
	rng_(sr);
	auto aead = session_aead(aead_kind_, *key, h->client_random, sr);
	if (!aead)
		return;  // OpenSSL failure: no session, nothing sent
	// A Hello during a pending handshake replaces it (both are unauthenticated).
	pending_.reset();
	stage_.clear();
	key_ = std::move(*aead);
	ctx_ = SessionContext{aead_kind_, pp_, h->selector, h->client_random, sr, salt};
	cnt_ = session_initial_counter(h->client_random, sr);
	opening_ = *opening;
	finished_failures_ = 0;
	state_ = State::AwaitClientFinished;
	hello_at_ = now;
	out.frames.push_back(encode_server_hello(ServerHello{pp_, sr}));
}

void SessionServer::on_client_finished(const CanFrame& f, std::uint64_t now, ServerOutput& out)
{
	if (state_ != State::AwaitClientFinished) {
		// A Finished with no handshake to finish: a replay or an injection.
		out.events.push_back(security_event(event_code::kSessionFinishedAuth));
		return;
	}
	if (!counter_room(cnt_)) {
		reset_session(out, "counter_exhausted", false);
		return;
	}
	auto tag = verify_client_finished(*key_, ctx_, cnt_ + 1, f);
	if (!tag) {
		// Wrong key, replayed or forged: refused. The handshake stays pending so an
		// injected frame cannot kill a genuine one; it ends at the response timeout, or
		// after kMaxFinishedFailures refusals.
		out.events.push_back(security_event(event_code::kSessionFinishedAuth));
		if (++finished_failures_ >= kMaxFinishedFailures)
			reset_session(out, "", false);
		return;
	}
	auto sf = make_server_finished(*key_, ctx_, cnt_ + 1, cnt_ + 2, *tag);
	if (!sf) {
		reset_session(out, "", false);
		return;
	}
	cnt_ += 2;
	state_ = State::Configuration;
	last_activity_ = now;
	out.frames.push_back(*sf);
	out.events.push_back(reg_event(SessionEvent::Kind::EnterConfiguration, 0));
}

bool SessionServer::respond(CpType type, std::span<const std::uint8_t> plaintext, ServerOutput& out)
{
	auto fr = seal_session_message(*key_, ctx_, type, false, cnt_ + 1, plaintext);
	if (!fr)
		return false;
	cnt_ += 1;
	out.frames.push_back(*fr);
	return true;
}

void SessionServer::on_request(ControlKind kind, const CanFrame& f, std::uint64_t now,
                               const RegisterStore& store, ServerOutput& out)
{
	if (!counter_room(cnt_)) {
		reset_session(out, "counter_exhausted", true);
		return;
	}
	CpType type = CpType::Terminate;
	std::size_t len = 0;
	switch (kind) {
	case ControlKind::ReadInitRequest:
		type = CpType::ReadInit;
		len = 8;
		break;
	case ControlKind::ReadSegRequest:
		type = CpType::ReadSeg;
		break;
	case ControlKind::WriteInitRequest:
		type = CpType::WriteInit;
		len = 8;
		break;
	case ControlKind::WriteSegRequest:
		type = CpType::WriteSeg;
		if (!pending_ || !pending_->write) {
			// Without a WriteInit its length is unknown, so it cannot verify.
			out.events.push_back(security_event(event_code::kSessionMessageAuth));
			return;
		}
		len = std::min<std::size_t>(pending_->length - pending_->data.size(),
		                            kMaxWriteSegment);
		break;
	default:
		break;
	}
	auto p = open_session_message(*key_, ctx_, type, true, cnt_ + 1, len, f);
	if (!p) {
		// Bad tag, counter low byte not the next one (replay/reorder), malformed: refused,
		// and neither the counter nor any pending operation moves.
		out.events.push_back(security_event(event_code::kSessionMessageAuth));
		return;
	}
	cnt_ += 1;
	last_activity_ = now;
	std::vector<std::uint8_t>& pt = *p;

	switch (type) {
	case CpType::ReadInit: {
		pending_.reset();
		auto init = decode_register_init(pt);
		const std::uint8_t r = init ? init->reg : pt[0];
		auto data = init ? store.read(r, opening_)
		                 : RegResult<std::vector<std::uint8_t>>(
		                           tl::unexpected(RegStatus::BadLength));
		std::uint32_t answer = 0;
		if (data) {
			answer = static_cast<std::uint32_t>(data->size());
			if (!data->empty()) {
				pending_ = std::make_unique<Pending>();
				pending_->reg = r;
				pending_->data = std::move(*data);
			} else {
				out.events.push_back(
				        reg_event(SessionEvent::Kind::RegisterRead, r));
			}
		} else {
			answer = kRefusedLengthMask | static_cast<std::uint8_t>(data.error());
			out.events.push_back(refusal_event(r, data.error(), false));
		}
		const auto resp = encode_register_init(RegisterInit{r, answer});
		if (!respond(CpType::ReadInit, resp, out))
			reset_session(out, "counter_exhausted", true);
		break;
	}
	case CpType::ReadSeg: {
		std::vector<std::uint8_t> data;
		std::uint8_t r = 0;
		if (pending_ && !pending_->write) {
			data = std::move(pending_->data);
			r = pending_->reg;
		}
		pending_.reset();
		const bool ok = respond(CpType::ReadSeg, data, out);
		if (ok && r != 0)
			out.events.push_back(reg_event(SessionEvent::Kind::RegisterRead, r));
		wipe_vec(data);
		if (!ok)
			reset_session(out, "counter_exhausted", true);
		break;
	}
	case CpType::WriteInit: {
		pending_.reset();
		auto init = decode_register_init(pt);
		const std::uint8_t r = init ? init->reg : pt[0];
		auto pend = std::make_unique<Pending>();
		pend->write = true;
		pend->reg = r;
		if (!init) {
			pend->refused = RegStatus::BadLength;
		} else if (auto ok = store.check_write_access(r, opening_, init->length); !ok) {
			pend->refused = ok.error();
		}
		std::uint32_t answer = init ? init->length : 0;
		if (pend->refused != RegStatus::Ok) {
			out.events.push_back(refusal_event(r, pend->refused, true));
			answer = kRefusedLengthMask | static_cast<std::uint8_t>(pend->refused);
			// A Configurator that ignores the refusal still gets a status per segment.
			pend->length = init ? std::min<std::uint32_t>(init->length, 4096) : 0;
		} else {
			pend->length = init->length;
		}
		if (pend->length == 0)
			pend->length = 1;  // keep a WriteSeg verifiable; it gets the refusal
		pending_ = std::move(pend);
		const auto resp = encode_register_init(RegisterInit{r, answer});
		if (!respond(CpType::WriteInit, resp, out))
			reset_session(out, "counter_exhausted", true);
		break;
	}
	case CpType::WriteSeg: {
		Pending& w = *pending_;
		w.data.insert(w.data.end(), pt.begin(), pt.end());
		RegStatus status = w.refused;
		bool done = w.data.size() >= w.length || status != RegStatus::Ok;
		if (status == RegStatus::Ok && done) {
			if (key_slot_of_register(w.reg)) {
				if (auto a = stage_.add(w.reg, w.data); !a) {
					status = a.error();
				} else if (stage_.complete()) {
					auto change = stage_.take();
					RegisterStore next = store;
					if (auto ok = next.apply_key_change(*change, opening_);
					    !ok) {
						status = ok.error();
					} else {
						out.commit = std::move(next);
						out.events.push_back(
						        reg_event(SessionEvent::Kind::KeyInstalled,
						                  key_register(change->slot)));
					}
				} else {
					out.events.push_back(
					        reg_event(SessionEvent::Kind::KeyStaged, w.reg));
				}
			} else {
				RegisterStore next = store;
				if (auto ok = next.write(w.reg, opening_, w.data); !ok) {
					status = ok.error();
				} else {
					out.commit = std::move(next);
					out.events.push_back(reg_event(
					        w.reg == reg::kManufacturerReset
					                ? SessionEvent::Kind::ManufacturerReset
					                : SessionEvent::Kind::RegisterWritten,
					        w.reg));
				}
			}
			if (status != RegStatus::Ok)
				out.events.push_back(refusal_event(w.reg, status, true));
		}
		wipe_vec(pt);
		if (done)
			pending_.reset();
		const auto resp = encode_write_status(static_cast<std::uint8_t>(status));
		if (!respond(CpType::WriteSeg, resp, out)) {
			out.commit.reset();  // never commit what cannot be acknowledged
			reset_session(out, "counter_exhausted", true);
		}
		break;
	}
	default: {  // Terminate
		const bool ok = respond(CpType::Terminate, {}, out);
		reset_session(out, ok ? "terminate" : "counter_exhausted", true);
		break;
	}
	}
}

ServerOutput SessionServer::on_tick(std::uint64_t now)
{
	ServerOutput out;
	if (state_ == State::AwaitClientFinished && now - hello_at_ >= timeouts_.response_ns) {
		// After a refused ClientFinished (5E02h already reported) the timeout is its
		// consequence, not a second event.
		if (finished_failures_ == 0)
			out.events.push_back(security_event(event_code::kSessionResponseTimeout));
		reset_session(out, "", false);
	} else if (state_ == State::Configuration && now - last_activity_ >= timeouts_.session_ns) {
		out.events.push_back(security_event(event_code::kSessionTimeout));
		reset_session(out, "session_timeout", true);
	}
	return out;
}

std::optional<std::uint64_t> SessionServer::next_deadline() const noexcept
{
	switch (state_) {
	case State::AwaitClientFinished:
		return hello_at_ + timeouts_.response_ns;
	case State::Configuration:
		return last_activity_ + timeouts_.session_ns;
	case State::Idle:
		break;
	}
	return std::nullopt;
}

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
