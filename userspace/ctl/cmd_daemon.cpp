// SPDX-License-Identifier: Apache-2.0
// spsecctl status / events / stats: talking to a running spsecd over its control socket, and
// reading the data plane's pinned counters directly (which works while spsecd is down).
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <bpf/libbpf.h>
#include <net/if.h>

#include "bpf/counters.h"
#include "bpf/gateway_maps.h"
#include "bpf/kernel_features.h"
#include "bpf/tc_attachment.h"
#include "common/atomic_file.h"
#include "common/control_client.h"
#include "common/json.h"
#include "common/logger.h"
#include "ctl/commands.h"
#include "spsec/abi.h"

namespace spsec::ctl {

namespace {

constexpr const char* kRunDir = "/run/spsec";

int usage_error(const cli::Spec& spec, const std::string& msg)
{
	std::fputs(cli::usage_message(spec.command, msg).c_str(), stderr);
	return 2;
}

// Parses a verb's argv (argv[0] is the verb) with `spec`. Returns the arguments, or the exit
// code: 0 after printing `usage` for --help, 2 after a usage error.
tl::expected<cli::Args, int> parse_verb(const cli::Spec& spec, int argc, char** argv,
                                        const std::string& usage)
{
	auto a = cli::parse(
	        spec, std::span<char* const>(argv + 1,
	                                     static_cast<std::size_t>(argc > 0 ? argc - 1 : 0)));
	if (!a)
		return tl::unexpected(usage_error(spec, a.error().message));
	if (a->help) {
		std::printf("usage: %s\n", usage.c_str());
		return tl::unexpected(0);
	}
	return std::move(*a);
}

// The one entry of `dir` whose name ends in `suffix` (e.g. the only control socket), or an error
// naming what was found, so a single-interface node needs no option.
Result<std::string> only_entry(const std::string& dir, std::string_view suffix, const char* what)
{
	std::vector<std::string> found;
	std::error_code ec;
	for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
		std::string n = e.path().filename().string();
		if (n.size() >= suffix.size() &&
		    n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0)
			found.push_back(e.path().string());
	}
	if (found.size() == 1)
		return found[0];
	if (found.empty())
		return fail(
		        cat("no ", what, " in ", dir, " (is spsecd running? give --interface)"));
	std::string list;
	for (const auto& f : found)
		list += " " + f;
	return fail(cat("several ", what, "s in ", dir, ", choose with --interface:", list));
}

constexpr cli::Option kStatusOptions[] = {
        {"socket", "PATH"}, {"interface", "IF", 'i'}, {"json", ""}};
constexpr cli::Option kEventsOptions[] = {{"socket", "PATH"}, {"interface", "IF", 'i'}};
constexpr cli::Option kCommissionOptions[] = {
        {"socket", "PATH"}, {"interface", "IF", 'i'}, {"window", "DURATION"}, {"close", ""}};
constexpr cli::Option kStatsOptions[] = {{"pin-dir", "DIR"},
                                         {"interface", "IF", 'i'},
                                         {"json", ""},
                                         {"all", ""},
                                         {"prometheus", "FILE"}};

// The control socket named by --socket or --interface, else the only one in /run/spsec.
// Returns it, or the exit code after printing the error (2 usage, 1 none found).
tl::expected<std::string, int> socket_path(const cli::Spec& spec, const cli::Args& a)
{
	const std::string* socket = a.value("socket");
	const std::string* iface = a.value("interface");
	if (socket != nullptr && iface != nullptr)
		return tl::unexpected(usage_error(spec, "give --socket or --interface, not both"));
	if (socket != nullptr)
		return *socket;
	if (iface != nullptr)
		return cat(kRunDir, "/", *iface, ".sock");
	auto s = only_entry(kRunDir, ".sock", "control socket");
	if (!s) {
		std::fprintf(stderr, "%s: %s\n", std::string(spec.command).c_str(),
		             s.error().message().c_str());
		return tl::unexpected(1);
	}
	return *s;
}

}  // namespace

