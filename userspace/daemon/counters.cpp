// SPDX-License-Identifier: Apache-2.0
#include "daemon/counters.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <vector>

#include "daemon/fd.h"
#include "daemon/json.h"
#include "daemon/logger.h"

namespace spsec {

namespace {

constexpr ReasonInfo kReasons[] = {
        {SPSEC_R_RX_OK, "rx_ok", "rx", true, "verified and delivered as the plain frame"},
        {SPSEC_R_RX_CONTROL, "rx_control", "rx", true, "control-plane frame passed to spsecd"},
        {SPSEC_R_RX_PLAIN, "rx_plain", "rx", true, "plaintext-allowed ID"},
        {SPSEC_R_RX_LOCAL_ECHO, "rx_local_echo", "rx", true, "local echo of an own frame"},
        {SPSEC_R_RX_ERROR_FRAME, "rx_error_frame", "rx", true, "CAN error frame"},
        {SPSEC_R_RX_DEFAULT_PASS, "rx_default_pass", "rx", true, "unknown ID, default pass"},
        {SPSEC_R_RX_NOT_SECURE, "rx_not_secure", "rx", false, "node not in Secure/Warning"},
        {SPSEC_R_RX_UNKNOWN_ID, "rx_unknown_id", "rx", false, "unknown ID, default drop"},
        {SPSEC_R_RX_CLASSIC, "rx_classic", "rx", false, "classical CAN frame for a secured ID"},
        {SPSEC_R_RX_BAD_LENGTH, "rx_bad_length", "rx", false, "not a valid secured length"},
        {SPSEC_R_RX_BAD_PAD_COUNT, "rx_bad_pad_count", "rx", false, "pad count out of range"},
        {SPSEC_R_RX_BAD_PAD_BYTES, "rx_bad_pad_bytes", "rx", false, "padding not all 0xFF"},
        {SPSEC_R_RX_OUTSIDE_WINDOW, "rx_outside_window", "rx", false,
         "timestamp outside the acceptance window"},
        {SPSEC_R_RX_NO_KEY, "rx_no_key", "rx", false, "no live key for the frame's window"},
        {SPSEC_R_RX_BAD_TAG, "rx_bad_tag", "rx", false, "AEAD tag mismatch"},
        {SPSEC_R_RX_REPLAY, "rx_replay", "rx", false, "T not newer than the last accepted"},
        {SPSEC_R_RX_INJECTION, "rx_injection", "rx", false, "own transmit ID from the bus"},
        {SPSEC_R_RX_NO_CLOCK, "rx_no_clock", "rx", false, "clock not synchronized"},
        {SPSEC_R_RX_MALFORMED, "rx_malformed", "rx", false, "neither CAN nor CAN FD"},
        {SPSEC_R_RX_CONTROL_INJECTION, "rx_control_injection", "rx", false,
         "control frame with our own source ID from the bus"},
        {SPSEC_R_TX_OK, "tx_ok", "tx", true, "padded, stamped (and encrypted)"},
        {SPSEC_R_TX_CONTROL, "tx_control", "tx", true, "control-plane frame from spsecd"},
        {SPSEC_R_TX_PLAIN, "tx_plain", "tx", true, "plaintext-allowed ID"},
        {SPSEC_R_TX_DEFAULT_PASS, "tx_default_pass", "tx", true, "unknown ID, default pass"},
        {SPSEC_R_TX_NOT_SECURE, "tx_not_secure", "tx", false, "node not in Secure/Warning"},
        {SPSEC_R_TX_TOO_LONG, "tx_too_long", "tx", false, "payload over 54 bytes"},
        {SPSEC_R_TX_CLASSIC, "tx_classic", "tx", false, "classical CAN frame for a secured ID"},
        {SPSEC_R_TX_NO_KEY, "tx_no_key", "tx", false, "no live key for the current window"},
        {SPSEC_R_TX_UNKNOWN_ID, "tx_unknown_id", "tx", false, "unknown ID, default drop"},
        {SPSEC_R_TX_NO_CLOCK, "tx_no_clock", "tx", false, "clock not synchronized"},
        {SPSEC_R_TX_MALFORMED, "tx_malformed", "tx", false, "neither CAN nor CAN FD"},
        {SPSEC_R_TX_CONTROL_UNMARKED, "tx_control_unmarked", "tx", false,
         "control-plane frame not sent by spsecd"},
};

// Prometheus label values escape backslash, double quote and newline.
std::string prom_label(std::string_view v)
{
	std::string out;
	for (char c : v) {
		if (c == '\\' || c == '"') {
			out.push_back('\\');
			out.push_back(c);
		} else if (c == '\n') {
			out.append("\\n");
		} else {
			out.push_back(c);
		}
	}
	return out;
}

}  // namespace

std::span<const ReasonInfo> reason_table() noexcept
{
	return kReasons;
}

const ReasonInfo* reason_info(std::uint32_t code) noexcept
{
	for (const auto& r : kReasons)
		if (r.code == code)
			return &r;
	return nullptr;
}

Result<CounterSnapshot> read_pinned_counters(const std::string& pin_dir)
{
	std::string path = pin_dir + "/" SPSEC_MAP_COUNTERS;
	Fd fd(::bpf_obj_get(path.c_str()));
	if (!fd.valid()) {
		int e = errno;
		if (e == ENOENT)
			return fail_errno(
			        e, cat("opening ", path,
			               " (is the spsec data plane loaded on this interface?)"));
		return fail_errno(e, cat("opening ", path));
	}
	bpf_map_info info{};
	__u32 len = sizeof info;
	if (::bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0)
		return fail_errno(errno, cat("inspecting ", path));
	if (info.type != BPF_MAP_TYPE_PERCPU_ARRAY || info.key_size != 4 || info.value_size != 8)
		return fail(cat(path, " is not a PERCPU_ARRAY of __u64 (type ", info.type, ", key ",
		                info.key_size, " B, value ", info.value_size, " B): ABI mismatch"));
	int ncpu = ::libbpf_num_possible_cpus();
	if (ncpu <= 0)
		return fail_errno(-ncpu, "counting possible CPUs");
	// Per-CPU values are copied out for every possible CPU, each rounded up to 8 bytes.
	std::vector<std::uint64_t> per_cpu(static_cast<std::size_t>(ncpu));
	CounterSnapshot s;
	std::uint32_t n = info.max_entries < SPSEC_R_MAX ? info.max_entries : SPSEC_R_MAX;
	for (std::uint32_t key = 0; key < n; key++) {
		if (::bpf_map_lookup_elem(fd.get(), &key, per_cpu.data()) != 0)
			return fail_errno(errno, cat("reading ", path, " entry ", key));
		std::uint64_t sum = 0;
		for (std::uint64_t v : per_cpu)
			sum += v;
		s.by_reason[key] = sum;
	}
	return s;
}

std::string format_counters_text(const CounterSnapshot& s, bool all)
{
	std::string out;
	for (const auto& r : kReasons) {
		std::uint64_t v = s.by_reason[r.code];
		if (v == 0 && !all)
			continue;
		char line[160];
		std::snprintf(line, sizeof line, "%-22s %-4s %20llu  %.*s\n",
		              std::string(r.name).c_str(), r.passed ? "pass" : "drop",
		              static_cast<unsigned long long>(v), static_cast<int>(r.help.size()),
		              r.help.data());
		out.append(line);
	}
	if (out.empty())
		out = "no frames counted yet\n";
	return out;
}

std::string format_counters_json(const CounterSnapshot& s, std::string_view ifname)
{
	JsonWriter w;
	w.begin_object().key("interface").value(ifname).key("counters").begin_object();
	for (const auto& r : kReasons)
		w.key(r.name).value(s.by_reason[r.code]);
	w.end_object().end_object();
	return w.take();
}

std::string format_prometheus(const CounterSnapshot& s, std::string_view ifname)
{
	std::string out =
	        "# HELP spsec_frames_total CAN frames handled by the spsec data plane, by "
	        "verdict reason.\n# TYPE spsec_frames_total counter\n";
	std::string iface = prom_label(ifname);
	for (const auto& r : kReasons) {
		out.append(cat("spsec_frames_total{interface=\"", iface, "\",direction=\"",
		               r.direction, "\",verdict=\"", r.passed ? "pass" : "drop",
		               "\",reason=\"", r.name, "\"} ", s.by_reason[r.code], "\n"));
	}
	return out;
}

std::string format_prometheus_attached(std::string_view ifname, bool attached)
{
	return cat("# HELP spsec_data_plane_attached 1 when both spsec tc filters are on the "
	           "interface.\n# TYPE spsec_data_plane_attached gauge\n"
	           "spsec_data_plane_attached{interface=\"",
	           prom_label(ifname), "\"} ", attached ? 1 : 0, "\n");
}

}  // namespace spsec
