// SPDX-License-Identifier: Apache-2.0
#include "core/registers.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "core/messages.h"

namespace spsec {

namespace {

constexpr std::array<RegisterInfo, 21> kMap = {{
        {reg::kProvisioningKey, "provisioning-key", "Provisioning Key", 32, RegAccess::WriteOnly,
         RegKind::Key},
        {reg::kIntegratorKey, "integrator-key", "Integrator Key", 32, RegAccess::WriteOnly,
         RegKind::Key},
        {reg::kSeedKey, "seed-key", "Seed Key", 32, RegAccess::WriteOnly, RegKind::Key},
        {reg::kProvisioningSalt, "provisioning-salt", "Provisioning Key salt", 8,
         RegAccess::WriteOnly, RegKind::Salt},
        {reg::kIntegratorSalt, "integrator-salt", "Integrator Key salt", 8, RegAccess::WriteOnly,
         RegKind::Salt},
        {reg::kSeedSalt, "seed-salt", "Seed Key salt", 8, RegAccess::WriteOnly, RegKind::Salt},
        {reg::kProvisioningKeyId, "provisioning-key-id", "Provisioning Key ID", 4,
         RegAccess::ReadWrite, RegKind::KeyId},
        {reg::kIntegratorKeyId, "integrator-key-id", "Integrator Key ID", 4, RegAccess::ReadWrite,
         RegKind::KeyId},
        {reg::kSeedKeyId, "seed-key-id", "Seed Key ID", 4, RegAccess::ReadWrite, RegKind::KeyId},
        {reg::kStatus, "status", "SPsec status", 1, RegAccess::Read, RegKind::U8},
        {reg::kLastEvent, "last-event", "Last security event", 2, RegAccess::Read, RegKind::U16},
        {reg::kCoreVersion, "core-version", "Core version", 0, RegAccess::Read, RegKind::String},
        {reg::kMappingVersion, "mapping-version", "Mapping version", 0, RegAccess::Read,
         RegKind::String},
        {reg::kParticipantId, "participant-id", "Participant ID", 1, RegAccess::ReadWrite,
         RegKind::U8},
        {reg::kHeartbeatTiming, "heartbeat-timing", "Heartbeat timing", 1, RegAccess::ReadWrite,
         RegKind::U8},
        {reg::kHeartbeatMonitor, "heartbeat-monitor", "Heartbeat monitor", 4, RegAccess::ReadWrite,
         RegKind::U32},
        {reg::kSyncRole, "sync-role", "Sync role", 1, RegAccess::ReadWrite, RegKind::U8},
        {reg::kBitRate, "bit-rate", "CAN FD bit rate", 2, RegAccess::WriteOnly, RegKind::U16},
        {reg::kManufacturerReset, "manufacturer-reset", "Manufacturer reset", 4,
         RegAccess::WriteOnly, RegKind::U32},
        {reg::kDeviceId, "device-id", "Device identification", 0, RegAccess::Read, RegKind::String},
        {reg::kSerialNumber, "serial-number", "Serial number", 16, RegAccess::Read, RegKind::Bytes},
}};

std::uint32_t le32(std::span<const std::uint8_t> d) noexcept
{
	return static_cast<std::uint32_t>(d[0]) | (static_cast<std::uint32_t>(d[1]) << 8) |
	       (static_cast<std::uint32_t>(d[2]) << 16) | (static_cast<std::uint32_t>(d[3]) << 24);
}

void push_le(std::vector<std::uint8_t>& v, std::uint32_t x, int n)
{
	for (int i = 0; i < n; i++)
		v.push_back(static_cast<std::uint8_t>(x >> (8 * i)));
}

bool is_config_register(std::uint8_t r) noexcept
{
	return r == reg::kParticipantId || r == reg::kHeartbeatTiming ||
	       r == reg::kHeartbeatMonitor || r == reg::kSyncRole || r == reg::kBitRate;
}

// The key register whose access rule a key, salt or ID register follows.
std::uint8_t key_register_of(KeySlotId s) noexcept
{
	switch (s) {
	case KeySlotId::Provisioning:
		return reg::kProvisioningKey;
	case KeySlotId::Integrator:
		return reg::kIntegratorKey;
	case KeySlotId::Seed:
		break;
	}
	return reg::kSeedKey;
}

// The session rule for writing any part of a key (spec §6).
RegResult<void> key_write_allowed(const RegisterStore& st, KeySlotId slot, OpeningKey session)
{
	switch (slot) {
	case KeySlotId::Provisioning:
		if (session != OpeningKey::Zero)
			return tl::unexpected(RegStatus::AccessDenied);
		if (st.key(slot).present)
			return tl::unexpected(RegStatus::AlreadySet);
		// [choice] An unauthenticated session may not add a key to a node that holds one:
		// that would let a keyless attacker install its own hierarchy (registers.h).
		if (st.holds_any_key() && !st.commissioning())
			return tl::unexpected(RegStatus::AccessDenied);
		break;
	case KeySlotId::Integrator:
		if (session != OpeningKey::Provisioning)
			return tl::unexpected(RegStatus::AccessDenied);
		break;
	case KeySlotId::Seed:
		if (session != OpeningKey::Provisioning && session != OpeningKey::Integrator)
			return tl::unexpected(RegStatus::AccessDenied);
		return {};  // re-writable
	}
	if (st.key(slot).present)
		return tl::unexpected(RegStatus::AlreadySet);
	return {};
}

bool valid_key_id(std::uint32_t id) noexcept
{
	return id != kKeyIdInvalid && id != kKeyIdErased;
}

}  // namespace

std::string_view reg_access_name(RegAccess a) noexcept
{
	switch (a) {
	case RegAccess::Read:
		return "r";
	case RegAccess::ReadWrite:
		return "rw";
	case RegAccess::WriteOnly:
		return "w";
	}
	return "?";
}

std::span<const RegisterInfo> register_map() noexcept
{
	return kMap;
}

const RegisterInfo* find_register(std::uint8_t addr) noexcept
{
	for (const auto& r : kMap) {
		if (r.addr == addr)
			return &r;
	}
	return nullptr;
}

Result<const RegisterInfo*> lookup_register(std::string_view s)
{
	for (const auto& r : kMap) {
		if (r.cli_name == s)
			return &r;
	}
	std::string_view digits = s;
	if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X'))
		digits.remove_prefix(2);
	else if (!digits.empty() && (digits.back() == 'h' || digits.back() == 'H'))
		digits.remove_suffix(1);
	unsigned v = 0;
	if (!digits.empty() && digits.size() <= 2) {
		auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, 16);
		if (ec == std::errc() && p == digits.data() + digits.size()) {
			if (const auto* r = find_register(static_cast<std::uint8_t>(v)))
				return r;
			return fail("register '" + std::string(s) +
			            "': no such register address (see docs/registers.md)");
		}
	}
	return fail("register '" + std::string(s) +
	            "': not a register name or hex address (e.g. seed-key, 0x23, 23h)");
}

