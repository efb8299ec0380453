// SPDX-License-Identifier: Apache-2.0
// The configuration model of spsecd: one YAML file (config/spsecd.yaml is the commented example,
// docs/configuration.md the reference) parsed and validated into a plain Config value.
//
// Contract:
//  - parse_config() builds a new Config or fails; it never hands out a half-valid object, so a
//    reload (SIGHUP) either applies a whole new configuration or keeps the old one.
//  - Every problem is reported, not only the first: the Error's context holds one line per
//    problem, each naming the key path, the offending value, the line in the file and the reason:
//      spsecd.yaml:7: heartbeat.cycle: "3s" is not a heartbeat cycle (one of off, 8s, 4s, 2s,
//      1s, 500ms, 250ms)
//  - Unknown keys are errors, with the closest known key suggested ("did you mean ...").
//  - Defaults live only in this file (struct member initialisers below), never in the daemon.
//
// CAN ID notation (secured_ids, plaintext_ids, transmit_ids), the same digit-count rule as
// can-utils' cansend/candump:
//   "0x181"       11-bit (standard) ID: "0x" and 1 to 3 hex digits, value <= 0x7FF
//   "0x00000181"  29-bit (extended) ID: "0x" and exactly 8 hex digits, value <= 0x1FFFFFFF
// Anything else (4 to 7 digits, no "0x", a value out of range) is an error, so an ID is never
// silently read with the wrong frame format. YAML may leave them unquoted (0x181).
#pragma once

#include <array>
#include <chrono>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/aead.h"
#include "core/gateway_rules.h"
#include "core/stamp.h"
#include "core/timestamp.h"
#include "spsec/abi.h"
#include "spsec/result.h"

namespace spsec {

// A data-plane CAN ID with its frame format.
struct CanId {
	std::uint32_t id = 0;   // 11 bits (standard) or 29 bits (extended), without flag bits
	bool extended = false;  // true: 29-bit ID (CAN_EFF_FLAG on the wire)

	// The ID as the kernel and the BPF policy map store it (spsec_policy_key.can_id):
	// id | CAN_EFF_FLAG (0x80000000) for extended IDs, id for standard IDs.
	[[nodiscard]] constexpr std::uint32_t kernel_id() const noexcept
	{
		return extended ? (id | 0x80000000u) : id;
	}
	// The 16 bits that enter the data-plane nonce (spec §4).
	[[nodiscard]] constexpr std::uint16_t nonce_bits() const noexcept
	{
		return static_cast<std::uint16_t>(id & 0xFFFFu);
	}

	friend constexpr auto operator<=>(const CanId&, const CanId&) = default;
};

// Parses the notation above. Errors name the text and the rule it breaks.
[[nodiscard]] Result<CanId> parse_can_id(std::string_view text);
// "0x181" (3 digits) or "0x00000181" (8 digits): parse_can_id(format_can_id(x)) == x.
[[nodiscard]] std::string format_can_id(CanId id);

// Sender rules (key `senders`; core/sender_rules.h has the model). A rule names IDs and the
// local senders allowed to send them; IDs no rule selects may be sent by any local socket.
//
// Which IDs a rule selects:
//   "0x123"                 one ID (3 or 8 hex digits, as everywhere in the config)
//   "0x120-0x12F"           a range, both ends in the same format, low <= high
//   "0x120/0x7F0"           value/mask: every ID with (id & mask) == value; the value has no
//                           bit outside the mask, both in the same format
struct IdSelector {
	enum class Kind : std::uint8_t { One, Range, Mask };
	Kind kind = Kind::One;
	CanId lo;                // the ID, the range's low end, or the mask's value
	CanId hi;                // the range's high end (== lo for One)
	std::uint32_t mask = 0;  // Mask only
	std::string text;        // as written

	[[nodiscard]] bool matches(CanId id) const noexcept;
	friend bool operator==(const IdSelector&, const IdSelector&) = default;
};
// Errors name the text and the rule it breaks.
[[nodiscard]] Result<IdSelector> parse_id_selector(std::string_view text);

struct SenderRule {
	int line = 0;                       // 1-based line of the rule in the config file
	std::vector<IdSelector> selectors;  // as written
	std::vector<CanId> ids;             // the secured transmit IDs selected, sorted
	std::vector<std::string> units;     // systemd unit names ("can-app.service")
	std::vector<std::string> cgroups;   // cgroup v2 paths from the root ("/can.slice/app")
	std::vector<std::string> users;     // decimal uid or user name
	std::vector<std::string> groups;    // decimal gid or group name
	friend bool operator==(const SenderRule&, const SenderRule&) = default;
};

// Register 61h codes (spec §5).
enum class HeartbeatCycle : std::uint8_t {
	Off = 0,
	S8 = 1,
	S4 = 2,
	S2 = 3,
	S1 = 4,
	Ms500 = 5,
	Ms250 = 6,
};
// The cycle length; zero for Off.
[[nodiscard]] std::chrono::milliseconds heartbeat_period(HeartbeatCycle c) noexcept;
// "off", "8s", ..., "250ms": the config-file spelling.
[[nodiscard]] std::string_view heartbeat_cycle_name(HeartbeatCycle c) noexcept;

enum class DefaultAction : std::uint32_t {
	Drop = SPSEC_DEFAULT_DROP,
	Pass = SPSEC_DEFAULT_PASS,
};

// `attach`: how the data plane's programs go onto the interface (userspace/bpf/tc_attachment.h).
// Auto probes the kernel: tcx links where it has them (6.6+), tc filters otherwise.
enum class AttachPref : std::uint8_t { Auto, Tc, Tcx };

struct HeartbeatConfig {
	HeartbeatCycle cycle = HeartbeatCycle::S1;  // heartbeat.cycle
	// heartbeat.monitor: participants whose heartbeat this node watches (event EF00h + pp when
	// missing for 2.5 cycles). monitor_all == true means "all" (register 62h = FFFFFFFFh) and
	// `monitor` is then empty. At most 4 IDs, each 1..127, never the node's own ID.
	std::vector<std::uint8_t> monitor;
	bool monitor_all = false;

