// SPDX-License-Identifier: Apache-2.0
// bpf tier: the data plane's verdict code (bpf/spsec_verdict.h) under BPF_PROG_TEST_RUN, checked
// frame by frame against the core codec (userspace/core/stamp.h), which is the oracle: the same
// plain frames, the same keys, the same clock, the same reason codes.
//
// Built twice (tests/bpf/CMakeLists.txt): bpf_dataplane with the T-table AES object, and
// bpf_dataplane_kaes (SPSEC_TEST_KERNEL_AES) with the kernel-AES one, whose own cases (context
// life cycle, fail closed, object choice) are at the end.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <sys/stat.h>

#include "bpf/gateway_maps.h"
#include "bpf/libbpf_log.h"
#include "bpf/map_writer.h"
#include "bpf/tc_attachment.h"
#include "core/stamp.h"
#include "core/timestamp.h"
#include "dp_fixture.h"
#include "host_env.h"

using namespace spsec;
using namespace spsec::test;

namespace {

const bool g_gate = skip_binary_unless_bpf() && skip_binary_unless_object();

constexpr std::uint64_t kWindow = 150;

struct Net {
	AeadKind kind;
	StampMode mode;
};

// Network keys: CommKey(e) for windows e0 and e0 + 1 from a fixed seed.
struct Keys {
	Key32 seed;
	CommSalt csalt{{1, 2, 3, 4}};
	KeySalt seed_salt{{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88}};
	std::map<std::uint64_t, std::unique_ptr<Aead>> aeads;

	explicit Keys(std::uint8_t fill)
	{
		for (auto& b : seed.expose_mut())
			b = fill;
	}
};

Key32 comm_key(const Keys& k, std::uint64_t e)
{
	auto key = derive_comm_key(k.seed, e, k.csalt);
	REQUIRE(key);
	return std::move(*key);
}

void install(DpFixture& fx, Keys& keys, AeadKind kind, std::uint64_t e)
{
	auto slot = std::make_unique<spsec_key_slot>();
	const Key32 key = comm_key(keys, e);
	REQUIRE(prepare_key_slot(kind, key, keys.seed_salt, e, *slot));
	auto r = fx.dp().install_key(*slot);
	INFO((r ? std::string() : r.error().message()));
	REQUIRE(r);
	wipe_key_slot(*slot);
	auto a = Aead::create(kind, key);
	REQUIRE(a);
	keys.aeads[e] = std::move(*a);
}

Counters counters(DpFixture& fx)
{
	auto c = fx.dp().read_counters();
	REQUIRE(c);
	return *c;
}

// The one reason that moved between two counter snapshots, or -1 when not exactly one frame
// was counted.
int moved(const Counters& before, const Counters& after)
{
	int reason = -1;
	std::uint64_t total = 0;
	for (std::size_t i = 0; i < before.size(); i++) {
		total += after[i] - before[i];
		if (after[i] != before[i])
			reason = static_cast<int>(i);
	}
	return total == 1 ? reason : -1;
}

std::vector<std::uint32_t> id_pool()
{
	std::vector<std::uint32_t> ids;
	for (std::uint32_t i = 0; i < 32; i++)
		ids.push_back(0x100 + i * 0x31);  // 11-bit
	for (std::uint32_t i = 0; i < 32; i++)
		ids.push_back(CAN_EFF_FLAG | (0x00ab0000u + i * 0x1357u));  // 29-bit, bit 25 clear
	return ids;
}

void secured_policy(DpFixture& fx, const std::vector<std::uint32_t>& ids,
                    std::vector<PolicyEntry> extra = {}, std::uint32_t flags = SPSEC_POL_SECURED)
{
	std::vector<PolicyEntry> pol = std::move(extra);
	for (auto id : ids)
		pol.push_back({id, flags});
	auto r = fx.dp().replace_policy(pol);
	INFO((r ? std::string() : r.error().message()));
	REQUIRE(r);
}

CanFrame random_plain(std::mt19937_64& rng, const std::vector<std::uint32_t>& ids, std::size_t l)
{
	CanFrame f;
	f.fd = true;
	f.can_id = ids[rng() % ids.size()];
	f.flags = static_cast<std::uint8_t>(CANFD_FDF | (rng() & (CANFD_BRS | CANFD_ESI)));
	f.len = static_cast<std::uint8_t>(l);
	for (std::size_t i = 0; i < l; i++)
		f.data[i] = static_cast<std::uint8_t>(rng());
	return f;
}

struct Env {
	std::unique_ptr<DpFixture> fx;
	Keys keys{0x5a};
	Net net;
	std::uint64_t e0;
	std::vector<std::uint32_t> ids = id_pool();

	explicit Env(Net n, std::uint64_t start_t) : net(n), e0(start_t >> SPSEC_WINDOW_SHIFT)
	{
		auto f = DpFixture::create();
		INFO((f ? std::string() : f.error().message()));
		REQUIRE(f);
		fx = std::move(*f);
		REQUIRE(fx->dp().set_state(SPSEC_STATE_SECURE, static_cast<std::uint32_t>(n.kind),
		                           static_cast<std::uint32_t>(n.mode), kWindow,
		                           SPSEC_DEFAULT_DROP));
		install(*fx, keys, n.kind, e0);
		install(*fx, keys, n.kind, e0 + 1);
		secured_policy(*fx, ids);
		REQUIRE(fx->freeze_clock(start_t));
	}

	StampParams params() const { return StampParams{net.kind, net.mode, keys.seed_salt}; }
	OpenParams open_params() const { return OpenParams{params(), kWindow}; }
	KeyLookup lookup()
	{
		return [this](std::uint64_t e) -> Aead* {
			auto it = keys.aeads.find(e);
			return it == keys.aeads.end() ? nullptr : it->second.get();
		};
	}
	CanFrame seal(const CanFrame& plain, std::uint64_t t)
	{
		auto it = keys.aeads.find(t >> SPSEC_WINDOW_SHIFT);
		REQUIRE(it != keys.aeads.end());
		auto s = seal_frame(*it->second, params(), plain, t);
		REQUIRE(s);
		return *s;
	}
};

const Net kNets[] = {
        {AeadKind::AesGcm, StampMode::Encrypt},
        {AeadKind::AesGcm, StampMode::AuthOnly},
        {AeadKind::ChaCha20Poly1305, StampMode::Encrypt},
        {AeadKind::ChaCha20Poly1305, StampMode::AuthOnly},
        {AeadKind::Ascon, StampMode::Encrypt},
        {AeadKind::Ascon, StampMode::AuthOnly},
};

std::string net_name(const Net& n)
{
	return std::string(aead_name(n.kind)) +
	       (n.mode == StampMode::Encrypt ? "/encrypt" : "/auth");
}

}  // namespace

TEST_CASE("ingress opens 10000 codec-sealed frames byte for byte, per AEAD and mode", "[bpf][diff]")
{
	for (const Net& net : kNets) {
		DYNAMIC_SECTION(net_name(net))
		{
			// start 2 M ticks before a window roll-over: the run crosses it, so both
			// key slots are exercised
			const std::uint64_t t0 = (0x1234ull << SPSEC_WINDOW_SHIFT) - 2000000;
			Env env(net, t0);
			std::mt19937_64 rng(0xC0FFEE + static_cast<unsigned>(net.kind) * 7 +
			                    static_cast<unsigned>(net.mode));
			FreshnessTable fresh;
			const Counters before = counters(*env.fx);
			constexpr int kFrames = 10000;
			int mismatches = 0;
			for (int i = 0; i < kFrames; i++) {
				const std::uint64_t local =
				        t0 + static_cast<std::uint64_t>(i) * 400;
				REQUIRE(env.fx->freeze_clock(local));
				const std::size_t l =
				        i < 55 ? static_cast<std::size_t>(i) : rng() % 55;
				const CanFrame plain = random_plain(rng, env.ids, l);
				const auto d =
				        static_cast<std::int64_t>(rng() % (2 * kWindow + 1)) -
				        static_cast<std::int64_t>(kWindow);
				const std::uint64_t t = local + static_cast<std::uint64_t>(d);
				const CanFrame sec = env.seal(plain, t);

				auto oracle = open_frame(env.open_params(), sec, local,
				                         env.lookup(), &fresh);
				REQUIRE(oracle);
				REQUIRE(oracle->plain == plain);
				auto r = env.fx->run(true, to_wire(sec));
				REQUIRE(r);
				if (r->retval != TC_ACT_OK || r->out != to_wire(plain)) {
					mismatches++;
					UNSCOPED_INFO("frame " << i << " " << format_can_frame(sec)
					                       << " -> retval " << r->retval);
				}
			}
			CHECK(mismatches == 0);
			const Counters after = counters(*env.fx);
			CHECK(after[SPSEC_R_RX_OK] - before[SPSEC_R_RX_OK] == kFrames);
		}
	}
}

