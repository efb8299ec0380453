// SPDX-License-Identifier: Apache-2.0
// spsecctl subcommands. Each takes the arguments after its name (argv[0] is the subcommand) and
// returns the process exit code: 0 success, 1 the operation failed (a frame did not verify, the
// daemon refused), 2 wrong usage (the message names the bad argument).
#pragma once

namespace spsec::ctl {

// cmd_frames.cpp: offline frame tools for integrators.
int cmd_seal(int argc, char** argv);
int cmd_open(int argc, char** argv);
int cmd_derive(int argc, char** argv);
int cmd_verify_log(int argc, char** argv);

// cmd_daemon.cpp: talking to a running spsecd and reading the pinned counters.
int cmd_status(int argc, char** argv);
int cmd_events(int argc, char** argv);
int cmd_stats(int argc, char** argv);

}  // namespace spsec::ctl
