// SPDX-License-Identifier: Apache-2.0
// Offline frame tools: seal, open, derive, verify-log, decrypt-log. They run the same codec
// (core/stamp.h) the BPF data plane is tested against, so an integrator can check frames by hand or
// a candump log.
//
// Key material: keys are accepted as --key HEX / --seed HEX or, better, from a file
// (--key-file / --seed-file: hex digits, whitespace ignored) so they never appear in argv, ps or
// shell history. A key given in argv is overwritten in place once read (it still reached the
// shell history and was briefly visible in /proc/<pid>/cmdline). `derive` prints a Communication
// Key on purpose: that is its whole job; nothing else here ever prints key material.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include "core/aead.h"
#include "core/can_frame.h"
#include "core/cli.h"
#include "core/hex.h"
#include "core/key_schedule.h"
#include "core/secret.h"
#include "core/stamp.h"
#include "core/timestamp.h"
#include "ctl/commands.h"
#include "ctl/pcapng_writer.h"

namespace spsec::ctl {

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

// A usage error: the message names the bad argument; the command prints it with its name.
struct Usage {
	std::string message;
};

std::string help_keys()
{
	return "  Keys (32 bytes) are 64 hex digits. Prefer --key-file/--seed-file (hex digits in "
	       "a\n"
	       "  file, whitespace ignored): a key in argv is scrubbed once read, but it was "
	       "visible\n"
	       "  to ps and is in your shell history.\n";
}

constexpr const char* kSealHelp =
        "usage: spsecctl seal --aead NAME (--key HEX64 | --key-file PATH) --salt HEX16 --t T\n"
        "                     [--auth-only] FRAME\n"
        "\n"
        "Secures a plain CAN FD frame as the data plane does and prints the secured frame in\n"
        "can-utils notation.\n"
        "  --aead NAME      aes-gcm, chacha20-poly1305 or ascon\n"
        "  --key HEX64      the Communication Key of the window of T\n"
        "  --salt HEX16     the Seed Key's 8-byte pre-shared salt (nonce tail)\n"
        "  --t T            SPsec time in ticks (decimal or 0x hex), not 0\n"
        "  --auth-only      authentication-only network (payload stays in clear)\n"
        "  FRAME            e.g. 123##1DEADBEEF (CAN FD, at most 54 bytes)\n"
        "example: spsecctl seal --aead aes-gcm --key-file k.hex --salt 0001020304050607 \\\n"
        "           --t 0x1234 123##1DEADBEEF\n";

constexpr const char* kOpenHelp =
        "usage: spsecctl open --aead NAME (--key HEX64 | --key-file PATH |\n"
        "                      (--seed HEX64 | --seed-file PATH) --csalt HEX8) --salt HEX16\n"
        "                     --t LOCAL_T [--window W] [--auth-only] FRAME\n"
        "\n"
        "Checks, verifies and strips a secured frame at the receiver's local time LOCAL_T and\n"
        "prints the plain frame. On rejection prints the reason (the data plane's counter name)\n"
        "to stderr and exits 1.\n"
        "  --key            the Communication Key, used for whatever window the frame's T is in\n"
        "  --seed, --csalt  derive the key of the frame's window instead (live-key rule applied)\n"
        "  --t LOCAL_T      the receiver's synchronized T at arrival\n"
        "  --window W       acceptance window in ticks (default 150, at most 2047)\n";

constexpr const char* kDeriveHelp =
        "usage: spsecctl derive (--seed HEX64 | --seed-file PATH) --csalt HEX8 --t T\n"
        "\n"
        "Prints the Communication Key (64 hex digits) of key window e = T >> 24:\n"
        "HKDF-SHA256(Seed, salt = LE64((e << 24) | 0x800000) || csalt). This command prints\n"
        "key material on purpose; keep its output out of logs.\n";

constexpr const char* kVerifyLogHelp =
        "usage: spsecctl verify-log --aead NAME (--key HEX64 | --key-file PATH |\n"
        "                            (--seed HEX64 | --seed-file PATH) --csalt HEX8)\n"
        "                           --salt HEX16 --t T0 [--bitrate BPS] [--window W]\n"
        "                           [--auth-only] LOGFILE\n"
        "\n"
        "Verifies every frame of a candump -L log (LOGFILE, or - for stdin) as a receiver would,\n"
        "with per-ID freshness, and prints one line per frame and a total. Exit 0 when every\n"
        "data-plane frame verified, 1 otherwise.\n"
        "Local clock: T0 is the synchronized T at the first frame's log timestamp; the clock\n"
        "advances with the log timestamps at the tick of --bitrate (CAN FD data bit rate,\n"
        "default 1000000 -> 100 us) and is re-anchored to the T of every verified frame, so the\n"
        "logger's clock drift does not accumulate. Control-plane frames (29-bit, bit 25) are\n"
        "skipped and counted.\n";

// ---- argument parsing -----------------------------------------------------------------------
// core/cli.h parses; --key and --seed are key material, overwritten in argv once read and held
// only in a wiped SecretText.

using Args = cli::Args;

constexpr cli::Option kSealOptions[] = {
        {"aead", "NAME"}, {"key", "HEX64", 0, true}, {"key-file", "PATH"}, {"salt", "HEX16"},
        {"t", "T"},       {"auth-only", ""},
};
constexpr cli::Option kOpenOptions[] = {
        {"aead", "NAME"},           {"key", "HEX64", 0, true}, {"key-file", "PATH"},
        {"seed", "HEX64", 0, true}, {"seed-file", "PATH"},     {"csalt", "HEX8"},
        {"salt", "HEX16"},          {"t", "LOCAL_T"},          {"window", "W"},
        {"auth-only", ""},
};
constexpr cli::Option kDeriveOptions[] = {
        {"seed", "HEX64", 0, true}, {"seed-file", "PATH"}, {"csalt", "HEX8"}, {"t", "T"}};
constexpr cli::Option kVerifyLogOptions[] = {
        {"aead", "NAME"},      {"key", "HEX64", 0, true},
        {"key-file", "PATH"},  {"seed", "HEX64", 0, true},
        {"seed-file", "PATH"}, {"csalt", "HEX8"},
        {"salt", "HEX16"},     {"t", "T0"},
        {"window", "W"},       {"bitrate", "BPS"},
        {"auth-only", ""},
};
constexpr cli::Option kDecryptLogOptions[] = {
        {"aead", "NAME"},      {"key", "HEX64", 0, true},
        {"key-file", "PATH"},  {"seed", "HEX64", 0, true},
        {"seed-file", "PATH"}, {"csalt", "HEX8"},
        {"salt", "HEX16"},     {"t", "T0"},
        {"window", "W"},       {"bitrate", "BPS"},
        {"auth-only", ""},     {"out", "FILE.pcapng"},
};

// The options of one verb, parsed; a usage error otherwise.
tl::expected<Args, Usage> parse_verb(const cli::Spec& spec, int argc, char** argv)
{
	auto a = cli::parse(
	        spec, std::span<char* const>(argv + 1,
	                                     static_cast<std::size_t>(argc > 0 ? argc - 1 : 0)));
	if (!a)
		return tl::unexpected(Usage{a.error().message});
	return std::move(*a);
}

tl::expected<std::uint64_t, Usage> number_arg(const Args& a, std::string_view name)
{
	auto n = a.number(name);
	if (!n)
		return tl::unexpected(Usage{n.error().message});
	if (!n->has_value())
		return tl::unexpected(Usage{"--" + std::string(name) + " is required"});
	return **n;
}

template <std::size_t N>
tl::expected<std::array<std::uint8_t, N>, Usage> parse_fixed_hex(std::string_view name,
                                                                 const std::string* text)
{
	if (text == nullptr)
		return tl::unexpected(Usage{"--" + std::string(name) + " is required"});
	auto bytes = parse_hex(*text);
	if (!bytes)
		return tl::unexpected(
		        Usage{"--" + std::string(name) + ": " + bytes.error().context});
	if (bytes->size() != N)
		return tl::unexpected(Usage{"--" + std::string(name) + ": expected " +
		                            std::to_string(N * 2) + " hex digits (" +
		                            std::to_string(N) + " bytes), got " +
		                            std::to_string(bytes->size()) + " bytes"});
	std::array<std::uint8_t, N> out{};
	std::copy(bytes->begin(), bytes->end(), out.begin());
	return out;
}

// Reads a 32-byte key from hex text. The message never contains the text.
tl::expected<Key32, Usage> key_from_hex(std::string_view what, std::string_view text)
{
	auto bytes = parse_hex(text);
	if (!bytes)
		return tl::unexpected(
		        Usage{std::string(what) + ": not hex (" + bytes.error().context + ")"});
	const std::size_t n = bytes->size();
	if (n != 32) {
		secure_wipe(bytes->data(), bytes->size());
		return tl::unexpected(Usage{std::string(what) +
		                            ": expected 64 hex digits (32 bytes), got " +
		                            std::to_string(n) + " bytes"});
	}
	Key32 key(std::span<const std::uint8_t, 32>(bytes->data(), 32));
	secure_wipe(bytes->data(), bytes->size());
	return key;
}

tl::expected<Key32, Usage> key_from_file(std::string_view what, const std::string& path)
{
	std::FILE* f = std::fopen(path.c_str(), "rb");
	if (f == nullptr)
		return tl::unexpected(Usage{std::string(what) + ": cannot open " + path + ": " +
		                            std::strerror(errno)});
	// A key file is 64 hex digits plus whitespace; anything much longer is not a key file.
	std::array<char, 4096> buf{};
	const std::size_t n = std::fread(buf.data(), 1, buf.size(), f);
	const bool too_long = n == buf.size();
	std::fclose(f);
	if (too_long) {
		secure_wipe(buf.data(), buf.size());
		return tl::unexpected(
		        Usage{std::string(what) + ": " + path +
		              " is too long to be a key file (64 hex digits expected)"});
	}
	auto key = key_from_hex(std::string(what) + " " + path, std::string_view(buf.data(), n));
	secure_wipe(buf.data(), buf.size());
	return key;
}

// Reads --<base> or --<base>-file; nullopt when neither is given.
tl::expected<std::optional<Key32>, Usage> read_key(const Args& a, std::string_view base)
{
	const cli::SecretText* text = a.secret(base);
	const std::string* file = a.value(std::string(base) + "-file");
	if (text && file)
		return tl::unexpected(Usage{"give --" + std::string(base) + " or --" +
		                            std::string(base) + "-file, not both"});
	if (text) {
		auto k = key_from_hex("--" + std::string(base), text->expose());
		if (!k)
			return tl::unexpected(k.error());
		return std::optional<Key32>(std::move(*k));
	}
	if (file) {
		auto k = key_from_file("--" + std::string(base) + "-file", *file);
		if (!k)
			return tl::unexpected(k.error());
		return std::optional<Key32>(std::move(*k));
	}
	return std::optional<Key32>();
}

tl::expected<CanFrame, Usage> frame_arg(const Args& a)
{
	if (a.positional.empty())
		return tl::unexpected(Usage{"missing FRAME (e.g. 123##1DEADBEEF)"});
	auto f = parse_can_frame(a.positional[0]);
	if (!f)
		return tl::unexpected(
		        Usage{"FRAME \"" + a.positional[0] + "\": " + f.error().context});
	return *f;
}

tl::expected<StampParams, Usage> stamp_params(const Args& a)
{
	StampParams p;
	const std::string* name = a.value("aead");
	if (name == nullptr)
		return tl::unexpected(
		        Usage{"--aead is required (aes-gcm, chacha20-poly1305, ascon)"});
	auto kind = parse_aead_name(*name);
	if (!kind)
		return tl::unexpected(Usage{"--aead: " + kind.error().context});
	p.aead = *kind;
	p.mode = a.has("auth-only") ? StampMode::AuthOnly : StampMode::Encrypt;
	auto salt = parse_fixed_hex<8>("salt", a.value("salt"));
	if (!salt)
		return tl::unexpected(salt.error());
	p.seed_salt = *salt;
	return p;
}

tl::expected<std::uint32_t, Usage> window_arg(const Args& a)
{
	auto w = a.number("window");
	if (!w)
		return tl::unexpected(Usage{w.error().message});
	if (!w->has_value())
		return kDefaultWindow;
	auto ok = validate_window(**w);
	if (!ok)
		return tl::unexpected(Usage{"--window: " + ok.error().context});
	return *ok;
}

// The keys a receiver holds: one fixed Communication Key, or the Seed Key from which the key of
// each live window is derived on demand (and cached).
class KeySource {
public:
	static tl::expected<std::unique_ptr<KeySource>, Usage> from_args(const Args& a,
	                                                                 AeadKind kind)
	{
		auto key = read_key(a, "key");
		if (!key)
			return tl::unexpected(key.error());
		auto seed = read_key(a, "seed");
		if (!seed)
			return tl::unexpected(seed.error());
		if (key->has_value() && seed->has_value())
			return tl::unexpected(
			        Usage{"give a Communication Key (--key/--key-file) or a "
			              "Seed Key (--seed/--seed-file), not both"});
		auto src = std::unique_ptr<KeySource>(new KeySource(kind));
		if (key->has_value()) {
			if (a.has("csalt"))
				return tl::unexpected(
				        Usage{"--csalt only goes with --seed/--seed-file"});
			auto aead = Aead::create(kind, **key);
			if (!aead)
				return tl::unexpected(Usage{aead.error().message()});
			src->fixed_ = std::move(*aead);
			return src;
		}
		if (!seed->has_value())
			return tl::unexpected(Usage{"a key is required: --key/--key-file, or "
			                            "--seed/--seed-file with --csalt"});
		auto csalt = parse_fixed_hex<4>("csalt", a.value("csalt"));
		if (!csalt)
			return tl::unexpected(csalt.error());
		src->seed_ = std::move(**seed);
		src->csalt_ = *csalt;
		return src;
	}

