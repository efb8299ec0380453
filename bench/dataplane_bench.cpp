// SPDX-License-Identifier: Apache-2.0
// Data-plane benchmark: ns per frame of the BPF data plane (BPF_PROG_TEST_RUN, repeat) against the
// core codec (OpenSSL EVP for AES-GCM and ChaCha20-Poly1305, the project's Ascon) and against the
// same BPF AEAD cores compiled natively, on the same work in the same run: a 48-byte payload
// (S = 64), per AEAD, for
//   rx_auth  ingress verify in an authentication-only network (tag over AAD = id || L || payload)
//   rx_dec   ingress verify + decrypt in an encrypting network
//   tx_seal  egress pad + stamp + encrypt + tag in an encrypting network
// Prints `BENCH <name> <value> <unit>` lines, the ratios, and the verifier's processed-instruction
// counts of the loaded programs. Needs root (exit 77 with "SKIP bpf: ..." otherwise).
//
// How the BPF figures are taken: ingress runs the sealed frame once (accepted), then `repeat`
// times more: each repetition does the whole verification and decryption and is then refused by
// per-ID freshness (the same work as an accepted frame minus the 8-word store back). Egress runs
// with the test entry's restore flag, so each repetition seals the same plain frame of an own
// transmit ID and gives back the T it claimed; the restore (9 loads + 9 stores + 2 map operations)
// is included. Both include the test-run loop's overhead (~30-40 ns). The first frame of each
// network is checked against the codec byte for byte, so the figures are of correct work.
//
// usage: spsec_bench_dataplane [repeat (default 200000)] [rounds (default 5, median taken)]
//                              [codec iterations per round (default 200000)]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/stamp.h"
#include "crypto/spsec_aead_native.h"
#include "dp_fixture.h"

using namespace spsec;
using namespace spsec::test;

