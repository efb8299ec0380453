// SPDX-License-Identifier: Apache-2.0
// Setting up a gateway (docs/gateway.md) from the configuration's `gateway:` section on a loaded
// data plane: the rules into its maps (GatewayMaps), its segment programs onto each plain
// segment's tc hooks, and each rule's can-gw jobs (common/can_gw.h). What spsecd does at start
// and on reload; tests/tools/spsec_dp_driver does the same for the vm tests.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <bpf/libbpf.h>

#include "bpf/gateway_maps.h"
#include "common/can_gw.h"
#include "core/gateway_rules.h"
#include "spsec/abi.h"
#include "spsec/result.h"

namespace spsec {

// What a gateway section needs on this node, with interface names resolved.
struct GatewayPlan {
	std::vector<spsec_gw_rule> rules;  // rule i = the configuration's rule i
	std::vector<CanGwJob> jobs;        // every rule's can-gw jobs (cangw_filters())
	std::vector<int> segments;         // ifindexes of the plain segments, in config order
};

using IfindexOf = std::function<Result<int>(const std::string&)>;

// Resolves the interfaces (secured: the data plane's interface). Errors: those of ifindex_of
// (a missing segment: ENODEV, named).
[[nodiscard]] Result<GatewayPlan> plan_gateway(const GatewayConfig& g, const std::string& secured,
                                               const IfindexOf& ifindex_of);

// The jobs to delete (jobs between the secured interface and a segment of the plan, or any
// interface in `old_segments`, in either direction, that the plan does not want) and to add
// (wanted, not there). Jobs between other interfaces are left alone.
struct JobChanges {
	std::vector<CanGwJob> remove;
	std::vector<CanGwJob> add;
};
[[nodiscard]] JobChanges job_changes(const std::vector<CanGwJobStats>& existing,
                                     const GatewayPlan& plan, int secured,
                                     const std::vector<int>& old_segments = {});

// Applies a plan to the loaded data-plane object `obj` of the secured interface, in the order
// that never lets more cross than the old or the new rules allow: (1) spsec_gw_in/out on every
// segment (left attached when the caller exits: fail closed), (2) the jobs the plan no longer
// wants deleted, (3) the rules switched (one word), (4) the missing jobs added. An empty plan
// (no gateway section) removes every job to and from `old_segments` and installs no rules.
// Errors: named; an error leaves a state between the old and the new plan, never a job without
// its rule's segment programs.
[[nodiscard]] Result<void> apply_gateway(bpf_object* obj, GatewayMaps& maps,
                                         const GatewayPlan& plan, int secured,
                                         const std::vector<int>& old_segments = {});

// apply_gateway() in two halves, for a reload that also changes the data plane's policy:
// the first (segment programs, job deletions, rules) before the new policy is installed, the
// second (job additions) after it. So a job never forwards an ID the live policy does not
// verify: an ID the new policy stops securing loses its job first, one it starts securing
// gets its job only once ingress verifies it.
[[nodiscard]] Result<void> apply_gateway_before_policy(bpf_object* obj, GatewayMaps& maps,
                                                       const GatewayPlan& plan, int secured,
                                                       const std::vector<int>& old_segments);
[[nodiscard]] Result<void> apply_gateway_after_policy(const GatewayPlan& plan, int secured,
                                                      const std::vector<int>& old_segments);

}  // namespace spsec
