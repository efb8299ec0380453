// SPDX-License-Identifier: Apache-2.0
#include "bpf/data_plane.h"

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <linux/membarrier.h>
#include <memory>
#include <set>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

#include <linux/can.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include "bpf/key_material.h"
#include "bpf/map_writer.h"

namespace spsec {
namespace {

constexpr std::uint32_t kZero = 0;

std::string hex_id(std::uint32_t id)
{
	char buf[16];
	std::snprintf(buf, sizeof buf, "0x%x", id);
	return buf;
}

Result<void> valid_policy_id(std::uint32_t id)
{
	if (id & CAN_EFF_FLAG) {
		if (id & ~(CAN_EFF_FLAG | CAN_EFF_MASK))
			return fail_errno(EINVAL, "policy ID " + hex_id(id) + ": RTR/ERR flag set");
		if (id & SPSEC_CTRL_BIT)
			return fail_errno(
			        EINVAL, "policy ID " + hex_id(id) +
			                        ": control-plane ID (bit 25), not a data-plane ID");
	} else if (id > CAN_SFF_MASK) {
		return fail_errno(EINVAL, "policy ID " + hex_id(id) +
		                                  ": more than 11 bits without CAN_EFF_FLAG");
	}
	return {};
}

Result<void> mkdir_0700(const std::string& dir)
{
	if (::mkdir(dir.c_str(), 0700) && errno != EEXIST)
		return fail_errno(errno, "creating pin directory " + dir);
	// an existing directory may have been made with another mode: tighten it
	if (::chmod(dir.c_str(), 0700))
		return fail_errno(errno, "setting mode 0700 on pin directory " + dir);
	return {};
}

}  // namespace

Result<DataPlane> DataPlane::from_object(bpf_object* obj)
{
	DataPlane dp;
	struct Want {
		const char* name;
		bpf_map** slot;
	};
	const Want want[] = {
	        {SPSEC_MAP_STATE, &dp.state_},     {SPSEC_MAP_KEYS, &dp.keys_},
	        {SPSEC_MAP_POLICY, &dp.policy_},   {SPSEC_MAP_RX_FRESH, &dp.rx_fresh_},
	        {SPSEC_MAP_TX_LAST, &dp.tx_last_}, {SPSEC_MAP_COUNTERS, &dp.counters_},
	        {SPSEC_MAP_EVENTS, &dp.events_},   {SPSEC_MAP_SNDRULE, &dp.snd_rules_},
	        {SPSEC_MAP_SNDUID, &dp.snd_uids_}, {SPSEC_MAP_SNDCNT, &dp.snd_count_},
	};
	for (const auto& w : want) {
		*w.slot = bpf_object__find_map_by_name(obj, w.name);
		if (!*w.slot)
			return fail_errno(ENOENT,
			                  std::string("data plane object has no map ") + w.name);
		if (bpf_map__fd(*w.slot) < 0)
			return fail_errno(EBADF,
			                  std::string("map ") + w.name + " is not created yet");
	}
	auto st = dp.read_state();
	if (!st)
		return tl::unexpected(st.error());
	if (st->abi_version != 0 && st->abi_version != SPSEC_ABI_VERSION)
		return fail_errno(EPROTO, "pinned data plane state has ABI version " +
		                                  std::to_string(st->abi_version) +
		                                  ", this daemon " +
		                                  std::to_string(SPSEC_ABI_VERSION));
	dp.kaes_set_ = bpf_object__find_program_by_name(obj, "spsec_kaes_set");
	dp.kaes_clr_ = bpf_object__find_program_by_name(obj, "spsec_kaes_clr");
	if ((dp.kaes_set_ == nullptr) != (dp.kaes_clr_ == nullptr))
		return fail_errno(ENOENT, "data plane object has only one of the kernel AES "
		                          "programs spsec_kaes_set and spsec_kaes_clr");
	if (auto r = dp.restore_aes_contexts(); !r)
		return tl::unexpected(r.error());
	return dp;
}

namespace {

// Runs one of the kernel-AES object's syscall programs for key slot `slot` (BPF_PROG_RUN with
// struct spsec_kaes_args as its context) and returns the program's verdict.
Result<void> run_kaes(bpf_program* prog, std::uint32_t slot)
{
	spsec_kaes_args args{};
	args.slot = slot;
	args.err = -EINPROGRESS;  // the program always overwrites it
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &args, .ctx_size_in = sizeof args);
	const std::string what =
	        std::string(bpf_program__name(prog)) + " for key slot " + std::to_string(slot);
	if (bpf_prog_test_run_opts(bpf_program__fd(prog), &opts) != 0)
		return fail_errno(errno, "running " + what);
	if (args.err != 0)
		return fail_errno(-args.err, what);
	return {};
}

}  // namespace

