// SPDX-License-Identifier: Apache-2.0
// The one command-line parser (core/cli.h) and every spsecctl verb's use of it: --opt=VALUE and
// --opt VALUE are the same everywhere; each usage error names the verb and the option and exits 2;
// keys given in argv are overwritten; every invocation the vm tests and vm/*.sh use parses.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "core/cli.h"
#include "ctl/commands.h"
#include "ctl_capture.h"
#include "ctl_test_util.h"

namespace {

using spsec::cli::Args;
using spsec::cli::Option;
using spsec::cli::Spec;
namespace spec = spsec::ctl::spec;

// argv as mutable C strings (the parser overwrites key values in place).
class Argv {
public:
	explicit Argv(const std::vector<std::string>& args)
	{
		for (const auto& a : args)
			store_.emplace_back(a.c_str(), a.c_str() + a.size() + 1);
		for (auto& s : store_)
			ptrs_.push_back(s.data());
	}
	std::span<char* const> span() const { return ptrs_; }
	std::string at(std::size_t i) const { return store_[i].data(); }
	char** argv() { return ptrs_.data(); }
	int argc() const { return static_cast<int>(ptrs_.size()); }

private:
	std::vector<std::vector<char>> store_;
	std::vector<char*> ptrs_;
};

using spsec::cli::parse;

std::string joined(const std::vector<std::string>& args)
{
	std::string s;
	for (const auto& a : args)
		s += a + " ";
	return s;
}

using spsec::ctl::test::Run;
using spsec::ctl::test::run_captured;

// configure and provision take their arguments without the verb and write into CtlEnv.
Run run_env(int (*fn)(const std::vector<std::string>&, spsec::ctl::CtlEnv&),
            const std::vector<std::string>& args)
{
	spsec::ctl::test::MemBus bus;
	auto o = spsec::ctl::test::run_cmd(fn, bus, {args.begin() + 1, args.end()});
	return Run{o.rc, o.out, o.err};
}

struct Verb {
	const char* name;
	const Spec* spec;
	int (*cmd)(int, char**);  // or
	int (*env_cmd)(const std::vector<std::string>&,
	               spsec::ctl::CtlEnv&);  // configure, provision
};

const std::vector<Verb>& verbs()
{
	static const std::vector<Verb> v = {
	        {"seal", &spec::seal, spsec::ctl::cmd_seal, nullptr},
	        {"open", &spec::open, spsec::ctl::cmd_open, nullptr},
	        {"derive", &spec::derive, spsec::ctl::cmd_derive, nullptr},
	        {"verify-log", &spec::verify_log, spsec::ctl::cmd_verify_log, nullptr},
	        {"decrypt-log", &spec::decrypt_log, spsec::ctl::cmd_decrypt_log, nullptr},
	        {"status", &spec::status, spsec::ctl::cmd_status, nullptr},
	        {"events", &spec::events, spsec::ctl::cmd_events, nullptr},
	        {"stats", &spec::stats, spsec::ctl::cmd_stats, nullptr},
	        {"senders", &spec::senders, spsec::ctl::cmd_senders, nullptr},
	        {"commission", &spec::commission, spsec::ctl::cmd_commission, nullptr},
	        {"configure", &spec::configure, nullptr, spsec::ctl::run_configure},
	        {"provision", &spec::provision, nullptr, spsec::ctl::run_provision},
	};
	return v;
}

Run run_verb(const Verb& v, const std::vector<std::string>& args)
{
	return v.cmd != nullptr ? run_captured(v.cmd, args) : run_env(v.env_cmd, args);
}

const char* kKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

}  // namespace