std::string_view opening_key_name(OpeningKey k) noexcept
{
	switch (k) {
	case OpeningKey::Zero:
		return "zero";
	case OpeningKey::Integrator:
		return "integrator";
	case OpeningKey::Provisioning:
		return "provisioning";
	}
	return "?";
}

std::optional<OpeningKey> opening_key_from_selector(std::uint8_t sel) noexcept
{
	switch (sel) {
	case selector::kZero:
		return OpeningKey::Zero;
	case selector::kIntegrator:
		return OpeningKey::Integrator;
	case selector::kProvisioning:
		return OpeningKey::Provisioning;
	default:
		return std::nullopt;
	}
}

std::string_view reg_status_name(RegStatus s) noexcept
{
	switch (s) {
	case RegStatus::Ok:
		return "ok";
	case RegStatus::UnknownRegister:
		return "unknown_register";
	case RegStatus::AccessDenied:
		return "access_denied";
	case RegStatus::ReadOnly:
		return "read_only";
	case RegStatus::WriteOnly:
		return "write_only";
	case RegStatus::BadLength:
		return "bad_length";
	case RegStatus::BadValue:
		return "bad_value";
	case RegStatus::AlreadySet:
		return "already_set";
	case RegStatus::KeySequence:
		return "key_sequence";
	}
	return "unknown_status";
}

