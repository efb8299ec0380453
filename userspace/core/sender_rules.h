// SPDX-License-Identifier: Apache-2.0
// Sender rules: which local senders may use a secured transmit ID (config key `senders`,
// docs/configuration.md and docs/operations.md; the parsed rules are SenderRule in config.h).
// Pure model: the unit to cgroup path mapping, the rules as the data plane holds them, and the
// verdict the data plane's egress check computes
// (bpf/spsec_verdict.h: spsec_sender_check), which the bpf tier compares it with.
//
// A rule names IDs (one ID, a range or a mask) and the senders allowed for them: systemd units,
// cgroup v2 paths, uids or user names, gids or group names. A sender is allowed when ANY of them
// matches: its socket's uid is one of the uids (a group contributes its members' uids), or its
// socket's cgroup is one of the cgroups or below one. IDs no rule selects keep today's
// behaviour: any local socket may send them.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "spsec/result.h"

namespace spsec {

// The cgroup v2 path systemd gives a unit of the system manager, from the root:
//   "can-app.service" -> "/system.slice/can-app.service" (services, scopes, sockets, mounts,
//                        swaps live in system.slice unless the unit sets Slice=)
//   "can.slice"       -> "/can.slice";  "can-gw.slice" -> "/can.slice/can-gw.slice"
// nullopt when `unit` is not a unit name with a suffix that gets a cgroup (.service, .scope,
// .slice, .socket, .mount, .swap) or contains characters systemd does not allow.
[[nodiscard]] std::optional<std::string> unit_cgroup_path(std::string_view unit);
// A cgroup path as /proc/<pid>/cgroup shows it ("/system.slice/x.service"): absolute, not the
// root, no empty, "." or ".." components, no trailing '/', printable, at most 4000 characters.
[[nodiscard]] bool valid_cgroup_path(std::string_view path) noexcept;
// The depth of a valid cgroup path: "/a" is 1, "/a/b" 2 (the level bpf_skb_ancestor_cgroup_id
// takes).
[[nodiscard]] std::uint32_t cgroup_level(std::string_view path) noexcept;

// A rule as the data plane holds it: cgroups by id and level, and the allowed uids.
struct SenderCgroup {
	std::string path;      // from the cgroup v2 root
	std::uint64_t id = 0;  // 0: the cgroup does not exist (never matches: fail closed)
	std::uint32_t level = 0;
	friend bool operator==(const SenderCgroup&, const SenderCgroup&) = default;
};
struct ResolvedSenderRule {
	std::vector<SenderCgroup> cgroups;  // units first, then cgroups, in config order
	std::set<std::uint32_t> uids;       // users, and the members of groups
	friend bool operator==(const ResolvedSenderRule&, const ResolvedSenderRule&) = default;
};
// Index i holds rule i + 1 (spsec_policy.senders).
using SenderTable = std::vector<ResolvedSenderRule>;

// Frames of a rule's IDs the egress check allowed and refused (spsec_snd_count).
struct SenderRuleCount {
	std::uint64_t allowed = 0;
	std::uint64_t denied = 0;
};

// The sending socket as tc egress sees it.
struct SocketIdentity {
	bool full_socket = false;              // false: no socket sent the frame (forwarded)
	std::uint32_t uid = 0;                 // bpf_get_socket_uid()
	std::vector<std::uint64_t> ancestors;  // cgroup ids by level: [0] root ... [n] own cgroup
};
// 0 when `rule` allows the socket, else SPSEC_R_TX_SENDER_DENIED, or SPSEC_R_TX_SENDER_UNKNOWN
// without a full socket. The model of spsec_sender_check().
[[nodiscard]] std::uint32_t sender_verdict(const ResolvedSenderRule& rule,
                                           const SocketIdentity& who) noexcept;

}  // namespace spsec
