// SPDX-License-Identifier: Apache-2.0
#include "core/config.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "core/gateway_rules.h"
#include "core/hex.h"
#include "core/sender_rules.h"

namespace spsec {

namespace {

constexpr std::uint32_t kCtrlBit = SPSEC_CTRL_BIT;
constexpr std::size_t kMaxIfnameLen = 15;  // IFNAMSIZ - 1
constexpr std::size_t kMaxMonitor = 4;     // register 62h holds 4 IDs
// Both policy generations must fit the BPF map at once during a reload.
constexpr std::size_t kMaxPolicyIds = SPSEC_POLICY_MAX / 2;

constexpr std::array<ConfigKeyInfo, 26> kKeys{{
        {"interface", true, "", "CAN FD network interface, at most 15 characters"},
        {"participant_id", true, "", "this node's Participant ID, 1..127 (register 60h)"},
        {"sync", false, "off", "on: this node is the network's Sync (register 63h)"},
        {"aead", true, "", "aes-gcm | chacha20-poly1305 | ascon, one per network"},
        {"mode", false, "encrypt", "encrypt | auth-only, one per network"},
        {"data_bitrate", true, "", "CAN FD data-phase bit rate in bit/s (tick = 10^11 / rate ns)"},
        {"acceptance_window", false, "150", "acceptance window W in ticks, 1..2047"},
        {"heartbeat", false, "", "secure heartbeat settings (a map)"},
        {"heartbeat.cycle", false, "1s", "off | 8s | 4s | 2s | 1s | 500ms | 250ms (register 61h)"},
        {"heartbeat.monitor", false, "[]", "up to 4 Participant IDs, or \"all\" (register 62h)"},
        {"secured_ids", false, "[]", "CAN IDs whose frames carry a Security Stamp"},
        {"plaintext_ids", false, "[]", "CAN IDs allowed in clear, both directions"},
        {"transmit_ids", false, "[]", "CAN IDs this node sends (from the bus: injection)"},
        {"default_action", false, "drop", "drop | pass, for IDs in no list"},
        {"senders", false, "[]",
         "rules: which local units, cgroups, users, groups may send which transmit IDs"},
        {"key_store", true, "", "absolute path of the key store"},
        {"timeouts", false, "", "protocol timers (a map of durations)"},
        {"timeouts.pa_retry", false, "2s", "Waiting: Parameter Authentication request interval"},
        {"timeouts.pa_max_rtt", false, "20ms",
         "Waiting: PA responses with a longer RTT are discarded"},
        {"timeouts.sync_abort", false, "30s", "no verifiable Sync broadcast -> Security Abort"},
        {"timeouts.warning_hold", false, "5s", "Warning: quiet time before returning to Secure"},
        {"timeouts.warning_abort", false, "15s", "Warning sustained this long -> Security Abort"},
        {"timeouts.session", false, "10s", "Configurator session limit"},
        {"timeouts.response", false, "100ms", "Configurator session response limit"},
        {"gateway", false, "", "plain segments and forwarding rules (docs/gateway.md)"},
        {"attach", false, "auto", "auto | tc | tcx: how the data plane attaches (docs/kernels.md)"},
}};
// Two more keys with computed defaults are appended in config_keys().
constexpr std::array<ConfigKeyInfo, 2> kPathKeys{{
        {"control_socket", false, "/run/spsec/<interface>.sock", "spsecctl's Unix socket"},
        {"pin_dir", false, "/sys/fs/bpf/spsec/<interface>", "bpffs directory of pinned maps"},
}};

const std::array<ConfigKeyInfo, kKeys.size() + kPathKeys.size()> kAllKeys = [] {
	std::array<ConfigKeyInfo, kKeys.size() + kPathKeys.size()> all{};
	std::copy(kKeys.begin(), kKeys.end(), all.begin());
	std::copy(kPathKeys.begin(), kPathKeys.end(), all.begin() + kKeys.size());
	return all;
}();

// Keys directly under `prefix` ("" for the top level), for unknown-key suggestions.
std::vector<std::string_view> child_keys(std::string_view prefix)
{
	std::vector<std::string_view> out;
	for (const auto& k : kAllKeys) {
		std::string_view p = k.path;
		if (prefix.empty()) {
			if (p.find('.') == std::string_view::npos)
				out.push_back(p);
		} else if (p.size() > prefix.size() + 1 && p.substr(0, prefix.size()) == prefix &&
		           p[prefix.size()] == '.') {
			out.push_back(p.substr(prefix.size() + 1));
		}
	}
	return out;
}

// A value quoted for an error message: printable ASCII only, at most 40 characters.
std::string quote(std::string_view v)
{
	return quote_printable(v);
}

std::optional<std::uint64_t> parse_decimal(std::string_view s)
{
	if (s.empty() || s.size() > 19)
		return std::nullopt;
	std::uint64_t v = 0;
	const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 10);
	if (ec != std::errc() || p != s.data() + s.size())
		return std::nullopt;
	return v;
}

std::string lower(std::string_view s)
{
	std::string out(s);
	std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
		return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
	});
	return out;
}

std::size_t edit_distance(std::string_view a, std::string_view b)
{
	std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
	for (std::size_t j = 0; j <= b.size(); j++)
		prev[j] = j;
	for (std::size_t i = 1; i <= a.size(); i++) {
		cur[0] = i;
		for (std::size_t j = 1; j <= b.size(); j++) {
			const std::size_t subst = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
			cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, subst});
		}
		std::swap(prev, cur);
	}
	return prev[b.size()];
}

constexpr int kMaxNesting = kMaxYamlNesting;
constexpr std::size_t kMaxConfigBytes = kMaxYamlBytes;

}  // namespace

