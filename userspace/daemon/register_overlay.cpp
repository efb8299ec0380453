// SPDX-License-Identifier: Apache-2.0
#include "daemon/register_overlay.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/atomic_file.h"
#include "common/logger.h"
#include "common/settings_file.h"
#include "core/hex.h"
#include "core/messages.h"

#ifndef SPSEC_VERSION
#define SPSEC_VERSION "0"
#endif

namespace spsec {

namespace {

struct Field {
	std::string_view name;
	std::uint8_t reg;
};
constexpr std::array<Field, 5> kFields = {{
        {"participant_id", reg::kParticipantId},
        {"heartbeat_timing", reg::kHeartbeatTiming},
        {"heartbeat_monitor", reg::kHeartbeatMonitor},
        {"sync_role", reg::kSyncRole},
        {"bit_rate", reg::kBitRate},
}};

std::optional<std::uint32_t> parse_u32(std::string_view v) noexcept
{
	int base = 10;
	if (v.size() > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
		v.remove_prefix(2);
		base = 16;
	}
	std::uint32_t n = 0;
	auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n, base);
	if (ec != std::errc{} || p != v.data() + v.size() || v.empty())
		return std::nullopt;
	return n;
}

}  // namespace

void RegisterOverlay::record(std::uint8_t r, const RegisterConfig& c) noexcept
{
	switch (r) {
	case reg::kParticipantId:
		participant_id = c.participant_id;
		break;
	case reg::kHeartbeatTiming:
		heartbeat_timing = c.heartbeat_timing;
		break;
	case reg::kHeartbeatMonitor:
		heartbeat_monitor = c.heartbeat_monitor;
		break;
	case reg::kSyncRole:
		sync_role = c.sync_role;
		break;
	case reg::kBitRate:
		bit_rate = c.bit_rate;
		break;
	default:
		break;
	}
}

RegisterConfig RegisterOverlay::over(RegisterConfig c) const noexcept
{
	c.participant_id = participant_id.value_or(c.participant_id);
	c.heartbeat_timing = heartbeat_timing.value_or(c.heartbeat_timing);
	c.heartbeat_monitor = heartbeat_monitor.value_or(c.heartbeat_monitor);
	c.sync_role = sync_role.value_or(c.sync_role);
	c.bit_rate = bit_rate.value_or(c.bit_rate);
	return c;
}

Result<RegisterOverlay> parse_register_overlay(std::string_view text, std::string_view origin)
{
	RegisterOverlay o;
	std::array<bool, kFields.size()> seen{};
	auto setting = [&](std::string_view name, std::string_view value) -> Result<void> {
		auto f = std::find_if(kFields.begin(), kFields.end(),
		                      [&](const Field& x) { return x.name == name; });
		if (f == kFields.end())
			return fail(cat("unknown name '", name,
			                "' (participant_id, heartbeat_timing, heartbeat_monitor, "
			                "sync_role, bit_rate)"));
		auto& dup = seen[static_cast<std::size_t>(f - kFields.begin())];
		if (dup)
			return fail(cat(name, " given twice"));
		dup = true;
		auto n = parse_u32(value);
		const RegisterInfo* info = find_register(f->reg);
		if (!n || (info->size < 4 && *n >> (8 * info->size) != 0))
			return fail(cat(name, ": '", value, "' is not a ", info->size * 8,
			                "-bit number (decimal or 0x hex)"));
		std::array<std::uint8_t, 4> le{};
		for (std::size_t i = 0; i < 4; i++)
			le[i] = static_cast<std::uint8_t>(*n >> (8 * i));
		if (auto v = validate_config_value(f->reg, std::span(le).first(info->size)); !v)
			return fail(cat(name, ": '", value, "' is not a valid value of ",
			                info->title, " (", hex32(f->reg).substr(8),
			                "h): ", reg_status_name(v.error())));
		RegisterConfig c;
		c.participant_id = le[0];
		c.heartbeat_timing = le[0];
		c.sync_role = le[0];
		c.heartbeat_monitor = *n;
		c.bit_rate = static_cast<std::uint16_t>(*n);
		o.record(f->reg, c);
		return {};
	};
	if (auto r = parse_settings(text, origin, setting); !r)
		return tl::unexpected(r.error());
	return o;
}