TEST_CASE("cli: --opt=VALUE and --opt VALUE, flags, positionals, --", "[ctl][cli]")
{
	const Option opts[] = {{"name", "N"}, {"flag", ""}, {"iface", "IF", 'i'}};
	const Spec s{"prog verb", opts, 2};
	auto a = parse(s,
	               {"--name=x=y", "p1", "--flag", "-i", "can0", "-", "--", "--not-an-option"});
	REQUIRE_FALSE(a);  // three positionals, two allowed
	CHECK(a.error().message == "unexpected argument '--not-an-option'");
	auto b = parse(s, {"--name=x=y", "p1", "--flag", "-i", "can0", "-"});
	REQUIRE(b);
	CHECK(*b->value("name") == "x=y");  // only the first '=' separates
	CHECK(*b->value("iface") == "can0");
	CHECK(b->has("flag"));
	CHECK(b->positional == std::vector<std::string>{"p1", "-"});
	auto c = parse(s, {"--iface=can0", "--", "--flag"});
	REQUIRE(c);
	CHECK_FALSE(c->has("flag"));
	CHECK(c->positional == std::vector<std::string>{"--flag"});
	// An empty inline value is a value.
	auto e = parse(s, {"--name="});
	REQUIRE(e);
	CHECK(e->value("name")->empty());
	// A value may start with one dash (a negative number is then refused by number()).
	auto n = parse(s, {"--name", "-5"});
	REQUIRE(n);
	CHECK(*n->value("name") == "-5");
	CHECK(n->number("name").error().message ==
	      "--name: '-5' is negative; expected an unsigned number");

	const Spec stop{"prog verb", opts, 0, true};
	auto d = parse(stop, {"--flag", "read", "--name", "x"});
	REQUIRE(d);
	CHECK(d->end == 1);
	CHECK(d->positional.empty());
}

TEST_CASE("cli: errors name the option", "[ctl][cli]")
{
	const Option opts[] = {{"name", "N"}, {"flag", ""}, {"iface", "IF", 'i'}};
	const Spec s{"prog verb", opts, 0};
	const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
	        {{"--bogus"}, "unknown option --bogus"},
	        {{"--bogus=1"}, "unknown option --bogus"},
	        {{"-x"}, "unknown option -x"},
	        {{"-ican0"}, "unknown option -ican0"},
	        {{"--name"}, "--name needs a value (N)"},
	        {{"--name", "--flag"}, "--name needs a value (N)"},
	        {{"-i"}, "--iface needs a value (IF)"},
	        {{"--flag=1"}, "--flag takes no value"},
	        {{"--name", "a", "--name=b"}, "--name given twice"},
	        {{"--iface", "a", "-i", "b"}, "--iface given twice"},
	        {{"--flag", "--flag"}, "--flag given twice"},
	        {{"stray"}, "unexpected argument 'stray'"},
	};
	for (const auto& [args, want] : cases) {
		INFO(joined(args));
		auto a = parse(s, args);
		REQUIRE_FALSE(a);
		CHECK(a.error().message == want);
	}
	// --help wins over any error, anywhere before "--".
	auto h = parse(s, {"--bogus", "--name", "-h"});
	REQUIRE(h);
	CHECK(h->help);
	CHECK_FALSE(parse(s, {"--", "--help"}));
}

TEST_CASE("cli: numbers are unsigned, whole and in range", "[ctl][cli]")
{
	using spsec::cli::parse_unsigned;
	CHECK(parse_unsigned("0").value() == 0);
	CHECK(parse_unsigned("0x1F").value() == 31);
	CHECK(parse_unsigned("1Fh").value() == 31);
	CHECK(parse_unsigned("18446744073709551615").value() == UINT64_MAX);
	CHECK(parse_unsigned("0xFFFFFFFFFFFFFFFF").value() == UINT64_MAX);
	for (const char* bad : {"", "12x", "1 2", " 1", "0x", "h", "1.5", "1e6", "0x1G"})
		CHECK_THAT(parse_unsigned(bad).error().context, Catch::Contains("not a number"));
	CHECK_THAT(parse_unsigned("-1").error().context, Catch::Contains("negative"));
	CHECK_THAT(parse_unsigned("+1").error().context, Catch::Contains("signed"));
	CHECK_THAT(parse_unsigned("18446744073709551616").error().context,
	           Catch::Contains("too large"));
	CHECK_THAT(parse_unsigned("0x10000000000000000").error().context,
	           Catch::Contains("too large"));
	const Option opts[] = {{"n", "N"}};
	const Spec s{"prog verb", opts, 0};
	auto a = parse(s, {"--n=300"});
	REQUIRE(a);
	CHECK(a->number("n", 1, 255).error().message == "--n: '300' is out of range 1..255");
	CHECK(a->number("n", 1, 300).value() == 300);
	CHECK_FALSE(a->number("absent").value().has_value());
}

