// SPDX-License-Identifier: Apache-2.0
// The configuration model: the shipped example parses, every bad value class is rejected with a
// message naming key, value and reason, unknown keys get a suggestion, and the reference
// documentation covers every key.
#include <catch2/catch.hpp>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "core/config.h"

using namespace spsec;

namespace {

const std::string kExample = SPSEC_SOURCE_DIR "/config/spsecd.yaml";
const std::string kDoc = SPSEC_SOURCE_DIR "/docs/configuration.md";

// The smallest valid configuration; tests append or replace lines.
const std::string kMinimal = "interface: can0\n"
                             "participant_id: 5\n"
                             "aead: aes-gcm\n"
                             "data_bitrate: 2000000\n"
                             "key_store: /var/lib/spsec/keys\n";

std::string read_file(const std::string& path)
{
	std::ifstream in(path);
	REQUIRE(in);
	std::ostringstream s;
	s << in.rdbuf();
	return s.str();
}

Config ok(const std::string& yaml)
{
	auto c = parse_config(yaml, "t.yaml");
	if (!c)
		FAIL("unexpected error:\n" << c.error().context);
	return *c;
}

// The error text of a configuration that must fail.
std::string bad(const std::string& yaml)
{
	auto c = parse_config(yaml, "t.yaml");
	REQUIRE_FALSE(c);
	return c.error().context;
}

// Dotted key paths of every map key in a YAML tree.
void collect_keys(const YAML::Node& n, const std::string& prefix, std::set<std::string>& out)
{
	if (!n.IsMap())
		return;
	for (auto it = n.begin(); it != n.end(); ++it) {
		const std::string path =
		        prefix.empty() ? it->first.Scalar() : prefix + "." + it->first.Scalar();
		out.insert(path);
		collect_keys(it->second, path, out);
	}
}

}  // namespace

TEST_CASE("the shipped config/spsecd.yaml parses to the documented values", "[config]")
{
	auto c = load_config(kExample);
	if (!c)
		FAIL(c.error().message());
	CHECK(c->interface == "can0");
	CHECK(c->participant_id == 5);
	CHECK_FALSE(c->sync_role);
	CHECK(c->aead == AeadKind::AesGcm);
	CHECK(c->mode == StampMode::Encrypt);
	CHECK(c->data_bitrate == 2000000);
	CHECK(c->tick_ns == 50000);
	CHECK(c->acceptance_window == 150);
	CHECK(c->heartbeat.cycle == HeartbeatCycle::S1);
	CHECK(c->heartbeat.monitor == std::vector<std::uint8_t>{1, 2});
	CHECK(c->heartbeat.monitor_register() == 0x0201u);
	CHECK(c->secured_ids ==
	      std::vector<CanId>{{0x181, false}, {0x201, false}, {0x12345, true}});
	CHECK(c->plaintext_ids == std::vector<CanId>{{0x000, false}, {0x700, false}});
	CHECK(c->transmit_ids == std::vector<CanId>{{0x181, false}, {0x700, false}});
	CHECK(c->default_action == DefaultAction::Drop);
	CHECK(c->key_store == "/var/lib/spsec/can0/keys");
	CHECK(c->timeouts.pa_retry == std::chrono::seconds(2));
	CHECK(c->timeouts.pa_max_rtt == std::chrono::milliseconds(20));
	CHECK(c->timeouts.sync_abort == std::chrono::seconds(30));
	CHECK(c->timeouts.warning_hold == std::chrono::seconds(5));
	CHECK(c->timeouts.warning_abort == std::chrono::seconds(15));
	CHECK(c->timeouts.session == std::chrono::seconds(10));
	CHECK(c->timeouts.response == std::chrono::milliseconds(100));
	CHECK(c->control_socket == "/run/spsec/can0.sock");
	CHECK(c->pin_dir == "/sys/fs/bpf/spsec/can0");
}