std::optional<int> yaml_too_deep(std::string_view text)
{
	int depth = 0, line = 0;
	int compact = 0;         // "- - - x" and "? ? x" nest block collections on one line
	std::size_t indent = 0;  // leading spaces of the current line
	bool leading = true;
	char quote_ch = 0;
	bool comment = false;
	char prev = '\n';  // the previous character outside quotes
	for (std::size_t i = 0; i < text.size(); i++) {
		const char c = text[i];
		if (c == '\n') {
			line++;
			comment = false;
			compact = 0;
			indent = 0;
			leading = true;
		} else if (leading && c == ' ' && !quote_ch) {
			// Block nesting by indentation; a real configuration indents a few columns.
			if (++indent > 4 * kMaxNesting)
				return line;
		} else {
			leading = false;
		}
		if (quote_ch) {
			if (quote_ch == '"' && c == '\\')
				i++;  // escaped character
			else if (c == quote_ch)
				quote_ch = 0;
			continue;
		}
		if (comment)
			continue;
		// Quotes open a scalar only at the start of a token, as in YAML ("don't" is plain).
		const bool token_start = prev == '\n' || prev == ' ' || prev == '\t' ||
		                         prev == '[' || prev == '{' || prev == ',' || prev == ':' ||
		                         prev == '-';
		const char next = i + 1 < text.size() ? text[i + 1] : '\n';
		if ((c == '-' || c == '?') && token_start && (next == ' ' || next == '\n')) {
			if (++compact > kMaxNesting)
				return line;
		}
		if ((c == '"' || c == '\'') && token_start)
			quote_ch = c;
		else if (c == '#' && (token_start || prev == '\n'))
			comment = true;
		else if (c == '[' || c == '{') {
			if (++depth > kMaxNesting)
				return line;
		} else if ((c == ']' || c == '}') && depth > 0)
			depth--;
		prev = c;
	}
	return std::nullopt;
}

namespace {

class Parser {
public:
	explicit Parser(std::string_view source) : source_(source) {}

	Result<Config> run(std::string_view text);

private:
	void error(const YAML::Node& n, std::string_view path, const std::string& why);
	void error_at(int line, std::string_view path, const std::string& why);

	std::optional<std::string> scalar(const YAML::Node& n, std::string_view path);
	std::optional<std::uint64_t> uint_in(const YAML::Node& n, std::string_view path,
	                                     std::uint64_t lo, std::uint64_t hi);
	std::optional<bool> on_off(const YAML::Node& n, std::string_view path);
	std::optional<std::chrono::milliseconds> duration(const YAML::Node& n,
	                                                  std::string_view path);
	std::optional<std::string> abs_path(const YAML::Node& n, std::string_view path);
	std::vector<CanId> id_list(const YAML::Node& n, std::string_view path);
	void heartbeat(const YAML::Node& n, Config& c);
	void timeouts(const YAML::Node& n, Config& c);
	void bitrate(const YAML::Node& n, Config& c);
	void senders(const YAML::Node& n, Config& c);
	void validate_senders(Config& c);
	void validate_senders_vs_gateway(const Config& c);
	// Iterates a map, reporting duplicate and unknown keys; calls f(key, value) for known ones.
	template <class F> void each_key(const YAML::Node& map, std::string_view prefix, F&& f);
	void validate(Config& c, const YAML::Node& root);

