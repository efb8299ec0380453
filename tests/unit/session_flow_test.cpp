// SPDX-License-Identifier: Apache-2.0
// Configurator sessions end to end: a SessionClient and a SessionServer wired back to back in
// memory, for each AEAD, and every attack a session must refuse: wrong key, replayed
// ClientFinished, replayed / reordered / counter-mismatched requests, timeouts, forbidden writes,
// the Provisioning Key written twice, key registers read, Zero-Key reads outside the list. Each
// refusal is checked to change nothing (RegisterStore, server state and counter compared).
#include <catch2/catch.hpp>

#include <algorithm>
#include <deque>
#include <memory>

#include <linux/can.h>

#include "core/hex.h"
#include "core/key_schedule.h"
#include "core/messages.h"
#include "core/session.h"

using namespace spsec;

namespace {

constexpr std::uint8_t kPp = 5;
constexpr std::uint64_t kMs = 1'000'000;

// Deterministic RNG: the `prefix` bytes first, then first, first+1, ...
SessionRng seq_rng(std::uint8_t first, std::vector<std::uint8_t> prefix = {})
{
	struct State {
		std::deque<std::uint8_t> prefix;
		std::uint8_t next;
	};
	auto st = std::make_shared<State>(State{{prefix.begin(), prefix.end()}, first});
	return [st](std::span<std::uint8_t> b) {
		for (auto& x : b) {
			if (!st->prefix.empty()) {
				x = st->prefix.front();
				st->prefix.pop_front();
			} else {
				x = st->next++;
			}
		}
	};
}

Key32 key_of(std::uint8_t b)
{
	std::array<std::uint8_t, 32> a{};
	for (std::size_t i = 0; i < a.size(); i++)
		a[i] = static_cast<std::uint8_t>(b + i);
	return Key32(std::span<const std::uint8_t, 32>(a));
}

KeySalt salt_of(std::uint8_t b)
{
	KeySalt s{};
	for (std::size_t i = 0; i < s.size(); i++)
		s[i] = static_cast<std::uint8_t>(b + i);
	return s;
}

std::vector<std::uint8_t> le32v(std::uint32_t v)
{
	return {static_cast<std::uint8_t>(v), static_cast<std::uint8_t>(v >> 8),
	        static_cast<std::uint8_t>(v >> 16), static_cast<std::uint8_t>(v >> 24)};
}

std::vector<std::uint8_t> bytes_of(const Key32& k)
{
	return {k.expose().begin(), k.expose().end()};
}

// The commissioning material.
constexpr std::uint32_t kProvId = 0x1001, kIntId = 0x2002, kSeedId = 0x3003;
Key32 prov_key()
{
	return key_of(0x10);
}
Key32 int_key()
{
	return key_of(0x20);
}
Key32 seed_key()
{
	return key_of(0x30);
}
const KeySalt kProvSalt = salt_of(0x90), kIntSalt = salt_of(0xA0), kSeedSalt = salt_of(0xB0);

// Writes of one complete key: key register, its salt, its ID.
std::vector<SessionOp> install(std::uint8_t key_reg, const Key32& k, const KeySalt& s,
                               std::uint32_t id)
{
	return {SessionOp::write(key_reg, bytes_of(k)),
	        SessionOp::write(static_cast<std::uint8_t>(key_reg + 0x10), {s.begin(), s.end()}),
	        SessionOp::write(static_cast<std::uint8_t>(key_reg + 0x20), le32v(id))};
}

RegisterStore factory_store()
{
	DeviceInfo d;
	d.core_version = "spsec-linux 0.1";
	d.mapping_version = "canfd-1";
	d.device_id = "node-5";
	d.serial.fill(0x5A);
	return RegisterStore(std::move(d));
}

ClientConfig client_cfg(AeadKind k, OpeningKey o, Key32 key, KeySalt salt,
                        std::vector<SessionOp> ops)
{
	ClientConfig c;
	c.pp = kPp;
	c.aead = k;
	c.opening = o;
	c.key = std::move(key);
	c.salt = salt;
	c.ops = std::move(ops);
	return c;
}

ClientConfig zero_cfg(AeadKind k, std::vector<SessionOp> ops)
{
	return client_cfg(k, OpeningKey::Zero, Key32(), KeySalt{}, std::move(ops));
}

// A frame on its way: return nullopt to drop it, or a (modified) frame to deliver.
using Tamper = std::function<std::optional<CanFrame>(const CanFrame&, bool to_server)>;

struct Node {
	explicit Node(AeadKind k, std::uint8_t rng_first = 0xC0)
	    : aead(k), server(kPp, k, seq_rng(rng_first))
	{
	}
	AeadKind aead;
	RegisterStore store = factory_store();
	SessionServer server;
	std::vector<SessionEvent> events;
	std::uint64_t now = 1'000 * kMs;

	void apply(ServerOutput& o)
	{
		if (o.commit)
			store = std::move(*o.commit);
		events.insert(events.end(), o.events.begin(), o.events.end());
	}
	ServerOutput deliver(const CanFrame& f)
	{
		auto o = server.on_frame(f, now, store);
		apply(o);
		return o;
	}
	bool saw(std::uint16_t code) const
	{
		for (const auto& e : events) {
			if (e.kind == SessionEvent::Kind::SecurityEvent && e.code == code)
				return true;
		}
		return false;
	}
	bool saw(SessionEvent::Kind k) const
	{
		for (const auto& e : events) {
			if (e.kind == k)
				return true;
		}
		return false;
	}
};

struct Trace {
	std::vector<CanFrame> to_server, to_client;
	std::vector<SessionEvent> client_events;
};

// Runs a client against the node until both are quiet; if the client still waits, time
// advances to its deadline (a timeout) and both are ticked.
Trace run(Node& n, SessionClient& c, const Tamper& tamper = {})
{
	Trace t;
	std::deque<std::pair<CanFrame, bool>> q;
	auto push = [&q](const std::vector<CanFrame>& fs, bool to_server) {
		for (const auto& f : fs)
			q.emplace_back(f, to_server);
	};
	push(c.start(n.now).frames, true);
	for (int guard = 0; guard < 2000; guard++) {
		if (q.empty()) {
			if (c.finished())
				break;
			const auto d = c.next_deadline();
			REQUIRE(d);
			n.now = std::max(n.now, *d);
			auto so = n.server.on_tick(n.now);
			n.apply(so);
			auto co = c.on_tick(n.now);
			t.client_events.insert(t.client_events.end(), co.events.begin(),
			                       co.events.end());
			push(so.frames, false);
			push(co.frames, true);
			continue;
		}
		auto [f, to_server] = q.front();
		q.pop_front();
		n.now += kMs;
		std::optional<CanFrame> g =
		        tamper ? tamper(f, to_server) : std::optional<CanFrame>(f);
		if (!g)
			continue;
		if (to_server) {
			t.to_server.push_back(*g);
			push(n.deliver(*g).frames, false);
		} else {
			t.to_client.push_back(*g);
			auto co = c.on_frame(*g, n.now);
			t.client_events.insert(t.client_events.end(), co.events.begin(),
			                       co.events.end());
			push(co.frames, true);
		}
	}
	REQUIRE(c.finished());
	return t;
}

std::string err_msg(const SessionClient& c)
{
	return c.error() ? c.error()->message : std::string("<no error>");
}

// Commissions a factory-fresh node up to an installed Integrator Key.
void commission_to_integrator(Node& n)
{
	SessionClient z(
	        zero_cfg(n.aead, install(reg::kProvisioningKey, prov_key(), kProvSalt, kProvId)),
	        seq_rng(0x01));
	run(n, z);
	REQUIRE(z.state() == SessionClient::State::Done);
	SessionClient p(client_cfg(n.aead, OpeningKey::Provisioning, prov_key(), kProvSalt,
	                           install(reg::kIntegratorKey, int_key(), kIntSalt, kIntId)),
	                seq_rng(0x21));
	run(n, p);
	REQUIRE(p.state() == SessionClient::State::Done);
}

ClientConfig integrator_cfg(AeadKind k, std::vector<SessionOp> ops)
{
	return client_cfg(k, OpeningKey::Integrator, int_key(), kIntSalt, std::move(ops));
}

// A frame's ID with the counter byte replaced.
CanFrame with_counter_byte(CanFrame f, std::uint8_t b)
{
	f.can_id = (f.can_id & ~0x00FF0000u) | (static_cast<std::uint32_t>(b) << 16);
	return f;
}

const auto kAeads = {AeadKind::AesGcm, AeadKind::ChaCha20Poly1305, AeadKind::Ascon};

}  // namespace

