// SPDX-License-Identifier: Apache-2.0
// spsecctl provision PLAN.yaml: commissions every node of a bus from one plan file
// (docs/commissioning.md has the format). The plan is validated completely, key files included,
// before the bus is touched. Per node, Key IDs and configuration are read first and only what
// differs is written, so a second run changes nothing; the run stops at the first failure and
// reports what was done and what was not.
//
// Per node, in this order (each a separate Configurator session, core/session.h):
//   1. Zero-Key session at participant-id (then at `address`, for a factory-fresh node still
//      answering at its old ID): read the three Key IDs.
//   2. Provisioning Key ID not installed: Zero-Key session, install the Provisioning Key.
//   3. A session with the Integrator Key when it is installed, else the Provisioning Key: read
//      the configuration registers the plan sets.
//   4. Anything to change: Integrator Key (Provisioning-Key session), Seed Key, configuration.
// A Key ID on the node that differs from the plan's for a write-once key (Provisioning,
// Integrator) is an error: the node belongs to another key hierarchy. A different Seed Key ID
// is a re-key and is installed.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "core/aead.h"
#include "core/config.h"
#include "core/messages.h"
#include "ctl/can_link.h"
#include "ctl/commands.h"

namespace spsec::ctl {

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

constexpr const char* kProvisionHelp =
        "usage: spsecctl provision [--check] [--response-timeout MS] PLAN.yaml\n"
        "\n"
        "Provisions every node of the plan: Provisioning, Integrator and Seed Keys, participant\n"
        "ID, heartbeat and Sync role. Idempotent: reads the Key IDs and settings first and\n"
        "writes only what differs. Stops at the first failure (exit 1) and reports what was\n"
        "done. The whole plan, key files included, is checked before the bus is touched;\n"
        "--check only does that; it refuses a plan in which two nodes' transmit-ids share a\n"
        "secured ID, two Syncs, or node configurations (config:) that disagree.\n"
        "--response-timeout MS: wait this long for each response\n"
        "(default 100, the spec's; only for slow links). Format: docs/commissioning.md.\n";

struct NodePlan {
	int line = 0;
	std::uint8_t pp = 0;       // participant-id: the ID the node gets
	std::uint8_t address = 0;  // where it answers now (default pp)
	KeyMaterial provisioning;
	std::optional<KeyMaterial> integrator;
	std::optional<KeyMaterial> seed;
	// Configuration registers the plan sets, as wire bytes, in register order.
	std::map<std::uint8_t, std::vector<std::uint8_t>> config;
	// The node's transmit_ids (its spsecd.yaml): checked against the other nodes', not sent.
	std::vector<CanId> transmit_ids;
	// `config:` the node's spsecd configuration, validated whole; the registers above and
	// transmit_ids come from it, and it takes part in the bus-wide checks.
	std::optional<Config> cfg;
	std::string cfg_path;
	// register 63h as planned (from the plan or the config), for the one-Sync check
	std::optional<bool> sync_role;
};

struct PlanFile {
	std::string ifname;
	AeadKind aead = AeadKind::AesGcm;
	std::vector<NodePlan> nodes;
	std::uint64_t response_ns = kDefaultResponseNs;  // --response-timeout, not in the file
};

std::string where(const std::string& file, const YAML::Node& n)
{
	return file + ":" + std::to_string(n.Mark().line + 1);
}

Result<void> check_keys(const std::string& file, const YAML::Node& map,
                        std::span<const std::string_view> known, const std::string& what)
{
	for (const auto& kv : map) {
		const std::string k = kv.first.Scalar();
		if (std::find(known.begin(), known.end(), k) != known.end())
			continue;
		std::string msg = where(file, kv.first) + ": " + what + ": unknown key '" + k + "'";
		const auto guess = closest_match(k, known);
		if (!guess.empty())
			msg += ", did you mean '" + std::string(guess) + "'?";
		else {
			msg += " (known: ";
			for (std::size_t i = 0; i < known.size(); i++)
				msg += (i ? ", " : "") + std::string(known[i]);
			msg += ")";
		}
		return fail(msg);
	}
	return {};
}

Result<std::string> scalar(const std::string& file, const YAML::Node& n, const std::string& key)
{
	if (!n.IsScalar() || n.Scalar().empty())
		return fail(where(file, n) + ": " + key + ": expected a value");
	return n.Scalar();
}

std::string resolve(const std::string& plan_path, const std::string& p)
{
	if (p.empty() || p[0] == '/')
		return p;
	const auto slash = plan_path.rfind('/');
	return slash == std::string::npos ? p : plan_path.substr(0, slash + 1) + p;
}

std::string mode_text(StampMode m)
{
	return m == StampMode::Encrypt ? "encrypt" : "auth-only";
}

bool has(const std::vector<CanId>& sorted, const CanId& id)
{
	return std::binary_search(sorted.begin(), sorted.end(), id);
}

// What one node brings that must agree with the nodes before it: one Sync on the bus, and for
// nodes with a configuration the network's AEAD, stamp mode, tick and acceptance window (T and
// the stamp are bus-wide), and no ID secured on one node and plain on another (that node would
// hand the stamped bytes to its applications as data).
Result<void> check_against_bus(const PlanFile& plan, const NodePlan& np, const std::string& at)
{
	const std::string me = "node " + std::to_string(np.pp);
	for (const auto& other : plan.nodes) {
		const std::string them = "node " + std::to_string(other.pp) + " (line " +
		                         std::to_string(other.line) + ")";
		if (np.sync_role.value_or(false) && other.sync_role.value_or(false))
			return fail(at + ": " + me + " has the Sync role, and so has " + them +
			            ": a bus has one Sync (it alone distributes T and csalt)");
		if (!np.cfg || !other.cfg)
			continue;
		const Config& a = *np.cfg;
		const Config& b = *other.cfg;
		auto differ = [&](const std::string& key, const std::string& va,
		                  const std::string& vb) {
			return fail(at + ": " + me + "'s " + np.cfg_path + " has " + key + ": " +
			            va + ", " + them + "'s " + other.cfg_path + " has " + vb +
			            ": every node of a bus must use the same");
		};
		if (a.aead != b.aead)
			return differ("aead", std::string(aead_name(a.aead)),
			              std::string(aead_name(b.aead)));
		if (a.mode != b.mode)
			return differ("mode", mode_text(a.mode), mode_text(b.mode));
		if (a.tick_ns != b.tick_ns)
			return differ("data_bitrate (tick)", std::to_string(a.data_bitrate),
			              std::to_string(b.data_bitrate));
		if (a.acceptance_window != b.acceptance_window)
			return differ("acceptance_window", std::to_string(a.acceptance_window),
			              std::to_string(b.acceptance_window));
		for (const auto& [x, y, xs, ys] : {std::tuple{&a, &b, np.cfg_path, other.cfg_path},
		                                   std::tuple{&b, &a, other.cfg_path, np.cfg_path}})
			for (const CanId& id : x->secured_ids)
				if (has(y->plaintext_ids, id))
					return fail(at + ": " + me + " and " + them +
					            " disagree on " + format_can_id(id) +
					            ": secured in " + xs + ", plaintext in " + ys);
	}
	if (np.cfg && np.cfg->aead != plan.aead)
		return fail(at + ": " + me + "'s " + np.cfg_path +
		            " has aead: " + std::string(aead_name(np.cfg->aead)) + ", the plan " +
		            std::string(aead_name(plan.aead)));
	return {};
}

Result<PlanFile> load_plan(const std::string& path)
{
	std::ifstream in(path);
	if (!in)
		return fail(path + ": cannot open the plan file");
	std::stringstream ss;
	ss << in.rdbuf();
	// the guard of spsecd's configuration parser (config.h): a plan is a few kB and at most
	// three levels deep
	const std::string text = ss.str();
	if (text.size() > kMaxYamlBytes)
		return fail(path + ": larger than 1 MiB: not a provisioning plan");
	if (const auto line = yaml_too_deep(text))
		return fail(path + ":" + std::to_string(*line + 1) + ": nested more than " +
		            std::to_string(kMaxYamlNesting) + " levels (or indented more than " +
		            std::to_string(4 * kMaxYamlNesting) +
		            " columns): not a provisioning plan");
	YAML::Node root;
	try {
		root = YAML::Load(text);
	} catch (const YAML::Exception& e) {
		return fail(path + ":" + std::to_string(e.mark.line + 1) +
		            ": YAML syntax: " + e.msg);
	}
	if (!root.IsMap())
		return fail(path + ": expected a mapping with format, interface, nodes");
	static constexpr std::string_view kTop[] = {"format", "interface", "aead", "secured-ids",
	                                            "nodes"};
	if (auto r = check_keys(path, root, kTop, "plan"); !r)
		return tl::unexpected(r.error());
	PlanFile plan;
	if (!root["format"] || root["format"].Scalar() != "1")
		return fail(path + ": 'format: 1' is required (the plan format version)");
	if (!root["interface"])
		return fail(path + ": 'interface' is required (the CAN interface, e.g. can0)");
	auto ifn = scalar(path, root["interface"], "interface");
	if (!ifn)
		return tl::unexpected(ifn.error());
	plan.ifname = *ifn;
	if (root["aead"]) {
		auto a = scalar(path, root["aead"], "aead");
		if (!a)
			return tl::unexpected(a.error());
		auto k = parse_aead_name(*a);
		if (!k)
			return fail(where(path, root["aead"]) + ": aead: " + k.error().context);
		plan.aead = *k;
	}
	// A list of CAN IDs in spsecd.yaml's notation (0x181, 0x00000181).
	auto id_list = [&](const YAML::Node& v, const char* key) -> Result<std::vector<CanId>> {
		if (!v.IsSequence())
			return fail(where(path, v) + ": " + key + ": expected a list of CAN IDs");
		std::vector<CanId> out;
		for (const auto& e : v) {
			auto item = scalar(path, e, key);
			if (!item)
				return tl::unexpected(item.error());
			auto id = parse_can_id(*item);
			if (!id)
				return fail(where(path, e) + ": " + key + ": " +
				            id.error().context);
			out.push_back(*id);
		}
		return out;
	};
	// Without secured-ids every transmit ID counts as secured for the check below.
	std::optional<std::vector<CanId>> secured;
	if (root["secured-ids"]) {
		auto l = id_list(root["secured-ids"], "secured-ids");
		if (!l)
			return tl::unexpected(l.error());
		secured = std::move(*l);
	}
	const YAML::Node nodes = root["nodes"];
	if (!nodes || !nodes.IsSequence() || nodes.size() == 0)
		return fail(path + ": 'nodes' is required: a list of at least one node");

	static constexpr std::string_view kNode[] = {
	        "participant-id", "address",   "provisioning-key",  "integrator-key",
	        "seed-key",       "heartbeat", "heartbeat-monitor", "sync-role",
	        "transmit-ids",   "config"};
	for (const auto& n : nodes) {
		if (!n.IsMap())
			return fail(where(path, n) + ": a node must be a mapping");
		NodePlan np;
		np.line = n.Mark().line + 1;
		const std::string at = path + ":" + std::to_string(np.line);
		if (auto r = check_keys(path, n, kNode, "node"); !r)
			return tl::unexpected(r.error());
		auto id_of = [&](const char* key) -> Result<std::uint8_t> {
			auto s = scalar(path, n[key], key);
			if (!s)
				return tl::unexpected(s.error());
			auto v = parse_number(*s);
			if (!v || *v < 1 || *v > 127)
				return fail(where(path, n[key]) + ": " + key + ": '" + *s +
				            "' is not a participant ID 1..127");
			return static_cast<std::uint8_t>(*v);
		};
		if (n["config"]) {
			auto s = scalar(path, n["config"], "config");
			if (!s)
				return tl::unexpected(s.error());
			np.cfg_path = resolve(path, *s);
			auto c = load_config(np.cfg_path);
			if (!c)
				return fail(where(path, n["config"]) +
				            ": config: " + c.error().message());
			np.cfg = std::move(*c);
		}
		if (n["participant-id"]) {
			auto pp = id_of("participant-id");
			if (!pp)
				return tl::unexpected(pp.error());
			np.pp = *pp;
			if (np.cfg && np.cfg->participant_id != np.pp)
				return fail(where(path, n["participant-id"]) + ": participant-id " +
				            std::to_string(np.pp) + " contradicts " + np.cfg_path +
				            " (participant_id: " +
				            std::to_string(np.cfg->participant_id) + ")");
		} else if (np.cfg) {
			np.pp = np.cfg->participant_id;
		} else {
			return fail(at + ": node: 'participant-id' (or 'config') is required");
		}
		np.address = np.pp;
		if (n["address"]) {
			auto a = id_of("address");
			if (!a)
				return tl::unexpected(a.error());
			np.address = *a;
		}
		const std::string node_name = "node " + std::to_string(np.pp);
		auto key_of = [&](const char* key, KeySlotId slot) -> Result<KeyMaterial> {
			auto s = scalar(path, n[key], key);
			if (!s)
				return tl::unexpected(s.error());
			auto km = load_key_file(resolve(path, *s), slot);
			if (!km)
				return fail(where(path, n[key]) + ": " + key + ": " +
				            km.error().message());
			return km;
		};
		if (!n["provisioning-key"])
			return fail(at + ": " + node_name + ": 'provisioning-key' is required");
		auto prov = key_of("provisioning-key", KeySlotId::Provisioning);
		if (!prov)
			return tl::unexpected(prov.error());
		np.provisioning = std::move(*prov);
		if (n["integrator-key"]) {
			auto k = key_of("integrator-key", KeySlotId::Integrator);
			if (!k)
				return tl::unexpected(k.error());
			np.integrator = std::move(*k);
		}
		if (n["seed-key"]) {
			auto k = key_of("seed-key", KeySlotId::Seed);
			if (!k)
				return tl::unexpected(k.error());
			np.seed = std::move(*k);
		}
		np.config[reg::kParticipantId] = {np.pp};
		const std::pair<const char*, std::uint8_t> settings[] = {
		        {"heartbeat", reg::kHeartbeatTiming},
		        {"heartbeat-monitor", reg::kHeartbeatMonitor},
		        {"sync-role", reg::kSyncRole}};
		for (const auto& [key, r] : settings) {
			if (!n[key])
				continue;
			auto s = scalar(path, n[key], key);
			if (!s)
				return tl::unexpected(s.error());
			// yaml-cpp keeps `on`/`off` as written; parse_register_value knows them.
			auto v = parse_register_value(r, *s);
			if (!v)
				return fail(where(path, n[key]) + ": " + key + ": " +
				            v.error().context);
			np.config[r] = std::move(*v);
		}
		if (np.cfg) {
			// The registers the node's configuration implies; a plan value must agree.
			const HeartbeatConfig& hb = np.cfg->heartbeat;
			std::string monitor = hb.monitor_all       ? "all"
			                      : hb.monitor.empty() ? "none"
			                                           : "";
			for (std::size_t i = 0; i < hb.monitor.size(); i++)
				monitor += (i ? "," : "") + std::to_string(hb.monitor[i]);
			const std::tuple<const char*, const char*, std::uint8_t, std::string>
			        implied[] = {{"heartbeat", "heartbeat.cycle", reg::kHeartbeatTiming,
			                      std::string(heartbeat_cycle_name(hb.cycle))},
			                     {"heartbeat-monitor", "heartbeat.monitor",
			                      reg::kHeartbeatMonitor, monitor},
			                     {"sync-role", "sync", reg::kSyncRole,
			                      np.cfg->sync_role ? "on" : "off"}};
			for (const auto& [key, cfg_key, r, value] : implied) {
				auto v = parse_register_value(r, value);
				if (!v)
					return fail(at + ": " + node_name + ": " + np.cfg_path +
					            ": " + cfg_key + ": " + v.error().context);
				if (const auto it = np.config.find(r);
				    it != np.config.end() && it->second != *v)
					return fail(where(path, n[key]) + ": " + key +
					            " contradicts " + np.cfg_path + " (" + cfg_key +
					            ": " + value + ")");
				np.config[r] = std::move(*v);
			}
		}
		if (const auto it = np.config.find(reg::kSyncRole); it != np.config.end())
			np.sync_role = !it->second.empty() && it->second[0] != 0;
		if (n["transmit-ids"]) {
			auto l = id_list(n["transmit-ids"], "transmit-ids");
			if (!l)
				return tl::unexpected(l.error());
			np.transmit_ids = std::move(*l);
			if (np.cfg) {
				std::vector<CanId> sorted = np.transmit_ids;
				std::sort(sorted.begin(), sorted.end());
				sorted.erase(std::unique(sorted.begin(), sorted.end()),
				             sorted.end());
				if (sorted != np.cfg->transmit_ids)
					return fail(where(path, n["transmit-ids"]) +
					            ": transmit-ids contradicts " + np.cfg_path +
					            " (transmit_ids); leave it out: the config's "
					            "are used");
			}
		} else if (np.cfg) {
			np.transmit_ids = np.cfg->transmit_ids;
		}
		for (const auto& other : plan.nodes)
			if (other.pp == np.pp)
				return fail(at + ": participant-id " + std::to_string(np.pp) +
				            " is used twice (also line " +
				            std::to_string(other.line) + ")");
		if (auto r = check_against_bus(plan, np, at); !r)
			return tl::unexpected(r.error());
		// Two senders of one secured ID would seal two frames under one key and nonce
		// whenever they send in one tick (keystream reuse), and each would see the other's
		// frames as injections of its own ID.
		// Which IDs are secured: the plan's secured-ids; else a node's configuration's; a
		// node without either counts every transmit ID as secured.
		auto is_secured = [&](const NodePlan& node, const CanId& id) {
			const std::vector<CanId>* list = secured    ? &*secured
			                                 : node.cfg ? &node.cfg->secured_ids
			                                            : nullptr;
			return list == nullptr ||
			       std::find(list->begin(), list->end(), id) != list->end();
		};
		for (const CanId& id : np.transmit_ids) {
			for (const auto& other : plan.nodes)
				if ((is_secured(np, id) || is_secured(other, id)) &&
				    std::find(other.transmit_ids.begin(), other.transmit_ids.end(),
				              id) != other.transmit_ids.end())
					return fail(
					        at + ": node " + std::to_string(np.pp) +
					        " transmits secured ID " + format_can_id(id) +
					        ", which node " + std::to_string(other.pp) +
					        " (line " + std::to_string(other.line) +
					        ") transmits too: two nodes must never send one "
					        "secured ID (AEAD nonce reuse)");
		}
		plan.nodes.push_back(std::move(np));
	}
	return plan;
}

std::vector<std::uint8_t> le32(std::uint32_t v)
{
	return {static_cast<std::uint8_t>(v), static_cast<std::uint8_t>(v >> 8),
	        static_cast<std::uint8_t>(v >> 16), static_cast<std::uint8_t>(v >> 24)};
}

std::uint32_t le32_of(const std::vector<std::uint8_t>& d)
{
	std::uint32_t v = 0;
	for (std::size_t i = std::min<std::size_t>(d.size(), 4); i-- > 0;)
		v = (v << 8) | d[i];
	return v;
}

std::string id_text(std::uint32_t id)
{
	char b[16];
	std::snprintf(b, sizeof b, "0x%08x", id);
	return b;
}

void add_key_ops(std::vector<SessionOp>& ops, KeySlotId slot, const KeyMaterial& k)
{
	const auto base = static_cast<std::uint8_t>(0x21 + static_cast<unsigned>(slot));
	auto key = k.key.expose();
	ops.push_back(SessionOp::write(base, std::vector<std::uint8_t>(key.begin(), key.end())));
	ops.push_back(SessionOp::write(static_cast<std::uint8_t>(base + 0x10),
	                               std::vector<std::uint8_t>(k.salt.begin(), k.salt.end())));
	ops.push_back(SessionOp::write(static_cast<std::uint8_t>(base + 0x20), le32(k.id)));
}

class Provisioner {
public:
	Provisioner(const PlanFile& plan, FrameLink& link, CtlEnv& env)
	    : plan_(plan), link_(link), env_(env)
	{
	}