TEST_CASE("every single-bit corruption is dropped with the codec's reason", "[bpf][diff]")
{
	for (const Net& net : kNets) {
		DYNAMIC_SECTION(net_name(net))
		{
			const std::uint64_t t0 = (0x77ull << SPSEC_WINDOW_SHIFT) + 5000;
			Env env(net, t0);
			std::mt19937_64 rng(42 + static_cast<unsigned>(net.kind));
			int checked = 0;
			for (std::size_t l : {0u, 3u, 17u, 38u, 54u}) {
				const CanFrame plain = random_plain(rng, env.ids, l);
				const CanFrame sec = env.seal(plain, t0 + 7);
				const auto wire = to_wire(sec);
				// the len byte and every bit of the S data bytes
				std::vector<std::size_t> bits;
				for (std::size_t b = 32; b < 40; b++)
					bits.push_back(b);
				for (std::size_t b = 64; b < 64 + 8u * sec.len; b++)
					bits.push_back(b);
				for (std::size_t bit : bits) {
					auto bad = wire;
					bad[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
					const CanFrame badf = from_wire(bad);
					FreshnessTable fresh;
					auto oracle = open_frame(env.open_params(), badf, t0,
					                         env.lookup(), &fresh);
					const Counters before = counters(*env.fx);
					auto r = env.fx->run(true, bad);
					REQUIRE(r);
					const int reason = moved(before, counters(*env.fx));
					INFO("L=" << l << " bit " << bit << " "
					          << format_can_frame(badf));
					REQUIRE_FALSE(oracle);  // a flipped bit never verifies
					CHECK(r->retval == TC_ACT_SHOT);
					CHECK(reason == static_cast<int>(oracle.error().reason));
					checked++;
				}
			}
			CHECK(checked > 1000);
		}
	}
}

TEST_CASE("keys, windows, freshness and geometry", "[bpf]")
{
	const Net net{AeadKind::ChaCha20Poly1305, StampMode::Encrypt};
	const std::uint64_t t0 = (0x99ull << SPSEC_WINDOW_SHIFT) + 100000;
	Env env(net, t0);
	std::mt19937_64 rng(7);
	const CanFrame plain = random_plain(rng, env.ids, 12);
	// egress stamps only own IDs: the tx checks below send this one
	CanFrame own = plain;
	own.can_id = 0x7e3;
	secured_policy(*env.fx, env.ids, {{0x7e3, SPSEC_POL_SECURED | SPSEC_POL_OWN_TX}});

	auto expect = [&](const CanFrame& f, std::uint32_t reason, bool ingress = true) {
		const Counters before = counters(*env.fx);
		auto r = env.fx->run(ingress, to_wire(f));
		REQUIRE(r);
		CHECK(moved(before, counters(*env.fx)) == static_cast<int>(reason));
		return *r;
	};

	SECTION("replayed T is dropped, a newer T passes")
	{
		const CanFrame a = env.seal(plain, t0 + 3);
		CHECK(expect(a, SPSEC_R_RX_OK).retval == TC_ACT_OK);
		CHECK(expect(a, SPSEC_R_RX_REPLAY).retval == TC_ACT_SHOT);
		CHECK(expect(env.seal(plain, t0 + 2), SPSEC_R_RX_REPLAY).retval == TC_ACT_SHOT);
		CHECK(expect(env.seal(plain, t0 + 4), SPSEC_R_RX_OK).retval == TC_ACT_OK);
	}
	SECTION("stale and future T outside the acceptance window")
	{
		expect(env.seal(plain, t0 - kWindow - 1), SPSEC_R_RX_OUTSIDE_WINDOW);
		expect(env.seal(plain, t0 + kWindow + 1), SPSEC_R_RX_OUTSIDE_WINDOW);
		expect(env.seal(plain, t0 - kWindow), SPSEC_R_RX_OK);
		expect(env.seal(plain, t0 + kWindow), SPSEC_R_RX_OK);
	}
	SECTION("wrong key: tag fails")
	{
		Keys other(0xa5);
		auto key = comm_key(other, t0 >> SPSEC_WINDOW_SHIFT);
		auto a = Aead::create(net.kind, key);
		REQUIRE(a);
		auto s = seal_frame(**a, env.params(), plain, t0);
		REQUIRE(s);
		expect(*s, SPSEC_R_RX_BAD_TAG);
	}
	SECTION("wrong window: a frame sealed with K(e) but stamped in e+1's parity slot")
	{
		// T whose window has no live key (e0 + 2 shares e0's parity)
		const std::uint64_t far = (t0 >> SPSEC_WINDOW_SHIFT) + 2;
		REQUIRE(env.fx->freeze_clock(far << SPSEC_WINDOW_SHIFT));
		auto key = comm_key(env.keys, far);
		auto a = Aead::create(net.kind, key);
		REQUIRE(a);
		auto s = seal_frame(**a, env.params(), plain, far << SPSEC_WINDOW_SHIFT);
		REQUIRE(s);
		expect(*s, SPSEC_R_RX_NO_KEY);
		// and the key of e0 used for a T of e0 + 1 does not verify
		REQUIRE(env.fx->freeze_clock(t0));
		auto k0 = Aead::create(net.kind, comm_key(env.keys, t0 >> SPSEC_WINDOW_SHIFT));
		REQUIRE(k0);
		const std::uint64_t t1 = ((t0 >> SPSEC_WINDOW_SHIFT) + 1) << SPSEC_WINDOW_SHIFT;
		REQUIRE(env.fx->freeze_clock(t1));
		auto s1 = seal_frame(**k0, env.params(), plain, t1);
		REQUIRE(s1);
		expect(*s1, SPSEC_R_RX_BAD_TAG);
	}
	SECTION("bad geometry")
	{
		CanFrame f = env.seal(plain, t0);
		for (int s : {0, 8, 11, 13, 50, 65, 255}) {
			CanFrame g = f;
			g.len = static_cast<std::uint8_t>(s);
			expect(g, SPSEC_R_RX_BAD_LENGTH);
		}
		CanFrame g = f;  // S = 24: pad field 15 > 14
		g.data[g.len - 9] = static_cast<std::uint8_t>(0xF0 | (g.data[g.len - 9] & 0x0F));
		expect(g, SPSEC_R_RX_BAD_PAD_COUNT);
		CanFrame classic = plain;
		classic.fd = false;
		classic.len = 8;
		expect(classic, SPSEC_R_RX_CLASSIC);
	}
	SECTION("padding bytes other than 0xFF under a valid tag")
	{
		// seal by hand: L = 12 -> S = 24, pad 2, with 0x00 padding
		const std::uint64_t t = t0 + 1;
		auto& aead = *env.keys.aeads.at(t >> SPSEC_WINDOW_SHIFT);
		std::array<std::uint8_t, 14> text{};
		std::copy_n(plain.data.begin(), 12, text.begin());
		text[12] = 0xFF;
		text[13] = 0x00;
		const auto nonce = build_nonce(net.kind, t, plain.id(), env.keys.seed_salt);
		const auto aad = build_aad(net.mode, plain.id(), plain.payload());
		std::array<std::uint8_t, 8> tag{};
		REQUIRE(aead.seal(nonce.view(), aad.view(), text, tag));
		CanFrame f = plain;
		f.len = 24;
		std::copy(text.begin(), text.end(), f.data.begin());
		const std::uint16_t w = stamp_word(2, t);
		f.data[14] = static_cast<std::uint8_t>(w & 0xff);
		f.data[15] = static_cast<std::uint8_t>(w >> 8);
		std::copy(tag.begin(), tag.end(), f.data.begin() + 16);
		FreshnessTable fresh;
		auto oracle = open_frame(env.open_params(), f, t0, env.lookup(), &fresh);
		REQUIRE_FALSE(oracle);
		CHECK(oracle.error().reason == SPSEC_R_RX_BAD_PAD_BYTES);
		expect(f, SPSEC_R_RX_BAD_PAD_BYTES);
	}
	SECTION("clock not set, participant not secure")
	{
		const CanFrame s = env.seal(plain, t0);
		REQUIRE(env.fx->dp().clear_clock());
		expect(s, SPSEC_R_RX_NO_CLOCK);
		expect(own, SPSEC_R_TX_NO_CLOCK, false);
		REQUIRE(env.fx->freeze_clock(t0));
		REQUIRE(env.fx->dp().set_state(SPSEC_STATE_WAITING, SPSEC_AEAD_CHACHA20POLY1305,
		                               SPSEC_MODE_ENCRYPT, kWindow, SPSEC_DEFAULT_DROP));
		expect(s, SPSEC_R_RX_NOT_SECURE);
		expect(own, SPSEC_R_TX_NOT_SECURE, false);
		REQUIRE(env.fx->dp().set_state(SPSEC_STATE_WARNING, SPSEC_AEAD_CHACHA20POLY1305,
		                               SPSEC_MODE_ENCRYPT, kWindow, SPSEC_DEFAULT_DROP));
		expect(s, SPSEC_R_RX_OK);
	}
	SECTION("wiped keys: nothing verifies, nothing is sealed")
	{
		const CanFrame s = env.seal(plain, t0);
		REQUIRE(env.fx->dp().wipe_keys());
		expect(s, SPSEC_R_RX_NO_KEY);
		expect(own, SPSEC_R_TX_NO_KEY, false);
	}
	SECTION("key of another AEAD is no key")
	{
		REQUIRE(env.fx->dp().set_state(SPSEC_STATE_SECURE, SPSEC_AEAD_ASCON128,
		                               SPSEC_MODE_ENCRYPT, kWindow, SPSEC_DEFAULT_DROP));
		expect(env.seal(plain, t0), SPSEC_R_RX_NO_KEY);
	}
}

TEST_CASE("classification: echo, control plane, plain IDs, injection, default action", "[bpf]")
{
	const Net net{AeadKind::Ascon, StampMode::AuthOnly};
	const std::uint64_t t0 = (0x42ull << SPSEC_WINDOW_SHIFT) + 99;
	Env env(net, t0);
	secured_policy(*env.fx, env.ids,
	               {{0x7e0, SPSEC_POL_PLAIN_RX | SPSEC_POL_PLAIN_TX},
	                {0x7e1, SPSEC_POL_PLAIN_RX},
	                {0x7e2, SPSEC_POL_OWN_TX | SPSEC_POL_SECURED}});
	std::mt19937_64 rng(9);

	auto run = [&](bool ingress, const CanFrame& f, std::uint32_t reason, int act,
	               std::uint32_t cb0 = 0, std::uint32_t mark = 0) {
		const Counters before = counters(*env.fx);
		auto r = env.fx->run(ingress, to_wire(f), cb0, mark);
		REQUIRE(r);
		CHECK(r->retval == act);
		CHECK(moved(before, counters(*env.fx)) == static_cast<int>(reason));
		return r->out;
	};
	CanFrame p = random_plain(rng, env.ids, 20);

	// the local echo passes untouched, even for a secured ID in plain form
	CHECK(run(true, p, SPSEC_R_RX_LOCAL_ECHO, TC_ACT_OK, kEchoMagic) == to_wire(p));
	CanFrame ctrl = p;
	ctrl.can_id = CAN_EFF_FLAG | 0x12000A05u;  // a heartbeat
	run(true, ctrl, SPSEC_R_RX_CONTROL, TC_ACT_OK);
	run(false, ctrl, SPSEC_R_TX_CONTROL_UNMARKED, TC_ACT_SHOT);
	run(false, ctrl, SPSEC_R_TX_CONTROL, TC_ACT_OK, 0, SPSEC_DAEMON_MARK);
	CanFrame plain_id = p;
	plain_id.can_id = 0x7e0;
	CHECK(run(true, plain_id, SPSEC_R_RX_PLAIN, TC_ACT_OK) == to_wire(plain_id));
	CHECK(run(false, plain_id, SPSEC_R_TX_PLAIN, TC_ACT_OK) == to_wire(plain_id));
	plain_id.can_id = 0x7e1;  // plain only inbound
	run(false, plain_id, SPSEC_R_TX_UNKNOWN_ID, TC_ACT_SHOT);
	CanFrame unknown = p;
	unknown.can_id = 0x3;
	run(true, unknown, SPSEC_R_RX_UNKNOWN_ID, TC_ACT_SHOT);
	run(false, unknown, SPSEC_R_TX_UNKNOWN_ID, TC_ACT_SHOT);
	REQUIRE(env.fx->dp().set_state(SPSEC_STATE_SECURE, SPSEC_AEAD_ASCON128,
	                               SPSEC_MODE_AUTH_ONLY, kWindow, SPSEC_DEFAULT_PASS));
	run(true, unknown, SPSEC_R_RX_DEFAULT_PASS, TC_ACT_OK);
	run(false, unknown, SPSEC_R_TX_DEFAULT_PASS, TC_ACT_OK);
	CanFrame err = p;
	err.can_id = CAN_ERR_FLAG | 0x4;
	run(true, err, SPSEC_R_RX_ERROR_FRAME, TC_ACT_OK);

	// an own transmit ID from the bus is an injection, reported on the ring buffer
	std::vector<spsec_event> events;
	auto rb = RingBuffer::open(env.fx->dp().events_map(),
	                           [&](const spsec_event& ev) { events.push_back(ev); });
	REQUIRE(rb);
	CanFrame own = env.seal(p, t0);
	own.can_id = 0x7e2;
	run(true, own, SPSEC_R_RX_INJECTION, TC_ACT_SHOT);
	REQUIRE(rb->consume());
	REQUIRE(events.size() == 1);
	CHECK(events[0].type == SPSEC_EV_INJECTION);
	CHECK(events[0].can_id == 0x7e2);
	// the own ID still goes out stamped
	CanFrame own_plain = p;
	own_plain.can_id = 0x7e2;
	run(false, own_plain, SPSEC_R_TX_OK, TC_ACT_OK);
	// a flood is rate limited: at most SPSEC_EV_PER_SEC events per second and CPU
	for (int i = 0; i < 100; i++)
		run(true, own, SPSEC_R_RX_INJECTION, TC_ACT_SHOT);
	REQUIRE(rb->consume());
	// 101 injections; the budget is per CPU and second (a run may straddle both)
	CHECK(events.size() <= 4 * SPSEC_EV_PER_SEC);
	CHECK(events.size() >= 2);
}

TEST_CASE("egress output opens with the codec, T = max(now, last + 1)", "[bpf][diff]")
{
	for (const Net& net : kNets) {
		DYNAMIC_SECTION(net_name(net))
		{
			const std::uint64_t t0 = (0x5ull << SPSEC_WINDOW_SHIFT) + 12345;
			Env env(net, t0);
			secured_policy(*env.fx, env.ids, {}, SPSEC_POL_SECURED | SPSEC_POL_OWN_TX);
			std::mt19937_64 rng(99 + static_cast<unsigned>(net.kind));
			FreshnessTable tx;
			FreshnessTable rx;
			int bad = 0;
			for (int i = 0; i < 2000; i++) {
				const std::size_t l =
				        i < 55 ? static_cast<std::size_t>(i) : rng() % 55;
				const CanFrame plain = random_plain(rng, env.ids, l);
				auto r = env.fx->run(false, to_wire(plain));
				REQUIRE(r);
				REQUIRE(r->retval == TC_ACT_OK);
				const CanFrame sec = from_wire(r->out);
				const std::uint64_t expect_t =
				        tx.next_tx(can_id_key(plain.can_id), t0);
				// the clock stands still, so T runs ahead per ID; open it where it
				// is
				auto opened = open_frame(env.open_params(), sec, expect_t,
				                         env.lookup(), &rx);
				if (!opened || opened->plain != plain || opened->t != expect_t) {
					bad++;
					UNSCOPED_INFO("frame " << i << " "
					                       << format_can_frame(sec));
				}
			}
			CHECK(bad == 0);
			// frames that cannot be secured are dropped, never sent in clear
			CanFrame big = random_plain(rng, env.ids, 55);
			const Counters before = counters(*env.fx);
			auto r = env.fx->run(false, to_wire(big));
			REQUIRE(r);
			CHECK(r->retval == TC_ACT_SHOT);
			CHECK(moved(before, counters(*env.fx)) == SPSEC_R_TX_TOO_LONG);
			big.len = 64;
			r = env.fx->run(false, to_wire(big));
			REQUIRE(r);
			CHECK(r->retval == TC_ACT_SHOT);
			CanFrame classic = random_plain(rng, env.ids, 8);
			classic.fd = false;
			const Counters before2 = counters(*env.fx);
			r = env.fx->run(false, to_wire(classic));
			REQUIRE(r);
			CHECK(r->retval == TC_ACT_SHOT);
			CHECK(moved(before2, counters(*env.fx)) == SPSEC_R_TX_CLASSIC);
		}
	}
}

namespace {

// Runs one frame and checks its verdict and the one counter that moved.
struct Runner {
	Env& env;
	std::vector<std::uint8_t> operator()(bool ingress, const CanFrame& f, std::uint32_t reason,
	                                     int act, std::uint32_t cb0 = 0)
	{
		const Counters before = counters(*env.fx);
		auto r = env.fx->run(ingress, to_wire(f), cb0);
		REQUIRE(r);
		CHECK(r->retval == act);
		CHECK(moved(before, counters(*env.fx)) == static_cast<int>(reason));
		return r->out;
	}
};

std::optional<std::uint64_t> tx_last(DpFixture& fx, std::uint32_t id)
{
	const MapWriter w(fx.skel()->maps.spsec_tx_last);
	auto v = w.get<spsec_fresh>(spsec_id_key{id, 0});
	if (!v)
		return std::nullopt;
	return v->last_t;
}

}  // namespace

TEST_CASE("egress stamps only this node's own secured IDs", "[bpf]")
{
	const Net net{AeadKind::ChaCha20Poly1305, StampMode::Encrypt};
	const std::uint64_t t0 = (0x31ull << SPSEC_WINDOW_SHIFT) + 500;
	Env env(net, t0);
	constexpr std::uint32_t kOther = 0x120, kOwn = 0x121;
	secured_policy(*env.fx, {kOther}, {{kOwn, SPSEC_POL_SECURED | SPSEC_POL_OWN_TX}});
	std::vector<spsec_event> events;
	auto rb = RingBuffer::open(env.fx->dp().events_map(),
	                           [&](const spsec_event& ev) { events.push_back(ev); });
	REQUIRE(rb);
	Runner run{env};
	std::mt19937_64 rng(31);
	CanFrame f = random_plain(rng, {kOther}, 16);

	// another node's secured ID from a local process: never stamped with the group key
	CHECK(run(false, f, SPSEC_R_TX_NOT_OWN, TC_ACT_SHOT) == to_wire(f));
	CHECK_FALSE(tx_last(*env.fx, kOther));  // no T claimed for it either
	REQUIRE(rb->consume());
	REQUIRE(events.size() == 1);
	CHECK(events[0].type == SPSEC_EV_TX_REFUSED);
	CHECK(events[0].reason == SPSEC_R_TX_NOT_OWN);
	CHECK(events[0].can_id == kOther);

	f.can_id = kOwn;
	const auto out = run(false, f, SPSEC_R_TX_OK, TC_ACT_OK);
	auto opened = open_frame(env.open_params(), from_wire(out), t0, env.lookup());
	REQUIRE(opened);
	CHECK(opened->plain == f);
}

TEST_CASE("egress T runs at most W/2 ahead of the clock, and a dropped frame claims no T", "[bpf]")
{
	const Net net{AeadKind::Ascon, StampMode::Encrypt};
	const std::uint64_t t0 = (0x32ull << SPSEC_WINDOW_SHIFT) + 700;
	Env env(net, t0);
	constexpr std::uint32_t kOwn = 0x230, kOwn2 = 0x231;
	secured_policy(*env.fx, {},
	               {{kOwn, SPSEC_POL_SECURED | SPSEC_POL_OWN_TX},
	                {kOwn2, SPSEC_POL_SECURED | SPSEC_POL_OWN_TX}});
	Runner run{env};
	std::mt19937_64 rng(32);
	const CanFrame f = random_plain(rng, {kOwn}, 8);
	constexpr std::uint64_t kLead = kWindow / 2;

	SECTION("a flood of one ID is refused once its T leads by W/2")
	{
		// the clock stands still: frame i gets T = t0 + i
		for (std::uint64_t i = 0; i <= kLead; i++) {
			const auto out = run(false, f, SPSEC_R_TX_OK, TC_ACT_OK);
			auto o =
			        open_frame(env.open_params(), from_wire(out), t0 + i, env.lookup());
			REQUIRE(o);
			CHECK(o->t == t0 + i);
		}
		for (int i = 0; i < 100; i++)
			CHECK(run(false, f, SPSEC_R_TX_T_LEAD, TC_ACT_SHOT) == to_wire(f));
		CHECK(tx_last(*env.fx, kOwn) == t0 + kLead);
		// as the clock moves on, the ID may send again, still within the lead
		REQUIRE(env.fx->freeze_clock(t0 + 10));
		for (std::uint64_t i = 0; i < 10; i++)
			run(false, f, SPSEC_R_TX_OK, TC_ACT_OK);
		run(false, f, SPSEC_R_TX_T_LEAD, TC_ACT_SHOT);
		CHECK(tx_last(*env.fx, kOwn) == t0 + 10 + kLead);
	}
	SECTION("frames dropped after the T was chosen give it back")
	{
		run(false, f, SPSEC_R_TX_OK, TC_ACT_OK);  // T = t0
		run(false, f, SPSEC_R_TX_OK, TC_ACT_OK);  // T = t0 + 1
		REQUIRE(env.fx->dp().wipe_keys());
		for (int i = 0; i < 200; i++)
			run(false, f, SPSEC_R_TX_NO_KEY, TC_ACT_SHOT);
		CHECK(tx_last(*env.fx, kOwn) == t0 + 1);
		install(*env.fx, env.keys, net.kind, env.e0);
		install(*env.fx, env.keys, net.kind, env.e0 + 1);
		const auto out = run(false, f, SPSEC_R_TX_OK, TC_ACT_OK);
		auto o = open_frame(env.open_params(), from_wire(out), t0, env.lookup());
		REQUIRE(o);
		CHECK(o->t == t0 + 2);
	}
	SECTION("an acceptance window of 0 allows one frame per ID and tick")
	{
		REQUIRE(env.fx->dp().set_state(SPSEC_STATE_SECURE, SPSEC_AEAD_ASCON128,
		                               SPSEC_MODE_ENCRYPT, 0, SPSEC_DEFAULT_DROP));
		CanFrame g = f;
		g.can_id = kOwn2;
		run(false, g, SPSEC_R_TX_OK, TC_ACT_OK);
		run(false, g, SPSEC_R_TX_T_LEAD, TC_ACT_SHOT);
	}
}

TEST_CASE("control-plane IDs pass ingress only as well-formed SPsec messages", "[bpf]")
{
	const Net net{AeadKind::Ascon, StampMode::AuthOnly};
	Env env(net, (0x33ull << SPSEC_WINDOW_SHIFT) + 5);
	Runner run{env};
	auto frame = [](std::uint32_t id29, std::size_t len, bool fd = true) {
		CanFrame f;
		f.can_id = CAN_EFF_FLAG | id29;
		f.fd = fd;
		f.len = static_cast<std::uint8_t>(len);
		for (std::size_t i = 0; i < len; i++)
			f.data[i] = static_cast<std::uint8_t>(0xA0 + i);
		return f;
	};
	const CanFrame good[] = {
	        frame(0x0AFF0805, 16),        // PA request
	        frame(0x06230885, 20),        // PA response
	        frame(0x02210900, 20),        // Sync broadcast
	        frame(0x12020A05, 12),        // Secure heartbeat (status Secure)
	        frame(0x12000A7F, 64),        // heartbeat of pp 127, longer frame
	        frame(0x1EFF0085, 20),        // ClientHello
	        frame(0x1EFF0005, 16),        // ServerHello
	        frame(0x1E070185, 8, false),  // ClientFinished as a classical frame
	        frame(0x1E080285, 16),        // ReadInit request
	        frame(0x1E090605, 8),         // Terminate response
	        frame(0x0E000B05, 0),         // security event (type 11: no layout)
	        frame(0x1E000C05, 5),         // internal event
	        frame(0x1E2905FF, 40),        // WriteSeg of a key, unpadded (python-can on vxcan)
	        frame(0x1E0905FF, 9),         // WriteSeg of one byte, unpadded
	};
	const CanFrame bad[] = {
	        frame(0x12000705, 12),        // message type 7 does not exist
	        frame(0x12000E05, 12),        // nor 14
	        frame(0x13000A05, 12),        // bit 24 set
	        frame(0x0E000A05, 12),        // heartbeat at priority 3
	        frame(0x12000A85, 12),        // heartbeat addressed to a destination
	        frame(0x12000A00, 12),        // heartbeat of pp 0
	        frame(0x12000A05, 8),         // heartbeat too short to be stamped
	        frame(0x12000A05, 8, false),  // heartbeat as a classical frame
	        frame(0x0A000805, 16),        // PA request without context FFh
	        frame(0x02210905, 20),        // Sync broadcast with a participant
	        frame(0x02210980, 20),        // Sync broadcast to a destination
	        frame(0x1EFF0085, 16),        // ClientHello too short
	        frame(0x1E070185, 4),         // ClientFinished without its tag
	        frame(0x1E000C85, 5),         // internal event to a destination
	        frame(0x12000A05, 40),        // heartbeat of a length no stamp has
	        frame(0x02210900, 21),        // Sync broadcast of a length no stamp has
	};
	for (const auto& f : good) {
		INFO(format_can_frame(f));
		CHECK(run(true, f, SPSEC_R_RX_CONTROL, TC_ACT_OK) == to_wire(f));
	}
	CanFrame rtr = good[3];
	rtr.can_id |= CAN_RTR_FLAG;
	rtr.fd = false;
	rtr.len = 0;
	run(true, rtr, SPSEC_R_RX_UNKNOWN_ID, TC_ACT_SHOT);
	for (const auto& f : bad) {
		INFO(format_can_frame(f));
		run(true, f, SPSEC_R_RX_UNKNOWN_ID, TC_ACT_SHOT);
	}
	// the range follows the policy: default pass lets them through, counted as such
	REQUIRE(env.fx->dp().set_state(SPSEC_STATE_SECURE, SPSEC_AEAD_ASCON128,
	                               SPSEC_MODE_AUTH_ONLY, kWindow, SPSEC_DEFAULT_PASS));
	for (const auto& f : bad) {
		INFO(format_can_frame(f));
		run(true, f, SPSEC_R_RX_DEFAULT_PASS, TC_ACT_OK);
	}
}

TEST_CASE("a device echo (IFF_ECHO) of a stamped frame is opened, without injection or "
          "freshness checks",
          "[bpf]")
{
	for (const Net& net : kNets) {
		DYNAMIC_SECTION(net_name(net))
		{
			const std::uint64_t t0 = (0x34ull << SPSEC_WINDOW_SHIFT) + 900;
			Env env(net, t0);
			constexpr std::uint32_t kOwn = 0x340, kPlain = 0x341, kOther = 0x342;
			secured_policy(*env.fx, {kOther},
			               {{kOwn, SPSEC_POL_SECURED | SPSEC_POL_OWN_TX},
			                {kPlain, SPSEC_POL_PLAIN_RX | SPSEC_POL_PLAIN_TX}});
			Runner run{env};
			std::mt19937_64 rng(34);
			for (std::size_t l : {0u, 1u, 7u, 20u, 54u}) {
				const CanFrame plain = random_plain(rng, {kOwn}, l);
				const auto stamped = run(false, plain, SPSEC_R_TX_OK, TC_ACT_OK);
				const CanFrame s = from_wire(stamped);
				// the local socket gets the plain frame, as often as the echo comes
				for (int i = 0; i < 2; i++)
					CHECK(run(true, s, SPSEC_R_RX_ECHO_OPENED, TC_ACT_OK,
					          kEchoStampedMagic) == to_wire(plain));
				// the same bytes from the bus are an injection
				run(true, s, SPSEC_R_RX_INJECTION, TC_ACT_SHOT);
			}
			// an echo that comes back later than W still opens
			const CanFrame late = random_plain(rng, {kOwn}, 9);
			const CanFrame s = from_wire(run(false, late, SPSEC_R_TX_OK, TC_ACT_OK));
			REQUIRE(env.fx->freeze_clock(t0 + 10 * kWindow));
			CHECK(run(true, s, SPSEC_R_RX_ECHO_OPENED, TC_ACT_OK, kEchoStampedMagic) ==
			      to_wire(late));
			auto fresh = env.fx->dp().freshness_entries();
			REQUIRE(fresh);
			CHECK(fresh->rx == 0);  // echoes never touch rx freshness
			// a forged or damaged "echo" of an own ID is dropped, never passed as is
			CanFrame bent = s;
			bent.data[0] ^= 1;
			run(true, bent, SPSEC_R_RX_ECHO_FAILED, TC_ACT_SHOT, kEchoStampedMagic);
			// frames egress let out as they are come back as they are
			CanFrame p = random_plain(rng, {kPlain}, 12);
			CHECK(run(true, p, SPSEC_R_RX_LOCAL_ECHO, TC_ACT_OK, kEchoStampedMagic) ==
			      to_wire(p));
			CanFrame ctrl = p;
			ctrl.can_id = CAN_EFF_FLAG | 0x12020A05u;
			run(true, ctrl, SPSEC_R_RX_LOCAL_ECHO, TC_ACT_OK, kEchoStampedMagic);
			// the CAN core's plain clone (devices without IFF_ECHO) passes untouched
			CHECK(run(true, late, SPSEC_R_RX_LOCAL_ECHO, TC_ACT_OK, kEchoMagic) ==
			      to_wire(late));
		}
	}
}

TEST_CASE("freshness maps stay bounded by the policy across reloads", "[bpf]")
{
	const Net net{AeadKind::ChaCha20Poly1305, StampMode::AuthOnly};
	std::uint64_t t = (0x35ull << SPSEC_WINDOW_SHIFT) + 10;
	Env env(net, t);
	Runner run{env};
	std::mt19937_64 rng(35);
	// 5 reloads x 1000 distinct IDs per direction = 5000 > SPSEC_FRESH_MAX, each ID verified
	// (or stamped) once
	constexpr std::uint32_t kPerRound = 1000, kRounds = 5;
	static_assert(kRounds * kPerRound > SPSEC_FRESH_MAX);
	for (std::uint32_t round = 0; round < kRounds; round++) {
		std::vector<PolicyEntry> pol;
		std::vector<std::uint32_t> rx_ids, tx_ids;
		for (std::uint32_t i = 0; i < kPerRound; i++) {
			const std::uint32_t id = CAN_EFF_FLAG | ((round + 1) << 16) | (i * 2);
			rx_ids.push_back(id);
			tx_ids.push_back(id + 1);
			pol.push_back({id, SPSEC_POL_SECURED});
			pol.push_back({id + 1, SPSEC_POL_SECURED | SPSEC_POL_OWN_TX});
		}
		// the clock moves on between reloads, as it does in life
		t += 10 * kWindow;
		REQUIRE(env.fx->freeze_clock(t));
		auto r = env.fx->dp().replace_policy(pol);
		INFO((r ? std::string() : r.error().message()));
		REQUIRE(r);
		auto before = env.fx->dp().freshness_entries();
		REQUIRE(before);
		CHECK(before->rx == 0);
		CHECK(before->tx == 0);
		int bad = 0;
		for (std::uint32_t i = 0; i < kPerRound; i++) {
			const CanFrame p = random_plain(rng, {rx_ids[i]}, 4);
			auto in = env.fx->run(true, to_wire(env.seal(p, t)));
			REQUIRE(in);
			CanFrame q = p;
			q.can_id = tx_ids[i];
			auto out = env.fx->run(false, to_wire(q));
			REQUIRE(out);
			if (in->retval != TC_ACT_OK || out->retval != TC_ACT_OK)
				bad++;
		}
		INFO("round " << round);
		CHECK(bad == 0);
		auto after = env.fx->dp().freshness_entries();
		REQUIRE(after);
		CHECK(after->rx == kPerRound);
		CHECK(after->tx == kPerRound);
	}
	const Counters c = counters(*env.fx);
	CHECK(c[SPSEC_R_RX_INTERNAL] == 0);
	CHECK(c[SPSEC_R_TX_INTERNAL] == 0);
	// a tx entry whose T still leads the clock survives a reload that drops its ID
	const std::uint32_t lead_id = CAN_EFF_FLAG | 0x00990000u;
	REQUIRE(env.fx->dp().replace_policy(
	        std::vector<PolicyEntry>{{lead_id, SPSEC_POL_SECURED | SPSEC_POL_OWN_TX}}));
	CanFrame q = random_plain(rng, {lead_id}, 4);
	run(false, q, SPSEC_R_TX_OK, TC_ACT_OK);
	run(false, q, SPSEC_R_TX_OK, TC_ACT_OK);  // T = t + 1 > now
	REQUIRE(env.fx->dp().replace_policy(std::vector<PolicyEntry>{}));
	CHECK(tx_last(*env.fx, lead_id) == t + 1);
	REQUIRE(env.fx->freeze_clock(t + 2));
	REQUIRE(env.fx->dp().replace_policy(std::vector<PolicyEntry>{}));
	CHECK_FALSE(tx_last(*env.fx, lead_id));
}

TEST_CASE("DataPlane writers reject bad input with a named error", "[bpf]")
{
	auto fx = DpFixture::create();
	REQUIRE(fx);
	DataPlane& dp = (*fx)->dp();
	CHECK_FALSE(dp.set_state(9, SPSEC_AEAD_ASCON128, SPSEC_MODE_ENCRYPT, 150, 0));
	CHECK_FALSE(dp.set_state(2, 7, SPSEC_MODE_ENCRYPT, 150, 0));
	CHECK_FALSE(dp.set_state(2, SPSEC_AEAD_ASCON128, SPSEC_MODE_ENCRYPT, 2048, 0));
	CHECK_FALSE(dp.set_clock(1, 1, 0));
	CHECK_FALSE(dp.set_clock(1, 0, 100));
	const PolicyEntry dup[] = {{0x123, SPSEC_POL_SECURED}, {0x123, SPSEC_POL_PLAIN_RX}};
	auto r = dp.replace_policy(dup);
	REQUIRE_FALSE(r);
	CHECK(r.error().message().find("0x123") != std::string::npos);
	const PolicyEntry ctrl[] = {{CAN_EFF_FLAG | 0x02210900u, SPSEC_POL_SECURED}};
	CHECK_FALSE(dp.replace_policy(ctrl));
	const PolicyEntry big[] = {{0x800, SPSEC_POL_SECURED}};
	CHECK_FALSE(dp.replace_policy(big));
	spsec_key_slot* dead = new spsec_key_slot{};
	CHECK_FALSE(dp.install_key(*dead));
	delete dead;
	// a policy generation flip leaves exactly the new entries
	const PolicyEntry a[] = {{0x10, SPSEC_POL_SECURED}, {0x11, SPSEC_POL_PLAIN_RX}};
	REQUIRE(dp.replace_policy(a));
	const PolicyEntry b[] = {{0x12, SPSEC_POL_SECURED}};
	REQUIRE(dp.replace_policy(b));
	auto keys = MapWriter(bpf_object__find_map_by_name((*fx)->skel_object(), SPSEC_MAP_POLICY))
	                    .keys<spsec_policy_key>();
	REQUIRE(keys);
	REQUIRE(keys->size() == 1);
	CHECK((*keys)[0].can_id == 0x12);
}

namespace {

// Removes a pin root made by a test: its <ifname> directories, their pinned maps, itself.
void remove_pins(const std::string& root)
{
	std::error_code ec;
	std::filesystem::remove_all(root, ec);
}

}  // namespace

TEST_CASE("loader: pin directory, pinned maps reused on restart, ABI check", "[bpf][loader]")
{
	const test::PrivateBpffs fs;
	if (!fs.mounted()) {
		WARN(fs.error());
		return;
	}
	const std::string root = fs.path() + "/spsec";
	LoadOptions opts;
	opts.pin_root = root;
	opts.dev_echo = false;                                   // no interface spt0 here
	opts.aes = kKernelAes ? AesImpl::Kernel : AesImpl::Bpf;  // this binary's object
	{
		auto a = load_data_plane("spt0", opts);
		INFO((a ? std::string() : a.error().message()));
		REQUIRE(a);
		REQUIRE(a->maps.set_state(SPSEC_STATE_SECURE, SPSEC_AEAD_CHACHA20POLY1305,
		                          SPSEC_MODE_ENCRYPT, 99, SPSEC_DEFAULT_DROP));
		REQUIRE(a->maps.set_clock(5, 1234, 100000));
	}
	struct stat st {};
	REQUIRE(stat((root + "/spt0").c_str(), &st) == 0);
	CHECK((st.st_mode & 0777) == 0700);
	CHECK(stat((root + "/spt0/" SPSEC_MAP_KEYS).c_str(), &st) == 0);
	CHECK(stat((root + "/spt0/spsec_scratch").c_str(), &st) != 0);  // scratch is never pinned
	{
		// a restarted daemon sees the state the previous one left
		auto b = load_data_plane("spt0", opts);
		REQUIRE(b);
		auto s = b->maps.read_state();
		REQUIRE(s);
		CHECK(s->window == 99);
		CHECK(s->base_t == 1234);
		CHECK(s->abi_version == SPSEC_ABI_VERSION);
		// pinned state of another ABI version is refused
		spsec_state other = *s;
		other.abi_version = SPSEC_ABI_VERSION + 1;
		const std::uint32_t zero = 0;
		REQUIRE(MapWriter(bpf_object__find_map_by_name(b->skel.object(), SPSEC_MAP_STATE))
		                .put(zero, other, BPF_F_LOCK));
		auto c = load_data_plane("spt0", opts);
		REQUIRE_FALSE(c);
		CHECK(c.error().errno_value == EPROTO);
	}
	remove_pins(root);

	for (const char* bad : {"", "a/b", "..", "0123456789abcdef"}) {
		auto d = make_pin_dir(bad, root);
		CHECK_FALSE(d);
		if (!d)
			CHECK(d.error().errno_value == EINVAL);
	}
	remove_pins(root);
}

TEST_CASE("loader: the relay's counts are pinned, kept on restart, created where missing",
          "[bpf][loader][gateway]")
{
	const test::PrivateBpffs fs;
	if (!fs.mounted()) {
		WARN(fs.error());
		return;
	}
	const std::string root = fs.path() + "/spsec";
	const std::string dir = root + "/spt0";
	const std::string relay_pin = dir + "/" SPSEC_MAP_GW_RELAY;
	LoadOptions opts;
	opts.pin_root = root;
	opts.dev_echo = false;
	opts.aes = kKernelAes ? AesImpl::Kernel : AesImpl::Bpf;
	// rule 0 to_secured, rule 1 to_plain to a CAN FD segment (can-gw's, not the relay's),
	// rule 2 to_plain to a classical segment
	auto rule = [](std::uint32_t n, std::uint32_t id, std::uint32_t dir_, std::uint32_t flags) {
		spsec_gw_rule r{};
		r.value = id;
		r.mask = CAN_EFF_FLAG | CAN_SFF_MASK;
		r.hi = 0xFFFFFFFFu;
		r.dir = dir_;
		r.seg_ifindex = 999;
		r.rule = n;
		r.flags = flags;
		return r;
	};
	const std::vector<spsec_gw_rule> rules = {
	        rule(0, 0x120, SPSEC_GW_TO_SECURED, 0), rule(1, 0x200, SPSEC_GW_TO_PLAIN, 0),
	        rule(2, 0x201, SPSEC_GW_TO_PLAIN, SPSEC_GW_F_CLASSIC)};
	{
		auto a = load_data_plane("spt0", opts);
		INFO((a ? std::string() : a.error().message()));
		REQUIRE(a);
		CHECK(std::count(a->created_pins.begin(), a->created_pins.end(), relay_pin) == 1);
		auto gm = GatewayMaps::from_object(a->skel.object());
		REQUIRE(gm);
		REQUIRE(gm->replace_rules(rules));
		// what spsecd's relay writes, through the pin
		auto m = RelayCountMap::open_pinned(dir);
		INFO((m ? std::string() : m.error().message()));
		REQUIRE(m);
		REQUIRE(m->put(0, spsec_gw_relay_count{7, 0, 2}));
		REQUIRE(m->put(1, spsec_gw_relay_count{5, 5, 5}));  // not the relay's: not shown
		REQUIRE(m->put(2, spsec_gw_relay_count{3, 4, 1}));
		CHECK_FALSE(m->put(SPSEC_GW_RULES_MAX, spsec_gw_relay_count{}));
		auto v = read_pinned_gateway(dir);
		REQUIRE(v);
		REQUIRE(v->size() == 3u);
		CHECK((*v)[0].relay.relayed == 7);
		CHECK((*v)[0].relay.refused == 2);
		CHECK((*v)[1].relay.relayed == 0);
		CHECK((*v)[2].relay.relayed == 3);
		CHECK((*v)[2].relay.too_long == 4);
		CHECK((*v)[2].relay.refused == 1);
	}
	{
		// a restart reuses the pinned map: the counts are there
		auto b = load_data_plane("spt0", opts);
		REQUIRE(b);
		CHECK(b->created_pins.empty());
		auto m = RelayCountMap::open_pinned(dir);
		REQUIRE(m);
		auto c = m->get(2);
		REQUIRE(c);
		CHECK(c->relayed == 3);
		CHECK(c->too_long == 4);
		CHECK(c->refused == 1);
	}
	// the pins of an spsecd from before the map: stats read the rest, the relay's counts as 0
	REQUIRE(::unlink(relay_pin.c_str()) == 0);
	auto old = read_pinned_gateway(dir);
	REQUIRE(old);
	REQUIRE(old->size() == 3u);
	CHECK((*old)[0].relay.relayed == 0);
	CHECK((*old)[0].counters[SPSEC_GW_CNT_FWD] == 0);
	auto missing = RelayCountMap::open_pinned(dir);
	REQUIRE_FALSE(missing);
	CHECK_THAT(missing.error().message(), Catch::Contains(relay_pin));
	{
		// the next start creates it (and only it), zeroed; undoing that start takes only it
		auto c = load_data_plane("spt0", opts);
		REQUIRE(c);
		CHECK(c->created_pins == std::vector<std::string>{relay_pin});
		auto m = RelayCountMap::open_pinned(dir);
		REQUIRE(m);
		auto z = m->get(0);
		REQUIRE(z);
		CHECK(z->relayed == 0);
		REQUIRE(remove_created_pins(*c));
		struct stat st {};
		CHECK(stat(relay_pin.c_str(), &st) != 0);
		CHECK(stat((dir + "/" SPSEC_MAP_GW_RULES).c_str(), &st) == 0);
	}
	remove_pins(root);
}

TEST_CASE("loader: tc hooks attach, replace and detach (veth, tc mode forced)", "[bpf][loader]")
{
	test::VethPair veth("spt0", "spt1");
	if (!veth.created()) {
		// Under CI a missing veth would quietly drop this test: there it is a failure.
		if (std::getenv("CI") != nullptr)
			FAIL("cannot create the veth pair spt0/spt1");
		WARN("cannot create a veth pair: tc attachment not tested here (the vm tier tests "
		     "it)");
		return;
	}
	LoadOptions opts;
	opts.pin = false;
	opts.aes = kKernelAes ? AesImpl::Kernel : AesImpl::Bpf;  // this binary's object
	auto a = load_data_plane("spt0", opts);
	REQUIRE(a);
	CHECK(a->aes == *opts.aes);
	const int in = bpf_program__fd(a->skel->progs.spsec_ingress);
	const int eg = bpf_program__fd(a->skel->progs.spsec_egress);
	AttachOptions tc;  // the netlink path, whatever the host kernel offers (tcx: attach_test)
	tc.mode = AttachMode::Tc;
	auto missing = TcAttachment::attach("nosuchif0", in, eg, tc);
	REQUIRE_FALSE(missing);
	CHECK(missing.error().message().find("nosuchif0") != std::string::npos);
	{
		auto att = TcAttachment::attach("spt0", in, eg, tc);
		INFO((att ? std::string() : att.error().message()));
		REQUIRE(att);
		CHECK(att->mode() == AttachMode::Tc);
		CHECK(att->created_qdisc());
		// a second attach (a restarted daemon) replaces the filters in place
		auto again = TcAttachment::attach("spt0", in, eg, tc);
		REQUIRE(again);
		CHECK_FALSE(again->created_qdisc());
		again->release();
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = att->ifindex(),
		            .attach_point = BPF_TC_INGRESS);
		LIBBPF_OPTS(bpf_tc_opts, q, .handle = TcAttachment::kHandle,
		            .priority = TcAttachment::kPriority);
		REQUIRE(bpf_tc_query(&hook, &q) == 0);
		CHECK(q.prog_id != 0);
		REQUIRE(att->detach());
		// detach removed the filter and the qdisc this object created
		LIBBPF_OPTS(bpf_tc_opts, q2, .handle = TcAttachment::kHandle,
		            .priority = TcAttachment::kPriority);
		const LibbpfSilencer
		        quiet;  // the kernel's "Parent Qdisc doesn't exists" is the point
		CHECK(bpf_tc_query(&hook, &q2) != 0);
	}
	CHECK(veth.remove());
}