namespace {

constexpr std::uint64_t kT0 = (0x321ull << SPSEC_WINDOW_SHIFT) + 1000;
constexpr std::uint32_t kTxId = 0x124;

[[noreturn]] void die(const std::string& what)
{
	std::fprintf(stderr, "spsec_bench_dataplane: %s\n", what.c_str());
	std::exit(1);
}

template <class T> T must(Result<T> r, const char* what)
{
	if (!r)
		die(std::string(what) + ": " + r.error().message());
	return std::move(*r);
}

void must(Result<void> r, const char* what)
{
	if (!r)
		die(std::string(what) + ": " + r.error().message());
}

double median(std::vector<double> v)
{
	std::sort(v.begin(), v.end());
	return v[v.size() / 2];
}

template <class F> double time_ns(int n, int rounds, F&& f)
{
	std::vector<double> r;
	for (int k = 0; k < rounds; k++) {
		const auto a = std::chrono::steady_clock::now();
		for (int i = 0; i < n; i++)
			f();
		const auto b = std::chrono::steady_clock::now();
		r.push_back(std::chrono::duration<double, std::nano>(b - a).count() / n);
	}
	return median(r);
}

void bench(const char* name, double v, const char* unit = "ns")
{
	std::printf("BENCH %s %.1f %s\n", name, v, unit);
}

struct Setup {
	std::unique_ptr<DpFixture> fx;
	std::unique_ptr<Aead> aead;
	std::unique_ptr<spsec_key_slot> slot = std::make_unique<spsec_key_slot>();
	KeySalt salt{{9, 8, 7, 6, 5, 4, 3, 2}};
};

Setup setup(AeadKind kind, StampMode mode)
{
	Setup s;
	s.fx = must(DpFixture::create(), "loading the test object");
	Key32 key;
	for (std::size_t i = 0; i < 32; i++)
		key.expose_mut()[i] = static_cast<std::uint8_t>(i * 7 + 1);
	must(prepare_key_slot(kind, key, s.salt, kT0 >> SPSEC_WINDOW_SHIFT, *s.slot), "key slot");
	DataPlane& dp = s.fx->dp();
	must(dp.set_state(SPSEC_STATE_SECURE, static_cast<std::uint32_t>(kind),
	                  static_cast<std::uint32_t>(mode), 150, SPSEC_DEFAULT_DROP),
	     "state");
	must(dp.install_key(*s.slot), "key");
	// 0x123 arrives from a peer; kTxId is this node's own transmit ID, the only kind egress
	// stamps
	const PolicyEntry pol[] = {{0x123, SPSEC_POL_SECURED},
	                           {kTxId, SPSEC_POL_SECURED | SPSEC_POL_OWN_TX}};
	must(dp.replace_policy(pol), "policy");
	must(s.fx->freeze_clock(kT0), "clock");
	s.aead = must(Aead::create(kind, key), "codec AEAD");
	return s;
}

CanFrame plain48(std::uint32_t id = 0x123)
{
	CanFrame f;
	f.fd = true;
	f.can_id = id;
	f.flags = CANFD_FDF | CANFD_BRS;
	f.len = 48;
	for (std::size_t i = 0; i < 48; i++)
		f.data[i] = static_cast<std::uint8_t>(i * 13);
	return f;
}

// The same work for the native build of the BPF cores: stage the io as the data plane does.
spsec_aead_io native_io(const CanFrame& sec, StampMode mode, const KeySalt& salt)
{
	spsec_aead_io io{};
	// the 16-byte (Ascon) nonce; AES-GCM and ChaCha20 read its first 12 bytes, which are theirs
	const Nonce n16 = build_nonce(AeadKind::Ascon, kT0, sec.id(), salt);
	std::copy(n16.bytes.begin(), n16.bytes.end(), io.nonce);
	const std::size_t l = 48;
	const Aad aad = build_aad(mode, sec.id(), std::span<const std::uint8_t>(sec.data).first(l));
	std::copy_n(aad.bytes.begin(), aad.len, io.aad.b);
	io.aad_len = aad.len;
	io.len = mode == StampMode::Encrypt ? 54 : 0;
	if (mode == StampMode::Encrypt)
		std::copy_n(sec.data.begin(), 54, io.buf.b);
	std::copy_n(sec.data.begin() + 56, 8, io.tag);
	return io;
}

}  // namespace

