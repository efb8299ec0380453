// SPDX-License-Identifier: Apache-2.0
// spsecctl configure: one Configurator session (spec §5) to one participant, running a list of
// register operations in order, then Terminate. The protocol is core/session.h's SessionClient;
// this file parses the command line, loads keys, maps operations to register reads and writes,
// and prints the outcome as a table or JSON (docs/commissioning.md).
//
// Keys come only from key files (common/key_store.h format), never from argv, and are never
// printed; the session key bytes live in Key32 / SessionOp data, wiped when the client ends.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/key_store.h"
#include "core/aead.h"
#include "core/hex.h"
#include "core/messages.h"
#include "core/registers.h"
#include "core/session.h"
#include "core/state_machine.h"
#include "ctl/can_link.h"
#include "ctl/commands.h"

namespace spsec::ctl {

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

constexpr const char* kConfigureHelp =
        "usage: spsecctl configure --interface IF --participant N\n"
        "                          --key-selector zero|provisioning|integrator [--key-file F]\n"
        "                          [--aead NAME] [--response-timeout MS] [--json]\n"
        "                          [--no-pad] OP...\n"
        "\n"
        "Opens a Configurator session to participant N (1..127) with the chosen key, runs the\n"
        "operations in order and terminates the session. Stops at the first failure (the\n"
        "session is still terminated cleanly); exit 1 names the step, the register and the\n"
        "event code. Exit 2: wrong usage.\n"
        "  --key-file F     key store file holding <selector>.key/.salt/.id (chmod 600);\n"
        "                   not used with the Zero Key\n"
        "  --aead NAME      the network's AEAD: aes-gcm (default), chacha20-poly1305, ascon\n"
        "  --response-timeout MS  wait this long for each response (default 100, the\n"
        "                   spec's; raise it only for slow links such as emulated buses)\n"
        "  --json           one JSON object on stdout instead of a table\n"
        "  --no-pad         send each request at its message length, not padded to a CAN FD\n"
        "                   length (as python-can does on vcan/vxcan; interop testing on\n"
        "                   virtual buses only: real controllers cannot send such frames)\n"
        "Operations (REG: CLI name or address, e.g. participant-id, 0x60, 60h):\n"
        "  read REG                      read a register\n"
        "  write REG VALUE               write a configuration register (hex 0x.., ..h, or\n"
        "                                decimal; the named forms of `set` work too)\n"
        "  set participant-id N          1..127 (effective at the node's next start)\n"
        "  set heartbeat T               off, 8s, 4s, 2s, 1s, 500ms, 250ms or 0..6\n"
        "  set heartbeat-monitor M       all, none, or up to 4 IDs: 3,5,9\n"
        "  set sync-role on|off\n"
        "  set bit-rate 0xDDNN           data code DD, nominal code NN\n"
        "  install-provisioning --key-file F [--id ID]   (Zero-Key session, once)\n"
        "  install-integrator --key-file F [--id ID]     (Provisioning-Key session, once)\n"
        "  install-seed --key-file F [--id ID]           (Provisioning or Integrator session)\n"
        "                                the file holds <role>.key/.salt/.id; --id, if given,\n"
        "                                must equal the file's ID\n"
        "  identify                      versions, device ID, serial, key IDs, status\n"
        "  status                        register 50h: state and alert bit\n"
        "  last-event                    register 51h: the last security event\n"
        "  manufacturer-reset            erase Integrator and Seed Keys (Integrator session)\n";

struct Usage {
	std::string message;
};

std::string lower(std::string_view s)
{
	std::string r(s);
	std::transform(r.begin(), r.end(), r.begin(), [](unsigned char c) {
		return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
	});
	return r;
}

std::string hex_n(std::uint64_t v, int digits)
{
	char b[40];
	std::snprintf(b, sizeof b, "0x%0*llx", digits & 15, static_cast<unsigned long long>(v));
	return b;
}

std::string hex_h(std::uint32_t v, int digits)
{
	char b[40];
	std::snprintf(b, sizeof b, "%0*XH", digits & 15, v);
	std::string s = b;
	s.back() = 'h';
	return s;
}

std::uint32_t le_value(std::span<const std::uint8_t> d)
{
	std::uint32_t v = 0;
	for (std::size_t i = d.size(); i-- > 0;)
		v = (v << 8) | d[i];
	return v;
}

}  // namespace