// ns per frame and verifier figures of this binary's object (T-table in bpf_dataplane, kernel AES
// in bpf_dataplane_kaes), 48-byte payload: what docs/data-plane.md gives per object. Ingress:
// the frame is accepted once, then each repetition verifies and decrypts it and meets
// freshness (as spsec_bench_dataplane measures); egress seals the same plain frame each time
// (the test entry's restore flag). Not a test: run with "[bench]".
TEST_CASE("ns per frame and verifier figures of this object", "[.][bench]")
{
	const std::uint32_t repeat = 20000;
	for (const Net& net : kNets) {
		const std::uint64_t t0 = (0x31ull << SPSEC_WINDOW_SHIFT) + 1000;
		Env env(net, t0);  // IDs secured, from the bus
		std::mt19937_64 rng(1);
		CanFrame plain = random_plain(rng, env.ids, 48);
		const auto wire = to_wire(env.seal(plain, t0));
		auto first = env.fx->run(true, wire);
		REQUIRE(first);
		REQUIRE(first->retval == TC_ACT_OK);
		std::vector<std::uint32_t> rx, tx;
		for (int round = 0; round < 5; round++) {
			auto r = env.fx->run(true, wire, 0, 0, repeat);
			REQUIRE(r);
			rx.push_back(r->duration_ns);
		}
		secured_policy(*env.fx, env.ids, {}, SPSEC_POL_SECURED | SPSEC_POL_OWN_TX);
		// a running clock (100 ns ticks) for egress: with the clock frozen, T = last + 1
		// would run past the W/2 lead cap after 75 repetitions (tx_t_lead)
		REQUIRE(env.fx->dp().set_clock(monotonic_ns(), t0, 100));
		for (int round = 0; round < 5; round++) {
			auto t = env.fx->run(false, to_wire(plain), 0, 0, repeat, kRestoreMagic);
			REQUIRE(t);
			REQUIRE(t->retval == TC_ACT_OK);
			tx.push_back(t->duration_ns);
		}
		std::sort(rx.begin(), rx.end());
		std::sort(tx.begin(), tx.end());
		if (&net == &kNets[0])
			for (bpf_program* p : {env.fx->skel()->progs.spsec_test_ingress,
			                       env.fx->skel()->progs.spsec_test_egress}) {
				auto st = prog_stats(p);
				REQUIRE(st);
				std::printf("VERIFIER %s %s: processed %u, xlated %u, jited %u\n",
				            kKernelAes ? "kernel-aes" : "t-table", st->name.c_str(),
				            st->verified_insns, st->xlated_insns, st->jited_bytes);
			}
		std::printf("BENCH %s %s rx %u ns tx %u ns (median of 5 x %u)\n",
		            kKernelAes ? "kernel-aes" : "t-table", net_name(net).c_str(), rx[2],
		            tx[2], repeat);
	}
}