	// One node; false on failure (error_ says why).
	bool node(const NodePlan& n);

	std::string error_;
	std::vector<std::string> done_;  // what was changed, for the report
	unsigned changes_ = 0;

private:
	struct Session {
		bool ok = false;
		std::vector<OpResult> results;
	};
	Session session(const std::string& step, std::uint8_t at, OpeningKey key,
	                const KeyMaterial* km, std::vector<SessionOp> ops, bool quiet_hello);
	void note(const std::string& s) { env_.out += "  " + s + "\n"; }

	const PlanFile& plan_;
	FrameLink& link_;
	CtlEnv& env_;
	bool no_answer_ = false;
};

Provisioner::Session Provisioner::session(const std::string& step, std::uint8_t at, OpeningKey key,
                                          const KeyMaterial* km, std::vector<SessionOp> ops,
                                          bool quiet_hello)
{
	ClientConfig cfg;
	cfg.pp = at;
	cfg.aead = plan_.aead;
	cfg.opening = key;
	cfg.timeouts.response_ns = plan_.response_ns;
	if (km) {
		cfg.key = km->key.clone();
		cfg.salt = km->salt;
	}
	cfg.ops = std::move(ops);
	no_answer_ = false;
	auto run = run_session(link_, std::move(cfg), env_.rng);
	if (!run) {
		error_ = step + ": " + run.error().message();
		return {};
	}
	if (!run->ok) {
		no_answer_ = run->failed_in == SessionClient::State::AwaitServerHello;
		if (!(quiet_hello && no_answer_))
			error_ = describe_session_failure(step, at, key, *run->error,
			                                  run->failed_in, nullptr);
		return {};
	}
	return {true, std::move(run->results)};
}

bool Provisioner::node(const NodePlan& n)
{
	const std::string name = "node " + std::to_string(n.pp);
	env_.out += name + ":\n";
	// 1. Discovery, at the target ID first (a re-run), then at the factory/old address.
	std::vector<std::uint8_t> candidates{n.pp};
	if (n.address != n.pp)
		candidates.push_back(n.address);
	std::optional<std::uint8_t> at;
	Session disc;
	for (std::size_t i = 0; i < candidates.size() && !at; i++) {
		disc = session(name + ": reading the Key IDs (Zero-Key session)", candidates[i],
		               OpeningKey::Zero, nullptr,
		               {SessionOp::read(reg::kProvisioningKeyId),
		                SessionOp::read(reg::kIntegratorKeyId),
		                SessionOp::read(reg::kSeedKeyId)},
		               i + 1 < candidates.size());
		if (disc.ok)
			at = candidates[i];
		else if (!no_answer_ || i + 1 == candidates.size())
			return false;
	}
	const std::uint32_t prov_id = le32_of(disc.results[0].data);
	const std::uint32_t integ_id = le32_of(disc.results[1].data);
	const std::uint32_t seed_id = le32_of(disc.results[2].data);
	note("answers at participant " + std::to_string(*at));

	// 2. Provisioning Key (write-once, Zero-Key session).
	if (prov_id == kKeyIdErased) {
		std::vector<SessionOp> ops;
		add_key_ops(ops, KeySlotId::Provisioning, n.provisioning);
		if (!session(name + ": installing the Provisioning Key", *at, OpeningKey::Zero,
		             nullptr, std::move(ops), false)
		             .ok)
			return false;
		changes_++;
		done_.push_back(name + ": Provisioning Key " + id_text(n.provisioning.id) +
		                " installed");
		note("provisioning key " + id_text(n.provisioning.id) + ": installed");
	} else if (prov_id != n.provisioning.id) {
		error_ = name + ": holds Provisioning Key " + id_text(prov_id) + ", the plan has " +
		         id_text(n.provisioning.id) +
		         " (write-once: this node belongs to another key hierarchy)";
		return false;
	} else {
		note("provisioning key " + id_text(prov_id) + ": already installed");
	}

	// 3. Which key opens the configuration sessions.
	bool install_integrator = false;
	if (n.integrator) {
		if (integ_id == kKeyIdErased) {
			install_integrator = true;
		} else if (integ_id != n.integrator->id) {
			error_ =
			        name + ": holds Integrator Key " + id_text(integ_id) +
			        ", the plan has " + id_text(n.integrator->id) +
			        " (write-once: a manufacturer reset with the old Integrator Key is "
			        "needed first)";
			return false;
		} else {
			note("integrator key " + id_text(integ_id) + ": already installed");
		}
	}
	const bool use_integrator = n.integrator && !install_integrator;
	const OpeningKey read_key =
	        use_integrator ? OpeningKey::Integrator : OpeningKey::Provisioning;
	const KeyMaterial* read_km = use_integrator ? &*n.integrator : &n.provisioning;

	std::vector<SessionOp> reads;
	for (const auto& [r, v] : n.config)
		reads.push_back(SessionOp::read(r));
	auto cur = session(name + ": reading the configuration", *at, read_key, read_km,
	                   std::move(reads), false);
	if (!cur.ok)
		return false;

	// 4. Changes.
	std::vector<SessionOp> writes;
	std::vector<std::string> what;
	if (install_integrator) {
		add_key_ops(writes, KeySlotId::Integrator, *n.integrator);
		what.push_back("integrator key " + id_text(n.integrator->id) + ": installed");
	}
	if (n.seed && seed_id != n.seed->id) {
		add_key_ops(writes, KeySlotId::Seed, *n.seed);
		what.push_back(
		        "seed key " + id_text(n.seed->id) + ": installed" +
		        (seed_id == kKeyIdErased ? "" : " (replaces " + id_text(seed_id) + ")"));
	} else if (n.seed) {
		note("seed key " + id_text(seed_id) + ": already installed");
	}
	std::size_t i = 0;
	bool new_id = false;
	for (const auto& [r, v] : n.config) {
		const std::string label = register_label(r);
		if (cur.results[i++].data != v) {
			new_id |= r == reg::kParticipantId;
			writes.push_back(SessionOp::write(r, v));
			what.push_back(label + ": set");
		} else {
			note(label + ": already set");
		}
	}
	if (writes.empty())
		return true;
	const OpeningKey wkey = install_integrator ? OpeningKey::Provisioning : read_key;
	const KeyMaterial* wkm = install_integrator ? &n.provisioning : read_km;
	const std::size_t n_writes = writes.size();
	if (!session(name + ": writing", *at, wkey, wkm, std::move(writes), false).ok)
		return false;
	changes_ += static_cast<unsigned>(n_writes);
	for (const auto& w : what) {
		note(w);
		done_.push_back(name + ": " + w);
	}
	if (new_id && n.pp != *at)
		note("participant ID " + std::to_string(n.pp) +
		     " takes effect when the node restarts");
	return true;
}

constexpr cli::Option kProvisionOptions[] = {{"check", ""}, {"response-timeout", "MS"}};

}  // namespace

