// SPDX-License-Identifier: Apache-2.0
// The kernel's CAN gateway (can-gw, net/can/gw.c) over rtnetlink, for the gateway's forwarding
// jobs (docs/gateway.md): add and delete a CAN FD job with one receive filter, and list the jobs
// with their frame counts. What `cangw -A/-D/-L` does, without running it.
//
// A job is (source interface, destination interface, filter): can-gw registers a CAN receiver
// on the source with the filter ((can_id & mask) == (id & mask)) and sends each frame it gets
// through can_send() on the destination, i.e. through that interface's tc egress. Jobs are
// always CAN FD (CGW_FLAGS_CAN_FD) and may send back to a frame's originating ifindex
// (CGW_FLAGS_CAN_IIF_TX_OK: ifindexes are per network namespace, so a frame from a vxcan peer
// can carry the destination's index by coincidence; source and destination always differ),
// and never echo (CGW_FLAGS_CAN_ECHO: the echo would carry no socket). Needs CAP_NET_ADMIN in
// the network namespace and the can-gw module (the kernel loads it on first use).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "spsec/result.h"

namespace spsec {

struct CanGwJob {
	int src_ifindex = 0;
	int dst_ifindex = 0;
	std::uint32_t filter_id = 0;    // struct can_filter can_id
	std::uint32_t filter_mask = 0;  // struct can_filter can_mask
};

struct CanGwJobStats {
	CanGwJob job;
	bool fd = false;
	std::uint32_t handled = 0;  // frames the job sent (CGW_HANDLED)
	std::uint32_t dropped = 0;  // frames it could not send (CGW_DROPPED)
};

// Adds the job. Errors: no such interface (ENODEV), no privilege (EPERM), the kernel refused
// (its errno, named with the interfaces).
[[nodiscard]] Result<void> cangw_add(const CanGwJob& job);
// Deletes the job with exactly these fields. Errors: as cangw_add; no such job (EINVAL from the
// kernel).
[[nodiscard]] Result<void> cangw_delete(const CanGwJob& job);
// Every CAN-to-CAN job of this network namespace, with its counts. Errors: netlink failures.
[[nodiscard]] Result<std::vector<CanGwJobStats>> cangw_list();

}  // namespace spsec