	// The AEAD for window e as seen at local time `local_t`, or nullptr (no live key).
	Aead* lookup(std::uint64_t e, std::uint64_t local_t)
	{
		if (fixed_)
			return fixed_.get();
		if (!live_windows(local_t).contains(e))
			return nullptr;
		auto it = derived_.find(e);
		if (it != derived_.end())
			return it->second.get();
		auto k = derive_comm_key(seed_, e, csalt_);
		if (!k)
			return nullptr;
		auto aead = Aead::create(kind_, *k);
		if (!aead)
			return nullptr;
		if (derived_.size() > 8)  // a log spans few windows; bound the cache anyway
			derived_.clear();
		return derived_.emplace(e, std::move(*aead)).first->second.get();
	}

private:
	explicit KeySource(AeadKind kind) : kind_(kind) {}
	AeadKind kind_;
	std::unique_ptr<Aead> fixed_;
	Key32 seed_;
	CommSalt csalt_{};
	std::map<std::uint64_t, std::unique_ptr<Aead>> derived_;
};

int usage_error(const char* cmd, const Usage& u)
{
	std::fputs(cli::usage_message("spsecctl " + std::string(cmd), u.message).c_str(), stderr);
	return kExitUsage;
}

int print_help(const char* help)
{
	std::fputs(help, stdout);
	std::fputs(help_keys().c_str(), stdout);
	return kExitOk;
}

}  // namespace

