// SPDX-License-Identifier: Apache-2.0
// spsecctl seal / open / derive / verify-log (userspace/ctl/cmd_frames.cpp), called in-process
// with stdout and stderr captured.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/aead.h"
#include "core/can_frame.h"
#include "core/hex.h"
#include "core/key_schedule.h"
#include "core/stamp.h"
#include "ctl/commands.h"
#include "ctl_capture.h"

namespace {

const char* kKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const char* kSalt = "0001020304050607";

using spsec::ctl::test::Run;

// Runs one subcommand (see ctl_capture.h); `argv_after` receives the argv strings after the call.
Run run(int (*cmd)(int, char**), const std::vector<std::string>& args,
        std::vector<std::string>* argv_after = nullptr)
{
	return spsec::ctl::test::run_captured(cmd, args, argv_after);
}

std::string temp_file(const std::string& content)
{
	char name[] = "/tmp/spsec_codec_ctl_XXXXXX";
	const int fd = mkstemp(name);
	REQUIRE(fd >= 0);
	REQUIRE(write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
	close(fd);
	return name;
}

std::string seal_with(const std::string& aead, const std::string& frame, std::uint64_t t,
                      bool auth_only = false)
{
	std::vector<std::string> args = {"seal",   "--aead", aead,  "--key",          kKey,
	                                 "--salt", kSalt,    "--t", std::to_string(t)};
	if (auth_only)
		args.emplace_back("--auth-only");
	args.push_back(frame);
	Run r = run(spsec::ctl::cmd_seal, args);
	INFO(r.err);
	REQUIRE(r.rc == 0);
	REQUIRE(!r.out.empty());
	return r.out.substr(0, r.out.size() - 1);  // strip '\n'
}

}  // namespace

TEST_CASE("spsecctl seal and open round trip, every AEAD and mode", "[codec]")
{
	for (const char* aead : {"aes-gcm", "chacha20-poly1305", "ascon"}) {
		for (bool auth_only : {false, true}) {
			INFO(aead << " auth-only " << auth_only);
			const std::string sealed =
			        seal_with(aead, "123##1DEADBEEF", 0x1234, auth_only);
			CHECK(sealed.size() == std::string("123##1").size() + 32);
			std::vector<std::string> args = {"open",   "--aead", aead,  "--key",
			                                 kKey,     "--salt", kSalt, "--t",
			                                 "0x1240", sealed};
			if (auth_only)
				args.insert(args.begin() + 1, "--auth-only");
			Run o = run(spsec::ctl::cmd_open, args);
			CHECK(o.rc == 0);
			CHECK(o.out == "123##1DEADBEEF\n");
		}
	}
	// The AES-GCM example is the one docs/wire-format.md shows.
	CHECK(seal_with("aes-gcm", "123##1DEADBEEF", 0x1234) ==
	      "123##1733D9551E9763422D776EC84BCD60955");
}

TEST_CASE("spsecctl open names the rejection reason and exits 1", "[codec]")
{
	const std::string sealed = seal_with("aes-gcm", "123##1DEADBEEF", 0x1234);
	std::string tampered = sealed;
	tampered[7] = tampered[7] == '0' ? '1' : '0';
	Run bad = run(spsec::ctl::cmd_open, {"open", "--aead", "aes-gcm", "--key", kKey, "--salt",
	                                     kSalt, "--t", "0x1234", tampered});
	CHECK(bad.rc == 1);
	CHECK(bad.out.empty());
	CHECK_THAT(bad.err, Catch::Contains("rx_bad_tag"));

	Run late = run(spsec::ctl::cmd_open, {"open", "--aead", "aes-gcm", "--key", kKey, "--salt",
	                                      kSalt, "--t", std::to_string(0x1234 + 151), sealed});
	CHECK(late.rc == 1);
	CHECK_THAT(late.err, Catch::Contains("rx_outside_window"));
	Run wide = run(spsec::ctl::cmd_open,
	               {"open", "--aead", "aes-gcm", "--key", kKey, "--salt", kSalt, "--window",
	                "151", "--t", std::to_string(0x1234 + 151), sealed});
	CHECK(wide.rc == 0);

	Run classic = run(spsec::ctl::cmd_open, {"open", "--aead", "aes-gcm", "--key", kKey,
	                                         "--salt", kSalt, "--t", "5", "123#00"});
	CHECK(classic.rc == 1);
	CHECK_THAT(classic.err, Catch::Contains("rx_classic"));
}

TEST_CASE("spsecctl open with a Seed Key applies the live-key rule", "[codec]")
{
	// Seal with the Communication Key of window 1, then open with the seed.
	const std::string csalt = "01020304";
	Run d = run(spsec::ctl::cmd_derive,
	            {"derive", "--seed", kKey, "--csalt", csalt, "--t", "0x1000010"});
	REQUIRE(d.rc == 0);
	const std::string k1 = d.out.substr(0, 64);
	Run s = run(spsec::ctl::cmd_seal, {"seal", "--aead", "chacha20-poly1305", "--key", k1,
	                                   "--salt", kSalt, "--t", "0x1000010", "1ABCDEF0##0AA"});
	REQUIRE(s.rc == 0);
	const std::string sealed = s.out.substr(0, s.out.size() - 1);
	Run o = run(spsec::ctl::cmd_open,
	            {"open", "--aead", "chacha20-poly1305", "--seed", kKey, "--csalt", csalt,
	             "--salt", kSalt, "--t", "0x1000000", sealed});
	CHECK(o.rc == 0);
	CHECK(o.out == "1ABCDEF0##0AA\n");
	// A late frame from window 0 arriving in window 1's first half still verifies: the odd
	// slot holds K(1), the even slot still K(0).
	Run k0 = run(spsec::ctl::cmd_derive,
	             {"derive", "--seed", kKey, "--csalt", csalt, "--t", "0xFFFFFF"});
	REQUIRE(k0.rc == 0);
	Run s0 = run(spsec::ctl::cmd_seal,
	             {"seal", "--aead", "chacha20-poly1305", "--key", k0.out.substr(0, 64),
	              "--salt", kSalt, "--t", "0xFFFFF0", "1ABCDEF0##0AA"});
	REQUIRE(s0.rc == 0);
	Run o0 = run(spsec::ctl::cmd_open,
	             {"open", "--aead", "chacha20-poly1305", "--seed", kKey, "--csalt", csalt,
	              "--salt", kSalt, "--t", "0x1000005", s0.out.substr(0, s0.out.size() - 1)});
	CHECK(o0.rc == 0);
	CHECK(o0.out == "1ABCDEF0##0AA\n");
	// The same frame opened with the key of window 1 fails.
	Run o1 = run(spsec::ctl::cmd_open,
	             {"open", "--aead", "chacha20-poly1305", "--key", k1, "--salt", kSalt, "--t",
	              "0x1000005", s0.out.substr(0, s0.out.size() - 1)});
	CHECK(o1.rc == 1);
	CHECK_THAT(o1.err, Catch::Contains("rx_bad_tag"));
}

TEST_CASE("spsecctl derive prints the Communication Key", "[codec]")
{
	Run d = run(spsec::ctl::cmd_derive,
	            {"derive", "--seed", kKey, "--csalt", "01020304", "--t", "0x1234"});
	CHECK(d.rc == 0);
	CHECK(d.out == "9ffcd7ff9337d12a095a2cc035a34ff30c1c279d0774ae3caba7b78e7862b070\n");
	Run d1 = run(spsec::ctl::cmd_derive,
	             {"derive", "--seed", kKey, "--csalt", "01020304", "--t", "16777216"});
	CHECK(d1.out == "1674c74b8eba6893759b8391ca113c7ce9acb4abca14eabc60a6e7359ccc8a75\n");
}

TEST_CASE("keys from files, and keys in argv are scrubbed", "[codec]")
{
	const std::string path = temp_file(std::string(kKey).substr(0, 32) + "\n" +
	                                   std::string(kKey).substr(32) + "\n");
	Run f = run(spsec::ctl::cmd_seal, {"seal", "--aead", "aes-gcm", "--key-file", path,
	                                   "--salt", kSalt, "--t", "0x1234", "123##1DEADBEEF"});
	CHECK(f.rc == 0);
	CHECK(f.out == "123##1733D9551E9763422D776EC84BCD60955\n");
	Run sf = run(spsec::ctl::cmd_derive,
	             {"derive", "--seed-file", path, "--csalt", "01020304", "--t", "1"});
	CHECK(sf.out == "9ffcd7ff9337d12a095a2cc035a34ff30c1c279d0774ae3caba7b78e7862b070\n");
	std::remove(path.c_str());

	std::vector<std::string> after;
	Run a = run(spsec::ctl::cmd_seal,
	            {"seal", "--aead", "aes-gcm", std::string("--key=") + kKey, "--salt", kSalt,
	             "--t", "0x1234", "123##1DEADBEEF"},
	            &after);
	CHECK(a.rc == 0);
	CHECK(after[3] == "--key=" + std::string(64, 'x'));
	Run b = run(spsec::ctl::cmd_derive,
	            {"derive", "--seed", kKey, "--csalt", "01020304", "--t", "1"}, &after);
	CHECK(b.rc == 0);
	CHECK(after[2] == std::string(64, 'x'));
}

TEST_CASE("spsecctl usage errors exit 2 and name the problem", "[codec]")
{
	struct Case {
		int (*cmd)(int, char**);
		std::vector<std::string> args;
		const char* want;
	};
	const std::string k = kKey;
	const std::vector<Case> cases = {
	        {spsec::ctl::cmd_seal, {"seal"}, "--aead is required"},
	        {spsec::ctl::cmd_seal, {"seal", "--aead", "rot13"}, "unknown AEAD"},
	        {spsec::ctl::cmd_seal, {"seal", "--aead", "aes-gcm", "--salt", "00"}, "--salt"},
	        {spsec::ctl::cmd_seal,
	         {"seal", "--aead", "aes-gcm", "--salt", kSalt, "--t", "12x"},
	         "not a number"},
	        {spsec::ctl::cmd_seal,
	         {"seal", "--aead", "aes-gcm", "--salt", kSalt, "--t", "1"},
	         "--key or --key-file is required"},
	        {spsec::ctl::cmd_seal,
	         {"seal", "--aead", "aes-gcm", "--salt", kSalt, "--t", "1", "--key", "0011"},
	         "64 hex digits"},
	        {spsec::ctl::cmd_seal,
	         {"seal", "--aead", "aes-gcm", "--salt", kSalt, "--t", "1", "--key", k},
	         "missing FRAME"},
	        {spsec::ctl::cmd_seal,
	         {"seal", "--aead", "aes-gcm", "--salt", kSalt, "--t", "1", "--key", k, "12#00"},
	         "FRAME"},
	        {spsec::ctl::cmd_seal,
	         {"seal", "--aead", "aes-gcm", "--salt", kSalt, "--t", "1", "--key-file",
	          "/nonexistent/k"},
	         "cannot open"},
	        {spsec::ctl::cmd_seal, {"seal", "--bogus", "1"}, "unknown option --bogus"},
	        {spsec::ctl::cmd_seal, {"seal", "--aead"}, "needs a value"},
	        {spsec::ctl::cmd_open,
	         {"open", "--aead", "aes-gcm", "--salt", kSalt, "--t", "1", "123##000"},
	         "a key is required"},
	        {spsec::ctl::cmd_open,
	         {"open", "--aead", "aes-gcm", "--salt", kSalt, "--t", "1", "--window", "4000",
	          "--key", k, "123##000"},
	         "2047"},
	        {spsec::ctl::cmd_open,
	         {"open", "--aead", "aes-gcm", "--salt", kSalt, "--t", "1", "--key", k, "--seed", k,
	          "123##000"},
	         "not both"},
	        {spsec::ctl::cmd_open,
	         {"open", "--aead", "aes-gcm", "--salt", kSalt, "--t", "1", "--seed", k,
	          "123##000"},
	         "--csalt is required"},
	        {spsec::ctl::cmd_derive, {"derive", "--csalt", "01020304", "--t", "1"}, "--seed"},
	        {spsec::ctl::cmd_derive, {"derive", "--seed", k, "--t", "1"}, "--csalt"},
	        {spsec::ctl::cmd_derive, {"derive", "--seed", k, "--csalt", "01020304"}, "--t"},
	        {spsec::ctl::cmd_verify_log,
	         {"verify-log", "--aead", "aes-gcm", "--salt", kSalt, "--t", "1", "--key", k},
	         "LOGFILE"},
	        {spsec::ctl::cmd_verify_log,
	         {"verify-log", "--aead", "aes-gcm", "--salt", kSalt, "--t", "1", "--key", k,
	          "--bitrate", "3000000", "x.log"},
	         "whole-ns"},
	        {spsec::ctl::cmd_decrypt_log,
	         {"decrypt-log", "--aead", "aes-gcm", "--salt", kSalt, "--t", "1", "--key", k,
	          "x.log"},
	         "--out FILE.pcapng is required"},
	        // The decrypted capture holds plaintext: an existing file is never replaced.
	        {spsec::ctl::cmd_decrypt_log,
	         {"decrypt-log", "--aead", "aes-gcm", "--salt", kSalt, "--t", "1", "--key", k,
	          "--out", "/", "x.log"},
	         "exists; refusing to overwrite"},
	};
	for (const Case& c : cases) {
		std::string joined;
		for (const auto& a : c.args)
			joined += a + " ";
		INFO(joined);
		Run r = run(c.cmd, c.args);
		CHECK(r.rc == 2);
		CHECK_THAT(r.err, Catch::Contains(c.want));
		// A usage error never echoes key material.
		CHECK_THAT(r.err, !Catch::Contains(std::string(kKey).substr(8, 24)));
	}
	// Frames that cannot be secured are an operation failure (1), not a usage error.
	Run longf = run(spsec::ctl::cmd_seal, {"seal", "--aead", "aes-gcm", "--salt", kSalt, "--t",
	                                       "1", "--key", k, "123##0" + std::string(110, 'A')});
	CHECK(longf.rc == 1);
	CHECK_THAT(longf.err, Catch::Contains("at most 54"));
	// --help exits 0 and mentions the key file.
	for (auto* cmd : {spsec::ctl::cmd_seal, spsec::ctl::cmd_open, spsec::ctl::cmd_derive,
	                  spsec::ctl::cmd_verify_log, spsec::ctl::cmd_decrypt_log}) {
		Run h = run(cmd, {"x", "--help"});
		CHECK(h.rc == 0);
		CHECK_THAT(h.out, Catch::Contains("usage: spsecctl"));
		CHECK_THAT(h.out, Catch::Contains("-file"));
	}
}

TEST_CASE("spsecctl verify-log checks a candump -L log per frame and in total", "[codec]")
{
	// A log at 1 Mbit/s (100 us ticks): T0 = 0x2000000 at the first line.
	const std::uint64_t t0 = 0x2000000;
	auto line = [](std::uint64_t usec, const std::string& frame) {
		char ts[40];
		std::snprintf(ts, sizeof ts, "(1700000000.%06llu) can0 ",
		              static_cast<unsigned long long>(usec));
		return std::string(ts) + frame + "\n";
	};
	const std::string f1 = seal_with("ascon", "123##1DEADBEEF", t0);
	const std::string f2 = seal_with("ascon", "123##1CAFE", t0 + 10);  // 1 ms later
	// 0.5 s later, a 29-bit data-plane ID (bit 25 clear)
	const std::string f3 = seal_with("ascon", "18DA10F1##0", t0 + 5000);
	std::string tampered = f3;  // a ciphertext digit (index 11 is the first data digit)
	tampered[12] = tampered[12] == '0' ? '1' : '0';
	std::string good_log = line(0, f1) + line(1000, f2) + line(500000, f3) +
	                       line(500100, "0AFF0801##0" + std::string(32, '0'));
	SECTION("all good")
	{
		const std::string path = temp_file("# a comment\n" + good_log);
		Run r = run(spsec::ctl::cmd_verify_log,
		            {"verify-log", "--aead", "ascon", "--key", kKey, "--salt", kSalt, "--t",
		             std::to_string(t0), path});
		std::remove(path.c_str());
		INFO(r.out << r.err);
		CHECK(r.rc == 0);
		CHECK_THAT(r.out, Catch::Contains("2: " + f1 + " ok T=" + std::to_string(t0) +
		                                  " plain=123##1DEADBEEF"));
		CHECK_THAT(r.out, Catch::Contains("skipped (control plane)"));
		CHECK_THAT(r.out, Catch::Contains("total: 4 frames, 3 ok, 0 rejected, 1 skipped, "
		                                  "0 unparsable\n"));
	}
	SECTION("replay, tampering and garbage are reported")
	{
		// f3 again 20 ms later: inside the window, so only freshness catches it.
		const std::string log = good_log + line(500200, f3) + line(500300, tampered) +
		                        "garbage\n" + line(900000, "123#00");
		const std::string path = temp_file(log);
		Run r = run(spsec::ctl::cmd_verify_log,
		            {"verify-log", "--aead", "ascon", "--key", kKey, "--salt", kSalt, "--t",
		             std::to_string(t0), path});
		std::remove(path.c_str());
		INFO(r.out << r.err);
		CHECK(r.rc == 1);
		CHECK_THAT(r.out, Catch::Contains("5: " + f3 + " REJECTED rx_replay"));
		CHECK_THAT(r.out, Catch::Contains("6: " + tampered + " REJECTED rx_bad_tag"));
		CHECK_THAT(r.out, Catch::Contains("7: unparsable"));
		CHECK_THAT(r.out, Catch::Contains("8: 123#00 REJECTED rx_classic"));
		CHECK_THAT(r.out, Catch::Contains("total: 7 frames, 3 ok, 3 rejected, 1 skipped, "
		                                  "1 unparsable rx_classic=1 rx_bad_tag=1 "
		                                  "rx_replay=1\n"));
	}
	SECTION("a wrong start time puts frames outside the window")
	{
		const std::string path = temp_file(good_log);
		Run r = run(spsec::ctl::cmd_verify_log,
		            {"verify-log", "--aead", "ascon", "--key", kKey, "--salt", kSalt, "--t",
		             std::to_string(t0 + 1000), path});
		std::remove(path.c_str());
		CHECK(r.rc == 1);
		CHECK_THAT(r.out, Catch::Contains("rx_outside_window"));
	}
	SECTION("missing log file")
	{
		Run r = run(spsec::ctl::cmd_verify_log,
		            {"verify-log", "--aead", "ascon", "--key", kKey, "--salt", kSalt, "--t",
		             "1", "/nonexistent/x.log"});
		CHECK(r.rc == 2);
		CHECK_THAT(r.err, Catch::Contains("cannot open"));
	}
}

TEST_CASE("spsecctl verify-log quotes text from a hostile log: no escape reaches the terminal",
          "[codec]")
{
	const std::uint64_t t0 = 0x2000000;
	const std::string ok_frame = seal_with("ascon", "123##1DEADBEEF", t0);
	// Terminal escape sequences (window title, clear screen, cursor home), a carriage return
	// that would overwrite the line with a fake summary, BEL, DEL and a UTF-8 C1 CSI, in every
	// place of a candump -L line that reaches a message.
	const std::string fake_total =
	        "\rtotal: 9 frames, 9 ok, 0 rejected, 0 skipped, 0 unparsable";
	const std::string log = "(1700000000.000000) can0 " + ok_frame + "\n" +
	                        "(1700000000.000100) can0 123#00 \x1b]0;pwned\x07\n" +
	                        "(1700000000.000200) \x1b[2J\x1b[H\n" +
	                        "(1700000000.000300) can0 123#00 x" + fake_total + "\n" +
	                        "(1700000000.000400) can0 123#0\x1b[1A\n" +
	                        "(1700000000.000500) can0\x7f\xc2\x9b" + "31m 123#00 \xc2\x9b" +
	                        "2K\n" + "\x1b[31m(1700000000.000600) can0 123#00\n";
	const std::string path = temp_file(log);
	Run r = run(spsec::ctl::cmd_verify_log, {"verify-log", "--aead", "ascon", "--key", kKey,
	                                         "--salt", kSalt, "--t", std::to_string(t0), path});
	std::remove(path.c_str());
	INFO(r.out << r.err);
	CHECK(r.rc == 1);
	for (const std::string* s : {&r.out, &r.err}) {
		for (const char ch : *s) {
			const auto c = static_cast<unsigned char>(ch);
			CAPTURE(static_cast<unsigned>(c));
			CHECK(((c >= 0x20 && c < 0x7F) || c == '\n'));
		}
	}
	CHECK_THAT(r.out, Catch::Contains("1: " + ok_frame + " ok"));
	CHECK_THAT(r.out, Catch::Contains("2: unparsable: unexpected text after the frame: "
	                                  "\"?]0;pwned?\""));
	CHECK_THAT(r.out, Catch::Contains("3: unparsable: missing frame after interface "
	                                  "\"?[2J?[H\""));
	// The fake summary stays inside its line's quotes, cut at 40 characters.
	CHECK_THAT(r.out, Catch::Contains("4: unparsable: unexpected text after the frame: "
	                                  "\"x?total: 9 frames, 9 ok, 0 rejected,"));
	CHECK_THAT(r.out, Catch::Contains("...\"\n5: "));
	CHECK_THAT(r.out, Catch::Contains("5: unparsable: frame: data: 0x1B is not a hex digit"));
	CHECK_THAT(r.out, Catch::Contains("6: unparsable: unexpected text after the frame: "
	                                  "\"??2K\""));
	CHECK_THAT(r.out, Catch::Contains("7: unparsable: candump -L line must start with"));
	CHECK_THAT(r.out, Catch::Contains("total: 1 frames, 1 ok, 0 rejected, 0 skipped, "
	                                  "6 unparsable\n"));
}

TEST_CASE("spsecctl verify-log with a Seed Key across a key-window roll-over", "[codec]")
{
	const std::string csalt = "01020304";
	auto derive = [&](std::uint64_t t) {
		Run d = run(spsec::ctl::cmd_derive,
		            {"derive", "--seed", kKey, "--csalt", csalt, "--t", std::to_string(t)});
		REQUIRE(d.rc == 0);
		return d.out.substr(0, 64);
	};
	auto seal = [&](const std::string& key, std::uint64_t t, const std::string& frame) {
		Run s = run(spsec::ctl::cmd_seal,
		            {"seal", "--aead", "aes-gcm", "--key", key, "--salt", kSalt, "--t",
		             std::to_string(t), frame});
		REQUIRE(s.rc == 0);
		return s.out.substr(0, s.out.size() - 1);
	};
	// Window 0 ends at T = 0x1000000. 2 Mbit/s: 50 us per tick.
	const std::uint64_t t0 = 0xFFFF00;
	const std::string k0 = derive(t0), k1 = derive(0x1000000);
	const std::string a = seal(k0, t0, "100##1AA");
	const std::string b = seal(k1, t0 + 0x200, "100##1BB");  // 25.6 ms later, window 1
	const std::string c = seal(k0, t0 + 0x210, "101##1CC");  // wrong window's key
	const std::string log = "(0000000100.000000) can0 " + a + "\n" +
	                        "(0000000100.025600) can0 " + b + "\n" +
	                        "(0000000100.026400) can0 " + c + "\n";
	const std::string path = temp_file(log);
	Run r = run(spsec::ctl::cmd_verify_log,
	            {"verify-log", "--aead", "aes-gcm", "--seed", kKey, "--csalt", csalt, "--salt",
	             kSalt, "--t", std::to_string(t0), "--bitrate", "2000000", path});
	std::remove(path.c_str());
	INFO(r.out << r.err);
	CHECK(r.rc == 1);
	CHECK_THAT(r.out, Catch::Contains("1: " + a + " ok T=" + std::to_string(t0)));
	CHECK_THAT(r.out, Catch::Contains("2: " + b + " ok T=" + std::to_string(t0 + 0x200)));
	CHECK_THAT(r.out, Catch::Contains("3: " + c + " REJECTED rx_bad_tag"));
	CHECK_THAT(r.out, Catch::Contains("total: 3 frames, 2 ok, 1 rejected"));
}