	std::string source_;
	std::vector<std::string> errors_;
	std::set<std::string> seen_;  // full paths present in the file
};

void Parser::error(const YAML::Node& n, std::string_view path, const std::string& why)
{
	error_at(n.IsDefined() ? n.Mark().line : -1, path, why);
}

void Parser::error_at(int line, std::string_view path, const std::string& why)
{
	std::string msg = source_;
	if (line >= 0)
		msg += ":" + std::to_string(line + 1);
	msg += ": ";
	if (!path.empty())
		msg += std::string(path) + ": ";
	msg += why;
	errors_.push_back(std::move(msg));
}

std::optional<std::string> Parser::scalar(const YAML::Node& n, std::string_view path)
{
	if (!n.IsScalar()) {
		error(n, path,
		      n.IsNull() ? "has no value"
		                 : std::string("must be a single value, not a ") +
		                           (n.IsSequence() ? "list" : "map"));
		return std::nullopt;
	}
	return n.Scalar();
}

std::optional<std::uint64_t> Parser::uint_in(const YAML::Node& n, std::string_view path,
                                             std::uint64_t lo, std::uint64_t hi)
{
	const auto s = scalar(n, path);
	if (!s)
		return std::nullopt;
	const auto v = parse_decimal(*s);
	if (!v || *v < lo || *v > hi) {
		error(n, path,
		      quote(*s) + " is not " + (v ? "in range" : "a decimal integer") + " (" +
		              std::to_string(lo) + ".." + std::to_string(hi) + ")");
		return std::nullopt;
	}
	return v;
}

std::optional<bool> Parser::on_off(const YAML::Node& n, std::string_view path)
{
	const auto s = scalar(n, path);
	if (!s)
		return std::nullopt;
	const auto l = lower(*s);
	if (l == "on" || l == "true" || l == "yes")
		return true;
	if (l == "off" || l == "false" || l == "no")
		return false;
	error(n, path, quote(*s) + " is not on or off");
	return std::nullopt;
}

std::optional<std::chrono::milliseconds> Parser::duration(const YAML::Node& n,
                                                          std::string_view path)
{
	const auto s = scalar(n, path);
	if (!s)
		return std::nullopt;
	std::string_view v = *s;
	std::uint64_t scale = 0;
	std::string_view digits;
	if (v.size() > 2 && v.substr(v.size() - 2) == "ms") {
		scale = 1;
		digits = v.substr(0, v.size() - 2);
	} else if (v.size() > 3 && v.substr(v.size() - 3) == "min") {
		scale = 60000;
		digits = v.substr(0, v.size() - 3);
	} else if (v.size() > 1 && v.back() == 's') {
		scale = 1000;
		digits = v.substr(0, v.size() - 1);
	}
	const auto num = scale ? parse_decimal(digits) : std::nullopt;
	// One day is far beyond any protocol timer; the bound also keeps the product in range.
	if (!num || *num == 0 || *num * scale > 86400000) {
		error(n, path,
		      quote(*s) + " is not a duration (a positive whole number with unit ms, s or "
		                  "min, at most one day: 100ms, 2s, 1min)");
		return std::nullopt;
	}
	return std::chrono::milliseconds(static_cast<std::int64_t>(*num * scale));
}

std::optional<std::string> Parser::abs_path(const YAML::Node& n, std::string_view path)
{
	const auto s = scalar(n, path);
	if (!s)
		return std::nullopt;
	if (s->empty() || s->front() != '/' || s->size() > 4000 ||
	    s->find('\0') != std::string::npos) {
		error(n, path, quote(*s) + " is not an absolute path");
		return std::nullopt;
	}
	// ".." would let a path escape the directory it appears to name.
	if (s->find("/../") != std::string::npos || s->ends_with("/..")) {
		error(n, path, quote(*s) + " must not contain \"..\" components");
		return std::nullopt;
	}
	return s;
}

std::vector<CanId> Parser::id_list(const YAML::Node& n, std::string_view path)
{
	std::vector<CanId> out;
	if (n.IsNull())
		return out;
	if (!n.IsSequence()) {
		error(n, path, "must be a list of CAN IDs, e.g. [0x181, 0x00001234]");
		return out;
	}
	std::map<CanId, int> lines;
	for (std::size_t i = 0; i < n.size(); i++) {
		const YAML::Node item = n[i];
		const std::string item_path = std::string(path) + "[" + std::to_string(i) + "]";
		const auto s = scalar(item, item_path);
		if (!s)
			continue;
		auto id = parse_can_id(*s);
		if (!id) {
			error(item, item_path, id.error().context);
			continue;
		}
		if (id->extended && (id->id & kCtrlBit)) {
			error(item, item_path,
			      quote(*s) +
			              " has bit 25 set: 29-bit IDs with bit 25 belong to the SPsec "
			              "control plane");
			continue;
		}
		const auto [it, fresh] = lines.emplace(*id, item.Mark().line);
		if (!fresh) {
			error(item, item_path,
			      quote(*s) + " is listed twice (first on line " +
			              std::to_string(it->second + 1) + ")");
			continue;
		}
		out.push_back(*id);
	}
	if (out.size() > kMaxPolicyIds)
		error(n, path,
		      "lists " + std::to_string(out.size()) + " IDs, at most " +
		              std::to_string(kMaxPolicyIds) + " are supported");
	std::sort(out.begin(), out.end());
	return out;
}

template <class F> void Parser::each_key(const YAML::Node& map, std::string_view prefix, F&& f)
{
	const auto known = child_keys(prefix);
	std::set<std::string> here;
	for (auto it = map.begin(); it != map.end(); ++it) {
		const YAML::Node key = it->first;
		const std::string name = key.IsScalar() ? key.Scalar() : std::string("?");
		const std::string full = prefix.empty() ? name : std::string(prefix) + "." + name;
		if (!key.IsScalar()) {
			error(key, prefix, "keys must be plain names");
			continue;
		}
		if (!here.insert(name).second) {
			error(key, full, "appears twice");
			continue;
		}
		if (std::find(known.begin(), known.end(), name) == known.end()) {
			std::string why = "unknown key";
			const auto guess = closest_match(name, known);
			if (!guess.empty()) {
				why += ", did you mean \"";
				why += prefix.empty()
				               ? std::string(guess)
				               : std::string(prefix) + "." + std::string(guess);
				why += "\"?";
			} else {
				why += " (known here: ";
				for (std::size_t i = 0; i < known.size(); i++)
					why += (i ? ", " : "") + std::string(known[i]);
				why += ")";
			}
			error(key, full, why);
			continue;
		}
		seen_.insert(full);
		f(name, full, it->second);
	}
}

void Parser::heartbeat(const YAML::Node& n, Config& c)
{
	if (!n.IsMap()) {
		error(n, "heartbeat", "must be a map with keys cycle and monitor");
		return;
	}
	each_key(n, "heartbeat",
	         [&](const std::string& k, const std::string& path, const YAML::Node& v) {
		         if (k == "cycle") {
			         const auto s = scalar(v, path);
			         if (!s)
				         return;
			         const auto l = lower(*s);
			         for (std::uint8_t code = 0; code <= 6; code++) {
				         const auto cyc = static_cast<HeartbeatCycle>(code);
				         if (l == heartbeat_cycle_name(cyc)) {
					         c.heartbeat.cycle = cyc;
					         return;
				         }
			         }
			         error(v, path,
			               quote(*s) + " is not a heartbeat cycle (one of off, 8s, 4s, "
			                           "2s, 1s, "
			                           "500ms, 250ms)");
		         } else if (k == "monitor") {
			         if (v.IsScalar() && lower(v.Scalar()) == "all") {
				         c.heartbeat.monitor_all = true;
				         return;
			         }
			         if (v.IsNull())
				         return;
			         if (!v.IsSequence()) {
				         error(v, path,
				               "must be \"all\" or a list of up to 4 Participant "
				               "IDs");
				         return;
			         }
			         if (v.size() > kMaxMonitor) {
				         error(v, path,
				               "lists " + std::to_string(v.size()) +
				                       " participants; register 62h holds at most "
				                       "4 (use \"all\" "
				                       "to monitor every participant)");
				         return;
			         }
			         for (std::size_t i = 0; i < v.size(); i++) {
				         const std::string p = path + "[" + std::to_string(i) + "]";
				         const auto id = uint_in(v[i], p, 1, 127);
				         if (!id)
					         continue;
				         const auto pp = static_cast<std::uint8_t>(*id);
				         if (std::find(c.heartbeat.monitor.begin(),
				                       c.heartbeat.monitor.end(),
				                       pp) != c.heartbeat.monitor.end()) {
					         error(v[i], p,
					               "participant " + std::to_string(pp) +
					                       " is listed twice");
					         continue;
				         }
				         c.heartbeat.monitor.push_back(pp);
			         }
		         }
	         });
}

void Parser::timeouts(const YAML::Node& n, Config& c)
{
	if (!n.IsMap()) {
		error(n, "timeouts", "must be a map of durations");
		return;
	}
	each_key(n, "timeouts",
	         [&](const std::string& k, const std::string& path, const YAML::Node& v) {
		         const auto d = duration(v, path);
		         if (!d)
			         return;
		         auto& t = c.timeouts;
		         if (k == "pa_retry")
			         t.pa_retry = *d;
		         else if (k == "pa_max_rtt")
			         t.pa_max_rtt = *d;
		         else if (k == "sync_abort")
			         t.sync_abort = *d;
		         else if (k == "warning_hold")
			         t.warning_hold = *d;
		         else if (k == "warning_abort")
			         t.warning_abort = *d;
		         else if (k == "session")
			         t.session = *d;
		         else if (k == "response")
			         t.response = *d;
	         });
}

void Parser::bitrate(const YAML::Node& n, Config& c)
{
	const auto s = scalar(n, "data_bitrate");
	if (!s)
		return;
	std::string_view v = *s;
	std::uint64_t scale = 1;
	if (!v.empty() && (v.back() == 'k' || v.back() == 'K')) {
		scale = 1000;
		v.remove_suffix(1);
	} else if (!v.empty() && v.back() == 'M') {
		scale = 1000000;
		v.remove_suffix(1);
	}
	const auto num = parse_decimal(v);
	if (!num || *num > 100000000) {
		error(n, "data_bitrate",
		      quote(*s) +
		              " is not a bit rate in bit/s (digits, optionally with suffix k or "
		              "M: 2000000, 2M, 500k)");
		return;
	}
	const auto bps = *num * scale;
	auto tick = tick_ns_from_bitrate(bps);
	if (!tick) {
		error(n, "data_bitrate", quote(*s) + ": " + tick.error().context);
		return;
	}
	c.data_bitrate = bps;
	c.tick_ns = *tick;
}

// senders: a list of rules, each a map:
//   - ids: [0x123, 0x130-0x13F, 0x00001200/0x1FFFFF00]   (required)
//     units: [can-app.service]     cgroups: [/can.slice/app]
//     users: [1000, canapp]        groups: [can]          (at least one sender in all)
// Keys may also take a single value instead of a list.
void Parser::senders(const YAML::Node& n, Config& c)
{
	if (n.IsNull())
		return;
	if (!n.IsSequence()) {
		error(n, "senders",
		      "must be a list of rules (each a map with ids and units, cgroups, users or "
		      "groups)");
		return;
	}
	static constexpr std::string_view kRuleKeys[] = {"ids", "units", "cgroups", "users",
	                                                 "groups"};
	if (n.size() >= SPSEC_SENDER_RULES) {
		error(n, "senders",
		      "has " + std::to_string(n.size()) + " rules, at most " +
		              std::to_string(SPSEC_SENDER_RULES - 1) + " are supported");
		return;
	}
	for (std::size_t i = 0; i < n.size(); i++) {
		const YAML::Node rule = n[i];
		const std::string rpath = "senders[" + std::to_string(i) + "]";
		if (!rule.IsMap()) {
			error(rule, rpath,
			      "must be a map with ids and units, cgroups, users or groups");
			continue;
		}
		SenderRule r;
		r.line = rule.Mark().line + 1;
		bool bad = false, has_ids = false;
		// The values of one key: a list, or a single scalar.
		const auto values = [&](const YAML::Node& v, const std::string& path) {
			std::vector<std::pair<std::string, YAML::Node>> out;
			if (v.IsScalar()) {
				out.emplace_back(v.Scalar(), v);
			} else if (v.IsSequence() && v.size() > 0) {
				for (std::size_t j = 0; j < v.size(); j++)
					if (auto s = scalar(v[j],
					                    path + "[" + std::to_string(j) + "]"))
						out.emplace_back(*s, v[j]);
					else
						bad = true;
			} else {
				error(v, path, "must be a value or a non-empty list of values");
				bad = true;
			}
			return out;
		};
		std::set<std::string> keys_here;
		for (auto it = rule.begin(); it != rule.end(); ++it) {
			const YAML::Node key = it->first;
			const std::string name = key.IsScalar() ? key.Scalar() : "?";
			const std::string path = rpath + "." + name;
			if (!keys_here.insert(name).second) {
				error(key, path, "appears twice");
				bad = true;
				continue;
			}
			if (std::find(std::begin(kRuleKeys), std::end(kRuleKeys), name) ==
			    std::end(kRuleKeys)) {
				const auto guess = closest_match(name, kRuleKeys);
				error(key, path,
				      guess.empty()
				              ? std::string("unknown key (known here: ids, units, "
				                            "cgroups, users, groups)")
				              : "unknown key, did you mean \"" +
				                        std::string(guess) + "\"?");
				bad = true;
				continue;
			}
			std::set<std::string> seen;
			for (auto& [text, node] : values(it->second, path)) {
				if (!seen.insert(text).second) {
					error(node, path, quote(text) + " is listed twice");
					bad = true;
					continue;
				}
				if (name == "ids") {
					auto sel = parse_id_selector(text);
					if (!sel) {
						error(node, path, sel.error().context);
						bad = true;
					} else {
						r.selectors.push_back(*sel);
						has_ids = true;
					}
				} else if (name == "units") {
					if (!unit_cgroup_path(text)) {
						error(node, path,
						      quote(text) +
						              " is not a systemd unit name with a "
						              "cgroup (.service, .scope, .slice, "
						              ".socket, .mount, .swap)");
						bad = true;
					} else {
						r.units.push_back(text);
					}
				} else if (name == "cgroups") {
					if (text == "/") {
						error(node, path,
						      "\"/\" is the root cgroup, which holds every "
						      "process: "
						      "a rule that allows everyone is no rule");
						bad = true;
					} else if (!valid_cgroup_path(text)) {
						error(node, path,
						      quote(text) +
						              " is not a cgroup v2 path as "
						              "/proc/<pid>/cgroup shows it "
						              "(/system.slice/can-app.service)");
						bad = true;
					} else {
						r.cgroups.push_back(text);
					}
				} else {
					// users and groups: a decimal id or a name spsecd resolves
					const bool user = name == "users";
					const auto num = parse_decimal(text);
					const bool name_ok =
					        !text.empty() && text.size() <= 32 &&
					        std::all_of(
					                text.begin(), text.end(),
					                [](char ch) {
						                return (ch >= 'a' && ch <= 'z') ||
						                       (ch >= 'A' && ch <= 'Z') ||
						                       (ch >= '0' && ch <= '9') ||
						                       ch == '_' || ch == '-' ||
						                       ch == '.';
					                }) &&
					        !(text[0] >= '0' && text[0] <= '9') &&
					        text[0] != '-';
					if (num && (*num >= 0xFFFFFFFFu || *num == 65534)) {
						// 65534 is the kernel's overflowuid/gid: what a
						// socket of an unmapped user (another user
						// namespace) reads as
						error(node, path,
						      quote(text) +
						              (*num == 65534
						                       ? " is the kernel's "
						                         "overflow id "
						                         "(nobody): sockets of "
						                         "unmapped "
						                         "users read as it"
						                       : " is not a valid id"));
						bad = true;
					} else if (!num && !name_ok) {
						error(node, path,
						      quote(text) + " is not a " +
						              (user ? "uid or user name"
						                    : "gid or group name"));
						bad = true;
					} else {
						(user ? r.users : r.groups).push_back(text);
					}
				}
			}
		}
		if (!keys_here.contains("ids")) {
			error(rule, rpath, "has no ids: name the transmit IDs the rule is for");
			bad = true;
		}
		const std::size_t n_cg = r.units.size() + r.cgroups.size();
		if (!bad && n_cg + r.users.size() + r.groups.size() == 0) {
			error(rule, rpath,
			      "names no sender (units, cgroups, users or groups): an ID no one may "
			      "send belongs out of transmit_ids");
			bad = true;
		}
		if (n_cg > SPSEC_SENDER_CGROUPS) {
			error(rule, rpath,
			      "names " + std::to_string(n_cg) + " units and cgroups, at most " +
			              std::to_string(SPSEC_SENDER_CGROUPS) + " per rule");
			bad = true;
		}
		if (!bad && has_ids)
			c.senders.push_back(std::move(r));
	}
}

// Each selector must select secured transmit IDs, each such ID at most one rule, and two units
// or cgroups of one rule must not name one cgroup.
void Parser::validate_senders(Config& c)
{
	std::map<CanId, int> owner;  // ID -> line of the rule that selected it
	for (auto& r : c.senders) {
		std::set<CanId> ids;
		for (const auto& sel : r.selectors) {
			bool any = false;
			for (const auto& id : c.transmit_ids) {
				if (!sel.matches(id) ||
				    !std::binary_search(c.secured_ids.begin(), c.secured_ids.end(),
				                        id))
					continue;
				any = true;
				if (!ids.insert(id).second) {
					error_at(r.line - 1, "senders",
					         format_can_id(id) +
					                 " is selected twice by the rule (" +
					                 quote(sel.text) +
					                 " overlaps another of its ids)");
					continue;
				}
				const auto [it, fresh] = owner.emplace(id, r.line);
				if (!fresh)
					error_at(r.line - 1, "senders",
					         format_can_id(id) + " (" + quote(sel.text) +
					                 ") already has the sender rule on line " +
					                 std::to_string(it->second) +
					                 ": one rule per ID, merge the two");
			}
			if (!any)
				error_at(r.line - 1, "senders",
				         quote(sel.text) +
				                 (sel.kind == IdSelector::Kind::One
				                          ? " is not a secured transmit ID (it "
				                            "must be in "
				                            "both secured_ids and transmit_ids): "
				                            "sender "
				                            "rules are for IDs this node stamps"
				                          : " selects no secured transmit ID (in "
				                            "both "
				                            "secured_ids and transmit_ids)"));
		}
		r.ids.assign(ids.begin(), ids.end());
		std::map<std::string, std::string> paths;  // cgroup path -> what named it
		for (const auto& u : r.units) {
			const auto p = *unit_cgroup_path(u);
			if (!paths.emplace(p, "unit " + u).second)
				error_at(r.line - 1, "senders",
				         "unit " + u + " and " + paths[p] + " name one cgroup (" +
				                 p + ")");
		}
		for (const auto& p : r.cgroups)
			if (!paths.emplace(p, "cgroup " + p).second)
				error_at(r.line - 1, "senders",
				         "cgroup " + p + " and " + paths[p] + " name one cgroup");
	}
}

// A to_secured ID's sender is its segment: whatever can put a frame on it, local processes
// included (the CAN core's or the driver's echo of a frame a local socket sends on the segment
// reaches can-gw like a frame from the wire). A sender rule could not restrict such an ID, only
// seem to; and can-gw's copies carry no socket, so the rule would refuse the gateway's frames.
void Parser::validate_senders_vs_gateway(const Config& c)
{
	for (const auto& r : c.senders)
		for (const CanId& id : r.ids)
			for (const auto& g : c.gateway.rules) {
				if (g.direction != GatewayDirection::ToSecured || !g.ids.covers(id))
					continue;
				const std::string why =
				        format_can_id(id) +
				        " is forwarded onto the secured bus from " + g.segment +
				        " by the gateway rule on line " + std::to_string(g.line) +
				        ": whatever is on " + g.segment +
				        " may send it, local processes included, so a sender rule "
				        "cannot restrict it; leave it out of the sender rule";
				error_at(r.line - 1, "senders", why);
			}
}

Result<Config> Parser::run(std::string_view text)
{
	if (text.size() > kMaxConfigBytes) {
		error_at(-1, "", "the file is larger than 1 MiB");
		return fail(errors_.front());
	}
	if (const auto line = yaml_too_deep(text)) {
		error_at(*line, "",
		         "nested too deeply (more than " + std::to_string(kMaxNesting) +
		                 " levels, or indented more than " +
		                 std::to_string(4 * kMaxNesting) + " columns)");
		return fail(errors_.front());
	}
	YAML::Node root;
	try {
		root = YAML::Load(std::string(text));
	} catch (const YAML::Exception& e) {
		// e.mark is 0-based; e.msg is yaml-cpp's reason without the position.
		error_at(e.mark.is_null() ? -1 : e.mark.line, "", "YAML syntax error: " + e.msg);
		return fail(errors_.front());
	}
	if (!root.IsMap()) {
		error_at(-1, "",
		         root.IsNull() ? "the configuration is empty"
		                       : "the top level must be a map of keys");
		return fail(errors_.front());
	}

	Config c;  // a fresh object: nothing of a previous configuration leaks in
	try {
		each_key(
		        root, "",
		        [&](const std::string& k, const std::string& path, const YAML::Node& v) {
			        if (k == "interface") {
				        if (auto s = scalar(v, path)) {
					        if (s->empty() || s->size() > kMaxIfnameLen ||
					            s->find_first_of("/ \t\n:") !=
					                    std::string::npos ||
					            *s == "." || *s == "..")
						        error(v, path,
						              quote(*s) + " is not an interface "
						                          "name (1..15 "
						                          "characters, no '/', ':' "
						                          "or spaces)");
					        else
						        c.interface = *s;
				        }
			        } else if (k == "participant_id") {
				        if (auto id = uint_in(v, path, 1, 127))
					        c.participant_id = static_cast<std::uint8_t>(*id);
			        } else if (k == "sync") {
				        if (auto b = on_off(v, path))
					        c.sync_role = *b;
			        } else if (k == "aead") {
				        if (auto s = scalar(v, path)) {
					        auto a = parse_aead_name(lower(*s));
					        if (a)
						        c.aead = *a;
					        else
						        error(v, path,
						              quote(*s) + ": " + a.error().context);
				        }
			        } else if (k == "mode") {
				        if (auto s = scalar(v, path)) {
					        const auto l = lower(*s);
					        if (l == "encrypt")
						        c.mode = StampMode::Encrypt;
					        else if (l == "auth-only")
						        c.mode = StampMode::AuthOnly;
					        else
						        error(v, path,
						              quote(*s) + " is not a mode (encrypt "
						                          "or auth-only)");
				        }
			        } else if (k == "data_bitrate") {
				        bitrate(v, c);
			        } else if (k == "acceptance_window") {
				        if (auto w = uint_in(v, path, 1, SPSEC_MAX_WINDOW))
					        c.acceptance_window =
					                static_cast<std::uint32_t>(*w);
			        } else if (k == "heartbeat") {
				        heartbeat(v, c);
			        } else if (k == "secured_ids") {
				        c.secured_ids = id_list(v, path);
			        } else if (k == "plaintext_ids") {
				        c.plaintext_ids = id_list(v, path);
			        } else if (k == "transmit_ids") {
				        c.transmit_ids = id_list(v, path);
			        } else if (k == "senders") {
				        senders(v, c);
			        } else if (k == "default_action") {
				        if (auto s = scalar(v, path)) {
					        const auto l = lower(*s);
					        if (l == "drop")
						        c.default_action = DefaultAction::Drop;
					        else if (l == "pass")
						        c.default_action = DefaultAction::Pass;
					        else
						        error(v, path,
						              quote(*s) + " is not drop or pass");
				        }
			        } else if (k == "attach") {
				        if (auto s = scalar(v, path)) {
					        const auto l = lower(*s);
					        if (l == "auto")
						        c.attach = AttachPref::Auto;
					        else if (l == "tc")
						        c.attach = AttachPref::Tc;
					        else if (l == "tcx")
						        c.attach = AttachPref::Tcx;
					        else
						        error(v, path,
						              quote(*s) +
						                      " is not auto, tc or tcx");
				        }
			        } else if (k == "key_store") {
				        if (auto p = abs_path(v, path))
					        c.key_store = *p;
			        } else if (k == "timeouts") {
				        timeouts(v, c);
			        } else if (k == "control_socket") {
				        if (auto p = abs_path(v, path))
					        c.control_socket = *p;
			        } else if (k == "pin_dir") {
				        if (auto p = abs_path(v, path))
					        c.pin_dir = *p;
			        }
			        // gateway: in validate(), against the ID lists
		        });
		validate(c, root);
	} catch (const YAML::Exception& e) {
		// Defensive: the accessors above check node types first, so this is not expected.
		error_at(e.mark.is_null() ? -1 : e.mark.line, "", "YAML error: " + e.msg);
	}

	if (!errors_.empty()) {
		// A garbage file could produce an error per byte; the first few are what helps.
		constexpr std::size_t kMaxShown = 50;
		std::string all;
		for (std::size_t i = 0; i < errors_.size() && i < kMaxShown; i++)
			all += (i ? "\n" : "") + errors_[i];
		if (errors_.size() > kMaxShown)
			all += "\n... and " + std::to_string(errors_.size() - kMaxShown) +
			       " more problems";
		return fail(all);
	}
	return c;
}

void Parser::validate(Config& c, const YAML::Node& root)
{
	for (const auto& k : kAllKeys)
		if (k.required && !seen_.contains(std::string(k.path)))
			error_at(-1, k.path, "is required (" + std::string(k.summary) + ")");

	// The checks below compare values; a value that already failed reads as a default here,
	// which could only produce follow-up noise, never hide the original error.
	const auto line_of = [&](std::string_view key) {
		const YAML::Node n = root[std::string(key)];
		return n.IsDefined() ? n.Mark().line : -1;
	};

	if (c.heartbeat.monitor_all == false) {
		for (auto pp : c.heartbeat.monitor)
			if (pp == c.participant_id && c.participant_id != 0)
				error_at(line_of("heartbeat"), "heartbeat.monitor",
				         "lists this node's own participant_id " +
				                 std::to_string(pp));
	}

	// A secured ID cannot also be plaintext: the data plane would not know whether to verify.
	for (const auto& id : c.plaintext_ids)
		if (std::binary_search(c.secured_ids.begin(), c.secured_ids.end(), id))
			error_at(line_of("plaintext_ids"), "plaintext_ids",
			         format_can_id(id) + " is also in secured_ids");

	// Only the low 16 bits of the ID enter the nonce (spec §4): two secured IDs sharing them
	// would reuse nonces under the same key whenever both send in one tick.
	std::map<std::uint16_t, CanId> by_nonce;
	for (const auto& id : c.secured_ids) {
		const auto [it, fresh] = by_nonce.emplace(id.nonce_bits(), id);
		if (!fresh)
			error_at(line_of("secured_ids"), "secured_ids",
			         format_can_id(it->second) + " and " + format_can_id(id) +
			                 " share their low 16 bits, which would reuse AEAD nonces "
			                 "(spec §4): secure only one of them");
	}

	for (const auto& id : c.transmit_ids)
		if (!std::binary_search(c.secured_ids.begin(), c.secured_ids.end(), id) &&
		    !std::binary_search(c.plaintext_ids.begin(), c.plaintext_ids.end(), id))
			error_at(line_of("transmit_ids"), "transmit_ids",
			         format_can_id(id) +
			                 " is neither in secured_ids nor in plaintext_ids");

	// The data plane holds one policy entry per distinct ID of the three lists and has room for
	// kMaxPolicyIds (both generations must fit during a reload): lists each within the limit
	// may still be too many together, which would only fail when spsecd installs the policy.
	std::set<CanId> policy_ids(c.secured_ids.begin(), c.secured_ids.end());
	policy_ids.insert(c.plaintext_ids.begin(), c.plaintext_ids.end());
	policy_ids.insert(c.transmit_ids.begin(), c.transmit_ids.end());
	if (policy_ids.size() > kMaxPolicyIds)
		error_at(std::max({line_of("secured_ids"), line_of("plaintext_ids"),
		                   line_of("transmit_ids")}),
		         "secured_ids, plaintext_ids, transmit_ids",
		         "name " + std::to_string(policy_ids.size()) +
		                 " distinct IDs together, at most " +
		                 std::to_string(kMaxPolicyIds) +
		                 " are supported (one data-plane policy entry per ID)");

	validate_senders(c);

	const auto& t = c.timeouts;
	const int tl = line_of("timeouts");
	if (t.warning_abort <= t.warning_hold)
		error_at(tl, "timeouts.warning_abort",
		         "must be longer than timeouts.warning_hold (" +
		                 std::to_string(t.warning_abort.count()) +
		                 "ms <= " + std::to_string(t.warning_hold.count()) + "ms)");
	if (t.response >= t.session)
		error_at(tl, "timeouts.response",
		         "must be shorter than timeouts.session (" +
		                 std::to_string(t.response.count()) +
		                 "ms >= " + std::to_string(t.session.count()) + "ms)");
	if (t.pa_max_rtt.count() <= 0 || t.pa_max_rtt > t.pa_retry)
		error_at(tl, "timeouts.pa_max_rtt",
		         "must be above 0 and at most timeouts.pa_retry (" +
		                 std::to_string(t.pa_max_rtt.count()) + "ms, pa_retry " +
		                 std::to_string(t.pa_retry.count()) + "ms)");
	if (t.pa_retry >= t.sync_abort)
		error_at(tl, "timeouts.pa_retry",
		         "must be shorter than timeouts.sync_abort (" +
		                 std::to_string(t.pa_retry.count()) +
		                 "ms >= " + std::to_string(t.sync_abort.count()) + "ms)");
	// Sync broadcasts come every 10 s (spec §5): a shorter abort time would abort a healthy
	// node.
	if (t.sync_abort < std::chrono::seconds(20))
		error_at(tl, "timeouts.sync_abort",
		         std::to_string(t.sync_abort.count()) +
		                 "ms is too short: Sync broadcasts come every 10 s, at least 20s "
		                 "is needed");

	if (const YAML::Node g = root["gateway"]; g.IsDefined()) {
		const std::size_t before = errors_.size();
		c.gateway = parse_gateway(
		        g, source_,
		        GatewayPolicy{c.interface, c.secured_ids, c.plaintext_ids, c.transmit_ids},
		        errors_);
		if (errors_.size() == before)
			validate_senders_vs_gateway(c);
	}

	if (!c.interface.empty()) {
		if (c.control_socket.empty())
			c.control_socket = "/run/spsec/" + c.interface + ".sock";
		if (c.pin_dir.empty())
			c.pin_dir = std::string(SPSEC_PIN_ROOT) + "/" + c.interface;
	}
}

}  // namespace

