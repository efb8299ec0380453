// SPDX-License-Identifier: Apache-2.0
// SPsec T on the (fake) monotonic clock; the Sync role's persisted T.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <set>

#include "daemon/clock.h"
#include "daemon/sync_clock.h"
#include "daemon_test_util.h"
#include "fake_clock.h"

using namespace spsec;
using spsec::test::TempDir;

namespace {
constexpr std::uint64_t kTick = 100'000;  // 1 Mbit/s data phase: 100 us
}

TEST_CASE("sync clock counts ticks from its base", "[daemon]")
{
	FakeClock fc(5'000'000'000);
	SyncClock c(fc, kTick);
	CHECK_FALSE(c.is_set());
	CHECK(c.now_t() == 0);
	CHECK_FALSE(c.set(0));
	REQUIRE(c.set(1000));
	CHECK(c.now_t() == 1000);
	fc.advance_ns(kTick - 1);
	CHECK(c.now_t() == 1000);  // a tick is whole
	fc.advance_ns(1);
	CHECK(c.now_t() == 1001);
	fc.advance_ns(10 * kTick);
	CHECK(c.now_t() == 1011);
	CHECK(c.mono_at(1011) == 5'000'000'000 + 11 * kTick);
	CHECK(c.t_at(c.mono_at(2000)) == 2000);
	CHECK(c.mono_at(10) == c.base_ns());
}

TEST_CASE("sync clock adjusts forward only and refuses backward steps over 1 s", "[daemon]")
{
	FakeClock fc;
	SyncClock c(fc, kTick);
	CHECK_FALSE(c.adjust(5));  // not set
	REQUIRE(c.set(100'000));
	fc.advance_ns(50 * kTick);  // T = 100050

	auto f = c.adjust(100'500);
	REQUIRE(f);
	CHECK(*f == SyncClock::Adjust::Forward);
	CHECK(c.now_t() == 100'500);
	CHECK(c.base_ns() == fc.monotonic_ns());

	CHECK(*c.adjust(100'500) == SyncClock::Adjust::Unchanged);

	// 1 s at 100 us = 10 000 ticks behind: ignored, T keeps running.
	auto b = c.adjust(100'500 - 10'000);
	REQUIRE(b);
	CHECK(*b == SyncClock::Adjust::IgnoredBehind);
	CHECK(c.now_t() == 100'500);
	auto refused = c.adjust(100'500 - 10'001);
	REQUIRE_FALSE(refused);
	CHECK_THAT(refused.error().context,
	           Catch::Contains("10001 ticks") && Catch::Contains("more than 1 s"));
	CHECK(c.now_t() == 100'500);

	c.reset();
	CHECK_FALSE(c.is_set());
}

TEST_CASE("the 1 s bound follows the tick length", "[daemon]")
{
	FakeClock fc;
	SyncClock c(fc, 12'500);  // 8 Mbit/s: 80 000 ticks per second
	REQUIRE(c.set(1'000'000));
	CHECK(*c.adjust(1'000'000 - 80'000) == SyncClock::Adjust::IgnoredBehind);
	CHECK_FALSE(c.adjust(1'000'000 - 80'001));
}

TEST_CASE("persisted T: boot margin and write-ahead", "[daemon]")
{
	TPersistence first(std::nullopt);
	CHECK(first.boot_t() == 1);
	CHECK(first.need_write(1) == 1u + TPersistence::kPersistAhead);

	TPersistence p(std::optional<std::uint64_t>{5'000'000});
	CHECK(p.boot_t() == 5'080'000);
	// The wall-clock floor wins only when it is ahead.
	CHECK(p.boot_t(9'000'000) == 9'000'000);
	CHECK(p.boot_t(5'079'999) == 5'080'000);
	CHECK(first.boot_t(77) == 77);
	// Reservation far enough ahead: nothing to write.
	CHECK_FALSE(p.need_write(4'900'000).has_value());
	CHECK_FALSE(p.need_write(5'000'000 - 40'000).has_value());
	// Less than half of the reservation left: write now + 80 000.
	CHECK(p.need_write(5'000'000 - 39'999) == 5'000'000u - 39'999u + 80'000u);
	// Already past (a stall): still writes ahead of now.
	CHECK(p.need_write(6'000'000) == 6'080'000u);
	p.written(6'080'000);
	CHECK(p.stored() == 6'080'000u);
}

TEST_CASE("persisted T never repeats across simulated crashes", "[daemon]")
{
	// Run a Sync through many lives that crash at arbitrary points (here: after every step
	// count in a fixed pseudo-random sequence), checking the write-ahead discipline the daemon
	// follows: write before T may pass the stored reservation.
	FakeClock fc;
	std::optional<std::uint64_t> disk;
	std::uint64_t max_used = 0;
	std::uint32_t rng = 12345;
	for (int life = 0; life < 50; life++) {
		TPersistence p(disk);
		SyncClock c(fc, kTick);
		std::uint64_t t0 = p.boot_t();
		CHECK(t0 > max_used);
		// Write ahead before using t0.
		disk = t0 + TPersistence::kPersistAhead;
		p.written(*disk);
		REQUIRE(c.set(t0));
		rng = rng * 1103515245u + 12345u;
		int steps = static_cast<int>(rng % 200);
		for (int s = 0; s < steps; s++) {
			fc.advance_ns(1000 *
			              kTick);  // 1000 ticks between checks (the daemon: 10 000)
			std::uint64_t now = c.now_t();
			REQUIRE(now <= *disk);  // T never passed what is on disk
			max_used = std::max(max_used, now);
			if (auto w = p.need_write(now)) {
				disk = *w;
				p.written(*w);
			}
		}
	}
}

TEST_CASE("persisted T file round-trips, is 0600 and corrupt files are refused", "[daemon]")
{
	TempDir dir;
	std::string path = dir.file("can0.t");
	auto none = read_persisted_t(path);
	REQUIRE(none);
	CHECK_FALSE(none->has_value());

	REQUIRE(write_persisted_t(path, 18'446'744'073'709'551'615u));
	CHECK(spsec::test::read_file(path) == "spsec-t 1 18446744073709551615\n");
	struct stat st {};
	REQUIRE(::stat(path.c_str(), &st) == 0);
	CHECK((st.st_mode & 0777) == 0600);
	CHECK(read_persisted_t(path)->value() == 18'446'744'073'709'551'615u);
	REQUIRE(write_persisted_t(path, 42));
	CHECK(read_persisted_t(path)->value() == 42u);
	CHECK(dir.entries() == std::vector<std::string>{"can0.t"});

	for (const char* bad :
	     {"", "spsec-t 1 \n", "spsec-t 1 12", "spsec-t 2 12\n", "spsec-t 1 0\n",
	      "spsec-t 1 1a\n", "spsec-t 1 18446744073709551616\n"}) {
		INFO(bad);
		spsec::test::write_file(path, bad);
		auto r = read_persisted_t(path);
		REQUIRE_FALSE(r);
		CHECK_THAT(r.error().context, Catch::Contains("corrupt"));
	}
}
