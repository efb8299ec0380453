// SPDX-License-Identifier: Apache-2.0
#include <cstdio>

#include "ctl/commands.h"

namespace spsec::ctl {

int cmd_seal(int, char**)
{
	std::fputs("spsecctl: seal is not built yet\n", stderr);
	return 1;
}

int cmd_open(int, char**)
{
	std::fputs("spsecctl: open is not built yet\n", stderr);
	return 1;
}

int cmd_derive(int, char**)
{
	std::fputs("spsecctl: derive is not built yet\n", stderr);
	return 1;
}

int cmd_verify_log(int, char**)
{
	std::fputs("spsecctl: verify_log is not built yet\n", stderr);
	return 1;
}

}  // namespace spsec::ctl