namespace spec {
const cli::Spec provision{"spsecctl provision", kProvisionOptions, 1};
}  // namespace spec

int run_provision(const std::vector<std::string>& args, CtlEnv& env)
{
	auto usage = [&](const std::string& m) {
		env.err += cli::usage_message(spec::provision.command, m);
		return kExitUsage;
	};
	auto parsed = cli::parse(spec::provision, args);
	if (!parsed)
		return usage(parsed.error().message);
	if (parsed->help) {
		env.out += kProvisionHelp;
		return kExitOk;
	}
	const bool check = parsed->has("check");
	std::uint64_t response_ns = kDefaultResponseNs;
	if (const std::string* v = parsed->value("response-timeout")) {
		auto n = parse_response_timeout(*v);
		if (!n)
			return usage(n.error().message());
		response_ns = *n;
	}
	if (parsed->positional.empty())
		return usage("PLAN.yaml is required");
	const std::optional<std::string> path = parsed->positional[0];
	auto plan = load_plan(*path);
	if (!plan) {
		env.err += "spsecctl provision: " + plan.error().message() + "\n";
		return kExitUsage;
	}
	plan->response_ns = response_ns;
	if (check) {
		env.out += *path + ": valid, " + std::to_string(plan->nodes.size()) + " node(s)\n";
		return kExitOk;
	}
	auto link = env.open_link(plan->ifname);
	if (!link) {
		env.err += "spsecctl provision: " + link.error().message() + "\n";
		return kExitFailed;
	}
	Provisioner p(*plan, **link, env);
	for (std::size_t i = 0; i < plan->nodes.size(); i++) {
		if (p.node(plan->nodes[i]))
			continue;
		std::string report = "spsecctl provision: FAILED: " + p.error_ + "\n";
		report += "  done before the failure:" +
		          std::string(p.done_.empty() ? " nothing\n" : "\n");
		for (const auto& d : p.done_)
			report += "    " + d + "\n";
		report += "  not done: node " + std::to_string(plan->nodes[i].pp) +
		          " (the rest of it)";
		for (std::size_t j = i + 1; j < plan->nodes.size(); j++)
			report += ", node " + std::to_string(plan->nodes[j].pp);
		report += "\n  fix the cause and run the plan again: finished steps are skipped\n";
		env.err += report;
		return kExitFailed;
	}
	env.out += "provisioned " + std::to_string(plan->nodes.size()) + " node(s), " +
	           std::to_string(p.changes_) + " register write(s)\n";
	return kExitOk;
}

}  // namespace spsec::ctl