TEST_CASE("cli: secret values are overwritten in argv, in both forms and on errors", "[ctl][cli]")
{
	const Option opts[] = {{"key", "HEX", 0, true}, {"salt", "HEX"}};
	const Spec s{"prog verb", opts, 1};
	{
		Argv v({"--key", kKey, "--salt=00", "frame"});
		auto a = spsec::cli::parse(s, v.span());
		REQUIRE(a);
		CHECK(a->secret("key")->expose() == kKey);
		CHECK(a->value("key") == nullptr);
		CHECK(v.at(1) == std::string(64, 'x'));
		CHECK(v.at(2) == "--salt=00");
	}
	{
		Argv v({"--key=" + std::string(kKey)});
		auto a = spsec::cli::parse(s, v.span());
		REQUIRE(a);
		CHECK(a->secret("key")->expose() == kKey);
		CHECK(v.at(0) == "--key=" + std::string(64, 'x'));
	}
	// An error before the key, a key given twice, --help: argv is scrubbed all the same.
	for (const std::vector<std::string>& args :
	     {std::vector<std::string>{"--bogus", "--key", kKey},
	      std::vector<std::string>{"--key", kKey, "--key=" + std::string(kKey)},
	      std::vector<std::string>{"--help", "--key", kKey}}) {
		INFO(joined(args));
		Argv v(args);
		(void)spsec::cli::parse(s, v.span());
		for (std::size_t i = 0; i < args.size(); i++)
			CHECK(v.at(i).find(std::string(kKey).substr(0, 16)) == std::string::npos);
	}
	// After "--" nothing is an option: a positional that happens to read "--key" is left alone.
	Argv v({"--", "--key", "abc"});
	(void)spsec::cli::parse(s, v.span());
	CHECK(v.at(2) == "abc");
}

// Every option of every verb: --x=v and --x v give the same; a flag refuses a value; a value
// option without one, a repeated option, an unknown option: exit 2, naming the verb and option.
TEST_CASE("every verb: both value forms are equal; usage errors name verb and option", "[ctl][cli]")
{
	for (const Verb& v : verbs()) {
		const std::string prefix = "spsecctl " + std::string(v.name) + ": ";
		for (const Option& o : v.spec->options) {
			const std::string opt = "--" + std::string(o.name);
			INFO(v.name << " " << opt);
			if (o.value.empty()) {
				auto a = parse(*v.spec, {opt});
				REQUIRE(a);
				CHECK(a->has(o.name));
				Run r = run_verb(v, {v.name, opt + "=1"});
				CHECK(r.rc == 2);
				CHECK_THAT(r.err,
				           Catch::Contains(prefix + opt + " takes no value"));
			} else {
				auto eq = parse(*v.spec, {opt + "=v1"});
				auto sp = parse(*v.spec, {opt, "v1"});
				REQUIRE(eq);
				REQUIRE(sp);
				if (o.secret) {
					CHECK(eq->secret(o.name)->expose() == "v1");
					CHECK(sp->secret(o.name)->expose() == "v1");
				} else {
					CHECK(*eq->value(o.name) == "v1");
					CHECK(*sp->value(o.name) == "v1");
				}
				Run r = run_verb(v, {v.name, opt});
				CHECK(r.rc == 2);
				CHECK_THAT(r.err, Catch::Contains(prefix + opt + " needs a value"));
				if (o.short_name != 0) {
					auto sh = parse(*v.spec,
					                {std::string("-") + o.short_name, "v1"});
					REQUIRE(sh);
					CHECK(*sh->value(o.name) == "v1");
				}
			}
			const std::vector<std::string> twice =
			        o.value.empty()
			                ? std::vector<std::string>{v.name, opt, opt}
			                : std::vector<std::string>{v.name, opt + "=a", opt, "b"};
			Run r = run_verb(v, twice);
			CHECK(r.rc == 2);
			CHECK_THAT(r.err, Catch::Contains(prefix + opt + " given twice"));
			// A key never reaches an error message.
			Run k = run_verb(v, {v.name, opt + "=" + kKey, opt + "=" + kKey});
			CHECK_THAT(k.err, !Catch::Contains(std::string(kKey).substr(8, 24)));
		}
		INFO(v.name);
		Run u = run_verb(v, {v.name, "--bogus=1"});
		CHECK(u.rc == 2);
		CHECK_THAT(u.err, Catch::Contains(prefix + "unknown option --bogus"));
		CHECK_THAT(u.err, Catch::Contains("(spsecctl " + std::string(v.name) + " --help)"));
		for (const char* help : {"--help", "-h"}) {
			Run h = run_verb(v, {v.name, "--bogus", help});
			CHECK(h.rc == 0);
			CHECK_THAT(h.out,
			           Catch::Contains("usage: spsecctl " + std::string(v.name)));
			CHECK(h.err.empty());
		}
		// One positional more than the verb takes.
		if (!v.spec->stop_at_positional) {
			std::vector<std::string> args{v.name};
			for (std::size_t i = 0; i <= v.spec->max_positionals; i++)
				args.push_back("extra" + std::to_string(i));
			Run p = run_verb(v, args);
			CHECK(p.rc == 2);
			CHECK_THAT(p.err,
			           Catch::Contains(prefix + "unexpected argument 'extra" +
			                           std::to_string(v.spec->max_positionals) + "'"));
		}
	}
}