Result<void> DataPlane::set_aes_context(std::uint32_t slot)
{
	if (kaes_set_ == nullptr)
		return {};
	if (auto r = run_kaes(kaes_set_, slot); !r)
		return tl::unexpected(r.error().with_context(
		        "making the kernel AES context (ecb(aes)) of key slot " +
		        std::to_string(slot)));
	return {};
}

Result<void> DataPlane::clear_aes_context(std::uint32_t slot)
{
	if (kaes_clr_ == nullptr)
		return {};
	return run_kaes(kaes_clr_, slot);
}

Result<void> DataPlane::restore_aes_contexts()
{
	if (kaes_set_ == nullptr)
		return {};
	const MapWriter keys(keys_);
	for (std::uint32_t i = 0; i < SPSEC_KEY_SLOTS; i++) {
		// 66 KiB: on the heap, wiped after
		auto slot = std::make_unique<spsec_key_slot>();
		auto r = keys.get_into(i, *slot);
		const bool aes_live = r && slot->live == 1 && slot->aead == SPSEC_AEAD_AES256GCM;
		wipe_key_slot(*slot);
		if (!r)
			return tl::unexpected(
			        r.error().with_context("reading key slot " + std::to_string(i)));
		// a spare (wiped) slot needs none; the map is new, so it has none either
		if (aes_live)
			if (auto s = set_aes_context(i); !s)
				return s;
	}
	return {};
}

Result<spsec_state> DataPlane::read_state() const
{
	return MapWriter(state_).get<spsec_state>(kZero, BPF_F_LOCK);
}

Result<void> DataPlane::write_state(const spsec_state& st)
{
	spsec_state v = st;
	v.abi_version = SPSEC_ABI_VERSION;
	v.pad0 = 0;
	return MapWriter(state_).put(kZero, v, BPF_F_LOCK);
}

Result<void> DataPlane::set_state(std::uint32_t state, std::uint32_t aead, std::uint32_t mode,
                                  std::uint32_t window, std::uint32_t default_action)
{
	if (state > SPSEC_STATE_SHUTDOWN)
		return fail_errno(EINVAL,
		                  "participant state " + std::to_string(state) + " unknown");
	if (aead != SPSEC_AEAD_AES256GCM && aead != SPSEC_AEAD_CHACHA20POLY1305 &&
	    aead != SPSEC_AEAD_ASCON128)
		return fail_errno(EINVAL, "AEAD " + std::to_string(aead) + " unknown");
	if (mode != SPSEC_MODE_ENCRYPT && mode != SPSEC_MODE_AUTH_ONLY)
		return fail_errno(EINVAL, "data-plane mode " + std::to_string(mode) + " unknown");
	if (window > SPSEC_MAX_WINDOW)
		return fail_errno(EINVAL, "acceptance window " + std::to_string(window) +
		                                  " ticks exceeds " +
		                                  std::to_string(SPSEC_MAX_WINDOW));
	if (default_action != SPSEC_DEFAULT_DROP && default_action != SPSEC_DEFAULT_PASS)
		return fail_errno(EINVAL,
		                  "default action " + std::to_string(default_action) + " unknown");
	auto st = read_state();
	if (!st)
		return tl::unexpected(st.error());
	st->state = state;
	st->aead = aead;
	st->mode = mode;
	st->window = window;
	st->default_action = default_action;
	return write_state(*st);
}

Result<void> DataPlane::set_clock(std::uint64_t base_ns, std::uint64_t base_t,
                                  std::uint64_t tick_ns)
{
	if (tick_ns == 0)
		return fail_errno(EINVAL, "clock tick of 0 ns");
	if (base_t == 0)
		return fail_errno(EINVAL, "clock base T of 0 (T is never 0)");
	auto st = read_state();
	if (!st)
		return tl::unexpected(st.error());
	st->base_ns = base_ns;
	st->base_t = base_t;
	st->tick_ns = tick_ns;
	st->clock_set = 1;
	return write_state(*st);
}

