// SPDX-License-Identifier: Apache-2.0
// The participant's register map (spec §6) and a pure model of its register values and key
// slots with the write rules of the key hierarchy (spec §3, §6). No I/O: the daemon persists a
// RegisterStore and the Configurator session (session.h) reads and writes it.
//
// Write rules (session = the key that opened the Configurator session):
//   21h/31h/41h Provisioning Key, salt, ID   Zero-Key session only, once (until a reset), and
//                                            only on a node with no key at all or while a
//                                            commissioning window is open [choice]
//   22h/32h/42h Integrator Key, salt, ID     Provisioning-Key session only, once
//   23h/33h/43h Seed Key, salt, ID           Provisioning- or Integrator-Key session, re-writable
//   60h-63h, 7Bh configuration               any session except a Zero-Key session
//   7Fh manufacturer reset (1D04E5E1h)       Integrator-Key session only
// Reads: key and salt registers never; 7Bh/7Fh never (write-only); a Zero-Key session only
// 50h, 51h, 58h, 59h, 81h, 82h, 41h, 42h, 43h (spsec_participant register_validation.c).
//
// A key is installed as one complete change: key, salt and ID together (KeyChange), staged
// register by register in a KeyWriteStage and applied in one step, so a durable copy of the
// store never holds a key without its salt and ID. RegisterStore is a value type (copying
// clones the key material, which is wiped on destruction): the session applies a change to a
// copy and hands the copy to the daemon, which persists it and then swaps it in.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "core/key_schedule.h"
#include "core/secret.h"
#include "spsec/result.h"

namespace spsec {

// ---- The map ---------------------------------------------------------------------------------
enum class RegAccess : std::uint8_t {
	Read,       // read-only
	ReadWrite,  // read and write
	WriteOnly,  // never readable
};
[[nodiscard]] std::string_view reg_access_name(RegAccess a) noexcept;  // "r", "rw", "w"

enum class RegKind : std::uint8_t {
	Key,    // 32-byte key, part of a KeyChange
	Salt,   // 8-byte salt, part of a KeyChange
	KeyId,  // LE32 key ID, part of a KeyChange when written
	U8,     // unsigned integer, little-endian on the wire
	U16,
	U32,
	String,  // variable length, at most kMaxStringRegister bytes
	Bytes,   // fixed-size opaque bytes (serial number)
};

struct RegisterInfo {
	std::uint8_t addr = 0;
	std::string_view cli_name;  // "seed-key", "participant-id", ...
	std::string_view title;     // "Seed Key", ...
	std::uint8_t size = 0;      // bytes on the wire; 0 for strings (variable)
	RegAccess access = RegAccess::Read;
	RegKind kind = RegKind::U8;
};

// A read of a string register fits one ReadSeg response (64 - 8 tag bytes).
inline constexpr std::size_t kMaxStringRegister = 56;

// All registers of spec §6, ordered by address.
[[nodiscard]] std::span<const RegisterInfo> register_map() noexcept;
// nullptr when `addr` is not in the map.
[[nodiscard]] const RegisterInfo* find_register(std::uint8_t addr) noexcept;
// By CLI name ("seed-key"), or by address: "0x23", "23h", "23" (hex). Errors name the input
// and list how to get the valid names.
[[nodiscard]] Result<const RegisterInfo*> lookup_register(std::string_view name_or_addr);

// ---- Sessions and refusals -------------------------------------------------------------------
// The key that opened the session (its ClientHello selector).
enum class OpeningKey : std::uint8_t {
	Zero = 1,
	Integrator = 14,
	Provisioning = 15,
};
[[nodiscard]] std::string_view opening_key_name(OpeningKey k) noexcept;  // "zero", ...
// Selector 1, 14, 15 -> the opening key; anything else (13 Seed included) -> nullopt.
[[nodiscard]] std::optional<OpeningKey> opening_key_from_selector(std::uint8_t selector) noexcept;

// Why a register access was refused. The numeric value travels on the wire as the WriteSeg
// response status and in refused Read/WriteInit responses ([choice], see session.h); 0 = OK.
enum class RegStatus : std::uint8_t {
	Ok = 0,
	UnknownRegister = 1,  // not in the map
	AccessDenied = 2,     // not in this session (opening key)
	ReadOnly = 3,         // a write to a read-only register
	WriteOnly = 4,        // a read of a write-only register (keys, salts, 7Bh, 7Fh)
	BadLength = 5,        // length differs from the register's size
	BadValue = 6,         // value out of range
	AlreadySet = 7,       // write-once key already installed
	KeySequence = 8,      // a key part for another key while one is staged
};
[[nodiscard]] std::string_view reg_status_name(RegStatus s) noexcept;  // "access_denied", ...
// "write seed-key (23h): access_denied" - for logs and CLI errors.
[[nodiscard]] std::string describe_refusal(std::uint8_t reg, bool write, RegStatus s);

template <class T> using RegResult = tl::expected<T, RegStatus>;

// ---- The store -------------------------------------------------------------------------------
inline constexpr std::uint32_t kKeyIdInvalid = 0x00000000;
inline constexpr std::uint32_t kKeyIdErased = 0xFFFFFFFF;

enum class KeySlotId : std::uint8_t { Provisioning = 0, Integrator = 1, Seed = 2 };
[[nodiscard]] std::string_view key_slot_name(KeySlotId s) noexcept;  // "provisioning", ...
// 21h/31h/41h -> Provisioning, 22h/32h/42h -> Integrator, 23h/33h/43h -> Seed.
[[nodiscard]] std::optional<KeySlotId> key_slot_of_register(std::uint8_t reg) noexcept;

struct KeySlot {
	bool present = false;  // a key is installed (factory state: none)
	Key32 key;             // an owned copy; all zero when !present or when `ref` is set
	// The key kept elsewhere (the daemon's locked key store, refer_key()): the store then holds
	// no copy of it. Must outlive every copy of this slot.
	const Key32* ref = nullptr;
	KeySalt salt{};  // all zero when !present
	std::uint32_t id = kKeyIdErased;

