// SPDX-License-Identifier: Apache-2.0
// The AEAD cores compiled for BPF (bpf/crypto/probe.bpf.c) run under BPF_PROG_TEST_RUN and must
// produce exactly what the native build produces (which bpfcrypto_native_test.cpp checks against
// OpenSSL and the Ascon KAT): every len 0..54 in both modes, random keys and nonces, tamper
// rejection. Also prints the verifier's figures per program and the BPF ns per seal.
//
// Needs root (CAP_BPF + CAP_NET_ADMIN); otherwise it prints "SKIP bpf: <reason>" and exits 77.
#include <sched.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <catch2/catch.hpp>
#include <linux/pkt_cls.h>

#include "bpf/key_material.h"
#include "crypto/spsec_aead_native.h"
#include "host_env.h"
#include "test_util.h"

namespace {

using spsec::test::random_bytes;

using Bytes = std::vector<std::uint8_t>;
using spsec::AeadKind;

const bool g_gate = spsec::test::skip_binary_unless_bpf();

constexpr std::size_t kLogSize = 1 << 20;

// The probe object, loaded once, with the verifier statistics of every program.
class Probe {
public:
	Probe()
	{
		// test runs of SCHED_CLS execute on the calling CPU: pin to CPU 0 so its per-CPU
		// slot of probe_io is the one the program used
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(0, &set);
		REQUIRE(sched_setaffinity(0, sizeof(set), &set) == 0);

		obj_ = bpf_object__open_file(SPSEC_AEAD_PROBE_OBJ, nullptr);
		REQUIRE(obj_ != nullptr);
		bpf_program* p = nullptr;
		bpf_object__for_each_program(p, obj_)
		{
			auto& log = logs_[bpf_program__name(p)];
			log.assign(kLogSize, '\0');
			REQUIRE(bpf_program__set_log_level(p, 4) == 0);  // statistics only
			REQUIRE(bpf_program__set_log_buf(p, log.data(), log.size()) == 0);
		}
		REQUIRE(bpf_object__load(obj_) == 0);
		keys_ = bpf_object__find_map_by_name(obj_, "probe_keys");
		io_ = bpf_object__find_map_by_name(obj_, "probe_io");
		bpf_map* m = nullptr;
		bpf_object__for_each_map(m, obj_)
		{
			const std::string name = bpf_map__name(m);
			if (name.size() > 4 && name.substr(name.size() - 4) == ".bss")
				bss_ = m;
		}
		REQUIRE(keys_ != nullptr);
		REQUIRE(io_ != nullptr);
		REQUIRE(bss_ != nullptr);
		ncpu_ = libbpf_num_possible_cpus();
		REQUIRE(ncpu_ > 0);
	}
	~Probe() { bpf_object__close(obj_); }
	Probe(const Probe&) = delete;
	Probe& operator=(const Probe&) = delete;

	void set_key(const spsec_key_slot& slot)
	{
		const std::uint32_t zero = 0;
		REQUIRE(bpf_map__update_elem(keys_, &zero, sizeof(zero), &slot, sizeof(slot),
		                             BPF_ANY) == 0);
	}

	// Writes io to every CPU's slot, runs `prog` once, returns the core's result and io as the
	// program left it.
	int run(const char* prog, spsec_aead_io& io, std::uint32_t repeat = 1,
	        std::uint32_t* duration_ns = nullptr)
	{
		const std::uint32_t zero = 0;
		std::vector<spsec_aead_io> all(static_cast<std::size_t>(ncpu_), io);
		REQUIRE(bpf_map__update_elem(io_, &zero, sizeof(zero), all.data(),
		                             all.size() * sizeof(io), BPF_ANY) == 0);
		bpf_program* p = bpf_object__find_program_by_name(obj_, prog);
		REQUIRE(p != nullptr);
		std::array<std::uint8_t, 64> pkt{};  // content unused; SCHED_CLS needs >= ETH_HLEN
		bpf_test_run_opts opts{};
		opts.sz = sizeof(opts);
		opts.data_in = pkt.data();
		opts.data_size_in = static_cast<std::uint32_t>(pkt.size());
		opts.repeat = static_cast<int>(repeat);
		REQUIRE(bpf_prog_test_run_opts(bpf_program__fd(p), &opts) == 0);
		REQUIRE(opts.retval == TC_ACT_OK);
		if (duration_ns != nullptr)
			*duration_ns = opts.duration;
		REQUIRE(bpf_map__lookup_elem(io_, &zero, sizeof(zero), all.data(),
		                             all.size() * sizeof(io), 0) == 0);
		io = all[0];
		std::vector<std::uint8_t> bss(bpf_map__value_size(bss_));
		REQUIRE(bpf_map__lookup_elem(bss_, &zero, sizeof(zero), bss.data(), bss.size(),
		                             0) == 0);
		int ret = 0;
		std::memcpy(&ret, bss.data(), sizeof(ret));  // probe_ret is the only .bss variable
		return ret;
	}

