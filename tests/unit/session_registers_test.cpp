// SPDX-License-Identifier: Apache-2.0
// The register map and the RegisterStore write rules (spec §3, §6).
#include <catch2/catch.hpp>

#include <set>

#include "core/messages.h"
#include "core/registers.h"

using namespace spsec;

namespace {

Key32 key_of(std::uint8_t b)
{
	std::array<std::uint8_t, 32> a{};
	a.fill(b);
	return Key32(std::span<const std::uint8_t, 32>(a));
}

KeyChange change(KeySlotId s, std::uint8_t b, std::uint32_t id)
{
	KeyChange c;
	c.slot = s;
	c.key = key_of(b);
	c.salt.fill(static_cast<std::uint8_t>(b + 1));
	c.id = id;
	return c;
}

RegisterStore fresh()
{
	DeviceInfo d;
	d.core_version = "spsec-linux 0.1";
	d.mapping_version = "canfd-1";
	d.device_id = "test-node";
	d.serial.fill(0xAB);
	return RegisterStore(std::move(d));
}

std::vector<std::uint8_t> le32v(std::uint32_t v)
{
	return {static_cast<std::uint8_t>(v), static_cast<std::uint8_t>(v >> 8),
	        static_cast<std::uint8_t>(v >> 16), static_cast<std::uint8_t>(v >> 24)};
}

constexpr auto Z = OpeningKey::Zero;
constexpr auto P = OpeningKey::Provisioning;
constexpr auto I = OpeningKey::Integrator;

}  // namespace

TEST_CASE("register map: addresses, sizes, access and CLI names", "[session]")
{
	const auto map = register_map();
	REQUIRE(map.size() == 21);
	std::set<std::uint8_t> addrs;
	std::set<std::string_view> names;
	for (const auto& r : map) {
		addrs.insert(r.addr);
		names.insert(r.cli_name);
		CHECK(find_register(r.addr) == &r);
		auto l = lookup_register(r.cli_name);
		REQUIRE(l);
		CHECK(*l == &r);
	}
	CHECK(addrs.size() == map.size());
	CHECK(names.size() == map.size());

	const auto* seed = find_register(0x23);
	REQUIRE(seed);
	CHECK(seed->cli_name == "seed-key");
	CHECK(seed->size == 32);
	CHECK(seed->access == RegAccess::WriteOnly);
	CHECK(find_register(0x33)->size == 8);
	CHECK(find_register(0x43)->access == RegAccess::ReadWrite);
	CHECK(find_register(0x50)->access == RegAccess::Read);
	CHECK(find_register(0x51)->size == 2);
	CHECK(find_register(0x62)->size == 4);
	CHECK(find_register(0x7B)->access == RegAccess::WriteOnly);
	CHECK(find_register(0x7F)->access == RegAccess::WriteOnly);
	CHECK(find_register(0x82)->size == 16);
	CHECK(find_register(0x24) == nullptr);

	CHECK(*lookup_register("0x60") == find_register(0x60));
	CHECK(*lookup_register("60h") == find_register(0x60));
	CHECK(*lookup_register("61") == find_register(0x61));
	CHECK(*lookup_register("heartbeat-timing") == find_register(0x61));
	auto bad = lookup_register("seed");
	REQUIRE_FALSE(bad);
	CHECK(bad.error().context.find("'seed'") != std::string::npos);
	auto bad_addr = lookup_register("0x24");
	REQUIRE_FALSE(bad_addr);
	CHECK(bad_addr.error().context.find("no such register") != std::string::npos);
	CHECK_FALSE(lookup_register("0x123"));
	CHECK_FALSE(lookup_register(""));
}