std::string register_label(std::uint8_t reg)
{
	const RegisterInfo* info = find_register(reg);
	std::string name = info ? std::string(info->cli_name) : std::string("register");
	return name + " (" + hex_h(reg, 2) + ")";
}

Result<std::uint64_t> parse_response_timeout(std::string_view text)
{
	auto n = parse_number(text);
	if (!n || *n < 1 || *n >= 10'000)
		return fail("--response-timeout '" + std::string(text) +
		            "' is not a time in ms, 1..9999 (below the 10 s session limit)");
	return *n * 1'000'000;
}

Result<std::uint64_t> parse_number(std::string_view text)
{
	return cli::parse_unsigned(text);
}

Result<std::vector<std::uint8_t>> parse_register_value(std::uint8_t reg, std::string_view text)
{
	const RegisterInfo* info = find_register(reg);
	if (!info)
		return fail("unknown register " + hex_h(reg, 2));
	const std::string label = register_label(reg);
	const std::string t = lower(text);
	std::optional<std::uint64_t> v;
	if (reg == reg::kHeartbeatTiming) {
		static constexpr std::string_view kNames[] = {"off", "8s",    "4s",   "2s",
		                                              "1s",  "500ms", "250ms"};
		for (std::size_t i = 0; i < std::size(kNames); i++)
			if (t == kNames[i])
				v = i;
	} else if (reg == reg::kSyncRole) {
		if (t == "on")
			v = 1;
		else if (t == "off")
			v = 0;
	} else if (reg == reg::kHeartbeatMonitor) {
		if (t == "all")
			v = 0xFFFFFFFFu;
		else if (t == "none")
			v = 0;
		else if (t.find(',') != std::string::npos || (!t.empty() && t.size() <= 3)) {
			// A list of up to four participant IDs, byte i = ID i.
			std::uint32_t m = 0;
			std::size_t i = 0, pos = 0;
			for (;;) {
				const std::size_t comma = t.find(',', pos);
				const std::string item = t.substr(pos, comma - pos);
				auto id = parse_number(item);
				if (!id || *id < 1 || *id > 127)
					return fail(label + ": monitor entry '" + item +
					            "' is not a participant ID 1..127");
				if (i == 4)
					return fail(label + ": at most 4 monitored IDs (or 'all')");
				m |= static_cast<std::uint32_t>(*id) << (8 * i++);
				if (comma == std::string::npos)
					break;
				pos = comma + 1;
			}
			v = m;
		}
	}
	if (!v) {
		auto n = parse_number(text);
		if (!n)
			return fail(label + ": " + n.error().context);
		v = *n;
	}
	const std::size_t size = info->size;
	if (size == 0 || size > 4 || (size < 8 && *v >> (8 * size) != 0))
		return fail(label + ": value '" + std::string(text) + "' does not fit " +
		            std::to_string(size) + " byte(s)");
	std::vector<std::uint8_t> bytes(size);
	for (std::size_t i = 0; i < size; i++)
		bytes[i] = static_cast<std::uint8_t>(*v >> (8 * i));
	if (reg == reg::kManufacturerReset) {
		if (*v != kManufacturerResetValue)
			return fail(label + ": the only valid value is 0x1D04E5E1");
	} else if (auto ok = validate_config_value(reg, bytes); !ok) {
		return fail(label + ": value '" + std::string(text) + "' refused (" +
		            std::string(reg_status_name(ok.error())) + ")");
	}
	return bytes;
}

Result<KeyMaterial> load_key_file(const std::string& path, KeySlotId role)
{
	auto store = KeyStore::load(path, ::geteuid());
	if (!store)
		return tl::unexpected(store.error());
	const KeyRole kr = role == KeySlotId::Seed         ? KeyRole::Seed
	                   : role == KeySlotId::Integrator ? KeyRole::Integrator
	                                                   : KeyRole::Provisioning;
	const KeyEntry* e = store->get(kr);
	if (!e)
		return fail(path + ": no " + std::string(key_role_name(kr)) + ".key/.salt/.id in " +
		            "this key file");
	KeyMaterial m;
	m.key = e->key.clone();
	m.salt = e->salt;
	m.id = e->id;
	return m;
}

std::string describe_session_failure(const std::string& step, std::uint8_t pp, OpeningKey key,
                                     const ClientError& e, SessionClient::State failed_in,
                                     std::uint16_t* event_out)
{
	std::uint16_t code = e.code;
	std::string where;
	if (failed_in == SessionClient::State::AwaitServerFinished &&
	    code == event_code::kSessionResponseTimeout) {
		// The participant answered the ClientHello, so it holds a key of that kind, but
		// refused our ClientFinished: its event 5E02h, caused by a wrong key or salt.
		code = event_code::kSessionFinishedAuth;
		where = " at the participant";
	}
	std::string msg = step + ", participant " + std::to_string(pp) + ", " +
	                  std::string(opening_key_name(key)) + " key session: " + e.message;
	if (failed_in == SessionClient::State::AwaitServerHello)
		msg += " (a node still in Configuration from an interrupted session ignores "
		       "ClientHellos until its 10 s session timeout)";
	if (code != 0)
		msg += " [event " + hex_h(code, 4) + " " + std::string(event_code_name(code)) +
		       where + "]";
	if (event_out)
		*event_out = code;
	return msg;
}

// ---- configure -------------------------------------------------------------------------------

namespace {

std::string render_value(std::uint8_t reg, std::span<const std::uint8_t> d)
{
	const RegisterInfo* info = find_register(reg);
	if (!info)
		return format_hex(d);
	switch (info->kind) {
	case RegKind::String: {
		std::string s;
		for (auto c : d)
			s += (c >= 0x20 && c < 0x7F) ? static_cast<char>(c) : '?';
		return s;
	}
	case RegKind::Bytes:
	case RegKind::Key:
	case RegKind::Salt:
		return format_hex(d);
	default:
		break;
	}
	if (d.size() != info->size)
		return format_hex(d) + " (unexpected length)";
	const std::uint32_t v = le_value(d);
	switch (reg) {
	case reg::kStatus: {
		const unsigned st = v & 0x0Fu;
		std::string name = "unknown";
		for (State s : {State::NotSet, State::Waiting, State::Secure, State::Warning,
		                State::Configuration, State::Shutdown})
			if (static_cast<unsigned>(s) == st)
				name = state_name(s);
		return hex_n(v, 2) + " " + name + ((v & 0x80u) ? ", alert" : "");
	}
	case reg::kLastEvent:
		return v == 0 ? std::string("none")
		              : hex_h(v, 4) + " " +
		                        std::string(event_code_name(static_cast<std::uint16_t>(v)));
	case reg::kProvisioningKeyId:
	case reg::kIntegratorKeyId:
	case reg::kSeedKeyId:
		return v == kKeyIdErased ? std::string("not installed") : hex_n(v, 8);
	case reg::kHeartbeatTiming: {
		static constexpr const char* kNames[] = {"off", "8s",    "4s",   "2s",
		                                         "1s",  "500ms", "250ms"};
		return v < 7 ? std::string(kNames[v]) : std::to_string(v);
	}
	case reg::kHeartbeatMonitor: {
		if (v == 0xFFFFFFFFu)
			return "all";
		std::string s;
		for (int i = 0; i < 4; i++) {
			const unsigned id = (v >> (8 * i)) & 0xFFu;
			if (id != 0)
				s += (s.empty() ? "" : ",") + std::to_string(id);
		}
		return s.empty() ? "none" : s;
	}
	case reg::kSyncRole:
		return v == 0 ? "off" : v == 1 ? "on" : std::to_string(v);
	default:
		return std::to_string(v) + " (" + hex_n(v, static_cast<int>(2 * d.size())) + ")";
	}
}

// One operation of the command line, expanded to one or more register accesses.
struct Step {
	std::string op;      // "read", "write", "install-seed", ...
	std::string detail;  // "seed-key (23h), ID 0x00000003"
	std::uint8_t first_reg = 0;
	std::size_t first_op = 0;  // index into the session's ops
	std::size_t n_ops = 0;
};

struct Plan {
	std::vector<Step> steps;
	std::vector<SessionOp> ops;
	~Plan()
	{
		for (auto& o : ops)
			secure_wipe(o.data.data(), o.data.size());
	}
};

Result<const RegisterInfo*> reg_arg(std::string_view text)
{
	auto r = lookup_register(text);
	if (!r)
		return tl::unexpected(r.error());
	return *r;
}

void add(Plan& p, Step s, std::vector<SessionOp> ops)
{
	s.first_op = p.ops.size();
	s.n_ops = ops.size();
	s.first_reg = ops.empty() ? 0 : ops.front().reg;
	for (auto& o : ops)
		p.ops.push_back(std::move(o));
	p.steps.push_back(std::move(s));
}

tl::expected<void, Usage> add_install(Plan& p, const std::string& op, KeySlotId slot,
                                      const std::vector<std::string>& a, std::size_t& i)
{
	auto opts = cli::parse(
	        spec::install_key,
	        std::vector<std::string>(a.begin() + static_cast<std::ptrdiff_t>(i), a.end()));
	if (!opts)
		return tl::unexpected(Usage{op + ": " + opts.error().message});
	i += opts->end;
	std::optional<std::string> file;
	if (const std::string* f = opts->value("key-file"))
		file = *f;
	std::optional<std::uint32_t> id;
	if (const std::string* t = opts->value("id")) {
		auto n = parse_number(*t);
		if (!n || *n == 0 || *n >= 0xFFFFFFFFu)
			return tl::unexpected(
			        Usage{op + ": --id '" + *t + "' is not a Key ID (1..0xFFFFFFFE)"});
		id = static_cast<std::uint32_t>(*n);
	}
	if (!file)
		return tl::unexpected(Usage{op + ": --key-file F is required"});
	auto km = load_key_file(*file, slot);
	if (!km)
		return tl::unexpected(Usage{op + ": " + km.error().message()});
	if (id && *id != km->id)
		return tl::unexpected(Usage{op + ": --id " + hex_n(*id, 8) +
		                            " differs from the ID " + hex_n(km->id, 8) + " in " +
		                            *file});
	const std::uint8_t base = static_cast<std::uint8_t>(0x21 + static_cast<unsigned>(slot));
	auto key = km->key.expose();
	std::vector<std::uint8_t> idb(4);
	for (std::size_t b = 0; b < 4; b++)
		idb[b] = static_cast<std::uint8_t>(km->id >> (8 * b));
	// Moved, never copied (an initializer_list would copy the key bytes and free the copies
	// unwiped); the session client wipes them when it ends.
	std::vector<SessionOp> ops;
	ops.reserve(3);
	ops.push_back(SessionOp::write(base, std::vector<std::uint8_t>(key.begin(), key.end())));
	ops.push_back(
	        SessionOp::write(static_cast<std::uint8_t>(base + 0x10),
	                         std::vector<std::uint8_t>(km->salt.begin(), km->salt.end())));
	ops.push_back(SessionOp::write(static_cast<std::uint8_t>(base + 0x20), std::move(idb)));
	add(p, Step{op, register_label(base) + ", ID " + hex_n(km->id, 8), 0, 0, 0},
	    std::move(ops));
	return {};
}

tl::expected<void, Usage> add_write(Plan& p, const std::string& op, std::string_view reg_text,
                                    std::string_view value)
{
	auto r = reg_arg(reg_text);
	if (!r)
		return tl::unexpected(Usage{op + ": " + r.error().context});
	const RegisterInfo* info = *r;
	const std::string label = register_label(info->addr);
	if (info->kind == RegKind::Key || info->kind == RegKind::Salt ||
	    info->kind == RegKind::KeyId)
		return tl::unexpected(Usage{op + " " + label +
		                            ": keys, salts and Key IDs are written together with "
		                            "install-provisioning/-integrator/-seed --key-file F "
		                            "(a key never goes on the command line)"});
	if (info->access == RegAccess::Read)
		return tl::unexpected(Usage{op + " " + label + ": read-only register"});
	auto bytes = parse_register_value(info->addr, value);
	if (!bytes)
		return tl::unexpected(Usage{op + ": " + bytes.error().context});
	add(p, Step{op, label + " = " + std::string(value), 0, 0, 0},
	    {SessionOp::write(info->addr, std::move(*bytes))});
	return {};
}

tl::expected<void, Usage> add_read(Plan& p, const std::string& op, std::string_view reg_text)
{
	auto r = reg_arg(reg_text);
	if (!r)
		return tl::unexpected(Usage{op + ": " + r.error().context});
	if ((*r)->access == RegAccess::WriteOnly)
		return tl::unexpected(Usage{op + " " + register_label((*r)->addr) +
		                            ": write-only register, never readable"});
	add(p, Step{op, register_label((*r)->addr), 0, 0, 0}, {SessionOp::read((*r)->addr)});
	return {};
}

tl::expected<void, Usage> parse_ops(const std::vector<std::string>& a, std::size_t i, Plan& p)
{
	if (i >= a.size())
		return tl::unexpected(Usage{"no operation given (e.g. read status)"});
	while (i < a.size()) {
		const std::string op = a[i++];
		auto need = [&](std::size_t n, const char* what) -> tl::expected<void, Usage> {
			if (i + n > a.size())
				return tl::unexpected(Usage{op + ": expected " + what});
			return {};
		};
		tl::expected<void, Usage> r;
		if (op == "read") {
			if (r = need(1, "a register"); r)
				r = add_read(p, op, a[i++]);
		} else if (op == "write") {
			if (r = need(2, "a register and a value"); r) {
				r = add_write(p, op, a[i], a[i + 1]);
				i += 2;
			}
		} else if (op == "set") {
			if (r = need(2, "a setting and a value"); r) {
				std::string what = a[i] == "heartbeat" ? "heartbeat-timing" : a[i];
				static constexpr std::string_view kSettable[] = {
				        "participant-id", "heartbeat-timing", "heartbeat-monitor",
				        "sync-role", "bit-rate"};
				if (std::find(std::begin(kSettable), std::end(kSettable), what) ==
				    std::end(kSettable))
					r = tl::unexpected(Usage{
					        "set: unknown setting '" + a[i] +
					        "' (participant-id, heartbeat, heartbeat-monitor, "
					        "sync-role, bit-rate)"});
				else
					r = add_write(p, "set", what, a[i + 1]);
				i += 2;
			}
		} else if (op == "install-provisioning") {
			r = add_install(p, op, KeySlotId::Provisioning, a, i);
		} else if (op == "install-integrator") {
			r = add_install(p, op, KeySlotId::Integrator, a, i);
		} else if (op == "install-seed") {
			r = add_install(p, op, KeySlotId::Seed, a, i);
		} else if (op == "status") {
			r = add_read(p, op, "status");
		} else if (op == "last-event") {
			r = add_read(p, op, "last-event");
		} else if (op == "identify") {
			for (auto reg :
			     {reg::kCoreVersion, reg::kMappingVersion, reg::kDeviceId,
			      reg::kSerialNumber, reg::kProvisioningKeyId, reg::kIntegratorKeyId,
			      reg::kSeedKeyId, reg::kStatus, reg::kLastEvent})
				add(p, Step{op, register_label(reg), 0, 0, 0},
				    {SessionOp::read(reg)});
		} else if (op == "manufacturer-reset") {
			r = add_write(p, op, "manufacturer-reset", "0x1D04E5E1");
		} else {
			r = tl::unexpected(Usage{"unknown operation '" + op +
			                         "' (see spsecctl configure --help)"});
		}
		if (!r)
			return r;
	}
	return {};
}

constexpr cli::Option kConfigureOptions[] = {
        {"interface", "IF"}, {"participant", "N"}, {"key-selector", "zero|provisioning|integrator"},
        {"key-file", "F"},   {"aead", "NAME"},     {"response-timeout", "MS"},
        {"json", ""},        {"no-pad", ""},
};
constexpr cli::Option kInstallKeyOptions[] = {{"key-file", "F"}, {"id", "ID"}};

struct Options {
	std::string ifname;
	std::uint8_t pp = 0;
	std::optional<OpeningKey> key;
	std::optional<std::string> key_file;
	AeadKind aead = AeadKind::AesGcm;
	bool json = false;
	bool no_pad = false;
	std::uint64_t response_ns = kDefaultResponseNs;
};

// Reads configure's options (before the operations) into `o`; returns the index of the first
// operation.
tl::expected<std::size_t, Usage> parse_options(const cli::Args& a, Options& o)
{
	bool have_pp = false;
	o.json = a.has("json");
	o.no_pad = a.has("no-pad");
	if (const std::string* v = a.value("interface"))
		o.ifname = *v;
	if (const std::string* v = a.value("participant")) {
		auto n = parse_number(*v);
		if (!n || *n < 1 || *n > 127)
			return tl::unexpected(
			        Usage{"--participant '" + *v + "' is not a participant ID 1..127"});
		o.pp = static_cast<std::uint8_t>(*n);
		have_pp = true;
	}
	if (const std::string* v = a.value("key-selector")) {
		if (*v == "zero")
			o.key = OpeningKey::Zero;
		else if (*v == "provisioning")
			o.key = OpeningKey::Provisioning;
		else if (*v == "integrator")
			o.key = OpeningKey::Integrator;
		else
			return tl::unexpected(Usage{"--key-selector '" + *v +
			                            "': expected zero, provisioning or integrator "
			                            "(the Seed Key never opens a session)"});
	}
	if (const std::string* v = a.value("key-file"))
		o.key_file = *v;
	if (const std::string* v = a.value("response-timeout")) {
		auto n = parse_response_timeout(*v);
		if (!n)
			return tl::unexpected(Usage{n.error().message()});
		o.response_ns = *n;
	}
	if (const std::string* v = a.value("aead")) {
		auto k = parse_aead_name(*v);
		if (!k)
			return tl::unexpected(Usage{"--aead: " + k.error().context});
		o.aead = *k;
	}
	if (o.ifname.empty())
		return tl::unexpected(Usage{"--interface IF is required"});
	if (!have_pp)
		return tl::unexpected(Usage{"--participant N is required"});
	if (!o.key)
		return tl::unexpected(
		        Usage{"--key-selector zero|provisioning|integrator is required"});
	if (*o.key == OpeningKey::Zero && o.key_file)
		return tl::unexpected(Usage{"--key-file is not used with --key-selector zero"});
	if (*o.key != OpeningKey::Zero && !o.key_file)
		return tl::unexpected(Usage{"--key-selector " +
		                            std::string(opening_key_name(*o.key)) +
		                            " needs --key-file F"});
	return a.end;
}

}  // namespace

namespace spec {
// Options first; the first positional starts the operations, which parse_ops reads.
const cli::Spec configure{"spsecctl configure", kConfigureOptions, 0, true};
const cli::Spec install_key{"spsecctl configure", kInstallKeyOptions, 0, true};
}  // namespace spec

int run_configure(const std::vector<std::string>& args, CtlEnv& env)
{
	auto usage = [&](const std::string& m) {
		env.err += cli::usage_message(spec::configure.command, m);
		return kExitUsage;
	};
	auto parsed = cli::parse(spec::configure, args);
	if (!parsed)
		return usage(parsed.error().message);
	if (parsed->help) {
		env.out += kConfigureHelp;
		return kExitOk;
	}
	Options o;
	auto first_op = parse_options(*parsed, o);
	if (!first_op)
		return usage(first_op.error().message);

	ClientConfig cfg;
	cfg.pp = o.pp;
	cfg.aead = o.aead;
	cfg.opening = *o.key;
	cfg.timeouts.response_ns = o.response_ns;
	cfg.unpadded = o.no_pad;
	if (o.key_file) {
		const KeySlotId slot = *o.key == OpeningKey::Provisioning ? KeySlotId::Provisioning
		                                                          : KeySlotId::Integrator;
		auto km = load_key_file(*o.key_file, slot);
		if (!km)
			return usage("--key-file: " + km.error().message());
		cfg.key = std::move(km->key);
		cfg.salt = km->salt;
	}
	Plan plan;
	if (auto r = parse_ops(args, *first_op, plan); !r)
		return usage(r.error().message);

	auto link = env.open_link(o.ifname);
	if (!link) {
		env.err += "spsecctl configure: " + link.error().message() + "\n";
		return kExitFailed;
	}
	cfg.ops = std::move(plan.ops);
	plan.ops.clear();
	auto run = run_session(**link, std::move(cfg), env.rng);
	if (!run) {
		env.err += "spsecctl configure: " + run.error().message() + "\n";
		return kExitFailed;
	}

	// Map completed register accesses back to the command line's steps.
	const std::size_t done_ops = run->results.size();
	std::size_t failed_step = plan.steps.size();
	for (std::size_t s = 0; s < plan.steps.size(); s++) {
		if (plan.steps[s].first_op + plan.steps[s].n_ops > done_ops) {
			failed_step = s;
			break;
		}
	}
	std::string error_text;
	std::uint16_t code = 0;
	bool handshake = false;
	if (!run->ok) {
		handshake = run->failed_in == SessionClient::State::AwaitServerHello ||
		            run->failed_in == SessionClient::State::AwaitServerFinished;
		std::string step = handshake || failed_step >= plan.steps.size()
		                           ? std::string(handshake ? "opening the session"
		                                                   : "terminating the session")
		                           : "step " + std::to_string(failed_step + 1) + " (" +
		                                     plan.steps[failed_step].op + " " +
		                                     plan.steps[failed_step].detail + ")";
		error_text = describe_session_failure(step, o.pp, *o.key, *run->error,
		                                      run->failed_in, &code);
	}

	auto result_of = [&](const Step& s) -> std::string {
		if (s.first_op + s.n_ops > done_ops)
			return "";
		if (s.n_ops == 1 && !run->results[s.first_op].write)
			return render_value(run->results[s.first_op].reg,
			                    run->results[s.first_op].data);
		return s.op.rfind("install-", 0) == 0 ? "installed" : "written";
	};

	if (o.json) {
		Json steps = Json::array();
		for (std::size_t s = 0; s < plan.steps.size(); s++) {
			const Step& st = plan.steps[s];
			const RegisterInfo* info = find_register(st.first_reg);
			Json step = {{"step", static_cast<int>(s + 1)},
			             {"op", st.op},
			             {"register", info ? info->cli_name : std::string_view("")},
			             {"address", hex_h(st.first_reg, 2)}};
			const bool done = st.first_op + st.n_ops <= done_ops;
			step["done"] = done;
			if (done && st.n_ops == 1 && !run->results[st.first_op].write) {
				step["value"] = result_of(st);
				step["raw"] = format_hex(run->results[st.first_op].data);
			}
			steps.push_back(std::move(step));
		}
		Json out = {{"participant", static_cast<int>(o.pp)},
		            {"key", opening_key_name(*o.key)},
		            {"ok", run->ok},
		            {"steps", std::move(steps)}};
		if (!run->ok) {
			Json& error = out["error"] = Json::object();
			if (!handshake && failed_step < plan.steps.size())
				error["step"] = static_cast<int>(failed_step + 1);
			error["event_code"] = code != 0 ? Json(hex_h(code, 4)) : Json();
			error["message"] = error_text;
		}
		env.out += json_line(out) + "\n";
	} else {
		env.out += "participant " + std::to_string(o.pp) + ", " +
		           std::string(opening_key_name(*o.key)) + " key session\n";
		char line[256];
		std::snprintf(line, sizeof line, "%-4s %-20s %-34s %s\n", "STEP", "OPERATION",
		              "REGISTER", "RESULT");
		env.out += line;
		for (std::size_t s = 0; s < plan.steps.size(); s++) {
			const Step& st = plan.steps[s];
			std::string res = result_of(st);
			if (res.empty())
				res = s == failed_step && !run->ok ? "FAILED" : "not done";
			std::snprintf(line, sizeof line, "%-4zu %-20s %-34s %s\n", s + 1,
			              st.op.c_str(), st.detail.c_str(), res.c_str());
			env.out += line;
		}
	}
	if (!run->ok) {
		env.err += "spsecctl configure: " + error_text + "\n";
		return kExitFailed;
	}
	return kExitOk;
}

CtlEnv system_env()
{
	CtlEnv env;
	env.open_link = [](const std::string& ifname) -> Result<std::unique_ptr<FrameLink>> {
		auto l = CanRawLink::open(ifname);
		if (!l)
			return tl::unexpected(l.error());
		return std::unique_ptr<FrameLink>(std::move(*l));
	};
	env.rng = system_rng();
	return env;
}

namespace {
int run_main(int (*fn)(const std::vector<std::string>&, CtlEnv&), int argc, char** argv)
{
	std::vector<std::string> args(argv + 1, argv + argc);
	CtlEnv env = system_env();
	const int rc = fn(args, env);
	std::fputs(env.out.c_str(), stdout);
	std::fputs(env.err.c_str(), stderr);
	return rc;
}
}  // namespace

int cmd_configure(int argc, char** argv)
{
	return run_main(run_configure, argc, argv);
}

int cmd_provision(int argc, char** argv)
{
	return run_main(run_provision, argc, argv);
}

}  // namespace spsec::ctl
