# Extra libraries for cmd_daemon.cpp: the control-socket client, JSON reader and counter names
# live in spsec_daemon; libbpf reads the pinned counters.
target_link_libraries(spsecctl PRIVATE spsec_daemon PkgConfig::LIBBPF)