TEST_CASE("register store: factory state and reads", "[session]")
{
	RegisterStore st = fresh();
	for (auto s : {KeySlotId::Provisioning, KeySlotId::Integrator, KeySlotId::Seed}) {
		CHECK_FALSE(st.key(s).present);
		CHECK(st.key(s).id == kKeyIdErased);
	}
	st.set_status(0x82);
	st.set_last_event(0x5E02);
	CHECK(*st.read(0x50, Z) == std::vector<std::uint8_t>{0x82});
	CHECK(*st.read(0x51, Z) == std::vector<std::uint8_t>{0x02, 0x5E});
	CHECK(*st.read(0x41, Z) == le32v(0xFFFFFFFF));
	CHECK(*st.read(0x58, Z) == std::vector<std::uint8_t>{'s', 'p', 's', 'e', 'c', '-', 'l', 'i',
	                                                     'n', 'u', 'x', ' ', '0', '.', '1'});
	CHECK(st.read(0x82, Z)->size() == 16);
	CHECK(*st.read(0x60, I) == std::vector<std::uint8_t>{127});

	SECTION("key and salt registers are never readable, in any session")
	{
		for (std::uint8_t r : std::initializer_list<std::uint8_t>{0x21, 0x22, 0x23, 0x31,
		                                                          0x32, 0x33, 0x7B, 0x7F}) {
			for (auto s : {Z, P, I}) {
				auto v = st.read(r, s);
				REQUIRE_FALSE(v);
				CHECK(v.error() == RegStatus::WriteOnly);
			}
		}
	}
	SECTION("a Zero-Key session reads only the discovery registers")
	{
		const std::set<std::uint8_t> allowed = {0x50, 0x51, 0x58, 0x59, 0x81,
		                                        0x82, 0x41, 0x42, 0x43};
		for (const auto& r : register_map()) {
			if (r.access == RegAccess::WriteOnly)
				continue;
			auto v = st.read(r.addr, Z);
			CHECK(static_cast<bool>(v) == (allowed.count(r.addr) == 1));
			if (!v)
				CHECK(v.error() == RegStatus::AccessDenied);
			CHECK(st.read(r.addr, I));
		}
	}
	CHECK(st.read(0x99, I).error() == RegStatus::UnknownRegister);
}

TEST_CASE("register store: key write rules", "[session]")
{
	RegisterStore st = fresh();

	SECTION("Provisioning Key only in a Zero-Key session, once")
	{
		const RegisterStore before = st;
		CHECK(st.apply_key_change(change(KeySlotId::Provisioning, 1, 0x100), I).error() ==
		      RegStatus::AccessDenied);
		CHECK(st.apply_key_change(change(KeySlotId::Provisioning, 1, 0x100), P).error() ==
		      RegStatus::AccessDenied);
		CHECK(st == before);
		REQUIRE(st.apply_key_change(change(KeySlotId::Provisioning, 1, 0x100), Z));
		CHECK(st.key(KeySlotId::Provisioning).present);
		CHECK(st.key(KeySlotId::Provisioning).id == 0x100);
		CHECK(*st.read(0x41, Z) == le32v(0x100));
		CHECK_FALSE(st == before);
		const RegisterStore once = st;
		CHECK(st.apply_key_change(change(KeySlotId::Provisioning, 2, 0x101), Z).error() ==
		      RegStatus::AlreadySet);
		CHECK(st.check_write_access(0x31, Z, 8).error() == RegStatus::AlreadySet);
		CHECK(st.check_write_access(0x41, Z, 4).error() == RegStatus::AlreadySet);
		CHECK(st == once);
	}
	SECTION("Integrator Key only in a Provisioning-Key session, once")
	{
		CHECK(st.apply_key_change(change(KeySlotId::Integrator, 1, 7), Z).error() ==
		      RegStatus::AccessDenied);
		CHECK(st.apply_key_change(change(KeySlotId::Integrator, 1, 7), I).error() ==
		      RegStatus::AccessDenied);
		REQUIRE(st.apply_key_change(change(KeySlotId::Integrator, 1, 7), P));
		CHECK(st.apply_key_change(change(KeySlotId::Integrator, 2, 8), P).error() ==
		      RegStatus::AlreadySet);
		CHECK(st.check_write_access(0x42, P, 4).error() == RegStatus::AlreadySet);
	}
	SECTION("Seed Key in a Provisioning- or Integrator-Key session, re-writable")
	{
		CHECK(st.apply_key_change(change(KeySlotId::Seed, 1, 7), Z).error() ==
		      RegStatus::AccessDenied);
		REQUIRE(st.apply_key_change(change(KeySlotId::Seed, 1, 7), P));
		REQUIRE(st.apply_key_change(change(KeySlotId::Seed, 2, 8), I));
		CHECK(st.key(KeySlotId::Seed).id == 8);
		CHECK(st.key(KeySlotId::Seed).salt[0] == 3);
	}
	SECTION("key ID 0 and FFFFFFFFh are refused, nothing changes")
	{
		const RegisterStore before = st;
		CHECK(st.apply_key_change(change(KeySlotId::Seed, 1, 0), I).error() ==
		      RegStatus::BadValue);
		CHECK(st.apply_key_change(change(KeySlotId::Seed, 1, 0xFFFFFFFF), I).error() ==
		      RegStatus::BadValue);
		CHECK(st == before);
	}
	SECTION("key registers go through the stage, never write()")
	{
		const std::vector<std::uint8_t> k(32, 1);
		CHECK(st.write(0x23, I, k).error() == RegStatus::KeySequence);
	}
}