TEST_CASE("a mistyped key is rejected with the closest known key", "[config]")
{
	std::string text = read_file(kExample);
	const auto pos = text.find("participant_id:");
	REQUIRE(pos != std::string::npos);
	text.replace(pos, 15, "participant_idd:");
	auto c = parse_config(text, "spsecd.yaml");
	REQUIRE_FALSE(c);
	CHECK_THAT(c.error().context,
	           Catch::Contains("spsecd.yaml:10: participant_idd: unknown key, did you mean "
	                           "\"participant_id\"?"));
	// The key it replaced is now missing, which is reported too.
	CHECK_THAT(c.error().context, Catch::Contains("participant_id: is required"));

	CHECK_THAT(bad(kMinimal + "heartbeat:\n  cylce: 1s\n"),
	           Catch::Contains("t.yaml:7: heartbeat.cylce: unknown key, did you mean "
	                           "\"heartbeat.cycle\"?"));
	CHECK_THAT(bad(kMinimal + "timeout:\n  session: 5s\n"),
	           Catch::Contains("timeout: unknown key, did you mean \"timeouts\"?"));
	// Nothing close: list what is known.
	CHECK_THAT(bad(kMinimal + "heartbeat:\n  frobnicate: 1\n"),
	           Catch::Contains("unknown key (known here: cycle, monitor)"));
}

TEST_CASE("defaults of the minimal configuration", "[config]")
{
	const Config c = ok(kMinimal);
	CHECK_FALSE(c.sync_role);
	CHECK(c.mode == StampMode::Encrypt);
	CHECK(c.acceptance_window == 150);
	CHECK(c.heartbeat.cycle == HeartbeatCycle::S1);
	CHECK(c.heartbeat.monitor.empty());
	CHECK_FALSE(c.heartbeat.monitor_all);
	CHECK(c.secured_ids.empty());
	CHECK(c.default_action == DefaultAction::Drop);
	CHECK(c.timeouts.pa_retry == std::chrono::seconds(2));
	CHECK(c.control_socket == "/run/spsec/can0.sock");
	CHECK(c.pin_dir == "/sys/fs/bpf/spsec/can0");
	CHECK(c.attach == AttachPref::Auto);
}

TEST_CASE("value forms that are accepted", "[config]")
{
	const Config c = ok("interface: vcan0\nparticipant_id: 127\naead: ChaCha20-Poly1305\n"
	                    "data_bitrate: 8M\nkey_store: /k\nsync: on\nmode: auth-only\n"
	                    "acceptance_window: 2047\ndefault_action: pass\n"
	                    "heartbeat: {cycle: 'off', monitor: all}\n"
	                    "secured_ids: [0x7FF, '0x1DFFFFFF', 0x00000001]\n"
	                    "timeouts: {response: 1s, session: 2min}\nattach: TCX\n");
	CHECK(c.aead == AeadKind::ChaCha20Poly1305);
	CHECK(c.tick_ns == 12500);
	CHECK(c.sync_role);
	CHECK(c.mode == StampMode::AuthOnly);
	CHECK(c.default_action == DefaultAction::Pass);
	CHECK(c.heartbeat.cycle == HeartbeatCycle::Off);
	CHECK(c.heartbeat.monitor_all);
	CHECK(c.heartbeat.monitor_register() == 0xFFFFFFFFu);
	CHECK(c.secured_ids ==
	      std::vector<CanId>{{0x00000001, true}, {0x7FF, false}, {0x1DFFFFFF, true}});
	CHECK(c.timeouts.session == std::chrono::minutes(2));
	CHECK(c.attach == AttachPref::Tcx);
	CHECK(ok(kMinimal + "attach: tc\n").attach == AttachPref::Tc);
}