namespace spec {
const cli::Spec seal{"spsecctl seal", kSealOptions, 1};
const cli::Spec open{"spsecctl open", kOpenOptions, 1};
const cli::Spec derive{"spsecctl derive", kDeriveOptions, 0};
const cli::Spec verify_log{"spsecctl verify-log", kVerifyLogOptions, 1};
const cli::Spec decrypt_log{"spsecctl decrypt-log", kDecryptLogOptions, 1};
}  // namespace spec

int cmd_seal(int argc, char** argv)
{
	auto parsed = parse_verb(spec::seal, argc, argv);
	if (!parsed)
		return usage_error("seal", parsed.error());
	const Args& a = *parsed;
	if (a.help)
		return print_help(kSealHelp);
	auto params = stamp_params(a);
	if (!params)
		return usage_error("seal", params.error());
	auto t = number_arg(a, "t");
	if (!t)
		return usage_error("seal", t.error());
	auto key = read_key(a, "key");
	if (!key)
		return usage_error("seal", key.error());
	if (!key->has_value())
		return usage_error("seal", Usage{"--key or --key-file is required"});
	auto frame = frame_arg(a);
	if (!frame)
		return usage_error("seal", frame.error());

	auto aead = Aead::create(params->aead, **key);
	if (!aead) {
		std::fprintf(stderr, "spsecctl seal: %s\n", aead.error().message().c_str());
		return kExitFailed;
	}
	auto sealed = seal_frame(**aead, *params, *frame, *t);
	if (!sealed) {
		std::fprintf(stderr, "spsecctl seal: %s\n", sealed.error().message().c_str());
		return kExitFailed;
	}
	std::printf("%s\n", format_can_frame(*sealed).c_str());
	return kExitOk;
}