#ifdef SPSEC_TEST_KERNEL_AES

namespace {

// Runs the kernel-AES object's syscall program `prog` for key slot `slot`; its args.err.
int run_kaes(DpFixture& fx, const char* prog, std::uint32_t slot)
{
	bpf_program* p = bpf_object__find_program_by_name(fx.skel_object(), prog);
	REQUIRE(p != nullptr);
	spsec_kaes_args args{};
	args.slot = slot;
	args.err = 1;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &args, .ctx_size_in = sizeof args);
	REQUIRE(bpf_prog_test_run_opts(bpf_program__fd(p), &opts) == 0);
	return args.err;
}

std::uint32_t live_slot(DpFixture& fx, std::uint64_t e)
{
	auto st = fx.dp().read_state();
	REQUIRE(st);
	return st->key_slot[e & 1];
}

// One frame of window e0 each way: ingress of a codec-sealed frame, egress of a plain one; the
// retvals and the reasons counted.
struct Both {
	int rx_ret, tx_ret, rx_reason, tx_reason;
};

// The first half of the IDs are this node's own (egress stamps them), the second half come from
// the bus (ingress opens them; an own ID from the bus would be an injection).
std::vector<std::uint32_t> own_ids(const Env& env)
{
	return {env.ids.begin(), env.ids.begin() + 32};
}
std::vector<std::uint32_t> bus_ids(const Env& env)
{
	return {env.ids.begin() + 32, env.ids.end()};
}