TEST_CASE("every bad value names key, value and reason", "[config]")
{
	struct Row {
		const char* extra;     // appended to a configuration without that key
		const char* drop;      // key removed from kMinimal first ("" for none)
		const char* expected;  // substring of the error
	};
	const Row rows[] = {
	        {"interface: can0123456789abc\n", "interface",
	         "interface: \"can0123456789abc\" is not an interface name"},
	        {"interface: a/b\n", "interface", "interface: \"a/b\" is not an interface name"},
	        {"participant_id: 0\n", "participant_id",
	         "participant_id: \"0\" is not in range (1..127)"},
	        {"participant_id: 128\n", "participant_id", "\"128\" is not in range (1..127)"},
	        {"participant_id: five\n", "participant_id",
	         "\"five\" is not a decimal integer (1..127)"},
	        {"participant_id: [5]\n", "participant_id",
	         "participant_id: must be a single value, not a list"},
	        {"participant_id:\n", "participant_id", "participant_id: has no value"},
	        {"aead: aes-ccm\n", "aead", "aead: \"aes-ccm\": "},
	        {"mode: sign\n", "", "mode: \"sign\" is not a mode (encrypt or auth-only)"},
	        {"sync: maybe\n", "", "sync: \"maybe\" is not on or off"},
	        {"data_bitrate: 3M\n", "data_bitrate", "data_bitrate: \"3M\": "},
	        {"data_bitrate: fast\n", "data_bitrate", "\"fast\" is not a bit rate in bit/s"},
	        {"data_bitrate: 0\n", "data_bitrate", "data_bitrate: \"0\": "},
	        {"acceptance_window: 0\n", "",
	         "acceptance_window: \"0\" is not in range (1..2047)"},
	        {"acceptance_window: 2048\n", "", "\"2048\" is not in range (1..2047)"},
	        {"heartbeat:\n  cycle: 3s\n", "",
	         "heartbeat.cycle: \"3s\" is not a heartbeat cycle (one of off, 8s, 4s, 2s, 1s, "
	         "500ms, 250ms)"},
	        {"heartbeat:\n  monitor: [1, 2, 3, 4, 6]\n", "",
	         "heartbeat.monitor: lists 5 participants; register 62h holds at most 4"},
	        {"heartbeat:\n  monitor: [1, 1]\n", "",
	         "heartbeat.monitor[1]: participant 1 is listed twice"},
	        {"heartbeat:\n  monitor: [0]\n", "", "heartbeat.monitor[0]: \"0\" is not in range"},
	        {"heartbeat:\n  monitor: [5]\n", "",
	         "heartbeat.monitor: lists this node's own participant_id 5"},
	        {"heartbeat:\n  monitor: some\n", "",
	         "heartbeat.monitor: must be \"all\" or a list of up to 4 Participant IDs"},
	        {"heartbeat: 1s\n", "", "heartbeat: must be a map with keys cycle and monitor"},
	        {"secured_ids: 0x181\n", "", "secured_ids: must be a list of CAN IDs"},
	        {"secured_ids: [0x1234]\n", "",
	         "secured_ids[0]: \"0x1234\" is ambiguous: write 1 to 3 hex digits for an 11-bit "
	         "ID (0x181) or exactly 8 for a 29-bit ID (0x00000181)"},
	        {"secured_ids: [181]\n", "", "secured_ids[0]: \"181\" is not a CAN ID"},
	        {"secured_ids: [0x800]\n", "",
	         "secured_ids[0]: \"0x800\" is not an 11-bit CAN ID (at most 0x7FF)"},
	        {"secured_ids: ['0x20000000']\n", "",
	         "\"0x20000000\" is not a 29-bit CAN ID (at most 0x1FFFFFFF)"},
	        {"secured_ids: [0x0xyz]\n", "", "\"0x0xyz\" is not a CAN ID: not a hex number"},
	        {"secured_ids: ['0x02000123']\n", "",
	         "secured_ids[0]: \"0x02000123\" has bit 25 set: 29-bit IDs with bit 25 belong to "
	         "the SPsec control plane"},
	        {"plaintext_ids: ['0x12FF0800']\n", "", "has bit 25 set"},
	        {"secured_ids: [0x181, 0x181]\n", "",
	         "secured_ids[1]: \"0x181\" is listed twice (first on line 6)"},
	        {"secured_ids: [0x181]\nplaintext_ids: [0x181]\n", "",
	         "plaintext_ids: 0x181 is also in secured_ids"},
	        {"secured_ids: ['0x00010181', '0x00020181']\n", "",
	         "secured_ids: 0x00010181 and 0x00020181 share their low 16 bits"},
	        {"secured_ids: [0x181, '0x00010181']\n", "",
	         "secured_ids: 0x181 and 0x00010181 share their low 16 bits"},
	        {"transmit_ids: [0x181]\n", "",
	         "transmit_ids: 0x181 is neither in secured_ids nor in plaintext_ids"},
	        {"default_action: reject\n", "", "default_action: \"reject\" is not drop or pass"},
	        {"attach: xdp\n", "", "attach: \"xdp\" is not auto, tc or tcx"},
	        {"attach: [tc]\n", "", "attach"},
	        {"key_store: keys\n", "key_store", "key_store: \"keys\" is not an absolute path"},
	        {"key_store: /a/../b\n", "key_store", "must not contain \"..\" components"},
	        {"control_socket: run.sock\n", "",
	         "control_socket: \"run.sock\" is not an absolute"},
	        {"pin_dir: ''\n", "", "pin_dir: \"\" is not an absolute path"},
	        {"timeouts:\n  session: 10\n", "",
	         "timeouts.session: \"10\" is not a duration (a positive whole number with unit "
	         "ms, s or min"},
	        {"timeouts:\n  session: 0s\n", "", "timeouts.session: \"0s\" is not a duration"},
	        {"timeouts:\n  session: 2days\n", "", "\"2days\" is not a duration"},
	        {"timeouts:\n  pa_retry: 1.5s\n", "", "\"1.5s\" is not a duration"},
	        {"timeouts:\n  warning_abort: 5s\n", "",
	         "timeouts.warning_abort: must be longer than timeouts.warning_hold (5000ms <= "
	         "5000ms)"},
	        {"timeouts:\n  pa_max_rtt: 3s\n", "",
	         "timeouts.pa_max_rtt: must be above 0 and at most timeouts.pa_retry (3000ms, "
	         "pa_retry 2000ms)"},
	        {"timeouts:\n  response: 10s\n", "",
	         "timeouts.response: must be shorter than timeouts.session"},
	        {"timeouts:\n  sync_abort: 10s\n", "",
	         "timeouts.sync_abort: 10000ms is too short: Sync broadcasts come every 10 s"},
	        {"timeouts:\n  pa_retry: 40s\n", "",
	         "timeouts.pa_retry: must be shorter than timeouts.sync_abort"},
	        {"timeouts: 5s\n", "", "timeouts: must be a map of durations"},
	        {"aead: ascon\n", "", "t.yaml:6: aead: appears twice"},
	};
	for (const Row& r : rows) {
		std::string base = kMinimal;
		if (*r.drop) {
			const auto p = base.find(std::string(r.drop) + ":");
			REQUIRE(p != std::string::npos);
			base.erase(p, base.find('\n', p) - p + 1);
		}
		INFO(r.extra);
		CHECK_THAT(bad(base + r.extra), Catch::Contains(r.expected));
	}
}