int cmd_open(int argc, char** argv)
{
	auto parsed = parse_verb(spec::open, argc, argv);
	if (!parsed)
		return usage_error("open", parsed.error());
	const Args& a = *parsed;
	if (a.help)
		return print_help(kOpenHelp);
	auto params = stamp_params(a);
	if (!params)
		return usage_error("open", params.error());
	auto t = number_arg(a, "t");
	if (!t)
		return usage_error("open", t.error());
	auto window = window_arg(a);
	if (!window)
		return usage_error("open", window.error());
	auto frame = frame_arg(a);
	if (!frame)
		return usage_error("open", frame.error());
	auto keys = KeySource::from_args(a, params->aead);
	if (!keys)
		return usage_error("open", keys.error());

	const std::uint64_t local = *t;
	KeySource& ks = **keys;
	const KeyLookup lookup = [&ks, local](std::uint64_t e) { return ks.lookup(e, local); };
	auto opened = open_frame(OpenParams{*params, *window}, *frame, local, lookup);
	if (!opened) {
		std::fprintf(stderr, "spsecctl open: rejected: %s (%s)\n",
		             std::string(reason_name(opened.error().reason)).c_str(),
		             std::string(reason_description(opened.error().reason)).c_str());
		return kExitFailed;
	}
	std::printf("%s\n", format_can_frame(opened->plain).c_str());
	return kExitOk;
}

