// SPDX-License-Identifier: Apache-2.0
// The data plane's per-reason frame counters (spsec_counters, a pinned PERCPU_ARRAY indexed by
// SPSEC_R_*): names, reading them straight from bpffs (so `spsecctl stats` works while spsecd is
// down) and rendering them for humans, JSON and the Prometheus node_exporter textfile collector.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/reasons.h"
#include "spsec/abi.h"
#include "spsec/result.h"

namespace spsec {

// Opens <pin_dir>/spsec_counters with bpf_obj_get and sums every reason over the possible CPUs.
// Errors: not pinned (ENOENT: data plane not loaded on that interface), EPERM (needs root or
// CAP_BPF), the pinned object is not the expected PERCPU_ARRAY of __u64 (ABI mismatch).
[[nodiscard]] Result<CounterSnapshot> read_pinned_counters(const std::string& pin_dir);

// "reason count" table for humans, non-zero counters only unless `all`.
[[nodiscard]] std::string format_counters_text(const CounterSnapshot& s, bool all);
// {"interface":"can0","attach":"tcx","aes":"kernel","counters":{"rx_ok":12,...},
// "passes":["rx_ok",...]}: every defined reason, and the names of those whose verdict is pass.
// attach: how the programs are on the interface now ("tcx" links or "tc" filters), aes: which
// AES the attached programs use ("kernel" or "bpf"); each null when empty (not attached).
[[nodiscard]] std::string format_counters_json(const CounterSnapshot& s, std::string_view ifname,
                                               std::string_view attach = {},
                                               std::string_view aes = {});
// A Prometheus label value: backslash, double quote and newline escaped.
[[nodiscard]] std::string prometheus_label(std::string_view v);
// node_exporter textfile format: one spsec_frames_total sample per defined reason.
[[nodiscard]] std::string format_prometheus(const CounterSnapshot& s, std::string_view ifname);
// The gauge spsec_data_plane_attached{interface=...} 0|1 in the same format: 0 while neither the
// spsec tcx links nor the spsec tc filters are on the interface (gone, or re-created and not
// attached yet). Then spsec_data_plane_attach_mode{interface=...,mode="tc"|"tcx"}, a state set:
// 1 for the mode in use (`mode`: "tc" or "tcx"), 0 for the other; both 0 when `mode` is empty
// (not attached). Separate from the gauge, so that the gauge's series never changes labels.
[[nodiscard]] std::string format_prometheus_attached(std::string_view ifname,
                                                     std::string_view mode);

}  // namespace spsec