void own_and_bus_policy(Env& env)
{
	std::vector<PolicyEntry> own;
	for (auto id : own_ids(env))
		own.push_back({id, SPSEC_POL_SECURED | SPSEC_POL_OWN_TX});
	secured_policy(*env.fx, bus_ids(env), own);
}

// t0: the (frozen) clock; the ingress frame is sealed at t0 + ahead (distinct Ts per call keep
// freshness out of it).
Both run_both(Env& env, std::mt19937_64& rng, std::uint64_t t0, std::uint64_t ahead = 0)
{
	const CanFrame in = random_plain(rng, bus_ids(env), 20);
	const CanFrame plain = random_plain(rng, own_ids(env), 20);
	const CanFrame sec = env.seal(in, t0 + ahead);
	Both b{};
	Counters before = counters(*env.fx);
	auto r = env.fx->run(true, to_wire(sec));
	REQUIRE(r);
	b.rx_ret = r->retval;
	if (r->retval == TC_ACT_OK)
		CHECK(r->out == to_wire(in));
	b.rx_reason = moved(before, counters(*env.fx));
	before = counters(*env.fx);
	r = env.fx->run(false, to_wire(plain));
	REQUIRE(r);
	b.tx_ret = r->retval;
	if (r->retval == TC_ACT_OK) {
		// what egress sent opens with the codec
		// what egress sent opens with the codec (T runs ahead per ID by at most the
		// frames sent, well inside the window)
		auto opened = open_frame(env.open_params(), from_wire(r->out), t0, env.lookup());
		CHECK(opened);
		if (opened)
			CHECK(opened->plain == plain);
	}
	b.tx_reason = moved(before, counters(*env.fx));
	return b;
}

}  // namespace

