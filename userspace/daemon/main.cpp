// SPDX-License-Identifier: Apache-2.0
// spsecd: the SPsec control-plane daemon. See daemon.h for the start-up order and
// docs/operations.md for running it.
//
//   spsecd --config /etc/spsec/spsecd.yaml [--verbose | --log-level LEVEL]
//
// Exit status: 0 after SIGTERM/SIGINT, 1 when start-up failed (the log says which step and why),
// 2 for wrong usage.
//
// SPSEC_ATTACH=auto|tc|tcx in the environment overrides the configuration's `attach` key, how the
// data plane is attached (default auto: tcx links where the kernel has them, netlink tc
// otherwise; docs/operations.md).
// SPSEC_AES=auto|bpf|kernel which AES the data plane's AES-GCM uses (default auto: the kernel's
// through the BPF crypto kfuncs where it has them, the T-table AES in BPF otherwise;
// docs/kernels.md). kernel on a kernel without them is a start-up error.
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "bpf/gateway_maps.h"
#include "bpf/libbpf_log.h"
#include "core/cli.h"
#include "daemon/bpf_data_plane.h"
#include "daemon/can_port.h"
#include "daemon/daemon.h"
#include "daemon/gateway_relay.h"
#include "daemon/sd_notify.h"

namespace {

constexpr const char* kUsage =
        "usage: spsecd --config FILE [--verbose | --log-level LEVEL]\n"
        "  -c, --config FILE  the YAML configuration (e.g. /etc/spsec/spsecd.yaml)\n"
        "  -v, --verbose      log at the verbose level (libbpf chatter included)\n"
        "  --log-level LEVEL  error, warning, info (default), debug or verbose\n"
        "Options take their value as --opt VALUE or --opt=VALUE.\n"
        "Signals: SIGTERM/SIGINT stop, SIGHUP reloads the configuration and keys.\n"
        "Environment: SPSEC_ATTACH=auto|tc|tcx how the data plane attaches; overrides the\n"
        "             configuration's attach key (default auto).\n"
        "             SPSEC_AES=auto|bpf|kernel the data plane's AES (default auto).\n";

constexpr spsec::cli::Option kOptions[] = {
        {"config", "FILE", 'c'}, {"verbose", "", 'v'}, {"log-level", "LEVEL"}};
constexpr spsec::cli::Spec kSpec{"spsecd", kOptions, 0};

// The relay's counts in the secured interface's pinned map spsec_gw_relay (spsecd's data plane
// pinned it before the relay opens).
class PinnedRelayCounts final : public spsec::RelayCountStore {
public:
	explicit PinnedRelayCounts(spsec::RelayCountMap m) : map_(std::move(m)) {}
	[[nodiscard]] spsec::Result<spsec::RelayRuleCount> read(std::uint32_t rule) const override
	{
		auto c = map_.get(rule);
		if (!c)
			return tl::unexpected(c.error());
		return spsec::RelayRuleCount{c->relayed, c->too_long, c->refused};
	}
	[[nodiscard]] spsec::Result<void> write(std::uint32_t rule,
	                                        const spsec::RelayRuleCount& c) override
	{
		return map_.put(rule, spsec_gw_relay_count{c.relayed, c.too_long, c.refused});
	}

private:
	spsec::RelayCountMap map_;
};

int usage_error(const std::string& message)
{
	std::fputs(spsec::cli::usage_message(kSpec.command, message).c_str(), stderr);
	return 2;
}

int run(int argc, char** argv)
{
	auto args = spsec::cli::parse(
	        kSpec, std::span<char* const>(argv + 1,
	                                      static_cast<std::size_t>(argc > 0 ? argc - 1 : 0)));
	if (!args)
		return usage_error(args.error().message);
	if (args->help) {
		std::fputs(kUsage, stdout);
		return 0;
	}
	spsec::LogLevel level = spsec::LogLevel::Info;
	if (args->has("verbose") && args->has("log-level"))
		return usage_error("give --verbose or --log-level, not both");
	if (args->has("verbose"))
		level = spsec::LogLevel::Verbose;
	if (const std::string* l = args->value("log-level")) {
		auto parsed = spsec::parse_log_level(*l);
		if (!parsed)
			return usage_error("--log-level: " + parsed.error().message());
		level = *parsed;
	}
	const std::string* config_arg = args->value("config");
	if (config_arg == nullptr || config_arg->empty())
		return usage_error("--config FILE is required");
	const std::string config = *config_arg;
	std::optional<spsec::AttachPref> attach;
	const char* attach_env = std::getenv("SPSEC_ATTACH");
	if (attach_env != nullptr && *attach_env != '\0') {
		auto m = spsec::parse_attach_mode(attach_env);
		if (!m)
			return usage_error("SPSEC_ATTACH: " + m.error().message());
		attach = !m->has_value()                ? spsec::AttachPref::Auto
		         : **m == spsec::AttachMode::Tc ? spsec::AttachPref::Tc
		                                        : spsec::AttachPref::Tcx;
	}

	std::optional<spsec::AesImpl> aes;
	if (const char* a = std::getenv("SPSEC_AES"); a != nullptr && *a != '\0') {
		auto m = spsec::parse_aes_impl(a);
		if (!m)
			return usage_error("SPSEC_AES: " + m.error().message());
		aes = *m;
	}

	spsec::Logger log = spsec::Logger::to_stderr(level);
	if (attach)
		log.info(spsec::cat(
		        "SPSEC_ATTACH=", attach_env,
		        " from the environment: it overrides the configuration's attach"));
	// No core dump, no ptrace by other users, no /proc/<pid>/mem for non-root: keys live in
	// this process. (The unit also sets LimitCORE=0.)
	if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		log.warning(spsec::cat("prctl(PR_SET_DUMPABLE, 0) failed: ", std::strerror(errno)));

	// libbpf's chatter one level below ours; verifier logs of a refused program still show.
	spsec::set_libbpf_verbosity(
	        level == spsec::LogLevel::Verbose ? spsec::LibbpfVerbosity::Verbose
	        : level == spsec::LogLevel::Debug ? spsec::LibbpfVerbosity::Info
	                                          : spsec::LibbpfVerbosity::Quiet);
	spsec::SystemClock clock;
	if (aes)
		log.info(spsec::cat("SPSEC_AES=", spsec::aes_impl_name(*aes),
		                    ": the data plane uses that AES (kernel: or fails to start)"));
	spsec::BpfDataPlane data_plane(log, attach, aes);
	spsec::DaemonDeps deps;
	deps.log = &log;
	deps.clock = &clock;
	deps.data_plane = &data_plane;
	deps.open_can =
	        [](const std::string& ifname) -> spsec::Result<std::unique_ptr<spsec::CanPort>> {
		auto p = spsec::CanRawPort::open(ifname);
		if (!p)
			return tl::unexpected(p.error());
		return std::make_unique<spsec::CanRawPort>(std::move(*p));
	};
	deps.notify = [](std::string_view s) { return spsec::sd_notify(s); };
	deps.open_link_watch = [] { return spsec::open_rtnetlink_link_watch(); };
	deps.open_gateway_relay = [&log](const spsec::Config& c) {
		return spsec::GatewayRelay::open(
		        c, log, [&c]() -> spsec::Result<std::unique_ptr<spsec::RelayCountStore>> {
			        auto m = spsec::RelayCountMap::open_pinned(c.pin_dir);
			        if (!m)
				        return tl::unexpected(m.error());
			        return std::make_unique<PinnedRelayCounts>(std::move(*m));
		        });
	};
	deps.key_owner = ::geteuid();
	spsec::OsSenderSystem senders;
	deps.senders = &senders;
	// sd_watchdog_enabled(3): WATCHDOG_USEC, meant for us when WATCHDOG_PID is unset or ours.
	if (const char* usec = std::getenv("WATCHDOG_USEC")) {
		const char* pid = std::getenv("WATCHDOG_PID");
		if (pid == nullptr || std::strtol(pid, nullptr, 10) == ::getpid())
			deps.watchdog_usec = std::strtoull(usec, nullptr, 10);
	}

	spsec::Daemon daemon(std::move(deps), config);
	if (!daemon.start())
		return 1;
	auto r = daemon.run();
	daemon.teardown();
	if (!r) {
		log.error(r.error().message());
		return 1;
	}
	return 0;
}

}  // namespace

int main(int argc, char** argv)
{
	try {
		return run(argc, argv);
	} catch (const std::exception& e) {
		std::fprintf(stderr, "spsecd: fatal: %s\n", e.what());
	} catch (...) {
		std::fputs("spsecd: fatal: unknown exception\n", stderr);
	}
	return 1;
}