Result<void> DataPlane::clear_clock()
{
	auto st = read_state();
	if (!st)
		return tl::unexpected(st.error());
	st->clock_set = 0;
	return write_state(*st);
}

Result<void> DataPlane::install_key(const spsec_key_slot& slot)
{
	if (slot.live != 1)
		return fail_errno(EINVAL, "installing a key slot that is not marked live");
	if (slot.aead < SPSEC_AEAD_AES256GCM || slot.aead > SPSEC_AEAD_ASCON128)
		return fail_errno(EINVAL, "installing a key slot for unknown AEAD " +
		                                  std::to_string(slot.aead));
	const unsigned parity = static_cast<unsigned>(slot.window & 1);
	auto st = read_state();
	if (!st)
		return tl::unexpected(st.error());
	std::uint32_t spare = 0;
	while (spare == st->key_slot[0] || spare == st->key_slot[1])
		spare++;  // 4 slots, at most 2 in use: terminates below SPSEC_KEY_SLOTS
	const MapWriter keys(keys_);
	if (auto r = keys.put(spare, slot); !r)
		return tl::unexpected(r.error().with_context("installing key for window " +
		                                             std::to_string(slot.window)));
	// Kernel AES: the context is made from the slot just written, before any frame can use
	// the slot; without it the slot must not go live (the frames would drop as
	// *_NO_KERNEL_AES): wipe it again and report.
	auto ctx = slot.aead == SPSEC_AEAD_AES256GCM ? set_aes_context(spare)
	                                             : clear_aes_context(spare);
	if (!ctx) {
		auto zero = std::make_unique<spsec_key_slot>();
		(void)keys.put(spare, *zero);
		(void)clear_aes_context(spare);
		return tl::unexpected(ctx.error().with_context("installing key for window " +
		                                               std::to_string(slot.window)));
	}
	const std::uint32_t old = st->key_slot[parity];
	const std::uint32_t other = st->key_slot[parity ^ 1];
	st->key_slot[parity] = spare;
	if (auto r = write_state(*st); !r)
		return tl::unexpected(
		        r.error().with_context("switching to key slot " + std::to_string(spare)));
	if (old != other) {
		// A program on another CPU may have read the old index just before the flip and
		// still be reading that slot. tc programs run inside an RCU read-side section, and
		// MEMBARRIER_CMD_GLOBAL returns after an RCU grace period (synchronize_rcu()), so
		// after it no program sees the old slot: wiping it cannot tear a key under a frame
		// being verified. Where membarrier is unavailable the wipe still happens (a frame
		// in flight then fails closed).
		(void)::syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0);
		if (auto r = clear_aes_context(old); !r)
			return tl::unexpected(
			        r.error().with_context("releasing the replaced key's AES context"));
		auto zero = std::make_unique<spsec_key_slot>();
		if (auto r = keys.put(old, *zero); !r)
			return tl::unexpected(r.error().with_context("wiping replaced key slot"));
	}
	return {};
}

Result<void> DataPlane::wipe_keys()
{
	auto zero = std::make_unique<spsec_key_slot>();
	const MapWriter keys(keys_);
	for (std::uint32_t i = 0; i < SPSEC_KEY_SLOTS; i++) {
		// the context first: a slot is never live without its key but with a context
		if (auto r = clear_aes_context(i); !r)
			return tl::unexpected(r.error().with_context(
			        "releasing the AES context of key slot " + std::to_string(i)));
		if (auto r = keys.put(i, *zero); !r)
			return tl::unexpected(
			        r.error().with_context("wiping key slot " + std::to_string(i)));
	}
	return {};
}

Result<void> DataPlane::clear_freshness()
{
	for (bpf_map* m : {rx_fresh_, tx_last_}) {
		const MapWriter w(m);
		auto keys = w.keys<spsec_id_key>();
		if (!keys)
			return tl::unexpected(keys.error());
		for (const auto& k : *keys)
			if (auto r = w.erase(k); !r && r.error().errno_value != ENOENT)
				return r;
	}
	return {};
}