int cmd_derive(int argc, char** argv)
{
	auto parsed = parse_verb(spec::derive, argc, argv);
	if (!parsed)
		return usage_error("derive", parsed.error());
	const Args& a = *parsed;
	if (a.help)
		return print_help(kDeriveHelp);
	auto seed = read_key(a, "seed");
	if (!seed)
		return usage_error("derive", seed.error());
	if (!seed->has_value())
		return usage_error("derive", Usage{"--seed or --seed-file is required"});
	auto csalt = parse_fixed_hex<4>("csalt", a.value("csalt"));
	if (!csalt)
		return usage_error("derive", csalt.error());
	auto t = number_arg(a, "t");
	if (!t)
		return usage_error("derive", t.error());

	auto key = derive_comm_key(**seed, key_window(*t), *csalt);
	if (!key) {
		std::fprintf(stderr, "spsecctl derive: %s\n", key.error().message().c_str());
		return kExitFailed;
	}
	// Printing the key is this command's purpose (see the help text).
	std::string hex = format_hex(key->expose());
	std::printf("%s\n", hex.c_str());
	std::fflush(stdout);
	secure_wipe(hex.data(), hex.size());
	return kExitOk;
}

namespace {

// ---- log replay: what verify-log and decrypt-log share -----------------------------------------
// The options after parse_args, a local clock that follows the log's timestamps at the tick of
// --bitrate and is re-anchored to the T of every verified frame, per-ID freshness, the counts
// and the summary line. The verbs differ only in what they do with each frame.

struct LogReplay {
	StampParams params;
	std::uint64_t t0 = 0;
	std::uint32_t window = 0;
	std::uint64_t tick_ns = 0;
	std::unique_ptr<KeySource> keys;
	std::string path;  // LOGFILE, "-" for stdin
};

struct ReplayCounts {
	std::uint64_t total = 0, ok = 0, skipped = 0, unparsable = 0;
	std::map<std::uint32_t, std::uint64_t> by_reason;
	[[nodiscard]] std::uint64_t rejected() const { return total - ok - skipped; }
	[[nodiscard]] int exit_code() const
	{
		return rejected() == 0 && unparsable == 0 ? kExitOk : kExitFailed;
	}
};

// The options both verbs take; a usage error is reported and its exit code returned.
tl::expected<LogReplay, int> replay_options(const char* verb, const Args& a)
{
	LogReplay r;
	auto params = stamp_params(a);
	if (!params)
		return tl::unexpected(usage_error(verb, params.error()));
	r.params = *params;
	auto t0 = number_arg(a, "t");
	if (!t0)
		return tl::unexpected(usage_error(verb, t0.error()));
	r.t0 = *t0;
	auto window = window_arg(a);
	if (!window)
		return tl::unexpected(usage_error(verb, window.error()));
	r.window = *window;
	std::uint64_t bitrate = 1'000'000;
	auto b = a.number("bitrate");
	if (!b)
		return tl::unexpected(usage_error(verb, Usage{b.error().message}));
	if (b->has_value())
		bitrate = **b;
	auto tick = tick_ns_from_bitrate(bitrate);
	if (!tick)
		return tl::unexpected(
		        usage_error(verb, Usage{"--bitrate: " + tick.error().context}));
	r.tick_ns = *tick;
	if (a.positional.size() != 1)
		return tl::unexpected(
		        usage_error(verb, Usage{"one LOGFILE expected (- for stdin)"}));
	r.path = a.positional[0];
	auto keys = KeySource::from_args(a, r.params.aead);
	if (!keys)
		return tl::unexpected(usage_error(verb, keys.error()));
	r.keys = std::move(*keys);
	return r;
}

// Replays the log, calling on_unparsable(lineno, why), on_control(lineno, record),
// on_verified(lineno, record, opened) or on_rejected(lineno, record, rejection) per line.
// Returns kExitOk, or kExitUsage when the log cannot be opened.
template <typename Unparsable, typename Control, typename Verified, typename Rejected>
int replay_log(const char* verb, LogReplay& r, ReplayCounts& c, Unparsable on_unparsable,
               Control on_control, Verified on_verified, Rejected on_rejected)
{
	std::FILE* in = stdin;
	if (r.path != "-") {
		in = std::fopen(r.path.c_str(), "r");
		if (in == nullptr) {
			std::fprintf(stderr, "spsecctl %s: cannot open %s: %s\n", verb,
			             r.path.c_str(), std::strerror(errno));
			return kExitUsage;
		}
	}
	const std::unique_ptr<std::FILE, int (*)(std::FILE*)> closer(in == stdin ? nullptr : in,
	                                                             &std::fclose);
	KeySource& ks = *r.keys;
	FreshnessTable fresh;
	const OpenParams op{r.params, r.window};
	// Local clock anchor: (log time in ns, T at that time).
	bool anchored = false;
	std::uint64_t anchor_ns = 0;
	std::uint64_t anchor_t = r.t0;
	std::uint64_t lineno = 0;
	char* raw_line = nullptr;
	std::size_t raw_cap = 0;
	const std::unique_ptr<char*, void (*)(char**)> raw_free(&raw_line,
	                                                        [](char** p) { std::free(*p); });
	while (::getline(&raw_line, &raw_cap, in) >= 0) {
		const std::string_view line(raw_line);
		lineno++;
		if (line.find_first_not_of(" \t\r\n") == std::string_view::npos || line[0] == '#')
			continue;
		auto rec = parse_candump_line(line);
		if (!rec) {
			c.unparsable++;
			on_unparsable(lineno, rec.error().context);
			continue;
		}
		c.total++;
		if (rec->frame.extended() && !rec->frame.error() &&
		    (rec->frame.can_id & SPSEC_CTRL_BIT) != 0) {
			c.skipped++;
			on_control(lineno, *rec);
			continue;
		}
		const std::uint64_t now_ns = rec->sec * 1'000'000'000ull + rec->usec * 1000ull;
		if (!anchored) {
			anchored = true;
			anchor_ns = now_ns;
		}
		// Log timestamps may step backwards (merged logs); never run the clock backwards.
		const std::uint64_t elapsed = now_ns > anchor_ns ? now_ns - anchor_ns : 0;
		const std::uint64_t local = anchor_t + elapsed / r.tick_ns;
		const KeyLookup lookup = [&ks, local](std::uint64_t e) {
			return ks.lookup(e, local);
		};
		auto opened = open_frame(op, rec->frame, local, lookup, &fresh);
		if (opened) {
			c.ok++;
			anchor_ns = now_ns;
			anchor_t = opened->t;
			on_verified(lineno, *rec, *opened);
		} else {
			c.by_reason[opened.error().reason]++;
			on_rejected(lineno, *rec, opened.error());
		}
	}
	return kExitOk;
}

void print_summary(const ReplayCounts& c)
{
	std::printf("total: %llu frames, %llu ok, %llu rejected, %llu skipped, %llu unparsable",
	            static_cast<unsigned long long>(c.total), static_cast<unsigned long long>(c.ok),
	            static_cast<unsigned long long>(c.rejected()),
	            static_cast<unsigned long long>(c.skipped),
	            static_cast<unsigned long long>(c.unparsable));
	for (const auto& [reason, n] : c.by_reason)
		std::printf(" %s=%llu", std::string(reason_name(reason)).c_str(),
		            static_cast<unsigned long long>(n));
	std::printf("\n");
}

}  // namespace