namespace spec {
const cli::Spec status{"spsecctl status", kStatusOptions, 0};
const cli::Spec events{"spsecctl events", kEventsOptions, 0};
const cli::Spec commission{"spsecctl commission", kCommissionOptions, 0};
const cli::Spec stats{"spsecctl stats", kStatsOptions, 0};
const cli::Spec senders{"spsecctl senders", kStatusOptions, 0};
}  // namespace spec

std::string peer_offset_lines(const Json& status)
{
	std::string out;
	const Json* peers = json_member(status, "peers");
	if (peers == nullptr || !peers->is_array())
		return out;
	for (const Json& p : *peers) {
		const Json* pp = json_member(p, "pp");
		const Json* off = json_member(p, "offset_us");
		if (pp == nullptr || off == nullptr || !off->is_number_integer())
			continue;
		auto ms = [](const Json* us) {
			char buf[32];
			std::snprintf(buf, sizeof buf, "%.2f",
			              us->is_number_integer()
			                      ? static_cast<double>(us->get<std::int64_t>()) /
			                                1000.0
			                      : 0.0);
			return std::string(buf);
		};
		out += cat("peer ", json_line(*pp), ": offset ", ms(off), " ms");
		const Json* last = json_member(p, "offset_last_us");
		const Json* n = json_member(p, "offset_samples");
		if (last != nullptr && n != nullptr)
			out += cat(" (last ", ms(last), " ms, ", json_line(*n), " heartbeats)");
		out += "\n";
	}
	return out;
}

int cmd_status(int argc, char** argv)
{
	auto a = parse_verb(spec::status, argc, argv,
	                    "spsecctl status [--socket PATH | --interface IF] [--json]");
	if (!a)
		return a.error();
	auto socket = socket_path(spec::status, *a);
	if (!socket)
		return socket.error();
	const bool json = a->has("json");
	auto fd = control_connect(*socket, 5000);
	if (!fd) {
		std::fprintf(stderr, "spsecctl status: %s\n", fd.error().message().c_str());
		return 1;
	}
	std::string buf;
	auto w = control_write(fd->get(), json_line({{"cmd", "status"}}) + "\n");
	auto line = w ? control_read_line(fd->get(), buf) : tl::unexpected(w.error());
	if (!line) {
		std::fprintf(stderr, "spsecctl status: %s\n", line.error().message().c_str());
		return 1;
	}
	auto v = parse_json(*line);
	if (!v) {
		std::fprintf(stderr, "spsecctl status: spsecd sent invalid JSON: %s\n",
		             v.error().message().c_str());
		return 1;
	}
	if (const Json* e = json_member(*v, "error")) {
		std::fprintf(stderr, "spsecctl status: spsecd refused: %s\n",
		             e->is_string() ? e->get<std::string>().c_str()
		                            : json_line(*e).c_str());
		return 1;
	}
	if (json)
		std::printf("%s\n", line->c_str());
	else
		std::fputs((json_to_text(*v) + peer_offset_lines(*v)).c_str(), stdout);
	return 0;
}

