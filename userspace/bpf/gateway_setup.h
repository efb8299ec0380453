// SPDX-License-Identifier: Apache-2.0
// Setting up a gateway (docs/gateway.md) from the configuration's `gateway:` section on a loaded
// data plane: the rules into its maps (GatewayMaps), its segment programs onto each plain
// segment's tc hooks, and each rule's can-gw jobs (common/can_gw.h). What spsecd does at start
// and on reload; tests/tools/spsec_dp_driver does the same for the vm tests.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <bpf/libbpf.h>

#include "bpf/gateway_maps.h"
#include "bpf/tc_attachment.h"
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

// How the segment programs are attached: like the secured interface (the caller passes its
// mode), tcx links pinned per segment in segment_pin_dir(pin_dir, name) so that they stay when
// the caller exits (fail closed) and a restarted caller swaps its programs into the same links.
struct SegmentAttach {
	std::optional<AttachMode> mode;  // nullopt: probe each segment (tcx_supported())
	// The data plane's pin directory. Empty: tcx links are not pinned and live only as long
	// as the process (tests only).
	std::string pin_dir;
};

// <pin_dir>/gw/<segment>: where a segment's tcx links are pinned (spsec_tcx_ingress,
// spsec_tcx_egress, as TcAttachment names them).
[[nodiscard]] std::string segment_pin_dir(const std::string& pin_dir, const std::string& segment);

// The segment programs one apply attached to segments that had none of spsec's before. commit()
// leaves them attached (pinned tcx links stay by their pins, tc filters anyway); undo() detaches
// them again and removes the pin directories the apply made, for a reload that is rolled back
// (an administrator's own can-gw jobs through such a segment must not be filtered by a
// configuration that never went live). Destroyed without either: committed.
class SegmentGuards {
public:
	SegmentGuards() = default;
	SegmentGuards(SegmentGuards&&) noexcept = default;
	SegmentGuards& operator=(SegmentGuards&& o) noexcept;
	SegmentGuards(const SegmentGuards&) = delete;
	SegmentGuards& operator=(const SegmentGuards&) = delete;
	~SegmentGuards() { commit(); }

	void commit() noexcept;
	// Errors: the kernel refused a detach (the others are still detached); named.
	[[nodiscard]] Result<void> undo();
	// The names of the segments this apply attached first (for messages and tests).
	[[nodiscard]] const std::vector<std::string>& fresh() const noexcept { return names_; }

private:
	friend Result<SegmentGuards> attach_segments(bpf_object*, const GatewayPlan&,
	                                             const SegmentAttach&);
	std::vector<TcAttachment> fresh_;
	std::vector<std::string> names_;
	std::vector<std::string> made_dirs_;  // innermost last
};

// Attaches spsec_gw_in/out of `obj` to every segment of the plan (replacing spsec's programs
// there: tc filter replace, or BPF_LINK_UPDATE of the pinned links; a stale pin, its segment
// re-created, is replaced by a new link). Errors: named; the segments this call attached first
// before the error are detached again.
[[nodiscard]] Result<SegmentGuards> attach_segments(bpf_object* obj, const GatewayPlan& plan,
                                                    const SegmentAttach& how);

// Applies a plan to the loaded data-plane object `obj` of the secured interface, in the order
// that never lets more cross than the old or the new rules allow: (1) spsec_gw_in/out on every
// segment (left attached when the caller exits: fail closed), (2) the jobs the plan no longer
// wants deleted, (3) the rules switched (one word), (4) the missing jobs added. An empty plan
// (no gateway section) removes every job to and from `old_segments` and installs no rules.
// Errors: named; an error leaves a state between the old and the new plan, never a job without
// its rule's segment programs (spsecd rolls back: BpfDataPlane::reconfigure).
[[nodiscard]] Result<void> apply_gateway(bpf_object* obj, GatewayMaps& maps,
                                         const GatewayPlan& plan, int secured,
                                         const std::vector<int>& old_segments,
                                         const SegmentAttach& how);

// apply_gateway() in two halves, for a reload that also changes the data plane's policy:
// the first (segment programs, job deletions, rules) before the new policy is installed, the
// second (job additions) after it. So a job never forwards an ID the live policy does not
// verify: an ID the new policy stops securing loses its job first, one it starts securing
// gets its job only once ingress verifies it. The first half lists the jobs before it changes
// anything.
// `attached` gets the segment programs attached first, also when a later step fails.
[[nodiscard]] Result<void> apply_gateway_before_policy(bpf_object* obj, GatewayMaps& maps,
                                                       const GatewayPlan& plan, int secured,
                                                       const std::vector<int>& old_segments,
                                                       const SegmentAttach& how,
                                                       SegmentGuards& attached);
[[nodiscard]] Result<void> apply_gateway_after_policy(const GatewayPlan& plan, int secured,
                                                      const std::vector<int>& old_segments);

// The changes that put the can-gw jobs between `secured` and `segments` (either direction) back
// to those of `before` (a cangw_list() taken before a change), given the jobs there are `now`:
// remove what `before` did not have, add what it had. Jobs between other interfaces are left
// alone. (A rolled-back reload removes first and adds after the running policy is back.)
[[nodiscard]] JobChanges job_restore(const std::vector<CanGwJobStats>& before,
                                     const std::vector<CanGwJobStats>& now, int secured,
                                     const std::vector<int>& segments);

}  // namespace spsec