int cmd_verify_log(int argc, char** argv)
{
	auto parsed = parse_verb(spec::verify_log, argc, argv);
	if (!parsed)
		return usage_error("verify-log", parsed.error());
	const Args& a = *parsed;
	if (a.help)
		return print_help(kVerifyLogHelp);
	auto replay = replay_options("verify-log", a);
	if (!replay)
		return replay.error();
	ReplayCounts c;
	const int rc = replay_log(
	        "verify-log", *replay, c,
	        [](std::uint64_t lineno, const std::string& why) {
		        std::printf("%llu: unparsable: %s\n",
		                    static_cast<unsigned long long>(lineno), why.c_str());
	        },
	        [](std::uint64_t lineno, const auto& rec) {
		        std::printf("%llu: %s skipped (control plane)\n",
		                    static_cast<unsigned long long>(lineno),
		                    format_can_frame(rec.frame).c_str());
	        },
	        [](std::uint64_t lineno, const auto& rec, const auto& opened) {
		        std::printf("%llu: %s ok T=%llu plain=%s\n",
		                    static_cast<unsigned long long>(lineno),
		                    format_can_frame(rec.frame).c_str(),
		                    static_cast<unsigned long long>(opened.t),
		                    format_can_frame(opened.plain).c_str());
	        },
	        [](std::uint64_t lineno, const auto& rec, const auto& rj) {
		        std::printf("%llu: %s REJECTED %s (%s)\n",
		                    static_cast<unsigned long long>(lineno),
		                    format_can_frame(rec.frame).c_str(),
		                    std::string(reason_name(rj.reason)).c_str(),
		                    std::string(reason_description(rj.reason)).c_str());
	        });
	if (rc != kExitOk)
		return rc;
	print_summary(c);
	return c.exit_code();
}