Result<CanId> parse_can_id(std::string_view text)
{
	const std::string shown = quote(text);
	if (text.size() < 3 || text[0] != '0' || (text[1] != 'x' && text[1] != 'X'))
		return fail(shown + " is not a CAN ID: write 0x and 3 hex digits for an 11-bit ID "
		                    "(0x181) or 8 for a 29-bit ID (0x00000181)");
	const std::string_view digits = text.substr(2);
	std::uint32_t v = 0;
	const auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, 16);
	if (ec != std::errc() || p != digits.data() + digits.size() || digits.front() == '+' ||
	    digits.front() == '-')
		return fail(shown + " is not a CAN ID: not a hex number");
	if (digits.size() <= 3) {
		if (v > 0x7FF)
			return fail(shown + " is not an 11-bit CAN ID (at most 0x7FF); write 8 hex "
			                    "digits for a 29-bit ID");
		return CanId{v, false};
	}
	if (digits.size() == 8) {
		if (v > 0x1FFFFFFF)
			return fail(shown + " is not a 29-bit CAN ID (at most 0x1FFFFFFF)");
		return CanId{v, true};
	}
	return fail(shown + " is ambiguous: write 1 to 3 hex digits for an 11-bit ID (0x181) or "
	                    "exactly 8 for a 29-bit ID (0x00000181)");
}