TEST_CASE("session: commissioning a factory-fresh node", "[session]")
{
	const AeadKind k = GENERATE(values(kAeads));
	CAPTURE(aead_name(k));
	Node n(k);
	n.store.set_status(1);  // Waiting

	// 1. Zero-Key session: discovery reads, then the Provisioning Key with salt and ID.
	std::vector<SessionOp> ops = {
	        SessionOp::read(reg::kStatus),          SessionOp::read(reg::kProvisioningKeyId),
	        SessionOp::read(reg::kIntegratorKeyId), SessionOp::read(reg::kSeedKeyId),
	        SessionOp::read(reg::kCoreVersion),     SessionOp::read(reg::kSerialNumber)};
	for (auto& op : install(reg::kProvisioningKey, prov_key(), kProvSalt, kProvId))
		ops.push_back(std::move(op));
	SessionClient z(zero_cfg(k, std::move(ops)), seq_rng(0x01));
	auto t = run(n, z);
	INFO(err_msg(z));
	REQUIRE(z.state() == SessionClient::State::Done);
	REQUIRE(z.results().size() == 9);
	CHECK(z.results()[0].data == std::vector<std::uint8_t>{1});
	CHECK(z.results()[1].data == le32v(kKeyIdErased));
	CHECK(z.results()[2].data == le32v(kKeyIdErased));
	CHECK(z.results()[4].data ==
	      std::vector<std::uint8_t>(n.store.device().core_version.begin(),
	                                n.store.device().core_version.end()));
	CHECK(z.results()[5].data == std::vector<std::uint8_t>(16, 0x5A));
	CHECK(n.store.key(KeySlotId::Provisioning).present);
	CHECK(n.store.key(KeySlotId::Provisioning).id == kProvId);
	CHECK(n.store.key(KeySlotId::Provisioning).salt == kProvSalt);
	CHECK(ct_equal(n.store.key(KeySlotId::Provisioning).key.expose(), prov_key().expose()));
	CHECK(n.server.state() == SessionServer::State::Idle);
	CHECK(n.saw(SessionEvent::Kind::EnterConfiguration));
	CHECK(n.saw(SessionEvent::Kind::ExitConfiguration));
	CHECK(n.saw(SessionEvent::Kind::KeyInstalled));
	CHECK(n.saw(SessionEvent::Kind::KeyStaged));

	// Golden layout of the first frames (spec §5): ClientHello 1EFF0085, selector 01, FF FF FF,
	// client_random 01..10; ServerHello 1EFF0005 with server_random C0..CF.
	REQUIRE(t.to_server.size() >= 2);
	CHECK(format_can_frame(t.to_server[0]) == "1EFF0085##0"
	                                          "01FFFFFF"
	                                          "0102030405060708090A0B0C0D0E0F10");
	CHECK(format_can_frame(t.to_client[0]) == "1EFF0005##0"
	                                          "C0C1C2C3C4C5C6C7C8C9CACBCCCDCECF");
	// cnt0 = LE32(01 02 03 04 ^ C0 C1 C2 C3) = C7C1C3C1h: ClientFinished carries C2h, the
	// ServerFinished C3h, the first ReadInit request C4h and its response C5h.
	CHECK(t.to_server[1].can_id == (CAN_EFF_FLAG | 0x1EC20185u));
	CHECK(t.to_client[1].can_id == (CAN_EFF_FLAG | 0x1EC30105u));
	CHECK(t.to_server[2].can_id == (CAN_EFF_FLAG | 0x1EC40285u));
	CHECK(t.to_client[2].can_id == (CAN_EFF_FLAG | 0x1EC50205u));
	CHECK(t.to_server[2].len == 16);  // 8 bytes ciphertext + 8 tag
	// The Provisioning Key's WriteSeg request: 32 bytes ciphertext + tag = 40, sent as 48.
	bool saw_key_seg = false;
	for (const auto& f : t.to_server) {
		if (((f.can_id >> 8) & 0xFF) == 5 && f.len == 48)
			saw_key_seg = true;
	}
	CHECK(saw_key_seg);

	// 2. Provisioning-Key session installs the Integrator Key.
	SessionClient p(client_cfg(k, OpeningKey::Provisioning, prov_key(), kProvSalt,
	                           install(reg::kIntegratorKey, int_key(), kIntSalt, kIntId)),
	                seq_rng(0x21));
	run(n, p);
	INFO(err_msg(p));
	REQUIRE(p.state() == SessionClient::State::Done);
	CHECK(n.store.key(KeySlotId::Integrator).present);
	CHECK(n.store.key(KeySlotId::Integrator).id == kIntId);

	// 3. Integrator-Key session: Seed Key + salt + ID, participant ID, heartbeat, read back.
	auto iops = install(reg::kSeedKey, seed_key(), kSeedSalt, kSeedId);
	iops.push_back(SessionOp::write(reg::kParticipantId, {7}));
	iops.push_back(SessionOp::write(reg::kHeartbeatTiming, {4}));
	iops.push_back(SessionOp::write(reg::kHeartbeatMonitor, {1, 2, 3, 0}));
	iops.push_back(SessionOp::read(reg::kParticipantId));
	iops.push_back(SessionOp::read(reg::kSeedKeyId));
	iops.push_back(SessionOp::read(reg::kHeartbeatTiming));
	SessionClient i(integrator_cfg(k, std::move(iops)), seq_rng(0x41));
	run(n, i);
	INFO(err_msg(i));
	REQUIRE(i.state() == SessionClient::State::Done);
	REQUIRE(i.results().size() == 9);
	CHECK(i.results()[6].data == std::vector<std::uint8_t>{7});
	CHECK(i.results()[7].data == le32v(kSeedId));
	CHECK(i.results()[8].data == std::vector<std::uint8_t>{4});
	CHECK(n.store.key(KeySlotId::Seed).present);
	CHECK(n.store.key(KeySlotId::Seed).salt == kSeedSalt);
	CHECK(ct_equal(n.store.key(KeySlotId::Seed).key.expose(), seed_key().expose()));
	CHECK(n.store.config().participant_id == 7);
	CHECK(n.store.config().heartbeat_timing == 4);
	CHECK(n.store.config().heartbeat_monitor == 0x00030201u);

	// Re-keying the Seed Key in a later Integrator session (re-writable).
	SessionClient r(integrator_cfg(k, install(reg::kSeedKey, key_of(0x77), kSeedSalt, 0x3004)),
	                seq_rng(0x61));
	run(n, r);
	REQUIRE(r.state() == SessionClient::State::Done);
	CHECK(n.store.key(KeySlotId::Seed).id == 0x3004u);

	// No security event anywhere in a clean commissioning.
	for (const auto& e : n.events)
		CHECK(e.kind != SessionEvent::Kind::SecurityEvent);
}

TEST_CASE("session: the server and the messages codec agree on the session key", "[session]")
{
	// Independent check of the server's key choice: rebuild the ServerFinished from the
	// messages.h primitives with a Session Key derived here.
	Node n(AeadKind::AesGcm);
	SessionClient z(zero_cfg(AeadKind::AesGcm, {SessionOp::read(reg::kStatus)}), seq_rng(0x01));
	auto t = run(n, z);
	REQUIRE(z.state() == SessionClient::State::Done);
	auto ch = decode_client_hello(t.to_server[0]);
	auto sh = decode_server_hello(t.to_client[0]);
	REQUIRE(ch);
	REQUIRE(sh);
	auto sk = derive_session_key(Key32(), ch->client_random, sh->server_random);
	REQUIRE(sk);
	auto aead = Aead::create(AeadKind::AesGcm, *sk);
	REQUIRE(aead);
	SessionContext ctx{AeadKind::AesGcm, kPp, 1, ch->client_random, sh->server_random, {}};
	const auto cnt0 = session_initial_counter(ch->client_random, sh->server_random);
	auto tag = verify_client_finished(**aead, ctx, cnt0 + 1, t.to_server[1]);
	REQUIRE(tag);
	auto sf = make_server_finished(**aead, ctx, cnt0 + 1, cnt0 + 2, *tag);
	REQUIRE(sf);
	CHECK(*sf == t.to_client[1]);
}