// ---- decrypt-log ----------------------------------------------------------------------------
// The verify-log replay (same options, same local clock, same per-ID freshness), writing a
// pcapng for Wireshark instead of text: verified frames plain, every data-plane frame commented
// with its verdict (wireshark/spsec.lua shows the comments as spsec.verdict).

namespace {

constexpr const char* kDecryptLogHelp =
        "usage: spsecctl decrypt-log --aead NAME (--key HEX64 | --key-file PATH |\n"
        "                             (--seed HEX64 | --seed-file PATH) --csalt HEX8)\n"
        "                            --salt HEX16 --t T0 [--bitrate BPS] [--window W]\n"
        "                            [--auth-only] --out FILE.pcapng LOGFILE\n"
        "\n"
        "Replays a candump -L log (LOGFILE, or - for stdin) as verify-log does and writes a\n"
        "pcapng for Wireshark (docs/wireshark.md): a verified frame as the plain frame with the\n"
        "comment \"spsec: ok T=0x.. L=.. secured=<frame as received>\", a rejected one as\n"
        "received with \"spsec: REJECTED <reason> (<description>) T=0x..\", control-plane frames\n"
        "as received. The file holds decrypted payloads: it is created mode 0600 and an\n"
        "existing FILE is never overwritten. Prints the verify-log summary line. Exit 0 when\n"
        "every data-plane frame verified, 1 otherwise, 2 on usage errors.\n";

std::string hex_t(std::uint64_t t)
{
	char buf[24];
	std::snprintf(buf, sizeof buf, "0x%llX", static_cast<unsigned long long>(t));
	return buf;
}

// Writes `bytes` to a new file `path`, mode 0600, via a temporary file renamed into place, so a
// failure leaves no partial capture and an existing file is never replaced.
tl::expected<void, std::string> write_new_file(const std::string& path,
                                               const std::vector<std::uint8_t>& bytes)
{
	std::string tmp = path + ".XXXXXX";
	const int fd = ::mkstemp(tmp.data());  // mode 0600
	if (fd < 0)
		return tl::unexpected("cannot create a temporary file next to " + path + ": " +
		                      std::strerror(errno));
	std::size_t done = 0;
	while (done < bytes.size()) {
		const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			const int e = errno;
			::close(fd);
			::unlink(tmp.c_str());
			return tl::unexpected("writing " + tmp + ": " + std::strerror(e));
		}
		done += static_cast<std::size_t>(n);
	}
	if (::fsync(fd) != 0 || ::close(fd) != 0) {
		const int e = errno;
		::unlink(tmp.c_str());
		return tl::unexpected("writing " + tmp + ": " + std::strerror(e));
	}
	// link() fails with EEXIST instead of replacing a file created meanwhile.
	if (::link(tmp.c_str(), path.c_str()) != 0) {
		const int e = errno;
		::unlink(tmp.c_str());
		return tl::unexpected("cannot create " + path + ": " + std::strerror(e));
	}
	::unlink(tmp.c_str());
	return {};
}

}  // namespace