	// "processed N insns ... stack depth a+b" and the program's xlated/jited sizes.
	std::string stats(const char* prog, long* processed)
	{
		const std::string& log = logs_.at(prog);
		const char* text = log.c_str();
		const char* pr = std::strstr(text, "processed ");
		const char* st = std::strstr(text, "stack depth ");
		*processed = pr != nullptr ? std::strtol(pr + 10, nullptr, 10) : -1;
		bpf_program* p = bpf_object__find_program_by_name(obj_, prog);
		bpf_prog_info info{};
		std::uint32_t len = sizeof(info);
		REQUIRE(bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len) == 0);
		std::string stack = st != nullptr ? std::string(st, std::strcspn(st, "\n")) : "?";
		return std::to_string(info.xlated_prog_len / 8) + " insns, jited " +
		       std::to_string(info.jited_prog_len) + " B, processed " +
		       std::to_string(*processed) + ", " + stack;
	}

private:
	bpf_object* obj_ = nullptr;
	bpf_map* keys_ = nullptr;
	bpf_map* io_ = nullptr;
	bpf_map* bss_ = nullptr;
	int ncpu_ = 0;
	std::map<std::string, std::string> logs_;
};

Probe& probe()
{
	static Probe p;
	return p;
}

std::unique_ptr<spsec_key_slot> make_slot(AeadKind kind, const Bytes& key32)
{
	auto slot = std::make_unique<spsec_key_slot>();
	const spsec::Key32 key(std::span<const std::uint8_t, 32>(key32.data(), 32));
	const std::array<std::uint8_t, 8> salt{};
	REQUIRE(spsec::prepare_key_slot(kind, key, salt, 1, *slot).has_value());
	return slot;
}

spsec_aead_io make_io(std::mt19937_64& rng, std::size_t aad_len, std::size_t len)
{
	spsec_aead_io io{};
	const Bytes junk = random_bytes(rng, sizeof(io));
	std::memcpy(&io, junk.data(), sizeof(io));  // garbage beyond the lengths too
	io.aad_len = static_cast<std::uint32_t>(aad_len);
	io.len = static_cast<std::uint32_t>(len);
	return io;
}

bool same(const spsec_aead_io& a, const spsec_aead_io& b)
{
	return std::memcmp(&a, &b, sizeof(a)) == 0;
}

void bpf_matches_native(AeadKind kind, int keys, std::uint64_t seed)
{
	std::mt19937_64 rng(seed);
	Probe& pr = probe();
	for (std::size_t len = 0; len <= SPSEC_AEAD_MAX_LEN; len++) {
		for (int auth_only = 0; auth_only < 2; auth_only++) {
			for (int c = 0; c < keys; c++) {
				const auto slot = make_slot(kind, random_bytes(rng, 32));
				pr.set_key(*slot);
				const std::size_t aad_len =
				        SPSEC_AEAD_MIN_AAD + (auth_only != 0 ? len : 0);
				INFO("aead " << static_cast<int>(kind) << " aad_len " << aad_len
				             << " len " << len);
				spsec_aead_io in = make_io(rng, aad_len, auth_only != 0 ? 0 : len);

				spsec_aead_io bpf = in, native = in;
				REQUIRE(pr.run("probe_seal", bpf) == 0);
				REQUIRE(spsec_aead_native_seal(slot.get(), &native) == 0);
				REQUIRE(same(bpf, native));

				// open what was sealed: plaintext back, identical to native
				spsec_aead_io sealed = bpf;
				REQUIRE(pr.run("probe_open", bpf) == 0);
				native = sealed;
				REQUIRE(spsec_aead_native_open(slot.get(), &native) == 0);
				REQUIRE(same(bpf, native));
				CHECK(std::memcmp(bpf.buf.b, in.buf.b, in.len) == 0);

				// one flipped tag bit: rejected, buffer zeroed
				bpf = sealed;
				const std::size_t bit = static_cast<std::size_t>(rng() % 64);
				bpf.tag[bit / 8] = static_cast<std::uint8_t>(bpf.tag[bit / 8] ^
				                                             (1u << (bit % 8)));
				CHECK(pr.run("probe_open", bpf) == -1);
				for (const std::uint8_t b : bpf.buf.b)
					REQUIRE(b == 0);
			}
		}
	}
}

}  // namespace