TEST_CASE("session: attacks are refused without changing any state", "[session]")
{
	const AeadKind k = GENERATE(values(kAeads));
	CAPTURE(aead_name(k));
	Node n(k);
	commission_to_integrator(n);
	n.events.clear();

	SECTION("wrong key: 5E02 at the participant, clear error at the Configurator")
	{
		const RegisterStore before = n.store;
		SessionClient c(client_cfg(k, OpeningKey::Integrator, key_of(0x66), kIntSalt,
		                           {SessionOp::write(reg::kParticipantId, {9})}),
		                seq_rng(0x51));
		run(n, c);
		CHECK(c.state() == SessionClient::State::Failed);
		REQUIRE(c.error());
		CHECK(c.error()->code == event_code::kSessionResponseTimeout);
		CHECK(c.error()->message.find("wrong integrator key") != std::string::npos);
		CHECK(n.saw(event_code::kSessionFinishedAuth));
		CHECK_FALSE(n.saw(SessionEvent::Kind::EnterConfiguration));
		CHECK(n.server.state() == SessionServer::State::Idle);
		CHECK(n.store == before);
	}
	SECTION("wrong salt is a wrong key too")
	{
		SessionClient c(client_cfg(k, OpeningKey::Integrator, int_key(), salt_of(0x01), {}),
		                seq_rng(0x51));
		run(n, c);
		CHECK(c.state() == SessionClient::State::Failed);
		CHECK(n.saw(event_code::kSessionFinishedAuth));
	}
	SECTION("replayed ClientFinished")
	{
		// Record a genuine session's ClientFinished, then replay it: into a new handshake
		// (different randoms), while idle, and during a running session.
		SessionClient c1(integrator_cfg(k, {SessionOp::read(reg::kStatus)}), seq_rng(0x51));
		auto t1 = run(n, c1);
		REQUIRE(c1.state() == SessionClient::State::Done);
		const CanFrame old_cf = t1.to_server[1];
		const RegisterStore before = n.store;
		n.events.clear();

		// While idle: 5E02, still idle.
		CHECK(n.deliver(old_cf).frames.empty());
		CHECK(n.saw(event_code::kSessionFinishedAuth));
		CHECK(n.server.state() == SessionServer::State::Idle);

		// Into a new handshake, in place of the genuine one.
		n.events.clear();
		SessionClient c2(integrator_cfg(k, {SessionOp::write(reg::kParticipantId, {9})}),
		                 seq_rng(0x71));
		run(n, c2, [&](const CanFrame& f, bool to_server) -> std::optional<CanFrame> {
			if (to_server && ((f.can_id >> 8) & 0xFF) == 1)
				return old_cf;
			return f;
		});
		CHECK(c2.state() == SessionClient::State::Failed);
		CHECK(n.saw(event_code::kSessionFinishedAuth));
		CHECK_FALSE(n.saw(SessionEvent::Kind::EnterConfiguration));
		CHECK(n.store == before);

		// During a running session: 5E02, the session goes on untouched.
		n.events.clear();
		bool injected = false;
		SessionClient c3(integrator_cfg(k, {SessionOp::read(reg::kStatus),
		                                    SessionOp::write(reg::kHeartbeatTiming, {2})}),
		                 seq_rng(0x91));
		run(n, c3, [&](const CanFrame& f, bool to_server) -> std::optional<CanFrame> {
			if (!injected && n.server.in_configuration()) {
				injected = true;
				const auto cnt = n.server.counter();
				CHECK(n.deliver(old_cf).frames.empty());
				CHECK(n.server.counter() == cnt);
				CHECK(n.server.in_configuration());
			}
			(void)to_server;
			return f;
		});
		CHECK(injected);
		CHECK(n.saw(event_code::kSessionFinishedAuth));
		CHECK(c3.state() == SessionClient::State::Done);
		CHECK(n.store.config().heartbeat_timing == 2);
	}
	SECTION("replayed, reordered and counter-mismatched requests")
	{
		std::vector<CanFrame> reqs;
		std::optional<RegisterStore> mid;
		std::uint32_t mid_cnt = 0;
		int attacks = 0;
		SessionClient c(integrator_cfg(k, {SessionOp::write(reg::kParticipantId, {9}),
		                                   SessionOp::write(reg::kHeartbeatTiming, {3}),
		                                   SessionOp::read(reg::kParticipantId)}),
		                seq_rng(0x51));
		run(n, c, [&](const CanFrame& f, bool to_server) -> std::optional<CanFrame> {
			if (!to_server || !n.server.in_configuration())
				return f;
			// Before each genuine request: replay every earlier request, then the
			// genuine one with a wrong counter byte. All refused with 5E05h, nothing
			// moves.
			const RegisterStore before = n.store;
			const auto cnt = n.server.counter();
			for (const auto& old : reqs) {
				n.events.clear();
				CHECK(n.deliver(old).frames.empty());
				CHECK(n.saw(event_code::kSessionMessageAuth));
				attacks++;
			}
			for (std::uint8_t delta : std::initializer_list<std::uint8_t>{1, 2, 0xFF}) {
				const auto b = static_cast<std::uint8_t>(((f.can_id >> 16) & 0xFF) +
				                                         delta);
				n.events.clear();
				CHECK(n.deliver(with_counter_byte(f, b)).frames.empty());
				CHECK(n.saw(event_code::kSessionMessageAuth));
				attacks++;
			}
			CHECK(n.server.counter() == cnt);
			CHECK(n.store == before);
			CHECK(n.server.in_configuration());
			reqs.push_back(f);
			if (!mid && reqs.size() == 3) {
				mid = n.store;
				mid_cnt = cnt;
			}
			return f;
		});
		INFO(err_msg(c));
		CHECK(c.state() == SessionClient::State::Done);
		CHECK(attacks > 10);
		CHECK(mid);
		CHECK(mid_cnt != 0);
		CHECK(n.store.config().participant_id == 9);
		CHECK(n.store.config().heartbeat_timing == 3);
	}
	SECTION("a request sealed at a skipped counter (reordering) is refused")
	{
		// Derive the Session Key from the observed Hellos, as a second Configurator holding
		// the key would, and seal a well-formed request at cnt + 2 instead of cnt + 1.
		std::optional<CanFrame> hello, shello;
		bool tried = false;
		SessionClient c(integrator_cfg(k, {SessionOp::read(reg::kStatus)}), seq_rng(0x51));
		run(n, c, [&](const CanFrame& f, bool to_server) -> std::optional<CanFrame> {
			if (((f.can_id >> 8) & 0xFF) == 0)
				(to_server ? hello : shello) = f;
			if (to_server && !tried && n.server.in_configuration()) {
				tried = true;
				auto ch = decode_client_hello(*hello);
				auto sh = decode_server_hello(*shello);
				auto sk = derive_session_key(int_key(), ch->client_random,
				                             sh->server_random);
				auto aead = Aead::create(k, *sk);
				REQUIRE(aead);
				SessionContext ctx{k,
				                   kPp,
				                   selector::kIntegrator,
				                   ch->client_random,
				                   sh->server_random,
				                   kIntSalt};
				const auto cnt = n.server.counter();
				const auto p = encode_register_init(RegisterInit{reg::kStatus, 56});
				for (std::uint32_t skip : {2u, 3u, 257u}) {
					auto forged = seal_session_message(
					        **aead, ctx, CpType::ReadInit, true, cnt + skip, p);
					REQUIRE(forged);
					n.events.clear();
					CHECK(n.deliver(*forged).frames.empty());
					CHECK(n.saw(event_code::kSessionMessageAuth));
					CHECK(n.server.counter() == cnt);
				}
				// The same construction at cnt + 1 is accepted: the test can fail.
				auto good = seal_session_message(**aead, ctx, CpType::ReadInit,
				                                 true, cnt + 1, p);
				REQUIRE(good);
				CHECK(*good == f);
			}
			return f;
		});
		CHECK(tried);
		CHECK(c.state() == SessionClient::State::Done);
	}
	SECTION("a tampered request (bit flip) is refused")
	{
		bool flipped = false;
		SessionClient c(integrator_cfg(k, {SessionOp::write(reg::kParticipantId, {9})}),
		                seq_rng(0x51));
		const RegisterStore before = n.store;
		run(n, c, [&](const CanFrame& f, bool to_server) -> std::optional<CanFrame> {
			if (to_server && !flipped && ((f.can_id >> 8) & 0xFF) == 5) {
				flipped = true;
				CanFrame g = f;
				g.data[0] ^= 0x01;
				return g;
			}
			return f;
		});
		CHECK(flipped);
		CHECK(n.saw(event_code::kSessionMessageAuth));
		CHECK(c.state() == SessionClient::State::Failed);
		CHECK(c.error()->code == event_code::kSessionResponseTimeout);
		CHECK(n.store == before);
	}
	SECTION("forbidden register writes")
	{
		struct Case {
			OpeningKey o;
			std::uint8_t reg;
			std::vector<std::uint8_t> data;
			RegStatus why;
		};
		std::vector<Case> cases = {
		        {OpeningKey::Integrator, reg::kProvisioningKey, bytes_of(key_of(1)),
		         RegStatus::AccessDenied},
		        {OpeningKey::Integrator, reg::kIntegratorKey, bytes_of(key_of(1)),
		         RegStatus::AccessDenied},
		        {OpeningKey::Provisioning, reg::kIntegratorKey, bytes_of(key_of(1)),
		         RegStatus::AlreadySet},
		        {OpeningKey::Zero, reg::kSeedKey, bytes_of(key_of(1)),
		         RegStatus::AccessDenied},
		        {OpeningKey::Zero, reg::kParticipantId, {9}, RegStatus::AccessDenied},
		        {OpeningKey::Zero, reg::kManufacturerReset, le32v(kManufacturerResetValue),
		         RegStatus::AccessDenied},
		        {OpeningKey::Provisioning, reg::kManufacturerReset,
		         le32v(kManufacturerResetValue), RegStatus::AccessDenied},
		        {OpeningKey::Integrator, reg::kStatus, {0}, RegStatus::ReadOnly},
		        {OpeningKey::Integrator, reg::kParticipantId, {0}, RegStatus::BadValue},
		        {OpeningKey::Integrator, reg::kHeartbeatTiming, {9}, RegStatus::BadValue},
		        {OpeningKey::Integrator, reg::kSyncRole, {2}, RegStatus::BadValue},
		        {OpeningKey::Integrator, reg::kSeedKeyId, le32v(0), RegStatus::BadValue},
		        {OpeningKey::Integrator, reg::kParticipantId, {1, 2}, RegStatus::BadLength},
		        {OpeningKey::Integrator, 0x24, {1}, RegStatus::UnknownRegister},
		};
		std::uint8_t seed = 0x30;
		for (auto& cs : cases) {
			CAPTURE(cs.reg, static_cast<int>(cs.o));
			const RegisterStore before = n.store;
			Key32 key = cs.o == OpeningKey::Zero           ? Key32()
			            : cs.o == OpeningKey::Provisioning ? prov_key()
			                                               : int_key();
			const KeySalt salt = cs.o == OpeningKey::Zero           ? KeySalt{}
			                     : cs.o == OpeningKey::Provisioning ? kProvSalt
			                                                        : kIntSalt;
			n.events.clear();
			SessionClient c(client_cfg(k, cs.o, std::move(key), salt,
			                           {SessionOp::write(cs.reg, cs.data),
			                            SessionOp::read(reg::kStatus)}),
			                seq_rng(seed));
			seed = static_cast<std::uint8_t>(seed + 0x11);
			run(n, c);
			CHECK(c.state() == SessionClient::State::Failed);
			REQUIRE(c.error());
			CHECK(c.error()->message ==
			      "participant refused " + describe_refusal(cs.reg, true, cs.why));
			CHECK(c.results().empty());  // stopped at the first failure
			CHECK(n.store == before);
			CHECK(n.saw(SessionEvent::Kind::AccessRefused));
			// The session was still terminated cleanly.
			CHECK(n.saw(SessionEvent::Kind::ExitConfiguration));
			CHECK(n.server.state() == SessionServer::State::Idle);
		}
	}
	SECTION("the Provisioning Key cannot be written twice")
	{
		const RegisterStore before = n.store;
		SessionClient c(
		        zero_cfg(k, install(reg::kProvisioningKey, key_of(0x55), kProvSalt, 9)),
		        seq_rng(0x51));
		run(n, c);
		CHECK(c.state() == SessionClient::State::Failed);
		CHECK(c.error()->message ==
		      "participant refused write provisioning-key (21h): already_set");
		CHECK(n.store == before);
		CHECK(ct_equal(n.store.key(KeySlotId::Provisioning).key.expose(),
		               prov_key().expose()));
	}
	SECTION("key and salt registers are unreadable, Key IDs are readable")
	{
		for (std::uint8_t r :
		     std::initializer_list<std::uint8_t>{0x21, 0x22, 0x23, 0x31, 0x32, 0x33}) {
			SessionClient c(integrator_cfg(k, {SessionOp::read(r)}), seq_rng(r));
			run(n, c);
			CHECK(c.state() == SessionClient::State::Failed);
			CHECK(c.error()->message ==
			      "participant refused " +
			              describe_refusal(r, false, RegStatus::WriteOnly));
		}
		SessionClient ok(integrator_cfg(k, {SessionOp::read(0x41), SessionOp::read(0x42)}),
		                 seq_rng(0x99));
		run(n, ok);
		REQUIRE(ok.state() == SessionClient::State::Done);
		CHECK(ok.results()[0].data == le32v(kProvId));
		CHECK(ok.results()[1].data == le32v(kIntId));
	}
	SECTION("a Zero-Key session reads only the discovery registers")
	{
		for (std::uint8_t r : std::initializer_list<std::uint8_t>{0x60, 0x61, 0x62, 0x63}) {
			SessionClient c(zero_cfg(k, {SessionOp::read(r)}), seq_rng(r));
			run(n, c);
			CHECK(c.state() == SessionClient::State::Failed);
			CHECK(c.error()->message ==
			      "participant refused " +
			              describe_refusal(r, false, RegStatus::AccessDenied));
		}
	}
	SECTION("an incomplete key set is discarded at Terminate")
	{
		const RegisterStore before = n.store;
		SessionClient c(
		        integrator_cfg(
		                k, {SessionOp::write(reg::kSeedKey, bytes_of(seed_key())),
		                    SessionOp::write(reg::kSeedSalt, {1, 2, 3, 4, 5, 6, 7, 8})}),
		        seq_rng(0x51));
		run(n, c);
		CHECK(c.state() == SessionClient::State::Done);
		CHECK(n.saw(SessionEvent::Kind::StagedKeyDiscarded));
		CHECK(n.store == before);
	}
	SECTION("manufacturer reset with the Integrator Key")
	{
		SessionClient c(
		        integrator_cfg(k, {SessionOp::write(reg::kManufacturerReset,
		                                            le32v(kManufacturerResetValue))}),
		        seq_rng(0x51));
		run(n, c);
		REQUIRE(c.state() == SessionClient::State::Done);
		CHECK(n.saw(SessionEvent::Kind::ManufacturerReset));
		CHECK(n.store.key(KeySlotId::Provisioning).present);
		CHECK_FALSE(n.store.key(KeySlotId::Integrator).present);
		// The Integrator Key is gone: sessions with it now get 5E01.
		n.events.clear();
		SessionClient again(integrator_cfg(k, {}), seq_rng(0x61));
		run(n, again);
		CHECK(again.state() == SessionClient::State::Failed);
		CHECK(n.saw(event_code::kSessionKeyNotFound));
	}
}