int cmd_decrypt_log(int argc, char** argv)
{
	auto parsed = parse_verb(spec::decrypt_log, argc, argv);
	if (!parsed)
		return usage_error("decrypt-log", parsed.error());
	const Args& a = *parsed;
	if (a.help)
		return print_help(kDecryptLogHelp);
	const std::string* out_path = a.value("out");
	if (out_path == nullptr || out_path->empty())
		return usage_error("decrypt-log", Usage{"--out FILE.pcapng is required"});
	if (::access(out_path->c_str(), F_OK) == 0)
		return usage_error("decrypt-log", Usage{"--out " + *out_path +
		                                        " exists; refusing to overwrite it"});
	auto replay = replay_options("decrypt-log", a);
	if (!replay)
		return replay.error();
	PcapngWriter pcap;
	ReplayCounts c;
	const int rc = replay_log(
	        "decrypt-log", *replay, c,
	        [](std::uint64_t lineno, const std::string& why) {
		        std::fprintf(stderr, "spsecctl decrypt-log: line %llu unparsable: %s\n",
		                     static_cast<unsigned long long>(lineno), why.c_str());
	        },
	        [&pcap](std::uint64_t, const auto& rec) {
		        pcap.add(rec.ifname, rec.sec, rec.usec, rec.frame, {});
	        },
	        [&pcap](std::uint64_t, const auto& rec, const auto& opened) {
		        pcap.add(rec.ifname, rec.sec, rec.usec, opened.plain,
		                 "spsec: ok T=" + hex_t(opened.t) +
		                         " L=" + std::to_string(opened.plain.len) +
		                         " secured=" + format_can_frame(rec.frame));
	        },
	        [&pcap](std::uint64_t, const auto& rec, const auto& rj) {
		        std::string comment = "spsec: REJECTED " +
		                              std::string(reason_name(rj.reason)) + " (" +
		                              std::string(reason_description(rj.reason)) + ")";
		        if (rj.t != 0)
			        comment += " T=" + hex_t(rj.t);
		        pcap.add(rec.ifname, rec.sec, rec.usec, rec.frame, comment);
	        });
	if (rc != kExitOk)
		return rc;
	if (auto w = write_new_file(*out_path, pcap.bytes()); !w) {
		std::fprintf(stderr, "spsecctl decrypt-log: %s\n", w.error().c_str());
		return kExitFailed;
	}
	print_summary(c);
	std::printf("wrote %s\n", out_path->c_str());
	return c.exit_code();
}

}  // namespace spsec::ctl