TEST_CASE("the ID lists together must fit the data plane's policy map", "[config]")
{
	// Each list is within its own limit of 2048; the data plane holds at most 2048 distinct
	// IDs of all lists together (one policy entry each, two generations in 4096 entries).
	auto ids = [](std::size_t n, std::uint32_t base, int digits) {
		std::string out = "[";
		for (std::size_t i = 0; i < n; i++) {
			char b[16];
			std::snprintf(b, sizeof b, "0x%0*X", digits,
			              base + static_cast<std::uint32_t>(i));
			out += (i ? ", " : "") + std::string(b);
		}
		return out + "]\n";
	};
	const std::string secured = "secured_ids: " + ids(1200, 0x000, 3);
	const std::string fits = kMinimal + secured + "plaintext_ids: " + ids(848, 0x10000, 8);
	const Config c = ok(fits);
	CHECK(c.secured_ids.size() + c.plaintext_ids.size() == 2048);
	// The transmit IDs are among the others: they add no entry.
	ok(fits + "transmit_ids: " + ids(10, 0x000, 3));

	const std::string too_many = kMinimal + secured + "plaintext_ids: " + ids(849, 0x10000, 8);
	CHECK_THAT(bad(too_many),
	           Catch::Equals("t.yaml:7: secured_ids, plaintext_ids, transmit_ids: name 2049 "
	                         "distinct IDs together, at most 2048 are supported (one "
	                         "data-plane policy entry per ID)"));
	// The line named is the last of the lists in the file.
	const std::string reordered =
	        kMinimal + "plaintext_ids: " + ids(849, 0x10000, 8) + "sync: off\n" + secured;
	CHECK_THAT(bad(reordered), Catch::StartsWith("t.yaml:8: secured_ids, plaintext_ids"));
}