std::string describe_refusal(std::uint8_t r, bool write, RegStatus s)
{
	static constexpr char kHex[] = "0123456789ABCDEF";
	std::string out = write ? "write " : "read ";
	const auto* info = find_register(r);
	out += info ? std::string(info->cli_name) : std::string("register");
	out += " (";
	out += kHex[r >> 4];
	out += kHex[r & 0xF];
	out += "h): ";
	out += reg_status_name(s);
	return out;
}

std::string_view key_slot_name(KeySlotId s) noexcept
{
	switch (s) {
	case KeySlotId::Provisioning:
		return "provisioning";
	case KeySlotId::Integrator:
		return "integrator";
	case KeySlotId::Seed:
		return "seed";
	}
	return "?";
}

std::optional<KeySlotId> key_slot_of_register(std::uint8_t r) noexcept
{
	const std::uint8_t hi = r & 0xF0;
	const std::uint8_t lo = r & 0x0F;
	if ((hi != 0x20 && hi != 0x30 && hi != 0x40) || lo < 1 || lo > 3)
		return std::nullopt;
	return static_cast<KeySlotId>(lo - 1);
}

RegResult<void> validate_config_value(std::uint8_t r, std::span<const std::uint8_t> d)
{
	const auto* info = find_register(r);
	if (!info || !is_config_register(r))
		return tl::unexpected(RegStatus::UnknownRegister);
	if (d.size() != info->size)
		return tl::unexpected(RegStatus::BadLength);
	switch (r) {
	case reg::kParticipantId:
		if (d[0] < 1 || d[0] > 127)
			return tl::unexpected(RegStatus::BadValue);
		break;
	case reg::kHeartbeatTiming:
		if (d[0] > 6)
			return tl::unexpected(RegStatus::BadValue);
		break;
	case reg::kHeartbeatMonitor:
		if (le32(d) == 0xFFFFFFFFu)
			break;
		for (std::uint8_t b : d) {
			if (b > 127)
				return tl::unexpected(RegStatus::BadValue);
		}
		break;
	case reg::kSyncRole:
		if (d[0] > 1)
			return tl::unexpected(RegStatus::BadValue);
		break;
	default:
		// 7Bh: the bit rate codes are device-specific (the reference accepts a manufacturer
		// range); the daemon validates them when it applies the rate.
		break;
	}
	return {};
}

RegisterStore::RegisterStore(DeviceInfo device, RegisterConfig config)
    : config_(config), device_(std::move(device))
{
}

