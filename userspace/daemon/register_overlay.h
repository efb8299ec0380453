// SPDX-License-Identifier: Apache-2.0
// The configuration registers a Configurator wrote (spec §6: 60h-63h, 7Bh), kept by spsecd in
// its state directory (<state_dir>/<interface>.registers) so that they survive restarts. The
// YAML file is the operator's; a value written over the bus overrides it from then on (the
// status shows both), and deleting the file returns the node to its YAML values.
//
// When a written value takes effect:
//   61h heartbeat timing, 62h heartbeat monitor   when the session ends (Exit Config)
//   60h participant ID, 63h Sync role             at the next start of spsecd
//   7Bh bit rate                                  recorded only: the interface's bit rates are
//                                                 the OS's (ip link / spsec-setup)
// A read in the same session already returns the written value.
//
// File format 1 (text, one `name = value` per line, '#' comments, written atomically by spsecd
// with mode 0600; values are not secret, so errors quote them):
//   format = 1
//   participant_id = 5          60h, 1..127
//   heartbeat_timing = 4        61h, 0..6
//   heartbeat_monitor = 0x00000601   62h, four IDs (0 unused) or 0xffffffff = all
//   sync_role = 0               63h, 0 or 1
//   bit_rate = 0x0402           7Bh
// Only registers that were written appear.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/registers.h"
#include "spsec/result.h"

namespace spsec {

struct RegisterOverlay {
	std::optional<std::uint8_t> participant_id;      // 60h
	std::optional<std::uint8_t> heartbeat_timing;    // 61h
	std::optional<std::uint32_t> heartbeat_monitor;  // 62h
	std::optional<std::uint8_t> sync_role;           // 63h
	std::optional<std::uint16_t> bit_rate;           // 7Bh

	[[nodiscard]] bool empty() const noexcept
	{
		return !participant_id && !heartbeat_timing && !heartbeat_monitor && !sync_role &&
		       !bit_rate;
	}
	// Takes register `reg`'s value from `c` (after a write of `reg`). Other registers are
	// ignored.
	void record(std::uint8_t reg, const RegisterConfig& c) noexcept;
	// `c` with the written values put over it.
	[[nodiscard]] RegisterConfig over(RegisterConfig c) const noexcept;

	friend bool operator==(const RegisterOverlay&, const RegisterOverlay&) = default;
};

// Parses the file text; `origin` (the path) prefixes errors, which name the line and the value.
// Errors: syntax, unknown or duplicate name, a value out of the register's range, a missing or
// unsupported format line.
[[nodiscard]] Result<RegisterOverlay> parse_register_overlay(std::string_view text,
                                                             std::string_view origin);
[[nodiscard]] std::string format_register_overlay(const RegisterOverlay& o);
// A missing file is an empty overlay. Errors: unreadable file, or those of parse.
[[nodiscard]] Result<RegisterOverlay> load_register_overlay(const std::string& path);
// write_file_atomic with mode 0600.
[[nodiscard]] Result<void> save_register_overlay(const std::string& path, const RegisterOverlay& o);

// The register view of a configuration (60h-63h; 7Bh is not in the YAML and reads as 0).
[[nodiscard]] RegisterConfig register_config_of(const Config& c) noexcept;

// Puts the heartbeat registers (61h, 62h) of `o` into `cfg`. The node's own ID is left out of
// the monitor list (the YAML refuses it; a node never watches itself).
void apply_live_registers(const RegisterOverlay& o, Config& cfg);
// apply_live_registers plus 60h and 63h: the start-up configuration. Returns the names of the
// YAML keys the overlay overrode ("participant_id", ...), for the log.
std::vector<std::string_view> apply_register_overlay(const RegisterOverlay& o, Config& cfg);

// The identification registers (58h, 59h, 81h, 82h) of this host: the build's version, the
// register map version, "spsec-linux <hostname>" and the 128-bit /etc/machine-id (zeros when
// it cannot be read).
[[nodiscard]] DeviceInfo local_device_info();

}  // namespace spsec