TEST_CASE("register store: configuration writes and validation", "[session]")
{
	RegisterStore st = fresh();
	const RegisterStore before = st;
	using V = std::vector<std::uint8_t>;

	for (std::uint8_t r : std::initializer_list<std::uint8_t>{0x60, 0x61, 0x62, 0x63, 0x7B}) {
		const auto* info = find_register(r);
		CHECK(st.write(r, Z, V(info->size, 1)).error() == RegStatus::AccessDenied);
	}
	CHECK(st.write(0x50, I, V{1}).error() == RegStatus::ReadOnly);
	CHECK(st.write(0x60, I, V{0}).error() == RegStatus::BadValue);
	CHECK(st.write(0x60, I, V{128}).error() == RegStatus::BadValue);
	CHECK(st.write(0x60, I, V{1, 2}).error() == RegStatus::BadLength);
	CHECK(st.write(0x61, I, V{7}).error() == RegStatus::BadValue);
	CHECK(st.write(0x62, I, V{1, 2, 3, 0x80}).error() == RegStatus::BadValue);
	CHECK(st.write(0x63, I, V{2}).error() == RegStatus::BadValue);
	CHECK(st.write(0x99, I, V{2}).error() == RegStatus::UnknownRegister);
	CHECK(st == before);

	REQUIRE(st.write(0x60, P, V{5}));
	REQUIRE(st.write(0x61, I, V{6}));
	REQUIRE(st.write(0x62, I, V{1, 2, 0, 0}));
	REQUIRE(st.write(0x63, I, V{1}));
	REQUIRE(st.write(0x7B, I, V{0x01, 0x05}));
	CHECK(st.config().participant_id == 5);
	CHECK(st.config().heartbeat_timing == 6);
	CHECK(st.config().heartbeat_monitor == 0x0201);
	CHECK(st.config().sync_role == 1);
	CHECK(st.config().bit_rate == 0x0501);
	REQUIRE(st.write(0x62, I, V{0xFF, 0xFF, 0xFF, 0xFF}));
	CHECK(st.config().heartbeat_monitor == 0xFFFFFFFF);
}

TEST_CASE("register store: manufacturer reset only with the Integrator Key", "[session]")
{
	RegisterStore st = fresh();
	REQUIRE(st.apply_key_change(change(KeySlotId::Provisioning, 1, 1), Z));
	REQUIRE(st.apply_key_change(change(KeySlotId::Integrator, 2, 2), P));
	REQUIRE(st.apply_key_change(change(KeySlotId::Seed, 3, 3), I));
	REQUIRE(st.write(0x60, I, std::vector<std::uint8_t>{9}));
	const RegisterStore before = st;
	const auto magic = le32v(kManufacturerResetValue);
	CHECK(st.write(0x7F, P, magic).error() == RegStatus::AccessDenied);
	CHECK(st.write(0x7F, Z, magic).error() == RegStatus::AccessDenied);
	CHECK(st.write(0x7F, I, le32v(0x1D04E5E0)).error() == RegStatus::BadValue);
	CHECK(st == before);
	REQUIRE(st.write(0x7F, I, magic));
	CHECK(st.key(KeySlotId::Provisioning).present);
	CHECK_FALSE(st.key(KeySlotId::Integrator).present);
	CHECK(st.key(KeySlotId::Integrator).id == kKeyIdErased);
	CHECK_FALSE(st.key(KeySlotId::Seed).present);
	CHECK(st.config().participant_id == 9);
	// After the reset the Integrator Key can be installed again.
	CHECK(st.apply_key_change(change(KeySlotId::Integrator, 4, 4), P));
}