Result<void> DataPlane::validate_policy(std::span<const PolicyEntry> entries,
                                        std::span<const SenderRuleEntry> senders)
{
	if (entries.size() > SPSEC_POLICY_MAX / 2)
		return fail_errno(E2BIG, "policy of " + std::to_string(entries.size()) +
		                                 " IDs exceeds " +
		                                 std::to_string(SPSEC_POLICY_MAX / 2));
	if (senders.size() >= SPSEC_SENDER_RULES)
		return fail_errno(E2BIG, std::to_string(senders.size()) +
		                                 " sender rules, at most " +
		                                 std::to_string(SPSEC_SENDER_RULES - 1));
	std::size_t n_uids = 0;
	for (std::size_t i = 0; i < senders.size(); i++) {
		if (senders[i].rule.n_cgroups > SPSEC_SENDER_CGROUPS)
			return fail_errno(
			        EINVAL, "sender rule " + std::to_string(i + 1) + ": more than " +
			                        std::to_string(SPSEC_SENDER_CGROUPS) + " cgroups");
		n_uids += senders[i].uids.size();
	}
	// both generations' uids must fit the map during the switch
	if (n_uids > SPSEC_SENDER_UIDS / 2)
		return fail_errno(E2BIG, "sender rules allow " + std::to_string(n_uids) +
		                                 " uids in all, at most " +
		                                 std::to_string(SPSEC_SENDER_UIDS / 2));
	for (const auto& e : entries) {
		if (e.senders == 0)
			continue;
		if (e.senders > senders.size())
			return fail_errno(EINVAL, "policy ID " + hex_id(e.can_id) +
			                                  " names sender rule " +
			                                  std::to_string(e.senders) + " of " +
			                                  std::to_string(senders.size()));
		if ((e.flags & (SPSEC_POL_SECURED | SPSEC_POL_OWN_TX)) !=
		    (SPSEC_POL_SECURED | SPSEC_POL_OWN_TX))
			return fail_errno(EINVAL, "policy ID " + hex_id(e.can_id) +
			                                  ": a sender rule on an ID this node does "
			                                  "not stamp");
	}
	constexpr std::uint32_t known =
	        SPSEC_POL_SECURED | SPSEC_POL_PLAIN_RX | SPSEC_POL_PLAIN_TX | SPSEC_POL_OWN_TX;
	std::set<std::uint32_t> seen;
	for (const auto& e : entries) {
		if (auto r = valid_policy_id(e.can_id); !r)
			return r;
		if (e.flags & ~known)
			return fail_errno(EINVAL,
			                  "policy ID " + hex_id(e.can_id) + ": unknown flag bits");
		if (!seen.insert(e.can_id).second)
			return fail_errno(EINVAL,
			                  "policy ID " + hex_id(e.can_id) + " listed twice");
	}
	return {};
}

Result<void> DataPlane::prune_freshness(std::span<const PolicyEntry> entries)
{
	auto st = read_state();
	if (!st)
		return tl::unexpected(st.error());
	if (auto r = prune_freshness(entries, *st); !r)
		return tl::unexpected(r.error().with_context("pruning freshness entries"));
	return {};
}