RegResult<std::vector<std::uint8_t>> RegisterStore::read(std::uint8_t r, OpeningKey session) const
{
	const auto* info = find_register(r);
	if (!info)
		return tl::unexpected(RegStatus::UnknownRegister);
	if (info->access == RegAccess::WriteOnly)
		return tl::unexpected(RegStatus::WriteOnly);
	if (session == OpeningKey::Zero) {
		// The Zero-Key session is unauthenticated: discovery and key inventory only.
		static constexpr std::array<std::uint8_t, 9> kZeroReadable = {
		        reg::kStatus,
		        reg::kLastEvent,
		        reg::kCoreVersion,
		        reg::kMappingVersion,
		        reg::kDeviceId,
		        reg::kSerialNumber,
		        reg::kProvisioningKeyId,
		        reg::kIntegratorKeyId,
		        reg::kSeedKeyId};
		if (std::find(kZeroReadable.begin(), kZeroReadable.end(), r) == kZeroReadable.end())
			return tl::unexpected(RegStatus::AccessDenied);
	}
	std::vector<std::uint8_t> v;
	auto str = [&v](const std::string& s) {
		v.assign(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(
		                                        std::min(s.size(), kMaxStringRegister)));
	};
	switch (r) {
	case reg::kProvisioningKeyId:
	case reg::kIntegratorKeyId:
	case reg::kSeedKeyId:
		push_le(v, key(*key_slot_of_register(r)).id, 4);
		break;
	case reg::kStatus:
		v.push_back(status_);
		break;
	case reg::kLastEvent:
		push_le(v, last_event_, 2);
		break;
	case reg::kCoreVersion:
		str(device_.core_version);
		break;
	case reg::kMappingVersion:
		str(device_.mapping_version);
		break;
	case reg::kDeviceId:
		str(device_.device_id);
		break;
	case reg::kSerialNumber:
		v.assign(device_.serial.begin(), device_.serial.end());
		break;
	case reg::kParticipantId:
		v.push_back(config_.participant_id);
		break;
	case reg::kHeartbeatTiming:
		v.push_back(config_.heartbeat_timing);
		break;
	case reg::kHeartbeatMonitor:
		push_le(v, config_.heartbeat_monitor, 4);
		break;
	case reg::kSyncRole:
		v.push_back(config_.sync_role);
		break;
	default:
		return tl::unexpected(RegStatus::UnknownRegister);
	}
	return v;
}

RegResult<void> RegisterStore::check_write_access(std::uint8_t r, OpeningKey session,
                                                  std::size_t length) const
{
	const auto* info = find_register(r);
	if (!info)
		return tl::unexpected(RegStatus::UnknownRegister);
	if (info->access == RegAccess::Read)
		return tl::unexpected(RegStatus::ReadOnly);
	if (auto slot = key_slot_of_register(r)) {
		if (auto ok = key_write_allowed(*this, *slot, session); !ok)
			return ok;
	} else if (r == reg::kManufacturerReset) {
		if (session != OpeningKey::Integrator)
			return tl::unexpected(RegStatus::AccessDenied);
	} else if (session == OpeningKey::Zero) {
		return tl::unexpected(RegStatus::AccessDenied);  // configuration registers
	}
	if (length != info->size)
		return tl::unexpected(RegStatus::BadLength);
	return {};
}

RegResult<void> RegisterStore::write(std::uint8_t r, OpeningKey session,
                                     std::span<const std::uint8_t> d)
{
	if (auto ok = check_write_access(r, session, d.size()); !ok)
		return ok;
	if (key_slot_of_register(r))
		return tl::unexpected(RegStatus::KeySequence);
	if (r == reg::kManufacturerReset) {
		if (le32(d) != kManufacturerResetValue)
			return tl::unexpected(RegStatus::BadValue);
		manufacturer_reset();
		return {};
	}
	if (auto ok = validate_config_value(r, d); !ok)
		return ok;
	switch (r) {
	case reg::kParticipantId:
		config_.participant_id = d[0];
		break;
	case reg::kHeartbeatTiming:
		config_.heartbeat_timing = d[0];
		break;
	case reg::kHeartbeatMonitor:
		config_.heartbeat_monitor = le32(d);
		break;
	case reg::kSyncRole:
		config_.sync_role = d[0];
		break;
	case reg::kBitRate:
		config_.bit_rate = static_cast<std::uint16_t>(d[0] | (d[1] << 8));
		break;
	default:
		return tl::unexpected(RegStatus::UnknownRegister);
	}
	return {};
}

RegResult<void> RegisterStore::apply_key_change(const KeyChange& c, OpeningKey session)
{
	if (auto ok = check_write_access(key_register_of(c.slot), session, 32); !ok)
		return ok;
	return restore_key(c.slot, c.key, c.salt, c.id);
}