std::string format_can_id(CanId id)
{
	static constexpr char kDigits[] = "0123456789ABCDEF";
	const int n = id.extended ? 8 : 3;
	std::string out = "0x";
	for (int i = n - 1; i >= 0; i--)
		out.push_back(kDigits[(id.id >> (4 * i)) & 0xF]);
	return out;
}

std::chrono::milliseconds heartbeat_period(HeartbeatCycle c) noexcept
{
	switch (c) {
	case HeartbeatCycle::Off:
		return std::chrono::milliseconds(0);
	case HeartbeatCycle::S8:
		return std::chrono::milliseconds(8000);
	case HeartbeatCycle::S4:
		return std::chrono::milliseconds(4000);
	case HeartbeatCycle::S2:
		return std::chrono::milliseconds(2000);
	case HeartbeatCycle::S1:
		return std::chrono::milliseconds(1000);
	case HeartbeatCycle::Ms500:
		return std::chrono::milliseconds(500);
	case HeartbeatCycle::Ms250:
		return std::chrono::milliseconds(250);
	}
	return std::chrono::milliseconds(0);
}

std::string_view heartbeat_cycle_name(HeartbeatCycle c) noexcept
{
	switch (c) {
	case HeartbeatCycle::Off:
		return "off";
	case HeartbeatCycle::S8:
		return "8s";
	case HeartbeatCycle::S4:
		return "4s";
	case HeartbeatCycle::S2:
		return "2s";
	case HeartbeatCycle::S1:
		return "1s";
	case HeartbeatCycle::Ms500:
		return "500ms";
	case HeartbeatCycle::Ms250:
		return "250ms";
	}
	return "?";
}