Result<void> DataPlane::replace_policy(std::span<const PolicyEntry> entries,
                                       std::span<const SenderRuleEntry> senders, bool prune)
{
	if (auto r = validate_policy(entries, senders); !r)
		return r;
	auto st = read_state();
	if (!st)
		return tl::unexpected(st.error());
	const std::uint32_t live = st->policy_gen & 1;
	const std::uint32_t next = live ^ 1;
	const MapWriter pol(policy_);
	auto keys = pol.keys<spsec_policy_key>();
	if (!keys)
		return tl::unexpected(keys.error());
	// leftovers of an interrupted reload
	for (const auto& k : *keys)
		if (k.gen == next)
			if (auto r = pol.erase(k); !r && r.error().errno_value != ENOENT)
				return r;
	// The sender rules of the spare generation: its slots, then its uids (leftovers of an
	// interrupted reload first), all before any entry of that generation names them.
	const MapWriter rules(snd_rules_), uids(snd_uids_);
	auto uid_keys = uids.keys<spsec_sender_uid_key>();
	if (!uid_keys)
		return tl::unexpected(uid_keys.error());
	const auto gen_of = [](std::uint32_t slot) { return slot / SPSEC_SENDER_RULES; };
	for (const auto& k : *uid_keys)
		if (gen_of(k.slot) == next)
			if (auto r = uids.erase(k); !r && r.error().errno_value != ENOENT)
				return r;
	for (std::uint32_t rule = 1; rule < SPSEC_SENDER_RULES; rule++) {
		const std::uint32_t slot = next * SPSEC_SENDER_RULES + rule;
		spsec_sender_rule v{};
		if (rule <= senders.size()) {
			v = senders[rule - 1].rule;
			v.pad0 = 0;
			for (auto& cg : v.cgroup)
				cg.pad0 = 0;
			for (const std::uint32_t uid : senders[rule - 1].uids)
				if (auto r = uids.put(spsec_sender_uid_key{slot, uid},
				                      std::uint32_t{1});
				    !r)
					return tl::unexpected(r.error().with_context(
					        "writing sender rule " + std::to_string(rule)));
		}
		if (auto r = rules.put(slot, v); !r)
			return tl::unexpected(r.error().with_context("writing sender rule " +
			                                             std::to_string(rule)));
	}
	for (const auto& e : entries) {
		const spsec_policy_key k{e.can_id, next};
		const spsec_policy v{e.flags, e.senders};
		if (auto r = pol.put(k, v, BPF_NOEXIST); !r)
			return tl::unexpected(
			        r.error().with_context("writing policy ID " + hex_id(e.can_id)));
	}
	st->policy_gen = next;
	if (auto r = write_state(*st); !r)
		return tl::unexpected(r.error().with_context("switching policy generation"));
	for (const auto& k : *keys)
		if (k.gen == live)
			if (auto r = pol.erase(k); !r && r.error().errno_value != ENOENT)
				return r;
	// the old generation's uids; its rule slots are overwritten by the next replacement
	for (const auto& k : *uid_keys)
		if (gen_of(k.slot) == live)
			if (auto r = uids.erase(k); !r && r.error().errno_value != ENOENT)
				return r;
	if (!prune)
		return {};
	if (auto r = prune_freshness(entries, *st); !r)
		return tl::unexpected(r.error().with_context("pruning freshness entries"));
	return {};
}

std::vector<SenderRuleEntry> sender_rule_entries(const SenderTable& table)
{
	std::vector<SenderRuleEntry> out;
	out.reserve(table.size());
	for (const auto& r : table) {
		SenderRuleEntry e;
		for (const auto& cg : r.cgroups) {
			if (e.rule.n_cgroups >= SPSEC_SENDER_CGROUPS)
				break;
			e.rule.cgroup[e.rule.n_cgroups++] = spsec_sender_cgroup{cg.id, cg.level, 0};
		}
		e.uids.assign(r.uids.begin(), r.uids.end());
		out.push_back(std::move(e));
	}
	return out;
}

Result<SenderCounts> DataPlane::read_sender_counts() const
{
	SenderCounts out{};
	const MapWriter w(snd_count_);
	for (std::uint32_t rule = 0; rule < SPSEC_SENDER_RULES; rule++) {
		auto v = w.get_percpu<spsec_sender_count>(rule);
		if (!v)
			return tl::unexpected(v.error());
		for (const auto& c : *v) {
			out[rule].allowed += c.allowed;
			out[rule].denied += c.denied;
		}
	}
	return out;
}

Result<void> DataPlane::zero_sender_counts()
{
	const MapWriter w(snd_count_);
	for (std::uint32_t rule = 0; rule < SPSEC_SENDER_RULES; rule++)
		if (auto r = w.put_percpu(rule, spsec_sender_count{}); !r)
			return r;
	return {};
}

