// SPDX-License-Identifier: Apache-2.0
// spsecctl subcommands. Each takes the arguments after its name (argv[0] is the subcommand) and
// returns the process exit code: 0 success, 1 the operation failed (a frame did not verify, the
// daemon refused), 2 wrong usage (the message names the verb and the bad argument). Every verb
// parses its options with core/cli.h against its spec below: --opt VALUE and --opt=VALUE alike.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "core/cli.h"
#include "core/registers.h"
#include "core/secret.h"
#include "core/session.h"
#include "spsec/result.h"

namespace spsec::ctl {

class FrameLink;

// The command line of each verb (core/cli.h); the verbs parse with these, the tests too.
namespace spec {
extern const cli::Spec seal, open, derive, verify_log, decrypt_log;  // cmd_frames.cpp
extern const cli::Spec status, events, stats, commission, senders;   // cmd_daemon.cpp
// configure's options before its operations, and the options of install-* operations.
extern const cli::Spec configure, install_key;  // cmd_configure.cpp
extern const cli::Spec provision;               // cmd_provision.cpp
}  // namespace spec

// cmd_frames.cpp: offline frame tools for integrators.
int cmd_seal(int argc, char** argv);
int cmd_open(int argc, char** argv);
int cmd_derive(int argc, char** argv);
int cmd_verify_log(int argc, char** argv);
int cmd_decrypt_log(int argc, char** argv);

// cmd_daemon.cpp: talking to a running spsecd and reading the pinned counters.
int cmd_status(int argc, char** argv);
int cmd_events(int argc, char** argv);
int cmd_stats(int argc, char** argv);
int cmd_commission(int argc, char** argv);
int cmd_senders(int argc, char** argv);
// The reply of spsecd's `senders` command (Daemon::senders_json) for humans, one block per
// rule:
//   rule 1 (line 11): ids 0x123
//     unit can-app.service: cgroup /system.slice/can-app.service, id 1001
//     user canapp, user 2000: uids 1500, 2000
//     allowed 10, denied 2
// then "tx_sender_denied 6, tx_sender_unknown 1" and spsecd's notes.
[[nodiscard]] std::string senders_text(const Json& reply);
// One line per peer of a status object whose clock offset spsecd has measured:
// "peer 5: offset -0.31 ms (last -0.42 ms, 8 heartbeats)\n". Peers without one are left out.
[[nodiscard]] std::string peer_offset_lines(const Json& status);

// cmd_configure.cpp / cmd_provision.cpp: Configurator sessions (spec §5, docs/commissioning.md).
int cmd_configure(int argc, char** argv);
int cmd_provision(int argc, char** argv);

// What the Configurator commands need from the world; tests pass an in-memory bus.
struct CtlEnv {
	// Opens the CAN link named by --interface / the plan's `interface`.
	std::function<Result<std::unique_ptr<FrameLink>>(const std::string& ifname)> open_link;
	SessionRng rng;
	std::string out;  // what the command prints on stdout
	std::string err;  // ... and on stderr
};
// The real world: CanRawLink, RAND_bytes.
[[nodiscard]] CtlEnv system_env();

// `args` excludes the subcommand name. Return the exit code (0, 1, 2 as above).
[[nodiscard]] int run_configure(const std::vector<std::string>& args, CtlEnv& env);
[[nodiscard]] int run_provision(const std::vector<std::string>& args, CtlEnv& env);

// A key, its salt and ID read from a key file (cmd_configure.cpp). The file is the daemon's key
// store format (common/key_store.h: `format = 1`, `<role>.key/.salt/.id`), owned by the caller,
// with no group/other permission bits; the key is never printed.
struct KeyMaterial {
	Key32 key;
	KeySalt salt{};
	std::uint32_t id = 0;
};
// Errors name the file and what is wrong (permissions, no `<role>.*` entry, syntax).
[[nodiscard]] Result<KeyMaterial> load_key_file(const std::string& path, KeySlotId role);

// A number as decimal, or hex as 0x1F or 1Fh. Errors name the text.
[[nodiscard]] Result<std::uint64_t> parse_number(std::string_view text);
// --response-timeout MS (configure, provision): 1..9999 ms, below the 10 s session limit; the
// result in ns. Errors name the option and the text.
[[nodiscard]] Result<std::uint64_t> parse_response_timeout(std::string_view text);
// The default of --response-timeout: the session's own (spec §5: 100 ms).
inline constexpr std::uint64_t kDefaultResponseNs = SessionTimeouts{}.response_ns;
// A configuration register's value (60h-63h, 7Bh, 7Fh) from its CLI form: a number, or for
// 61h off/8s/.../250ms, 62h all/none/ID,ID,..., 63h on/off. Returns the wire bytes after the
// participant's own value checks (validate_config_value). Errors name the register and value.
[[nodiscard]] Result<std::vector<std::uint8_t>> parse_register_value(std::uint8_t reg,
                                                                     std::string_view text);

// The label of a register for messages: "participant-id (60h)".
[[nodiscard]] std::string register_label(std::uint8_t reg);
// The CLI error of a failed session: names `step`, the error and the event code.
[[nodiscard]] std::string describe_session_failure(const std::string& step, std::uint8_t pp,
                                                   OpeningKey key, const ClientError& e,
                                                   SessionClient::State failed_in,
                                                   std::uint16_t* event_out);

}  // namespace spsec::ctl