TEST_CASE("required keys, YAML errors, and all problems at once", "[config]")
{
	const std::string none = bad("sync: on\n");
	for (const char* k : {"interface", "participant_id", "aead", "data_bitrate", "key_store"})
		CHECK_THAT(none, Catch::Contains(std::string("t.yaml: ") + k + ": is required"));

	CHECK_THAT(bad(""), Catch::Contains("the configuration is empty"));
	CHECK_THAT(bad("- a\n- b\n"), Catch::Contains("the top level must be a map"));
	CHECK_THAT(bad("interface: [can0\n"), Catch::Contains("YAML syntax error"));
	CHECK_THAT(bad("? [a]\n: 1\n"), Catch::Contains("keys must be plain names"));

	// Deep nesting is refused before yaml-cpp recurses into it (CVE-2017-5950).
	CHECK_THAT(bad(kMinimal + "secured_ids: " + std::string(5000, '[') + "\n"),
	           Catch::Contains("t.yaml:6: nested too deeply"));
	CHECK_THAT(bad(kMinimal + "secured_ids:\n" +
	               [] {
		               std::string s;
		               for (int i = 0; i < 5000; i++)
			               s += "- ";
		               return s + "x\n";
	               }()),
	           Catch::Contains("nested too deeply"));
	CHECK_THAT(bad(kMinimal + "x:\n" + std::string(100, ' ') + "y: 1\n"),
	           Catch::Contains("t.yaml:7: nested too deeply"));
	// Brackets inside quotes and comments do not count; "don't" opens no quote.
	CHECK_THAT(bad(kMinimal + "mode: \"" + std::string(40, '[') + "\" # " +
	               std::string(40, '{') + "\nsync: don't\n"),
	           !Catch::Contains("nested too deeply"));
	CHECK_THAT(bad(std::string(2 << 20, ' ')), Catch::Contains("larger than 1 MiB"));

	// Three independent problems: each gets its own line.
	const std::string e = bad("interface: can0\nparticipant_id: 0\naead: des\n"
	                          "data_bitrate: 2M\nkey_store: rel\n");
	CHECK(std::count(e.begin(), e.end(), '\n') == 2);
	CHECK_THAT(e, Catch::Contains("t.yaml:2: participant_id"));
	CHECK_THAT(e, Catch::Contains("t.yaml:3: aead"));
	CHECK_THAT(e, Catch::Contains("t.yaml:5: key_store"));
	// Error messages never echo control characters.
	CHECK_THAT(bad(kMinimal + "mode: \"a\\x01b\"\n"), Catch::Contains("\"a?b\""));
}

TEST_CASE("load_config reports unreadable files with errno", "[config]")
{
	auto c = load_config("/nonexistent/spsecd.yaml");
	REQUIRE_FALSE(c);
	CHECK(c.error().errno_value == ENOENT);
	CHECK_THAT(c.error().message(), Catch::Contains("/nonexistent/spsecd.yaml"));
}