TEST_CASE("kernel AES: the slot's AES is the kernel's; the T-table round keys are not read",
          "[bpf][kaes]")
{
	const std::uint64_t t0 = (0x99ull << SPSEC_WINDOW_SHIFT) + 777;
	Env env({AeadKind::AesGcm, StampMode::Encrypt}, t0);
	own_and_bus_policy(env);
	// zero the AES round keys of both live slots in place: window, key and H stay, so the
	// contexts still match; only a T-table AES would now compute garbage
	for (const std::uint64_t e : {env.e0, env.e0 + 1}) {
		const std::uint32_t i = live_slot(*env.fx, e);
		const MapWriter keys(
		        bpf_object__find_map_by_name(env.fx->skel_object(), "spsec_keys"));
		auto slot = std::make_unique<spsec_key_slot>();
		REQUIRE(keys.get_into(i, *slot));
		std::memset(slot->aes_rk, 0, sizeof slot->aes_rk);
		REQUIRE(keys.put(i, *slot));
		wipe_key_slot(*slot);
	}
	std::mt19937_64 rng(5);
	for (int i = 0; i < 50; i++) {
		const Both b = run_both(env, rng, t0, static_cast<std::uint64_t>(i));
		REQUIRE(b.rx_ret == TC_ACT_OK);
		REQUIRE(b.rx_reason == SPSEC_R_RX_OK);
		REQUIRE(b.tx_ret == TC_ACT_OK);
		REQUIRE(b.tx_reason == SPSEC_R_TX_OK);
	}
}

