// SPDX-License-Identifier: Apache-2.0
// Prototype of kernel AES in the data plane (bpf/crypto/kfunc_probe.bpf.c): AES-256-GCM whose
// AES blocks are bpf_crypto_encrypt calls on an "ecb(aes)" context that a syscall program created
// from the key, GHASH the BPF table code. Under BPF_PROG_TEST_RUN it must produce exactly what the
// native cores produce (which bpfcrypto_native_test.cpp checks against OpenSSL): every len 0..54
// in both modes, tamper rejection. The key slot given to the BPF side has no AES round keys, so
// the T-table AES cannot be what produced the result. Without a context the seal fails closed.
//
// Needs root and a kernel with the BPF crypto kfuncs (6.10+); otherwise "SKIP bpf: <reason>", 77.
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
#include <random>
#include <span>
#include <string>
#include <vector>

#include <bpf/bpf.h>
#include <bpf/btf.h>
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

bool kernel_has_crypto_kfuncs()
{
	btf* vmlinux = btf__load_vmlinux_btf();
	if (vmlinux == nullptr)
		return false;
	bool all = true;
	for (const char* f :
	     {"bpf_crypto_ctx_create", "bpf_crypto_ctx_release", "bpf_crypto_encrypt"})
		all = all && btf__find_by_name_kind(vmlinux, f, BTF_KIND_FUNC) > 0;
	btf__free(vmlinux);
	return all;
}

bool gate()
{
	spsec::test::skip_binary_unless_bpf();
	if (!kernel_has_crypto_kfuncs()) {
		std::printf("SKIP bpf: the kernel has no BPF crypto kfuncs (Linux 6.10+, "
		            "CONFIG_BPF_SYSCALL + CONFIG_CRYPTO_SKCIPHER, in "
		            "/sys/kernel/btf/vmlinux)\n");
		std::fflush(stdout);
		std::_Exit(77);
	}
	return true;
}
const bool g_gate = gate();

// bpf/crypto/kfunc_probe.bpf.c: struct kfunc_key_args
struct KeyArgs {
	std::uint32_t slot;
	std::int32_t err;
	std::uint8_t key[32];
};
static_assert(sizeof(KeyArgs) == 40);