TEST_CASE("every verb: bad numbers name the verb and the option, exit 2", "[ctl][cli]")
{
	const std::string k = kKey;
	const std::vector<std::string> seal = {"seal", "--aead", "aes-gcm",         "--key",
	                                       k,      "--salt", "0001020304050607"};
	auto plus = [](std::vector<std::string> a, std::vector<std::string> b) {
		a.insert(a.end(), b.begin(), b.end());
		return a;
	};
	const std::vector<std::string> cfg = {"configure", "--interface=vcan0", "--participant=5",
	                                      "--key-selector=zero"};
	struct Case {
		const char* verb;
		std::vector<std::string> args;
		std::string want;
	};
	const std::vector<Case> cases = {
	        {"seal", plus(seal, {"--t=12x", "123##1AA"}),
	         "spsecctl seal: --t: '12x' is not a number"},
	        {"seal", plus(seal, {"--t", "-1", "123##1AA"}),
	         "spsecctl seal: --t: '-1' is negative"},
	        {"seal", plus(seal, {"--t=18446744073709551616", "123##1AA"}),
	         "spsecctl seal: --t: '18446744073709551616' is too large"},
	        {"open", plus(seal, {"--t=1", "--window=4000", "123##1AA"}),
	         "spsecctl open: --window"},
	        {"verify-log", plus(seal, {"--t=1", "--bitrate=1e6", "x.log"}),
	         "spsecctl verify-log: --bitrate: '1e6' is not a number"},
	        {"verify-log", plus(seal, {"--t=1", "--window", "-3", "x.log"}),
	         "spsecctl verify-log: --window: '-3' is negative"},
	        {"derive",
	         {"derive", "--seed", k, "--csalt", "01020304", "--t=1 "},
	         "spsecctl derive: --t: '1 ' is not a number"},
	        {"commission",
	         {"commission", "--window=-10m"},
	         "spsecctl commission: --window '-10m'"},
	        {"commission",
	         {"commission", "--window", "10mx"},
	         "spsecctl commission: --window '10mx'"},
	        {"configure",
	         {"configure", "--interface=vcan0", "--participant=5x", "--key-selector=zero",
	          "status"},
	         "spsecctl configure: --participant '5x'"},
	        {"configure",
	         {"configure", "--interface=vcan0", "--participant=-1", "--key-selector=zero",
	          "status"},
	         "spsecctl configure: --participant '-1'"},
	        {"configure", plus(cfg, {"--response-timeout=50ms", "status"}),
	         "spsecctl configure: --response-timeout '50ms'"},
	        {"configure", plus(cfg, {"install-seed", "--key-file=/nonexistent", "--id=-1"}),
	         "spsecctl configure: install-seed: --id '-1' is not a Key ID"},
	        {"configure", plus(cfg, {"install-seed", "--id"}),
	         "spsecctl configure: install-seed: --id needs a value"},
	        {"configure", plus(cfg, {"install-seed", "--key-file=a", "--key-file", "b"}),
	         "spsecctl configure: install-seed: --key-file given twice"},
	        {"provision",
	         {"provision", "--response-timeout=-5", "plan.yaml"},
	         "spsecctl provision: --response-timeout '-5'"},
	        {"provision",
	         {"provision", "--response-timeout", "99999", "plan.yaml"},
	         "spsecctl provision: --response-timeout '99999'"},
	};
	for (const Case& c : cases) {
		INFO(joined(c.args));
		const Verb* v = nullptr;
		for (const Verb& x : verbs())
			if (std::string(x.name) == c.verb)
				v = &x;
		REQUIRE(v != nullptr);
		std::vector<std::string> args = c.args;
		args[0] = c.verb;
		Run r = run_verb(*v, args);
		CHECK(r.rc == 2);
		CHECK_THAT(r.err, Catch::Contains(c.want));
	}
}