Result<void> DataPlane::prune_freshness(std::span<const PolicyEntry> entries, const spsec_state& st)
{
	std::set<std::uint32_t> rx_ids, tx_ids;
	for (const auto& e : entries) {
		if (!(e.flags & SPSEC_POL_SECURED))
			continue;
		// the data plane keeps rx freshness for IDs it verifies, tx T for IDs it stamps
		if (e.flags & SPSEC_POL_OWN_TX)
			tx_ids.insert(e.can_id);
		else
			rx_ids.insert(e.can_id);
	}
	// T now, as spsec_now_t() computes it; 0 (prune nothing by age) without a clock
	std::uint64_t now_t = 0;
	if (st.clock_set != 0 && st.tick_ns != 0) {
		timespec ts{};
		::clock_gettime(CLOCK_MONOTONIC, &ts);
		const auto ns = static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull +
		                static_cast<std::uint64_t>(ts.tv_nsec);
		now_t = ns >= st.base_ns ? st.base_t + (ns - st.base_ns) / st.tick_ns
		                         : st.base_t - (st.base_ns - ns) / st.tick_ns;
	}
	// An rx entry of an ID the policy no longer secures can only refuse frames the policy
	// refuses anyway. A tx entry is kept while its T is still ahead of the clock: should the
	// ID come back in a quick second reload, a fresh entry would start at now and could
	// repeat a T that was already sent. Entries with T < now are a no-op either way
	// (T = max(now, last + 1)).
	const MapWriter rx(rx_fresh_);
	auto rx_keys = rx.keys<spsec_id_key>();
	if (!rx_keys)
		return tl::unexpected(rx_keys.error());
	for (const auto& k : *rx_keys)
		if (!rx_ids.count(k.can_id))
			if (auto r = rx.erase(k); !r && r.error().errno_value != ENOENT)
				return r;
	const MapWriter tx(tx_last_);
	auto tx_keys = tx.keys<spsec_id_key>();
	if (!tx_keys)
		return tl::unexpected(tx_keys.error());
	for (const auto& k : *tx_keys) {
		if (tx_ids.count(k.can_id))
			continue;
		auto v = tx.get<spsec_fresh>(k);
		if (!v) {
			if (v.error().errno_value == ENOENT)
				continue;
			return tl::unexpected(v.error());
		}
		if (now_t == 0 || v->last_t >= now_t)
			continue;
		if (auto r = tx.erase(k); !r && r.error().errno_value != ENOENT)
			return r;
	}
	return {};
}

Result<FreshnessCounts> DataPlane::freshness_entries() const
{
	FreshnessCounts out;
	auto rx = MapWriter(rx_fresh_).keys<spsec_id_key>();
	if (!rx)
		return tl::unexpected(rx.error());
	auto tx = MapWriter(tx_last_).keys<spsec_id_key>();
	if (!tx)
		return tl::unexpected(tx.error());
	out.rx = rx->size();
	out.tx = tx->size();
	return out;
}

Result<Counters> DataPlane::read_counters() const
{
	Counters out{};
	const MapWriter w(counters_);
	for (std::uint32_t r = 0; r < SPSEC_R_MAX; r++) {
		auto per_cpu = w.get_percpu<std::uint64_t>(r);
		if (!per_cpu)
			return tl::unexpected(per_cpu.error());
		for (auto v : *per_cpu)
			out[r] += v;
	}
	return out;
}

Result<std::string> make_pin_dir(std::string_view ifname, std::string_view root)
{
	if (ifname.empty() || ifname.size() >= IFNAMSIZ || ifname == "." || ifname == ".." ||
	    ifname.find('/') != std::string_view::npos)
		return fail_errno(EINVAL, "interface name '" + std::string(ifname) +
		                                  "' is not a valid pin directory name");
	const std::string base(root);
	if (auto r = mkdir_0700(base); !r)
		return tl::unexpected(r.error());
	std::string dir = base + "/" + std::string(ifname);
	if (auto r = mkdir_0700(dir); !r)
		return tl::unexpected(r.error());
	return dir;
}

namespace {

// Unlinks the pins (bpffs: unpinning is unlink), then the directory if given and now empty.
Result<void> remove_pins(const std::vector<std::string>& pins, const std::string& dir)
{
	Result<void> out;
	for (const auto& p : pins)
		if (::unlink(p.c_str()) != 0 && errno != ENOENT && out)
			out = fail_errno(errno, "unpinning " + p);
	// Not empty (ENOTEMPTY): another load pinned something there meanwhile; leave it.
	if (!dir.empty() && ::rmdir(dir.c_str()) != 0 && errno != ENOENT && errno != ENOTEMPTY &&
	    out)
		out = fail_errno(errno, "removing pin directory " + dir);
	return out;
}

}  // namespace