std::string format_register_overlay(const RegisterOverlay& o)
{
	std::ostringstream s;
	s << "# spsec configuration registers written by a Configurator (spsecd keeps this file;\n"
	     "# delete it while spsecd is stopped to return to the YAML values)\n"
	     "format = 1\n";
	if (o.participant_id)
		s << "participant_id = " << unsigned{*o.participant_id} << "\n";
	if (o.heartbeat_timing)
		s << "heartbeat_timing = " << unsigned{*o.heartbeat_timing} << "\n";
	if (o.heartbeat_monitor)
		s << "heartbeat_monitor = " << hex32(*o.heartbeat_monitor) << "\n";
	if (o.sync_role)
		s << "sync_role = " << unsigned{*o.sync_role} << "\n";
	if (o.bit_rate)
		s << "bit_rate = " << hex32(*o.bit_rate) << "\n";
	return s.str();
}

Result<RegisterOverlay> load_register_overlay(const std::string& path)
{
	std::ifstream in(path);
	if (!in) {
		if (errno == ENOENT)
			return RegisterOverlay{};
		return fail_errno(errno, cat("opening ", path));
	}
	std::stringstream ss;
	ss << in.rdbuf();
	if (in.bad())
		return fail(cat("reading ", path, " failed"));
	return parse_register_overlay(ss.str(), path);
}

Result<void> save_register_overlay(const std::string& path, const RegisterOverlay& o)
{
	return write_file_atomic(path, format_register_overlay(o), 0600);
}

RegisterConfig register_config_of(const Config& c) noexcept
{
	RegisterConfig r;
	r.participant_id = c.participant_id;
	r.heartbeat_timing = static_cast<std::uint8_t>(c.heartbeat.cycle);
	r.heartbeat_monitor = c.heartbeat.monitor_register();
	r.sync_role = c.sync_role ? 1 : 0;
	return r;
}

void apply_live_registers(const RegisterOverlay& o, Config& cfg)
{
	if (o.heartbeat_timing)
		cfg.heartbeat.cycle = static_cast<HeartbeatCycle>(*o.heartbeat_timing);
	if (o.heartbeat_monitor) {
		cfg.heartbeat.monitor.clear();
		cfg.heartbeat.monitor_all = *o.heartbeat_monitor == 0xFFFFFFFFu;
		if (!cfg.heartbeat.monitor_all) {
			for (unsigned i = 0; i < 4; i++) {
				auto pp =
				        static_cast<std::uint8_t>(*o.heartbeat_monitor >> (8 * i));
				if (pp != 0 && pp != cfg.participant_id &&
				    std::count(cfg.heartbeat.monitor.begin(),
				               cfg.heartbeat.monitor.end(), pp) == 0)
					cfg.heartbeat.monitor.push_back(pp);
			}
		}
	}
}

std::vector<std::string_view> apply_register_overlay(const RegisterOverlay& o, Config& cfg)
{
	std::vector<std::string_view> overridden;
	if (o.participant_id) {
		cfg.participant_id = *o.participant_id;
		overridden.push_back("participant_id");
	}
	if (o.sync_role) {
		cfg.sync_role = *o.sync_role != 0;
		overridden.push_back("sync");
	}
	if (o.heartbeat_timing)
		overridden.push_back("heartbeat.cycle");
	if (o.heartbeat_monitor)
		overridden.push_back("heartbeat.monitor");
	apply_live_registers(o, cfg);  // after 60h: the monitor list leaves out the new own ID
	return overridden;
}

DeviceInfo local_device_info()
{
	DeviceInfo d;
	d.core_version = "spsec-linux " SPSEC_VERSION;
	d.mapping_version = "spsec-canfd registers 1";
	char host[65] = {};
	if (::gethostname(host, sizeof host - 1) != 0)
		std::strcpy(host, "unknown");
	d.device_id = cat("spsec-linux ", host);
	std::ifstream in("/etc/machine-id");
	std::string line;
	if (in && std::getline(in, line)) {
		auto bytes = parse_hex(line);
		if (bytes && bytes->size() == d.serial.size())
			std::copy(bytes->begin(), bytes->end(), d.serial.begin());
	}
	return d;
}

}  // namespace spsec