// What the issue found: `configure --interface=can0` said "needs a value" and
// `provision --response-timeout=50` said "unexpected argument".
TEST_CASE("configure and provision take --opt=VALUE as the frame tools do", "[ctl][cli]")
{
	using namespace spsec::ctl::test;
	for (const auto& args :
	     {std::vector<std::string>{"--interface=vcan0", "--participant=5",
	                               "--key-selector=zero", "--response-timeout=50",
	                               "--aead=aes-gcm", "status"},
	      std::vector<std::string>{"--interface", "vcan0", "--participant", "5",
	                               "--key-selector", "zero", "--response-timeout", "50",
	                               "--aead", "aes-gcm", "status"}}) {
		INFO(joined(args));
		MemBus bus;
		bus.add(5, "node-a");
		auto o = run_cmd(spsec::ctl::run_configure, bus, args);
		CHECK(o.rc == 0);
		CHECK_THAT(o.out, Catch::Contains("status"));
		CHECK(bus.opened == 1);
	}
	TempDir dir;
	dir.key_file("prov.keys", "provisioning", 0x11, 0x101);
	const std::string plan = dir.write("plan.yaml", "format: 1\ninterface: vcan0\nnodes:\n"
	                                                "  - participant-id: 1\n    address: 127\n"
	                                                "    provisioning-key: prov.keys\n");
	MemBus bus;
	for (const auto& args :
	     {std::vector<std::string>{"--check", "--response-timeout=50", plan},
	      std::vector<std::string>{plan, "--response-timeout", "50", "--check"}}) {
		INFO(joined(args));
		auto o = run_cmd(spsec::ctl::run_provision, bus, args);
		CHECK(o.rc == 0);
		CHECK(o.out == plan + ": valid, 1 node(s)\n");
		CHECK(o.err.empty());
	}
}

