// SPDX-License-Identifier: Apache-2.0
// spsec_dp_driver: a small stand-in for spsecd in data-plane tests (tests/vm/dataplane.sh). It
// loads the production data plane on an interface with its maps pinned in SPSEC_PIN_ROOT/<if>,
// writes state, clock, keys and policy through the loader library, attaches the tc hooks and
// leaves them attached; it reads the pinned counters back; it detaches.
//
//   spsec_dp_driver attach <ifname> [--netns NS] [--aead aes-gcm|chacha20-poly1305|ascon]
//         [--mode encrypt|auth] [--seed-fill HEXBYTE] [--base-t T] [--tick-ns N] [--window W]
//         [--default drop|pass] [--policy ID:FLAGS[,ID:FLAGS...]] [--egress-fd bad]
//         [--gw RULE[,RULE...] | --gw-config FILE] [--attach auto|tc|tcx]
//         [--aes auto|bpf|kernel]
//       --attach: default auto, tcx links where the kernel has them; the links are pinned next
//       to the maps, so they stay after the driver exits.
//       FLAGS: letters s (secured), r (plain rx), t (plain tx), o (own tx); ID in hex,
//       8 digits = 29-bit. The clock is T = base_t + CLOCK_MONOTONIC ns / tick_ns, the same on
//       every node of one VM, so nodes agree on T without a Sync.
//       RULE: gateway rule DIR:SEGMENT:ID[-HI][/MASK][@RATE[/BURST]][:c], DIR "in" (segment ->
//       secured) or "out" (verified -> segment), IDs hex as above, RATE frames/s, ":c" a
//       classical segment; rule numbers in order from 0. Every segment named gets
//       spsec_gw_in and spsec_gw_out on its tc hooks (same network namespace), and each rule
//       its can-gw jobs (common/can_gw.h, filters from core/gateway_rules.h cangw_filters()),
//       as spsecd will set them up.
//       --gw-config: the gateway section of an spsecd configuration file (its interface and
//       ID lists are only validated against; the data plane's policy is --policy), set up with
//       bpf/gateway_setup.h as spsecd will.
//   spsec_dp_driver gwjobs [--netns NS]  one "src dst id:mask fd handled dropped" line per
//                                        can-gw job (ifnames), for exact books
//   spsec_dp_driver counters <ifname>    one "<reason name> <count>" line per non-zero reason,
//                                        then "gw<rule>_<kind> <count>" per non-zero rule counter
//   spsec_dp_driver detach <ifname> [--netns NS]   (tcx links and tc filters alike)
//   spsec_dp_driver attached <ifname> [--pin-dir DIR] [--netns NS]  "tcx|tc ingress <prog id>
//       egress <prog id>", exit 1 when no spsec program is attached; tcx links are looked for in
//       DIR (default SPSEC_PIN_ROOT/<ifname>; a gateway segment's: <pin dir>/gw/<segment>)
//   spsec_dp_driver reasons              the reason table of docs/data-plane.md (SPSEC_REASONS)
//   spsec_dp_driver reasons --json [{"code":1,"name":"rx_ok","direction":"rx","pass":true},..]
//
// --netns enters the network namespace with setns() rather than `ip netns exec`, which would
// remount /sys and hide the bpffs under /sys/fs/bpf. Exit status 0 on success, 1 with a message
// on stderr otherwise.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <optional>
#include <sched.h>
#include <string>
#include <unistd.h>
#include <vector>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/can.h>
#include <net/if.h>

#include "bpf/data_plane.h"
#include "bpf/gateway_setup.h"
#include "bpf/key_material.h"
#include "bpf/libbpf_log.h"
#include "bpf/tc_attachment.h"
#include "common/can_gw.h"
#include "common/json.h"
#include "core/config.h"
#include "core/gateway_rules.h"
#include "core/key_schedule.h"
#include "core/reasons.h"
#include "core/stamp.h"