TEST_CASE("kernel AES: a slot without its context, or with a stale one, drops (fail closed)",
          "[bpf][kaes]")
{
	const std::uint64_t t0 = (0x42ull << SPSEC_WINDOW_SHIFT) + 4242;
	Env env({AeadKind::AesGcm, StampMode::Encrypt}, t0);
	own_and_bus_policy(env);
	std::mt19937_64 rng(6);
	Both b = run_both(env, rng, t0);
	REQUIRE(b.rx_reason == SPSEC_R_RX_OK);
	REQUIRE(b.tx_reason == SPSEC_R_TX_OK);
	const std::uint32_t live = live_slot(*env.fx, env.e0);

	SECTION("context released under a live slot")
	{
		REQUIRE(run_kaes(*env.fx, "spsec_kaes_clr", live) == 0);
	}
	SECTION("slot rewritten with another key, context not re-made (stale)")
	{
		Keys other(0x33);
		auto slot = std::make_unique<spsec_key_slot>();
		REQUIRE(prepare_key_slot(AeadKind::AesGcm, comm_key(other, env.e0), other.seed_salt,
		                         env.e0, *slot));
		const MapWriter keys(
		        bpf_object__find_map_by_name(env.fx->skel_object(), "spsec_keys"));
		REQUIRE(keys.put(live, *slot));
		wipe_key_slot(*slot);
	}
	b = run_both(env, rng, t0, 1);
	CHECK(b.rx_ret == TC_ACT_SHOT);
	CHECK(b.rx_reason == SPSEC_R_RX_NO_KERNEL_AES);
	CHECK(b.tx_ret == TC_ACT_SHOT);
	CHECK(b.tx_reason == SPSEC_R_TX_NO_KERNEL_AES);
	// a wiped key store has nothing to make contexts from: still NO_KEY, no context made
	REQUIRE(env.fx->dp().wipe_keys());
	b = run_both(env, rng, t0, 2);
	CHECK(b.rx_reason == SPSEC_R_RX_NO_KEY);
	CHECK(b.tx_reason == SPSEC_R_TX_NO_KEY);
	CHECK(run_kaes(*env.fx, "spsec_kaes_set", live) == -EINVAL);
}

