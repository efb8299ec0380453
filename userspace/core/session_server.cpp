// SPDX-License-Identifier: Apache-2.0
#include "core/session_server.h"

#include <algorithm>

#include "core/session_detail.h"

namespace spsec {

using namespace session_detail;

namespace {

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

std::uint8_t key_register(KeySlotId s) noexcept
{
	return static_cast<std::uint8_t>(reg::kProvisioningKey + static_cast<std::uint8_t>(s));
}

}  // namespace

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
	switch (kind) {
	case ControlKind::ReadInitRequest:
		on_read_init(f, now, store, out);
		break;
	case ControlKind::ReadSegRequest:
		on_read_seg(f, now, out);
		break;
	case ControlKind::WriteInitRequest:
		on_write_init(f, now, store, out);
		break;
	case ControlKind::WriteSegRequest:
		on_write_seg(f, now, store, out);
		break;
	default:
		on_terminate(f, now, out);
		break;
	}
}

std::optional<std::vector<std::uint8_t>> SessionServer::open_request(CpType type, std::size_t len,
                                                                     const CanFrame& f,
                                                                     std::uint64_t now,
                                                                     ServerOutput& out)
{
	auto p = open_session_message(*key_, ctx_, type, true, cnt_ + 1, len, f);
	if (!p) {
		// Bad tag, counter low byte not the next one (replay/reorder), malformed: refused,
		// and neither the counter nor any pending operation moves.
		out.events.push_back(security_event(event_code::kSessionMessageAuth));
		return std::nullopt;
	}
	cnt_ += 1;
	last_activity_ = now;
	return std::move(*p);
}

std::optional<SessionServer::InitRequest>
SessionServer::open_init(CpType type, const CanFrame& f, std::uint64_t now, ServerOutput& out)
{
	auto p = open_request(type, 8, f, now, out);
	if (!p)
		return std::nullopt;
	// A new Init ends whatever operation was pending.
	pending_.reset();
	auto init = decode_register_init(*p);
	InitRequest req;
	req.reg = init ? init->reg : (*p)[0];
	if (init)
		req.init = *init;
	return req;
}

void SessionServer::on_read_init(const CanFrame& f, std::uint64_t now, const RegisterStore& store,
                                 ServerOutput& out)
{
	auto req = open_init(CpType::ReadInit, f, now, out);
	if (!req)
		return;
	const auto& init = req->init;
	const std::uint8_t r = req->reg;
	auto data =
	        init ? store.read(r, opening_)
	             : RegResult<std::vector<std::uint8_t>>(tl::unexpected(RegStatus::BadLength));
	std::uint32_t answer = 0;
	if (data) {
		answer = static_cast<std::uint32_t>(data->size());
		if (!data->empty()) {
			pending_ = std::make_unique<Pending>();
			pending_->reg = r;
			pending_->data = std::move(*data);
		} else {
			out.events.push_back(reg_event(SessionEvent::Kind::RegisterRead, r));
		}
	} else {
		answer = kRefusedLengthMask | static_cast<std::uint8_t>(data.error());
		out.events.push_back(refusal_event(r, data.error(), false));
	}
	const auto resp = encode_register_init(RegisterInit{r, answer});
	if (!respond(CpType::ReadInit, resp, out))
		reset_session(out, "counter_exhausted", true);
}

void SessionServer::on_read_seg(const CanFrame& f, std::uint64_t now, ServerOutput& out)
{
	if (!open_request(CpType::ReadSeg, 0, f, now, out))
		return;
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
}

void SessionServer::on_write_init(const CanFrame& f, std::uint64_t now, const RegisterStore& store,
                                  ServerOutput& out)
{
	auto req = open_init(CpType::WriteInit, f, now, out);
	if (!req)
		return;
	const auto& init = req->init;
	const std::uint8_t r = req->reg;
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
}

void SessionServer::on_write_seg(const CanFrame& f, std::uint64_t now, const RegisterStore& store,
                                 ServerOutput& out)
{
	if (!pending_ || !pending_->write) {
		// Without a WriteInit its length is unknown, so it cannot verify.
		out.events.push_back(security_event(event_code::kSessionMessageAuth));
		return;
	}
	const std::size_t len =
	        std::min<std::size_t>(pending_->length - pending_->data.size(), kMaxWriteSegment);
	auto p = open_request(CpType::WriteSeg, len, f, now, out);
	if (!p)
		return;
	std::vector<std::uint8_t>& pt = *p;
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
				if (auto ok = next.apply_key_change(*change, opening_); !ok) {
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
				out.events.push_back(
				        reg_event(w.reg == reg::kManufacturerReset
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
}

void SessionServer::on_terminate(const CanFrame& f, std::uint64_t now, ServerOutput& out)
{
	if (!open_request(CpType::Terminate, 0, f, now, out))
		return;
	const bool ok = respond(CpType::Terminate, {}, out);
	reset_session(out, ok ? "terminate" : "counter_exhausted", true);
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

}  // namespace spsec