class KfuncProbe {
public:
	KfuncProbe()
	{
		cpu_set_t
		        set;  // test runs execute on the calling CPU: one per-CPU slot of probe_io
		CPU_ZERO(&set);
		CPU_SET(0, &set);
		REQUIRE(sched_setaffinity(0, sizeof(set), &set) == 0);
		obj_ = bpf_object__open_file(SPSEC_KFUNC_PROBE_OBJ, nullptr);
		REQUIRE(obj_ != nullptr);
		bpf_program* p = nullptr;
		bpf_object__for_each_program(p, obj_)
		{
			auto& log = logs_[bpf_program__name(p)];
			log.assign(1 << 20, '\0');
			REQUIRE(bpf_program__set_log_level(p, 4) == 0);
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
	~KfuncProbe() { bpf_object__close(obj_); }
	KfuncProbe(const KfuncProbe&) = delete;
	KfuncProbe& operator=(const KfuncProbe&) = delete;

	// Runs a syscall program (kfunc_set_key / kfunc_clear_key) and returns its args.err.
	int syscall(const char* prog, std::uint32_t slot, const Bytes& key = Bytes(32))
	{
		KeyArgs args{};
		args.slot = slot;
		args.err = 1;
		std::memcpy(args.key, key.data(), sizeof(args.key));
		bpf_test_run_opts opts{};
		opts.sz = sizeof(opts);
		opts.ctx_in = &args;
		opts.ctx_size_in = sizeof(args);
		bpf_program* p = bpf_object__find_program_by_name(obj_, prog);
		REQUIRE(p != nullptr);
		REQUIRE(bpf_prog_test_run_opts(bpf_program__fd(p), &opts) == 0);
		return args.err;
	}

	// The key slot for the tc programs, without the AES round keys (the kernel does AES).
	void set_slot(const spsec_key_slot& slot)
	{
		auto copy = std::make_unique<spsec_key_slot>(slot);
		std::memset(copy->aes_rk, 0, sizeof(copy->aes_rk));
		const std::uint32_t zero = 0;
		REQUIRE(bpf_map__update_elem(keys_, &zero, sizeof(zero), copy.get(), sizeof(*copy),
		                             BPF_ANY) == 0);
	}

	int run(const char* prog, spsec_aead_io& io, std::uint32_t repeat = 1,
	        std::uint32_t* duration_ns = nullptr)
	{
		const std::uint32_t zero = 0;
		std::vector<spsec_aead_io> all(static_cast<std::size_t>(ncpu_), io);
		REQUIRE(bpf_map__update_elem(io_, &zero, sizeof(zero), all.data(),
		                             all.size() * sizeof(io), BPF_ANY) == 0);
		bpf_program* p = bpf_object__find_program_by_name(obj_, prog);
		REQUIRE(p != nullptr);
		std::array<std::uint8_t, 64> pkt{};
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
		std::memcpy(&ret, bss.data(), sizeof(ret));  // probe_ret
		return ret;
	}

	long processed(const char* prog)
	{
		const char* pr = std::strstr(logs_.at(prog).c_str(), "processed ");
		return pr != nullptr ? std::strtol(pr + 10, nullptr, 10) : -1;
	}

private:
	bpf_object* obj_ = nullptr;
	bpf_map* keys_ = nullptr;
	bpf_map* io_ = nullptr;
	bpf_map* bss_ = nullptr;
	int ncpu_ = 0;
	std::map<std::string, std::string> logs_;
};

KfuncProbe& probe()
{
	static KfuncProbe p;
	return p;
}

std::unique_ptr<spsec_key_slot> make_slot(const Bytes& key32)
{
	auto slot = std::make_unique<spsec_key_slot>();
	const spsec::Key32 key(std::span<const std::uint8_t, 32>(key32.data(), 32));
	const std::array<std::uint8_t, 8> salt{};
	REQUIRE(spsec::prepare_key_slot(AeadKind::AesGcm, key, salt, 1, *slot).has_value());
	return slot;
}

spsec_aead_io make_io(std::mt19937_64& rng, std::size_t aad_len, std::size_t len)
{
	spsec_aead_io io{};
	const Bytes junk = random_bytes(rng, sizeof(io));
	std::memcpy(&io, junk.data(), sizeof(io));
	io.aad_len = static_cast<std::uint32_t>(aad_len);
	io.len = static_cast<std::uint32_t>(len);
	return io;
}

bool same(const spsec_aead_io& a, const spsec_aead_io& b)
{
	return std::memcmp(&a, &b, sizeof(a)) == 0;
}

}  // namespace

TEST_CASE("kernel AES (crypto kfuncs): AES-256-GCM equals the native core", "[kfunc]")
{
	std::mt19937_64 rng(30);
	KfuncProbe& pr = probe();
	for (std::size_t len = 0; len <= SPSEC_AEAD_MAX_LEN; len++) {
		for (int auth_only = 0; auth_only < 2; auth_only++) {
			for (int c = 0; c < 2; c++) {
				const Bytes key = random_bytes(rng, 32);
				const auto slot = make_slot(key);
				pr.set_slot(*slot);
				REQUIRE(pr.syscall("kfunc_set_key", 0, key) == 0);
				const std::size_t aad_len =
				        SPSEC_AEAD_MIN_AAD + (auth_only != 0 ? len : 0);
				INFO("aad_len " << aad_len << " len " << len);
				const spsec_aead_io in =
				        make_io(rng, aad_len, auth_only != 0 ? 0 : len);

				spsec_aead_io bpf = in, native = in;
				REQUIRE(pr.run("probe_kgcm_seal", bpf) == 0);
				REQUIRE(spsec_aead_native_seal(slot.get(), &native) == 0);
				REQUIRE(same(bpf, native));

				const spsec_aead_io sealed = bpf;
				REQUIRE(pr.run("probe_kgcm_open", bpf) == 0);
				native = sealed;
				REQUIRE(spsec_aead_native_open(slot.get(), &native) == 0);
				REQUIRE(same(bpf, native));
				CHECK(std::memcmp(bpf.buf.b, in.buf.b, in.len) == 0);

				bpf = sealed;
				const std::size_t bit = static_cast<std::size_t>(rng() % 64);
				bpf.tag[bit / 8] = static_cast<std::uint8_t>(bpf.tag[bit / 8] ^
				                                             (1u << (bit % 8)));
				CHECK(pr.run("probe_kgcm_open", bpf) == -1);
				for (const std::uint8_t b : bpf.buf.b)
					REQUIRE(b == 0);
			}
		}
	}
}

TEST_CASE("kernel AES (crypto kfuncs): a new key replaces the context; no context fails closed",
          "[kfunc]")
{
	std::mt19937_64 rng(31);
	KfuncProbe& pr = probe();
	const Bytes key_a = random_bytes(rng, 32), key_b = random_bytes(rng, 32);
	const auto slot_b = make_slot(key_b);
	REQUIRE(pr.syscall("kfunc_set_key", 0, key_a) == 0);
	REQUIRE(pr.syscall("kfunc_set_key", 0, key_b) == 0);  // releases A's context
	pr.set_slot(*slot_b);
	spsec_aead_io bpf = make_io(rng, 5, 54), native = bpf;
	REQUIRE(pr.run("probe_kgcm_seal", bpf) == 0);
	REQUIRE(spsec_aead_native_seal(slot_b.get(), &native) == 0);
	CHECK(same(bpf, native));

	// slot 1 exists, slot 2 does not (KFUNC_SLOTS is 2)
	CHECK(pr.syscall("kfunc_set_key", 1, key_a) == 0);
	CHECK(pr.syscall("kfunc_clear_key", 1) == 0);
	CHECK(pr.syscall("kfunc_set_key", 2, key_a) == -2);

	// without a context, neither seal nor open produces anything that passes
	const spsec_aead_io sealed = bpf;
	REQUIRE(pr.syscall("kfunc_clear_key", 0) == 0);
	spsec_aead_io again = make_io(rng, 5, 54);
	CHECK(pr.run("probe_kgcm_seal", again) != 0);
	bpf = sealed;
	CHECK(pr.run("probe_kgcm_open", bpf) != 0);
}

TEST_CASE("kernel AES (crypto kfuncs): verifier figures", "[kfunc]")
{
	for (const char* prog : {"probe_kgcm_seal", "probe_kgcm_open"}) {
		const long n = probe().processed(prog);
		std::printf("VERIFIER %s: processed %ld\n", prog, n);
		CHECK(n > 0);
	}
}

// BPF ns per AES-GCM seal with kernel AES (BPF_PROG_TEST_RUN, repeat 20000), to set against
// bpf_bpfcrypto's "[bench]" figures for the T-table. Not a test: run with the [bench] tag.
TEST_CASE("kernel AES (crypto kfuncs): ns per seal", "[.][bench][kfunc]")
{
	std::mt19937_64 rng(32);
	const Bytes key = random_bytes(rng, 32);
	const auto slot = make_slot(key);
	probe().set_slot(*slot);
	REQUIRE(probe().syscall("kfunc_set_key", 0, key) == 0);
	for (const std::size_t len : {std::size_t{0}, std::size_t{6}, std::size_t{54}}) {
		spsec_aead_io io = make_io(rng, 5, len);
		std::uint32_t ns = 0;
		REQUIRE(probe().run("probe_kgcm_seal", io, 20000, &ns) == 0);
		std::printf("BENCH bpfcrypto_kfunc_seal_aes-gcm_len%zu %u ns\n", len, ns);
	}
}
