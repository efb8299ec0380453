// SPDX-License-Identifier: Apache-2.0
#include "bpf/skeleton.h"

#include <bpf/bpf.h>

namespace spsec {

Result<ProgStats> prog_stats(const bpf_program* prog)
{
	const int fd = bpf_program__fd(prog);
	if (fd < 0)
		return fail_errno(EBADF, std::string("program ") + bpf_program__name(prog) +
		                                 " is not loaded");
	bpf_prog_info info{};
	__u32 len = sizeof info;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return fail_errno(errno, std::string("reading info of program ") +
		                                 bpf_program__name(prog));
	ProgStats s;
	s.name = bpf_program__name(prog);
	s.xlated_insns = info.xlated_prog_len / 8;
	s.jited_bytes = info.jited_prog_len;
	s.verified_insns = info.verified_insns;
	return s;
}

}  // namespace spsec