std::uint32_t HeartbeatConfig::monitor_register() const noexcept
{
	if (monitor_all)
		return 0xFFFFFFFFu;
	std::uint32_t v = 0;
	for (std::size_t i = 0; i < monitor.size() && i < 4; i++)
		v |= static_cast<std::uint32_t>(monitor[i]) << (8 * i);
	return v;
}

std::span<const ConfigKeyInfo> config_keys() noexcept
{
	return kAllKeys;
}

std::string_view closest_match(std::string_view word, std::span<const std::string_view> candidates)
{
	std::string_view best;
	std::size_t best_d = ~std::size_t{0};
	for (const auto c : candidates) {
		const auto d = edit_distance(lower(word), c);
		if (d < best_d) {
			best_d = d;
			best = c;
		}
	}
	// A third of the word's length (at least 2) counts as a typo; more is a different word.
	const std::size_t limit = std::max<std::size_t>(2, word.size() / 3);
	return best_d <= limit ? best : std::string_view{};
}

Result<Config> parse_config(std::string_view yaml_text, std::string_view source_name)
{
	return Parser(source_name).run(yaml_text);
}

Result<Config> load_config(const std::string& path)
{
	std::ifstream in(path, std::ios::binary);
	if (!in)
		return fail_errno(errno, "reading config " + path);
	std::ostringstream text;
	text << in.rdbuf();
	if (in.bad())
		return fail_errno(errno, "reading config " + path);
	return parse_config(text.str(), path);
}

}  // namespace spsec