int main(int argc, char** argv)
{
	if (auto why = bpf_unavailable()) {
		std::printf("SKIP bpf: %s\n", why->c_str());
		return 77;
	}
	const int repeat = argc > 1 ? std::atoi(argv[1]) : 200000;
	const int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
	const int native_n = argc > 3 ? std::atoi(argv[3]) : 200000;

	{
		// the production object's figures (what tc attaches), loaded with private maps
		LoadOptions lo;
		lo.pin = false;
		lo.dev_echo = false;  // no interface bench0
		auto prod = must(load_data_plane("bench0", lo), "loading the production object");
		for (const bpf_program* p :
		     {prod.skel->progs.spsec_ingress, prod.skel->progs.spsec_egress}) {
			auto st = must(prog_stats(p), "program info");
			std::printf("BENCH verifier_processed_%s %u insns\n", st.name.c_str(),
			            st.verified_insns);
			std::printf("BENCH xlated_%s %u insns\n", st.name.c_str(), st.xlated_insns);
		}
	}

	struct Row {
		AeadKind kind;
		const char* name;
	};
	const Row rows[] = {{AeadKind::AesGcm, "aesgcm"},
	                    {AeadKind::ChaCha20Poly1305, "chachapoly"},
	                    {AeadKind::Ascon, "ascon"}};
	bool printed_insns = false;
	for (const Row& row : rows) {
		for (StampMode mode : {StampMode::AuthOnly, StampMode::Encrypt}) {
			Setup s = setup(row.kind, mode);
			if (!printed_insns) {
				for (bpf_program* p : {s.fx->skel()->progs.spsec_test_ingress,
				                       s.fx->skel()->progs.spsec_test_egress}) {
					auto st = must(prog_stats(p), "program info");
					std::printf("BENCH verifier_processed_%s %u insns\n",
					            st.name.c_str(), st.verified_insns);
					std::printf("BENCH xlated_%s %u insns\n", st.name.c_str(),
					            st.xlated_insns);
				}
				printed_insns = true;
			}
			const StampParams params{row.kind, mode, s.salt};
			const CanFrame plain = plain48();
			const CanFrame sec =
			        must(seal_frame(*s.aead, params, plain, kT0), "codec seal");
			const auto wire = to_wire(sec);
			const std::string tag = mode == StampMode::Encrypt ? "rx_dec" : "rx_auth";

			// BPF ingress: the first run accepts, the rest do the same work and meet
			// freshness
			auto first = must(s.fx->run(true, wire), "test run");
			if (first.retval != TC_ACT_OK || first.out != to_wire(plain))
				die("BPF ingress did not open the codec's frame");
			std::vector<double> bpf;
			for (int k = 0; k < rounds; k++)
				bpf.push_back(must(s.fx->run(true, wire, 0, 0,
				                             static_cast<std::uint32_t>(repeat)),
				                   "test run")
				                      .duration_ns);
			const double bpf_ns = median(bpf);

			// codec: open_frame on the same frame, no freshness table (so each open
			// succeeds)
			const OpenParams op{params, 150};
			KeyLookup keys = [&](std::uint64_t) { return s.aead.get(); };
			const double codec_ns = time_ns(native_n, rounds, [&] {
				auto o = open_frame(op, sec, kT0, keys, nullptr);
				if (!o)
					die("codec open failed");
			});
			// the BPF cores compiled natively, same staged work
			const spsec_aead_io io0 = native_io(sec, mode, s.salt);
			const double native_ns = time_ns(native_n, rounds, [&] {
				spsec_aead_io io = io0;
				if (spsec_aead_native_open(s.slot.get(), &io))
					die("native open failed");
			});
			const std::string base = tag + "_" + row.name;
			bench((base + "_bpf").c_str(), bpf_ns);
			bench((base + "_codec").c_str(), codec_ns);
			bench((base + "_native_core").c_str(), native_ns);
			bench((base + "_bpf_over_codec").c_str(), bpf_ns / codec_ns, "x");
			bench((base + "_bpf_over_native_core").c_str(), bpf_ns / native_ns, "x");

			if (mode != StampMode::Encrypt)
				continue;
			// BPF egress seal (restore mode) vs codec seal_frame
			std::vector<double> tx;
			const CanFrame own = plain48(kTxId);
			const auto pw = to_wire(own);
			// one frame sent for real claims T0 for kTxId and must be the codec's
			// frame; the timed runs then take the steady-state path (claim T0 + 1 by
			// compare-and-swap) and give it back
			const auto sent = must(s.fx->run(false, pw), "test run");
			if (sent.retval != TC_ACT_OK ||
			    sent.out != to_wire(must(seal_frame(*s.aead, params, own, kT0),
			                             "codec seal")))
				die("BPF egress did not seal as the codec does");
			for (int k = 0; k < rounds; k++) {
				auto r = must(s.fx->run(false, pw, 0, 0,
				                        static_cast<std::uint32_t>(repeat),
				                        kRestoreMagic),
				              "test run");
				if (r.retval != TC_ACT_OK)
					die("BPF egress refused the frame");
				tx.push_back(r.duration_ns);
			}
			const double tx_ns = median(tx);
			std::uint64_t t = kT0;
			const double codec_tx = time_ns(native_n, rounds, [&] {
				auto o = seal_frame(*s.aead, params, own, t);
				if (!o)
					die("codec seal failed");
			});
			const std::string tb = std::string("tx_seal_") + row.name;
			bench((tb + "_bpf").c_str(), tx_ns);
			bench((tb + "_codec").c_str(), codec_tx);
			bench((tb + "_bpf_over_codec").c_str(), tx_ns / codec_tx, "x");
		}
	}
	return 0;
}