TEST_CASE("session: key not found (5E01)", "[session]")
{
	Node n(AeadKind::ChaCha20Poly1305);
	const RegisterStore before = n.store;
	SECTION("selector 13 (Seed Key) never opens a session")
	{
		auto o = n.deliver(encode_client_hello(ClientHello{kPp, selector::kSeed, {}}));
		CHECK(o.frames.empty());
		CHECK(n.saw(event_code::kSessionKeyNotFound));
	}
	SECTION("unknown selectors")
	{
		for (std::uint8_t s :
		     std::initializer_list<std::uint8_t>{0, 2, 3, 4, 5, 12, 16, 255}) {
			n.events.clear();
			CHECK(n.deliver(encode_client_hello(ClientHello{kPp, s, {}}))
			              .frames.empty());
			CHECK(n.saw(event_code::kSessionKeyNotFound));
		}
	}
	SECTION("a factory-fresh node holds no Provisioning or Integrator Key")
	{
		SessionClient c(client_cfg(AeadKind::ChaCha20Poly1305, OpeningKey::Provisioning,
		                           prov_key(), kProvSalt, {}),
		                seq_rng(1));
		run(n, c);
		CHECK(n.saw(event_code::kSessionKeyNotFound));
		CHECK(c.state() == SessionClient::State::Failed);
		CHECK(c.error()->code == event_code::kSessionResponseTimeout);
		CHECK(c.error()->message.find("may not hold the provisioning key") !=
		      std::string::npos);
	}
	CHECK(n.server.state() == SessionServer::State::Idle);
	CHECK(n.store == before);
	// Frames for another participant are not ours: no event at all.
	n.events.clear();
	CHECK(n.deliver(encode_client_hello(ClientHello{6, selector::kSeed, {}})).frames.empty());
	CHECK(n.events.empty());
}

