// SPDX-License-Identifier: Apache-2.0
// Key store: format, permission checks, secret-free errors, atomic replace.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "common/fd.h"
#include "common/key_store.h"
#include "daemon_test_util.h"

using namespace spsec;
using spsec::test::TempDir;

namespace {

constexpr const char* kSeedHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
constexpr const char* kIntHex = "f0e1d2c3b4a5968778695a4b3c2d1e0f00112233445566778899aabbccddeeff";

std::string good_text()
{
	return std::string("# test store\nformat = 1\n\nseed.key = ") + kSeedHex +
	       "\nseed.salt = 0102030405060708\nseed.id = 0x00000042\n"
	       "  integrator.key=" +
	       kIntHex + "\r\nintegrator.salt = a1a2a3a4a5a6a7a8\nintegrator.id = 7\n";
}

// The error text must not contain any 8-character piece of the secret hex.
void check_no_secret(const std::string& msg, const std::string& secret_hex)
{
	for (std::size_t i = 0; i + 8 <= secret_hex.size(); i++)
		CHECK(msg.find(secret_hex.substr(i, 8)) == std::string::npos);
}

}  // namespace

TEST_CASE("key store parses all three keys", "[daemon]")
{
	auto ks = KeyStore::parse(good_text(), "t");
	REQUIRE(ks);
	const KeyEntry* seed = ks->get(KeyRole::Seed);
	REQUIRE(seed != nullptr);
	for (std::size_t i = 0; i < 32; i++)
		CHECK(seed->key.expose()[i] == i);
	CHECK(seed->salt == std::array<std::uint8_t, 8>{1, 2, 3, 4, 5, 6, 7, 8});
	CHECK(seed->id == 0x42);
	const KeyEntry* in = ks->get(KeyRole::Integrator);
	REQUIRE(in != nullptr);
	CHECK(in->key.expose()[0] == 0xf0);
	CHECK(in->key.expose()[31] == 0xff);
	CHECK(in->id == 7);
	CHECK(ks->get(KeyRole::Provisioning) == nullptr);
}

TEST_CASE("key store errors name line and field, never the secret", "[daemon]")
{
	std::string seed = kSeedHex;
	struct Case {
		std::string text;
		std::string expect;
	};
	std::string bad_char = seed;
	bad_char[17] = 'g';
	const Case cases[] = {
	        {"format = 1\nseed.key = " + bad_char + "\n",
	         "t line 2: seed.key: character 18 is not a hex digit"},
	        {"format = 1\nseed.key = " + seed.substr(0, 62) + "\n",
	         "line 2: seed.key: expected 64 hex digits, found 62 characters"},
	        {"format = 1\nseed.key " + seed + "\n", "line 2: expected 'name = value'"},
	        {"format = 1\n" + seed + " = 1\n", "line 2: unknown name"},
	        {"format = 1\nseed.key = " + seed + "\nseed.key = " + seed + "\n",
	         "line 3: seed.key given twice"},
	        {"format = 1\nseed.key = " + seed + "\nseed.salt = 0102030405060708\n",
	         "seed.id missing"},
	        {"format = 1\nseed.id = 0\n", "line 2: seed.id: Key ID 0 is invalid"},
	        {"format = 1\nseed.id = 0xffffffff\n", "erased"},
	        {"format = 1\nseed.id = 0x123456789\n", "more than 8 hex digits"},
	        {"format = 1\nseed.id = 4294967296\n", "does not fit 32 bits"},
	        {"seed.key = " + seed + "\n", "missing 'format = 1'"},
	        {"format = 2\n", "unsupported format"},
	        {"format = 1\nseed.salt = 01020304050607\n", "seed.salt: expected 16 hex digits"},
	};
	for (const auto& c : cases) {
		auto ks = KeyStore::parse(c.text, "t");
		INFO(c.text);
		REQUIRE_FALSE(ks);
		CHECK_THAT(ks.error().context, Catch::Contains(c.expect));
		check_no_secret(ks.error().message(), seed);
	}
}

TEST_CASE("key store round-trips through save and load with mode 0600", "[daemon]")
{
	TempDir dir;
	std::string path = dir.file("keys");
	auto ks = KeyStore::parse(good_text(), "t");
	REQUIRE(ks);
	REQUIRE(ks->save(path));
	struct stat st {};
	REQUIRE(::stat(path.c_str(), &st) == 0);
	CHECK((st.st_mode & 07777) == 0600);

	auto back = KeyStore::load(path, ::geteuid());
	REQUIRE(back);
	for (KeyRole r : {KeyRole::Seed, KeyRole::Integrator}) {
		REQUIRE(back->get(r) != nullptr);
		CHECK(ct_equal(back->get(r)->key.expose(), ks->get(r)->key.expose()));
		CHECK(back->get(r)->salt == ks->get(r)->salt);
		CHECK(back->get(r)->id == ks->get(r)->id);
	}
	CHECK(back->get(KeyRole::Provisioning) == nullptr);
	CHECK(dir.entries() == std::vector<std::string>{"keys"});  // no temp file left
}