RegResult<void> RegisterStore::refer_key(KeySlotId slot, const Key32& key, KeySalt salt,
                                         std::uint32_t id)
{
	if (!valid_key_id(id))
		return tl::unexpected(RegStatus::BadValue);
	KeySlot next;
	next.present = true;
	next.ref = &key;
	next.salt = salt;
	next.id = id;
	keys_[static_cast<std::size_t>(slot)] = std::move(next);
	return {};
}

RegResult<void> RegisterStore::restore_key(KeySlotId slot, const Key32& key, KeySalt salt,
                                           std::uint32_t id)
{
	if (!valid_key_id(id))
		return tl::unexpected(RegStatus::BadValue);
	KeySlot next;
	next.present = true;
	next.key = key.clone();
	next.salt = salt;
	next.id = id;
	// One move of a fully built slot: no observer sees a key without its salt and ID.
	keys_[static_cast<std::size_t>(slot)] = std::move(next);
	return {};
}

void RegisterStore::manufacturer_reset() noexcept
{
	keys_[static_cast<std::size_t>(KeySlotId::Integrator)] = KeySlot{};
	keys_[static_cast<std::size_t>(KeySlotId::Seed)] = KeySlot{};
}

bool operator==(const RegisterStore& a, const RegisterStore& b) noexcept
{
	for (std::size_t i = 0; i < a.keys_.size(); i++) {
		const auto& x = a.keys_[i];
		const auto& y = b.keys_[i];
		if (x.present != y.present || x.salt != y.salt || x.id != y.id ||
		    !ct_equal(x.material().expose(), y.material().expose()))
			return false;
	}
	return a.config_ == b.config_ && a.device_.core_version == b.device_.core_version &&
	       a.device_.mapping_version == b.device_.mapping_version &&
	       a.device_.device_id == b.device_.device_id && a.device_.serial == b.device_.serial &&
	       a.status_ == b.status_ && a.last_event_ == b.last_event_;
}

RegResult<void> KeyWriteStage::add(std::uint8_t r, std::span<const std::uint8_t> d)
{
	const auto slot = key_slot_of_register(r);
	const auto* info = find_register(r);
	if (!slot || !info)
		return tl::unexpected(RegStatus::UnknownRegister);
	if (slot_ && *slot_ != *slot)
		return tl::unexpected(RegStatus::KeySequence);
	if (d.size() != info->size)
		return tl::unexpected(RegStatus::BadLength);
	switch (info->kind) {
	case RegKind::Key:
		key_ = Key32(d.first<32>());
		break;
	case RegKind::Salt: {
		KeySalt s{};
		std::copy(d.begin(), d.end(), s.begin());
		salt_ = s;
		break;
	}
	default: {
		const std::uint32_t id = le32(d);
		if (id == kKeyIdErased) {
			// The invalidate step the reference Configurator writes before a new key
			// (canopens_configurator_python configurator_bootstrap_device). It
			// withdraws an ID staged for this key, so only a valid ID written after it
			// completes the set; the installed key stays in use until that commit.
			id_.reset();
			break;
		}
		if (!valid_key_id(id))
			return tl::unexpected(RegStatus::BadValue);
		id_ = id;
		break;
	}
	}
	slot_ = slot;
	return {};
}

std::optional<KeyChange> KeyWriteStage::take()
{
	if (!complete())
		return std::nullopt;
	KeyChange c;
	c.slot = *slot_;
	c.key = std::move(*key_);
	c.salt = *salt_;
	c.id = *id_;
	clear();
	return c;
}

void KeyWriteStage::clear() noexcept
{
	slot_.reset();
	key_.reset();  // Secret wipes itself
	if (salt_)
		secure_wipe(salt_->data(), salt_->size());
	salt_.reset();
	id_.reset();
}

}  // namespace spsec