TEST_CASE("key write stage collects one complete key", "[session]")
{
	KeyWriteStage s;
	CHECK(s.empty());
	const std::vector<std::uint8_t> key(32, 0x11), salt(8, 0x22);
	CHECK(s.add(0x23, std::vector<std::uint8_t>(31, 0)).error() == RegStatus::BadLength);
	REQUIRE(s.add(0x23, key));
	CHECK_FALSE(s.complete());
	CHECK(s.add(0x32, salt).error() == RegStatus::KeySequence);  // other key: refused
	CHECK(s.add(0x43, le32v(0)).error() == RegStatus::BadValue);
	CHECK_FALSE(s.take());
	REQUIRE(s.add(0x33, salt));
	REQUIRE(s.add(0x43, le32v(0x42)));
	REQUIRE(s.complete());
	auto c = s.take();
	REQUIRE(c);
	CHECK(c->slot == KeySlotId::Seed);
	CHECK(c->id == 0x42);
	CHECK(c->salt[0] == 0x22);
	CHECK(c->key.expose()[31] == 0x11);
	CHECK(s.empty());
	CHECK(s.add(0x50, salt).error() == RegStatus::UnknownRegister);
}

TEST_CASE("key write stage: key ID FFFFFFFFh is the invalidate step, never staged as the ID",
          "[session]")
{
	const std::vector<std::uint8_t> key(32, 0x11), salt(8, 0x22);
	KeyWriteStage s;
	SECTION("the reference's order: FFFFFFFFh, key, salt, ID")
	{
		REQUIRE(s.add(0x42, le32v(0xFFFFFFFF)));
		CHECK_FALSE(s.empty());  // the invalidation starts this key's stage
		CHECK(s.slot() == KeySlotId::Integrator);
		CHECK(s.add(0x33, salt).error() == RegStatus::KeySequence);  // another key
		REQUIRE(s.add(0x22, key));
		REQUIRE(s.add(0x32, salt));
		CHECK_FALSE(s.complete());
		REQUIRE(s.add(0x42, le32v(0x202)));
		auto c = s.take();
		REQUIRE(c);
		CHECK(c->slot == KeySlotId::Integrator);
		CHECK(c->id == 0x202);
	}
	SECTION("FFFFFFFFh withdraws an ID staged before it: a set ending with it is incomplete")
	{
		REQUIRE(s.add(0x43, le32v(0x42)));
		REQUIRE(s.add(0x23, key));
		REQUIRE(s.add(0x43, le32v(0xFFFFFFFF)));
		REQUIRE(s.add(0x33, salt));
		CHECK_FALSE(s.complete());
		CHECK_FALSE(s.take());
		REQUIRE(s.add(0x43, le32v(0x43)));
		auto c = s.take();
		REQUIRE(c);
		CHECK(c->id == 0x43);
	}
	SECTION("ID 0 stays a bad value; FFFFFFFFh for another key is out of sequence")
	{
		CHECK(s.add(0x41, le32v(0)).error() == RegStatus::BadValue);
		REQUIRE(s.add(0x21, key));
		CHECK(s.add(0x43, le32v(0xFFFFFFFF)).error() == RegStatus::KeySequence);
		CHECK(s.slot() == KeySlotId::Provisioning);
	}
}

TEST_CASE("refusal descriptions name register and reason", "[session]")
{
	CHECK(describe_refusal(0x23, true, RegStatus::AccessDenied) ==
	      "write seed-key (23h): access_denied");
	CHECK(describe_refusal(0x21, false, RegStatus::WriteOnly) ==
	      "read provisioning-key (21h): write_only");
	CHECK(opening_key_from_selector(13) == std::nullopt);
	CHECK(opening_key_from_selector(1) == OpeningKey::Zero);
	CHECK(opening_key_from_selector(14) == OpeningKey::Integrator);
	CHECK(opening_key_from_selector(15) == OpeningKey::Provisioning);
}