TEST_CASE("key store refuses group/other permissions, wrong owner and symlinks", "[daemon]")
{
	TempDir dir;
	std::string path = dir.file("keys");
	for (mode_t mode : {0640u, 0604u, 0660u, 0601u}) {
		spsec::test::write_file(path, good_text(), mode);
		auto ks = KeyStore::load(path, ::geteuid());
		REQUIRE_FALSE(ks);
		char m[8];
		std::snprintf(m, sizeof m, "%04o", static_cast<unsigned>(mode));
		CHECK_THAT(ks.error().context, Catch::Contains(path) && Catch::Contains(m) &&
		                                       Catch::Contains("chmod 600"));
	}
	spsec::test::write_file(path, good_text(), 0400);
	CHECK(KeyStore::load(path, ::geteuid()));

	auto other = KeyStore::load(path, ::geteuid() + 1);
	REQUIRE_FALSE(other);
	CHECK_THAT(other.error().context, Catch::Contains("owned by uid"));

	std::string link = dir.file("link");
	REQUIRE(::symlink(path.c_str(), link.c_str()) == 0);
	auto viasym = KeyStore::load(link, ::geteuid());
	REQUIRE_FALSE(viasym);
	CHECK_THAT(viasym.error().context, Catch::Contains("symbolic link"));

	auto missing = KeyStore::load(dir.file("nope"), ::geteuid());
	REQUIRE_FALSE(missing);
	CHECK(missing.error().errno_value == ENOENT);
}

TEST_CASE("key store save replaces atomically", "[daemon]")
{
	TempDir dir;
	std::string path = dir.file("keys");
	auto v1 = KeyStore::parse(good_text(), "t");
	REQUIRE(v1);
	REQUIRE(v1->save(path));
	std::string old_text = spsec::test::read_file(path);

	// A reader that opened the old file keeps seeing the complete old file.
	Fd old(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
	REQUIRE(old.valid());

	auto v2 = KeyStore::empty();
	REQUIRE(v2);
	KeyEntry e;
	e.key.expose_mut()[0] = 0xaa;
	e.salt = {9, 9, 9, 9, 9, 9, 9, 9};
	e.id = 0x99;
	REQUIRE(v2->set(KeyRole::Seed, std::move(e)));
	REQUIRE(v2->save(path));

	char buf[2048];
	ssize_t n = ::pread(old.get(), buf, sizeof buf, 0);
	CHECK(std::string(buf, static_cast<std::size_t>(n)) == old_text);
	auto now = KeyStore::load(path, ::geteuid());
	REQUIRE(now);
	CHECK(now->get(KeyRole::Seed)->id == 0x99);
	CHECK(now->get(KeyRole::Integrator) == nullptr);
	CHECK(dir.entries() == std::vector<std::string>{"keys"});

	// A failed save (target is a directory) leaves no temporary file behind.
	std::string d = dir.file("sub");
	REQUIRE(::mkdir(d.c_str(), 0700) == 0);
	auto bad = v2->save(d);
	REQUIRE_FALSE(bad);
	CHECK_THAT(bad.error().message(), Catch::Contains("saving key store"));
	auto entries = dir.entries();
	std::sort(entries.begin(), entries.end());
	CHECK(entries == std::vector<std::string>{"keys", "sub"});
}

TEST_CASE("key store set refuses reserved Key IDs", "[daemon]")
{
	auto ks = KeyStore::empty();
	REQUIRE(ks);
	KeyEntry e;
	e.id = 0;
	CHECK_FALSE(ks->set(KeyRole::Seed, std::move(e)));
	KeyEntry f;
	f.id = 0xffffffffu;
	CHECK_FALSE(ks->set(KeyRole::Seed, std::move(f)));
	CHECK(ks->get(KeyRole::Seed) == nullptr);
}

TEST_CASE("the shipped config/keys.example parses", "[daemon]")
{
	std::string text = spsec::test::read_file(SPSEC_TEST_DATA_DIR "/../../config/keys.example");
	REQUIRE_FALSE(text.empty());
	auto ks = KeyStore::parse(text, "keys.example");
	if (!ks)
		FAIL(ks.error().message());
	REQUIRE(ks->get(KeyRole::Seed) != nullptr);
	CHECK(ks->get(KeyRole::Seed)->id == 1);
}

TEST_CASE("spsec-setup new-keys writes a store spsecd loads", "[daemon]")
{
	TempDir dir;
	std::string path = dir.file("k");
	std::string cmd = "bash " SPSEC_TEST_DATA_DIR "/../../scripts/spsec-setup new-keys " +
	                  path + " --id 0x0000abcd >/dev/null 2>&1";
	REQUIRE(std::system(cmd.c_str()) == 0);
	auto ks = KeyStore::load(path, ::geteuid());
	if (!ks)
		FAIL(ks.error().message());
	const KeyEntry* seed = ks->get(KeyRole::Seed);
	REQUIRE(seed != nullptr);
	CHECK(seed->id == 0xabcd);
	std::array<std::uint8_t, 32> zero{};
	CHECK_FALSE(ct_equal(seed->key.expose(), zero));
	// It refuses to overwrite an existing store.
	CHECK(std::system(cmd.c_str()) != 0);
}