TEST_CASE("verifier accepts the AEAD cores; figures per program", "[bpfcrypto]")
{
	for (const char* prog :
	     {"probe_seal", "probe_open", "probe_gcm_seal", "probe_gcm_open", "probe_chacha_seal",
	      "probe_chacha_open", "probe_ascon_seal", "probe_ascon_open"}) {
		long processed = 0;
		const std::string s = probe().stats(prog, &processed);
		std::printf("VERIFIER %s: %s\n", prog, s.c_str());
		// the data plane runs seal or open next to its own verdict logic: keep the cores
		// far below the 1M-instruction limit
		CHECK(processed > 0);
		CHECK(processed < 100000);
	}
}

TEST_CASE("BPF AES-256-GCM equals the native core", "[bpfcrypto]")
{
	bpf_matches_native(AeadKind::AesGcm, 3, 20);
}

TEST_CASE("BPF ChaCha20-Poly1305 equals the native core", "[bpfcrypto]")
{
	bpf_matches_native(AeadKind::ChaCha20Poly1305, 3, 21);
}

TEST_CASE("BPF Ascon-AEAD128 equals the native core", "[bpfcrypto]")
{
	bpf_matches_native(AeadKind::Ascon, 3, 22);
}

TEST_CASE("per-AEAD probe programs equal the dispatcher", "[bpfcrypto]")
{
	std::mt19937_64 rng(23);
	struct Case {
		AeadKind kind;
		const char* seal;
		const char* open;
	};
	for (const Case c :
	     {Case{AeadKind::AesGcm, "probe_gcm_seal", "probe_gcm_open"},
	      Case{AeadKind::ChaCha20Poly1305, "probe_chacha_seal", "probe_chacha_open"},
	      Case{AeadKind::Ascon, "probe_ascon_seal", "probe_ascon_open"}}) {
		const auto slot = make_slot(c.kind, random_bytes(rng, 32));
		probe().set_key(*slot);
		for (const std::size_t len : {std::size_t{0}, std::size_t{17}, std::size_t{54}}) {
			spsec_aead_io a = make_io(rng, 5, len), b = a;
			REQUIRE(probe().run(c.seal, a) == 0);
			REQUIRE(spsec_aead_native_seal(slot.get(), &b) == 0);
			REQUIRE(same(a, b));
			REQUIRE(probe().run(c.open, a) == 0);
		}
	}
}

// BPF ns per seal (BPF_PROG_TEST_RUN, repeat 20000), including the test-run and map-lookup
// overhead. Not a test: run with the [bench] tag.
TEST_CASE("BPF AEAD cores: ns per seal", "[.][bench][bpfcrypto]")
{
	std::mt19937_64 rng(24);
	for (const AeadKind kind :
	     {AeadKind::AesGcm, AeadKind::ChaCha20Poly1305, AeadKind::Ascon}) {
		const auto slot = make_slot(kind, random_bytes(rng, 32));
		probe().set_key(*slot);
		for (const std::size_t len : {std::size_t{0}, std::size_t{6}, std::size_t{54}}) {
			spsec_aead_io io = make_io(rng, 5, len);
			std::uint32_t ns = 0;
			REQUIRE(probe().run("probe_seal", io, 20000, &ns) == 0);
			std::printf("BENCH bpfcrypto_bpf_seal_%s_len%zu %u ns\n",
			            std::string(spsec::aead_name(kind)).c_str(), len, ns);
		}
	}
}