TEST_CASE("kernel AES: a reload re-creates the contexts of the live slots from spsec_keys",
          "[bpf][kaes]")
{
	const std::uint64_t t0 = (0x43ull << SPSEC_WINDOW_SHIFT) + 99;
	Env env({AeadKind::AesGcm, StampMode::Encrypt}, t0);
	own_and_bus_policy(env);
	std::mt19937_64 rng(7);
	// as after a reload of the object: the key slots are there, no context is
	for (std::uint32_t i = 0; i < SPSEC_KEY_SLOTS; i++)
		REQUIRE(run_kaes(*env.fx, "spsec_kaes_clr", i) == 0);
	Both b = run_both(env, rng, t0);
	REQUIRE(b.rx_reason == SPSEC_R_RX_NO_KERNEL_AES);
	auto again = DataPlane::from_object(env.fx->skel_object());
	INFO((again ? std::string() : again.error().message()));
	REQUIRE(again);
	CHECK(again->aes() == AesImpl::Kernel);
	b = run_both(env, rng, t0, 1);
	CHECK(b.rx_reason == SPSEC_R_RX_OK);
	CHECK(b.tx_reason == SPSEC_R_TX_OK);
	// a slot index outside the map and a non-AES slot are refused by name
	CHECK(run_kaes(*env.fx, "spsec_kaes_set", SPSEC_KEY_SLOTS) == -ENOENT);
	CHECK(run_kaes(*env.fx, "spsec_kaes_prb", 0) == 0);
}

TEST_CASE("kernel AES: install_key makes the context before the flip, wipes release it",
          "[bpf][kaes]")
{
	const std::uint64_t t0 = (0x44ull << SPSEC_WINDOW_SHIFT) + 5;
	Env env({AeadKind::AesGcm, StampMode::Encrypt}, t0);
	const MapWriter ctx(bpf_object__find_map_by_name(env.fx->skel_object(), "spsec_kaes_ctx"));
	struct Val {
		std::uint64_t ctx, window, h_check;
	};
	// the two live slots have contexts for their windows, the spares none
	auto st = env.fx->dp().read_state();
	REQUIRE(st);
	for (std::uint32_t i = 0; i < SPSEC_KEY_SLOTS; i++) {
		auto v = ctx.get<Val>(i);
		REQUIRE(v);
		if (i == st->key_slot[0] || i == st->key_slot[1])
			CHECK(v->h_check != 0);
		else
			CHECK(v->h_check == 0);
	}
	// a rekey: the new window's slot gets its context, the replaced slot loses its own
	install(*env.fx, env.keys, AeadKind::AesGcm, env.e0 + 2);
	auto st2 = env.fx->dp().read_state();
	REQUIRE(st2);
	const std::uint32_t now_live = st2->key_slot[(env.e0 + 2) & 1];
	auto v = ctx.get<Val>(now_live);
	REQUIRE(v);
	CHECK(v->window == env.e0 + 2);
	auto old = ctx.get<Val>(st->key_slot[env.e0 & 1]);
	REQUIRE(old);
	CHECK(old->h_check == 0);
	// a ChaCha20-Poly1305 slot needs no context and gets none
	REQUIRE(env.fx->dp().set_state(SPSEC_STATE_SECURE, SPSEC_AEAD_CHACHA20POLY1305,
	                               SPSEC_MODE_ENCRYPT, kWindow, SPSEC_DEFAULT_DROP));
	install(*env.fx, env.keys, AeadKind::ChaCha20Poly1305, env.e0 + 3);
	auto st3 = env.fx->dp().read_state();
	REQUIRE(st3);
	auto c = ctx.get<Val>(st3->key_slot[(env.e0 + 3) & 1]);
	REQUIRE(c);
	CHECK(c->h_check == 0);
	REQUIRE(env.fx->dp().wipe_keys());
	for (std::uint32_t i = 0; i < SPSEC_KEY_SLOTS; i++) {
		auto w = ctx.get<Val>(i);
		REQUIRE(w);
		CHECK(w->h_check == 0);
		CHECK(w->window == 0);
	}
}

TEST_CASE("loader: kernel AES where the probe finds it, SPSEC_AES forces, contexts survive a "
          "restart by being re-made",
          "[bpf][loader][kaes]")
{
	const test::PrivateBpffs fs;
	if (!fs.mounted()) {
		WARN(fs.error());
		return;
	}
	const std::string root = fs.path() + "/spsec";
	LoadOptions opts;
	opts.pin_root = root;
	opts.dev_echo = false;
	Keys keys(0x21);
	const std::uint64_t e = 0x55;
	std::uint64_t h_check = 0;
	{
		auto a = load_data_plane("spt0", opts);  // auto
		INFO((a ? std::string() : a.error().message()));
		REQUIRE(a);
		CHECK(a->aes == AesImpl::Kernel);
		CHECK(a->maps.aes() == AesImpl::Kernel);
		CHECK_FALSE(a->aes_driver.empty());
		REQUIRE(a->maps.set_state(SPSEC_STATE_SECURE, SPSEC_AEAD_AES256GCM,
		                          SPSEC_MODE_ENCRYPT, 99, SPSEC_DEFAULT_DROP));
		auto slot = std::make_unique<spsec_key_slot>();
		REQUIRE(prepare_key_slot(AeadKind::AesGcm, comm_key(keys, e), keys.seed_salt, e,
		                         *slot));
		std::memcpy(&h_check, slot->gcm_h, sizeof h_check);
		REQUIRE(a->maps.install_key(*slot));
		wipe_key_slot(*slot);
	}
	auto ctx_of = [](const LoadedDataPlane& dp, std::uint32_t i) {
		struct Val {
			std::uint64_t ctx, window, h_check;
		};
		const MapWriter m(bpf_object__find_map_by_name(dp.skel.object(), "spsec_kaes_ctx"));
		auto v = m.get<Val>(i);
		REQUIRE(v);
		return *v;
	};
	{
		// the T-table object on the same pinned maps, forced
		opts.aes = AesImpl::Bpf;
		auto b = load_data_plane("spt0", opts);
		REQUIRE(b);
		CHECK(b->aes == AesImpl::Bpf);
		CHECK(b->maps.aes() == AesImpl::Bpf);
		CHECK(bpf_object__find_map_by_name(b->skel.object(), "spsec_kaes_ctx") == nullptr);
	}
	{
		// a restart with kernel AES: a new context map, the live slot's context re-made
		opts.aes = AesImpl::Kernel;
		auto c = load_data_plane("spt0", opts);
		REQUIRE(c);
		CHECK(c->aes == AesImpl::Kernel);
		auto st = c->maps.read_state();
		REQUIRE(st);
		const auto v = ctx_of(*c, st->key_slot[e & 1]);
		CHECK(v.window == e);
		CHECK(v.h_check == h_check);
	}
	remove_pins(root);
}

#endif  // SPSEC_TEST_KERNEL_AES