std::string senders_text(const Json& reply)
{
	const auto list = [](const Json* a, std::string_view prefix) {
		std::string out;
		if (a == nullptr || !a->is_array())
			return out;
		for (const auto& v : *a)
			out += (out.empty() ? "" : ", ") + std::string(prefix) +
			       (v.is_string() ? v.get<std::string>() : json_line(v));
		return out;
	};
	std::string out;
	const Json* rules = json_member(reply, "rules");
	if (rules == nullptr || !rules->is_array() || rules->empty())
		out += "no sender rules: any local process may send every transmit ID\n";
	for (const auto& r : rules != nullptr && rules->is_array() ? *rules : Json::array()) {
		out += cat("rule ", json_u64(r, "rule").value_or(0), " (line ",
		           json_u64(r, "line").value_or(0), "): ids ",
		           list(json_member(r, "ids"), ""), "\n");
		const Json* res = json_member(r, "resolved");
		const Json* cgs = res != nullptr ? json_member(*res, "cgroups") : nullptr;
		std::size_t k = 0;
		const auto named = [&](const char* key, const char* what) {
			const Json* a = json_member(r, key);
			if (a == nullptr || !a->is_array())
				return;
			for (const auto& v : *a) {
				out += cat("  ", what, " ",
				           v.is_string() ? v.get<std::string>() : "?");
				if (cgs != nullptr && cgs->is_array() && k < cgs->size()) {
					const Json& cg = (*cgs)[k++];
					const auto id = json_u64(cg, "id").value_or(0);
					const Json* path = json_member(cg, "path");
					out += cat(": cgroup ",
					           path != nullptr && path->is_string()
					                   ? path->get<std::string>()
					                   : std::string("?"),
					           id != 0 ? cat(", id ", id)
					                   : std::string(", does not exist now "
					                                 "(refused)"));
				}
				out += "\n";
			}
		};
		named("units", "unit");
		named("cgroups", "cgroup");
		const std::string who =
		        list(json_member(r, "users"), "user ") +
		        (json_member(r, "users") != nullptr && !json_member(r, "users")->empty() &&
		                         json_member(r, "groups") != nullptr &&
		                         !json_member(r, "groups")->empty()
		                 ? ", "
		                 : "") +
		        list(json_member(r, "groups"), "group ");
		if (!who.empty()) {
			const std::string uids = res != nullptr
			                                 ? list(json_member(*res, "uids"), "")
			                                 : std::string();
			out += cat("  ", who, ": uids ", uids.empty() ? std::string("none") : uids,
			           "\n");
		}
		out += cat("  allowed ", json_u64(r, "allowed").value_or(0), ", denied ",
		           json_u64(r, "denied").value_or(0), "\n");
	}
	out += cat("tx_sender_denied ", json_u64(reply, "tx_sender_denied").value_or(0),
	           ", tx_sender_unknown ", json_u64(reply, "tx_sender_unknown").value_or(0), "\n");
	if (const Json* notes = json_member(reply, "notes"); notes != nullptr && notes->is_array())
		for (const auto& n : *notes)
			if (n.is_string())
				out += "note: " + n.get<std::string>() + "\n";
	return out;
}

int cmd_senders(int argc, char** argv)
{
	auto a = parse_verb(spec::senders, argc, argv,
	                    "spsecctl senders [--socket PATH | --interface IF] [--json]");
	if (!a)
		return a.error();
	auto socket = socket_path(spec::senders, *a);
	if (!socket)
		return socket.error();
	auto fd = control_connect(*socket, 5000);
	if (!fd) {
		std::fprintf(stderr, "spsecctl senders: %s\n", fd.error().message().c_str());
		return 1;
	}
	std::string buf;
	auto w = control_write(fd->get(), json_line({{"cmd", "senders"}}) + "\n");
	auto line = w ? control_read_line(fd->get(), buf) : tl::unexpected(w.error());
	if (!line) {
		std::fprintf(stderr, "spsecctl senders: %s\n", line.error().message().c_str());
		return 1;
	}
	auto v = parse_json(*line);
	if (!v) {
		std::fprintf(stderr, "spsecctl senders: spsecd sent invalid JSON: %s\n",
		             v.error().message().c_str());
		return 1;
	}
	if (const Json* e = json_member(*v, "error")) {
		std::fprintf(stderr, "spsecctl senders: spsecd refused: %s\n",
		             e->is_string() ? e->get<std::string>().c_str()
		                            : json_line(*e).c_str());
		return 1;
	}
	if (a->has("json"))
		std::printf("%s\n", line->c_str());
	else
		std::fputs(senders_text(*v).c_str(), stdout);
	return 0;
}

namespace {

// How the spsec programs are on the interface now: tcx links pinned in `pin_dir` or the spsec tc
// filters (handle 1, priority 1), both directions; nullopt when not (a re-created interface has
// none until spsecd attaches again). Works while spsecd is down.
std::optional<AttachMode> data_plane_attached(const std::string& ifname, const std::string& pin_dir,
                                              std::string* aes = nullptr)
{
	auto st = TcAttachment::query(ifname, pin_dir);
	if (!st || st->ingress_prog_id == 0 || st->egress_prog_id == 0)
		return std::nullopt;
	// which object the attached programs come from (kernel AES or T-table): from the kernel
	if (aes != nullptr)
		if (auto a = aes_of_program(st->ingress_prog_id); a)
			*aes = aes_impl_name(*a);
	return st->mode;
}

// "600", "600s", "10m", "1h" -> seconds; nullopt when malformed.
std::optional<std::uint64_t> parse_window(std::string_view v)
{
	std::uint64_t unit = 1;
	if (!v.empty() && (v.back() == 's' || v.back() == 'm' || v.back() == 'h')) {
		unit = v.back() == 's' ? 1 : v.back() == 'm' ? 60 : 3600;
		v.remove_suffix(1);
	}
	std::uint64_t n = 0;
	auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
	if (v.empty() || ec != std::errc() || p != v.data() + v.size() || n > 1'000'000)
		return std::nullopt;
	return n * unit;
}

}  // namespace