TEST_CASE("CAN ID notation", "[config]")
{
	struct Row {
		const char* text;
		CanId id;
		const char* formatted;
	};
	for (const Row& r :
	     {Row{"0x0", {0, false}, "0x000"}, Row{"0x7ff", {0x7FF, false}, "0x7FF"},
	      Row{"0X181", {0x181, false}, "0x181"}, Row{"0x00000000", {0, true}, "0x00000000"},
	      Row{"0x1fffffff", {0x1FFFFFFF, true}, "0x1FFFFFFF"}}) {
		INFO(r.text);
		auto id = parse_can_id(r.text);
		REQUIRE(id);
		CHECK(*id == r.id);
		CHECK(format_can_id(*id) == r.formatted);
		CHECK(*parse_can_id(format_can_id(*id)) == *id);
	}
	for (const char* t : {"", "0x", "x181", "0x-1", "0x+1", "0x1234", "0x1234567",
	                      "0x123456789", "0x800", "0x20000000", "0x18 1"}) {
		INFO(t);
		CHECK_FALSE(parse_can_id(t));
	}
	CHECK(CanId{0x123, true}.kernel_id() == 0x80000123u);
	CHECK(CanId{0x123, false}.kernel_id() == 0x123u);
	CHECK(CanId{0x1ABCDEF0, true}.nonce_bits() == 0xDEF0);
}

TEST_CASE("heartbeat cycles match register 61h", "[config]")
{
	CHECK(heartbeat_period(HeartbeatCycle::Off).count() == 0);
	CHECK(heartbeat_period(HeartbeatCycle::S8).count() == 8000);
	CHECK(heartbeat_period(HeartbeatCycle::Ms250).count() == 250);
	CHECK(static_cast<int>(HeartbeatCycle::Ms500) == 5);
	CHECK(heartbeat_cycle_name(HeartbeatCycle::S2) == "2s");
	HeartbeatConfig h;
	h.monitor = {1, 2, 3, 0x7F};
	CHECK(h.monitor_register() == 0x7F030201u);
}

TEST_CASE("closest_match", "[config]")
{
	const std::string_view keys[] = {"secured_ids", "plaintext_ids", "transmit_ids"};
	CHECK(closest_match("secure_ids", keys) == "secured_ids");
	CHECK(closest_match("Transmit_IDs", keys) == "transmit_ids");
	CHECK(closest_match("banana", keys).empty());
}

namespace {

// Keys of config_keys() that config/spsecd.yaml leaves out on purpose, each with the reason. Empty:
// the example shows every key.
const std::map<std::string, std::string> kAbsentFromExample = {
        {"gateway", "only a gateway node has it: config/spsecd-gateway.yaml shows it"},
};

// Every field of a configuration, one per line, to compare two of them.
std::string describe(const Config& c)
{
	std::ostringstream s;
	auto ids = [&s](const std::vector<CanId>& v) {
		for (const auto& id : v)
			s << format_can_id(id) << ",";
		s << "\n";
	};
	s << c.interface << "\n"
	  << int{c.participant_id} << " " << c.sync_role << " " << static_cast<int>(c.aead) << " "
	  << static_cast<int>(c.mode) << " " << c.data_bitrate << " " << c.tick_ns << " "
	  << c.acceptance_window << "\n"
	  << static_cast<int>(c.heartbeat.cycle) << " " << c.heartbeat.monitor_all << " "
	  << c.heartbeat.monitor_register() << "\n";
	ids(c.secured_ids);
	ids(c.plaintext_ids);
	ids(c.transmit_ids);
	s << static_cast<int>(c.default_action) << " " << c.key_store << "\n";
	for (auto d : {c.timeouts.pa_retry, c.timeouts.pa_max_rtt, c.timeouts.sync_abort,
	               c.timeouts.warning_hold, c.timeouts.warning_abort, c.timeouts.session,
	               c.timeouts.response})
		s << d.count() << " ";
	s << "\n" << c.control_socket << "\n" << c.pin_dir << "\n";
	s << "attach " << static_cast<int>(c.attach) << "\n";
	return s.str();
}

// `path: value` as YAML, nested for dotted paths ("timeouts.session" -> "timeouts:\n  session:").
std::string yaml_line(std::string_view path, std::string_view value)
{
	const auto dot = path.find('.');
	if (dot == std::string_view::npos)
		return std::string(path) + ": " + std::string(value) + "\n";
	return std::string(path.substr(0, dot)) + ":\n  " + std::string(path.substr(dot + 1)) +
	       ": " + std::string(value) + "\n";
}

struct DocRow {
	std::string required, default_value;
};

// The rows of the key table of docs/configuration.md: "| `key` | yes | `default` | meaning |".
std::map<std::string, DocRow> doc_key_table(const std::string& doc)
{
	std::map<std::string, DocRow> rows;
	std::istringstream in(doc);
	std::string line;
	auto trim = [](std::string v) {
		v.erase(0, v.find_first_not_of(' '));
		v.erase(v.find_last_not_of(' ') + 1);
		return v;
	};
	while (std::getline(in, line)) {
		if (line.rfind("| `", 0) != 0)
			continue;
		std::vector<std::string> cells;
		std::istringstream cs(line.substr(1));
		std::string cell;
		while (std::getline(cs, cell, '|'))
			cells.push_back(trim(cell));
		if (cells.size() < 4 || (cells[1] != "yes" && cells[1] != "no"))
			continue;  // another table (CAN IDs)
		std::string key = cells[0].substr(1, cells[0].size() - 2);
		rows[key] = DocRow{cells[1], cells[2]};
	}
	return rows;
}

}  // namespace

