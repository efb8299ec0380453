// SPDX-License-Identifier: Apache-2.0
#include "daemon/bpf_data_plane.h"

#include <net/if.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>

#include "bpf/gateway_setup.h"
#include "bpf/kernel_features.h"
#include "bpf/key_material.h"

namespace spsec {

std::vector<PolicyEntry> policy_entries(const Config& cfg)
{
	std::map<std::uint32_t, std::uint32_t> flags;
	for (const CanId& id : cfg.secured_ids)
		flags[id.kernel_id()] |= SPSEC_POL_SECURED;
	for (const CanId& id : cfg.plaintext_ids)
		flags[id.kernel_id()] |= SPSEC_POL_PLAIN_RX | SPSEC_POL_PLAIN_TX;
	for (const CanId& id : cfg.transmit_ids)
		flags[id.kernel_id()] |= SPSEC_POL_OWN_TX;
	std::map<std::uint32_t, std::uint32_t> rule;
	for (std::size_t i = 0; i < cfg.senders.size(); i++)
		for (const CanId& id : cfg.senders[i].ids)
			rule[id.kernel_id()] = static_cast<std::uint32_t>(i + 1);
	std::vector<PolicyEntry> out;
	out.reserve(flags.size());
	for (const auto& [id, f] : flags) {
		const auto r = rule.find(id);
		out.push_back(PolicyEntry{id, f, r == rule.end() ? 0u : r->second});
	}
	return out;
}

namespace {

// The attach mode a preference asks for; nullopt: probe (tcx where the kernel has it).
std::optional<AttachMode> mode_of(AttachPref p)
{
	switch (p) {
	case AttachPref::Tc:
		return AttachMode::Tc;
	case AttachPref::Tcx:
		return AttachMode::Tcx;
	case AttachPref::Auto:
		break;
	}
	return std::nullopt;
}

}  // namespace

Result<void> BpfDataPlane::open(const Config& cfg, const SenderTable& senders)
{
	// load_data_plane pins in <root>/<ifname>; the configured pin_dir must have that shape.
	std::filesystem::path pin(cfg.pin_dir);
	if (pin.filename() != cfg.interface)
		return fail(cat("pin_dir ", cfg.pin_dir, " must end in the interface name ",
		                cfg.interface));
	// Checked before anything is created: a start on a missing interface leaves no maps.
	if (::if_nametoindex(cfg.interface.c_str()) == 0)
		return fail_errno(errno,
		                  cat("data plane on ", cfg.interface, ": no such interface"));
	LoadOptions opts;
	opts.pin_root = pin.parent_path().string();
	opts.aes = aes_;
	auto loaded = load_data_plane(cfg.interface, opts);
	if (!loaded)
		return tl::unexpected(loaded.error());
	dp_.emplace(std::move(*loaded));
	features_.aes = aes_impl_name(dp_->aes);
	features_.aes_driver = dp_->aes_driver;
	if (dp_->aes == AesImpl::Kernel)
		log_.info(cat("data plane AES: kernel (BPF crypto kfuncs, ecb(aes) driver ",
		              dp_->aes_driver.empty() ? std::string("unknown") : dp_->aes_driver,
		              "; ", dp_->aes_reason, "); GHASH stays the BPF table code"));
	if (dp_->aes == AesImpl::Kernel && dp_->aes_driver.find("aes-generic") != std::string::npos)
		log_.warning(cat("the kernel's ecb(aes) is ", dp_->aes_driver,
		                 ": table-based like the BPF AES, not constant-time; load the "
		                 "platform's AES driver (e.g. aesni_intel) before spsecd starts"));
	else
		log_.info(cat("data plane AES: bpf (T-table AES in BPF, not constant-time; ",
		              dp_->aes_reason, ")"));
	// Until the filters are attached nothing uses the maps this start pinned: a failure
	// removes them again rather than leave stray maps. Reused maps stay, and so does whatever
	// filter the interface had (an earlier spsecd's keeps enforcing: fail closed).
	auto undo = [this](Error e) -> Result<void> {
		if (auto r = remove_created_pins(*dp_); !r)
			log_.warning(r.error().message());
		dp_.reset();
		return tl::unexpected(std::move(e));
	};
	auto prev = dp_->maps.read_state();
	if (prev && prev->abi_version != 0)
		log_.info(cat("taking over the pinned data plane in ", cfg.pin_dir, " (state ",
		              prev->state, ", clock ", prev->clock_set ? "set" : "not set", ")"));
	// Keep whatever state the pinned maps hold until the daemon publishes its own, so a
	// restart does not interrupt traffic by itself.
	state_ = prev ? prev->state : SPSEC_STATE_NOTSET;
	pinned_.reset();
	if (prev && prev->abi_version == SPSEC_ABI_VERSION && prev->clock_set != 0 &&
	    (prev->state == SPSEC_STATE_SECURE || prev->state == SPSEC_STATE_WARNING)) {
		DataPlaneState p;
		p.state = prev->state;
		p.clock_set = true;
		p.base_ns = prev->base_ns;
		p.base_t = prev->base_t;
		p.tick_ns = prev->tick_ns;
		pinned_ = p;
	}
	if (auto r = write_state(cfg, state_); !r)
		return undo(r.error());
	auto snd = sender_rule_entries(senders);
	if (auto r = dp_->maps.replace_policy(policy_entries(cfg), snd); !r)
		return undo(r.error().with_context("installing the policy"));
	// The per-rule counts belong to the rules this start installed (a previous spsecd's
	// rules may have been others); the per-reason counters keep counting across restarts.
	if (auto r = dp_->maps.zero_sender_counts(); !r)
		return undo(r.error().with_context("zeroing the sender rule counters"));
	// From here on a program of this start may be attached (a failed egress attach can leave
	// the ingress one): its maps stay pinned as the fail-closed state the next start reuses.
	auto tc = attach(cfg);
	if (!tc)
		return tl::unexpected(tc.error().with_context(cat("attaching to ", cfg.interface)));
	tc_.emplace(std::move(*tc));
	mode_ = tc_->mode();
	features_.attach = attach_mode_name(tc_->mode());
	if (auto k = crypto_kfuncs_available(); k)
		features_.crypto_kfuncs = *k;
	else
		features_.crypto_kfuncs = false;
	if (auto r = gateway(cfg, true); !r)
		return r;
	if (auto r = gateway(cfg, false); !r)
		return r;
	auto rb = RingBuffer::open(dp_->maps.events_map(), [this](const spsec_event& e) {
		if (sink_ != nullptr)
			(*sink_)(e);
	});
	if (!rb)
		return tl::unexpected(rb.error().with_context("opening the data-plane event ring"));
	events_.emplace(std::move(*rb));
	cfg_ = cfg;
	senders_ = std::move(snd);
	log_.info(cat("data plane attached to ", cfg.interface, " with ",
	              tc_->mode() == AttachMode::Tcx
	                      ? cat("tcx links (attach tcx; links pinned in ", cfg.pin_dir, ")")
	                      : std::string("tc filters (attach tc; clsact, handle 1, priority 1)"),
	              ", maps in ", cfg.pin_dir));
	return {};
}

Result<TcAttachment> BpfDataPlane::attach(const Config& cfg) const
{
	AttachOptions opts;
	opts.mode = mode_of(env_attach_.value_or(cfg.attach));
	opts.link_pin_dir = cfg.pin_dir;
	return TcAttachment::attach(cfg.interface, bpf_program__fd(dp_->skel->progs.spsec_ingress),
	                            bpf_program__fd(dp_->skel->progs.spsec_egress), opts);
}

Result<void> BpfDataPlane::write_state(const Config& cfg, std::uint32_t state)
{
	auto r = dp_->maps.set_state(state, static_cast<std::uint32_t>(cfg.aead),
	                             static_cast<std::uint32_t>(cfg.mode), cfg.acceptance_window,
	                             static_cast<std::uint32_t>(cfg.default_action));
	if (!r)
		return tl::unexpected(r.error().with_context("writing the data-plane state"));
	return {};
}

Result<void> BpfDataPlane::open_gateway_maps()
{
	if (gw_maps_)
		return {};
	auto m = GatewayMaps::from_object(dp_->skel.object());
	if (!m)
		return tl::unexpected(m.error());
	gw_maps_.emplace(std::move(*m));
	return {};
}

namespace {

Result<int> ifindex_of(const std::string& n)
{
	const unsigned idx = ::if_nametoindex(n.c_str());
	if (idx == 0)
		return fail_errno(errno, cat("no interface ", n));
	return static_cast<int>(idx);
}

}  // namespace

Result<GatewayPlan> BpfDataPlane::plan(const Config& cfg) const
{
	auto p = plan_gateway(cfg.gateway, cfg.interface, ifindex_of);
	if (!p)
		return tl::unexpected(p.error().with_context("setting up the gateway"));
	return p;
}

std::vector<int> BpfDataPlane::running_segments() const
{
	std::vector<int> out;
	if (cfg_)
		for (const auto& seg : cfg_->gateway.segments)
			if (auto idx = ifindex_of(seg.name))
				out.push_back(*idx);
	return out;
}

SegmentAttach BpfDataPlane::segment_attach(const Config& cfg) const
{
	SegmentAttach how;
	how.pin_dir = cfg.pin_dir;
	// The secured interface's mode as attached (auto resolved); before that, the preference.
	how.mode = mode_ ? mode_ : mode_of(env_attach_.value_or(cfg.attach));
	return how;
}

Result<void> BpfDataPlane::gateway(const Config& cfg, bool before_policy)
{
	if (auto r = open_gateway_maps(); !r)
		return r;
	auto plan = this->plan(cfg);
	if (!plan)
		return tl::unexpected(plan.error());
	// the segments of the running configuration, whose jobs a new one may remove
	const std::vector<int> old_segments = running_segments();
	if (plan->segments.empty() && old_segments.empty() && plan->rules.empty())
		return {};  // no gateway, none before: leave can-gw alone
	auto secured = ifindex_of(cfg.interface);
	if (!secured)
		return tl::unexpected(secured.error());
	SegmentGuards attached;  // committed: at start and re-attach the guards stay (fail closed)
	auto r = before_policy ? apply_gateway_before_policy(dp_->skel.object(), *gw_maps_, *plan,
	                                                     *secured, old_segments,
	                                                     segment_attach(cfg), attached)
	                       : apply_gateway_after_policy(*plan, *secured, old_segments);
	if (!r)
		return tl::unexpected(r.error().with_context("setting up the gateway"));
	if (!before_policy && !plan->segments.empty())
		log_.info(cat("gateway: ", plan->rules.size(), " rules, ", plan->jobs.size(),
		              " can-gw jobs, ", plan->segments.size(), " segments"));
	return {};
}

Result<void> BpfDataPlane::reconfigure(const Config& cfg, const SenderTable& senders)
{
	if (!dp_ || !cfg_)
		return fail("data plane not open");
	// (1) Everything that can be checked is checked before the first change: the gateway's
	// segments and rules, the policy and the sender rules.
	if (auto r = open_gateway_maps(); !r)
		return r;
	auto plan = this->plan(cfg);
	if (!plan)
		return tl::unexpected(plan.error());
	if (auto r = GatewayMaps::validate_rules(plan->rules); !r)
		return tl::unexpected(r.error().with_context("setting up the gateway"));
	const std::vector<PolicyEntry> entries = policy_entries(cfg);
	std::vector<SenderRuleEntry> snd = sender_rule_entries(senders);
	if (auto r = DataPlane::validate_policy(entries, snd); !r)
		return tl::unexpected(r.error().with_context("installing the policy"));
	const std::vector<int> old_segments = running_segments();
	// no gateway now or before: can-gw is left alone
	const bool gw = !(plan->segments.empty() && old_segments.empty() && plan->rules.empty());
	auto secured = ifindex_of(cfg.interface);
	if (gw && !secured)
		return tl::unexpected(secured.error().with_context("setting up the gateway"));
	// (2) What a rollback puts back.
	Before before;
	auto st = dp_->maps.read_state();
	if (!st)
		return tl::unexpected(st.error().with_context("reading the data-plane state"));
	before.policy_gen = st->policy_gen;
	auto word = gw_maps_->live_word();
	auto rules = gw_maps_->live_rules();
	if (!word || !rules)
		return tl::unexpected((word ? rules.error() : word.error())
		                              .with_context("reading the gateway rules"));
	before.gw_word = *word;
	before.gw_rules = std::move(*rules);
	if (gw) {
		auto jobs = cangw_list();
		if (!jobs)
			return tl::unexpected(jobs.error().with_context("setting up the gateway"));
		before.jobs = std::move(*jobs);
	}
	// (3) The changes, in the order that never lets more cross than the old or the new
	// configuration allows (gateway_setup.h).
	SegmentGuards attached;
	auto apply = [&]() -> Result<void> {
		if (gw)
			if (auto r = apply_gateway_before_policy(dp_->skel.object(), *gw_maps_,
			                                         *plan, *secured, old_segments,
			                                         segment_attach(cfg), attached);
			    !r)
				return tl::unexpected(
				        r.error().with_context("setting up the gateway"));
		// Freshness entries are pruned only once the reload stands (see replace_policy).
		if (auto r = dp_->maps.replace_policy(entries, snd, false); !r)
			return tl::unexpected(r.error().with_context("installing the policy"));
		if (auto r = write_state(cfg, state_); !r)
			return r;
		if (gw)
			if (auto r = apply_gateway_after_policy(*plan, *secured, old_segments); !r)
				return tl::unexpected(
				        r.error().with_context("setting up the gateway"));
		// Last, because counts cannot be put back: new rules count afresh; the same rules
		// resolved anew (a unit restarted) keep counting.
		if (cfg_->senders != cfg.senders)
			if (auto r = dp_->maps.zero_sender_counts(); !r)
				return tl::unexpected(
				        r.error().with_context("zeroing the sender counters"));
		return {};
	};
	if (auto r = apply(); !r) {
		std::vector<int> segments = old_segments;
		segments.insert(segments.end(), plan->segments.begin(), plan->segments.end());
		return tl::unexpected(
		        roll_back(r.error(), before, attached, secured.value_or(0), segments, gw));
	}
	attached.commit();
	if (auto r = dp_->maps.prune_freshness(entries); !r)
		log_.warning(r.error().with_context("reload").message());
	if (gw && !plan->segments.empty())
		log_.info(cat("gateway: ", plan->rules.size(), " rules, ", plan->jobs.size(),
		              " can-gw jobs, ", plan->segments.size(), " segments"));
	cfg_ = cfg;
	senders_ = std::move(snd);
	return {};
}

Error BpfDataPlane::roll_back(const Error& cause, const Before& before, SegmentGuards& attached,
                              int secured, const std::vector<int>& segments, bool gateway)
{
	// The running configuration again, step by step in the order of a reload; a step that
	// fails does not stop the others (each puts back as much as it can).
	std::vector<std::string> failed;
	auto note = [&](const char* what, const Result<void>& r) {
		if (!r)
			failed.push_back(cat(what, ": ", r.error().message()));
	};
	JobChanges jobs;
	if (gateway) {
		if (auto now = cangw_list(); now) {
			jobs = job_restore(before.jobs, *now, secured, segments);
			for (const auto& j : jobs.remove)
				note("removing a can-gw job of the new configuration",
				     cangw_delete(j));
		} else {
			note("listing the can-gw jobs", tl::unexpected(now.error()));
		}
	}
	// A new job that could not be removed keeps the programs of its segment (fail closed).
	const bool jobs_gone = failed.empty();
	if (auto w = gw_maps_->live_word(); !w || *w != before.gw_word)
		note("the running gateway rules", gw_maps_->replace_rules(before.gw_rules));
	auto st = dp_->maps.read_state();
	if (!st || st->policy_gen != before.policy_gen)
		note("the running policy and sender rules",
		     dp_->maps.replace_policy(policy_entries(*cfg_), senders_, false));
	note("the running data-plane state", write_state(*cfg_, state_));
	for (const auto& j : jobs.add)
		note("adding back a can-gw job of the running configuration", cangw_add(j));
	// After the jobs through them are gone: a segment only the new configuration has is
	// left as it was, without spsec's programs.
	const std::vector<std::string> fresh = attached.fresh();
	Result<void> undone = fail("kept: a job of the new configuration may remain");
	if (jobs_gone)
		undone = attached.undo();
	else
		attached.commit();
	note("detaching the new configuration's segment programs", undone);
	if (failed.empty()) {
		log_.warning(cat("reload failed part-way and was rolled back: ", cause.message()));
		return cause.with_context("rolled back to the running configuration (gateway, "
		                          "policy, sender rules and state as before)");
	}
	// What is in place now, read back from the kernel.
	std::vector<std::string> now;
	auto w = gw_maps_->live_word();
	now.push_back(!w                     ? "gateway rules unknown"
	              : *w == before.gw_word ? "the running gateway rules"
	                                     : "the new configuration's gateway rules");
	st = dp_->maps.read_state();
	now.push_back(!st ? "policy unknown"
	              : st->policy_gen == before.policy_gen
	                      ? "the running policy and sender rules"
	                      : "the new configuration's policy and sender rules");
	if (gateway) {
		if (auto l = cangw_list(); !l) {
			now.emplace_back("can-gw jobs unknown");
		} else {
			const JobChanges left = job_restore(before.jobs, *l, secured, segments);
			now.emplace_back(
			        left.remove.empty() && left.add.empty()
			                ? "the running can-gw jobs"
			                : "can-gw jobs of neither configuration (cangw -L)");
		}
	}
	if (!undone)
		for (const auto& f : fresh)
			now.push_back(cat("spsec's programs (possibly) on segment ", f));
	std::string msg = cat("ROLLBACK FAILED: the reload failed (", cause.message(),
	                      ") and putting the running configuration back failed too: ");
	for (std::size_t i = 0; i < failed.size(); i++)
		msg += (i ? "; " : "") + failed[i];
	msg += ". In place now: ";
	for (std::size_t i = 0; i < now.size(); i++)
		msg += (i ? ", " : "") + now[i];
	log_.error(msg);
	return Error{cause.errno_value, msg};
}

Result<void> BpfDataPlane::publish(const DataPlaneState& st)
{
	if (!dp_ || !cfg_)
		return fail("data plane not open");
	if (st.clock_set) {
		if (auto r = dp_->maps.set_clock(st.base_ns, st.base_t, st.tick_ns); !r)
			return tl::unexpected(r.error().with_context("publishing the clock"));
	} else if (auto r = dp_->maps.clear_clock(); !r) {
		return tl::unexpected(r.error().with_context("clearing the clock"));
	}
	state_ = st.state;
	return write_state(*cfg_, st.state);
}

Result<void> BpfDataPlane::install_key(AeadKind aead, const Key32& key, const KeySalt& seed_salt,
                                       std::uint64_t window)
{
	if (!dp_)
		return fail("data plane not open");
	// 66 KiB: on the heap, and wiped whatever happens.
	auto slot = std::make_unique<spsec_key_slot>();
	struct Wipe {
		spsec_key_slot* s;
		~Wipe() { wipe_key_slot(*s); }
	} wipe{slot.get()};
	if (auto r = prepare_key_slot(aead, key, seed_salt, window, *slot); !r)
		return tl::unexpected(
		        r.error().with_context(cat("preparing the key of window ", window)));
	if (auto r = dp_->maps.install_key(*slot); !r)
		return tl::unexpected(
		        r.error().with_context(cat("installing the key of window ", window)));
	return {};
}

Result<void> BpfDataPlane::wipe_keys()
{
	if (!dp_)
		return fail("data plane not open");
	return dp_->maps.wipe_keys();
}

Result<CounterSnapshot> BpfDataPlane::counters()
{
	if (!dp_)
		return fail("data plane not open");
	auto c = dp_->maps.read_counters();
	if (!c)
		return tl::unexpected(c.error());
	CounterSnapshot s;
	std::copy(c->begin(), c->end(), s.by_reason.begin());
	return s;
}

Result<std::vector<SenderRuleCount>> BpfDataPlane::sender_counts()
{
	if (!dp_ || !cfg_)
		return fail("data plane not open");
	auto c = dp_->maps.read_sender_counts();
	if (!c)
		return tl::unexpected(c.error());
	std::vector<SenderRuleCount> out;
	for (std::size_t i = 1; i <= cfg_->senders.size() && i < c->size(); i++)
		out.push_back(SenderRuleCount{(*c)[i].allowed, (*c)[i].denied});
	return out;
}

int BpfDataPlane::event_fd() const noexcept
{
	return events_ ? events_->epoll_fd() : -1;
}

Result<int> BpfDataPlane::drain_events(const EventSink& sink)
{
	if (!events_)
		return 0;
	sink_ = &sink;
	auto r = events_->consume();
	sink_ = nullptr;
	return r;
}

void BpfDataPlane::lost_interface() noexcept
{
	// The filters went with the device, and tcx links are defunct (their pins stay until the
	// re-attach replaces them); there is nothing to detach.
	if (tc_)
		tc_->release();
	tc_.reset();
}

Result<void> BpfDataPlane::reattach(const Config& cfg)
{
	if (!dp_)
		return fail("data plane not open");
	lost_interface();
	// The same loaded programs, so the same pinned maps: the state, clock, keys and policy
	// of before apply to the first frame the new device carries.
	// tcx: the pinned links went defunct with the old device; they are replaced by new ones.
	auto tc = attach(cfg);
	if (!tc)
		return tl::unexpected(
		        tc.error().with_context(cat("re-attaching to ", cfg.interface)));
	tc_.emplace(std::move(*tc));
	mode_ = tc_->mode();
	features_.attach = attach_mode_name(tc_->mode());
	// can-gw deleted the jobs of the vanished device; the new one gets them again
	if (auto r = gateway(cfg, true); !r)
		return r;
	return gateway(cfg, false);
}

Result<void> BpfDataPlane::reattach_gateway(const Config& cfg)
{
	if (!dp_ || !tc_)
		return fail("data plane not attached");
	// gateway() attaches the segment programs to each segment (replacing any), writes the
	// rules with the segments' ifindexes of now and adds the jobs can-gw deleted
	if (auto r = gateway(cfg, true); !r)
		return r;
	return gateway(cfg, false);
}

void BpfDataPlane::close() noexcept
{
	events_.reset();
	// Fail closed: filters or pinned links stay attached, maps stay pinned.
	if (tc_)
		tc_->release();
	tc_.reset();
	dp_.reset();
}

}  // namespace spsec