int cmd_commission(int argc, char** argv)
{
	const char* usage =
	        "spsecctl commission [--socket PATH | --interface IF] (--window DURATION | "
	        "--close)\n"
	        "  Opens the node's commissioning window: for DURATION (e.g. 10m; at most 1h) a\n"
	        "  Zero-Key session may install the Provisioning Key although the node holds "
	        "keys.\n"
	        "  It closes after that one install, at the end of DURATION, or with --close. Root "
	        "only.";
	auto a = parse_verb(spec::commission, argc, argv, usage);
	if (!a)
		return a.error();
	std::optional<std::uint64_t> window;
	if (const std::string* w = a->value("window")) {
		window = parse_window(*w);
		if (!window || *window == 0)
			return usage_error(spec::commission,
			                   cat("--window '", *w,
			                       "': expected a duration such as 600s, 10m or 1h"));
	}
	const bool close = a->has("close");
	if (window.has_value() == close)
		return usage_error(spec::commission, "give --window DURATION or --close");
	auto socket = socket_path(spec::commission, *a);
	if (!socket)
		return socket.error();
	auto fd = control_connect(*socket, 5000);
	if (!fd) {
		std::fprintf(stderr, "spsecctl commission: %s\n", fd.error().message().c_str());
		return 1;
	}
	const std::string req =
	        json_line(close ? Json{{"cmd", "commission"}, {"close", true}}
	                        : Json{{"cmd", "commission"}, {"window_s", *window}}) +
	        "\n";
	std::string buf;
	auto w = control_write(fd->get(), req);
	auto line = w ? control_read_line(fd->get(), buf) : tl::unexpected(w.error());
	if (!line) {
		std::fprintf(stderr, "spsecctl commission: %s\n", line.error().message().c_str());
		return 1;
	}
	auto v = parse_json(*line);
	if (!v || !json_bool(*v, "ok").value_or(false)) {
		const auto e = v ? json_string(*v, "error") : std::nullopt;
		std::fprintf(stderr, "spsecctl commission: spsecd refused: %s\n",
		             e ? std::string(*e).c_str() : line->c_str());
		return 1;
	}
	if (close)
		std::printf("commissioning window closed\n");
	else
		std::printf(
		        "commissioning window open for %llu s: a Zero-Key session may now install "
		        "the Provisioning Key once\n",
		        static_cast<unsigned long long>(*window));
	return 0;
}

int cmd_events(int argc, char** argv)
{
	const char* usage = "spsecctl events [--socket PATH | --interface IF]   (JSON lines until "
	                    "spsecd stops or Ctrl-C)";
	auto a = parse_verb(spec::events, argc, argv, usage);
	if (!a)
		return a.error();
	auto socket = socket_path(spec::events, *a);
	if (!socket)
		return socket.error();
	// No receive timeout: events can be minutes apart.
	auto fd = control_connect(*socket, 0);
	if (!fd) {
		std::fprintf(stderr, "spsecctl events: %s\n", fd.error().message().c_str());
		return 1;
	}
	if (auto w = control_write(fd->get(), json_line({{"cmd", "events"}}) + "\n"); !w) {
		std::fprintf(stderr, "spsecctl events: %s\n", w.error().message().c_str());
		return 1;
	}
	std::string buf;
	auto first = control_read_line(fd->get(), buf);
	if (!first || *first != R"({"subscribed":true})") {
		std::fprintf(stderr, "spsecctl events: subscription refused: %s\n",
		             first ? first->c_str() : first.error().message().c_str());
		return 1;
	}
	for (;;) {
		auto line = control_read_line(fd->get(), buf);
		if (!line) {
			std::fprintf(stderr, "spsecctl events: %s\n",
			             line.error().message().c_str());
			return 1;
		}
		std::printf("%s\n", line->c_str());
		std::fflush(stdout);  // followers (jq, tee) see each event at once
	}
}