TEST_CASE("config/spsecd.yaml shows every key config_keys() knows, and no other", "[config]")
{
	std::set<std::string> example;
	collect_keys(YAML::LoadFile(kExample), "", example);
	std::set<std::string> known;
	for (const auto& k : config_keys()) {
		const std::string path(k.path);
		known.insert(path);
		INFO(path);
		if (kAbsentFromExample.count(path))
			CHECK_FALSE(example.count(path));  // a stale exception is an error too
		else
			CHECK(example.count(path) == 1u);
	}
	for (const auto& k : example) {
		INFO(k);
		CHECK(known.count(k) == 1u);
	}
	for (const auto& [k, reason] : kAbsentFromExample) {
		INFO(k);
		CHECK(known.count(k) == 1u);
		CHECK_FALSE(reason.empty());
	}
}

TEST_CASE("docs/configuration.md lists every key with config_keys()' requirement and default",
          "[config]")
{
	const auto rows = doc_key_table(read_file(kDoc));
	std::set<std::string> known;
	for (const auto& k : config_keys()) {
		const std::string path(k.path);
		known.insert(path);
		INFO(path);
		const auto row = rows.find(path);
		REQUIRE(row != rows.end());
		CHECK(row->second.required == (k.required ? "yes" : "no"));
		const std::string want =
		        k.default_value.empty() ? "" : "`" + std::string(k.default_value) + "`";
		CHECK(row->second.default_value == want);
	}
	for (const auto& [k, row] : rows) {
		INFO(k);
		CHECK(known.count(k) == 1u);
	}
}

TEST_CASE("the defaults config_keys() states are the parser's defaults", "[config]")
{
	const std::string minimal = describe(ok(kMinimal));
	for (const auto& k : config_keys()) {
		if (k.required || k.default_value.empty())
			continue;  // required, or a map whose members have their own defaults
		INFO(k.path);
		std::string value(k.default_value);
		if (const auto p = value.find("<interface>"); p != std::string::npos)
			value.replace(p, 11, "can0");  // kMinimal's interface
		CHECK(describe(ok(kMinimal + yaml_line(k.path, value))) == minimal);
	}
}

TEST_CASE("docs/configuration.md documents every key", "[config]")

{
	const std::string doc = read_file(kDoc);
	// Every key the parser knows ...
	for (const auto& k : config_keys()) {
		INFO(k.path);
		CHECK_THAT(doc, Catch::Contains("`" + std::string(k.path) + "`"));
	}
	// ... and every key of the shipped example.
	std::set<std::string> keys;
	collect_keys(YAML::LoadFile(kExample), "", keys);
	CHECK(keys.size() + kAbsentFromExample.size() == config_keys().size());
	for (const auto& k : keys) {
		INFO(k);
		CHECK_THAT(doc, Catch::Contains("`" + k + "`"));
	}
}