namespace {

using namespace spsec;

int die(const std::string& msg)
{
	std::fprintf(stderr, "spsec_dp_driver: %s\n", msg.c_str());
	return 1;
}

Result<void> enter_netns(const std::string& ns)
{
	if (ns.empty())
		return {};
	const std::string path = "/run/netns/" + ns;
	const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail_errno(errno, "opening " + path);
	const int rc = setns(fd, CLONE_NEWNET);
	const int err = errno;
	::close(fd);
	if (rc)
		return fail_errno(err, "entering network namespace " + ns);
	return {};
}

Result<std::vector<PolicyEntry>> parse_policy(const std::string& text)
{
	std::vector<PolicyEntry> out;
	std::size_t pos = 0;
	while (pos < text.size()) {
		std::size_t end = text.find(',', pos);
		if (end == std::string::npos)
			end = text.size();
		const std::string item = text.substr(pos, end - pos);
		const std::size_t colon = item.find(':');
		if (colon == std::string::npos || colon == 0)
			return fail("policy item '" + item + "' is not ID:FLAGS");
		const std::string id = item.substr(0, colon);
		PolicyEntry e;
		e.can_id = static_cast<std::uint32_t>(std::stoul(id, nullptr, 16));
		if (id.size() == 8)
			e.can_id |= CAN_EFF_FLAG;
		for (char c : item.substr(colon + 1)) {
			switch (c) {
			case 's':
				e.flags |= SPSEC_POL_SECURED;
				break;
			case 'r':
				e.flags |= SPSEC_POL_PLAIN_RX;
				break;
			case 't':
				e.flags |= SPSEC_POL_PLAIN_TX;
				break;
			case 'o':
				e.flags |= SPSEC_POL_OWN_TX;
				break;
			default:
				return fail("policy item '" + item + "': unknown flag letter");
			}
		}
		out.push_back(e);
		pos = end + 1;
	}
	return out;
}

struct GwSpec {
	spsec_gw_rule rule{};
	std::string segment;
};

std::uint32_t parse_id(const std::string& t)
{
	std::uint32_t id = static_cast<std::uint32_t>(std::stoul(t, nullptr, 16));
	if (t.size() == 8)
		id |= CAN_EFF_FLAG;
	return id;
}

// DIR:SEGMENT:ID[-HI][/MASK][@RATE[/BURST]][:c] (see the usage above)
Result<std::vector<GwSpec>> parse_gw(const std::string& text)
{
	std::vector<GwSpec> out;
	std::size_t pos = 0;
	while (pos < text.size()) {
		std::size_t end = text.find(',', pos);
		if (end == std::string::npos)
			end = text.size();
		std::string item = text.substr(pos, end - pos);
		pos = end + 1;
		GwSpec g;
		auto& r = g.rule;
		const std::size_t c1 = item.find(':'), c2 = item.find(':', c1 + 1);
		if (c1 == std::string::npos || c2 == std::string::npos)
			return fail("gateway rule '" + item + "' is not DIR:SEGMENT:ID...");
		const std::string dir = item.substr(0, c1);
		g.segment = item.substr(c1 + 1, c2 - c1 - 1);
		std::string ids = item.substr(c2 + 1);
		if (ids.size() > 2 && ids.substr(ids.size() - 2) == ":c") {
			r.flags |= SPSEC_GW_F_CLASSIC;
			ids.resize(ids.size() - 2);
		}
		if (const auto at = ids.find('@'); at != std::string::npos) {
			const std::string rate = ids.substr(at + 1);
			ids.resize(at);
			const auto sl = rate.find('/');
			const std::uint64_t per_s = std::stoull(rate.substr(0, sl));
			const std::uint64_t burst =
			        sl == std::string::npos ? 1 : std::stoull(rate.substr(sl + 1));
			if (per_s == 0)
				return fail("gateway rule '" + item + "': rate 0");
			r.interval_ns = 1000000000ull / per_s;
			r.burst_ns = (burst ? burst - 1 : 0) * r.interval_ns;
		}
		if (dir == "in")
			r.dir = SPSEC_GW_TO_SECURED;
		else if (dir == "out")
			r.dir = SPSEC_GW_TO_PLAIN;
		else
			return fail("gateway rule '" + item + "': direction in or out");
		const auto slash = ids.find('/'), dash = ids.find('-');
		const std::string lo = ids.substr(0, std::min(slash, dash));
		const std::uint32_t id = parse_id(lo), eff = id & CAN_EFF_FLAG;
		const std::uint32_t bits = eff ? CAN_EFF_MASK : CAN_SFF_MASK;
		r.lo = 0;
		r.hi = ~0u;
		if (slash != std::string::npos) {
			r.mask = CAN_EFF_FLAG | (parse_id(ids.substr(slash + 1)) & bits);
			r.value = id & r.mask;
		} else if (dash != std::string::npos) {
			r.mask = CAN_EFF_FLAG;
			r.value = eff;
			r.lo = id;
			r.hi = parse_id(ids.substr(dash + 1)) | eff;
		} else {
			r.mask = CAN_EFF_FLAG | bits;
			r.value = id;
		}
		r.rule = static_cast<std::uint32_t>(out.size());
		out.push_back(g);
	}
	return out;
}

// Fills the gateway maps (generation 0) and attaches the segment programs to each segment (as
// `how` says: spsecd's way).
Result<void> install_gateway(LoadedDataPlane& dp, const std::string& secured,
                             std::vector<GwSpec> specs, const SegmentAttach& how)
{
	if (!if_nametoindex(secured.c_str()))
		return fail("no interface " + secured);
	std::vector<std::string> segments;
	for (auto& g : specs) {
		const unsigned seg = if_nametoindex(g.segment.c_str());
		if (!seg)
			return fail("no interface " + g.segment);
		g.rule.seg_ifindex = seg;
		const std::uint32_t key = g.rule.rule;
		if (bpf_map__update_elem(dp.skel->maps.spsec_gw_rules, &key, sizeof key, &g.rule,
		                         sizeof g.rule, BPF_ANY))
			return fail_errno(errno, "writing gateway rule");
		if (std::find(segments.begin(), segments.end(), g.segment) == segments.end())
			segments.push_back(g.segment);
	}
	const std::uint32_t zero = 0,
	                    live = SPSEC_GW_LIVE(0u, static_cast<std::uint32_t>(specs.size()));
	if (bpf_map__update_elem(dp.skel->maps.spsec_gw_conf, &zero, sizeof zero, &live,
	                         sizeof live, BPF_ANY))
		return fail_errno(errno, "writing the gateway's live generation");
	const int sec = static_cast<int>(if_nametoindex(secured.c_str()));
	for (const auto& g : specs) {
		const int seg = static_cast<int>(g.rule.seg_ifindex);
		const bool in = g.rule.dir == SPSEC_GW_TO_SECURED;
		IdMatch m;
		m.value = g.rule.value;
		m.mask = g.rule.mask;
		m.lo = g.rule.lo;
		m.hi = g.rule.hi;
		m.extended = (g.rule.value & CAN_EFF_FLAG) != 0;
		for (const auto& f : cangw_filters(m))
			if (auto r = cangw_add({in ? seg : sec, in ? sec : seg, f.id, f.mask}); !r)
				return r;
	}
	GatewayPlan plan;
	for (const auto& seg : segments)
		plan.segments.push_back(static_cast<int>(if_nametoindex(seg.c_str())));
	auto guards = attach_segments(dp.skel.object(), plan, how);
	if (!guards)
		return fail(guards.error().message());
	guards->commit();  // they stay after the driver exits
	return {};
}

std::uint64_t monotonic_ns()
{
	timespec ts{};
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull +
	       static_cast<std::uint64_t>(ts.tv_nsec);
}

int cmd_attach(const std::string& ifname, int argc, char** argv)
{
	std::string netns, aead = "chacha20-poly1305", mode = "encrypt", policy, def = "drop";
	std::uint64_t base_t = (0x100ull << SPSEC_WINDOW_SHIFT) + 1000, tick_ns = 100000;
	std::uint32_t window = 150;
	unsigned fill = 0x5a;
	bool broken_egress = false;
	std::string gw, gw_config;
	std::optional<AttachMode> attach_mode;
	LoadOptions lo;
	for (int i = 0; i + 1 < argc; i += 2) {
		const std::string k = argv[i], v = argv[i + 1];
		if (k == "--netns")
			netns = v;
		else if (k == "--aead")
			aead = v;
		else if (k == "--mode")
			mode = v;
		else if (k == "--seed-fill")
			fill = static_cast<unsigned>(std::stoul(v, nullptr, 16));
		else if (k == "--base-t")
			base_t = std::stoull(v, nullptr, 0);
		else if (k == "--tick-ns")
			tick_ns = std::stoull(v, nullptr, 0);
		else if (k == "--window")
			window = static_cast<std::uint32_t>(std::stoul(v));
		else if (k == "--default")
			def = v;
		else if (k == "--policy")
			policy = v;
		else if (k == "--gw")
			gw = v;
		else if (k == "--gw-config")
			gw_config = v;
		else if (k == "--egress-fd")  // "bad": attaching egress fails after ingress
			broken_egress = v == "bad";
		else if (k == "--attach") {
			auto m = parse_attach_mode(v);
			if (!m)
				return die(m.error().message());
			attach_mode = *m;
		} else if (k == "--aes") {
			auto a = parse_aes_impl(v);
			if (!a)
				return die(a.error().message());
			lo.aes = *a;
		} else
			return die("unknown option " + k);
	}
	auto kind = parse_aead_name(aead);
	if (!kind)
		return die(kind.error().message());
	auto entries = parse_policy(policy);
	if (!entries)
		return die(entries.error().message());
	auto gw_specs = parse_gw(gw);
	if (!gw_specs)
		return die(gw_specs.error().message());
	if (auto r = enter_netns(netns); !r)
		return die(r.error().message());

	// Wall time of open + map creation + verification + load of both programs: the load-time
	// figure per kernel in docs/data-plane.md.
	const auto load_start = std::chrono::steady_clock::now();
	auto loaded = load_data_plane(ifname, lo);
	if (!loaded)
		return die(loaded.error().message());
	const auto load_us = std::chrono::duration_cast<std::chrono::microseconds>(
	        std::chrono::steady_clock::now() - load_start);
	DataPlane& dp = loaded->maps;
	const std::uint32_t m = mode == "auth" ? SPSEC_MODE_AUTH_ONLY : SPSEC_MODE_ENCRYPT;
	if (auto r = dp.set_state(SPSEC_STATE_SECURE, static_cast<std::uint32_t>(*kind), m, window,
	                          def == "pass" ? SPSEC_DEFAULT_PASS : SPSEC_DEFAULT_DROP);
	    !r)
		return die(r.error().message());
	if (auto r = dp.set_clock(0, base_t, tick_ns); !r)
		return die(r.error().message());

	Key32 seed;
	for (auto& b : seed.expose_mut())
		b = static_cast<std::uint8_t>(fill);
	const CommSalt csalt{{1, 2, 3, 4}};
	const KeySalt seed_salt{{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88}};
	const LiveWindows live = live_windows(base_t + monotonic_ns() / tick_ns);
	auto slot = std::make_unique<spsec_key_slot>();
	for (std::uint64_t e : {live.current, live.other.value_or(live.current)}) {
		auto key = derive_comm_key(seed, e, csalt);
		if (!key)
			return die(key.error().message());
		if (auto r = prepare_key_slot(*kind, *key, seed_salt, e, *slot); !r)
			return die(r.error().message());
		if (auto r = dp.install_key(*slot); !r)
			return die(r.error().message());
	}
	wipe_key_slot(*slot);
	if (auto r = dp.replace_policy(*entries); !r)
		return die(r.error().message());

	// --egress-fd bad: a program fd the kernel refuses, so the egress attach fails after
	// the ingress filter has replaced the previous one (the error path under test).
	AttachOptions ao;
	ao.mode = attach_mode;
	ao.link_pin_dir = std::string(SPSEC_PIN_ROOT) + "/" + ifname;
	auto att = TcAttachment::attach(
	        ifname, bpf_program__fd(loaded->skel->progs.spsec_ingress),
	        broken_egress ? -1 : bpf_program__fd(loaded->skel->progs.spsec_egress), ao);
	if (!att)
		return die(att.error().message());
	std::printf("attach %s\n", attach_mode_name(att->mode()));
	// the segments like spsecd: in this mode, tcx links pinned in <pin dir>/gw/<segment>
	const SegmentAttach seg_attach{att->mode(), ao.link_pin_dir};
	att->release();  // stays attached after we exit, like a firewall whose daemon died
	if (!gw_specs->empty())
		if (auto r = install_gateway(*loaded, ifname, *gw_specs, seg_attach); !r)
			return die(r.error().message());
	if (!gw_config.empty()) {
		auto cfg = load_config(gw_config);
		if (!cfg)
			return die(cfg.error().message());
		const IfindexOf ifindex_of = [](const std::string& n) -> Result<int> {
			const unsigned idx = if_nametoindex(n.c_str());
			if (!idx)
				return fail_errno(ENODEV, "no interface " + n);
			return static_cast<int>(idx);
		};
		auto plan = plan_gateway(cfg->gateway, ifname, ifindex_of);
		if (!plan)
			return die(plan.error().message());
		auto maps = GatewayMaps::from_object(loaded->skel.object());
		if (!maps)
			return die(maps.error().message());
		if (auto r = apply_gateway(loaded->skel.object(), *maps, *plan,
		                           static_cast<int>(if_nametoindex(ifname.c_str())),
		                           plan->segments, seg_attach);
		    !r)
			return die(r.error().message());
		std::printf("gateway: %zu rules, %zu can-gw jobs, %zu segments\n",
		            plan->rules.size(), plan->jobs.size(), plan->segments.size());
	}
	for (const bpf_program* p :
	     {loaded->skel->progs.spsec_ingress, loaded->skel->progs.spsec_egress})
		if (auto st = prog_stats(p))
			std::printf("program %s: %u xlated insns, %u bytes jited, %u "
			            "verifier-processed "
			            "insns\n",
			            st->name.c_str(), st->xlated_insns, st->jited_bytes,
			            st->verified_insns);
	std::printf("aes %s (%s)\n", aes_impl_name(loaded->aes), loaded->aes_reason.c_str());
	std::printf("load time %lld.%03lld ms (open, verify and load both programs)\n",
	            static_cast<long long>(load_us.count() / 1000),
	            static_cast<long long>(load_us.count() % 1000));
	auto echo = device_echoes(ifname);
	std::printf("attached %s: %s %s, window %u, %zu policy entries, device echo %s\n",
	            ifname.c_str(), aead.c_str(), mode.c_str(), window, entries->size(),
	            echo ? (*echo ? "on (IFF_ECHO)" : "off") : "unknown");
	return 0;
}

int cmd_counters(const std::string& ifname)
{
	const std::string path =
	        std::string(SPSEC_PIN_ROOT) + "/" + ifname + "/" + SPSEC_MAP_COUNTERS;
	const int fd = bpf_obj_get(path.c_str());
	if (fd < 0)
		return die("opening " + path + ": " + std::strerror(errno));
	const int ncpu = libbpf_num_possible_cpus();
	std::vector<std::uint64_t> vals(static_cast<std::size_t>(ncpu > 0 ? ncpu : 1));
	for (std::uint32_t r = 0; r < SPSEC_R_MAX; r++) {
		if (bpf_map_lookup_elem(fd, &r, vals.data()))
			return die("reading " + path + ": " + std::strerror(errno));
		std::uint64_t sum = 0;
		for (auto v : vals)
			sum += v;
		if (sum)
			std::printf("%s %llu\n", std::string(reason_name(r)).c_str(),
			            static_cast<unsigned long long>(sum));
	}
	::close(fd);
	const std::string gpath =
	        std::string(SPSEC_PIN_ROOT) + "/" + ifname + "/" + SPSEC_MAP_GW_COUNT;
	const int gfd = bpf_obj_get(gpath.c_str());
	if (gfd < 0)
		return 0;  // a data plane without a gateway
	static const char* const kinds[SPSEC_GW_CNT_N] = {"fwd", "rate", "classic", "spare"};
	for (std::uint32_t k = 0; k < SPSEC_GW_RULES_MAX * SPSEC_GW_CNT_N; k++) {
		if (bpf_map_lookup_elem(gfd, &k, vals.data())) {
			::close(gfd);
			return die("reading " + gpath + ": " + std::strerror(errno));
		}
		std::uint64_t sum = 0;
		for (auto v : vals)
			sum += v;
		if (sum)
			std::printf("gw%u_%s %llu\n", k / SPSEC_GW_CNT_N, kinds[k % SPSEC_GW_CNT_N],
			            static_cast<unsigned long long>(sum));
	}
	::close(gfd);
	return 0;
}

int cmd_gwjobs(int argc, char** argv)
{
	if (argc >= 2 && std::string(argv[0]) == "--netns")
		if (auto r = enter_netns(argv[1]); !r)
			return die(r.error().message());
	auto jobs = cangw_list();
	if (!jobs)
		return die(jobs.error().message());
	auto name = [](int idx) {
		char buf[IF_NAMESIZE] = {};
		return std::string(if_indextoname(static_cast<unsigned>(idx), buf) ? buf : "?");
	};
	for (const auto& j : *jobs)
		std::printf("%s %s %X:%X %s %u %u\n", name(j.job.src_ifindex).c_str(),
		            name(j.job.dst_ifindex).c_str(), j.job.filter_id, j.job.filter_mask,
		            j.fd ? "fd" : "classic", j.handled, j.dropped);
	return 0;
}

int cmd_reasons(bool json)
{
	if (!json) {
		std::fputs(reason_table_markdown().c_str(), stdout);
		return 0;
	}
	Json out = Json::array();
	for (const auto& r : reason_table())
		out.push_back({{"code", r.code},
		               {"name", r.name},
		               {"direction", r.direction},
		               {"pass", r.passed}});
	std::puts(json_line(out).c_str());
	return 0;
}

Result<void> netns_from_args(int argc, char** argv)
{
	if (argc >= 2 && std::string(argv[0]) == "--netns")
		return enter_netns(argv[1]);
	return {};
}

int cmd_detach(const std::string& ifname, int argc, char** argv)
{
	if (auto r = netns_from_args(argc, argv); !r)
		return die(r.error().message());
	const unsigned idx = if_nametoindex(ifname.c_str());
	if (!idx)
		return die("no interface " + ifname);
	// tcx links: detached and unpinned (a pin alone would keep them).
	bool had_links = false;
	for (const char* name : {TcAttachment::kIngressLinkPin, TcAttachment::kEgressLinkPin}) {
		const std::string pin = std::string(SPSEC_PIN_ROOT) + "/" + ifname + "/" + name;
		const int fd = bpf_obj_get(pin.c_str());
		if (fd < 0)
			continue;
		had_links = true;
		if (bpf_link_detach(fd) != 0)
			return die("detaching " + pin + ": " + std::strerror(errno));
		::close(fd);
		if (::unlink(pin.c_str()) != 0)
			return die("unpinning " + pin + ": " + std::strerror(errno));
	}
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = static_cast<int>(idx),
	            .attach_point =
	                    static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS));
	const LibbpfSilencer quiet;  // no clsact is the normal case after tcx links
	const int err = bpf_tc_hook_destroy(&hook);
	if (err && !had_links)
		return die("removing clsact from " + ifname + ": " + std::strerror(-err));
	return 0;
}

