// SPDX-License-Identifier: Apache-2.0
// spsecctl: the command-line tool of spsec-linux. Dispatches to one subcommand.
#include <cstdio>
#include <cstring>
#include <string_view>

#include "ctl/commands.h"

namespace {

struct Command {
	const char* name;
	int (*run)(int, char**);
	const char* summary;
};

constexpr Command kCommands[] = {
        {"seal", spsec::ctl::cmd_seal, "secure a plain CAN FD frame (can-utils notation)"},
        {"open", spsec::ctl::cmd_open,
         "verify and strip a secured frame; names the reason on failure"},
        {"derive", spsec::ctl::cmd_derive,
         "print the Communication Key for a Seed Key, csalt and T"},
        {"verify-log", spsec::ctl::cmd_verify_log, "verify every frame of a candump -L log"},
        {"decrypt-log", spsec::ctl::cmd_decrypt_log,
         "decrypt a candump -L log into a pcapng with each frame's verdict (Wireshark)"},
        {"status", spsec::ctl::cmd_status, "state, clock, keys and peers of the running spsecd"},
        {"events", spsec::ctl::cmd_events, "follow spsecd's events as JSON lines"},
        {"senders", spsec::ctl::cmd_senders,
         "sender rules: who may send which transmit IDs, with their counters"},
        {"stats", spsec::ctl::cmd_stats, "data-plane counters by reason (works without spsecd)"},
        {"commission", spsec::ctl::cmd_commission,
         "open the node's commissioning window for a Zero-Key Provisioning Key (root)"},
        {"configure", spsec::ctl::cmd_configure,
         "Configurator session to one participant: read/write registers, install keys"},
        {"provision", spsec::ctl::cmd_provision,
         "provision a whole bus from a YAML plan (idempotent)"},
};

void usage(FILE* out)
{
	std::fprintf(out, "usage: spsecctl <command> [options]   (spsecctl <command> --help)\n"
	                  "Options take their value as --opt VALUE or --opt=VALUE.\n\n");
	for (const auto& c : kCommands)
		std::fprintf(out, "  %-11s %s\n", c.name, c.summary);
}

}  // namespace

int main(int argc, char** argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	std::string_view name = argv[1];
	if (name == "--help" || name == "-h" || name == "help") {
		usage(stdout);
		return 0;
	}
	for (const auto& c : kCommands) {
		if (name == c.name)
			return c.run(argc - 1, argv + 1);
	}
	std::fprintf(stderr, "spsecctl: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}