	// The value of register 62h: FFFFFFFFh for all, else the IDs packed little-endian one per
	// byte (first ID in the low byte), unused bytes 00h.
	[[nodiscard]] std::uint32_t monitor_register() const noexcept;
};

// All durations in milliseconds on the monotonic clock.
struct Timeouts {
	// Waiting: interval between Parameter Authentication requests (spec §5: 2 s).
	std::chrono::milliseconds pa_retry{2000};
	// Waiting: a PA response arriving later than this after its request is discarded (spec
	// hardening: the RTT bounds the error of T = tim + RTT/2). <= pa_retry.
	std::chrono::milliseconds pa_max_rtt{20};
	// Secure/Warning: no verifiable Sync broadcast for this long -> Security Abort (FE0Fh).
	std::chrono::milliseconds sync_abort{30000};
	// Warning: hold time; with no new Security Event for this long -> back to Secure.
	std::chrono::milliseconds warning_hold{5000};
	// [choice] Warning sustained this long in total -> Security Abort. > warning_hold.
	std::chrono::milliseconds warning_abort{15000};
	// Configurator session: whole session limit.
	std::chrono::milliseconds session{10000};
	// Configurator session: limit for one response. < session.
	std::chrono::milliseconds response{100};
};

struct Config {
	std::string interface;            // CAN FD netdev, 1..15 chars (IFNAMSIZ - 1)
	std::uint8_t participant_id = 0;  // 1..127 (register 60h)
	bool sync_role = false;           // `sync`: this node is the network's Sync (register 63h)
	AeadKind aead = AeadKind::AesGcm;
	StampMode mode = StampMode::Encrypt;  // encrypt | auth-only
	std::uint64_t data_bitrate = 0;       // CAN FD data-phase bit rate, bit/s
	std::uint64_t tick_ns = 0;  // derived: tick_ns_from_bitrate() (timestamp.h), integer
	std::uint32_t acceptance_window = kDefaultWindow;  // W in ticks, 1..SPSEC_MAX_WINDOW
	HeartbeatConfig heartbeat;
	// Data-plane policy. Each list is sorted and free of duplicates after parsing.
	std::vector<CanId> secured_ids;    // frames carry a Security Stamp
	std::vector<CanId> plaintext_ids;  // frames pass in clear both ways
	std::vector<CanId> transmit_ids;   // this node sends them: seen from the bus = injection
	DefaultAction default_action = DefaultAction::Drop;  // IDs in no list
	// Who may send which secured transmit IDs; every ID in at most one rule. Empty: any
	// local socket may send every transmit ID.
	std::vector<SenderRule> senders;
	std::string key_store;  // absolute path of the key store (required)
	Timeouts timeouts;
	std::string control_socket;            // absolute path; default /run/spsec/<interface>.sock
	std::string pin_dir;                   // absolute path; default SPSEC_PIN_ROOT/<interface>
	AttachPref attach = AttachPref::Auto;  // `attach`; SPSEC_ATTACH in the environment wins
	GatewayConfig gateway;                 // `gateway`: empty unless this node is a gateway
};

// Every YAML file spsec reads (configuration, provisioning plan) is at most kMaxYamlBytes and is
// checked with yaml_too_deep() first: yaml-cpp recurses once per nesting level and has no depth
// limit (CVE-2017-5950). It finds flow nesting ("[[[[..."), block nesting by indentation (more
// than 4 * kMaxYamlNesting columns) and compact block nesting ("- - - x", "? ? x") deeper than
// kMaxYamlNesting; quoted scalars and comments are skipped roughly (a real file nests two or
// three levels). Returns the 0-based line of the first place too deep, or nullopt.
inline constexpr int kMaxYamlNesting = 16;
inline constexpr std::size_t kMaxYamlBytes = std::size_t{1} << 20;
[[nodiscard]] std::optional<int> yaml_too_deep(std::string_view text);

// Parses and validates YAML text. `source_name` prefixes every message (a file name, or
// "<string>"). Errors: YAML syntax, a missing required key, an unknown key, a wrong type, a bad
// value, an inconsistent combination (see docs/configuration.md). All problems are reported in
// one Error, one per line.
[[nodiscard]] Result<Config> parse_config(std::string_view yaml_text,
                                          std::string_view source_name = "<string>");

// Reads `path` and parses it. Errors: the file cannot be read (with errno), plus those of
// parse_config.
[[nodiscard]] Result<Config> load_config(const std::string& path);

// One known configuration key, for documentation and did-you-mean suggestions.
struct ConfigKeyInfo {
	std::string_view path;  // dotted path: "heartbeat.cycle"
	bool required;
	std::string_view default_value;  // as written in YAML; empty when required
	std::string_view summary;        // one line
};
// Every key parse_config accepts, in documentation order. docs/configuration.md lists them all
// (a unit test checks it).
[[nodiscard]] std::span<const ConfigKeyInfo> config_keys() noexcept;

// The closest of `candidates` to `word` by edit distance, or "" when none is close enough to be a
// plausible typo.
[[nodiscard]] std::string_view closest_match(std::string_view word,
                                             std::span<const std::string_view> candidates);

}  // namespace spsec