int cmd_stats(int argc, char** argv)
{
	const char* usage = "spsecctl stats [--pin-dir DIR | --interface IF] [--json] [--all] "
	                    "[--prometheus FILE]";
	auto a = parse_verb(
	        spec::stats, argc, argv,
	        cat(usage, "\n  reads ", SPSEC_PIN_ROOT, "/<IF>/", SPSEC_MAP_COUNTERS,
	            " (root or CAP_BPF); works while spsecd is down.\n  --prometheus FILE writes "
	            "the node_exporter textfile format atomically (FILE should end in .prom)."));
	if (!a)
		return a.error();
	auto opt = [&](const char* name) {
		const std::string* v = a->value(name);
		return v != nullptr ? *v : std::string();
	};
	std::string pin_dir = opt("pin-dir"), iface = opt("interface"), prom = opt("prometheus");
	const bool json = a->has("json"), all = a->has("all");
	if (a->has("pin-dir") && a->has("interface"))
		return usage_error(spec::stats, "give --pin-dir or --interface, not both");
	if (!iface.empty())
		pin_dir = cat(SPSEC_PIN_ROOT, "/", iface);
	if (pin_dir.empty()) {
		auto d = only_entry(SPSEC_PIN_ROOT, "", "pinned data plane");
		if (!d) {
			std::fprintf(stderr, "spsecctl stats: %s\n", d.error().message().c_str());
			return 1;
		}
		pin_dir = *d;
	}
	if (iface.empty())
		iface = std::filesystem::path(pin_dir).filename().string();

	auto snap = read_pinned_counters(pin_dir);
	if (!snap) {
		std::fprintf(stderr, "spsecctl stats: %s\n", snap.error().message().c_str());
		return 1;
	}
	std::string aes;
	const std::optional<AttachMode> mode = data_plane_attached(iface, pin_dir, &aes);
	const bool attached = mode.has_value();
	// a gateway's rules with their counters (docs/gateway.md); nothing on other nodes
	auto gw = read_pinned_gateway(pin_dir);
	if (!gw) {
		std::fprintf(stderr, "spsecctl stats: %s\n", gw.error().message().c_str());
		return 1;
	}
	if (!prom.empty()) {
		auto w = write_file_atomic(
		        prom,
		        format_prometheus(*snap, iface) +
		                format_prometheus_attached(iface,
		                                           mode ? attach_mode_name(*mode) : "") +
		                format_prometheus_gateway(*gw, iface),
		        0644);
		if (!w) {
			std::fprintf(stderr, "spsecctl stats: %s\n", w.error().message().c_str());
			return 1;
		}
		if (!json && !all)
			return 0;  // cron/timer use: quiet
	}
	if (json) {
		std::string line = format_counters_json(*snap, iface,
		                                        mode ? attach_mode_name(*mode) : "", aes);
		if (!gw->empty()) {
			auto doc = parse_json(line);
			if (doc) {
				(*doc)["gateway"] = format_gateway_json(*gw);
				line = json_line(*doc);
			}
		}
		std::printf("%s\n", line.c_str());
	} else {
		std::fputs(format_counters_text(*snap, all).c_str(), stdout);
		if (mode)
			std::fputs(cat("attached to ", iface, " with ",
			               *mode == AttachMode::Tcx ? "tcx links" : "tc filters", "\n")
			                   .c_str(),
			           stdout);
		std::fputs(format_gateway_text(*gw).c_str(), stdout);
	}
	if (!attached)
		std::fprintf(
		        stderr,
		        "spsecctl stats: warning: the spsec programs (tcx links or tc filters) "
		        "are not attached to %s "
		        "(interface gone or re-created?)\n",
		        iface.c_str());
	return 0;
}

}  // namespace spsec::ctl