	// The key bytes, wherever they are kept.
	[[nodiscard]] const Key32& material() const noexcept { return ref != nullptr ? *ref : key; }

	KeySlot() = default;
	KeySlot(const KeySlot& o)
	    : present(o.present), key(o.key.clone()), ref(o.ref), salt(o.salt), id(o.id)
	{
	}
	KeySlot& operator=(const KeySlot& o)
	{
		if (this != &o) {
			present = o.present;
			key = o.key.clone();
			ref = o.ref;
			salt = o.salt;
			id = o.id;
		}
		return *this;
	}
	KeySlot(KeySlot&&) noexcept = default;
	KeySlot& operator=(KeySlot&&) noexcept = default;
	~KeySlot() = default;
};

// A complete key installation: applied all at once or not at all.
struct KeyChange {
	KeySlotId slot = KeySlotId::Seed;
	Key32 key;
	KeySalt salt{};
	std::uint32_t id = kKeyIdErased;
};

// Identification registers, fixed by the build / the device (58h, 59h, 81h, 82h). Strings
// longer than kMaxStringRegister are truncated when read.
struct DeviceInfo {
	std::string core_version;
	std::string mapping_version;
	std::string device_id;
	std::array<std::uint8_t, 16> serial{};
};

// Configuration registers (60h-63h, 7Bh).
struct RegisterConfig {
	std::uint8_t participant_id = 127;  // 60h, 1..127
	std::uint8_t heartbeat_timing = 0;  // 61h, 0 off .. 6 (250 ms)
	// 62h: four participant IDs (byte i = LE byte i), each 0 (unused) or 1..127; or FFFFFFFFh
	// = monitor all.
	std::uint32_t heartbeat_monitor = 0;
	std::uint8_t sync_role = 0;  // 63h, 0 off, 1 on
	std::uint16_t bit_rate = 0;  // 7Bh, low byte nominal, high byte data (codes as written)
	friend bool operator==(const RegisterConfig&, const RegisterConfig&) = default;
};

// Validates one configuration value (60h-63h, 7Bh) given as its wire bytes. Errors: BadLength,
// BadValue, UnknownRegister (not a configuration register).
[[nodiscard]] RegResult<void> validate_config_value(std::uint8_t reg,
                                                    std::span<const std::uint8_t> data);

class RegisterStore {
public:
	RegisterStore() = default;
	explicit RegisterStore(DeviceInfo device, RegisterConfig config = {});

	[[nodiscard]] const KeySlot& key(KeySlotId s) const noexcept
	{
		return keys_[static_cast<std::size_t>(s)];
	}
	[[nodiscard]] const RegisterConfig& config() const noexcept { return config_; }
	[[nodiscard]] const DeviceInfo& device() const noexcept { return device_; }

	// [choice] A commissioning window (spsecctl commission) is open: a Zero-Key session may
	// install the Provisioning Key although the node holds other keys. Without it, and on
	// every node that holds any key, a Zero-Key session writes no key (AccessDenied); a
	// factory-fresh node (no key at all) needs no window.
	void set_commissioning(bool open) noexcept { commissioning_ = open; }
	[[nodiscard]] bool commissioning() const noexcept { return commissioning_; }
	// True when any of the three keys is installed.
	[[nodiscard]] bool holds_any_key() const noexcept
	{
		return keys_[0].present || keys_[1].present || keys_[2].present;
	}