int cmd_attached(const std::string& ifname, int argc, char** argv)
{
	std::string pin_dir = std::string(SPSEC_PIN_ROOT) + "/" + ifname;
	if (argc >= 2 && std::string(argv[0]) == "--pin-dir") {
		pin_dir = argv[1];
		argc -= 2;
		argv += 2;
	}
	if (auto r = netns_from_args(argc, argv); !r)
		return die(r.error().message());
	auto st = TcAttachment::query(ifname, pin_dir);
	if (!st)
		return die(st.error().message());
	if (!st->mode) {
		std::printf("none\n");
		return 1;
	}
	std::printf("%s ingress %u egress %u\n", attach_mode_name(*st->mode), st->ingress_prog_id,
	            st->egress_prog_id);
	return 0;
}

}  // namespace

int main(int argc, char** argv)
{
	if (argc >= 2 && std::string(argv[1]) == "reasons")
		return cmd_reasons(argc >= 3 && std::string(argv[2]) == "--json");
	if (argc >= 2 && std::string(argv[1]) == "gwjobs")
		return cmd_gwjobs(argc - 2, argv + 2);
	if (argc < 3)
		return die("usage: spsec_dp_driver attach|counters|detach|attached <ifname> "
		           "[options] | reasons [--json] | gwjobs [--netns NS]");
	set_libbpf_verbosity(std::getenv("SPSEC_VERBOSE") ? LibbpfVerbosity::Verbose
	                                                  : LibbpfVerbosity::Quiet);
	const std::string cmd = argv[1], ifname = argv[2];
	try {
		if (cmd == "attach")
			return cmd_attach(ifname, argc - 3, argv + 3);
		if (cmd == "counters")
			return cmd_counters(ifname);
		if (cmd == "detach")
			return cmd_detach(ifname, argc - 3, argv + 3);
		if (cmd == "attached")
			return cmd_attached(ifname, argc - 3, argv + 3);
	} catch (const std::exception& e) {
		return die(std::string("bad argument: ") + e.what());
	}
	return die("unknown command " + cmd);
}