// Each spsecctl invocation of tests/vm/*.sh, vm/*.sh and the docs' examples, with the shell
// variables filled in: it parses with the verb's spec (configure: also its operations' options).
TEST_CASE("the invocations of the vm tests and vm/*.sh parse", "[ctl][cli]")
{
	const std::string k = kKey;
	struct Inv {
		const Spec* spec;
		std::vector<std::string> args;
	};
	const std::vector<Inv> invs = {
	        // tests/vm/lib.sh, daemon.sh, daemon_time.sh, daemon_bus.sh, vm/demo.sh,
	        // bench/vm_bench.sh
	        {&spec::status, {"--socket", "/run/spsec-test/S.sock", "--json"}},
	        {&spec::status, {"--socket", "/run/spsec-test/S.sock"}},
	        {&spec::status, {"--interface", "can0"}},
	        {&spec::status, {}},
	        {&spec::senders, {"--socket", "/run/spsec-test/A.sock", "--json"}},
	        {&spec::senders, {"--interface", "can0"}},
	        {&spec::stats, {"--pin-dir", "/sys/fs/bpf/spsec/vxA", "--json"}},
	        {&spec::stats, {"--interface", "vx0", "--json"}},
	        {&spec::stats, {"--interface", "vx0"}},
	        {&spec::stats, {"--interface", "vx0", "--prometheus", "/tmp/spsec.prom"}},
	        {&spec::stats,
	         {"--pin-dir", "/sys/fs/bpf/spsec/vxB", "--prometheus", "/tmp/r.prom"}},
	        {&spec::stats, {"--all"}},
	        {&spec::events, {"--socket", "/run/spsec-test/A.sock"}},
	        {&spec::commission, {"--window", "10m"}},
	        {&spec::commission, {"--close"}},
	        // tests/vm/configurator.sh (cfgctl), vm/demo.sh (zk)
	        {&spec::configure,
	         {"--interface", "vxC", "--participant", "127", "--key-selector", "zero",
	          "--response-timeout", "5000", "identify"}},
	        {&spec::configure, {"--interface",        "vxC",
	                            "--participant",      "127",
	                            "--key-selector",     "provisioning",
	                            "--response-timeout", "5000",
	                            "--key-file",         "/w/prov-F.keys",
	                            "--no-pad",           "install-integrator",
	                            "--key-file",         "/w/integ.keys",
	                            "install-seed",       "--key-file",
	                            "/w/seed1.keys",      "set",
	                            "heartbeat",          "2s"}},
	        {&spec::configure,
	         {"--interface", "vxC", "--participant", "127", "--key-selector", "integrator",
	          "--response-timeout", "5000", "--key-file", "/w/integ.keys", "--json", "read",
	          "seed-key-id", "status"}},
	        {&spec::configure,
	         {"--interface", "vxC", "--participant", "9", "--key-selector", "provisioning",
	          "--key-file", "/k", "--response-timeout", "100", "status"}},
	        {&spec::configure,
	         {"--interface", "vxX", "--participant", "1", "--key-selector", "zero", "--aead",
	          "ascon", "--response-timeout", "5000", "install-provisioning", "--key-file",
	          "/e.keys"}},
	        {&spec::provision, {"--response-timeout", "5000", "/w/plan.yaml"}},
	        {&spec::provision, {"--check", "plan.yaml"}},
	        // tests/wireshark/decrypt_log_check.sh, tests/unit/codec.cmake, docs
	        {&spec::derive,
	         {"--seed-file", "seed.hex", "--csalt", "01020304", "--t", "0x1001234"}},
	        {&spec::derive, {"--seed", k, "--csalt", "01020304", "--t", "0x102345678"}},
	        {&spec::seal,
	         {"--aead", "aes-gcm", "--key-file", "k.hex", "--salt", "a0a1a2a3a4a5a6a7", "--t",
	          "0x1001234", "123##1DEADBEEF"}},
	        {&spec::seal,
	         {"--aead", "aes-gcm", "--key", k, "--salt", "0001020304050607", "--t", "0x1234",
	          "123##1DEADBEEF"}},
	        {&spec::open,
	         {"--aead", "aes-gcm", "--key", k, "--salt", "0001020304050607", "--t", "0x1240",
	          "123##1733D9551E9763422D776EC84BCD60956"}},
	        {&spec::verify_log,
	         {"--aead", "ascon", "--seed-file", "seed.hex", "--csalt", "01020304", "--salt",
	          "0011223344556677", "--t", "0x1000000", "--bitrate", "2000000", "--window", "300",
	          "--auth-only", "can.log"}},
	        {&spec::decrypt_log,
	         {"--aead", "aes-gcm", "--seed-file", "seed.hex", "--csalt", "01020304", "--salt",
	          "a0a1a2a3a4a5a6a7", "--t", "0x1001234", "--out", "x.pcapng", "-"}},
	};
	for (const Inv& inv : invs) {
		INFO(inv.spec->command << " " << joined(inv.args));
		auto a = parse(*inv.spec, inv.args);
		REQUIRE(a);
		CHECK_FALSE(a->help);
		if (!inv.spec->stop_at_positional)
			continue;
		// configure: walk the operations; install-* take their own options.
		REQUIRE(a->end < inv.args.size());
		for (std::size_t i = a->end; i < inv.args.size(); i++) {
			if (inv.args[i].rfind("install-", 0) != 0)
				continue;
			Argv rest({inv.args.begin() + static_cast<long>(i) + 1, inv.args.end()});
			auto o = spsec::cli::parse(spec::install_key, rest.span());
			REQUIRE(o);
			CHECK(o->has("key-file"));
		}
	}
}