Result<bool> device_echoes(std::string_view ifname)
{
	if (ifname.empty() || ifname.size() >= IFNAMSIZ)
		return fail_errno(EINVAL,
		                  "interface name '" + std::string(ifname) + "' is invalid");
	const std::string name(ifname);
	const unsigned index = ::if_nametoindex(name.c_str());
	if (index == 0)
		return fail_errno(errno, "looking up interface " + name);
	// IFF_ECHO is bit 18: beyond the 16-bit ifr_flags of SIOCGIFFLAGS, so ask rtnetlink, and
	// not sysfs, which shows the mount's network namespace rather than ours.
	const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return fail_errno(errno, "opening an rtnetlink socket");
	struct {
		nlmsghdr nh;
		ifinfomsg ifi;
	} req{};
	req.nh.nlmsg_len = sizeof req;
	req.nh.nlmsg_type = RTM_GETLINK;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.nh.nlmsg_seq = 1;
	req.ifi.ifi_family = AF_UNSPEC;
	req.ifi.ifi_index = static_cast<int>(index);
	alignas(nlmsghdr) char buf[16384];
	ssize_t n = -1;
	if (::send(fd, &req, sizeof req, 0) == static_cast<ssize_t>(sizeof req))
		n = ::recv(fd, buf, sizeof buf, 0);
	const int e = errno;
	::close(fd);
	if (n < 0)
		return fail_errno(e, "reading the flags of " + name + " over rtnetlink");
	const auto* nh = reinterpret_cast<const nlmsghdr*>(buf);
	if (static_cast<std::size_t>(n) < sizeof(nlmsghdr) ||
	    nh->nlmsg_len > static_cast<std::size_t>(n))
		return fail_errno(EPROTO, "short rtnetlink answer for " + name);
	if (nh->nlmsg_type == NLMSG_ERROR) {
		const auto* err = reinterpret_cast<const nlmsgerr*>(buf + NLMSG_HDRLEN);
		return fail_errno(-err->error, "reading the flags of " + name + " over rtnetlink");
	}
	if (nh->nlmsg_type != RTM_NEWLINK || nh->nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg)))
		return fail_errno(EPROTO, "unexpected rtnetlink answer for " + name);
	const auto* ifi = reinterpret_cast<const ifinfomsg*>(buf + NLMSG_HDRLEN);
	constexpr unsigned kIffEcho =
	        1u << 18;  // IFF_ECHO of <linux/if.h>, which clashes with <net/if.h>
	return (ifi->ifi_flags & kIffEcho) != 0;
}

namespace {

// Opens and loads object T (spsec_dp or spsec_dp_kaes) with pins under pin_dir (or none),
// adding to `created` the pins this load will create.
template <class T>
Result<Skeleton<T>> open_load(const std::string& pin_dir, bool pin, bool echo,
                              std::vector<std::string>& created)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = pin ? pin_dir.c_str() : nullptr);
	auto skel = Skeleton<T>::open(&oo);
	if (!skel)
		return tl::unexpected(skel.error());
	(*skel)->rodata->spsec_dev_echo = echo ? 1 : 0;
	// Which pins this load will create (libbpf reuses a map already pinned at its path).
	for (bpf_map* m = bpf_object__next_map(skel->object(), nullptr); m != nullptr;
	     m = bpf_object__next_map(skel->object(), m)) {
		if (!pin)
			bpf_map__set_pin_path(m, nullptr);
		else if (const char* p = bpf_map__pin_path(m); p && ::access(p, F_OK) != 0)
			created.emplace_back(p);
	}
	if (auto r = skel->load(); !r)
		return tl::unexpected(r.error());
	return skel;
}

// Can this kernel make an "ecb(aes)" context for the BPF crypto kfuncs (the loaded kernel-AES
// object's spsec_kaes_prb)? Errors: it cannot (the kernel's errno), or the run failed.
Result<void> probe_kernel_aes(const Skeleton<spsec_dp_kaes>& skel)
{
	// the probe ignores the slot: it makes and releases a context for a zero key
	if (auto r = run_kaes(skel->progs.spsec_kaes_prb, 0); !r)
		return tl::unexpected(r.error().with_context(
		        "the kernel cannot make an ecb(aes) context for the BPF crypto kfuncs"));
	return {};
}

}  // namespace