TEST_CASE("session: timeouts", "[session]")
{
	Node n(AeadKind::Ascon);
	SECTION("server: no ClientFinished within 100 ms (5E03)")
	{
		auto o = n.deliver(encode_client_hello(ClientHello{kPp, selector::kZero, {}}));
		REQUIRE(o.frames.size() == 1);
		REQUIRE(n.server.state() == SessionServer::State::AwaitClientFinished);
		REQUIRE(n.server.next_deadline() == n.now + 100 * kMs);
		auto early = n.server.on_tick(n.now + 99 * kMs);
		CHECK(early.events.empty());
		CHECK(n.server.state() == SessionServer::State::AwaitClientFinished);
		auto late = n.server.on_tick(n.now + 100 * kMs);
		REQUIRE(late.events.size() == 1);
		CHECK(late.events[0].code == event_code::kSessionResponseTimeout);
		CHECK(n.server.state() == SessionServer::State::Idle);
	}
	SECTION("server: 10 s without a request ends the session (5E04)")
	{
		// A client whose operation never gets sent: stop delivering after the handshake.
		SessionClient c(zero_cfg(AeadKind::Ascon, {SessionOp::read(reg::kStatus)}),
		                seq_rng(1));
		auto hello = c.start(n.now);
		auto sh = n.deliver(hello.frames[0]);
		auto cf = c.on_frame(sh.frames[0], n.now);
		auto sf = n.deliver(cf.frames[0]);
		REQUIRE(n.server.in_configuration());
		const auto start = n.now;
		auto mid = n.server.on_tick(start + 9'999 * kMs);
		CHECK(mid.events.empty());
		CHECK(n.server.in_configuration());
		auto o = n.server.on_tick(start + 10'000 * kMs);
		n.apply(o);
		CHECK(n.saw(event_code::kSessionTimeout));
		CHECK(n.saw(SessionEvent::Kind::ExitConfiguration));
		CHECK(o.events.back().reason == "session_timeout");
		CHECK_FALSE(n.server.in_configuration());
		// The late client request finds no session: ignored.
		auto req = c.on_frame(sf.frames[0], n.now);
		REQUIRE(req.frames.size() == 1);
		CHECK(n.deliver(req.frames[0]).frames.empty());
		// And the client times out on its response (5E03).
		auto t = c.on_tick(*c.next_deadline());
		CHECK(c.state() == SessionClient::State::Failed);
		CHECK(c.error()->code == event_code::kSessionResponseTimeout);
	}
	SECTION("client: silent participant (5E03)")
	{
		SessionClient c(zero_cfg(AeadKind::Ascon, {}), seq_rng(1));
		auto o = c.start(0);
		REQUIRE(o.frames.size() == 1);
		CHECK(c.next_deadline() == 100 * kMs);
		auto early = c.on_tick(99 * kMs);
		CHECK_FALSE(c.finished());
		auto late = c.on_tick(100 * kMs);
		CHECK(c.state() == SessionClient::State::Failed);
		CHECK(c.error()->code == event_code::kSessionResponseTimeout);
		CHECK(c.error()->message.find("participant 5") != std::string::npos);
	}
}

TEST_CASE("session: a ClientHello during Configuration is ignored", "[session]")
{
	Node n(AeadKind::AesGcm);
	bool tried = false;
	SessionClient c(zero_cfg(AeadKind::AesGcm, {SessionOp::read(reg::kStatus)}), seq_rng(1));
	run(n, c, [&](const CanFrame& f, bool to_server) -> std::optional<CanFrame> {
		if (to_server && !tried && n.server.in_configuration()) {
			tried = true;
			const auto cnt = n.server.counter();
			CHECK(n.deliver(encode_client_hello(ClientHello{kPp, selector::kZero, {}}))
			              .frames.empty());
			CHECK(n.server.in_configuration());
			CHECK(n.server.counter() == cnt);
		}
		return f;
	});
	CHECK(tried);
	CHECK(c.state() == SessionClient::State::Done);
}

TEST_CASE("session: counter near wrap is refused", "[session]")
{
	// Choose client_random so that cnt0 = limit - 5: the handshake (cnt0+1, cnt0+2) and one
	// request/response (cnt0+3, cnt0+4) fit; the next request would be within the margin.
	const std::uint32_t want = kSessionCounterLimit - 5;
	// The server's random starts C0 C1 C2 C3 (seq_rng(0xC0)).
	std::vector<std::uint8_t> prefix = {
	        static_cast<std::uint8_t>((want & 0xFF) ^ 0xC0),
	        static_cast<std::uint8_t>(((want >> 8) & 0xFF) ^ 0xC1),
	        static_cast<std::uint8_t>(((want >> 16) & 0xFF) ^ 0xC2),
	        static_cast<std::uint8_t>(((want >> 24) & 0xFF) ^ 0xC3)};
	Node n(AeadKind::AesGcm);
	SessionClient c(zero_cfg(AeadKind::AesGcm,
	                         {SessionOp::read(reg::kStatus), SessionOp::read(reg::kStatus)}),
	                seq_rng(0x10, prefix));
	run(n, c);
	CHECK(c.state() == SessionClient::State::Failed);
	CHECK(c.error()->message.find("within 1000 of wrapping") != std::string::npos);
	// The ReadInit exchange (limit - 2, limit - 1) was the last one that fit: the ReadSeg
	// that would follow is refused by the client before anything is sent.
	CHECK(c.results().empty());
	CHECK(n.server.counter() == kSessionCounterLimit - 1);
}

TEST_CASE("session: the reference's AEAD known answers with a 16-byte session nonce", "[session]")
{
	// canopens_configurator_python tests/aead_kat.json, shared by all three reference
	// implementations: key 10..2F, nonce A0..AF (the session nonce length), AAD 01..05,
	// plaintext 00..1F. ChaCha20-Poly1305 takes the first 12 nonce bytes (spec §5).
	const auto key = key_of(0x10);
	std::array<std::uint8_t, 16> nonce{};
	for (std::size_t i = 0; i < nonce.size(); i++)
		nonce[i] = static_cast<std::uint8_t>(0xA0 + i);
	const std::array<std::uint8_t, 5> aad = {1, 2, 3, 4, 5};
	struct Kat {
		AeadKind kind;
		std::size_t nonce_len;
		const char* ct;
		const char* tag;
	};
	const Kat kats[] = {
	        {AeadKind::AesGcm, 16,
	         "24f26bc7e14189c513d2fb5a4888976bfba3cb476dacf61a2ab5199747b21bc2",
	         "05636c3cb0b1ae94"},
	        {AeadKind::ChaCha20Poly1305, 12,
	         "105dd85955e2c399f053c842e5d893934bae41aac80afaab9605c57345ea1c1d",
	         "328cd06f61a2680f"},
	        {AeadKind::Ascon, 16,
	         "f52d862a220a0b489ef21fd33f5b4e6942584c95f6221c0a2f9d71636c449b66",
	         "3806e7f6c43e1adb"},
	};
	for (const auto& kat : kats) {
		CAPTURE(aead_name(kat.kind));
		auto aead = Aead::create(kat.kind, key);
		REQUIRE(aead);
		std::array<std::uint8_t, 32> buf{};
		for (std::size_t i = 0; i < buf.size(); i++)
			buf[i] = static_cast<std::uint8_t>(i);
		std::array<std::uint8_t, 8> tag{};
		REQUIRE((*aead)->seal(std::span<const std::uint8_t>(nonce).first(kat.nonce_len),
		                      aad, buf, tag));
		CHECK(format_hex(buf) == kat.ct);
		CHECK(format_hex(tag) == kat.tag);
	}
}

namespace {

// A Configurator built directly from the messages.h primitives, as the reference's Python
// Configurator behaves (it ignores refusals in Init responses and goes on): an independent
// check of the server that does not go through SessionClient.
struct RawClient {
	RawClient(Node& node, OpeningKey o, const Key32& key, const KeySalt& salt) : n(node)
	{
		Random16 cr{};
		cr.fill(0x3C);
		const auto sel = static_cast<std::uint8_t>(o);
		auto sh = n.deliver(encode_client_hello(ClientHello{kPp, sel, cr}));
		REQUIRE(sh.frames.size() == 1);
		auto h = decode_server_hello(sh.frames[0]);
		REQUIRE(h);
		auto sk = derive_session_key(key, cr, h->server_random);
		REQUIRE(sk);
		auto a = Aead::create(n.aead, *sk);
		REQUIRE(a);
		aead = std::move(*a);
		ctx = SessionContext{n.aead, kPp, sel, cr, h->server_random, salt};
		cnt = session_initial_counter(cr, h->server_random);
		auto cf = make_client_finished(*aead, ctx, cnt + 1);
		REQUIRE(cf);
		Tag8 tag{};
		std::copy_n(cf->data.begin(), tag.size(), tag.begin());
		auto sf = n.deliver(*cf);
		REQUIRE(sf.frames.size() == 1);
		REQUIRE(verify_server_finished(*aead, ctx, cnt + 1, cnt + 2, tag, sf.frames[0]));
		cnt += 2;
		REQUIRE(n.server.in_configuration());
	}
	// The request frame: padded by seal_session_message, or with `unpadded` as the reference
	// Configurator builds it and python-can sends it on vcan: ciphertext || tag and nothing
	// after (canopens_configurator_python configurator.py configurator_write_register:
	// AppData(address, ciphertext + auth_tag)), computed here from the AEAD directly.
	CanFrame frame(CpType t, std::span<const std::uint8_t> pt)
	{
		if (!unpadded) {
			auto f = seal_session_message(*aead, ctx, t, true, cnt + 1, pt);
			REQUIRE(f);
			return *f;
		}
		const std::uint32_t id29 = session_id(t, true, kPp, cnt + 1) & CAN_EFF_MASK;
		auto nonce = session_nonce(ctx.aead, cnt + 1, ctx.opening_salt);
		REQUIRE(nonce);
		CanFrame f;
		f.can_id = id29 | CAN_EFF_FLAG;
		f.fd = true;
		f.len = static_cast<std::uint8_t>(pt.size() + kTagLen);
		std::copy(pt.begin(), pt.end(), f.data.begin());
		REQUIRE(aead->seal(
		        nonce->view(), le32v(id29),
		        std::span<std::uint8_t>(f.data).first(pt.size()),
		        std::span<std::uint8_t, kTagLen>(f.data.data() + pt.size(), kTagLen)));
		return f;
	}
	// Sends one request; the response plaintext, or nullopt when the server stays silent.
	std::optional<std::vector<std::uint8_t>> request(CpType t, std::span<const std::uint8_t> pt,
	                                                 std::size_t resp_len)
	{
		const CanFrame f = frame(t, pt);
		sent.push_back(f);
		auto o = n.deliver(f);
		if (o.frames.empty())
			return std::nullopt;
		cnt += 1;
		REQUIRE(o.frames.size() == 1);
		auto p = open_session_message(*aead, ctx, t, false, cnt + 1, resp_len, o.frames[0]);
		REQUIRE(p);
		cnt += 1;
		return *p;
	}
	// configurator_write_register: WriteInit, then one WriteSeg (<= 32 bytes); the status
	// byte of the WriteSeg response, or nullopt when the server stays silent.
	std::optional<std::uint8_t> write(std::uint8_t r, std::span<const std::uint8_t> data)
	{
		auto wi = init(CpType::WriteInit, r, static_cast<std::uint32_t>(data.size()));
		if (!wi)
			return std::nullopt;
		auto ws = request(CpType::WriteSeg, data, 4);
		if (!ws)
			return std::nullopt;
		return (*ws)[0];
	}
	std::optional<RegisterInit> init(CpType t, std::uint8_t r, std::uint32_t len)
	{
		auto p = request(t, encode_register_init(RegisterInit{r, len}), 8);
		if (!p)
			return std::nullopt;
		auto d = decode_register_init(*p);
		REQUIRE(d);
		return *d;
	}

	Node& n;
	std::unique_ptr<Aead> aead;
	SessionContext ctx{};
	std::uint32_t cnt = 0;
	bool unpadded = false;
	std::vector<CanFrame> sent;  // the requests, as sent
};

}  // namespace

TEST_CASE("session: server against a raw reference-style Configurator", "[session]")
{
	const AeadKind k = GENERATE(values(kAeads));
	CAPTURE(aead_name(k));
	Node n(k);
	commission_to_integrator(n);
	const RegisterStore before = n.store;

	SECTION("a Configurator ignoring a refused WriteInit gets the status on its WriteSeg")
	{
		RawClient c(n, OpeningKey::Integrator, int_key(), kIntSalt);
		auto wi = c.init(CpType::WriteInit, reg::kProvisioningKey, 32);
		REQUIRE(wi);
		CHECK(wi->reg == reg::kProvisioningKey);
		CHECK(wi->length == 0xFFFFFF02u);  // refused: access_denied
		const std::vector<std::uint8_t> junk(32, 0xEE);
		auto ws = c.request(CpType::WriteSeg, junk, 4);
		REQUIRE(ws);
		CHECK(*ws == std::vector<std::uint8_t>{2, 0xFF, 0xFF, 0xFF});
		CHECK(n.store == before);
	}
	SECTION("WriteInit with the wrong length is refused")
	{
		RawClient c(n, OpeningKey::Integrator, int_key(), kIntSalt);
		auto wi = c.init(CpType::WriteInit, reg::kParticipantId, 4);
		REQUIRE(wi);
		CHECK(wi->length == (kRefusedLengthMask | 5u));
		CHECK(n.store == before);
	}
	SECTION("a WriteSeg without WriteInit cannot verify: 5E05, no answer, no state change")
	{
		RawClient c(n, OpeningKey::Integrator, int_key(), kIntSalt);
		const auto cnt = n.server.counter();
		n.events.clear();
		const std::array<std::uint8_t, 1> one = {9};
		CHECK_FALSE(c.request(CpType::WriteSeg, one, 4));
		CHECK(n.saw(event_code::kSessionMessageAuth));
		CHECK(n.server.counter() == cnt);
		CHECK(n.store == before);
		// The session goes on: a proper write still works.
		auto wi = c.init(CpType::WriteInit, reg::kParticipantId, 1);
		REQUIRE(wi);
		CHECK(wi->length == 1);
		auto ws = c.request(CpType::WriteSeg, one, 4);
		REQUIRE(ws);
		CHECK((*ws)[0] == 0);
		CHECK(n.store.config().participant_id == 9);
	}
	SECTION("ReadSeg without ReadInit gets an empty answer; empty registers read as length 0")
	{
		RawClient c(n, OpeningKey::Integrator, int_key(), kIntSalt);
		auto rs = c.request(CpType::ReadSeg, {}, 0);
		REQUIRE(rs);
		CHECK(rs->empty());
		auto ri = c.init(CpType::ReadInit, reg::kSerialNumber, 56);
		REQUIRE(ri);
		CHECK(ri->length == 16);
		auto data = c.request(CpType::ReadSeg, {}, 16);
		REQUIRE(data);
		CHECK(*data == std::vector<std::uint8_t>(16, 0x5A));
	}
	SECTION("Terminate leaves Configuration and wipes the session")
	{
		RawClient c(n, OpeningKey::Integrator, int_key(), kIntSalt);
		auto t = c.request(CpType::Terminate, {}, 0);
		REQUIRE(t);
		CHECK_FALSE(n.server.in_configuration());
		CHECK(n.server.counter() == 0);
		// Requests after the end find no session.
		CHECK_FALSE(c.init(CpType::WriteInit, reg::kParticipantId, 1));
		CHECK(n.store == before);
	}
}

namespace {

std::vector<std::uint8_t> salt_bytes(const KeySalt& s)
{
	return {s.begin(), s.end()};
}

// One key of the reference's flows (configurator_bootstrap_device, and each rung of
// configurator_establish_keys_sequential): Key ID FFFFFFFFh, key, salt, Key ID, each write
// acknowledged with status 0.
void reference_key_writes(RawClient& c, std::uint8_t key_reg, const Key32& key, const KeySalt& salt,
                          std::uint32_t id)
{
	const auto salt_reg = static_cast<std::uint8_t>(key_reg + 0x10);
	const auto id_reg = static_cast<std::uint8_t>(key_reg + 0x20);
	CHECK(c.write(id_reg, le32v(kKeyIdErased)) == 0);
	CHECK(c.write(key_reg, bytes_of(key)) == 0);
	CHECK(c.write(salt_reg, salt_bytes(salt)) == 0);
	CHECK(c.write(id_reg, le32v(id)) == 0);
}

// The register's value read in c's session (ReadInit, ReadSeg).
std::vector<std::uint8_t> read_register(RawClient& c, std::uint8_t r)
{
	auto ri = c.init(CpType::ReadInit, r, 56);
	REQUIRE(ri);
	REQUIRE(ri->length <= 56);
	auto d = c.request(CpType::ReadSeg, {}, ri->length);
	REQUIRE(d);
	return *d;
}

std::size_t count_events(const Node& n, SessionEvent::Kind k)
{
	return static_cast<std::size_t>(std::count_if(n.events.begin(), n.events.end(),
	                                              [k](const auto& e) { return e.kind == k; }));
}

}  // namespace

TEST_CASE("session: the reference Configurator commissions a node with unpadded frames",
          "[session]")
{
	const AeadKind k = GENERATE(values(kAeads));
	CAPTURE(aead_name(k));
	Node n(k);

	// configurator_establish_keys_sequential from the Zero Key: the Provisioning Key in a
	// Zero-Key session, then (configurator_bootstrap_device) Integrator and Seed Keys in a
	// Provisioning-Key session, a status read, Terminate.
	RawClient z(n, OpeningKey::Zero, Key32(), KeySalt{});
	z.unpadded = true;
	reference_key_writes(z, reg::kProvisioningKey, prov_key(), kProvSalt, kProvId);
	REQUIRE(z.request(CpType::Terminate, {}, 0));
	// WriteInit, WriteSeg per write: the key's WriteSeg (4th frame) is 32 bytes of ciphertext
	// and the tag, 40 bytes, not a CAN FD length; the FFFFFFFFh write was acknowledged first.
	REQUIRE(z.sent.size() == 9);
	CHECK(z.sent[3].len == 40);
	CHECK_FALSE(canfd_valid_len(z.sent[3].len));
	CHECK(z.sent[1].len == 12);
	CHECK(n.store.key(KeySlotId::Provisioning).present);
	CHECK(n.store.key(KeySlotId::Provisioning).id == kProvId);
	CHECK(n.store.key(KeySlotId::Provisioning).salt == kProvSalt);
	CHECK(ct_equal(n.store.key(KeySlotId::Provisioning).key.expose(), prov_key().expose()));

	RawClient p(n, OpeningKey::Provisioning, prov_key(), kProvSalt);
	p.unpadded = true;
	reference_key_writes(p, reg::kIntegratorKey, int_key(), kIntSalt, kIntId);
	reference_key_writes(p, reg::kSeedKey, seed_key(), kSeedSalt, kSeedId);
	n.store.set_status(1);
	CHECK(read_register(p, reg::kStatus) == std::vector<std::uint8_t>{1});
	REQUIRE(p.request(CpType::Terminate, {}, 0));
	CHECK(n.store.key(KeySlotId::Integrator).id == kIntId);
	CHECK(ct_equal(n.store.key(KeySlotId::Integrator).key.expose(), int_key().expose()));
	CHECK(n.store.key(KeySlotId::Seed).id == kSeedId);
	CHECK(n.store.key(KeySlotId::Seed).salt == kSeedSalt);
	CHECK(ct_equal(n.store.key(KeySlotId::Seed).key.expose(), seed_key().expose()));
	CHECK(count_events(n, SessionEvent::Kind::KeyInstalled) == 3);
	CHECK_FALSE(n.saw(SessionEvent::Kind::AccessRefused));
	CHECK_FALSE(n.saw(SessionEvent::Kind::StagedKeyDiscarded));
	CHECK_FALSE(n.saw(event_code::kSessionMessageAuth));
	CHECK(n.server.state() == SessionServer::State::Idle);
}

TEST_CASE("session: key ID FFFFFFFFh keeps the installed key until a complete new set", "[session]")
{
	const AeadKind k = GENERATE(values(kAeads));
	CAPTURE(aead_name(k));
	Node n(k);
	commission_to_integrator(n);
	SessionClient si(integrator_cfg(k, install(reg::kSeedKey, seed_key(), kSeedSalt, kSeedId)),
	                 seq_rng(0x41));
	run(n, si);
	REQUIRE(si.state() == SessionClient::State::Done);
	const RegisterStore before = n.store;
	const Key32 new_seed = key_of(0x60);
	const KeySalt new_salt = salt_of(0x70);
	RawClient c(n, OpeningKey::Integrator, int_key(), kIntSalt);
	c.unpadded = true;
	n.events.clear();

	SECTION("re-keying the Seed: nothing changes before the valid ID completes the set")
	{
		CHECK(c.write(reg::kSeedKeyId, le32v(kKeyIdErased)) == 0);
		CHECK(n.store == before);
		// The old key stays installed and readable as such in the same session.
		CHECK(read_register(c, reg::kSeedKeyId) == le32v(kSeedId));
		CHECK(c.write(reg::kSeedKey, bytes_of(new_seed)) == 0);
		CHECK(c.write(reg::kSeedSalt, salt_bytes(new_salt)) == 0);
		CHECK(n.store == before);
		CHECK(c.write(reg::kSeedKeyId, le32v(0x3004)) == 0);
		CHECK(n.store.key(KeySlotId::Seed).id == 0x3004);
		CHECK(ct_equal(n.store.key(KeySlotId::Seed).key.expose(), new_seed.expose()));
		CHECK(n.store.key(KeySlotId::Seed).salt == new_salt);
		CHECK(count_events(n, SessionEvent::Kind::KeyInstalled) == 1);
	}
	SECTION("a set that ends with FFFFFFFFh as its ID is never committed")
	{
		CHECK(c.write(reg::kSeedKeyId, le32v(0x3004)) == 0);
		CHECK(c.write(reg::kSeedKey, bytes_of(new_seed)) == 0);
		CHECK(c.write(reg::kSeedKeyId, le32v(kKeyIdErased)) == 0);  // withdraws 3004h
		CHECK(c.write(reg::kSeedSalt, salt_bytes(new_salt)) == 0);
		CHECK(n.store == before);
		REQUIRE(c.request(CpType::Terminate, {}, 0));
		CHECK(n.store == before);
		CHECK(n.store.key(KeySlotId::Seed).id == kSeedId);
		CHECK(n.saw(SessionEvent::Kind::StagedKeyDiscarded));
		CHECK_FALSE(n.saw(SessionEvent::Kind::KeyInstalled));
	}
	SECTION("key, salt and FFFFFFFFh: no ID, nothing installed")
	{
		CHECK(c.write(reg::kSeedKey, bytes_of(new_seed)) == 0);
		CHECK(c.write(reg::kSeedSalt, salt_bytes(new_salt)) == 0);
		CHECK(c.write(reg::kSeedKeyId, le32v(kKeyIdErased)) == 0);
		REQUIRE(c.request(CpType::Terminate, {}, 0));
		CHECK(n.store == before);
		CHECK_FALSE(n.saw(SessionEvent::Kind::KeyInstalled));
	}
	SECTION("FFFFFFFFh follows the key's access rule; ID 0 stays a bad value")
	{
		// 42h needs a Provisioning-Key session (and there answers already_set, below).
		CHECK(c.write(reg::kIntegratorKeyId, le32v(kKeyIdErased)) ==
		      static_cast<std::uint8_t>(RegStatus::AccessDenied));
		CHECK(c.write(reg::kSeedKeyId, le32v(0)) ==
		      static_cast<std::uint8_t>(RegStatus::BadValue));
		CHECK(n.store == before);
	}
}

TEST_CASE("session: the Integrator Key ID of a keyed node cannot be invalidated", "[session]")
{
	const AeadKind k = GENERATE(values(kAeads));
	CAPTURE(aead_name(k));
	Node n(k);
	commission_to_integrator(n);
	const RegisterStore before = n.store;
	RawClient p(n, OpeningKey::Provisioning, prov_key(), kProvSalt);
	p.unpadded = true;
	CHECK(p.write(reg::kIntegratorKeyId, le32v(kKeyIdErased)) ==
	      static_cast<std::uint8_t>(RegStatus::AlreadySet));
	CHECK(n.store == before);
	CHECK(n.store.key(KeySlotId::Integrator).id == kIntId);
}

TEST_CASE("session: an unpadded frame shorter than its message is still refused", "[session]")
{
	const AeadKind k = GENERATE(values(kAeads));
	CAPTURE(aead_name(k));
	Node n(k);
	commission_to_integrator(n);
	const RegisterStore before = n.store;
	RawClient c(n, OpeningKey::Integrator, int_key(), kIntSalt);
	c.unpadded = true;
	n.events.clear();

	// A WriteInit one byte short (15 bytes): refused with 5E05h, nothing moves.
	const auto init = encode_register_init(RegisterInit{reg::kSeedKey, 32});
	CanFrame wi = c.frame(CpType::WriteInit, init);
	REQUIRE(wi.len == 16);
	wi.len = 15;
	auto cnt = n.server.counter();
	CHECK(n.deliver(wi).frames.empty());
	CHECK(n.saw(event_code::kSessionMessageAuth));
	CHECK(n.server.counter() == cnt);

	// The 40-byte WriteSeg of the key cut to 39 bytes: the tag is incomplete, refused.
	auto wr = c.init(CpType::WriteInit, reg::kSeedKey, 32);
	REQUIRE(wr);
	REQUIRE(wr->length == 32);
	const Key32 key = key_of(0x60);
	CanFrame ws = c.frame(CpType::WriteSeg, bytes_of(key));
	REQUIRE(ws.len == 40);
	CanFrame cut = ws;
	cut.len = 39;
	n.events.clear();
	cnt = n.server.counter();
	CHECK(n.deliver(cut).frames.empty());
	CHECK(n.saw(event_code::kSessionMessageAuth));
	CHECK(n.server.counter() == cnt);
	// The tag read at offset 32 also covers a 41..64-byte frame; bytes after it are ignored.
	CanFrame longer = ws;
	longer.len = 44;
	longer.data[40] = 0xEE;
	auto o = n.deliver(longer);
	REQUIRE(o.frames.size() == 1);
	CHECK_FALSE(n.saw(SessionEvent::Kind::AccessRefused));
	CHECK(n.saw(SessionEvent::Kind::KeyStaged));
	CHECK(n.store == before);
}

TEST_CASE("session: random frames injected mid-session change nothing", "[session]")
{
	// Every session message type, both directions, random counter bytes, lengths and data,
	// thrown at both ends before each genuine frame. Nothing may verify (2^-64 per frame), so
	// the session must complete exactly as without them.
	Node n(AeadKind::ChaCha20Poly1305);
	commission_to_integrator(n);
	std::uint32_t x = 0x12345678;
	auto rnd = [&x]() {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		return x;
	};
	constexpr std::array<std::uint8_t, 7> kLens = {8, 12, 16, 20, 24, 32, 48};
	int injected = 0;
	SessionClient* client = nullptr;
	auto junk = [&]() {
		CanFrame f;
		const auto type = static_cast<std::uint32_t>(1 + rnd() % 6);
		const std::uint32_t dir = (rnd() & 1) ? 0x80u : 0u;
		f.can_id = CAN_EFF_FLAG | 0x1E000000u | ((rnd() & 0xFF) << 16) | (type << 8) | dir |
		           kPp;
		f.fd = true;
		f.len = kLens[rnd() % kLens.size()];
		for (std::size_t i = 0; i < f.len; i++)
			f.data[i] = static_cast<std::uint8_t>(rnd());
		return f;
	};
	SessionClient c(integrator_cfg(AeadKind::ChaCha20Poly1305,
	                               {SessionOp::read(reg::kStatus),
	                                SessionOp::write(reg::kHeartbeatTiming, {5}),
	                                SessionOp::read(reg::kHeartbeatTiming)}),
	                seq_rng(0x51));
	client = &c;
	run(n, c, [&](const CanFrame& f, bool) -> std::optional<CanFrame> {
		const RegisterStore before = n.store;
		const auto cnt = n.server.counter();
		const auto state = n.server.state();
		const auto ccnt = client->counter();
		for (int i = 0; i < 50; i++) {
			const CanFrame j = junk();
			CHECK(n.deliver(j).frames.empty());
			CHECK(client->on_frame(j, n.now).frames.empty());
			injected++;
		}
		CHECK(n.store == before);
		CHECK(n.server.counter() == cnt);
		CHECK(n.server.state() == state);
		CHECK(client->counter() == ccnt);
		return f;
	});
	INFO(err_msg(c));
	CHECK(c.state() == SessionClient::State::Done);
	CHECK(injected >= 500);
	CHECK(n.store.config().heartbeat_timing == 5);
	REQUIRE(c.results().size() == 3);
	CHECK(c.results()[2].data == std::vector<std::uint8_t>{5});
}

TEST_CASE("session: refused ClientFinished frames keep the handshake, within bounds", "[session]")
{
	Node n(AeadKind::AesGcm);
	SessionClient c(zero_cfg(AeadKind::AesGcm, {SessionOp::read(reg::kStatus)}), seq_rng(1));
	auto hello = c.start(n.now);
	auto sh = n.deliver(hello.frames[0]);
	REQUIRE(sh.frames.size() == 1);
	auto cf = c.on_frame(sh.frames[0], n.now);
	REQUIRE(cf.frames.size() == 1);
	CanFrame forged = cf.frames[0];
	forged.data[7] ^= 0x80;

	SECTION("a forged ClientFinished does not kill the genuine handshake")
	{
		n.events.clear();
		CHECK(n.deliver(forged).frames.empty());
		CHECK(n.saw(event_code::kSessionFinishedAuth));
		CHECK(n.server.state() == SessionServer::State::AwaitClientFinished);
		auto sf = n.deliver(cf.frames[0]);
		REQUIRE(sf.frames.size() == 1);
		CHECK(n.server.in_configuration());
	}
	SECTION("after a refusal the timeout ends the handshake without a second event")
	{
		CHECK(n.deliver(forged).frames.empty());
		n.events.clear();
		auto o = n.server.on_tick(n.now + 100 * kMs);
		n.apply(o);
		CHECK(n.events.empty());
		CHECK(n.server.state() == SessionServer::State::Idle);
	}
	SECTION("kMaxFinishedFailures refusals abandon the handshake")
	{
		for (unsigned i = 0; i + 1 < kMaxFinishedFailures; i++)
			CHECK(n.deliver(forged).frames.empty());
		CHECK(n.server.state() == SessionServer::State::AwaitClientFinished);
		CHECK(n.deliver(forged).frames.empty());
		CHECK(n.server.state() == SessionServer::State::Idle);
		// The genuine one now comes too late.
		CHECK(n.deliver(cf.frames[0]).frames.empty());
		CHECK_FALSE(n.server.in_configuration());
	}
}