	// Live values owned by the daemon (50h status, 51h last security event).
	void set_status(std::uint8_t s) noexcept { status_ = s; }
	void set_last_event(std::uint16_t e) noexcept { last_event_ = e; }
	[[nodiscard]] std::uint8_t status() const noexcept { return status_; }
	[[nodiscard]] std::uint16_t last_event() const noexcept { return last_event_; }

	// The bytes a Configurator reads from `reg` in a session opened with `session`
	// (little-endian integers, strings without terminator). Errors: UnknownRegister,
	// WriteOnly (keys, salts, 7Bh, 7Fh), AccessDenied (Zero-Key session outside its list).
	[[nodiscard]] RegResult<std::vector<std::uint8_t>> read(std::uint8_t reg,
	                                                        OpeningKey session) const;

	// May `reg` be written with `length` bytes in `session`? Checks the map, the access rule,
	// the length and the write-once rule; not the value. Errors: UnknownRegister, ReadOnly,
	// AccessDenied, BadLength, AlreadySet.
	[[nodiscard]] RegResult<void> check_write_access(std::uint8_t reg, OpeningKey session,
	                                                 std::size_t length) const;

	// Writes a configuration register or performs the manufacturer reset, after
	// check_write_access and the value checks (validate_config_value; 7Fh must be
	// 1D04E5E1h). Key, salt and key ID registers are refused with KeySequence: they go through
	// a KeyWriteStage and apply_key_change. On any error nothing changes.
	[[nodiscard]] RegResult<void> write(std::uint8_t reg, OpeningKey session,
	                                    std::span<const std::uint8_t> data);

	// Installs a complete key (key, salt, ID) in `session`: the access and write-once rules of
	// its key register, the ID not 0 or FFFFFFFFh (BadValue). Applied to a copy and swapped in,
	// so on any error nothing changes.
	[[nodiscard]] RegResult<void> apply_key_change(const KeyChange& change, OpeningKey session);

	// Manufacturer reset (7Fh): the Integrator and Seed Keys with their salts and IDs go back
	// to the factory state (absent, ID FFFFFFFFh). The Provisioning Key stays: it is the
	// manufacturer's, written once per device (the reference erases exactly these two keys,
	// spsec_participant register_write_segment.c). Configuration registers are kept.
	void manufacturer_reset() noexcept;

	// Puts a persisted key back (the daemon's key store at start-up), without the session
	// rules: those governed the write that installed it. Errors: BadValue (ID 0 or
	// FFFFFFFFh).
	[[nodiscard]] RegResult<void> restore_key(KeySlotId slot, const Key32& key, KeySalt salt,
	                                          std::uint32_t id);
	// As restore_key, but keeps a reference to `key` instead of a copy, so key material stays
	// where the caller keeps it (spsecd: mlock()ed memory). `key` must outlive this store and
	// every copy of it.
	[[nodiscard]] RegResult<void> refer_key(KeySlotId slot, const Key32& key, KeySalt salt,
	                                        std::uint32_t id);

	// Equal when every value and every key byte is equal (keys compared in constant time).
	friend bool operator==(const RegisterStore& a, const RegisterStore& b) noexcept;

private:
	std::array<KeySlot, 3> keys_{};
	RegisterConfig config_{};
	DeviceInfo device_{};
	std::uint8_t status_ = 0;
	std::uint16_t last_event_ = 0;
	bool commissioning_ = false;
};

// Collects the parts of one key installation as they arrive register by register (21h/31h/41h,
// ... in any order), for one key at a time. The session applies the KeyChange once all three
// parts are in; a session ending with an incomplete stage discards it.
class KeyWriteStage {
public:
	// Adds one part (the register's access was checked by the caller). A part written twice
	// replaces the earlier value. ID FFFFFFFFh is the "invalidate" step of the reference's
	// flows (FFFFFFFFh, key, salt, ID): accepted, it removes any staged ID of this key and
	// starts its stage, so the set completes only with a valid ID written afterwards; it is
	// never committed. Errors: UnknownRegister (not a key/salt/ID register), BadLength,
	// BadValue (ID 0), KeySequence (a part of another key while one is staged; the stage is
	// kept).
	[[nodiscard]] RegResult<void> add(std::uint8_t reg, std::span<const std::uint8_t> data);
	[[nodiscard]] bool complete() const noexcept { return key_ && salt_ && id_; }
	[[nodiscard]] bool empty() const noexcept { return !slot_; }
	[[nodiscard]] std::optional<KeySlotId> slot() const noexcept { return slot_; }
	// The complete change, clearing the stage; nullopt when incomplete.
	[[nodiscard]] std::optional<KeyChange> take();
	void clear() noexcept;

private:
	std::optional<KeySlotId> slot_;
	std::optional<Key32> key_;
	std::optional<KeySalt> salt_;
	std::optional<std::uint32_t> id_;
};

}  // namespace spsec
