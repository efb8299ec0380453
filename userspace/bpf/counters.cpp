// SPDX-License-Identifier: Apache-2.0
#include "bpf/counters.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <vector>

#include "common/fd.h"
#include "common/json.h"
#include "common/logger.h"

namespace spsec {

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
	for (const auto& r : reason_table()) {
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

std::string format_counters_json(const CounterSnapshot& s, std::string_view ifname,
                                 std::string_view attach, std::string_view aes)
{
	Json counters = Json::object();
	for (const auto& r : reason_table())
		counters[std::string(r.name)] = s.by_reason[r.code];
	// the reasons under which a frame went on, so scripts tell drops apart without a copy of
	// the table
	Json passes = Json::array();
	for (const auto& r : reason_table())
		if (r.passed)
			passes.push_back(r.name);
	return json_line({{"interface", ifname},
	                  {"attach", attach.empty() ? Json() : Json(attach)},
	                  {"aes", aes.empty() ? Json() : Json(aes)},
	                  {"counters", std::move(counters)},
	                  {"passes", std::move(passes)}});
}

std::string prometheus_label(std::string_view v)
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

std::string format_prometheus(const CounterSnapshot& s, std::string_view ifname)
{
	std::string out =
	        "# HELP spsec_frames_total CAN frames handled by the spsec data plane, by "
	        "verdict reason.\n# TYPE spsec_frames_total counter\n";
	std::string iface = prometheus_label(ifname);
	for (const auto& r : reason_table()) {
		out.append(cat("spsec_frames_total{interface=\"", iface, "\",direction=\"",
		               r.direction, "\",verdict=\"", r.passed ? "pass" : "drop",
		               "\",reason=\"", r.name, "\"} ", s.by_reason[r.code], "\n"));
	}
	return out;
}

std::string format_prometheus_attached(std::string_view ifname, std::string_view mode)
{
	const std::string iface = prometheus_label(ifname);
	std::string out = cat(
	        "# HELP spsec_data_plane_attached 1 when the spsec programs are on the "
	        "interface (tcx links or tc filters).\n# TYPE spsec_data_plane_attached gauge\n"
	        "spsec_data_plane_attached{interface=\"",
	        iface, "\"} ", mode.empty() ? 0 : 1, "\n",
	        "# HELP spsec_data_plane_attach_mode 1 for how the spsec programs are attached: "
	        "tcx links (6.6+, cannot be replaced by other tools) or tc filters.\n"
	        "# TYPE spsec_data_plane_attach_mode gauge\n");
	for (std::string_view m : {"tc", "tcx"})
		out.append(cat("spsec_data_plane_attach_mode{interface=\"", iface, "\",mode=\"", m,
		               "\"} ", mode == m ? 1 : 0, "\n"));
	return out;
}

}  // namespace spsec