Result<LoadedDataPlane> load_data_plane(std::string_view ifname, const LoadOptions& opts)
{
	bool echo = false;
	if (opts.dev_echo) {
		echo = *opts.dev_echo;
	} else {
		auto e = device_echoes(ifname);
		if (!e)
			return tl::unexpected(e.error().with_context("loading the data plane"));
		echo = *e;
	}
	// Which object: kernel AES where the kernel has the BPF crypto kfuncs (and, below, makes an
	// ecb(aes) context), unless SPSEC_AES forced one.
	bool kernel = false;
	std::string reason;
	if (opts.aes == AesImpl::Bpf) {
		reason = "forced (SPSEC_AES=bpf)";
	} else {
		auto k = crypto_kfuncs_available();
		if (opts.aes == AesImpl::Kernel) {
			if (!k)
				return tl::unexpected(k.error().with_context("SPSEC_AES=kernel"));
			if (!*k)
				return fail_errno(
				        EOPNOTSUPP,
				        "SPSEC_AES=kernel: this kernel has no BPF crypto kfuncs "
				        "(bpf_crypto_ctx_create etc., Linux 6.10 or newer)");
			kernel = true;
			reason = "forced (SPSEC_AES=kernel)";
		} else if (!k) {
			reason = "BPF crypto kfuncs unknown (" + k.error().message() + ")";
		} else {
			kernel = *k;
			reason = kernel ? "BPF crypto kfuncs found"
			                : "no BPF crypto kfuncs in this kernel (Linux 6.10 or "
			                  "newer)";
		}
	}
	std::string pin_dir;
	std::string created_dir;
	if (opts.pin) {
		struct stat st {};
		const bool existed =
		        ::stat((opts.pin_root + "/" + std::string(ifname)).c_str(), &st) == 0;
		auto d = make_pin_dir(ifname, opts.pin_root);
		if (!d)
			return tl::unexpected(d.error());
		pin_dir = *d;
		if (!existed)
			created_dir = pin_dir;
	}
	std::vector<std::string> created;
	auto failed = [&](const Error& e) -> Result<LoadedDataPlane> {
		// libbpf unpins what it pinned itself; this covers a libbpf that does not.
		(void)remove_pins(created, created_dir);
		return tl::unexpected(
		        e.with_context("loading the data plane" +
		                       (opts.pin ? " (maps pinned in " + pin_dir + ")" : "")));
	};
	std::optional<DataPlaneObject> obj;
	std::string driver;
	if (kernel) {
		auto skel = open_load<spsec_dp_kaes>(pin_dir, opts.pin, echo, created);
		if (!skel)
			return failed(skel.error().with_context("kernel AES object spsec_dp_kaes"));
		if (auto p = probe_kernel_aes(*skel); !p) {
			if (opts.aes == AesImpl::Kernel)
				return failed(p.error().with_context("SPSEC_AES=kernel"));
			// auto: the T-table object, which reuses the maps this one pinned
			kernel = false;
			reason = "BPF crypto kfuncs found, but " + p.error().message();
		} else {
			driver = kernel_aes_driver();
			obj.emplace(std::move(*skel));
		}
	}
	if (!kernel) {
		auto skel = open_load<spsec_dp>(pin_dir, opts.pin, echo, created);
		if (!skel)
			return failed(skel.error());
		obj.emplace(std::move(*skel));
	}
	auto dp = DataPlane::from_object(obj->object());
	if (!dp)
		return failed(dp.error());
	return LoadedDataPlane{std::move(*obj),
	                       *dp,
	                       kernel ? AesImpl::Kernel : AesImpl::Bpf,
	                       std::move(reason),
	                       std::move(driver),
	                       std::move(created),
	                       std::move(created_dir)};
}

Result<void> remove_created_pins(LoadedDataPlane& dp)
{
	auto r = remove_pins(dp.created_pins, dp.created_dir);
	dp.created_pins.clear();
	dp.created_dir.clear();
	return r;
}

}  // namespace spsec
